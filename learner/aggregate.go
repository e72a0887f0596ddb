package learner

import (
	"encoding/json"
	"time"

	"github.com/tributary-cdc/tributary/change"
)

// Aggregates keeps, for each configured key column separately, the rolling
// average of the target per value of that column over a time window of
// event time (the commit time in the source block). Only inserts (and
// snapshot reads) enter the windows; deletes and updates do not change
// averages already published. The windows are not part of a saved version:
// after a restart they fill again from the events read.
type Aggregates struct {
	window int64 // ms
	keys   []string
	per    []map[string]*aggWindow
	adds   int
	latest int64
}

// AggregateValue is one rolling average after an insert.
type AggregateValue struct {
	Column string          `json:"column"`
	Key    json.RawMessage `json:"key"`
	Avg    float64         `json:"avg"`
	Count  int             `json:"count"`
	Sum    float64         `json:"sum"`
}

type aggWindow struct {
	ts   []int64
	ys   []float64
	head int
	sum  float64
}

// NewAggregates returns rolling averages per value of each of keys over
// window; nil when keys is empty.
func NewAggregates(keys []string, window time.Duration) *Aggregates {
	if len(keys) == 0 || window <= 0 {
		return nil
	}
	a := &Aggregates{window: window.Milliseconds(), keys: keys, per: make([]map[string]*aggWindow, len(keys))}
	for i := range a.per {
		a.per[i] = map[string]*aggWindow{}
	}
	return a
}

// Add enters the target y of a row (image img) at event time tsMs and
// appends the updated average of each key column to out. A key column that
// is absent from the row is skipped; NULL is a key like any other.
func (a *Aggregates) Add(img change.Row, tsMs int64, y float64, out []AggregateValue) []AggregateValue {
	a.latest = max(a.latest, tsMs)
	for i, col := range a.keys {
		raw, ok := img.Get(col)
		if !ok {
			continue
		}
		if len(raw) == 0 {
			raw = []byte("null")
		}
		w := a.per[i][string(raw)]
		if w == nil {
			w = &aggWindow{}
			a.per[i][string(raw)] = w
		}
		w.evict(tsMs - a.window)
		w.ts = append(w.ts, tsMs)
		w.ys = append(w.ys, y)
		w.sum += y
		n := len(w.ts) - w.head
		out = append(out, AggregateValue{Column: col, Key: json.RawMessage(raw), Avg: w.sum / float64(n), Count: n, Sum: w.sum})
	}
	if a.adds++; a.adds >= 100000 {
		a.adds = 0
		a.prune()
	}
	return out
}

// evict drops the entries at or before cutoff.
func (w *aggWindow) evict(cutoff int64) {
	for w.head < len(w.ts) && w.ts[w.head] <= cutoff {
		w.sum -= w.ys[w.head]
		w.head++
	}
	if w.head == len(w.ts) {
		w.ts, w.ys, w.head, w.sum = w.ts[:0], w.ys[:0], 0, 0
		return
	}
	if w.head > 1024 && w.head*2 > len(w.ts) {
		n := copy(w.ts, w.ts[w.head:])
		copy(w.ys, w.ys[w.head:])
		w.ts, w.ys, w.head = w.ts[:n], w.ys[:n], 0
		w.sum = 0
		for _, y := range w.ys {
			w.sum += y
		}
	}
}

// prune forgets keys whose window is empty at the latest event time.
func (a *Aggregates) prune() {
	cutoff := a.latest - a.window
	for _, m := range a.per {
		for k, w := range m {
			w.evict(cutoff)
			if len(w.ts) == 0 {
				delete(m, k)
			}
		}
	}
}
