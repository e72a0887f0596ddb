package testenv

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
)

// dsnParts splits a go-sql-driver style DSN, user:pass@tcp(addr)/db.
var dsnParts = regexp.MustCompile(`^([^:]+):([^@]*)@tcp\(([^)]+)\)/(.*)$`)

func TestMariaDB(t *testing.T) {
	start := time.Now()
	m := MariaDB(t)
	t.Logf("mariadb ready on port %d in %v", m.Port, time.Since(start))

	parts := dsnParts.FindStringSubmatch(m.DSN("mysql"))
	if parts == nil {
		t.Fatalf("DSN %q is not user:pass@tcp(addr)/db", m.DSN("mysql"))
	}
	connect := func() *client.Conn {
		t.Helper()
		conn, err := client.Connect(parts[3], parts[1], parts[2], parts[4])
		if err != nil {
			t.Fatalf("TCP login with DSN %s: %v", m.DSN("mysql"), err)
		}
		return conn
	}
	conn := connect()
	r, err := conn.Execute("SELECT @@binlog_format, @@binlog_row_metadata, @@binlog_row_image, @@log_bin, @@gtid_strict_mode, @@server_id")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ROW", "FULL", "FULL", "1", "1", "1"}
	for i, w := range want {
		got, err := r.GetString(0, i)
		if err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Errorf("column %d = %q, want %q", i, got, w)
		}
	}
	// The TCP login can read the binlog: REPLICATION privileges are granted.
	if _, err := conn.Execute("SHOW MASTER STATUS"); err != nil {
		t.Fatalf("SHOW MASTER STATUS: %v", err)
	}
	r, err = conn.Execute("SHOW GRANTS")
	if err != nil {
		t.Fatal(err)
	}
	grant, _ := r.GetString(0, 0)
	if !regexp.MustCompile(`GRANT ALL PRIVILEGES ON \*\.\*`).MatchString(grant) {
		t.Fatalf("grants = %q, want ALL PRIVILEGES ON *.*", grant)
	}
	conn.Close()

	m.Exec(t, "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO shop.t VALUES (1, 'a')")
	m.ExecDB(t, "shop", "INSERT INTO t VALUES (?, ?)", 2, "b")
	count := func() int64 {
		t.Helper()
		c := connect()
		defer c.Close()
		r, err := c.Execute("SELECT COUNT(*) FROM shop.t")
		if err != nil {
			t.Fatal(err)
		}
		n, _ := r.GetInt(0, 0)
		return n
	}

	// The user's statements are the only GTIDs: testenv's own setup stays out
	// of the binary log.
	c := connect()
	r, err = c.Execute("SELECT @@gtid_binlog_pos")
	if err != nil {
		t.Fatal(err)
	}
	if pos, _ := r.GetString(0, 0); pos != "0-1-4" {
		t.Errorf("gtid_binlog_pos = %q, want 0-1-4 (CREATE DATABASE, CREATE TABLE, two INSERTs)", pos)
	}
	c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	port := m.Port
	if err := m.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if c, err := client.ConnectWithContext(ctx, m.Addr(), m.User, m.Password, "", time.Second); err == nil {
		c.Close()
		t.Fatal("connect after Stop succeeded")
	}
	if err := m.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	if m.Port != port {
		t.Fatalf("port changed from %d to %d", port, m.Port)
	}
	if n := count(); n != 2 {
		t.Fatalf("rows after restart = %d, want 2", n)
	}
	m.Exec(t, "INSERT INTO shop.t VALUES (3, 'c')")
	if err := m.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatalf("start after kill: %v", err)
	}
	if n := count(); n != 3 {
		t.Fatalf("rows after kill and recovery = %d, want 3", n)
	}
}
