package jetstream

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRestart stops and restarts the server (same port, same store) twice
// while events are being written; afterwards the stream must hold every
// event exactly once, in pipeline order.
func TestRestart(t *testing.T) {
	const n = 60000
	dir := t.TempDir()
	srv := startServer(t, dir, "127.0.0.1:0")
	listen := strings.TrimPrefix(srv.URL(), "nats://")
	nc := connect(t, srv.URL())
	s := newSink(t, nc, Options{Stream: "RESTART", AckTimeout: 5 * time.Second})

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	werr := make(chan error, 1)
	go func() {
		for i := 1; i <= n; i++ {
			if err := s.Write(ctx, uint64(i), testEvent("shop", i)); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()

	for _, at := range []uint64{n / 4, n * 3 / 5} {
		waitFor(t, "progress before the restart", 60*time.Second, func() bool { return s.Durable() >= at })
		shutCtx, shutCancel := context.WithTimeout(ctx, 10*time.Second)
		if err := srv.Shutdown(shutCtx); err != nil {
			t.Fatal(err)
		}
		shutCancel()
		t.Logf("server stopped at durable=%d", s.Durable())
		time.Sleep(300 * time.Millisecond)
		srv = startServer(t, dir, listen)
		t.Logf("server restarted on %s", srv.URL())
	}
	if err := <-werr; err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if got := s.Durable(); got != n {
		t.Fatalf("Durable() = %d, want %d", got, n)
	}
	checkExactlyOnceInOrder(t, readAll(t, nc, "RESTART"), "shop", n)
	st := s.Stats()
	t.Logf("stats: %+v", st)
	if st.Recoveries < 2 {
		t.Errorf("Recoveries = %d, want one per restart at least", st.Recoveries)
	}
	if st.Reordered != 0 {
		t.Errorf("Reordered = %d", st.Reordered)
	}
	if st.Published < n {
		t.Errorf("Published = %d, want at least %d", st.Published, n)
	}
	if err := s.Close(ctx); err != nil {
		t.Errorf("close: %v", err)
	}
}

// TestAckTimeouts makes acknowledgements time out all the time, so that
// events the server did store are re-sent: the stream must still hold each
// event once, in order.
func TestAckTimeouts(t *testing.T) {
	const n = 10000
	srv := startServer(t, t.TempDir(), "127.0.0.1:0")
	nc := connect(t, srv.URL())
	s := newSink(t, nc, Options{Stream: "TIMEOUTS", AckTimeout: 3 * time.Millisecond, MaxPending: 512,
		Logger: testLogger.With("test", "expect timeouts")})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	for i := 1; i <= n; i++ {
		if err := s.Write(ctx, uint64(i), testEvent("shop", i)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	checkExactlyOnceInOrder(t, readAll(t, nc, "TIMEOUTS"), "shop", n)
	st := s.Stats()
	t.Logf("stats: %+v", st)
	if st.Reordered != 0 {
		t.Errorf("Reordered = %d", st.Reordered)
	}
	if st.Recoveries == 0 || st.Duplicates == 0 {
		t.Errorf("stats = %+v: no ack timed out on a stored event, so recovery was not exercised", st)
	}
}
