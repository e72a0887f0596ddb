package jetstream

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-cdc/tributary/change"
)

func TestNewProvisionsStream(t *testing.T) {
	srv := startServer(t, t.TempDir(), "127.0.0.1:0")
	nc := connect(t, srv.URL())
	s := newSink(t, nc, Options{Stream: "PROV", SubjectPrefix: "cdc.test", DuplicateWindow: 3 * time.Minute})

	js, _ := natsjs.New(nc)
	ctx := context.Background()
	st, err := js.Stream(ctx, "PROV")
	if err != nil {
		t.Fatalf("stream not created: %v", err)
	}
	cfg := st.CachedInfo().Config
	if len(cfg.Subjects) != 1 || cfg.Subjects[0] != "cdc.test.>" {
		t.Errorf("subjects = %v, want [cdc.test.>]", cfg.Subjects)
	}
	if cfg.Storage != natsjs.FileStorage {
		t.Errorf("storage = %v, want file", cfg.Storage)
	}
	if cfg.Duplicates != 3*time.Minute {
		t.Errorf("duplicate window = %v, want 3m", cfg.Duplicates)
	}
	if s.Name() != "jetstream" {
		t.Errorf("Name() = %q", s.Name())
	}

	// An existing compatible stream is accepted as it is.
	newSink(t, nc, Options{Stream: "PROV", SubjectPrefix: "cdc.test", DuplicateWindow: time.Minute})

	// A stream with a wider subject also covers the prefix.
	if _, err := js.CreateStream(ctx, natsjs.StreamConfig{Name: "WIDE", Subjects: []string{"wide.*.>"}, Duplicates: 5 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	newSink(t, nc, Options{Stream: "WIDE", SubjectPrefix: "wide.x"})

	// Incompatible streams are refused with an error naming the fix.
	if _, err := js.CreateStream(ctx, natsjs.StreamConfig{Name: "OTHER", Subjects: []string{"other.>"}, Duplicates: 5 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	_, err = New(ctx, nc, Options{Stream: "OTHER", SubjectPrefix: "cdc", Logger: testLogger})
	if err == nil || !strings.Contains(err.Error(), "do not cover cdc.>") {
		t.Errorf("stream with other subjects: err = %v, want one saying the subjects do not cover cdc.>", err)
	}
	if _, err := js.CreateStream(ctx, natsjs.StreamConfig{Name: "SHORT", Subjects: []string{"short.>"}, Duplicates: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	_, err = New(ctx, nc, Options{Stream: "SHORT", SubjectPrefix: "short", Logger: testLogger})
	if err == nil || !strings.Contains(err.Error(), "--dupe-window 5s") {
		t.Errorf("stream with a 2s duplicate window: err = %v, want one naming the fix", err)
	}

	// Bad prefixes are refused before touching the server.
	for _, p := range []string{"cdc.*", "a..b", "has space", "x.>"} {
		if _, err := New(ctx, nc, Options{Stream: "BAD", SubjectPrefix: p}); err == nil || !strings.Contains(err.Error(), "subject_prefix") {
			t.Errorf("prefix %q: err = %v, want a subject_prefix error", p, err)
		}
	}
}

func TestPublishInOrderAndReplayDeduplicated(t *testing.T) {
	const n = 20000
	srv := startServer(t, t.TempDir(), "127.0.0.1:0")
	nc := connect(t, srv.URL())
	s := newSink(t, nc, Options{Stream: "ORDER", MaxPending: 1024})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	for i := 1; i <= n; i++ {
		if err := s.Write(ctx, uint64(i), testEvent("shop", i)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.Durable(); got != n {
		t.Fatalf("Durable() = %d after Flush, want %d", got, n)
	}
	msgs := readAll(t, nc, "ORDER")
	checkExactlyOnceInOrder(t, msgs, "shop", n)
	for i, m := range msgs {
		if m.subject != "cdc.shop.public.customer_transactions" {
			t.Fatalf("message %d: subject %q", i, m.subject)
		}
		if want := change.Marshal(testEvent("shop", i+1)); !bytes.Equal(m.data, want) {
			t.Fatalf("message %d: payload\n%s\nwant\n%s", i, m.data, want)
		}
	}
	st := s.Stats()
	if st.Published != n || st.Duplicates != 0 || st.Reordered != 0 {
		t.Errorf("stats after first pass = %+v", st)
	}

	// Replaying the same events (same IDs) under new pipeline seqs adds nothing.
	for i := 1; i <= n; i++ {
		if err := s.Write(ctx, uint64(n+i), testEvent("shop", i)); err != nil {
			t.Fatalf("replay %d: %v", i, err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.Durable(); got != 2*n {
		t.Errorf("Durable() = %d after replay, want %d", got, 2*n)
	}
	checkExactlyOnceInOrder(t, readAll(t, nc, "ORDER"), "shop", n)
	st = s.Stats()
	if st.Duplicates != n || st.Published != 2*n || st.Errors != 0 {
		t.Errorf("stats after replay = %+v, want %d duplicates", st, n)
	}

	// Contract checks: seq must increase, events need an ID.
	if err := s.Write(ctx, 5, testEvent("shop", 1)); err == nil {
		t.Error("Write with a seq below the previous one succeeded")
	}
	ev := testEvent("shop", 1)
	ev.ID = ""
	if err := s.Write(ctx, 3*n, ev); err == nil {
		t.Error("Write of an event without ID succeeded")
	}
}

func TestWriteBlocksOnFullWindowAndHonoursContext(t *testing.T) {
	srv := startServer(t, t.TempDir(), "127.0.0.1:0")
	nc := connect(t, srv.URL())
	s := newSink(t, nc, Options{Stream: "WINDOW", MaxPending: 4})
	evSize := len(change.Marshal(testEvent("w", 1)))
	sb := newSink(t, nc, Options{Stream: "WINDOW", MaxPending: 100, MaxPendingBytes: 2*evSize + 2})
	// Stop the server: nothing is acknowledged any more, so the windows fill.
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "disconnect", 5*time.Second, func() bool { return !nc.IsConnected() })
	ctx := context.Background()

	blocks := func(s *Sink, seq uint64) {
		t.Helper()
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := s.Write(short, seq, testEvent("w", int(seq)))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Write on a full window: err = %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("Write on a full window returned after %v, want it to block", d)
		}
	}
	for i := 1; i <= 4; i++ {
		if err := s.Write(ctx, uint64(i), testEvent("w", i)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	blocks(s, 5)
	for i := 1; i <= 2; i++ {
		if err := sb.Write(ctx, uint64(i), testEvent("w", i)); err != nil {
			t.Fatalf("write %d under the byte limit: %v", i, err)
		}
	}
	blocks(sb, 3)

	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := s.Flush(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush with the server down: err = %v", err)
	}
	if got := s.Durable(); got != 0 {
		t.Errorf("Durable() = %d with nothing acknowledged", got)
	}
	for _, x := range []*Sink{s, sb} {
		closeCtx, closeCancel := context.WithTimeout(ctx, 100*time.Millisecond)
		if err := x.Close(closeCtx); err == nil {
			t.Error("Close with unacknowledged events returned nil")
		}
		closeCancel()
	}
	if err := s.Write(ctx, 6, testEvent("w", 6)); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: err = %v, want ErrClosed", err)
	}
}

func TestMessageTooLargeStopsTheSink(t *testing.T) {
	srv := startServer(t, t.TempDir(), "127.0.0.1:0")
	nc := connect(t, srv.URL())
	s := newSink(t, nc, Options{Stream: "BIG"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Write(ctx, 1, testEvent("big", 1)); err != nil {
		t.Fatal(err)
	}
	big := testEvent("big", 2)
	big.After = append(big.After, change.Field{Name: "blob", Value: []byte(`"` + strings.Repeat("x", 9<<20) + `"`)})
	if err := s.Write(ctx, 2, big); err != nil {
		t.Fatalf("write of the big event failed at once: %v (the error should come from the pipeline)", err)
	}
	err := s.Flush(ctx)
	if err == nil || !strings.Contains(err.Error(), "big:2") || !strings.Contains(err.Error(), "maximum payload") {
		t.Fatalf("Flush after a 9 MiB event: err = %v, want a permanent error naming the event", err)
	}
	if got := s.Durable(); got != 1 {
		t.Errorf("Durable() = %d, want 1", got)
	}
	if err := s.Write(ctx, 3, testEvent("big", 3)); err == nil {
		t.Error("Write after a permanent failure succeeded")
	}
}

func TestStreamDeletedIsRecreated(t *testing.T) {
	srv := startServer(t, t.TempDir(), "127.0.0.1:0")
	nc := connect(t, srv.URL())
	s := newSink(t, nc, Options{Stream: "GONE"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 1; i <= 100; i++ {
		if err := s.Write(ctx, uint64(i), testEvent("g", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	js, _ := natsjs.New(nc)
	if err := js.DeleteStream(ctx, "GONE"); err != nil {
		t.Fatal(err)
	}
	for i := 101; i <= 200; i++ {
		if err := s.Write(ctx, uint64(i), testEvent("g", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("flush after the stream was deleted: %v", err)
	}
	msgs := readAll(t, nc, "GONE")
	if len(msgs) != 100 || msgs[0].id != "g:101" || msgs[99].id != "g:200" {
		t.Fatalf("re-created stream holds %d messages (first %q), want g:101..g:200", len(msgs), msgs[0].id)
	}
	if st := s.Stats(); st.Recoveries == 0 || st.Reordered != 0 {
		t.Errorf("stats = %+v, want a recovery and no reordering", st)
	}
}

func TestPurgeSource(t *testing.T) {
	srv := startServer(t, t.TempDir(), "127.0.0.1:0")
	nc := connect(t, srv.URL())
	s := newSink(t, nc, Options{Stream: "PURGE"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seq := uint64(0)
	for i := 1; i <= 50; i++ {
		for _, src := range []string{"a", "ab", "b"} {
			seq++
			if err := s.Write(ctx, seq, testEvent(src, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.PurgeSource(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	msgs := readAll(t, nc, "PURGE")
	count := map[string]int{}
	for _, m := range msgs {
		count[strings.Split(m.subject, ".")[1]]++
	}
	if count["a"] != 0 || count["ab"] != 50 || count["b"] != 50 {
		t.Fatalf("after purging source a: messages per source = %v", count)
	}
	// The duplicate window survives a purge: the same IDs are not stored again.
	seq++
	if err := s.Write(ctx, seq, testEvent("a", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(readAll(t, nc, "PURGE")); got != 100 {
		t.Errorf("re-publishing a purged ID within the window stored it: %d messages", got)
	}
}
