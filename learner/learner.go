package learner

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/config"
)

// Counts are what a learner has applied since it started (carried across
// versions).
type Counts struct {
	Inserts       int64 `json:"inserts"`        // op c, learned
	SnapshotReads int64 `json:"snapshot_reads"` // op r, learned as inserts
	Updates       int64 `json:"updates"`        // op u, unlearned and relearned
	Deletes       int64 `json:"deletes"`        // op d, unlearned
	Truncates     int64 `json:"truncates"`      // op t
	// SnapshotRetakes counts PostgreSQL snapshots taken again (after a
	// crash during the initial snapshot, or a lost slot): the table is
	// restated from scratch, so ridge starts over from the new reads.
	SnapshotRetakes int64 `json:"snapshot_retakes,omitempty"`

	// Changes the model could not take back: an update or delete whose
	// before image lacks the learner's columns (a table without REPLICA
	// IDENTITY FULL, binlog_row_image not FULL), or a truncate for sgd.
	// Such an update is skipped whole (neither image is applied) so that
	// the row is not counted twice.
	UpdatesNotUnlearned   int64 `json:"updates_not_unlearned"`
	DeletesNotUnlearned   int64 `json:"deletes_not_unlearned"`
	TruncatesNotUnlearned int64 `json:"truncates_not_unlearned"`

	// Rows skipped because the target is missing or not a number, and
	// events of another table.
	SkippedNoTarget int64 `json:"skipped_no_target"`
	OtherTables     int64 `json:"other_tables"`
	// Malformed counts messages that were not a change event.
	Malformed int64 `json:"malformed"`

	// Missing counts imputed values per feature column (inserts and the
	// after images of updates).
	Missing map[string]int64 `json:"missing"`
}

// Events returns the number of events applied or skipped.
func (c *Counts) Events() int64 {
	return c.Inserts + c.SnapshotReads + c.Updates + c.Deletes + c.Truncates +
		c.UpdatesNotUnlearned + c.DeletesNotUnlearned + c.SkippedNoTarget + c.OtherTables + c.Malformed
}

// Learned returns the inserts and snapshot reads learned.
func (c *Counts) Learned() int64 { return c.Inserts + c.SnapshotReads }

// Result says what applying one event did.
type Result struct {
	Op change.Op
	// Learned is set when an insert (or snapshot read) was learned; then
	// Prediction is the model's prediction made before learning it and
	// Actual the target.
	Learned    bool
	Prediction float64
	Actual     float64
	// NotUnlearned is set when an update or delete could not be taken
	// back.
	NotUnlearned bool
	// Aggregates are the rolling averages the insert changed.
	Aggregates []AggregateValue
}

// model is what the two algorithms have in common.
type model interface {
	Predict(x *Vec) float64
	Update(x *Vec, y, sign float64)
}

// Learner is one online model of a table: it applies change events to a
// featurizer and an algorithm, evaluates prequentially and can save and
// restore itself as a Version. It does no I/O and is not safe for
// concurrent use; Runner drives it from a stream.
type Learner struct {
	cfg   config.LearnerConfig
	ns    string // the table's schema (or database)
	table string
	feat  *Featurizer
	algo  model
	ridge *Ridge
	sgd   *SGD
	eval  *Prequential
	agg   *Aggregates
	warm  *warmWeights

	counts    Counts
	snapshot  string // the PostgreSQL snapshot (consistent point) the learned reads came from
	seq       uint64 // stream sequence learned through
	pos       Position
	version   uint64 // newest saved version
	warmStart *WarmStartInfo

	before, after *row
	vec           Vec
	aggBuf        []AggregateValue
}

// New returns an empty learner for cfg (defaults filled in, as
// config.Load leaves them).
func New(cfg config.LearnerConfig) (*Learner, error) {
	ns, table, ok := cutTable(cfg.Table)
	if !ok {
		return nil, fmt.Errorf("learner %s: table %q is not schema.table", cfg.Name, cfg.Table)
	}
	feat, err := NewFeaturizer(cfg.Features, cfg.Target)
	if err != nil {
		return nil, fmt.Errorf("learner %s: %w", cfg.Name, err)
	}
	l := &Learner{cfg: cfg, ns: ns, table: table, feat: feat, eval: NewPrequential(cfg.RollingWindow),
		agg: NewAggregates(cfg.Aggregates.Keys, cfg.Aggregates.Window)}
	switch cfg.Algorithm {
	case config.AlgorithmRidge:
		if !(cfg.L2 > 0) {
			return nil, fmt.Errorf("learner %s: ridge needs l2 > 0, got %v", cfg.Name, cfg.L2)
		}
		l.ridge = NewRidge(cfg.L2)
		l.algo = l.ridge
	case config.AlgorithmSGD:
		if !(cfg.LearningRate > 0) {
			return nil, fmt.Errorf("learner %s: sgd needs learning_rate > 0, got %v", cfg.Name, cfg.LearningRate)
		}
		l.sgd = NewSGD(cfg.LearningRate, cfg.L2)
		l.algo = l.sgd
	default:
		return nil, fmt.Errorf("learner %s: algorithm %q: want sgd or ridge", cfg.Name, cfg.Algorithm)
	}
	l.before, l.after = feat.newRow(), feat.newRow()
	l.counts.Missing = map[string]int64{}
	return l, nil
}

