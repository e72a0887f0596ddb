package postgres

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/internal/testenv"
	"github.com/tributary-cdc/tributary/replicator"
)

// collectSink is an in-process replicator.Sink that keeps every event it is
// given. Acks can be held back to act like a slow or paused sink.
type collectSink struct {
	mu      sync.Mutex
	events  []*change.Event
	seqs    []uint64
	paused  atomic.Bool
	durable atomic.Uint64
	last    atomic.Uint64
	purged  atomic.Int32
}

func (c *collectSink) Name() string { return "collect" }

func (c *collectSink) Write(_ context.Context, seq uint64, ev *change.Event) error {
	c.mu.Lock()
	c.events = append(c.events, ev)
	c.seqs = append(c.seqs, seq)
	c.mu.Unlock()
	c.last.Store(seq)
	if !c.paused.Load() {
		c.durable.Store(seq)
	}
	return nil
}

func (c *collectSink) Durable() uint64 {
	if !c.paused.Load() {
		c.durable.Store(c.last.Load())
	}
	return c.durable.Load()
}

func (c *collectSink) Flush(ctx context.Context) error {
	for c.Durable() < c.last.Load() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

func (c *collectSink) Close(context.Context) error { return nil }

func (c *collectSink) PurgeSource(_ context.Context, source string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.events[:0]
	for _, ev := range c.events {
		if ev.Source.Name != source {
			kept = append(kept, ev)
		}
	}
	c.events = kept
	c.purged.Add(1)
	return nil
}

func (c *collectSink) snapshot() []*change.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*change.Event(nil), c.events...)
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// running is a source pipeline running in the background of a test.
type running struct {
	src    *Source
	sink   *collectSink
	cancel context.CancelFunc
	done   chan struct{} // closed when the pipeline returned
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

func startSource(t *testing.T, cfg Config, sink *collectSink) *running {
	return startSourceAfter(t, cfg, sink, "")
}

// startSourceAfter is startSource with the source told that the sinks hold
// everything up to the event resumeAfter.
func startSourceAfter(t *testing.T, cfg Config, sink *collectSink, resumeAfter string) *running {
	t.Helper()
	if cfg.State == nil {
		st, err := replicator.NewDirStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		cfg.State = st
	}
	if cfg.Name == "" {
		cfg.Name = "shop"
	}
	cfg.Purgers = []replicator.SubjectPurger{sink}
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if resumeAfter != "" {
		src.ResumeAfter(resumeAfter)
	}
	p := &replicator.Pipeline{Source: src, Out: replicator.NewFanout(sink), MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, ShutdownTimeout: 2 * time.Second}
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
	waitFor(t, 60*time.Second, "source streaming", func() bool { return src.Status().State == "streaming" })
}

// scalar runs a one-value query.
func scalar(t *testing.T, pg *testenv.PG, sql string) string {
	t.Helper()
	conn := pg.Conn(t, "postgres")
	var v any
	if err := conn.QueryRow(context.Background(), sql).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return fmt.Sprint(v)
}

func field(t *testing.T, r change.Row, name string) string {
	t.Helper()
	v, ok := r.Get(name)
	if !ok {
		t.Fatalf("row %s has no column %s", rowString(r), name)
	}
	if v == nil {
		return "null"
	}
	return string(v)
}

func rowString(r change.Row) string {
	if r == nil {
		return "null"
	}
	return string(change.Marshal(&change.Event{Op: change.OpCreate, After: r}))
}

func newTestState(t *testing.T) (*replicator.DirStore, error) {
	return replicator.NewDirStore(t.TempDir())
}

func isRetryable(err error) bool { return replicator.IsRetryable(err) }
