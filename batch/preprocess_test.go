package batch_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tributary-cdc/tributary/batch"
	"github.com/tributary-cdc/tributary/gen"
)

const crafted = `CustomerID,Date,Amount,Age,Gender,TransactionType,Location,Device
1001,2024-01-05 10:00:00,100.00,30,Male,Purchase,New York,Mobile
1001,01/06/2024 10:00:00,"$1,200.50",thirty-four,male,purchase, New York,MOBILE
1002,2024-01-05 11:00:00,50.00,,Female,,Chicago,Desktop
1002,2024-01-05 11:00:00,50.00,,Female,,Chicago,Desktop
1002,2024-01-05T11:01:00Z,USD 50.00,NA, female ,,chicago,desktop
,2024-01-05 12:00:00,10.00,40,Male,Purchase,Dallas,Mobile
1003,not a date,10.00,40,Male,Purchase,Dallas,Mobile
1003,2024-01-05 12:00:00,,40,Male,Purchase,Dallas,Mobile
1003,2024-01-05 12:00:00,12.00,40,Male,Purchase,Dallas
1003,"2024-01-05 12:00:00,12.00,40,Male,Purchase,Dallas,Mobile

1003,1704456000,12.00,150,Male,Purchase,Dallas,Mobile
1003,05.01.2024 13:00:00,13.00,25 years,Other,Gift Card,Dallas,Tablet
`