func cutTable(t string) (ns, table string, ok bool) {
	for i := 0; i < len(t); i++ {
		if t[i] == '.' {
			return t[:i], t[i+1:], i > 0 && i < len(t)-1
		}
	}
	return "", "", false
}

// Name returns the learner's name.
func (l *Learner) Name() string { return l.cfg.Name }

// Seq returns the stream sequence of the last event applied (0 for none).
func (l *Learner) Seq() uint64 { return l.seq }

// Counts returns a copy of the learner's counts.
func (l *Learner) Counts() Counts {
	c := l.counts
	c.Missing = make(map[string]int64, len(l.counts.Missing))
	for k, v := range l.counts.Missing {
		c.Missing[k] = v
	}
	return c
}

// Metrics returns the prequential metrics.
func (l *Learner) Metrics() Metrics { return l.eval.Metrics() }

// Version returns the number of the newest version saved or loaded.
func (l *Learner) Version() uint64 { return l.version }

// Skip passes over the message at stream sequence seq, which was not a
// change event, and counts it.
func (l *Learner) Skip(seq uint64) {
	l.seq = seq
	l.counts.Malformed++
}

// Apply applies one change event read at stream sequence seq.
func (l *Learner) Apply(ev *change.Event, seq uint64) Result {
	res := Result{Op: ev.Op}
	l.seq = seq
	l.pos = positionOf(ev)
	if ev.Source.Table != l.table || ev.Source.Namespace() != l.ns {
		l.counts.OtherTables++
		return res
	}
	if ev.Op == change.OpRead && ev.Source.Connector == "postgresql" {
		// Every read of a PostgreSQL snapshot carries its consistent point.
		// Reads of another snapshot mean the table is being restated in
		// full, so what was learned before must not count twice.
		if key := strconv.FormatUint(ev.Source.LSN, 10); key != l.snapshot {
			if l.snapshot != "" {
				l.counts.SnapshotRetakes++
				l.restate()
			}
			l.snapshot = key
		}
	}
	switch ev.Op {
	case change.OpCreate, change.OpRead:
		l.feat.read(ev.After, l.after)
		if !l.after.yOK {
			l.counts.SkippedNoTarget++
			return res
		}
		l.countMissing(l.after)
		l.feat.encode(l.after, &l.vec, true)
		y := l.after.y
		pred := l.predict(&l.vec)
		l.eval.Add(pred, y)
		l.algo.Update(&l.vec, y, 1)
		l.feat.observe(l.after, 1)
		if ev.Op == change.OpRead {
			l.counts.SnapshotReads++
		} else {
			l.counts.Inserts++
		}
		res.Learned, res.Prediction, res.Actual = true, pred, y
		if l.agg != nil {
			ts := ev.Source.TsMs
			if ts == 0 {
				ts = ev.TsMs
			}
			l.aggBuf = l.agg.Add(ev.After, ts, y, l.aggBuf[:0])
			res.Aggregates = l.aggBuf
		}
	case change.OpDelete:
		if !l.unlearnable(ev.Before) {
			l.counts.DeletesNotUnlearned++
			res.NotUnlearned = true
			return res
		}
		if l.before.yOK {
			l.unlearn(l.before)
		}
		l.counts.Deletes++
	case change.OpUpdate:
		if !l.unlearnable(ev.Before) {
			l.counts.UpdatesNotUnlearned++
			res.NotUnlearned = true
			return res
		}
		if l.before.yOK {
			l.unlearn(l.before)
		}
		l.feat.read(ev.After, l.after)
		if l.after.yOK {
			l.countMissing(l.after)
			l.feat.encode(l.after, &l.vec, true)
			l.algo.Update(&l.vec, l.after.y, 1)
			l.feat.observe(l.after, 1)
		} else {
			l.counts.SkippedNoTarget++
		}
		l.counts.Updates++
	case change.OpTruncate:
		l.counts.Truncates++
		if !l.restate() {
			l.counts.TruncatesNotUnlearned++
			res.NotUnlearned = true
		}
	}
	return res
}

