package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/replicator"
	"github.com/tributary-cdc/tributary/sinks/internal/window"
)

// Defaults for Options.
const (
	DefaultTopicPrefix        = "cdc"
	DefaultMaxBufferedRecords = 10000
	DefaultMaxBufferedBytes   = 32 << 20
	DefaultLinger             = 5 * time.Millisecond
	DefaultDeliveryTimeout    = 2 * time.Minute
	DefaultRequestTimeout     = 10 * time.Second
	DefaultClientID           = "tributary"
)

// DefaultKeyColumns are the columns the record key is made of by default.
var DefaultKeyColumns = []string{"id"}

var _ replicator.Sink = (*Sink)(nil)

// ErrClosed is returned by Write and Flush after Close.
var ErrClosed = errors.New("kafka sink is closed")

// Options configures a Sink. The zero value of each field but Brokers means
// its default.
type Options struct {
	// Brokers are the seed brokers, host:port. Required.
	Brokers []string
	// TopicPrefix is the first part of every topic name. Default "cdc".
	TopicPrefix string
	// KeyColumns are the columns whose values make the record key (see the
	// package documentation). Default ["id"].
	KeyColumns []string
	// MaxBufferedRecords is the number of produced records that may wait
	// for their acknowledgement; Write blocks while it is reached. Default
	// 10000.
	MaxBufferedRecords int
	// MaxBufferedBytes bounds the value bytes of unacknowledged records;
	// Write blocks while it would be exceeded (one record is always let
	// through). Default 32 MiB.
	MaxBufferedBytes int
	// Linger is how long a partition's batch waits for more records before
	// it is sent. Default 5ms.
	Linger time.Duration
	// DeliveryTimeout is how long a record may take, retries included,
	// before it fails and stops the sink (Kafka's delivery.timeout.ms). It
	// bounds how long Write and Flush wait on an unreachable cluster.
	// Default 2m; franz-go allows no less than 1s.
	DeliveryTimeout time.Duration
	// RequestTimeout bounds the connectivity check in New and each topic
	// creation. Default 10s.
	RequestTimeout time.Duration
	// Partitions and ReplicationFactor are given to the topics the sink
	// creates. Zero means the broker's defaults (num.partitions,
	// default.replication.factor; Kafka 2.4 or later).
	Partitions        int32
	ReplicationFactor int16
	// ClientID names the client to the brokers. Default "tributary".
	ClientID string
	// ClientOpts are appended to the client's options (TLS, SASL, tuning).
	// Options that change acks, idempotence or the partitioner void the
	// guarantees of the package documentation.
	ClientOpts []kgo.Opt
	// Logger receives the client's warnings and the sink's errors. Default
	// slog.Default().
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.TopicPrefix == "" {
		o.TopicPrefix = DefaultTopicPrefix
	}
	if len(o.KeyColumns) == 0 {
		o.KeyColumns = DefaultKeyColumns
	}
	if o.MaxBufferedRecords <= 0 {
		o.MaxBufferedRecords = DefaultMaxBufferedRecords
	}
	if o.MaxBufferedBytes <= 0 {
		o.MaxBufferedBytes = DefaultMaxBufferedBytes
	}
	if o.Linger <= 0 {
		o.Linger = DefaultLinger
	}
	if o.DeliveryTimeout <= 0 {
		o.DeliveryTimeout = DefaultDeliveryTimeout
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.Partitions <= 0 {
		o.Partitions = -1
	}
	if o.ReplicationFactor <= 0 {
		o.ReplicationFactor = -1
	}
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

func (o *Options) validate() error {
	if len(o.Brokers) == 0 {
		return errors.New("brokers: at least one broker (host:port) is required")
	}
	for i, b := range o.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return fmt.Errorf("brokers[%d]: %w", i, err)
		}
	}
	if err := validatePrefix(o.TopicPrefix); err != nil {
		return err
	}
	for i, c := range o.KeyColumns {
		if c == "" {
			return fmt.Errorf("key_columns[%d] is empty", i)
		}
	}
	if o.DeliveryTimeout < time.Second {
		return fmt.Errorf("delivery timeout %s is below the 1s franz-go allows", o.DeliveryTimeout)
	}
	return nil
}

// Stats are the sink's counters since New.
type Stats struct {
	// Produced counts records acknowledged by the cluster.
	Produced uint64 `json:"produced"`
	// Errors counts records that failed for good. The first stops the sink;
	// the rest are records of the same partitions failed with it.
	Errors uint64 `json:"errors"`
	// Retries counts produce requests lost in transit and failed broker
	// connections; the client retries their records. Partition errors in a
	// produce response that the client retries (a leader change) are not
	// counted.
	Retries uint64 `json:"retries"`
}

