package mysql

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/internal/testenv"
	"github.com/tributary-cdc/tributary/replicator"
	"github.com/tributary-cdc/tributary/replicator/replicatortest"
)

func colNames(r change.Row) string {
	var n []string
	for _, f := range r {
		n = append(n, f.Name)
	}
	return strings.Join(n, ",")
}

// DDL mid-stream: columns follow each row's table map across ADD and DROP
// COLUMN, a renamed-away table is not captured until renamed back, and
// TRUNCATE is an op "t" event. A replay of binlog written before an ALTER
// maps the old rows with the old columns.
func TestDDLMidStream(t *testing.T) {
	m := testenv.MariaDB(t)
	m.Exec(t, "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, a INT, b VARCHAR(10))")
	sink := &replicatortest.CollectSink{}
	cfg := testConfig(t, m, "shop.t")
	r := startSource(t, cfg, sink)
	waitStreaming(t, r.src)
	m.ExecDB(t, "shop", `INSERT INTO t VALUES (1, 10, 'x');
		ALTER TABLE t ADD COLUMN c INT DEFAULT 7;
		INSERT INTO t VALUES (2, 20, 'y', 8);
		ALTER TABLE t DROP COLUMN a;
		INSERT INTO t VALUES (3, 'z', 9);
		UPDATE t SET b = 'xx' WHERE id = 1;
		RENAME TABLE t TO t2;
		INSERT INTO t2 VALUES (4, 'away', 0);
		RENAME TABLE t2 TO t;
		INSERT INTO t VALUES (5, 'back', 1);
		TRUNCATE TABLE t;
		INSERT INTO t VALUES (6, 'after', 2)`)
	waitCaughtUp(t, m, r.src)
	r.stop(t)
	var got []string
	for _, ev := range sink.Snapshot() {
		row := ev.After
		if row == nil {
			row = ev.Before
		}
		got = append(got, ev.Op.String()+"("+colNames(row)+")")
	}
	want := []string{"c(id,a,b)", "c(id,a,b,c)", "c(id,b,c)", "u(id,b,c)", "c(id,b,c)", "t()", "c(id,b,c)"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("events %v, want %v", got, want)
	}
	if tr := sink.Snapshot()[5]; tr.Source.Table != "t" || tr.Source.DB != "shop" || !tr.TxEnd {
		t.Errorf("truncate event %+v", tr.Source)
	}

	// Rows written before an ALTER, read after it.
	m.ExecDB(t, "shop", `INSERT INTO t VALUES (7, 'old', 3); ALTER TABLE t ADD COLUMN d DATE; INSERT INTO t VALUES (8, 'new', 4, '2024-01-02')`)
	sink2 := &replicatortest.CollectSink{}
	r2 := startSource(t, cfg, sink2)
	waitStreaming(t, r2.src)
	waitCaughtUp(t, m, r2.src)
	r2.stop(t)
	evs := sink2.Snapshot()
	if len(evs) != 2 || colNames(evs[0].After) != "id,b,c" || colNames(evs[1].After) != "id,b,c,d" || field(t, evs[1].After, "d") != `"2024-01-02"` {
		for _, ev := range evs {
			t.Logf("%s", change.Marshal(ev))
		}
		t.Fatalf("replay across ALTER: %d events", len(evs))
	}
}

// FLUSH BINARY LOGS mid-stream: the stream follows the rotation, and a
// restart resumes after the rotation with each change once.
func TestBinlogRotation(t *testing.T) {
	m := testenv.MariaDB(t)
	m.Exec(t, "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v INT)")
	sink := &replicatortest.CollectSink{}
	cfg := testConfig(t, m, "shop.t")
	r := startSource(t, cfg, sink)
	waitStreaming(t, r.src)
	m.ExecDB(t, "shop", "INSERT INTO t VALUES (1, 1); FLUSH BINARY LOGS; INSERT INTO t VALUES (2, 2); FLUSH BINARY LOGS; FLUSH BINARY LOGS; INSERT INTO t VALUES (3, 3)")
	waitCaughtUp(t, m, r.src)
	r.stop(t)
	m.ExecDB(t, "shop", "FLUSH BINARY LOGS; INSERT INTO t VALUES (4, 4)")
	r = startSource(t, cfg, sink)
	waitStreaming(t, r.src)
	waitCaughtUp(t, m, r.src)
	r.stop(t)
	evs := sink.Snapshot()
	if len(evs) != 4 {
		t.Fatalf("%d events, want 4", len(evs))
	}
	files := map[string]bool{}
	for i, ev := range evs {
		if got := field(t, ev.After, "id"); got != string(rune('1'+i)) {
			t.Errorf("event %d: id %s", i, got)
		}
		files[ev.Source.File] = true
	}
	if len(files) != 4 {
		t.Errorf("events came from %d binlog files, want 4: %v", len(files), files)
	}
	if st := r.src.Status(); !strings.HasSuffix(st.File, ".000005") {
		t.Errorf("saved file %s, want the fifth binlog", st.File)
	}
}

