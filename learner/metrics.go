package learner

import "math"

// Prequential evaluates a learner the prequential way: each insert is
// predicted before it is learned, and the error is added here, cumulatively
// and over a rolling window of the last predictions.
type Prequential struct {
	n, sumAbs, sumSq float64
	y                runningStats // for R²'s total sum of squares

	window             int
	ring               []obs
	head, filled       int
	wAbs, wSq, wY, wY2 float64
	sinceRecompute     int
}

type obs struct{ absErr, sqErr, y float64 }

// Scores are error metrics over a set of predictions.
type Scores struct {
	N    int64   `json:"n"`
	MAE  float64 `json:"mae"`
	RMSE float64 `json:"rmse"`
	R2   float64 `json:"r2"`
}

// Metrics are the cumulative and rolling prequential scores.
type Metrics struct {
	Cumulative Scores `json:"cumulative"`
	Rolling    Scores `json:"rolling"`
	Window     int    `json:"window"`
}

// NewPrequential returns an evaluator with a rolling window of the given
// number of predictions.
func NewPrequential(window int) *Prequential {
	window = max(window, 1)
	return &Prequential{window: window, ring: make([]obs, window)}
}

// Add records the prediction pred of the actual value y.
func (p *Prequential) Add(pred, y float64) {
	e := pred - y
	o := obs{math.Abs(e), e * e, y}
	p.n++
	p.sumAbs += o.absErr
	p.sumSq += o.sqErr
	p.y.add(y)

	if p.filled == p.window {
		old := p.ring[p.head]
		p.wAbs -= old.absErr
		p.wSq -= old.sqErr
		p.wY -= old.y
		p.wY2 -= old.y * old.y
	} else {
		p.filled++
	}
	p.ring[p.head] = o
	p.head = (p.head + 1) % p.window
	p.wAbs += o.absErr
	p.wSq += o.sqErr
	p.wY += y
	p.wY2 += y * y
	// Running sums drift when values are subtracted; recompute them once
	// per window.
	if p.sinceRecompute++; p.sinceRecompute >= p.window {
		p.sinceRecompute = 0
		p.wAbs, p.wSq, p.wY, p.wY2 = 0, 0, 0, 0
		for _, o := range p.ring[:p.filled] {
			p.wAbs += o.absErr
			p.wSq += o.sqErr
			p.wY += o.y
			p.wY2 += o.y * o.y
		}
	}
}

// Metrics returns the current scores.
func (p *Prequential) Metrics() Metrics {
	m := Metrics{Window: p.window}
	if p.n > 0 {
		m.Cumulative = Scores{N: int64(p.n), MAE: p.sumAbs / p.n, RMSE: math.Sqrt(p.sumSq / p.n), R2: r2(p.sumSq, p.y.M2)}
	}
	if w := float64(p.filled); w > 0 {
		sst := p.wY2 - p.wY*p.wY/w
		m.Rolling = Scores{N: int64(w), MAE: p.wAbs / w, RMSE: math.Sqrt(math.Max(p.wSq, 0) / w), R2: r2(p.wSq, sst)}
	}
	return m
}

func r2(sse, sst float64) float64 {
	if sst <= 0 {
		return 0
	}
	return 1 - sse/sst
}

// prequentialState is the saved form of Prequential: the cumulative sums
// (the rolling window starts empty after a restart).
type prequentialState struct {
	N      float64      `json:"n"`
	SumAbs float64      `json:"sum_abs"`
	SumSq  float64      `json:"sum_sq"`
	Y      runningStats `json:"y"`
}

func (p *Prequential) state() prequentialState {
	return prequentialState{N: p.n, SumAbs: p.sumAbs, SumSq: p.sumSq, Y: p.y}
}

func (p *Prequential) restore(st prequentialState) {
	p.n, p.sumAbs, p.sumSq, p.y = st.N, st.SumAbs, st.SumSq, st.Y
}
