package learner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/config"
)

// Message is one message of the stream.
type Message struct {
	Seq     uint64 // stream sequence
	Subject string
	Data    []byte // the change event, Debezium-envelope JSON
}

// Feed delivers the messages of a learner's table subject in stream order.
type Feed interface {
	// Next returns the next message, blocking until there is one. When ctx
	// ends first it returns an error (ctx.Err(), possibly wrapped) and
	// consumes nothing: the following call returns the message this one
	// would have. Sequences increase; a message may be delivered again only
	// with a sequence at or below one already returned, and the runner
	// drops it. Any other error is permanent: the runner stops with it.
	Next(ctx context.Context) (Message, error)
}

// Publisher sends the learner's real-time outputs.
type Publisher interface {
	// Publish sends data on subject without waiting for it to be stored.
	// msgID identifies the message (for JetStream's duplicate window, when
	// a stream stores the subject): a message re-published after a restart
	// has the same ID. An error is logged and counted; learning goes on.
	Publish(ctx context.Context, subject, msgID string, data []byte) error
}

// Subjects of a learner's outputs: "<prefix>.predictions.<learner>" and
// "<prefix>.aggregates.<learner>".
func PredictionSubject(prefix, learner string) string { return prefix + ".predictions." + learner }
func AggregateSubject(prefix, learner string) string  { return prefix + ".aggregates." + learner }

// saveTimeout bounds one version save, the final one on shutdown included.
const saveTimeout = 10 * time.Second

// Runner drives one Learner from a Feed: it resumes from the newest saved
// version (or the warm start), applies every message after that version's
// stream sequence once, publishes a prediction (and aggregates) for every
// insert learned, and saves a version every version_every events or
// interval, and when it stops. After each save it deletes the versions
// beyond keep_versions (see retired), so the newest always stays.
type Runner struct {
	cfg    config.LearnerConfig
	prefix string
	store  Store
	pub    Publisher
	log    *slog.Logger

	mu        sync.Mutex // guards the learner and the status fields
	l         *Learner
	next      uint64 // the number of the next version to save
	lastSave  time.Time
	saveDur   time.Duration
	retryAt   time.Time
	since     int64 // events since the last save
	published int64
	pubErrors int64
	lastErr   string
	running   bool

	predSubject, aggSubject string
	buf                     []byte
}

// NewRunner returns a runner for cfg (defaults filled in) whose outputs go
// to subjects under prefix. Metrics are registered with reg when it is not
// nil. pub may be nil to publish nothing.
func NewRunner(cfg config.LearnerConfig, prefix string, blobs Blobs, pub Publisher, reg prometheus.Registerer, log *slog.Logger) (*Runner, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Runner{cfg: cfg, prefix: prefix, store: Store{Blobs: blobs}, pub: pub, log: log.With("learner", cfg.Name),
		predSubject: PredictionSubject(prefix, cfg.Name), aggSubject: AggregateSubject(prefix, cfg.Name)}
	if _, err := New(cfg); err != nil {
		return nil, err
	}
	if reg != nil {
		if err := r.register(reg); err != nil {
			return nil, fmt.Errorf("learner %s: metrics: %w", cfg.Name, err)
		}
	}
	return r, nil
}