// restate empties the model because the table is stated again from
// scratch (a truncate, or a snapshot taken again): ridge resets its
// statistics and the numeric standardisation; sgd cannot unlearn and
// reports false.
func (l *Learner) restate() bool {
	if l.ridge == nil {
		return false
	}
	l.ridge.Reset()
	for i := range l.feat.num {
		l.feat.num[i] = runningStats{}
	}
	return true
}

// unlearnable reads a before image into l.before and reports whether it
// has every column the learner uses.
func (l *Learner) unlearnable(img change.Row) bool {
	if img == nil {
		return false
	}
	l.feat.read(img, l.before)
	return l.feat.complete(l.before)
}

// unlearn removes a row that was learned (its target was present).
func (l *Learner) unlearn(r *row) {
	l.feat.encode(r, &l.vec, true)
	l.algo.Update(&l.vec, r.y, -1)
	l.feat.observe(r, -1)
}

func (l *Learner) countMissing(r *row) {
	l.feat.missing(r, func(col string) { l.counts.Missing[col]++ })
}

// predict is the prediction before learning: the warm-start weights while
// a ridge learner has fewer rows than warmRows, else the algorithm's.
func (l *Learner) predict(x *Vec) float64 {
	if l.warm != nil && l.ridge != nil && l.ridge.N() < l.warmRows() {
		return l.warm.predict(x)
	}
	return l.algo.Predict(x)
}

// warmRows is how many rows of its own a ridge learner needs before its
// fit replaces the warm-start weights for predictions.
func (l *Learner) warmRows() float64 { return float64(10 * max(l.feat.Dim(), 1)) }

// Predict returns the current model's prediction for a row image, without
// learning it. Levels not seen before set no feature.
func (l *Learner) Predict(img change.Row) (float64, error) {
	r := l.feat.newRow()
	l.feat.read(img, r)
	var v Vec
	l.feat.encode(r, &v, false)
	if l.ridge != nil {
		if l.warm != nil && l.ridge.N() < l.warmRows() {
			return l.warm.predict(&v), nil
		}
		w, err := l.ridge.Solve()
		if err != nil {
			return 0, err
		}
		y := w[0]
		for k, i := range v.Idx {
			if int(i)+1 < len(w) {
				y += w[i+1] * v.Val[k]
			}
		}
		return y, nil
	}
	return l.sgd.Predict(&v), nil
}

// Position is where in its source the last applied event was.
type Position struct {
	Source    string `json:"source"`
	Connector string `json:"connector,omitempty"`
	LSN       uint64 `json:"lsn,omitempty"`
	LSNText   string `json:"lsn_text,omitempty"`
	TxID      uint32 `json:"tx_id,omitempty"`
	GTID      string `json:"gtid,omitempty"`
	File      string `json:"file,omitempty"`
	Pos       uint64 `json:"pos,omitempty"`
	TsMs      int64  `json:"ts_ms,omitempty"`
}

func positionOf(ev *change.Event) Position {
	s := &ev.Source
	p := Position{Source: s.Name, Connector: s.Connector, LSN: s.LSN, TxID: s.TxID, GTID: s.GTID, File: s.File, Pos: s.Pos, TsMs: s.TsMs}
	if s.LSN != 0 {
		p.LSNText = change.FormatLSN(s.LSN)
	}
	return p
}

// weights returns the model on raw features: the intercept and a weight
// per feature index, and each feature's mean and spread (ridge: standard
// deviation over the current rows; sgd: the running mean and largest
// centred magnitude).
func (l *Learner) weights() (intercept float64, w []float64, stats []FeatureStat, err error) {
	d := l.feat.Dim()
	w = make([]float64, d)
	stats = make([]FeatureStat, d)
	if l.ridge != nil {
		if l.warm != nil && l.ridge.N() < l.warmRows() {
			intercept = l.warm.intercept
			copy(w, l.warm.w)
		} else {
			sol, err := l.ridge.Solve()
			if err != nil {
				return 0, nil, nil, err
			}
			intercept = sol[0]
			for j := 0; j < d && j+1 < len(sol); j++ {
				w[j] = sol[j+1]
			}
		}
		for j := range stats {
			stats[j].Mean, stats[j].Std = l.ridge.FeatureStats(j)
		}
	} else {
		var sw []float64
		intercept, sw = l.sgd.Weights()
		copy(w, sw)
		for j := range stats {
			stats[j].Mean, stats[j].Std = l.sgd.FeatureStats(j)
		}
	}
	for _, v := range w {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, nil, nil, fmt.Errorf("learner %s: a weight is %v", l.cfg.Name, v)
		}
	}
	return intercept, w, stats, nil
}

// FeatureStat is a feature's mean and spread in a version.
type FeatureStat struct {
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
}

// now is the clock of version timestamps; tests may replace it.
var now = func() time.Time { return time.Now().UTC() }
