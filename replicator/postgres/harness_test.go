package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

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

func startSource(t *testing.T, cfg Config, sink *replicatortest.CollectSink) *running {
	return startSourceAfter(t, cfg, sink, "")
}

// startSourceAfter is startSource with the source told that the sinks hold
// everything up to the event resumeAfter.
func startSourceAfter(t *testing.T, cfg Config, sink *replicatortest.CollectSink, resumeAfter string) *running {
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
	replicatortest.WaitFor(t, 60*time.Second, "source streaming", func() bool { return src.Status().State == "streaming" })
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

func newTestState(t *testing.T) (*replicator.DirStore, error) {
	return replicator.NewDirStore(t.TempDir())
}

func isRetryable(err error) bool { return replicator.IsRetryable(err) }
