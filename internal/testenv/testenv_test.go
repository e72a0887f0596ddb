package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestPostgres(t *testing.T) {
	start := time.Now()
	pg := Postgres(t)
	t.Logf("postgres ready on port %d in %v", pg.Port, time.Since(start))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	query := func(sql string) string {
		t.Helper()
		conn, err := pgx.Connect(ctx, pg.DSN("postgres"))
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer conn.Close(ctx)
		var s string
		if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return s
	}
	if got := query("SHOW wal_level"); got != "logical" {
		t.Fatalf("wal_level = %q, want logical", got)
	}
	if got := query("SHOW max_replication_slots"); got != "20" {
		t.Fatalf("max_replication_slots = %q, want 20", got)
	}

	pg.Exec(t, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a')")
	pg.Exec(t, "INSERT INTO t VALUES ($1, $2)", 2, "b")

	// A logical replication connection works (pg_hba trust for replication).
	rc, err := pgconn.Connect(ctx, pg.ReplicationDSN("postgres"))
	if err != nil {
		t.Fatalf("replication connection: %v", err)
	}
	if _, err := rc.Exec(ctx, "CREATE_REPLICATION_SLOT s1 LOGICAL pgoutput").ReadAll(); err != nil {
		t.Fatalf("create slot over the replication protocol: %v", err)
	}
	rc.Close(ctx)

	port := pg.Port
	if err := pg.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := pgx.Connect(ctx, pg.DSN("postgres")); err == nil {
		t.Fatal("connect after Stop succeeded")
	}
	if err := pg.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	if pg.Port != port {
		t.Fatalf("port changed from %d to %d", port, pg.Port)
	}
	if got := query("SELECT count(*)::text FROM t"); got != "2" {
		t.Fatalf("rows after restart = %s, want 2", got)
	}

	pg.Exec(t, "INSERT INTO t VALUES (3, 'c')")
	if err := pg.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	if err := pg.Start(ctx); err != nil {
		t.Fatalf("start after kill: %v", err)
	}
	if got := query("SELECT count(*)::text FROM t"); got != "3" {
		t.Fatalf("rows after kill and crash recovery = %s, want 3", got)
	}
	if got := query("SELECT slot_name::text FROM pg_replication_slots"); got != "s1" {
		t.Fatalf("slot after restarts = %q, want s1", got)
	}
}

func TestPostgresSettingsAndClose(t *testing.T) {
	ctx := context.Background()
	pg, err := StartPostgres(ctx, PGOptions{Settings: map[string]string{"fsync": "on", "application_name": "it's"}})
	if errors.Is(err, ErrUnavailable) {
		unavailable(t, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	conn, err := pgx.Connect(ctx, pg.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	var fsync string
	if err := conn.QueryRow(ctx, "SHOW fsync").Scan(&fsync); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if fsync != "on" {
		t.Fatalf("fsync = %q, want on (Settings must override the default)", fsync)
	}
	pid := pg.proc.cmd.Process.Pid
	if err := pg.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("process group %d still exists after Close: %v", pid, err)
	}
	if _, err := os.Stat(pg.Dir); !os.IsNotExist(err) {
		t.Fatalf("data dir %s still exists after Close: %v", pg.Dir, err)
	}
	if err := pg.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestPostgresBadSetting(t *testing.T) {
	_, err := StartPostgres(context.Background(), PGOptions{Settings: map[string]string{"port": "1"}})
	if err == nil {
		t.Fatal("StartPostgres accepted Settings[port]")
	}
}

func TestPostgresParallel(t *testing.T) {
	ports := make(chan int, 3)
	t.Run("group", func(t *testing.T) {
		for i := range 3 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				pg := Postgres(t)
				pg.Exec(t, "CREATE TABLE only_here (id int)")
				ports <- pg.Port
			})
		}
	})
	close(ports)
	seen := map[int]bool{}
	for p := range ports {
		if seen[p] {
			t.Fatalf("two servers on port %d", p)
		}
		seen[p] = true
	}
	if len(seen) != 3 {
		t.Fatalf("%d servers started, want 3", len(seen))
	}
}

func TestMissingBinariesAreUnavailable(t *testing.T) {
	t.Setenv("TRIBUTARY_PG_BINDIR", t.TempDir())
	t.Setenv("TRIBUTARY_MARIADB_BINDIR", t.TempDir())
	if _, err := StartPostgres(context.Background(), PGOptions{}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("StartPostgres without binaries: %v, want ErrUnavailable", err)
	}
	if _, err := StartMariaDB(context.Background(), MySQLOptions{}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("StartMariaDB without binaries: %v, want ErrUnavailable", err)
	}
}

// TestMissingBinariesSkipOrFailInCI runs TestHelperMissingServers in a child
// test process with and without CI=true.
func TestMissingBinariesSkipOrFailInCI(t *testing.T) {
	for _, tc := range []struct{ ci, want string }{{"", "--- SKIP"}, {"true", "--- FAIL"}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperMissingServers$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "TESTENV_HELPER=1", "CI="+tc.ci, "TRIBUTARY_PG_BINDIR="+t.TempDir())
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "PostgreSQL server binaries") {
			t.Errorf("CI=%q: want %s with a clear message, got:\n%s", tc.ci, tc.want, out)
		}
	}
}

func TestHelperMissingServers(t *testing.T) {
	if os.Getenv("TESTENV_HELPER") != "1" {
		t.Skip("run by TestMissingBinariesSkipOrFailInCI")
	}
	Postgres(t)
	t.Fatal("Postgres returned without binaries")
}
