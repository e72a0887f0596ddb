package mysql

import (
	"context"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/internal/testenv"
	"github.com/tributary-cdc/tributary/replicator"
	"github.com/tributary-cdc/tributary/replicator/replicatortest"
)

// field and rowString keep the names these tests use for the shared helpers.
var field, rowString = replicatortest.Field, replicatortest.RowString

// running is a source pipeline running in the background of a test.
type running struct {
	src    *Source
	sink   *replicatortest.CollectSink
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		if r.err != nil {
			t.Fatalf("pipeline: %v", r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("pipeline did not stop within 30s")
	}
}

// wait waits for the pipeline to stop by itself and returns its error.
func (r *running) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(60 * time.Second):
		t.Fatal("pipeline did not stop within 60s")
	}
	return nil
}

// testConfig is a source config for database shop of m.
func testConfig(t *testing.T, m *testenv.MySQL, tables ...string) Config {
	st, err := replicator.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return Config{Name: "shop", DSN: m.DSN("shop"), ServerID: 4242, Tables: tables, Snapshot: true, State: st,
		SaveInterval: 20 * time.Millisecond}
}

func startSource(t *testing.T, cfg Config, sink *replicatortest.CollectSink) *running {
	t.Helper()
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &replicator.Pipeline{Source: src, Out: replicator.NewFanout(sink), MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second,
		ShutdownTimeout: 2 * time.Second}
	r := &running{src: src, sink: sink, cancel: cancel, done: make(chan struct{})}
	go func() { r.err = p.Run(ctx); close(r.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
		}
	})
	return r
}

func waitStreaming(t *testing.T, src *Source) {
	t.Helper()
	replicatortest.WaitFor(t, 60*time.Second, "source streaming", func() bool { return src.Status().State == "streaming" })
}

// headGTID returns the server's gtid_binlog_pos.
func headGTID(t *testing.T, m *testenv.MySQL) string {
	t.Helper()
	return query1(t, m.Conn(t, ""), "SELECT @@gtid_binlog_pos")
}

func query1(t testing.TB, c *client.Conn, q string) string {
	t.Helper()
	r, err := c.Execute(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if r.RowNumber() == 0 {
		return ""
	}
	s, _ := r.GetString(0, 0)
	return s
}

// waitCaughtUp waits until the source saved the server's current GTID position.
func waitCaughtUp(t *testing.T, m *testenv.MySQL, src *Source) {
	t.Helper()
	want := headGTID(t, m)
	replicatortest.WaitFor(t, 60*time.Second, "position "+want+" confirmed", func() bool {
		st := src.Status()
		return st.GTID == want && st.Pending == 0
	})
}

// replay applies events to a table image keyed by the "id" column and
// fails t on any change that does not fit the image: a read or create of a
// row that exists, an update or delete of one that does not.
func replay(t *testing.T, img map[string]string, evs []*change.Event) {
	t.Helper()
	for _, ev := range evs {
		switch ev.Op {
		case change.OpRead, change.OpCreate:
			id := field(t, ev.After, "id")
			if _, ok := img[id]; ok {
				t.Fatalf("event %s: %c of id %s, which exists", ev.ID, ev.Op, id)
			}
			img[id] = rowString(ev.After)
		case change.OpUpdate:
			id := field(t, ev.Before, "id")
			if old, ok := img[id]; !ok || old != rowString(ev.Before) {
				t.Fatalf("event %s: update of id %s: before %s, image has %s", ev.ID, id, rowString(ev.Before), old)
			}
			delete(img, id)
			img[field(t, ev.After, "id")] = rowString(ev.After)
		case change.OpDelete:
			id := field(t, ev.Before, "id")
			if _, ok := img[id]; !ok {
				t.Fatalf("event %s: delete of missing id %s", ev.ID, id)
			}
			delete(img, id)
		case change.OpTruncate:
			clear(img)
		}
	}
}

// tableImage reads db.table as replay builds it, through a snapshot
// source's own encoding: it runs a one-off snapshot into a fresh sink.
func tableImage(t *testing.T, m *testenv.MySQL, table string) map[string]string {
	t.Helper()
	sink := &replicatortest.CollectSink{}
	cfg := testConfig(t, m, table)
	cfg.Name = "image"
	cfg.ServerID = 4343
	r := startSource(t, cfg, sink)
	waitStreaming(t, r.src)
	r.stop(t)
	img := map[string]string{}
	replay(t, img, sink.Snapshot())
	return img
}

func sameImage(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("image has %d rows, table %d", len(got), len(want))
	}
	n := 0
	for id, w := range want {
		if got[id] != w {
			if n++; n <= 5 {
				t.Errorf("id %s: replayed %s, table %s", id, got[id], w)
			}
		}
	}
}
