package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/replicator"
	"github.com/tributary-cdc/tributary/sinks/internal/window"
)

// Defaults for Options.
const (
	DefaultStream          = "TRIBUTARY"
	DefaultSubjectPrefix   = "cdc"
	DefaultDuplicateWindow = 5 * time.Second
	DefaultMaxPending      = 4096
	DefaultMaxPendingBytes = 32 << 20
	DefaultAckTimeout      = 10 * time.Second
)

var (
	_ replicator.Sink          = (*Sink)(nil)
	_ replicator.SubjectPurger = (*Sink)(nil)
)

// ErrClosed is returned by Write and Flush after Close.
var ErrClosed = errors.New("jetstream sink is closed")

// Options configures a Sink. The zero value of each field means its default.
type Options struct {
	// Stream is the JetStream stream name. Default "TRIBUTARY".
	Stream string
	// SubjectPrefix is the first subject token; the stream takes
	// "<prefix>.>". Default "cdc".
	SubjectPrefix string
	// DuplicateWindow is how long the stream remembers message IDs. It is set
	// on a stream the sink creates; an existing stream with a smaller window
	// is an error. Default 5s: the server keeps every ID of the window in
	// memory (about 100 bytes each, so a 2m window at 80k messages/s is about
	// 1 GB), and exactness across restarts and outages does not depend on it
	// (see LastStoredID and the recovery's skip of stored events).
	DuplicateWindow time.Duration
	// MaxPending is the number of published events that may wait for their
	// acknowledgement; Write blocks while it is reached. Default 4096.
	MaxPending int
	// MaxPendingBytes bounds the payload bytes of unacknowledged events;
	// Write blocks while it would be exceeded (one event is always let
	// through). It keeps the sink well below nats-server's per-stream ingest
	// queue (128 MiB by default), which rejects a message when full while
	// accepting later ones: a break in order. Default 32 MiB.
	MaxPendingBytes int
	// AckTimeout bounds the wait for one acknowledgement and for each
	// JetStream API call during recovery. Default 10s.
	AckTimeout time.Duration
	// Logger receives warnings about retries and recovery. Default
	// slog.Default().
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if o.SubjectPrefix == "" {
		o.SubjectPrefix = DefaultSubjectPrefix
	}
	if o.DuplicateWindow <= 0 {
		o.DuplicateWindow = DefaultDuplicateWindow
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.MaxPendingBytes <= 0 {
		o.MaxPendingBytes = DefaultMaxPendingBytes
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = DefaultAckTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Stats are the sink's counters since New.
type Stats struct {
	// Published counts events acknowledged by the stream, duplicates included.
	Published uint64 `json:"published"`
	// Duplicates counts acknowledgements that reported the event's Msg-Id as
	// already stored: a replay after a crash or a re-send after a failure.
	Duplicates uint64 `json:"duplicates"`
	// Errors counts failed publishes (error replies, ack timeouts, lost
	// connections) and failed JetStream checks during recovery.
	Errors uint64 `json:"errors"`
	// Retries counts recovery attempts that failed and were tried again
	// after a backoff.
	Retries uint64 `json:"retries"`
	// Recoveries counts the times publishing paused to re-send in order.
	Recoveries uint64 `json:"recoveries"`
	// Reordered counts events the stream stored after an event with a later
	// pipeline sequence (see the package documentation). It should stay 0.
	Reordered uint64 `json:"reordered"`
}

type entryState uint8

const (
	stFree     entryState = iota
	stUnsent              // written while publishing was paused
	stInflight            // published, waiting for its ack
	stFailed              // its publish failed; to be re-sent
	stAcked               // stored (or a duplicate of a stored message)
)

// entry is one slot of the in-flight window. Slots are allocated once and
// reused; a slot is reused only after its event is acknowledged, when the
// client library no longer references its message.
type entry struct {
	seq       uint64
	msg       nats.Msg
	id        []string // the Nats-Msg-Id header value, reused
	buf       []byte
	state     entryState
	sent      int // publish attempts
	streamSeq uint64
	dup       bool // the ack said the stream already had it
}

// Sink publishes events to a JetStream stream. It implements
// replicator.Sink and replicator.SubjectPurger.
type Sink struct {
	nc        *nats.Conn
	js        natsjs.JetStream
	opts      Options
	log       *slog.Logger
	pubOpts   []natsjs.PublishOpt
	streamCfg natsjs.StreamConfig

	// Writer side, serialised by writeMu.
	writeMu  sync.Mutex
	scratch  []byte
	lastSeq  uint64
	subjects map[subjectKey]string

	mu            sync.Mutex
	win           *window.Window[*entry] // guarded by mu; sizes are payload bytes
	slots         map[*nats.Msg]*entry
	inflight      int
	paused        bool // publishing stopped until recovery re-sends in order
	pauseReason   error
	fatal         error
	closed        bool
	lastStreamSeq uint64

	gen   atomic.Uint64 // bumped by every failure; recovery restarts when it moves
	stats struct {
		published, duplicates, errors, retries, recoveries, reordered atomic.Uint64
	}

	kick     chan struct{}
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	statusCh chan nats.Status
}

type subjectKey struct{ source, namespace, table string }

// New returns a Sink publishing to opts.Stream over nc. It creates the stream
// (file storage, subjects "<prefix>.>", the duplicate window) when it is
// missing, and checks an existing one: its subjects must cover "<prefix>.>"
// and its duplicate window must be at least opts.DuplicateWindow. nc should
// come from Connect, which disables the reconnect buffer the ordering
// guarantees rely on. ctx bounds provisioning only.
func New(ctx context.Context, nc *nats.Conn, opts Options) (*Sink, error) {
	if nc == nil {
		return nil, errors.New("jetstream sink: nil NATS connection")
	}
	opts.setDefaults()
	if err := validatePrefix(opts.SubjectPrefix); err != nil {
		return nil, fmt.Errorf("jetstream sink: %w", err)
	}
	s := &Sink{
		nc:       nc,
		opts:     opts,
		log:      opts.Logger.With("sink", "jetstream", "stream", opts.Stream),
		subjects: make(map[subjectKey]string),
		slots:    make(map[*nats.Msg]*entry, opts.MaxPending),
		kick:     make(chan struct{}, 1),
		// No client-side retry on no responders: it would re-send a message
		// behind later ones. Recovery re-sends in order instead.
		pubOpts: []natsjs.PublishOpt{natsjs.WithRetryAttempts(0)},
		streamCfg: natsjs.StreamConfig{
			Name:        opts.Stream,
			Description: "Tributary change events",
			Subjects:    []string{opts.SubjectPrefix + ".>"},
			Storage:     natsjs.FileStorage,
			Retention:   natsjs.LimitsPolicy,
			Discard:     natsjs.DiscardOld,
			Duplicates:  opts.DuplicateWindow,
			Replicas:    1,
		},
	}
	ring := make([]*entry, opts.MaxPending)
	for i := range ring {
		e := &entry{id: make([]string, 1)}
		e.msg.Header = nats.Header{natsjs.MsgIDHeader: e.id}
		ring[i] = e
		s.slots[&e.msg] = e
	}
	s.win = window.New(&s.mu, ring, opts.MaxPendingBytes)
	js, err := natsjs.New(nc,
		// The library's own cap sits above ours so that it never stalls a
		// publish: our window counts every unacknowledged event.
		natsjs.WithPublishAsyncMaxPending(2*opts.MaxPending),
		natsjs.WithPublishAsyncTimeout(opts.AckTimeout),
		natsjs.WithPublishAsyncAckHandler(s.onAck),
		natsjs.WithPublishAsyncErrHandler(s.onError),
		natsjs.WithDefaultTimeout(opts.AckTimeout),
	)
	if err != nil {
		return nil, fmt.Errorf("jetstream sink: %w", err)
	}
	s.js = js
	if nc.Opts.ReconnectBufSize >= 0 {
		s.log.Warn("the NATS connection buffers publishes while it reconnects; open it with jetstream.Connect, or event order may break after a reconnect")
	}
	if err := s.provision(ctx); err != nil {
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.statusCh = nc.StatusChanged(nats.DISCONNECTED, nats.RECONNECTING, nats.CLOSED)
	s.wg.Add(2)
	go s.watch()
	go s.run()
	return s, nil
}

// Name returns "jetstream".
func (s *Sink) Name() string { return "jetstream" }

// Stream returns the name of the stream the sink publishes to.
func (s *Sink) Stream() string { return s.opts.Stream }

// Write publishes ev under the pipeline sequence seq without waiting for its
// acknowledgement. It blocks while the window is full (MaxPending events or
// MaxPendingBytes unacknowledged, or publishing paused with the window
// full), or until ctx ends. Events reach the stream in the order of seq; transient
// failures are retried in the background, in order, forever. Write returns an
// error only when the sink cannot go on: ctx ended, the sink was closed, or an
// earlier publish failed for good (message too large, permission denied, the
// stream deleted and impossible to re-create).
func (s *Sink) Write(ctx context.Context, seq uint64, ev *change.Event) error {
	if ev == nil {
		return fmt.Errorf("jetstream sink: write seq %d: nil event", seq)
	}
	if ev.ID == "" {
		return fmt.Errorf("jetstream sink: write seq %d: event has no ID, so replays could not be deduplicated", seq)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.lastSeq != 0 && seq <= s.lastSeq {
		return fmt.Errorf("jetstream sink: write seq %d: not above the previous seq %d", seq, s.lastSeq)
	}
	s.scratch = change.AppendJSON(s.scratch[:0], ev)
	subject := s.subject(ev)

	s.mu.Lock()
	if stop, ctxErr := s.win.WaitRoom(ctx, len(s.scratch), s.stoppedLocked); stop != nil || ctxErr != nil {
		s.mu.Unlock()
		if ctxErr != nil {
			return fmt.Errorf("jetstream sink: write seq %d: %w", seq, ctxErr)
		}
		return stop
	}
	e := s.win.Push(seq, len(s.scratch))
	e.seq = seq
	e.msg.Subject = subject
	e.id[0] = ev.ID
	e.buf, s.scratch = s.scratch, e.buf
	if cap(s.scratch) > 256<<10 {
		s.scratch = nil // do not keep a huge event's buffer around
	}
	e.msg.Data = e.buf
	e.sent, e.streamSeq, e.dup = 0, 0, false
	s.lastSeq = seq
	if s.paused {
		e.state = stUnsent
		s.mu.Unlock()
		return nil
	}
	e.state = stInflight
	e.sent++
	s.inflight++
	s.mu.Unlock()

	if _, err := s.js.PublishMsgAsync(&e.msg, s.pubOpts...); err != nil {
		s.mu.Lock()
		s.failLocked(e, err)
		s.mu.Unlock()
	}
	return nil
}

// subject returns Subject(prefix, ev), cached per table.
func (s *Sink) subject(ev *change.Event) string {
	k := subjectKey{ev.Source.Name, ev.Source.Namespace(), ev.Source.Table}
	if subj, ok := s.subjects[k]; ok {
		return subj
	}
	if len(s.subjects) >= 4096 {
		clear(s.subjects)
	}
	subj := Subject(s.opts.SubjectPrefix, ev)
	s.subjects[k] = subj
	return subj
}

// Durable returns the highest seq such that every event written with a seq
// at or below it has been acknowledged by the stream.
func (s *Sink) Durable() uint64 { return s.win.Durable() }

// Flush waits until every event written before the call is acknowledged, the
// sink fails for good, or ctx ends.
func (s *Sink) Flush(ctx context.Context) error {
	pending, stop, ctxErr := s.win.Flush(ctx, s.stoppedLocked)
	if ctxErr != nil {
		return fmt.Errorf("jetstream sink: flush: %d events not acknowledged: %w", pending, ctxErr)
	}
	return stop
}

// Close flushes within ctx, stops the background recovery and releases the
// sink's subscription. It does not close the NATS connection. Events still
// unacknowledged when ctx ends are not durable; Durable tells how far it got.
func (s *Sink) Close(ctx context.Context) error {
	err := s.Flush(ctx)
	if errors.Is(err, ErrClosed) {
		return nil
	}
	s.mu.Lock()
	s.closed = true
	s.win.Notify()
	s.mu.Unlock()
	s.cancel()
	s.nc.RemoveStatusListener(s.statusCh)
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		if err == nil {
			err = fmt.Errorf("jetstream sink: close: %w", ctx.Err())
		}
	}
	s.js.CleanupPublisher()
	return err
}

// Stats returns the sink's counters. It is safe to call concurrently.
func (s *Sink) Stats() Stats {
	return Stats{
		Published:  s.stats.published.Load(),
		Duplicates: s.stats.duplicates.Load(),
		Errors:     s.stats.errors.Load(),
		Retries:    s.stats.retries.Load(),
		Recoveries: s.stats.recoveries.Load(),
		Reordered:  s.stats.reordered.Load(),
	}
}

// PurgeSource removes every stored event of the named source (subject
// "<prefix>.<source>.>") after flushing what was written before it.
//
// A purge does not clear the stream's duplicate window: an event published
// again with the same ID within DuplicateWindow of the purged copy is taken
// for a duplicate and not stored.
func (s *Sink) PurgeSource(ctx context.Context, source string) error {
	if err := s.Flush(ctx); err != nil {
		return fmt.Errorf("purge source %s: %w", source, err)
	}
	filter := SourceSubjects(s.opts.SubjectPrefix, source)
	st, err := s.js.Stream(ctx, s.opts.Stream)
	if err != nil {
		return fmt.Errorf("purge source %s: stream %s: %w", source, s.opts.Stream, err)
	}
	if err := st.Purge(ctx, natsjs.WithPurgeSubject(filter)); err != nil {
		return fmt.Errorf("purge source %s: purge %s from stream %s: %w", source, filter, s.opts.Stream, err)
	}
	return nil
}

// onAck is the library's ack callback; it runs on the ack goroutine.
func (s *Sink) onAck(_ natsjs.JetStream, m *nats.Msg, pa *natsjs.PubAck) {
	s.mu.Lock()
	if e := s.slots[m]; e != nil && e.state == stInflight {
		s.inflight--
		s.ackLocked(e, pa)
		if s.inflight == 0 {
			s.win.Notify() // recovery waits for this
		}
	}
	s.mu.Unlock()
}

// onError is the library's error callback: an error reply, an ack timeout,
// or a disconnect that failed every pending publish.
func (s *Sink) onError(_ natsjs.JetStream, m *nats.Msg, err error) {
	s.mu.Lock()
	if e := s.slots[m]; e != nil {
		s.failLocked(e, err)
	}
	s.mu.Unlock()
}

func (s *Sink) ackLocked(e *entry, pa *natsjs.PubAck) {
	e.state = stAcked
	e.streamSeq = pa.Sequence
	e.dup = pa.Duplicate
	if pa.Duplicate {
		s.stats.duplicates.Add(1)
	}
	if s.win.Oldest() != e {
		return // an earlier event is still unacknowledged
	}
	for s.win.Len() > 0 {
		h := s.win.Oldest()
		if h.state != stAcked {
			break
		}
		// Events stored now (not duplicates of earlier copies) must get
		// increasing stream sequences in pipeline order.
		if !h.dup {
			if h.streamSeq <= s.lastStreamSeq {
				s.stats.reordered.Add(1)
				s.log.Error("jetstream stored an event after a later one: order broken",
					"seq", h.seq, "stream_seq", h.streamSeq, "later_event_stream_seq", s.lastStreamSeq)
			} else {
				s.lastStreamSeq = h.streamSeq
			}
		}
		s.win.Pop()
		s.stats.published.Add(1)
		h.state = stFree
		h.msg.Data = nil
		if cap(h.buf) > 64<<10 {
			h.buf = nil
		}
	}
	s.win.Notify()
}

// failLocked records that e's publish failed and pauses publishing.
func (s *Sink) failLocked(e *entry, err error) {
	if e.state != stInflight {
		return
	}
	e.state = stFailed
	s.inflight--
	s.stats.errors.Add(1)
	s.pauseLocked(fmt.Errorf("publish seq %d: %w", e.seq, err))
	s.win.Notify()
}

// pauseLocked stops new publishes and wakes the recovery goroutine.
func (s *Sink) pauseLocked(reason error) {
	s.gen.Add(1)
	if s.closed || s.fatal != nil {
		return
	}
	if !s.paused {
		s.paused = true
		s.pauseReason = reason
		s.stats.recoveries.Add(1)
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// stoppedLocked returns the error that stops the sink, if any.
func (s *Sink) stoppedLocked() error {
	if s.fatal != nil {
		return fmt.Errorf("jetstream sink: %w", s.fatal)
	}
	if s.closed {
		return ErrClosed
	}
	return nil
}

// watch pauses publishing as soon as the connection drops, so that nothing is
// sent to a server whose JetStream may not be ready after the reconnect.
func (s *Sink) watch() {
	defer s.wg.Done()
	for st := range s.statusCh {
		s.mu.Lock()
		s.pauseLocked(fmt.Errorf("nats connection %s", st))
		s.mu.Unlock()
	}
}
