package gen

import (
	"context"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/tributary-cdc/tributary/batch"
	"github.com/tributary-cdc/tributary/config"
	"github.com/tributary-cdc/tributary/internal/progress"
)

// LoadReport says what Load did.
type LoadReport struct {
	Table      string           `json:"table"`
	Database   string           `json:"database"` // postgres or mysql
	Rows       int64            `json:"rows"`     // non-blank data lines read
	Loaded     int64            `json:"loaded"`
	Skipped    int64            `json:"skipped"` // rows that could not be typed
	ByReason   map[string]int64 `json:"skipped_by_reason"`
	Seconds    float64          `json:"seconds"`
	RowsPerSec float64          `json:"rows_per_second"`
}

// Load creates the customer_transactions table if it is missing and loads
// the CSV at csvPath into it: COPY (pgx CopyFrom) for postgres:// and
// postgresql:// DSNs, multi-row INSERTs in transactions of 1,000 rows for
// MySQL/MariaDB DSNs (user:pass@tcp(host:port)/db). Rows are parsed and
// repaired as batch.Preprocess does (dates, amounts, ages, categories), with
// missing or unusable optional values as NULL; a row without a usable
// customer_id, date or amount is skipped and counted, and duplicates are
// loaded as they are: the table mirrors the export. w, when not nil, gets a
// progress line every second.
func Load(ctx context.Context, dsn string, csvPath string, w io.Writer) (LoadReport, error) {
	f, err := os.Open(csvPath)
	if err != nil {
		return LoadReport{}, fmt.Errorf("load: %w", err)
	}
	defer f.Close()
	start := time.Now()
	var n atomic.Int64
	stop := progress.Lines(w, func(el time.Duration) string {
		return fmt.Sprintf("load: %d rows, %.0f rows/s", n.Load(), float64(n.Load())/el.Seconds())
	})
	defer stop()
	var rep LoadReport
	if isPostgres(dsn) {
		rep, err = loadPostgres(ctx, dsn, f, &n)
	} else {
		rep, err = loadMySQL(ctx, dsn, f, &n)
	}
	if err != nil {
		return rep, fmt.Errorf("load %s: %w", csvPath, err)
	}
	rep.Table = Table
	rep.Seconds = time.Since(start).Seconds()
	if rep.Seconds > 0 {
		rep.RowsPerSec = float64(rep.Loaded) / rep.Seconds
	}
	return rep, nil
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// readAhead parses the CSV on its own goroutine and hands over batches of
// records, so parsing and loading overlap.
func readAhead(ctx context.Context, r io.Reader, size int) (<-chan []batch.Record, func() (batch.ReadStats, error)) {
	ch := make(chan []batch.Record, 4)
	var st batch.ReadStats
	var rerr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		buf := make([]batch.Record, 0, size)
		st, rerr = batch.ReadCSV(ctx, r, func(rec *batch.Record) error {
			buf = append(buf, *rec)
			if len(buf) == size {
				select {
				case ch <- buf:
				case <-ctx.Done():
					return ctx.Err()
				}
				buf = make([]batch.Record, 0, size)
			}
			return nil
		})
		if rerr == nil && len(buf) > 0 {
			select {
			case ch <- buf:
			case <-ctx.Done():
				rerr = ctx.Err()
			}
		}
	}()
	return ch, func() (batch.ReadStats, error) { <-done; return st, rerr }
}

