package gen

import (
	"bytes"
	"context"
	"io"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/batch"
)

func TestWriteCSVDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	ta, err := WriteCSV(context.Background(), &a, 20000, 42, DefaultDirt())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteCSV(context.Background(), &b, 20000, 42, DefaultDirt()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two runs with seed 42 differ")
	}
	var c bytes.Buffer
	if _, err := WriteCSV(context.Background(), &c, 20000, 43, DefaultDirt()); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Fatal("seeds 42 and 43 give the same file")
	}
	if n := bytes.Count(a.Bytes(), []byte{'\n'}); n != 20001 {
		t.Fatalf("lines = %d, want 20001 (header + rows)", n)
	}
	if ta.Lines != 20000 || ta.Rows+ta.Injected.ExactDuplicates+ta.Injected.NearDuplicates != 20000 {
		t.Fatalf("truth lines %d rows %d dups %d+%d", ta.Lines, ta.Rows, ta.Injected.ExactDuplicates, ta.Injected.NearDuplicates)
	}
	t.Logf("truth r2=%.4f rmse=%.3f clamped=%d injected=%+v", ta.R2, ta.RMSE, ta.ClampedRows, ta.Injected)
}

func TestGeneratorProcess(t *testing.T) {
	const n = 100000
	g := NewGenerator(3, Options{Rows: n})
	start := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 0, 730)
	perCustomer := map[int64]int{}
	var byHour [24]int
	var weekend, weekday int
	prev := start
	for i := range n {
		r := g.Next()
		if r.Date.Before(prev) || r.Date.Before(start) || !r.Date.Before(end) {
			t.Fatalf("row %d: date %v out of order or outside the span", i, r.Date)
		}
		prev = r.Date
		if r.Amount < MinAmountCents || r.Age < 18 || r.Age > 80 {
			t.Fatalf("row %d: %+v", i, r)
		}
		perCustomer[r.CustomerID]++
		byHour[r.Date.Hour()]++
		if wd := r.Date.Weekday(); wd == time.Saturday || wd == time.Sunday {
			weekend++
		} else {
			weekday++
		}
	}
	if prev.Before(end.AddDate(0, 0, -2)) {
		t.Errorf("last date %v: the span is not covered", prev)
	}
	// Uneven activity: the busiest tenth of customers makes far more than a
	// tenth of the transactions.
	counts := make([]int, 0, len(perCustomer))
	for _, c := range perCustomer {
		counts = append(counts, c)
	}
	slices.Sort(counts)
	top := 0
	for _, c := range counts[len(counts)*9/10:] {
		top += c
	}
	if float64(top)/n < 0.25 {
		t.Errorf("top 10%% of customers make %.0f%% of transactions, want uneven activity", 100*float64(top)/n)
	}
	if byHour[20] < 5*byHour[3] {
		t.Errorf("hour 20 has %d rows, hour 3 %d: no daily cycle", byHour[20], byHour[3])
	}
	if perDay := float64(weekend) / 2 / (float64(weekday) / 5); perDay < 1.15 {
		t.Errorf("weekend days have %.2fx the rows of weekdays, want more", perDay)
	}
}

func TestTruthStats(t *testing.T) {
	var buf bytes.Buffer
	truth, err := WriteCSV(context.Background(), &buf, 50000, 9, DirtOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if truth.Rows != 50000 || truth.Lines != 50000 {
		t.Fatalf("clean file: rows %d lines %d", truth.Rows, truth.Lines)
	}
	if math.Abs(truth.RMSE-NoiseSD) > 0.5 {
		t.Errorf("truth RMSE %.3f, want the noise sd %v", truth.RMSE, NoiseSD)
	}
	if truth.R2 < 0.5 || truth.R2 > 0.7 {
		t.Errorf("truth R² %.3f outside the designed 0.5-0.7", truth.R2)
	}
	// The truth names are the raw feature names batch produces.
	x := batch.RawFeatures(batch.DefaultSpec(), batch.Input{
		Numeric:     map[string]float64{"age": 40},
		Categorical: map[string]string{"gender": "Male", "transaction_type": "Gift Card", "location": "San Jose", "device": "Desktop"},
		Datetime:    map[string]time.Time{"txn_date": time.Date(2024, 3, 9, 20, 0, 0, 0, time.UTC)},
	})
	for k := range x {
		if _, ok := truth.Coefficients[k]; !ok {
			t.Errorf("truth has no coefficient for feature %s", k)
		}
	}
	want := Mean(time.Date(2024, 3, 9, 20, 0, 0, 0, time.UTC), 40, 1, 2, 9, 1)
	if got := truth.Eval(x); math.Abs(got-want) > 1e-9 {
		t.Errorf("truth.Eval = %v, Mean = %v", got, want)
	}
	// The file holds only canonical formats.
	if bytes.ContainsAny(buf.Bytes(), "\"$€") || bytes.Contains(buf.Bytes(), []byte(",,")) {
		t.Error("a clean file has dirt")
	}
}

func TestParseMix(t *testing.T) {
	m, err := ParseMix("insert=70, update=20,delete=10")
	if err != nil || m != (Mix{70, 20, 10}) {
		t.Fatalf("ParseMix = %+v, %v", m, err)
	}
	if m, err := ParseMix("insert=1"); err != nil || m != (Mix{Insert: 1}) {
		t.Fatalf("ParseMix(insert=1) = %+v, %v", m, err)
	}
	for _, bad := range []string{"", "insert=0", "insert=x", "upsert=3", "insert", "delete=-1"} {
		if _, err := ParseMix(bad); err == nil {
			t.Errorf("ParseMix(%q) accepted", bad)
		}
	}
}

func TestDirtValidated(t *testing.T) {
	for _, d := range []DirtOptions{{Missing: 1.5}, {Outliers: -0.1}, {ExactDuplicates: 0.3, NearDuplicates: 0.3}} {
		if _, err := WriteCSV(context.Background(), io.Discard, 10, 1, d); err == nil {
			t.Errorf("WriteCSV accepted %+v", d)
		}
	}
}

func BenchmarkWriteCSV(b *testing.B) {
	for b.Loop() {
		if _, err := WriteCSV(context.Background(), io.Discard, 250000, 42, DefaultDirt()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(250000*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
