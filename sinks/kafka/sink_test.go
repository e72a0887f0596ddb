package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/sinks/internal/window"
)

// testLogger prints warnings and errors, so a failing test shows what the
// sink went through.
var testLogger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

func startCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("start kfake cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func newSink(t testing.TB, opts Options) *Sink {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := New(ctx, opts)
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

// table is one table of the test workload.
type table struct {
	src    change.Source
	keyed  bool // has an id column
	topic  string
	nextID int
}

var testTables = []table{
	{src: change.Source{Connector: "postgresql", Name: "shop", DB: "shop", Schema: "public", Table: "customer_transactions"},
		keyed: true, topic: "cdc.shop.public.customer_transactions"},
	{src: change.Source{Connector: "postgresql", Name: "shop", DB: "shop", Schema: "public", Table: "Order Lines.v2"},
		keyed: true, topic: "cdc.shop.public.Order_Lines_v2"},
	{src: change.Source{Connector: "mysql", Name: "legacy", DB: "legacy", Table: "audit_log"},
		keyed: false, topic: "cdc.legacy.legacy.audit_log"},
}

// workloadEvent returns event i (1-based) of the test workload: tables in
// turn, 40 ids per keyed table, so that every key sees inserts, updates and
// deletes; every tenth event ends a transaction.
func workloadEvent(i int) *change.Event {
	tb := testTables[i%len(testTables)]
	tb.src.TxID = uint32(i / 10)
	tb.src.TsMs = 1719743696789
	ev := &change.Event{
		ID:     fmt.Sprintf("%s:%d", tb.src.Name, i),
		Source: tb.src,
		TsMs:   1719743696801,
		Tx:     &change.Transaction{ID: fmt.Sprintf("%d:%d", i/10, i/10*100), TotalOrder: int64(i%10 + 1), DataCollectionOrder: 1},
		TxEnd:  i%10 == 9,
	}
	row := change.Row{{Name: "n", Value: []byte(strconv.Itoa(i))}, {Name: "note", Value: []byte(`"é \"x\""`)}}
	if tb.keyed {
		row = append(change.Row{{Name: "id", Value: []byte(strconv.Itoa(i / 3 % 40))}}, row...)
	}
	switch i / 3 % 3 {
	case 0:
		ev.Op, ev.After = change.OpCreate, row
	case 1:
		ev.Op, ev.After = change.OpUpdate, row
	default:
		ev.Op, ev.Before = change.OpDelete, row
	}
	if i%1000 == 500 && !tb.keyed {
		ev.Op, ev.Before, ev.After = change.OpTruncate, nil, nil
	}
	return ev
}

type consumed struct {
	rec *kgo.Record
	seq int
}

// consumeAll reads want records from the topics, from the start.
func consumeAll(t testing.TB, brokers []string, topics []string, want int) []consumed {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []consumed
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records: %v", len(out), want, ctx.Err())
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s[%d]: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			id := string(header(r, HeaderID))
			n, err := strconv.Atoi(id[strings.IndexByte(id, ':')+1:])
			if err != nil {
				t.Fatalf("record %s[%d]@%d: header %s = %q", r.Topic, r.Partition, r.Offset, HeaderID, id)
			}
			out = append(out, consumed{r, n})
		})
	}
	return out
}

func header(r *kgo.Record, key string) []byte {
	for _, h := range r.Headers {
		if h.Key == key {
			return h.Value
		}
	}
	return nil
}

