package batch

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"
)

// OutRow is one row of the preprocess output. Column names are snake_case,
// the database's and the learner's. Parquet types are plain: INT64, DOUBLE,
// BOOLEAN, UTF-8 BYTE_ARRAY strings and TIMESTAMP(MICROS, UTC); the two
// per-customer columns that have no value for a customer's first row are
// optional (null there).
type OutRow struct {
	CustomerID      int64   `parquet:"customer_id"`
	TxnDate         int64   `parquet:"txn_date,timestamp(microsecond:utc)"`
	Amount          float64 `parquet:"amount"`
	Age             int64   `parquet:"age"`
	Gender          string  `parquet:"gender,dict"`
	TransactionType string  `parquet:"transaction_type,dict"`
	Location        string  `parquet:"location,dict"`
	Device          string  `parquet:"device,dict"`
	// Engineered from txn_date (UTC): hour 0-23, day_of_week 0-6 with
	// Sunday 0, month 1-12, is_weekend for Saturday and Sunday.
	Hour      int64 `parquet:"hour"`
	DayOfWeek int64 `parquet:"day_of_week"`
	Month     int64 `parquet:"month"`
	IsWeekend bool  `parquet:"is_weekend"`
	// Per customer, from the customer's earlier kept rows only: their
	// number, the mean of their non-outlier amounts (null when none) and the
	// days since the latest one (null for the first row).
	CustTxnCount   int64    `parquet:"cust_txn_count"`
	CustMeanAmount *float64 `parquet:"cust_mean_amount,optional"`
	DaysSincePrev  *float64 `parquet:"days_since_prev,optional"`
	// Standardized with the fitted scales (see the scaler file).
	AgeZ    float64 `parquet:"age_z"`
	AmountZ float64 `parquet:"amount_z"`
	// IsOutlier flags an amount outside the IQR fences; Imputed lists the
	// columns whose value was filled in ("" when none), comma-separated.
	IsOutlier  bool   `parquet:"is_outlier"`
	Imputed    string `parquet:"imputed,dict"`
	SourceLine int64  `parquet:"source_line"`
}

// OutputColumns are the output's column names, in order.
var OutputColumns = []string{"customer_id", "txn_date", "amount", "age", "gender", "transaction_type", "location", "device",
	"hour", "day_of_week", "month", "is_weekend", "cust_txn_count", "cust_mean_amount", "days_since_prev",
	"age_z", "amount_z", "is_outlier", "imputed", "source_line"}

// rowWriter writes output rows.
type rowWriter interface {
	Write(rows []OutRow) error
	Close() error
}

func createOutput(path string) (rowWriter, error) {
	kind, err := outputKind(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create output: %w", err)
	}
	if kind == "csv" {
		w := &csvRowWriter{f: f, w: bufio.NewWriterSize(f, 1<<20)}
		for i, c := range OutputColumns {
			if i > 0 {
				w.w.WriteByte(',')
			}
			w.w.WriteString(c)
		}
		w.w.WriteByte('\n')
		return w, nil
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	pw := parquet.NewGenericWriter[OutRow](bw,
		parquet.Compression(&parquet.Snappy),
		parquet.MaxRowsPerRowGroup(512*1024),
		parquet.CreatedBy("tributary", "batch", ""),
	)
	return &parquetRowWriter{f: f, bw: bw, w: pw}, nil
}

type parquetRowWriter struct {
	f  *os.File
	bw *bufio.Writer
	w  *parquet.GenericWriter[OutRow]
}

func (p *parquetRowWriter) Write(rows []OutRow) error {
	if _, err := p.w.Write(rows); err != nil {
		return fmt.Errorf("write parquet: %w", err)
	}
	return nil
}

func (p *parquetRowWriter) Close() error {
	err := p.w.Close()
	if err == nil {
		err = p.bw.Flush()
	}
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close parquet: %w", err)
	}
	return nil
}

type csvRowWriter struct {
	f   *os.File
	w   *bufio.Writer
	buf []byte
}

func (c *csvRowWriter) Write(rows []OutRow) error {
	for i := range rows {
		c.buf = appendCSVRow(c.buf[:0], &rows[i])
		if _, err := c.w.Write(c.buf); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	return nil
}

func (c *csvRowWriter) Close() error {
	err := c.w.Flush()
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close csv: %w", err)
	}
	return nil
}

func appendFloat(b []byte, f float64) []byte { return strconv.AppendFloat(b, f, 'g', -1, 64) }

func appendCSVRow(b []byte, r *OutRow) []byte {
	b = strconv.AppendInt(b, r.CustomerID, 10)
	b = append(b, ',')
	b = time.UnixMicro(r.TxnDate).UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	b = append(b, ',')
	b = strconv.AppendFloat(b, r.Amount, 'f', 2, 64)
	b = append(b, ',')
	b = strconv.AppendInt(b, r.Age, 10)
	for _, s := range [4]string{r.Gender, r.TransactionType, r.Location, r.Device} {
		b = append(b, ',')
		b = appendCSVField(b, s)
	}
	for _, n := range [3]int64{r.Hour, r.DayOfWeek, r.Month} {
		b = append(b, ',')
		b = strconv.AppendInt(b, n, 10)
	}
	b = append(b, ',')
	b = strconv.AppendBool(b, r.IsWeekend)
	b = append(b, ',')
	b = strconv.AppendInt(b, r.CustTxnCount, 10)
	for _, p := range [2]*float64{r.CustMeanAmount, r.DaysSincePrev} {
		b = append(b, ',')
		if p != nil {
			b = appendFloat(b, *p)
		}
	}
	b = append(b, ',')
	b = appendFloat(b, r.AgeZ)
	b = append(b, ',')
	b = appendFloat(b, r.AmountZ)
	b = append(b, ',')
	b = strconv.AppendBool(b, r.IsOutlier)
	b = append(b, ',')
	b = appendCSVField(b, r.Imputed)
	b = append(b, ',')
	b = strconv.AppendInt(b, r.SourceLine, 10)
	return append(b, '\n')
}
