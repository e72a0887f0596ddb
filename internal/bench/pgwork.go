package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tributary-cdc/tributary/gen"
)

// Value pools for generated rows, shaped like the seed dataset.
var (
	genders   = []string{"Male", "Female", "Other"}
	txnTypes  = []string{"Purchase", "Refund", "Subscription", "Transfer", "Withdrawal"}
	locations = []string{"New York", "Los Angeles", "Chicago", "Houston", "Phoenix", "Philadelphia", "San Antonio", "San Diego", "Dallas", "San Jose", "Austin", "Seattle"}
	devices   = []string{"Mobile", "Desktop", "Tablet"}
)

// sqlArray renders a Go string slice as a PostgreSQL text[] literal.
func sqlArray(v []string) string {
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return "ARRAY[" + strings.Join(q, ",") + "]"
}

// bulkInsertPG inserts n rows with varied values in one INSERT ... SELECT.
func bulkInsertSQL(n int) string {
	pick := func(pool []string, salt int) string {
		return fmt.Sprintf("(%s)[1 + ((g * %d) %% %d)]", sqlArray(pool), salt, len(pool))
	}
	return fmt.Sprintf(`INSERT INTO customer_transactions
  (customer_id, txn_date, amount, age, gender, transaction_type, location, device)
SELECT 1 + (g * 7919) %% 20000,
       timestamptz '2023-01-01 00:00:00+00' + ((g * 104729) %% 63072000) * interval '1 second',
       round((5 + random() * 995)::numeric, 2),
       18 + (g * 31) %% 63,
       %s, %s, %s, %s
FROM generate_series(1::bigint, %d) g`, pick(genders, 13), pick(txnTypes, 17), pick(locations, 19), pick(devices, 23), n)
}

// row is one generated customer_transactions row.
type row struct {
	customer int64
	date     time.Time
	amount   string
	age      int
	gender   string
	typ      string
	location string
	device   string
}

func randomRow(r *rand.Rand) row {
	return row{
		customer: 1 + r.Int64N(20000),
		date:     time.Now().UTC().Add(-time.Duration(r.Int64N(2*365*24*3600)) * time.Second),
		amount:   strconv.FormatFloat(5+r.Float64()*995, 'f', 2, 64),
		age:      18 + r.IntN(63),
		gender:   genders[r.IntN(len(genders))],
		typ:      txnTypes[r.IntN(len(txnTypes))],
		location: locations[r.IntN(len(locations))],
		device:   devices[r.IntN(len(devices))],
	}
}

// valuesSQL renders r as a VALUES tuple with literals.
func (r row) valuesSQL(dateFmt string) string {
	return fmt.Sprintf("(%d,'%s',%s,%d,'%s','%s','%s','%s')", r.customer, r.date.Format(dateFmt), r.amount, r.age, r.gender, r.typ, r.location, r.device)
}

// recreatePGTable drops and creates customer_transactions and runs a
// checkpoint, so that every contender starts from the same state.
func recreatePGTable(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	for _, sql := range []string{"DROP TABLE IF EXISTS customer_transactions", gen.CreateTableSQL, "CHECKPOINT"} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("recreate table: %s: %w", firstLine(sql), err)
		}
	}
	return nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// pgExec runs one statement on a new connection.
func pgExec(ctx context.Context, dsn, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("%s: %w", firstLine(sql), err)
	}
	return nil
}

// pgBulkTxn inserts rows in one transaction and returns the time COMMIT
// returned and the WAL insert position right after it.
func pgBulkTxn(ctx context.Context, dsn string, rows int) (time.Time, string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		return time.Time{}, "", err
	}
	start := time.Now()
	if _, err := tx.Exec(ctx, bulkInsertSQL(rows)); err != nil {
		_ = tx.Rollback(ctx)
		return time.Time{}, "", fmt.Errorf("insert %d rows: %w", rows, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return time.Time{}, "", fmt.Errorf("commit %d rows: %w", rows, err)
	}
	committed := time.Now()
	progress("  inserted and committed %d rows in one transaction in %.1fs", rows, committed.Sub(start).Seconds())
	var lsn string
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		return committed, "", fmt.Errorf("read WAL position: %w", err)
	}
	return committed, lsn, nil
}

// pgSingleRowTxns commits n single-row transactions as fast as it can over
// conns connections, 100 transactions (each BEGIN; INSERT; COMMIT) per
// round trip, and returns the WAL position after the last.
func pgSingleRowTxns(ctx context.Context, dsn string, n, conns int) (string, error) {
	start := time.Now()
	per := (n + conns - 1) / conns
	errs := make([]error, conns)
	var wg sync.WaitGroup
	for w := 0; w < conns; w++ {
		count := min(per, n-w*per)
		if count <= 0 {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				errs[w] = fmt.Errorf("connect: %w", err)
				return
			}
			defer conn.Close(context.Background())
			r := rand.New(rand.NewPCG(uint64(w), 42))
			var b strings.Builder
			for done := 0; done < count; {
				b.Reset()
				k := min(100, count-done)
				for i := 0; i < k; i++ {
					b.WriteString("BEGIN;INSERT INTO customer_transactions (customer_id, txn_date, amount, age, gender, transaction_type, location, device) VALUES ")
					b.WriteString(randomRow(r).valuesSQL("2006-01-02 15:04:05Z07:00"))
					b.WriteString(";COMMIT;")
				}
				if _, err := conn.Exec(ctx, b.String()); err != nil {
					errs[w] = fmt.Errorf("single-row transactions: %w", err)
					return
				}
				done += k
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return "", err
		}
	}
	el := time.Since(start)
	progress("  committed %d single-row transactions over %d connections in %.1fs (%.0f/s)", n, conns, el.Seconds(), float64(n)/el.Seconds())
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	var lsn string
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		return "", fmt.Errorf("read WAL position: %w", err)
	}
	return lsn, nil
}

// dropSlots drops every inactive replication slot and the publications, so
// that the next contender starts clean and no slot pins WAL.
func dropSlots(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active"); err != nil {
		return fmt.Errorf("drop slots: %w", err)
	}
	rows, err := conn.Query(ctx, "SELECT pubname FROM pg_publication")
	if err != nil {
		return fmt.Errorf("list publications: %w", err)
	}
	pubs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("list publications: %w", err)
	}
	for _, p := range pubs {
		if _, err := conn.Exec(ctx, "DROP PUBLICATION "+pgx.Identifier{p}.Sanitize()); err != nil {
			return fmt.Errorf("drop publication %s: %w", p, err)
		}
	}
	return nil
}
