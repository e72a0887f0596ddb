package postgres

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/internal/testenv"
	"github.com/tributary-cdc/tributary/replicator/replicatortest"
)

// An idle source (nothing for it in the WAL) still advances its slot, so it
// never pins WAL; and a sink that acknowledges nothing for longer than
// wal_sender_timeout does not get the connection dropped.
func TestIdleSlotAdvancesAndPausedSinkSurvives(t *testing.T) {
	pg := testenv.PostgresWith(t, testenv.PGOptions{Settings: map[string]string{"wal_sender_timeout": "2s"}})
	pg.Exec(t, `CREATE TABLE public.watched (id int PRIMARY KEY); CREATE TABLE public.noise (id serial PRIMARY KEY, v text)`)
	sink := &replicatortest.CollectSink{}
	r := startSource(t, Config{DSN: pg.DSN("postgres"), Tables: []string{"public.watched"}, Snapshot: true}, sink)
	waitStreaming(t, r.src)

	// WAL that the publication does not cover.
	for i := 0; i < 20; i++ {
		pg.Exec(t, `INSERT INTO noise (v) SELECT repeat('x', 100) FROM generate_series(1, 100)`)
	}
	walNow := parseLSN(t, scalar(t, pg, "SELECT pg_current_wal_lsn()::text"))
	slotLSN := func() uint64 {
		return parseLSN(t, scalar(t, pg, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'tributary_shop'"))
	}
	replicatortest.WaitFor(t, 20*time.Second, "idle slot to follow the WAL end", func() bool { return slotLSN() >= walNow })

	// Pause the sink: the change is delivered but never acknowledged.
	sink.Paused.Store(true)
	pg.Exec(t, `INSERT INTO watched VALUES (1)`)
	replicatortest.WaitFor(t, 10*time.Second, "event delivered", func() bool { return len(sink.Snapshot()) == 1 })
	held := slotLSN()
	time.Sleep(5 * time.Second) // > 2 x wal_sender_timeout
	if got := slotLSN(); got > sink.Snapshot()[0].Position.LSN || got < held {
		t.Fatalf("slot moved while the sink held the event: %s -> %s", change.FormatLSN(held), change.FormatLSN(got))
	}
	if n := r.src.stats.Reconnects.Load(); n != 0 {
		t.Fatalf("connection was dropped %d times while the sink was paused", n)
	}
	pid := scalar(t, pg, "SELECT active_pid::text FROM pg_replication_slots WHERE slot_name = 'tributary_shop'")
	if pid == "" || pid == "<nil>" {
		t.Fatal("slot not active while the sink was paused")
	}
	sink.Paused.Store(false)
	end := sink.Snapshot()[0].Position.LSN
	replicatortest.WaitFor(t, 10*time.Second, "slot to confirm the event", func() bool { return slotLSN() >= end })
	if pid2 := scalar(t, pg, "SELECT active_pid::text FROM pg_replication_slots WHERE slot_name = 'tributary_shop'"); pid2 != pid {
		t.Fatalf("walsender changed from %s to %s: the connection was dropped", pid, pid2)
	}
}

// PostgreSQL restarting mid-stream: the source reconnects and resumes from
// the slot with nothing lost or repeated.
func TestReconnectAfterPostgresRestart(t *testing.T) {
	pg := testenv.Postgres(t)
	pg.Exec(t, `CREATE TABLE public.t (id int PRIMARY KEY)`)
	sink := &replicatortest.CollectSink{}
	r := startSource(t, Config{DSN: pg.DSN("postgres"), Tables: []string{"public.t"}, Snapshot: true}, sink)
	waitStreaming(t, r.src)
	pg.Exec(t, `INSERT INTO t SELECT generate_series(1, 100)`)
	replicatortest.WaitFor(t, 10*time.Second, "first 100", func() bool { return len(sink.Snapshot()) == 100 })
	// A clean restart: PostgreSQL's fast shutdown waits until the client
	// has confirmed everything sent, which it does.
	ctx := context.Background()
	if err := pg.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// A crash while the sink holds acks: the replay after the restart
	// includes delivered but unconfirmed transactions, which are skipped.
	sink.Paused.Store(true)
	pg.Exec(t, `INSERT INTO t SELECT generate_series(101, 150)`)
	replicatortest.WaitFor(t, 30*time.Second, "150", func() bool { return len(sink.Snapshot()) == 150 })
	if err := pg.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := pg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	sink.Paused.Store(false)
	for i := 151; i <= 200; i++ {
		pg.Exec(t, `INSERT INTO t VALUES ($1)`, i)
	}
	replicatortest.WaitFor(t, 30*time.Second, "200 events", func() bool { return len(sink.Snapshot()) >= 200 })
	time.Sleep(300 * time.Millisecond)
	evs := sink.Snapshot()
	if len(evs) != 200 {
		t.Fatalf("got %d events, want 200", len(evs))
	}
	for i, ev := range evs {
		if got, want := field(t, ev.After, "id"), itoa(i+1); got != want {
			t.Fatalf("event %d has id %s, want %s", i, got, want)
		}
	}
	if n := r.src.Status().Reconnects; n < 2 {
		t.Fatalf("%d reconnects, want at least 2", n)
	}
	if r.src.Status().State != "streaming" {
		t.Fatalf("state %s", r.src.Status().State)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// An unchanged TOASTed column is never emitted as null: without a before
// image it is the placeholder; with REPLICA IDENTITY FULL the value is
// copied from the before image.
func TestToastAndRelationChanges(t *testing.T) {
	pg := testenv.Postgres(t)
	pg.Exec(t, `CREATE TABLE public.doc (id int PRIMARY KEY, body text, n int);
		CREATE TABLE public.full_doc (id int PRIMARY KEY, body text, n int);
		ALTER TABLE public.full_doc REPLICA IDENTITY FULL;
		ALTER TABLE public.doc ALTER COLUMN body SET STORAGE EXTERNAL;
		ALTER TABLE public.full_doc ALTER COLUMN body SET STORAGE EXTERNAL`)
	sink := &replicatortest.CollectSink{}
	r := startSource(t, Config{DSN: pg.DSN("postgres"), Tables: []string{"public.doc", "public.full_doc"}, Snapshot: true}, sink)
	waitStreaming(t, r.src)
	big := strings.Repeat("0123456789abcdef", 1000)
	pg.Exec(t, `INSERT INTO doc VALUES (1, $1, 0)`, big)
	pg.Exec(t, `INSERT INTO full_doc VALUES (1, $1, 0)`, big)
	pg.Exec(t, `UPDATE doc SET n = 1; UPDATE full_doc SET n = 1`)
	// Relation change mid-stream: later events carry the new column, then
	// a type change and a dropped column.
	pg.Exec(t, `ALTER TABLE doc ADD COLUMN extra numeric(5,1) DEFAULT 1.5`)
	pg.Exec(t, `INSERT INTO doc (id, body, n) VALUES (2, 'small', 2)`)
	pg.Exec(t, `ALTER TABLE doc DROP COLUMN n; ALTER TABLE doc ALTER COLUMN extra TYPE text`)
	pg.Exec(t, `INSERT INTO doc (id, body, extra) VALUES (3, 'small', 'seven')`)
	replicatortest.WaitFor(t, 20*time.Second, "6 events", func() bool { return len(sink.Snapshot()) >= 6 })
	evs := sink.Snapshot()
	upd, updFull := evs[2], evs[3]
	if upd.Op != change.OpUpdate || upd.Source.Table != "doc" {
		t.Fatalf("event 2 is %c on %s", upd.Op, upd.Source.Table)
	}
	if got := field(t, upd.After, "body"); got != `"`+change.Unavailable+`"` {
		t.Errorf("unchanged toast without before image: %.60s", got)
	}
	if got := field(t, updFull.After, "body"); got != `"`+big+`"` {
		t.Errorf("unchanged toast with REPLICA IDENTITY FULL: %.60s", got)
	}
	if got := field(t, evs[4].After, "extra"); got != `"1.5"` {
		t.Errorf("added column: %s", rowString(evs[4].After))
	}
	if _, ok := evs[5].After.Get("n"); ok {
		t.Errorf("dropped column still present: %s", rowString(evs[5].After))
	}
	if got := field(t, evs[5].After, "extra"); got != `"seven"` {
		t.Errorf("column after type change: %s", rowString(evs[5].After))
	}
}

func TestPreflightErrors(t *testing.T) {
	pg := testenv.PostgresWith(t, testenv.PGOptions{Settings: map[string]string{"wal_level": "replica"}})
	pg.Exec(t, `CREATE TABLE public.t (id int PRIMARY KEY); CREATE ROLE plain LOGIN`)
	run := func(dsn string, tables ...string) error {
		st, _ := newTestState(t)
		src, err := New(Config{Name: "x", DSN: dsn, Tables: tables, State: st})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return src.Run(ctx, nil)
	}
	err := run(pg.DSN("postgres"), "public.t")
	if err == nil || !strings.Contains(err.Error(), "wal_level") || !strings.Contains(err.Error(), "logical") {
		t.Fatalf("wal_level replica: %v", err)
	}
	if isRetryable(err) {
		t.Errorf("wal_level error should be permanent")
	}
	dsn := strings.Replace(pg.DSN("postgres"), "postgres@", "plain@", 1)
	err = run(dsn, "public.t")
	if err == nil || (!strings.Contains(err.Error(), "wal_level") && !strings.Contains(err.Error(), "REPLICATION")) {
		t.Fatalf("no replication privilege: %v", err)
	}
	pg2 := testenv.Postgres(t)
	pg2.Exec(t, `CREATE ROLE plain LOGIN`)
	err = run(strings.Replace(pg2.DSN("postgres"), "postgres@", "plain@", 1), "public.t")
	if err == nil || !strings.Contains(err.Error(), "REPLICATION") {
		t.Fatalf("no replication privilege: %v", err)
	}
	err = run(pg2.DSN("postgres"), "public.missing")
	if err == nil || !strings.Contains(err.Error(), "public.missing does not exist") {
		t.Fatalf("missing table: %v", err)
	}
}

// After a restart, events the sinks already hold (the last stored ID) are
// skipped however long ago they were stored: no reliance on a dedup window.
func TestResumeAfterLastStoredEvent(t *testing.T) {
	pg := testenv.Postgres(t)
	pg.Exec(t, `CREATE TABLE public.t (id int PRIMARY KEY)`)
	st, _ := newTestState(t)
	cfg := Config{DSN: pg.DSN("postgres"), Tables: []string{"public.t"}, Snapshot: true, State: st}
	first := &replicatortest.CollectSink{}
	first.Paused.Store(true) // nothing is confirmed: the restart replays all
	r := startSource(t, cfg, first)
	waitStreaming(t, r.src)
	for i := 0; i < 3; i++ {
		pg.Exec(t, `INSERT INTO t VALUES ($1), ($2)`, 2*i+1, 2*i+2)
	}
	replicatortest.WaitFor(t, 10*time.Second, "6 events", func() bool { return len(first.Snapshot()) == 6 })
	r.cancel()
	<-r.done
	stored := first.Snapshot()

	// The sinks held the first three events (through transaction 2, event 1).
	second := &replicatortest.CollectSink{}
	r2 := startSourceAfter(t, cfg, second, stored[2].ID)
	waitStreaming(t, r2.src)
	pg.Exec(t, `INSERT INTO t VALUES (7)`)
	replicatortest.WaitFor(t, 10*time.Second, "4 events", func() bool { return len(second.Snapshot()) >= 4 })
	time.Sleep(200 * time.Millisecond)
	got := second.Snapshot()
	if len(got) != 4 {
		t.Fatalf("got %d events after resuming, want 4", len(got))
	}
	for i, want := range []string{stored[3].ID, stored[4].ID, stored[5].ID} {
		if got[i].ID != want {
			t.Fatalf("event %d is %s, want %s", i, got[i].ID, want)
		}
	}
	if field(t, got[3].After, "id") != "7" {
		t.Fatalf("last event %s", rowString(got[3].After))
	}
	// An ID ahead of the server's WAL (another cluster, a restored backup)
	// is not used to skip anything.
	r2.cancel()
	<-r2.done
	pg.Exec(t, `INSERT INTO t VALUES (8)`)
	third := &replicatortest.CollectSink{}
	startSourceAfter(t, cfg, third, "shop:999999999999:1")
	replicatortest.WaitFor(t, 10*time.Second, "row 8", func() bool { return len(third.Snapshot()) == 1 })
	if got := field(t, third.Snapshot()[0].After, "id"); got != "8" {
		t.Fatalf("got row %s, want 8", got)
	}
}