// entry is one slot of the in-flight window. Slots are allocated once and
// reused once their record is acknowledged, when the client no longer
// references it.
type entry struct {
	seq     uint64
	rec     kgo.Record
	headers [3]kgo.RecordHeader
	value   []byte
	key     []byte
	meta    []byte // header values
	acked   bool
	promise func(*kgo.Record, error)
}

type topicKey struct{ source, namespace, table string }

// Sink produces events to Kafka. It implements replicator.Sink.
type Sink struct {
	cl   *kgo.Client
	adm  *kadm.Client
	opts Options
	log  *slog.Logger

	// Writer side, serialised by writeMu.
	writeMu      sync.Mutex
	scratch      []byte
	lastSeq      uint64
	topics       map[topicKey]string
	created      map[string]bool
	createDenied bool

	mu     sync.Mutex
	win    *window.Window[*entry] // guarded by mu; sizes are value bytes
	fatal  error
	closed bool

	stats struct{ produced, errors, retries atomic.Uint64 }

	ctx       context.Context // the records' context: cancelled by Close
	cancel    context.CancelFunc
	closeOnce sync.Once
}

// New returns a Sink producing to opts.Brokers. It checks that a broker
// answers within ctx and opts.RequestTimeout; topics are created as events
// for them arrive.
func New(ctx context.Context, opts Options) (*Sink, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("kafka sink: %w", err)
	}
	s := &Sink{
		opts:    opts,
		log:     opts.Logger.With("sink", "kafka"),
		topics:  make(map[topicKey]string),
		created: make(map[string]bool),
	}
	ring := make([]*entry, opts.MaxBufferedRecords)
	for i := range ring {
		e := &entry{}
		e.promise = func(_ *kgo.Record, err error) { s.onPromise(e, err) }
		ring[i] = e
	}
	s.win = window.New(&s.mu, ring, opts.MaxBufferedBytes)
	kopts := []kgo.Opt{
		kgo.SeedBrokers(opts.Brokers...),
		kgo.ClientID(opts.ClientID),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(opts.Linger),
		kgo.RecordDeliveryTimeout(opts.DeliveryTimeout),
		// A record on the wire may fail at the delivery timeout too: a
		// failure stops the sink and the source replays from its confirmed
		// position anyway, so the duplicate this may cause is one a replay
		// causes as well, and the timeout is what bounds Write and Flush.
		kgo.AllowIdempotentProduceCancellation(),
		// The client's limit sits above ours so that Produce never blocks:
		// our window counts every unacknowledged record.
		kgo.MaxBufferedRecords(opts.MaxBufferedRecords + 1),
		kgo.RecordPartitioner(partitioner()),
		kgo.WithHooks(retryHook{&s.stats.retries}),
		kgo.WithLogger(logger{s.log}),
	}
	cl, err := kgo.NewClient(append(kopts, opts.ClientOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka sink: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, opts.RequestTimeout)
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("kafka sink: no broker of %v answers: %w", opts.Brokers, err)
	}
	s.cl = cl
	s.adm = kadm.NewClient(cl)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Name returns "kafka".
func (s *Sink) Name() string { return "kafka" }

