package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

func TestQuantile(t *testing.T) {
	v := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, c := range []struct{ q, want float64 }{{0.5, 5}, {0.9, 9}, {0.99, 10}, {1, 10}, {0, 1}} {
		if got := quantile(v, c.q); got != c.want {
			t.Errorf("quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
}

func TestParseRates(t *testing.T) {
	r, err := parseRates("1000, 2500,5000")
	if err != nil || len(r) != 3 || r[1] != 2500 {
		t.Fatalf("parseRates = %v, %v", r, err)
	}
	if _, err := parseRates("1000,x"); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Fatalf("parseRates(1000,x) error = %v, want one naming x", err)
	}
	if r, err := parseRates(""); err != nil || len(r) != 0 {
		t.Fatalf("parseRates(\"\") = %v, %v", r, err)
	}
}

// The PostgreSQL baseline pieces: the bulk and single-row workloads commit
// what they say, and pg_recvlogical exits at --endpos.
func TestPostgresWorkloadsAndRecvlogical(t *testing.T) {
	pg := testenv.Postgres(t)
	ctx := context.Background()
	b := &pgBench{tmp: t.TempDir(), dsn: pg.DSN("postgres"), bindir: pg.BinDir, conns: 3}
	for _, w := range []workload{b.bulk(5000), b.singles(1000)} {
		r, err := b.recvlogical(ctx, w, true)
		if err != nil {
			t.Fatal(err)
		}
		if r.RowsPerSec <= 0 || r.Seconds > 60 {
			t.Fatalf("pg_recvlogical rate %+v", r)
		}
		var n int
		if err := pg.Conn(t, "postgres").QueryRow(ctx, "SELECT count(*) FROM customer_transactions").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != w.rows {
			t.Fatalf("table has %d rows, want %d", n, w.rows)
		}
	}
}

// The MariaDB baseline pieces: workloads commit their rows and
// mariadb-binlog reads the binlog from a position to its end and exits.
func TestMariaDBWorkloadsAndBinlogReader(t *testing.T) {
	m := testenv.MariaDB(t)
	ctx := context.Background()
	tmp := t.TempDir()
	b := &myBench{tmp: tmp, m: m, conns: 3}
	if err := b.fresh(ctx); err != nil {
		t.Fatal(err)
	}
	file, pos, err := b.binlogPos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.bulk(ctx, 5000); err != nil {
		t.Fatal(err)
	}
	if err := b.singles(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	conn, err := b.connect(ctx, mysqlDB)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Quit()
	res, err := conn.Execute("SELECT COUNT(*) FROM customer_transactions")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.GetInt(0, 0); n != 6000 {
		t.Fatalf("table has %d rows, want 6000", n)
	}
	start := time.Now()
	r, err := b.mariadbBinlog(ctx, 6000, file, pos)
	if err != nil {
		t.Fatal(err)
	}
	if r.RowsPerSec <= 0 || time.Since(start) > time.Minute {
		t.Fatalf("mariadb-binlog rate %+v", r)
	}
}

func TestMySQLLinked(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary links this package, not replicator/mysql.
	if linked, known := mysqlLinked(exe); known && linked {
		t.Fatalf("mysqlLinked(%s) = true for a binary without replicator/mysql", exe)
	}
	if _, known := mysqlLinked("/nonexistent"); known {
		t.Fatal("mysqlLinked of a missing file claims to know")
	}
}
