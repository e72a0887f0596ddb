package learner

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Ridge is exact ridge regression kept as sufficient statistics: the
// cross-product matrix of [1, x] (so it holds the count and the sums), Xᵀy
// and yᵀy. Adding or removing a row is a sparse rank-1 update, O(k²) for k
// non-zero features. The weights are the exact solution for the rows
// currently added:
//
//	minimize Σ (y − b − Σ w_j x_j)² + λ Σ s_j² w_j²
//
// where s_j² is feature j's variance over those rows: the ridge fit on
// standardized features with an unpenalized intercept, in raw units. A
// feature without variance (a level with no current row) gets weight 0.
//
// Solving is O(d³) with a Cholesky factorization and is done when a version
// is saved and, for the predictions made before each insert is learned, on
// a schedule: after every max(1, min(n/100, 1000)) changes, so predictions
// use weights at most 1% of the rows (and at most 1,000 changes) old.
type Ridge struct {
	lambda float64
	d      int // columns: 1 (intercept) + features
	stride int
	xtx    []float64 // stride×stride, upper triangle: xtx[i*stride+j], i <= j
	xty    []float64
	yty    float64

	w        []float64 // solved: w[0] is the intercept, w[1+j] feature j
	stale    int       // changes since the last solve
	idx      []int32
	val      []float64
	solveErr error
}

// NewRidge returns an empty ridge model with penalty lambda > 0.
func NewRidge(lambda float64) *Ridge {
	r := &Ridge{lambda: lambda}
	r.grow(32)
	return r
}

// grow makes room for d columns.
func (r *Ridge) grow(d int) {
	if d <= r.stride {
		if d > r.d {
			r.d = d
		}
		return
	}
	ns := max(d, 2*r.stride)
	nx := make([]float64, ns*ns)
	for i := 0; i < r.d; i++ {
		copy(nx[i*ns:i*ns+r.d], r.xtx[i*r.stride:i*r.stride+r.d])
	}
	ny := make([]float64, ns)
	copy(ny, r.xty)
	r.xtx, r.xty, r.stride = nx, ny, ns
	if d > r.d {
		r.d = d
	}
}

// N returns the number of rows in the statistics (inserts minus deletes).
func (r *Ridge) N() float64 { return r.xtx[0] }

// Predict returns the prediction of the last solved weights for x, solving
// first when the schedule says the weights are stale.
func (r *Ridge) Predict(x *Vec) float64 {
	if r.stale > 0 && float64(r.stale) >= min(max(1, r.N()/100), 1000) {
		r.solve()
	}
	if len(r.w) == 0 {
		return 0
	}
	y := r.w[0]
	for k, i := range x.Idx {
		if j := int(i) + 1; j < len(r.w) {
			y += r.w[j] * x.Val[k]
		}
	}
	return y
}

// Update adds (sign +1) or removes (sign −1) the row (x, y).
func (r *Ridge) Update(x *Vec, y, sign float64) {
	r.idx = append(r.idx[:0], 0)
	r.val = append(r.val[:0], 1)
	maxIdx := 0
	for k, i := range x.Idx {
		j := int(i) + 1
		r.idx = append(r.idx, int32(j))
		r.val = append(r.val, x.Val[k])
		maxIdx = max(maxIdx, j)
	}
	if maxIdx >= r.d {
		r.grow(maxIdx + 1)
	}
	s, xtx, xty := r.stride, r.xtx, r.xty
	for p, i := range r.idx {
		vi := sign * r.val[p]
		xty[i] += vi * y
		for q := p; q < len(r.idx); q++ {
			j := r.idx[q]
			a, b := i, j
			if a > b {
				a, b = b, a
			}
			xtx[int(a)*s+int(b)] += vi * r.val[q]
		}
	}
	r.yty += sign * y * y
	r.stale++
}

// Reset forgets every row (a truncate).
func (r *Ridge) Reset() {
	clear(r.xtx)
	clear(r.xty)
	r.yty = 0
	r.w = nil
	r.stale = 0
}

// at returns XᵀX[i][j].
func (r *Ridge) at(i, j int) float64 {
	if i > j {
		i, j = j, i
	}
	return r.xtx[i*r.stride+j]
}

