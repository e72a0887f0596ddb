package batch

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"
)

// ScanOutput calls fn for every row of a preprocess output file (.parquet
// or .csv), in file order. The row is reused between calls.
func ScanOutput(path string, fn func(*OutRow) error) error {
	kind, err := outputKind(path)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	defer f.Close()
	if kind == "parquet" {
		return scanParquet(f, fn)
	}
	return scanCSV(f, fn)
}

func scanParquet(f *os.File, fn func(*OutRow) error) error {
	r := parquet.NewGenericReader[OutRow](f)
	defer r.Close()
	buf := make([]OutRow, 4096)
	for {
		n, err := r.Read(buf)
		for i := range n {
			if ferr := fn(&buf[i]); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("scan %s: %w", f.Name(), err)
		}
	}
}

func scanCSV(f *os.File, fn func(*OutRow) error) error {
	br := bufio.NewReaderSize(f, 1<<20)
	head, err := br.ReadString('\n')
	if err != nil {
		return fmt.Errorf("scan %s: header: %w", f.Name(), err)
	}
	hf, _ := splitRecord(bytes.TrimRight([]byte(head), "\r\n"), nil, make([]byte, 0, len(head)))
	idx := map[string]int{}
	for i, h := range hf {
		idx[string(h)] = i
	}
	col := func(name string) (int, error) {
		i, ok := idx[name]
		if !ok {
			return 0, fmt.Errorf("scan %s: no column %s", f.Name(), name)
		}
		return i, nil
	}
	var pos [len(csvScanCols)]int
	for i, c := range csvScanCols {
		if pos[i], err = col(c); err != nil {
			return err
		}
	}
	var fields [][]byte
	var scratch []byte
	var row OutRow
	var f1, f2 float64
	for line := 2; ; line++ {
		l, err := br.ReadSlice('\n')
		if len(l) == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("scan %s: %w", f.Name(), err)
		}
		l = bytes.TrimRight(l, "\r\n")
		if cap(scratch) < len(l) {
			scratch = make([]byte, 0, 2*len(l))
		}
		var reason string
		fields, reason = splitRecord(l, fields, scratch)
		if reason != "" || len(fields) != len(hf) {
			return fmt.Errorf("scan %s: line %d: malformed (%s, %d fields)", f.Name(), line, reason, len(fields))
		}
		get := func(i int) []byte { return fields[pos[i]] }
		bad := func(i int) error {
			return fmt.Errorf("scan %s: line %d: column %s: bad value %q", f.Name(), line, csvScanCols[i], get(i))
		}
		row = OutRow{}
		var ok bool
		if row.CustomerID, ok = ParseInt(get(0)); !ok {
			return bad(0)
		}
		if row.TxnDate, _, ok = ParseDate(get(1)); !ok {
			return bad(1)
		}
		if row.Amount, err = strconv.ParseFloat(string(get(2)), 64); err != nil {
			return bad(2)
		}
		if row.Age, ok = ParseInt(get(3)); !ok {
			return bad(3)
		}
		row.Gender, row.TransactionType, row.Location, row.Device = string(get(4)), string(get(5)), string(get(6)), string(get(7))
		if row.IsOutlier, err = strconv.ParseBool(string(get(8))); err != nil {
			return bad(8)
		}
		row.SourceLine, _ = ParseInt(get(9))
		row.CustTxnCount, _ = ParseInt(get(10))
		if v, err := strconv.ParseFloat(string(get(11)), 64); err == nil {
			f1 = v
			row.CustMeanAmount = &f1
		}
		if v, err := strconv.ParseFloat(string(get(12)), 64); err == nil {
			f2 = v
			row.DaysSincePrev = &f2
		}
		t := time.UnixMicro(row.TxnDate).UTC()
		row.Hour, row.DayOfWeek, row.Month = int64(t.Hour()), int64(t.Weekday()), int64(t.Month())
		row.IsWeekend = t.Weekday() == time.Saturday || t.Weekday() == time.Sunday
		if err := fn(&row); err != nil {
			return err
		}
	}
}

var csvScanCols = [...]string{"customer_id", "txn_date", "amount", "age", "gender", "transaction_type", "location", "device", "is_outlier", "source_line", "cust_txn_count", "cust_mean_amount", "days_since_prev"}

// numericValue returns the named numeric column of r; NaN when it is null.
func numericValue(r *OutRow, name string) (float64, bool) {
	switch name {
	case "amount":
		return r.Amount, true
	case "age":
		return float64(r.Age), true
	case "hour":
		return float64(r.Hour), true
	case "day_of_week":
		return float64(r.DayOfWeek), true
	case "month":
		return float64(r.Month), true
	case "cust_txn_count":
		return float64(r.CustTxnCount), true
	case "cust_mean_amount":
		if r.CustMeanAmount == nil {
			return math.NaN(), true
		}
		return *r.CustMeanAmount, true
	case "days_since_prev":
		if r.DaysSincePrev == nil {
			return math.NaN(), true
		}
		return *r.DaysSincePrev, true
	case "age_z":
		return r.AgeZ, true
	case "amount_z":
		return r.AmountZ, true
	}
	return 0, false
}

func categoricalValue(r *OutRow, name string) (string, bool) {
	switch name {
	case "gender":
		return r.Gender, true
	case "transaction_type":
		return r.TransactionType, true
	case "location":
		return r.Location, true
	case "device":
		return r.Device, true
	case "imputed":
		return r.Imputed, true
	}
	return "", false
}