func loadPostgres(ctx context.Context, dsn string, r io.Reader, n *atomic.Int64) (LoadReport, error) {
	rep := LoadReport{Database: "postgres"}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return rep, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, CreateTableSQL); err != nil {
		return rep, fmt.Errorf("create table: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, wait := readAhead(ctx, r, 4096)
	var cur []batch.Record
	i := 0
	row := make([]any, len(Columns))
	src := pgx.CopyFromFunc(func() ([]any, error) {
		for i >= len(cur) {
			b, ok := <-ch
			if !ok {
				return nil, nil
			}
			cur, i = b, 0
		}
		rec := &cur[i]
		i++
		n.Add(1)
		row[0] = rec.CustomerID
		row[1] = rec.TxnDate
		row[2] = pgtype.Numeric{Int: big.NewInt(rec.AmountCents), Exp: -2, Valid: true}
		row[3] = nil
		if rec.Age >= 0 {
			row[3] = int32(rec.Age)
		}
		for j, s := range [4]string{rec.Gender, rec.TransactionType, rec.Location, rec.Device} {
			row[4+j] = nil
			if s != "" {
				row[4+j] = s
			}
		}
		return row, nil
	})
	copied, err := conn.CopyFrom(ctx, pgx.Identifier{Table}, Columns, src)
	if err != nil {
		cancel()
		for range ch { // let the reader finish
		}
		wait()
		return rep, fmt.Errorf("copy: %w", err)
	}
	// CopyFrom ended at the end of ch, so the reader is done.
	st, rerr := wait()
	if rerr != nil {
		return rep, rerr
	}
	fill(&rep, st, copied)
	return rep, nil
}

func fill(rep *LoadReport, st batch.ReadStats, loaded int64) {
	rep.Rows = st.Rows
	rep.Loaded = loaded
	rep.Skipped = st.Rejected
	rep.ByReason = st.ByReason
}

// mysqlBatch is the number of rows per INSERT and per transaction.
const mysqlBatch = 1000

func loadMySQL(ctx context.Context, dsn string, r io.Reader, n *atomic.Int64) (LoadReport, error) {
	rep := LoadReport{Database: "mysql"}
	d, err := config.ParseMySQLDSN(dsn)
	if err != nil {
		return rep, fmt.Errorf("mysql dsn: %w", err)
	}
	if d.Net != "tcp" {
		return rep, fmt.Errorf("mysql dsn: only tcp(host:port) is supported")
	}
	if d.DBName == "" {
		return rep, fmt.Errorf("mysql dsn: a database name is required")
	}
	conn, err := client.ConnectWithContext(ctx, d.Addr, d.User, d.Password, d.DBName, 10*time.Second)
	if err != nil {
		return rep, fmt.Errorf("connect: %w", err)
	}
	defer conn.Quit()
	if _, err := conn.Execute(CreateTableMySQL); err != nil {
		return rep, fmt.Errorf("create table: %w", err)
	}
	if _, err := conn.Execute("SET time_zone = '+00:00'"); err != nil {
		return rep, fmt.Errorf("set time zone: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, wait := readAhead(ctx, r, mysqlBatch)
	var loaded int64
	var sb strings.Builder
	var ierr error
	for recs := range ch {
		if ierr != nil {
			continue
		}
		sb.Reset()
		sb.WriteString("INSERT INTO customer_transactions (customer_id, txn_date, amount, age, gender, transaction_type, location, device) VALUES ")
		for i := range recs {
			if i > 0 {
				sb.WriteByte(',')
			}
			appendMySQLRow(&sb, &recs[i])
		}
		if _, err := conn.Execute(sb.String()); err != nil {
			ierr = fmt.Errorf("insert: %w", err)
			cancel()
			continue
		}
		loaded += int64(len(recs))
		n.Add(int64(len(recs)))
	}
	st, rerr := wait()
	if ierr != nil {
		return rep, ierr
	}
	if rerr != nil {
		return rep, rerr
	}
	fill(&rep, st, loaded)
	return rep, nil
}

// appendMySQLRow writes one VALUES tuple. Values are typed numbers, a
// formatted date, and strings quoted with every quote and backslash escaped.
func appendMySQLRow(sb *strings.Builder, r *batch.Record) {
	fmt.Fprintf(sb, "(%d,'%s',%s,", r.CustomerID, r.TxnDate.Format("2006-01-02 15:04:05.000000"), string(formatCents(nil, r.AmountCents)))
	if r.Age >= 0 {
		fmt.Fprintf(sb, "%d", r.Age)
	} else {
		sb.WriteString("NULL")
	}
	for _, s := range [4]string{r.Gender, r.TransactionType, r.Location, r.Device} {
		sb.WriteByte(',')
		if s == "" {
			sb.WriteString("NULL")
			continue
		}
		sb.WriteByte('\'')
		for _, c := range []byte(s) {
			switch c {
			case '\'', '\\':
				sb.WriteByte('\\')
			case 0:
				sb.WriteString("\\0")
				continue
			}
			sb.WriteByte(c)
		}
		sb.WriteByte('\'')
	}
	sb.WriteByte(')')
}