// A saved position whose binlog the server purged stops the source with an
// error that names the position and the recovery; it never skips ahead.
func TestPurgedBinlog(t *testing.T) {
	m := testenv.MariaDB(t)
	m.Exec(t, "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY)")
	sink := &replicatortest.CollectSink{}
	cfg := testConfig(t, m, "shop.t")
	r := startSource(t, cfg, sink)
	waitStreaming(t, r.src)
	m.ExecDB(t, "shop", "INSERT INTO t VALUES (1)")
	waitCaughtUp(t, m, r.src)
	saved := r.src.Status().GTID
	r.stop(t)
	m.ExecDB(t, "shop", "FLUSH BINARY LOGS; INSERT INTO t VALUES (2); FLUSH BINARY LOGS; INSERT INTO t VALUES (3)")
	purgeTo(t, m)
	r = startSource(t, cfg, &replicatortest.CollectSink{})
	err := r.wait(t)
	if err == nil || replicator.IsRetryable(err) {
		t.Fatalf("pipeline error %v, want a permanent error", err)
	}
	for _, want := range []string{"purged", saved, "oldest available", "fresh snapshot", "mysql.shop.position"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if n := r.sink.Count(); n != 0 {
		t.Errorf("%d events emitted after the purge", n)
	}
}

// purgeTo purges every binlog but the current one. MariaDB keeps a binlog
// until InnoDB has checkpointed its transactions, so it retries.
func purgeTo(t *testing.T, m *testenv.MySQL) {
	t.Helper()
	c := m.Conn(t, "")
	r, err := c.Execute("SHOW MASTER STATUS")
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := r.GetString(0, 0)
	replicatortest.WaitFor(t, 30*time.Second, "binlogs purged", func() bool {
		if _, err := c.Execute("PURGE BINARY LOGS TO '" + cur + "'"); err != nil {
			t.Fatal(err)
		}
		return query1(t, c, "SHOW BINARY LOGS") == cur
	})
}

// The server restarting mid-stream: the source reconnects with backoff and
// resumes, each change once.
func TestServerRestart(t *testing.T) {
	m := testenv.MariaDB(t)
	m.Exec(t, "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v INT)")
	sink := &replicatortest.CollectSink{}
	r := startSource(t, testConfig(t, m, "shop.t"), sink)
	waitStreaming(t, r.src)
	m.ExecDB(t, "shop", "INSERT INTO t VALUES (1, 1), (2, 2)")
	waitCaughtUp(t, m, r.src)
	if err := m.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	m.ExecDB(t, "shop", "INSERT INTO t VALUES (3, 3); UPDATE t SET v = 10 WHERE id = 1")
	waitCaughtUp(t, m, r.src)
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	m.ExecDB(t, "shop", "DELETE FROM t WHERE id = 2")
	waitCaughtUp(t, m, r.src)
	st := r.src.Status()
	r.stop(t)
	img := map[string]string{}
	replay(t, img, sink.Snapshot())
	sameImage(t, img, tableImage(t, m, "shop.t"))
	if len(sink.Snapshot()) != 5 || st.Reconnects < 2 {
		t.Errorf("%d events (want 5), %d reconnects (want >= 2)", len(sink.Snapshot()), st.Reconnects)
	}
}

// Pre-flight errors name each problem and its fix, all at once.
func TestPreflight(t *testing.T) {
	m := testenv.MariaDB(t)
	m.Exec(t, `CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY);
		CREATE USER 'weak'@'%' IDENTIFIED BY 'pw'; GRANT SELECT ON shop.t TO 'weak'@'%'`)
	run := func(cfg Config) error {
		r := startSource(t, cfg, &replicatortest.CollectSink{})
		return r.wait(t)
	}
	cfg := testConfig(t, m, "shop.t", "shop.missing")
	cfg.ServerID = 1
	err := run(cfg)
	for _, want := range []string{"server_id 1", "table shop.missing does not exist"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
	cfg = testConfig(t, m, "shop.t")
	cfg.DSN = "weak:pw@tcp(" + m.Addr() + ")/shop"
	err = run(cfg)
	for _, want := range []string{"REPLICATION SLAVE", "REPLICATION CLIENT", "GRANT REPLICATION SLAVE ON *.* TO 'weak'"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
	m.Exec(t, "SET GLOBAL binlog_row_metadata = 'MINIMAL'; SET GLOBAL binlog_row_image = 'MINIMAL'; SET GLOBAL binlog_format = 'MIXED'")
	err = run(testConfig(t, m, "shop.t"))
	for _, want := range []string{"binlog_row_metadata is MINIMAL, want FULL", "binlog_row_image is MINIMAL", "binlog_format is MIXED, want ROW"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
	if err != nil && replicator.IsRetryable(err) {
		t.Errorf("preflight error is retryable: %v", err)
	}
	t.Logf("preflight error:\n%v", err)
}

// The saved position moves only after Confirm: not while the sink holds a
// transaction back, even past transactions on tables not captured; once
// everything is confirmed it moves to the server's head, those included.
func TestPositionSavedOnlyAfterConfirm(t *testing.T) {
	m := testenv.MariaDB(t)
	m.Exec(t, "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY); CREATE TABLE shop.other (id INT PRIMARY KEY)")
	sink := &replicatortest.CollectSink{}
	r := startSource(t, testConfig(t, m, "shop.t"), sink)
	waitStreaming(t, r.src)
	waitCaughtUp(t, m, r.src)
	before, err := r.src.loadPosition(context.Background())
	if err != nil || before.GTID != headGTID(t, m) {
		t.Fatalf("saved position %v (%v), want the head %s", before, err, headGTID(t, m))
	}
	sink.Paused.Store(true)
	m.ExecDB(t, "shop", "INSERT INTO t VALUES (1)")
	replicatortest.WaitFor(t, 10*time.Second, "the insert handed over", func() bool { return sink.Count() == 1 })
	m.ExecDB(t, "shop", "INSERT INTO other VALUES (1); INSERT INTO other VALUES (2)")
	time.Sleep(400 * time.Millisecond)
	if got, _ := r.src.loadPosition(context.Background()); got != before {
		t.Fatalf("saved position moved to %v while the sink held the transaction back", got)
	}
	if st := r.src.Status(); st.Pending != 1 || st.GTID != before.GTID {
		t.Fatalf("status %+v, want 1 pending at %s", st, before.GTID)
	}
	sink.Paused.Store(false)
	waitCaughtUp(t, m, r.src)
	m.ExecDB(t, "shop", "INSERT INTO other VALUES (3)")
	waitCaughtUp(t, m, r.src)
	replicatortest.WaitFor(t, 5*time.Second, "the head saved", func() bool {
		got, _ := r.src.loadPosition(context.Background())
		return got.GTID == headGTID(t, m)
	})
	r.stop(t)
	if n := sink.Count(); n != 1 {
		t.Errorf("%d events, want 1", n)
	}
}

// A connection lost in the middle of a large transaction, after part of it
// was handed over: the source reconnects, reads the transaction again and
// hands over only the rest, so each event reaches the sink once.
func TestReconnectMidTransaction(t *testing.T) {
	m := testenv.MariaDB(t)
	m.Exec(t, "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v INT)")
	sink := &replicatortest.CollectSink{}
	r := startSource(t, testConfig(t, m, "shop.t"), sink)
	waitStreaming(t, r.src)
	sink.Block.Store(true)
	m.ExecDB(t, "shop", "SET SESSION max_recursive_iterations = 1000000; INSERT INTO t WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 100000) SELECT n, n FROM s")
	replicatortest.WaitFor(t, 30*time.Second, "the source to hand over part of the transaction", func() bool {
		return r.src.Status().Events >= 2048
	})
	time.Sleep(300 * time.Millisecond)
	c := m.Conn(t, "")
	id := query1(t, c, "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Binlog Dump'")
	if id == "" {
		t.Fatal("no binlog dump thread")
	}
	if _, err := c.Execute("KILL " + id); err != nil {
		t.Fatal(err)
	}
	handed := r.src.Status().Events
	sink.Block.Store(false)
	waitCaughtUp(t, m, r.src)
	st := r.src.Status()
	r.stop(t)
	evs := sink.Snapshot()
	seen := map[string]bool{}
	for i, ev := range evs {
		if seen[ev.ID] {
			t.Fatalf("event %s twice", ev.ID)
		}
		seen[ev.ID] = true
		if ev.Tx.TotalOrder != int64(i+1) {
			t.Fatalf("event %d has index %d", i, ev.Tx.TotalOrder)
		}
	}
	if len(evs) != 100000 || st.Reconnects < 1 || !evs[len(evs)-1].TxEnd {
		t.Fatalf("%d events (want 100000), %d reconnects (want >= 1)", len(evs), st.Reconnects)
	}
	t.Logf("%d events handed over before the connection was killed", handed)
}