func writeFile(t testing.TB, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readCSV(t testing.TB, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return recs
}

func TestPreprocessCrafted(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	writeFile(t, in, crafted)
	out := filepath.Join(dir, "out.csv")
	rep, err := batch.Preprocess(context.Background(), batch.Options{In: in, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if rep.RowsIn != 12 || rep.BlankLines != 1 || rep.Rejected != 5 || rep.Duplicates.Exact != 1 || rep.Duplicates.Near != 1 || rep.RowsOut != 5 {
		t.Fatalf("counts: in %d blank %d rejected %d exact %d near %d out %d; want 12 1 5 1 1 5",
			rep.RowsIn, rep.BlankLines, rep.Rejected, rep.Duplicates.Exact, rep.Duplicates.Near, rep.RowsOut)
	}
	if !rep.Reconciled {
		t.Fatal("not reconciled")
	}
	// Rejects: line numbers and reasons.
	rej := readCSV(t, rep.Rejects)
	wantRej := [][2]string{
		{"7", "missing_customer_id"}, {"8", "bad_txn_date"}, {"9", "missing_amount"},
		{"10", "wrong_column_count"}, {"11", "broken_quoting"},
	}
	if len(rej) != len(wantRej)+1 || strings.Join(rej[0], ",") != "line,kind,reason,record" {
		t.Fatalf("rejects file = %q", rej)
	}
	for i, w := range wantRej {
		if rej[i+1][0] != w[0] || rej[i+1][1] != w[1] || rej[i+1][2] == "" || rej[i+1][3] == "" {
			t.Errorf("reject %d = %q, want line %s kind %s with a reason and the record", i, rej[i+1], w[0], w[1])
		}
	}
	if !strings.Contains(rej[4][2], "got 7, want 8") || !strings.Contains(rej[2][2], `"not a date"`) {
		t.Errorf("reasons do not say what is wrong: %q / %q", rej[4][2], rej[2][2])
	}
	// Repairs (counted over parsed rows, the near duplicate on line 6 too)
	// and imputation (over output rows).
	for kind, n := range map[string]int64{
		"amount_currency_symbol": 2, "amount_thousands_separator": 1, "age_words": 1, "age_decimal_or_unit": 1,
		"age_out_of_range": 1, "date_unix_epoch": 1, "date_noncanonical_format": 3, "category_case_whitespace": 2,
	} {
		if rep.Repairs[kind] != n {
			t.Errorf("repairs[%s] = %d, want %d (all: %v)", kind, rep.Repairs[kind], n, rep.Repairs)
		}
	}
	if rep.Missing["age"] != 3 || rep.Missing["transaction_type"] != 3 || rep.Missing["customer_id"] != 1 || rep.Missing["amount"] != 1 {
		t.Errorf("missing = %v", rep.Missing)
	}
	if rep.Imputed["age"] != 2 || rep.Imputed["transaction_type"] != 1 {
		t.Errorf("imputed = %v, want age 2, transaction_type 1", rep.Imputed)
	}
	rows := readCSV(t, out)
	if strings.Join(rows[0], ",") != strings.Join(batch.OutputColumns, ",") {
		t.Fatalf("header = %q", rows[0])
	}
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	byLine := map[string][]string{}
	for _, r := range rows[1:] {
		byLine[r[col["source_line"]]] = r
	}
	check := func(line, column, want string) {
		t.Helper()
		r, ok := byLine[line]
		if !ok {
			t.Errorf("line %s not in output", line)
			return
		}
		if got := r[col[column]]; got != want {
			t.Errorf("line %s %s = %q, want %q", line, column, got, want)
		}
	}
	check("3", "txn_date", "2024-01-06T10:00:00.000000Z")
	check("3", "amount", "1200.50")
	check("3", "age", "34")
	check("3", "gender", "Male")
	check("3", "transaction_type", "Purchase")
	check("3", "location", "New York")
	check("3", "device", "Mobile")
	check("3", "is_outlier", "true")
	check("3", "cust_txn_count", "1")
	check("3", "cust_mean_amount", "100")
	check("3", "days_since_prev", "1")
	check("2", "cust_txn_count", "0")
	check("2", "cust_mean_amount", "")
	check("2", "days_since_prev", "")
	check("2", "hour", "10")
	check("2", "day_of_week", "5")
	check("2", "is_weekend", "false")
	check("4", "age", "30") // median of 30, 34, 25
	check("4", "transaction_type", "Unknown")
	check("4", "imputed", "age,transaction_type")
	check("13", "txn_date", "2024-01-05T12:00:00.000000Z")
	check("13", "age", "30")
	check("14", "txn_date", "2024-01-05T13:00:00.000000Z")
	check("14", "age", "25")
	check("14", "cust_txn_count", "1")
	check("14", "days_since_prev", fmt.Sprint(1.0/24))
	// The scaler file holds what was applied.
	if s := rep.Standardization["age"]; s.N != 3 || s.Mean < 29.66 || s.Mean > 29.67 {
		t.Errorf("age scale = %+v, want the 3 valid ages, mean 29.67", s)
	}
	if _, err := os.Stat(out + ".scaler.json"); err != nil {
		t.Error(err)
	}
}

func TestPreprocessModeImputation(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	writeFile(t, in, crafted)
	out := filepath.Join(dir, "out.csv")
	rep, err := batch.Preprocess(context.Background(), batch.Options{In: in, Out: out, Categorical: "mode"})
	if err != nil {
		t.Fatal(err)
	}
	// Parsed transaction types: Purchase x3 (lines 2, 3, 13), Gift Card x1.
	if imp := rep.Imputation["transaction_type"]; imp.Method != "mode" || imp.Value != "Purchase" {
		t.Fatalf("imputation = %+v, want mode Purchase", imp)
	}
}

func TestPreprocessBadHeader(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	writeFile(t, in, "CustomerID,Date,Amount,Age,Gender\n1,2024-01-01 00:00:00,1,1,Male\n")
	_, err := batch.Preprocess(context.Background(), batch.Options{In: in, Out: filepath.Join(dir, "o.csv")})
	if err == nil || !strings.Contains(err.Error(), "line 1") || !strings.Contains(err.Error(), "TransactionType") {
		t.Fatalf("err = %v, want a header error naming line 1 and the missing columns", err)
	}
}

// genFile writes a generated CSV and returns its path and truth.
func genFile(t testing.TB, dir string, rows int, dirt gen.DirtOptions) (string, gen.Truth) {
	t.Helper()
	path := filepath.Join(dir, "gen.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	truth, err := gen.WriteCSV(context.Background(), f, rows, 7, dirt)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gen.WriteTruth(path+".truth.json", truth); err != nil {
		t.Fatal(err)
	}
	return path, truth
}

func TestPreprocessFindsInjectedDirt(t *testing.T) {
	dir := t.TempDir()
	dirt := gen.DefaultDirt()
	dirt.Missing = 0 // so that no duplicate's original is rejected
	in, truth := genFile(t, dir, 30000, dirt)
	rep, err := batch.Preprocess(context.Background(), batch.Options{In: in, Out: filepath.Join(dir, "o.parquet")})
	if err != nil {
		t.Fatal(err)
	}
	inj := truth.Injected
	if rep.Duplicates.Exact != inj.ExactDuplicates || rep.Duplicates.Near != inj.NearDuplicates {
		t.Errorf("duplicates exact %d near %d, injected %d %d", rep.Duplicates.Exact, rep.Duplicates.Near, inj.ExactDuplicates, inj.NearDuplicates)
	}
	if rep.Rejected != 0 || rep.RowsOut != truth.Rows {
		t.Errorf("rejected %d, out %d; want 0 and the %d original transactions", rep.Rejected, rep.RowsOut, truth.Rows)
	}
	// Outliers: every injected one is far out; a copy of one is removed.
	if rep.Outliers.Flagged < inj.Outliers*9/10 || rep.Outliers.Flagged > inj.Outliers {
		t.Errorf("outliers flagged %d, injected %d", rep.Outliers.Flagged, inj.Outliers)
	}
	// Repairs count parsed rows, so an exact copy of a dirty line counts
	// twice while the generator counted it once.
	within := func(name string, got, injected int64) {
		if got < injected || got > injected+inj.ExactDuplicates/4 {
			t.Errorf("%s repairs %d, injected %d", name, got, injected)
		}
	}
	within("age text", rep.Repairs["age_words"]+rep.Repairs["age_decimal_or_unit"], inj.AgeText)
	within("age out of range", rep.Repairs["age_out_of_range"], inj.AgeOutOfRange)
	within("date format", rep.Repairs["date_noncanonical_format"]+rep.Repairs["date_unix_epoch"], inj.DateFormats)
	within("amount format", rep.Repairs["amount_currency_symbol"], inj.AmountFormat)
}

func TestPreprocessReconcilesDefaultDirt(t *testing.T) {
	dir := t.TempDir()
	in, truth := genFile(t, dir, 30000, gen.DefaultDirt())
	rep, err := batch.Preprocess(context.Background(), batch.Options{In: in, Out: filepath.Join(dir, "o.parquet")})
	if err != nil {
		t.Fatal(err)
	}
	if rep.RowsIn != 30000 || rep.RowsIn != rep.RowsOut+rep.DuplicatesRemoved+rep.Rejected {
		t.Fatalf("in %d != out %d + dups %d + rejected %d", rep.RowsIn, rep.RowsOut, rep.DuplicatesRemoved, rep.Rejected)
	}
	var missingKey int64
	for _, c := range []string{"CustomerID", "Date", "Amount"} {
		missingKey += truth.Injected.Missing[c]
	}
	// A row is rejected for its first missing key column only, and exact
	// copies of rejected rows are rejected too: at least the injected count.
	if rep.Rejected < missingKey*95/100 || rep.Rejected > missingKey*115/100 {
		t.Errorf("rejected %d, injected missing keys %d", rep.Rejected, missingKey)
	}
	lines := int64(len(readCSV(t, rep.Rejects)) - 1)
	if lines != rep.Rejected {
		t.Errorf("rejects file has %d rows, report says %d", lines, rep.Rejected)
	}
	var n int64
	if err := batch.ScanOutput(rep.Output, func(*batch.OutRow) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != rep.RowsOut {
		t.Errorf("output has %d rows, report says %d", n, rep.RowsOut)
	}
}

// TestPreprocessOrderIndependent shuffles the input lines and spills tiny
// runs: the output, source lines aside, must not change, so per-customer
// features use earlier rows only whatever the input order.
func TestPreprocessOrderIndependent(t *testing.T) {
	dir := t.TempDir()
	in, _ := genFile(t, dir, 20000, gen.DefaultDirt())
	b, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	head, body := lines[0], lines[1:len(lines)-1]
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(body), func(i, j int) { body[i], body[j] = body[j], body[i] })
	shuffled := filepath.Join(dir, "shuffled.csv")
	writeFile(t, shuffled, head+strings.Join(body, ""))

	run := func(in, out string, runRows int) (*batch.Report, []string) {
		rep, err := batch.Preprocess(context.Background(), batch.Options{In: in, Out: out, RunRows: runRows, TempDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		rows := readCSV(t, out)
		var keys []string
		for _, r := range rows[1:] {
			keys = append(keys, strings.Join(r[:len(r)-1], ",")) // without source_line
		}
		return rep, keys
	}
	repA, a := run(in, filepath.Join(dir, "a.csv"), 0)
	repB, b2 := run(shuffled, filepath.Join(dir, "b.csv"), 3000)
	if repA.SortedRuns != 0 || repB.SortedRuns < 5 {
		t.Fatalf("runs %d and %d: want 0 and several", repA.SortedRuns, repB.SortedRuns)
	}
	if repA.RowsOut != repB.RowsOut || repA.DuplicatesRemoved != repB.DuplicatesRemoved || repA.Rejected != repB.Rejected {
		t.Fatalf("counts differ: %d/%d/%d vs %d/%d/%d", repA.RowsOut, repA.DuplicatesRemoved, repA.Rejected, repB.RowsOut, repB.DuplicatesRemoved, repB.Rejected)
	}
	if !slices.Equal(a, b2) {
		for i := range a {
			if a[i] != b2[i] {
				t.Fatalf("row %d differs:\n%s\n%s", i, a[i], b2[i])
			}
		}
	}
}

func TestPreprocessDeterministicOutput(t *testing.T) {
	dir := t.TempDir()
	in, _ := genFile(t, dir, 10000, gen.DefaultDirt())
	var outs [2][]byte
	for i := range outs {
		out := filepath.Join(dir, fmt.Sprintf("o%d.parquet", i))
		if _, err := batch.Preprocess(context.Background(), batch.Options{In: in, Out: out}); err != nil {
			t.Fatal(err)
		}
		var err error
		if outs[i], err = os.ReadFile(out); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Fatal("two runs on one input give different Parquet files")
	}
}

func TestPreprocessCleanFile(t *testing.T) {
	dir := t.TempDir()
	in, truth := genFile(t, dir, 20000, gen.DirtOptions{})
	rep, err := batch.Preprocess(context.Background(), batch.Options{In: in, Out: filepath.Join(dir, "o.parquet")})
	if err != nil {
		t.Fatal(err)
	}
	if rep.RowsOut != truth.Rows || rep.Rejected != 0 || rep.DuplicatesRemoved != 0 || len(rep.Repairs) != 0 || len(rep.Imputed) != 0 || rep.Outliers.Flagged > 2 {
		t.Fatalf("clean file: out %d of %d, rejected %d, dups %d, repairs %v, imputed %v, outliers %d",
			rep.RowsOut, truth.Rows, rep.Rejected, rep.DuplicatesRemoved, rep.Repairs, rep.Imputed, rep.Outliers.Flagged)
	}
}