func TestKafkaProduceAndConsumeBack(t *testing.T) {
	c := startCluster(t, kfake.NumBrokers(3), kfake.DefaultNumPartitions(5))
	s := newSink(t, Options{Brokers: c.ListenAddrs(), MaxBufferedRecords: 512})
	ctx := context.Background()
	const total = 10000
	events := make(map[int]*change.Event, total)
	for i := 1; i <= total; i++ {
		ev := workloadEvent(i)
		events[i] = ev
		if err := s.Write(ctx, uint64(i), ev); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.Flush(fctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if d := s.Durable(); d != total {
		t.Fatalf("Durable() = %d after Flush, want %d", d, total)
	}
	if st := s.Stats(); st.Produced != total || st.Errors != 0 {
		t.Errorf("stats = %+v, want %d produced and no errors", st, total)
	}

	// The topics were created with the broker's default partition count.
	var topics []string
	for _, tb := range testTables {
		topics = append(topics, tb.topic)
	}
	adm := kadm.NewClient(s.cl)
	td, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range topics {
		if d, ok := td[topic]; !ok || d.Err != nil || len(d.Partitions) != 5 {
			t.Errorf("topic %s: %+v, want 5 partitions", topic, d)
		}
	}

	recs := consumeAll(t, c.ListenAddrs(), topics, total)
	if len(recs) != total {
		t.Fatalf("consumed %d records, want %d", len(recs), total)
	}
	seen := make(map[int]bool, total)
	lastByKey := map[string]int{}    // topic + key -> last seq
	lastByPart := map[string]int64{} // topic/partition -> last offset
	for _, cr := range recs {
		r, ev := cr.rec, events[cr.seq]
		if ev == nil || seen[cr.seq] {
			t.Fatalf("record %s[%d]@%d: event %d unknown or seen twice", r.Topic, r.Partition, r.Offset, cr.seq)
		}
		seen[cr.seq] = true
		tb := testTables[cr.seq%len(testTables)]
		if r.Topic != tb.topic || r.Topic != Topic("cdc", ev) {
			t.Fatalf("event %d in topic %s, want %s", cr.seq, r.Topic, tb.topic)
		}
		if !bytes.Equal(r.Value, change.Marshal(ev)) {
			t.Fatalf("event %d value = %s\nwant %s", cr.seq, r.Value, change.Marshal(ev))
		}
		var back change.Event
		if err := change.Unmarshal(r.Value, &back); err != nil || back.Op != ev.Op || back.Tx.TotalOrder != ev.Tx.TotalOrder {
			t.Fatalf("event %d value does not decode back: %v", cr.seq, err)
		}
		if got := string(header(r, HeaderOp)); got != ev.Op.String() {
			t.Errorf("event %d %s = %q, want %q", cr.seq, HeaderOp, got, ev.Op)
		}
		if got := string(header(r, HeaderTx)); got != ev.Tx.ID {
			t.Errorf("event %d %s = %q, want %q", cr.seq, HeaderTx, got, ev.Tx.ID)
		}
		if got := string(header(r, HeaderID)); got != ev.ID {
			t.Errorf("event %d %s = %q, want %q", cr.seq, HeaderID, got, ev.ID)
		}
		if tb.keyed && ev.Op != change.OpTruncate {
			want := fmt.Sprintf(`{"id":%d}`, cr.seq/3%40)
			if string(r.Key) != want {
				t.Fatalf("event %d key = %s, want %s", cr.seq, r.Key, want)
			}
			var k map[string]int
			if err := json.Unmarshal(r.Key, &k); err != nil {
				t.Fatalf("event %d key %s: %v", cr.seq, r.Key, err)
			}
		} else {
			if r.Key != nil {
				t.Fatalf("event %d of keyless table has key %s", cr.seq, r.Key)
			}
			if r.Partition != 0 {
				t.Fatalf("keyless event %d in partition %d, want 0", cr.seq, r.Partition)
			}
		}
		// Records of a partition arrive in offset order; the events of one
		// key (and all keyless events of a table) in pipeline order.
		pk := fmt.Sprintf("%s/%d", r.Topic, r.Partition)
		if last, ok := lastByPart[pk]; ok && r.Offset <= last {
			t.Fatalf("%s: offset %d after %d", pk, r.Offset, last)
		}
		lastByPart[pk] = r.Offset
		kk := r.Topic + "/" + string(r.Key)
		if last := lastByKey[kk]; cr.seq <= last {
			t.Fatalf("key %s: event %d after event %d", kk, cr.seq, last)
		}
		lastByKey[kk] = cr.seq
	}
	if len(lastByKey) != 2*40+1 {
		t.Errorf("%d distinct keys, want %d", len(lastByKey), 2*40+1)
	}
	usedParts := 0
	for pk := range lastByPart {
		if strings.HasPrefix(pk, testTables[0].topic+"/") {
			usedParts++
		}
	}
	if usedParts < 3 {
		t.Errorf("keyed table spread over %d partitions; the key should spread it", usedParts)
	}
}

func TestKafkaClusterGoneFailsInBoundedTime(t *testing.T) {
	c := startCluster(t, kfake.NumBrokers(1), kfake.DefaultNumPartitions(2))
	s := newSink(t, Options{Brokers: c.ListenAddrs(), DeliveryTimeout: time.Second, RequestTimeout: 2 * time.Second})
	ctx := context.Background()
	seq := uint64(0)
	write := func() error {
		seq++
		ev := workloadEvent(int(seq) * 3) // always the first table
		return s.Write(ctx, seq, ev)
	}
	for range 100 {
		if err := write(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Durable() != 100 {
		t.Fatalf("Durable() = %d, want 100", s.Durable())
	}

	c.Close()
	start := time.Now()
	var err error
	for err == nil && time.Since(start) < 30*time.Second {
		if err = write(); err != nil {
			break
		}
		if seq%50 == 0 {
			fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err = s.Flush(fctx)
			cancel()
		}
	}
	elapsed := time.Since(start)
	if err == nil {
		t.Fatalf("no error %s after the cluster went away", elapsed)
	}
	if strings.Contains(err.Error(), context.DeadlineExceeded.Error()) {
		t.Fatalf("the sink did not fail by itself: %v", err)
	}
	if elapsed > 20*time.Second {
		t.Errorf("error after %s, want it within the delivery timeout plus retries", elapsed)
	}
	t.Logf("after %s (%d events): %v", elapsed.Round(time.Millisecond), seq-100, err)
	if d := s.Durable(); d >= seq {
		t.Errorf("Durable() = %d reached the last seq %d of a dead cluster", d, seq)
	}
	if st := s.Stats(); st.Errors == 0 || st.Retries == 0 {
		t.Errorf("stats = %+v, want errors and retries counted", st)
	}
	// The sink stays stopped.
	if err := write(); err == nil {
		t.Error("Write after a failed record succeeded")
	}
	if err := s.Flush(ctx); err == nil {
		t.Error("Flush after a failed record succeeded")
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start = time.Now()
	_ = s.Close(cctx)
	if time.Since(start) > 5*time.Second {
		t.Errorf("Close took %s", time.Since(start))
	}
}

func TestKafkaNewWithoutCluster(t *testing.T) {
	c := startCluster(t, kfake.NumBrokers(1))
	addrs := c.ListenAddrs()
	c.Close()
	start := time.Now()
	_, err := New(context.Background(), Options{Brokers: addrs, RequestTimeout: time.Second, Logger: testLogger})
	if err == nil {
		t.Fatal("New succeeded without a cluster")
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("New failed after %s, want about RequestTimeout", time.Since(start))
	}
	for _, o := range []Options{
		{},
		{Brokers: []string{"nohost"}},
		{Brokers: []string{"k:9092"}, TopicPrefix: "a/b"},
		{Brokers: []string{"k:9092"}, DeliveryTimeout: time.Millisecond},
	} {
		if _, err := New(context.Background(), o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}

func TestKafkaWriteAfterCloseAndBadInput(t *testing.T) {
	c := startCluster(t, kfake.NumBrokers(1))
	s := newSink(t, Options{Brokers: c.ListenAddrs()})
	ctx := context.Background()
	if err := s.Write(ctx, 1, workloadEvent(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, 1, workloadEvent(2)); err == nil {
		t.Error("Write accepted a seq not above the previous one")
	}
	ev := workloadEvent(3)
	ev.ID = ""
	if err := s.Write(ctx, 3, ev); err == nil {
		t.Error("Write accepted an event without ID")
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Durable() != 1 {
		t.Errorf("Durable() = %d after Close, want 1", s.Durable())
	}
	if err := s.Write(ctx, 4, workloadEvent(4)); err != ErrClosed {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
}

// TestKafkaDurableOutOfOrderAcks drives the window with acknowledgements in
// another order than the writes, as different partitions deliver them.
func TestKafkaDurableOutOfOrderAcks(t *testing.T) {
	s := &Sink{log: testLogger}
	s.win = window.New(&s.mu, []*entry{{}, {}, {}, {}}, 0)
	reserve := func(seq uint64) *entry {
		e := s.win.Push(seq, 0)
		e.seq = seq
		return e
	}
	e1, e2, e3 := reserve(10), reserve(20), reserve(30)
	s.onPromise(e3, nil)
	s.onPromise(e2, nil)
	if d := s.Durable(); d != 0 {
		t.Fatalf("Durable() = %d before the first record is acknowledged", d)
	}
	s.onPromise(e1, nil)
	if d := s.Durable(); d != 30 || s.win.Len() != 0 {
		t.Fatalf("Durable() = %d with %d in the window, want 30 and 0", d, s.win.Len())
	}
	e4, e5 := reserve(40), reserve(50)
	s.onPromise(e5, nil)
	s.onPromise(e4, fmt.Errorf("boom"))
	if d := s.Durable(); d != 30 {
		t.Fatalf("Durable() = %d past a failed record", d)
	}
	if err := s.Flush(context.Background()); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Flush = %v, want the record's error", err)
	}
}

// TestKafkaUnresponsiveBrokerFailsInBoundedTime makes the broker swallow
// produce requests without answering: records on the wire must still fail
// once the request times out and the delivery timeout has passed.
func TestKafkaUnresponsiveBrokerFailsInBoundedTime(t *testing.T) {
	c := startCluster(t, kfake.NumBrokers(1), kfake.DefaultNumPartitions(1))
	s := newSink(t, Options{Brokers: c.ListenAddrs(), DeliveryTimeout: time.Second, ClientOpts: []kgo.Opt{
		kgo.ProduceRequestTimeout(500 * time.Millisecond), kgo.RequestTimeoutOverhead(time.Second),
	}})
	ctx := context.Background()
	if err := s.Write(ctx, 1, workloadEvent(3)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return nil, nil, true // never answer
	})
	start := time.Now()
	if err := s.Write(ctx, 2, workloadEvent(6)); err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := s.Flush(fctx)
	if err == nil || strings.Contains(err.Error(), context.DeadlineExceeded.Error()) {
		t.Fatalf("Flush on a broker that never answers = %v after %s, want the record's error", err, time.Since(start))
	}
	t.Logf("after %s: %v", time.Since(start).Round(time.Millisecond), err)
	if s.Durable() != 1 {
		t.Errorf("Durable() = %d, want 1", s.Durable())
	}
}
