package learner

import (
	"fmt"
	"math"
)

// SGD is a linear model learned by normalized adaptive gradient descent (NAG,
// Ross, Mineiro and Langford, "Normalized online learning", 2013, the
// default update of Vowpal Wabbit) on online-centred features and target:
//
//	ŷ = ȳ + Σ w_j (x_j − μ_j)
//
// with ȳ and μ_j the running means of the target and of each feature over
// the rows learned. For each feature it keeps s_j, the largest |x_j − μ_j|
// seen (when it grows, w_j shrinks by (s_old/s_new)² so that a rescaled
// feature does not blow up), and G_j, the sum of squared gradients; N sums
// the squared normalized norms Σ (x_j−μ_j)²/s_j². A step on the squared
// error is
//
//	w_j −= η · √(t/N) · σ_y · g_j / (s_j · √G_j),   g_j = (ŷ − y)(x_j − μ_j) + λ s_j² w_j
//
// where σ_y is the running standard deviation of the target. Dividing by
// s_j makes the step invariant to the scale of each feature; multiplying by
// σ_y makes it invariant to the scale of the target (NAG alone is meant for
// classification, whose loss gradient has no units); √G_j is AdaGrad's
// per-feature decay.
//
// A delete applies the reverse step: one gradient ascent step on the
// deleted row with the current weights and rates (the step an insert of
// that row would now take, negated), and removes the row from the running
// means (which is exact). It is an approximation: it does not restore the
// weights the model would have without the row. An update is a delete of
// the before image and an insert of the after image. A truncate cannot be
// unlearned and leaves the model as it is.
type SGD struct {
	eta, l2 float64
	d       int
	w, s    []float64
	g2, mu  []float64
	n       float64 // rows in the means: inserts − deletes
	y       runningStats
	t, bigN float64
	xc      []float64 // scratch: the centred dense row
}

// NewSGD returns an empty model with learning rate eta and L2 penalty l2.
func NewSGD(eta, l2 float64) *SGD { return &SGD{eta: eta, l2: l2} }

func (m *SGD) grow(d int) {
	if d <= m.d {
		return
	}
	ext := func(v []float64) []float64 { return append(v, make([]float64, d-len(v))...) }
	m.w, m.s, m.g2, m.mu, m.xc = ext(m.w), ext(m.s), ext(m.g2), ext(m.mu), ext(m.xc)
	m.d = d
}

// center writes x − μ into m.xc (dense, length d) after growing to x's
// features.
func (m *SGD) center(x *Vec) {
	maxIdx := -1
	for _, i := range x.Idx {
		maxIdx = max(maxIdx, int(i))
	}
	m.grow(maxIdx + 1)
	xc := m.xc[:m.d]
	for j := range xc {
		xc[j] = -m.mu[j]
	}
	for k, i := range x.Idx {
		xc[i] += x.Val[k]
	}
}

// Predict returns the model's prediction for x.
func (m *SGD) Predict(x *Vec) float64 {
	y := m.y.Mean
	for k, i := range x.Idx {
		if int(i) < m.d {
			y += m.w[i] * x.Val[k]
		}
	}
	for j := 0; j < m.d; j++ {
		y -= m.w[j] * m.mu[j]
	}
	return y
}

// Update learns the row (x, y) (sign +1) or takes the reverse step and
// removes it from the means (sign −1).
func (m *SGD) Update(x *Vec, y, sign float64) {
	m.center(x)
	xc := m.xc[:m.d]
	w, s := m.w[:m.d], m.s[:m.d]
	norm := 0.0
	for j, v := range xc {
		a := math.Abs(v)
		if a > s[j] {
			if s[j] > 0 {
				r := s[j] / a
				w[j] *= r * r
			}
			s[j] = a
		}
		if s[j] > 0 {
			q := v / s[j]
			norm += q * q
		}
	}
	if m.y.N >= 1 {
		pred := 0.0
		for j, v := range xc {
			pred += w[j] * v
		}
		errv := pred - (y - m.y.Mean)
		m.t++
		m.bigN += norm
		sy := m.y.std()
		if m.y.N < 2 {
			sy = math.Abs(y - m.y.Mean)
		}
		if m.bigN > 0 && sy > 0 {
			rate := m.eta * math.Sqrt(m.t/m.bigN) * sy
			g2 := m.g2[:m.d]
			for j, v := range xc {
				if v == 0 || s[j] == 0 {
					continue
				}
				g := errv*v + m.l2*s[j]*s[j]*w[j]
				g2[j] += g * g
				if g2[j] > 0 {
					w[j] -= sign * rate * g / (s[j] * math.Sqrt(g2[j]))
				}
			}
		}
	}
	// Running means.
	if sign > 0 {
		m.n++
		inv := 1 / m.n
		// μ += (x − μ)/n, with x sparse.
		for j := range m.mu[:m.d] {
			m.mu[j] -= m.mu[j] * inv
		}
		for k, i := range x.Idx {
			m.mu[i] += x.Val[k] * inv
		}
		m.y.add(y)
		return
	}
	if m.n <= 1 {
		m.n = 0
		clear(m.mu)
		m.y = runningStats{}
		return
	}
	m.n--
	inv := 1 / m.n
	// μ_new = (n+1)/n · μ − x/n
	for j := range m.mu[:m.d] {
		m.mu[j] += m.mu[j] * inv
	}
	for k, i := range x.Idx {
		m.mu[i] -= x.Val[k] * inv
	}
	m.y.remove(y)
}

// Weights returns the model on raw features: the intercept and one weight
// per feature.
func (m *SGD) Weights() (intercept float64, w []float64) {
	intercept = m.y.Mean
	for j := 0; j < m.d; j++ {
		intercept -= m.w[j] * m.mu[j]
	}
	return intercept, append([]float64{}, m.w[:m.d]...)
}

// FeatureStats returns the running mean of feature j and its scale s_j
// (the largest centred magnitude seen).
func (m *SGD) FeatureStats(j int) (mean, scale float64) {
	if j >= m.d {
		return 0, 0
	}
	return m.mu[j], m.s[j]
}

// sgdState is the saved form of SGD.
type sgdState struct {
	LearningRate float64      `json:"learning_rate"`
	L2           float64      `json:"l2"`
	W            []float64    `json:"w"`
	S            []float64    `json:"s"`
	G2           []float64    `json:"g2"`
	Mu           []float64    `json:"mu"`
	N            float64      `json:"n"`
	Y            runningStats `json:"y"`
	T            float64      `json:"t"`
	NormSum      float64      `json:"norm_sum"`
}

func (m *SGD) state() *sgdState {
	cp := func(v []float64) []float64 { return append([]float64{}, v[:m.d]...) }
	return &sgdState{LearningRate: m.eta, L2: m.l2, W: cp(m.w), S: cp(m.s), G2: cp(m.g2), Mu: cp(m.mu),
		N: m.n, Y: m.y, T: m.t, NormSum: m.bigN}
}

func restoreSGD(st *sgdState) (*SGD, error) {
	d := len(st.W)
	if len(st.S) != d || len(st.G2) != d || len(st.Mu) != d {
		return nil, fmt.Errorf("sgd state: %d weights, %d scales, %d gradient sums, %d means", d, len(st.S), len(st.G2), len(st.Mu))
	}
	m := NewSGD(st.LearningRate, st.L2)
	m.grow(d)
	copy(m.w, st.W)
	copy(m.s, st.S)
	copy(m.g2, st.G2)
	copy(m.mu, st.Mu)
	m.n, m.y, m.t, m.bigN = st.N, st.Y, st.T, st.NormSum
	return m, nil
}