// Solve computes the exact weights now; w[0] is the intercept, w[1+j]
// the weight of feature j on raw values.
func (r *Ridge) Solve() ([]float64, error) {
	r.solve()
	return r.w, r.solveErr
}

func (r *Ridge) solve() {
	r.stale = 0
	d := r.d
	w := make([]float64, d)
	n := r.N()
	r.w, r.solveErr = w, nil
	if n < 0.5 {
		return
	}
	mean := make([]float64, d)
	for j := 1; j < d; j++ {
		mean[j] = r.at(0, j) / n
	}
	ybar := r.xty[0] / n
	// Centred cross-products of the features with variance.
	var keep []int
	for j := 1; j < d; j++ {
		v := r.at(j, j) - n*mean[j]*mean[j]
		scale := math.Max(r.at(j, j), 1)
		if v > 1e-9*scale && v > 1e-12 {
			keep = append(keep, j)
		}
	}
	k := len(keep)
	if k > 0 {
		a := mat.NewSymDense(k, nil)
		c := mat.NewVecDense(k, nil)
		for p, i := range keep {
			for q := p; q < k; q++ {
				j := keep[q]
				v := r.at(i, j) - n*mean[i]*mean[j]
				if p == q {
					v += r.lambda * v / n
				}
				a.SetSym(p, q, v)
			}
			c.SetVec(p, r.xty[i]-n*mean[i]*ybar)
		}
		var beta mat.VecDense
		var ch mat.Cholesky
		if ch.Factorize(a) {
			if err := ch.SolveVecTo(&beta, c); err != nil {
				r.solveErr = fmt.Errorf("ridge solve: %w", err)
			}
		} else if err := beta.SolveVec(a, c); err != nil {
			r.solveErr = fmt.Errorf("ridge solve: matrix not positive definite: %w", err)
		}
		if r.solveErr == nil {
			for p, j := range keep {
				w[j] = beta.AtVec(p)
			}
		}
	}
	w[0] = ybar
	for j := 1; j < d; j++ {
		w[0] -= w[j] * mean[j]
	}
}

// FeatureStats returns the mean and standard deviation of feature j over
// the rows in the statistics.
func (r *Ridge) FeatureStats(j int) (mean, std float64) {
	n := r.N()
	if n < 0.5 || j+1 >= r.d {
		return 0, 0
	}
	mean = r.at(0, j+1) / n
	v := r.at(j+1, j+1)/n - mean*mean
	return mean, math.Sqrt(math.Max(v, 0))
}

// ridgeState is the saved form of Ridge.
type ridgeState struct {
	Lambda float64   `json:"lambda"`
	D      int       `json:"d"`
	XtX    []float64 `json:"xtx"` // upper triangle, row by row
	XtY    []float64 `json:"xty"`
	YtY    float64   `json:"yty"`
	// W and Stale are the weights last solved for predictions and the
	// changes since, so that a resumed learner predicts as this one would.
	W     []float64 `json:"w"`
	Stale int       `json:"stale"`
}

func (r *Ridge) state() *ridgeState {
	st := &ridgeState{Lambda: r.lambda, D: r.d, XtY: append([]float64{}, r.xty[:r.d]...), YtY: r.yty,
		W: append([]float64{}, r.w...), Stale: r.stale}
	for i := 0; i < r.d; i++ {
		st.XtX = append(st.XtX, r.xtx[i*r.stride+i:i*r.stride+r.d]...)
	}
	return st
}

func restoreRidge(st *ridgeState) (*Ridge, error) {
	if st.D < 1 || len(st.XtY) != st.D || len(st.XtX) != st.D*(st.D+1)/2 {
		return nil, fmt.Errorf("ridge state: d %d with %d cross-products and %d Xᵀy", st.D, len(st.XtX), len(st.XtY))
	}
	r := NewRidge(st.Lambda)
	r.grow(st.D)
	k := 0
	for i := 0; i < st.D; i++ {
		for j := i; j < st.D; j++ {
			r.xtx[i*r.stride+j] = st.XtX[k]
			k++
		}
	}
	copy(r.xty, st.XtY)
	r.yty = st.YtY
	r.w, r.stale = append([]float64(nil), st.W...), st.Stale
	if len(r.w) == 0 {
		r.w = nil
	}
	return r, nil
}