// StartSeq loads the learner's newest version (importing the warm start as
// version 1 when there is none and one is configured) and returns the
// next stream sequence to read: one after the version's recorded sequence,
// 1 for a fresh learner.
func (r *Runner) StartSeq(ctx context.Context) (uint64, error) {
	r.mu.Lock()
	loaded := r.l != nil
	r.mu.Unlock()
	if !loaded {
		if err := r.load(ctx); err != nil {
			return 0, err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.l.Seq() + 1, nil
}

func (r *Runner) load(ctx context.Context) error {
	vs, err := r.store.Versions(ctx, r.cfg.Name)
	if err != nil {
		return fmt.Errorf("learner %s: list versions: %w", r.cfg.Name, err)
	}
	var l *Learner
	next := uint64(1)
	if len(vs) > 0 {
		next = vs[len(vs)-1] + 1
		v, skipped, err := r.store.Latest(ctx, r.cfg.Name)
		for _, e := range skipped {
			r.log.Warn("skipping a version that does not load", "err", e)
		}
		if err != nil {
			return fmt.Errorf("learner %s: %w", r.cfg.Name, err)
		}
		if l, err = Restore(r.cfg, v); err != nil {
			return err
		}
		r.log.Info("resumed", "version", v.Version, "stream_seq", v.StreamSeq, "inserts", v.Counts.Inserts+v.Counts.SnapshotReads)
	} else if r.cfg.WarmStart != "" {
		v, err := WarmStart(r.cfg, r.cfg.WarmStart)
		if err != nil {
			return err
		}
		if err := r.store.Save(ctx, v); err != nil {
			return err
		}
		if l, err = Restore(r.cfg, v); err != nil {
			return err
		}
		next = 2
		r.log.Info("imported warm start as version 1", "model", r.cfg.WarmStart)
	} else {
		if l, err = New(r.cfg); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.l, r.next, r.lastSave = l, next, time.Now()
	r.mu.Unlock()
	return nil
}

// Run reads feed until ctx ends or the feed fails, then saves a final
// version (bounded by a timeout) when anything changed since the last one.
// feed must start at StartSeq's sequence.
func (r *Runner) Run(ctx context.Context, feed Feed) error {
	if _, err := r.StartSeq(ctx); err != nil {
		return err
	}
	r.mu.Lock()
	r.running = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running = false
		r.mu.Unlock()
	}()
	interval := r.cfg.VersionEvery.Interval
	events := int64(r.cfg.VersionEvery.Events)
	for {
		nctx, cancel := ctx, context.CancelFunc(func() {})
		if interval > 0 {
			r.mu.Lock()
			due := r.lastSave.Add(interval)
			r.mu.Unlock()
			nctx, cancel = context.WithDeadline(ctx, due)
		}
		var ferr error
		for {
			m, err := feed.Next(nctx)
			if err != nil {
				if nctx.Err() == nil {
					ferr = err
				}
				break
			}
			r.handle(ctx, m)
			if events > 0 && r.since >= events && time.Now().After(r.retryAt) {
				r.save(ctx)
				break
			}
			if nctx.Err() != nil {
				break
			}
		}
		cancel()
		if ctx.Err() != nil || ferr != nil {
			sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
			if r.since > 0 {
				r.save(sctx)
			}
			scancel()
			if ferr != nil && ctx.Err() == nil {
				return fmt.Errorf("learner %s: read stream: %w", r.cfg.Name, ferr)
			}
			return nil
		}
		if r.since > 0 {
			if time.Now().After(r.retryAt) {
				r.save(ctx)
			}
		} else {
			r.mu.Lock()
			r.lastSave = time.Now()
			r.mu.Unlock()
		}
	}
}

// handle applies one message and publishes what it produced.
func (r *Runner) handle(ctx context.Context, m Message) {
	var ev change.Event
	r.mu.Lock()
	if m.Seq <= r.l.Seq() {
		r.mu.Unlock()
		return
	}
	if err := change.Unmarshal(m.Data, &ev); err != nil {
		r.l.Skip(m.Seq)
		r.since++
		n := r.l.counts.Malformed
		r.mu.Unlock()
		if n <= 10 || n%1000 == 0 {
			r.log.Warn("skipping a message that is not a change event", "seq", m.Seq, "subject", m.Subject, "err", err, "malformed_total", n)
		}
		return
	}
	res := r.l.Apply(&ev, m.Seq)
	r.since++
	version := r.l.version
	r.mu.Unlock()
	if res.NotUnlearned {
		c := r.l.counts // read-only use of counters owned by this goroutine
		n := c.UpdatesNotUnlearned + c.DeletesNotUnlearned + c.TruncatesNotUnlearned
		if n <= 10 || n%1000 == 0 {
			r.log.Warn("could not unlearn a change: the before image lacks the learner's columns (set REPLICA IDENTITY FULL, or binlog_row_image=FULL)",
				"op", ev.Op.String(), "seq", m.Seq, "not_unlearned_total", n)
		}
	}
	if !res.Learned || r.pub == nil {
		return
	}
	r.buf = r.appendPrediction(r.buf[:0], &ev, m.Seq, version, res)
	r.publish(ctx, r.predSubject, r.cfg.Name+":p:"+strconv.FormatUint(m.Seq, 10), r.buf)
	if len(res.Aggregates) > 0 {
		r.buf = r.appendAggregates(r.buf[:0], &ev, m.Seq, res.Aggregates)
		r.publish(ctx, r.aggSubject, r.cfg.Name+":a:"+strconv.FormatUint(m.Seq, 10), r.buf)
	}
}

func (r *Runner) publish(ctx context.Context, subject, id string, data []byte) {
	err := r.pub.Publish(ctx, subject, id, data)
	r.mu.Lock()
	if err != nil {
		r.pubErrors++
		n := r.pubErrors
		r.lastErr = err.Error()
		r.mu.Unlock()
		if n <= 10 || n%1000 == 0 {
			r.log.Warn("publish failed", "subject", subject, "err", err, "errors_total", n)
		}
		return
	}
	r.published++
	r.mu.Unlock()
}

// appendPrediction writes a prediction event:
//
//	{"learner":"amount","model_version":3,"seq":1234,"op":"c","key":{"id":7},
//	 "prediction":131.2,"actual":129.5,"source_ts_ms":..,"ts_ms":..}
//
// model_version is the newest saved version; the model that predicted
// has also learned every event after it up to seq − 1.
func (r *Runner) appendPrediction(b []byte, ev *change.Event, seq, version uint64, res Result) []byte {
	b = append(b, `{"learner":`...)
	b = change.AppendString(b, r.cfg.Name)
	b = append(b, `,"model_version":`...)
	b = strconv.AppendUint(b, version, 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"op":"`...)
	b = append(b, byte(ev.Op))
	b = append(b, `","key":{`...)
	first := true
	for _, k := range r.cfg.Key {
		v, ok := ev.After.Get(k)
		if !ok {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = change.AppendString(b, k)
		b = append(b, ':')
		if len(v) == 0 {
			b = append(b, "null"...)
		} else {
			b = append(b, v...)
		}
	}
	b = append(b, `},"prediction":`...)
	b = strconv.AppendFloat(b, res.Prediction, 'g', -1, 64)
	b = append(b, `,"actual":`...)
	b = strconv.AppendFloat(b, res.Actual, 'g', -1, 64)
	b = append(b, `,"source_ts_ms":`...)
	b = strconv.AppendInt(b, ev.Source.TsMs, 10)
	b = append(b, `,"ts_ms":`...)
	b = strconv.AppendInt(b, time.Now().UnixMilli(), 10)
	return append(b, '}')
}

// appendAggregates writes an aggregates event:
//
//	{"learner":"amount","seq":1234,"window_ms":300000,"event_ts_ms":..,
//	 "aggregates":[{"column":"location","key":"Chicago","avg":..,"count":..,"sum":..}]}
func (r *Runner) appendAggregates(b []byte, ev *change.Event, seq uint64, aggs []AggregateValue) []byte {
	b = append(b, `{"learner":`...)
	b = change.AppendString(b, r.cfg.Name)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"window_ms":`...)
	b = strconv.AppendInt(b, r.cfg.Aggregates.Window.Milliseconds(), 10)
	ts := ev.Source.TsMs
	if ts == 0 {
		ts = ev.TsMs
	}
	b = append(b, `,"event_ts_ms":`...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, `,"aggregates":[`...)
	for i, a := range aggs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"column":`...)
		b = change.AppendString(b, a.Column)
		b = append(b, `,"key":`...)
		b = append(b, a.Key...)
		b = append(b, `,"avg":`...)
		b = strconv.AppendFloat(b, a.Avg, 'g', -1, 64)
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, int64(a.Count), 10)
		b = append(b, `,"sum":`...)
		b = strconv.AppendFloat(b, a.Sum, 'g', -1, 64)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// save stores the next version; on failure it logs and retries a second
// later at the earliest (the events stay applied and go into the next
// version that is stored).
func (r *Runner) save(ctx context.Context) {
	start := time.Now()
	r.mu.Lock()
	v, err := r.l.Snapshot(r.next)
	r.mu.Unlock()
	if err == nil {
		sctx, cancel := context.WithTimeout(ctx, saveTimeout)
		err = r.store.Save(sctx, v)
		cancel()
	}
	r.mu.Lock()
	if err != nil {
		r.lastErr = err.Error()
		r.retryAt = time.Now().Add(time.Second)
		next := r.next
		r.mu.Unlock()
		r.log.Warn("saving a version failed; retrying", "version", next, "err", err)
		return
	}
	r.l.Saved(v.Version)
	r.next++
	r.since = 0
	r.lastSave = time.Now()
	r.saveDur = time.Since(start)
	r.lastErr = ""
	pinFirst := r.l.warmStart != nil
	r.mu.Unlock()
	r.log.Debug("saved version", "version", v.Version, "stream_seq", v.StreamSeq, "took", time.Since(start))
	r.prune(ctx, v.Version, pinFirst)
}

// prune deletes the versions that retention retires once version newest is
// saved (see retired), oldest first. A failure is logged and stops this
// round; the versions left are retired again after the next save, so
// pruning is retried then and never stops learning.
func (r *Runner) prune(ctx context.Context, newest uint64, pinFirst bool) {
	if r.cfg.KeepVersions <= 0 {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, saveTimeout)
	defer cancel()
	vs, err := r.store.Versions(pctx, r.cfg.Name)
	if err == nil {
		for _, v := range retired(vs, newest, r.cfg.KeepVersions, pinFirst) {
			if err = r.store.Delete(pctx, r.cfg.Name, v); err != nil {
				break
			}
			r.log.Debug("deleted version", "version", v)
		}
	}
	if err != nil {
		r.mu.Lock()
		r.lastErr = err.Error()
		r.mu.Unlock()
		r.log.Warn("deleting old versions failed; retrying after the next save", "keep_versions", r.cfg.KeepVersions, "err", err)
	}
}

// retired returns the versions of vs (ascending) that retention deletes
// once version newest is saved: all but the keep newest up to newest,
// oldest first. newest and anything above it are never retired, nor is
// version 1 when pinFirst (a warm start imported it): it is the batch
// model as imported, the baseline `tributary model diff 1 N` compares
// against, and the model file it came from may since have been retrained
// in place; it costs one blob and is not counted in keep.
func retired(vs []uint64, newest uint64, keep int, pinFirst bool) []uint64 {
	if keep <= 0 {
		return nil
	}
	var older []uint64
	for _, v := range vs {
		if v < newest && !(pinFirst && v == 1) {
			older = append(older, v)
		}
	}
	if n := len(older) - (keep - 1); n > 0 {
		return older[:n]
	}
	return nil
}

// Status is a runner's state for /status.
type Status struct {
	Name          string  `json:"name"`
	Algorithm     string  `json:"algorithm"`
	Table         string  `json:"table"`
	Running       bool    `json:"running"`
	Version       uint64  `json:"version"`
	StreamSeq     uint64  `json:"stream_seq"`
	SinceVersion  int64   `json:"events_since_version"`
	LastSaveMs    float64 `json:"last_save_ms"`
	Counts        Counts  `json:"counts"`
	Metrics       Metrics `json:"metrics"`
	Published     int64   `json:"published"`
	PublishErrors int64   `json:"publish_errors"`
	LastError     string  `json:"last_error,omitempty"`
}

// Status returns the runner's state; safe to call concurrently.
func (r *Runner) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := Status{Name: r.cfg.Name, Algorithm: r.cfg.Algorithm, Table: r.cfg.Table, Running: r.running,
		SinceVersion: r.since, LastSaveMs: float64(r.saveDur.Microseconds()) / 1000,
		Published: r.published, PublishErrors: r.pubErrors, LastError: r.lastErr}
	if r.l != nil {
		st.Version, st.StreamSeq, st.Counts, st.Metrics = r.l.version, r.l.seq, r.l.Counts(), r.l.eval.Metrics()
	}
	return st
}

// register exports the runner's metrics.
func (r *Runner) register(reg prometheus.Registerer) error {
	labels := prometheus.Labels{"learner": r.cfg.Name}
	read := func(f func(l *Learner) float64) func() float64 {
		return func() float64 {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.l == nil {
				return 0
			}
			return f(r.l)
		}
	}
	with := func(extra prometheus.Labels) prometheus.Labels {
		out := prometheus.Labels{}
		for k, v := range labels {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	var cs []prometheus.Collector
	ops := []struct {
		op string
		f  func(c *Counts) int64
	}{
		{"c", func(c *Counts) int64 { return c.Inserts }}, {"r", func(c *Counts) int64 { return c.SnapshotReads }},
		{"u", func(c *Counts) int64 { return c.Updates }}, {"d", func(c *Counts) int64 { return c.Deletes }},
		{"t", func(c *Counts) int64 { return c.Truncates }},
	}
	for _, o := range ops {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tributary_learner_events_total", Help: "Change events the learner applied, by op.", ConstLabels: with(prometheus.Labels{"op": o.op})},
			read(func(l *Learner) float64 { return float64(o.f(&l.counts)) })))
	}
	for op, f := range map[string]func(c *Counts) int64{
		"u": func(c *Counts) int64 { return c.UpdatesNotUnlearned }, "d": func(c *Counts) int64 { return c.DeletesNotUnlearned },
		"t": func(c *Counts) int64 { return c.TruncatesNotUnlearned },
	} {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tributary_learner_not_unlearned_total", Help: "Changes the learner could not unlearn (no full before image; sgd truncates).", ConstLabels: with(prometheus.Labels{"op": op})},
			read(func(l *Learner) float64 { return float64(f(&l.counts)) })))
	}
	for _, w := range []string{"cumulative", "rolling"} {
		pick := func(m Metrics) Scores {
			if w == "rolling" {
				return m.Rolling
			}
			return m.Cumulative
		}
		lb := with(prometheus.Labels{"window": w})
		cs = append(cs,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tributary_learner_mae", Help: "Prequential mean absolute error.", ConstLabels: lb},
				read(func(l *Learner) float64 { return pick(l.eval.Metrics()).MAE })),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tributary_learner_rmse", Help: "Prequential root mean squared error.", ConstLabels: lb},
				read(func(l *Learner) float64 { return pick(l.eval.Metrics()).RMSE })),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tributary_learner_r2", Help: "Prequential coefficient of determination.", ConstLabels: lb},
				read(func(l *Learner) float64 { return pick(l.eval.Metrics()).R2 })),
		)
	}
	cs = append(cs,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tributary_learner_version", Help: "Newest saved model version.", ConstLabels: labels},
			read(func(l *Learner) float64 { return float64(l.version) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tributary_learner_stream_seq", Help: "Stream sequence of the last event applied.", ConstLabels: labels},
			read(func(l *Learner) float64 { return float64(l.seq) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tributary_learner_published_total", Help: "Prediction and aggregate events published.", ConstLabels: labels},
			func() float64 { r.mu.Lock(); defer r.mu.Unlock(); return float64(r.published) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tributary_learner_publish_errors_total", Help: "Prediction and aggregate publishes that failed.", ConstLabels: labels},
			func() float64 { r.mu.Lock(); defer r.mu.Unlock(); return float64(r.pubErrors) }),
	)
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return fmt.Errorf("learner %s is registered twice: %w", r.cfg.Name, err)
			}
			return err
		}
	}
	return nil
}
