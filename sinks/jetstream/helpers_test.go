package jetstream

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-cdc/tributary/change"
)

// testLogger prints warnings and errors, so a failing test shows what the
// sink went through.
var testLogger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

func startServer(t testing.TB, dir, listen string) *Embedded {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := StartEmbedded(ctx, EmbeddedOptions{StoreDir: dir, Listen: listen, Logger: testLogger})
	if err != nil {
		t.Fatalf("start embedded server: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return e
}

func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := Connect(context.Background(), url, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func newSink(t testing.TB, nc *nats.Conn, opts Options) *Sink {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := New(ctx, nc, opts)
	if err != nil {
		t.Fatalf("new sink: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

func testEvent(source string, i int) *change.Event {
	return &change.Event{
		ID: fmt.Sprintf("%s:%d", source, i),
		Op: change.OpCreate,
		After: change.Row{
			{Name: "id", Value: []byte(strconv.Itoa(i))},
			{Name: "amount", Value: []byte(`"12.50"`)},
		},
		Source: change.Source{Connector: "postgresql", Name: source, DB: "shop", Schema: "public",
			Table: "customer_transactions", TxID: uint32(i), LSN: uint64(i) * 100},
		TsMs: 1719743696801,
		Tx:   &change.Transaction{ID: fmt.Sprintf("%d:%d", i, i*100), TotalOrder: 1, DataCollectionOrder: 1},
	}
}

type storedMsg struct {
	subject, id string
	data        []byte
	streamSeq   uint64
}

// readAll reads every message of the stream with an ordered consumer.
func readAll(t testing.TB, nc *nats.Conn, stream string) []storedMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	want := int(st.CachedInfo().State.Msgs)
	cons, err := st.OrderedConsumer(ctx, natsjs.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]storedMsg, 0, want)
	for len(out) < want {
		batch, err := cons.Fetch(min(want-len(out), 2000), natsjs.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatalf("fetch: %v", err)
		}
		n := 0
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, storedMsg{subject: m.Subject(), id: m.Headers().Get(natsjs.MsgIDHeader),
				data: m.Data(), streamSeq: md.Sequence.Stream})
			n++
		}
		if err := batch.Error(); err != nil {
			t.Fatalf("fetch: %v", err)
		}
		if n == 0 {
			t.Fatalf("read %d of %d messages, then nothing", len(out), want)
		}
	}
	return out
}

// checkExactlyOnceInOrder asserts that msgs hold the events source:1..n, each
// once, in that order.
func checkExactlyOnceInOrder(t testing.TB, msgs []storedMsg, source string, n int) {
	t.Helper()
	if len(msgs) != n {
		seen := map[string]int{}
		for _, m := range msgs {
			seen[m.id]++
		}
		var dups, missing int
		for i := 1; i <= n; i++ {
			switch seen[fmt.Sprintf("%s:%d", source, i)] {
			case 0:
				missing++
			case 1:
			default:
				dups++
			}
		}
		t.Fatalf("stream holds %d messages, want %d (%d missing, %d duplicated)", len(msgs), n, missing, dups)
	}
	for i, m := range msgs {
		if want := fmt.Sprintf("%s:%d", source, i+1); m.id != want {
			t.Fatalf("message %d (stream seq %d) has Nats-Msg-Id %q, want %q: order or content broken", i, m.streamSeq, m.id, want)
		}
	}
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
