package learner

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"

	"github.com/tributary-cdc/tributary/batch"
	"github.com/tributary-cdc/tributary/config"
)

// WarmStartInfo records the batch model a learner started from.
type WarmStartInfo struct {
	Path      string `json:"path"`
	SHA256    string `json:"sha256"`
	CreatedAt string `json:"created_at"`
	TrainRows int64  `json:"train_rows"`
}

// warmWeights are a batch model's weights on the learner's raw features, by
// feature index.
type warmWeights struct {
	intercept float64
	w         []float64
}

func (w *warmWeights) predict(x *Vec) float64 {
	y := w.intercept
	for k, i := range x.Idx {
		if int(i) < len(w.w) {
			y += w.w[i] * x.Val[k]
		}
	}
	return y
}

// warmState is the saved form of warmWeights.
type warmState struct {
	Intercept float64            `json:"intercept"`
	Weights   map[string]float64 `json:"weights"`
}

func (w *warmWeights) state(names []string) *warmState {
	st := &warmState{Intercept: w.intercept, Weights: map[string]float64{}}
	for j, n := range names {
		if j < len(w.w) {
			st.Weights[n] = w.w[j]
		}
	}
	return st
}

func (st *warmState) weights(names []string) *warmWeights {
	w := &warmWeights{intercept: st.Intercept, w: make([]float64, len(names))}
	for j, n := range names {
		w.w[j] = st.Weights[n]
	}
	return w
}

// WarmStart builds version 1 of a learner for cfg from the `tributary batch
// train` model file at path. The batch model's weights are on standardized
// features; they are converted to the learner's raw features (its day count
// is centred on the model's mean day). The model's categorical levels seed
// the vocabulary. An sgd learner starts from these weights; a ridge learner
// keeps its exact statistics from empty and predicts with the batch weights
// until it has ten rows per feature of its own.
func WarmStart(cfg config.LearnerConfig, path string) (*Version, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("warm start %s: %w", cfg.Name, err)
	}
	m, err := batch.LoadModel(path)
	if err != nil {
		return nil, fmt.Errorf("warm start %s: %w", cfg.Name, err)
	}
	if m.Target != cfg.Target {
		return nil, fmt.Errorf("warm start %s: model %s predicts %s, the learner's target is %s", cfg.Name, path, m.Target, cfg.Target)
	}
	same := func(a, b []string) bool { return slices.Equal(a, b) || (len(a) == 0 && len(b) == 0) }
	if !same(m.Features.Numeric, cfg.Features.Numeric) || !same(m.Features.Categorical, cfg.Features.Categorical) || !same(m.Features.Datetime, cfg.Features.Datetime) {
		return nil, fmt.Errorf("warm start %s: model %s has features %s, the learner %s", cfg.Name, path,
			specString(config.FeatureConfig{Numeric: m.Features.Numeric, Categorical: m.Features.Categorical, Datetime: m.Features.Datetime}), specString(cfg.Features))
	}
	l, err := New(cfg)
	if err != nil {
		return nil, err
	}
	f := l.feat
	raw := m.Raw()
	icpt := raw.Intercept
	for i, p := range m.Numeric {
		f.impute[i] = p.Impute
	}
	for _, p := range m.Datetime {
		// The learner's day feature is days − centre; the raw model's is days.
		if !f.centered {
			f.dayCenter, f.centered = p.DaysMean, true
		}
		icpt += raw.Coefficients[batch.DatetimeFeature(p.Name, "days")] * f.dayCenter
	}
	for c, p := range m.Categorical {
		if p.Name != cfg.Features.Categorical[c] {
			return nil, fmt.Errorf("warm start %s: model categorical column %d is %s, want %s", cfg.Name, c, p.Name, cfg.Features.Categorical[c])
		}
		for _, lv := range p.Levels {
			f.addLevel(c, lv)
		}
	}
	w := &warmWeights{intercept: icpt, w: make([]float64, f.Dim())}
	for j, n := range f.Names() {
		w.w[j] = raw.Coefficients[n]
	}
	l.warm = w
	sum := sha256.Sum256(data)
	l.warmStart = &WarmStartInfo{Path: path, SHA256: hex.EncodeToString(sum[:]), CreatedAt: m.CreatedAt.UTC().Format("2006-01-02T15:04:05Z07:00"), TrainRows: m.TrainingData.TrainRows}
	if l.sgd != nil {
		l.sgd.grow(f.Dim())
		copy(l.sgd.w, w.w)
		l.sgd.y.Mean = icpt
	}
	v, err := l.Snapshot(1)
	if err != nil {
		return nil, err
	}
	v.Parent = 0
	// The version holds the batch weights and nothing learned yet.
	v.Intercept = icpt
	for j, n := range v.FeatureNames {
		v.Weights[n] = w.w[j]
	}
	return v, nil
}