// Write produces ev under the pipeline sequence seq without waiting for its
// acknowledgement. The first event of a topic waits for the topic's creation.
// Write blocks while MaxBufferedRecords records or MaxBufferedBytes are
// unacknowledged, or until ctx ends. It returns an error when the sink cannot
// go on: ctx ended, the sink was closed, a topic could not be created, or an
// earlier record failed for good.
func (s *Sink) Write(ctx context.Context, seq uint64, ev *change.Event) error {
	if ev == nil {
		return fmt.Errorf("kafka sink: write seq %d: nil event", seq)
	}
	if ev.ID == "" {
		return fmt.Errorf("kafka sink: write seq %d: event has no ID, so replays could not be deduplicated", seq)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.lastSeq != 0 && seq <= s.lastSeq {
		return fmt.Errorf("kafka sink: write seq %d: not above the previous seq %d", seq, s.lastSeq)
	}
	s.mu.Lock()
	err := s.stoppedLocked()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	topic, err := s.topic(ctx, ev)
	if err != nil {
		return fmt.Errorf("kafka sink: write seq %d: %w", seq, err)
	}
	s.scratch = change.AppendJSON(s.scratch[:0], ev)

	s.mu.Lock()
	if stop, ctxErr := s.win.WaitRoom(ctx, len(s.scratch), s.stoppedLocked); stop != nil || ctxErr != nil {
		s.mu.Unlock()
		if ctxErr != nil {
			return fmt.Errorf("kafka sink: write seq %d: %w", seq, ctxErr)
		}
		return stop
	}
	e := s.win.Push(seq, len(s.scratch))
	e.seq = seq
	e.acked = false
	e.value, s.scratch = s.scratch, e.value
	if cap(s.scratch) > 256<<10 {
		s.scratch = nil // do not keep a huge event's buffer around
	}
	s.lastSeq = seq
	s.mu.Unlock()

	// The slot is the writer's until Produce: no promise refers to it.
	var key []byte
	if k, ok := AppendKey(e.key[:0], ev, s.opts.KeyColumns); ok {
		e.key, key = k, k
	}
	m := append(e.meta[:0], ev.ID...)
	id := len(m)
	m = append(m, byte(ev.Op))
	op := len(m)
	nh := 2
	if ev.Tx != nil {
		m = append(m, ev.Tx.ID...)
		nh = 3
	}
	e.meta = m
	e.headers[0] = kgo.RecordHeader{Key: HeaderID, Value: m[:id:id]}
	e.headers[1] = kgo.RecordHeader{Key: HeaderOp, Value: m[id:op:op]}
	e.headers[2] = kgo.RecordHeader{Key: HeaderTx, Value: m[op:]}
	e.rec = kgo.Record{Topic: topic, Key: key, Value: e.value, Headers: e.headers[:nh]}
	s.cl.Produce(s.ctx, &e.rec, e.promise)
	return nil
}

// topic returns Topic(prefix, ev), cached per table, and creates the topic
// the first time it is seen.
func (s *Sink) topic(ctx context.Context, ev *change.Event) (string, error) {
	k := topicKey{ev.Source.Name, ev.Source.Namespace(), ev.Source.Table}
	if t, ok := s.topics[k]; ok {
		return t, nil
	}
	t := Topic(s.opts.TopicPrefix, ev)
	if !s.created[t] {
		if err := s.ensureTopic(ctx, t); err != nil {
			return "", err
		}
		s.created[t] = true
	}
	s.topics[k] = t
	return t, nil
}

// Durable returns the highest seq such that every event written with a seq
// at or below it has been acknowledged by the cluster.
func (s *Sink) Durable() uint64 { return s.win.Durable() }

// Flush waits until every event written before the call is acknowledged, a
// record fails for good, or ctx ends. It waits for no later event, so a
// concurrent writer cannot hold it up.
func (s *Sink) Flush(ctx context.Context) error {
	pending, stop, ctxErr := s.win.Flush(ctx, s.stoppedLocked)
	if ctxErr != nil {
		return fmt.Errorf("kafka sink: flush: %d records not acknowledged: %w", pending, ctxErr)
	}
	return stop
}

// Close flushes within ctx, fails the records still buffered and closes the
// client. Records unacknowledged when ctx ends are not durable; Durable
// tells how far the sink got.
func (s *Sink) Close(ctx context.Context) error {
	err := s.Flush(ctx)
	if errors.Is(err, ErrClosed) {
		return nil
	}
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.win.Notify()
		s.mu.Unlock()
		s.cancel()
		done := make(chan struct{})
		go func() { s.cl.Close(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("kafka sink: close: %w", ctx.Err())
			}
		}
	})
	return err
}

// Stats returns the sink's counters. It is safe to call concurrently.
func (s *Sink) Stats() Stats {
	return Stats{
		Produced: s.stats.produced.Load(),
		Errors:   s.stats.errors.Load(),
		Retries:  s.stats.retries.Load(),
	}
}

// onPromise is e's produce callback. franz-go calls promises one at a time,
// in order within a partition and in any order across partitions.
func (s *Sink) onPromise(e *entry, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.stats.errors.Add(1)
		if s.fatal == nil && !s.closed {
			s.fatal = fmt.Errorf("produce seq %d to %s: %w", e.seq, e.rec.Topic, err)
			s.log.Error("kafka record failed; the sink stops", "seq", e.seq, "topic", e.rec.Topic, "err", err)
		}
		s.win.Notify()
		return
	}
	s.stats.produced.Add(1)
	e.acked = true
	if s.win.Oldest() != e {
		return // an earlier record is still unacknowledged
	}
	for s.win.Len() > 0 {
		h := s.win.Oldest()
		if !h.acked {
			break
		}
		s.win.Pop()
		h.acked = false
		if cap(h.value) > 64<<10 {
			h.value = nil
		}
	}
	s.win.Notify()
}

// stoppedLocked returns the error that stops the sink, if any.
func (s *Sink) stoppedLocked() error {
	if s.fatal != nil {
		return fmt.Errorf("kafka sink: %w", s.fatal)
	}
	if s.closed {
		return ErrClosed
	}
	return nil
}
