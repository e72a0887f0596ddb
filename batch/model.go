package batch

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"time"
)

// ModelFormat and ModelFormatVersion identify a model file; see MODEL FORMAT
// in the package documentation.
const (
	ModelFormat        = "tributary.model"
	ModelFormatVersion = 1
)

// Model is a linear regression model in the versioned JSON format that
// `batch train` writes and the online learner loads as its warm start.
type Model struct {
	Format        string    `json:"format"`
	FormatVersion int       `json:"format_version"`
	CreatedAt     time.Time `json:"created_at"`
	Algorithm     string    `json:"algorithm"` // "ridge"
	Lambda        float64   `json:"lambda"`
	Target        string    `json:"target"`
	// Features names the columns by kind, as the learner config does.
	Features Spec `json:"features"`
	// How each column becomes features.
	Numeric     []NumericParam     `json:"numeric"`
	Categorical []CategoricalParam `json:"categorical"`
	Datetime    []DatetimeParam    `json:"datetime"`
	// FeatureNames is the order of the feature vector; Weights holds one
	// weight per name, on the standardized features.
	FeatureNames []string           `json:"feature_names"`
	Weights      map[string]float64 `json:"weights"`
	Intercept    float64            `json:"intercept"`
	Metrics      ModelMetrics       `json:"metrics"`
	TrainingData TrainingData       `json:"training_data"`
}

// NumericParam standardizes a numeric column: z = (x − Mean) / Std, with a
// missing x replaced by Impute first.
type NumericParam struct {
	Name   string  `json:"name"`
	Mean   float64 `json:"mean"`
	Std    float64 `json:"std"`
	Impute float64 `json:"impute"`
}

// CategoricalParam one-hot encodes a categorical column over Levels: the
// feature "name=level" is 1 for the row's level and 0 otherwise. A missing
// value is the level Unknown; a level not in Levels sets no feature.
type CategoricalParam struct {
	Name   string   `json:"name"`
	Levels []string `json:"levels"`
}

// DatetimeParam expands a datetime column into Parts (DatetimeParts): the
// cyclic parts as they are, and days standardized with DaysMean, DaysStd.
type DatetimeParam struct {
	Name     string   `json:"name"`
	Parts    []string `json:"parts"`
	DaysMean float64  `json:"days_mean"`
	DaysStd  float64  `json:"days_std"`
}

// Metrics are a model's errors on a set of rows.
type Metrics struct {
	Rows int64   `json:"rows"`
	RMSE float64 `json:"rmse"`
	MAE  float64 `json:"mae"`
	R2   float64 `json:"r2"`
}

// ModelMetrics are the model's metrics on the training and holdout rows,
// and the generator's known truth on the same holdout rows when it was given.
type ModelMetrics struct {
	Train        Metrics  `json:"train"`
	Holdout      Metrics  `json:"holdout"`
	TruthHoldout *Metrics `json:"truth_holdout,omitempty"`
}

// TrainingData identifies the data a model was fitted on.
type TrainingData struct {
	Path            string  `json:"path"`
	SHA256          string  `json:"sha256"`
	Rows            int64   `json:"rows"`
	TrainRows       int64   `json:"train_rows"`
	HoldoutRows     int64   `json:"holdout_rows"`
	HoldoutFraction float64 `json:"holdout_fraction"`
	Seed            int64   `json:"seed"`
	OutliersSkipped int64   `json:"outliers_skipped"`
	MissingTarget   int64   `json:"missing_target_skipped"`
}

// Validate checks that m is a model this version can use: format, version,
// one weight per feature name and finite numbers.
func (m *Model) Validate() error {
	if m.Format != ModelFormat {
		return fmt.Errorf("model format %q, want %q", m.Format, ModelFormat)
	}
	if m.FormatVersion != ModelFormatVersion {
		return fmt.Errorf("model format_version %d, want %d", m.FormatVersion, ModelFormatVersion)
	}
	want := m.featureNames()
	if len(want) != len(m.FeatureNames) {
		return fmt.Errorf("model feature_names has %d names, the encoding gives %d", len(m.FeatureNames), len(want))
	}
	for i, n := range want {
		if m.FeatureNames[i] != n {
			return fmt.Errorf("model feature_names[%d] = %q, the encoding gives %q", i, m.FeatureNames[i], n)
		}
		w, ok := m.Weights[n]
		if !ok {
			return fmt.Errorf("model has no weight for feature %q", n)
		}
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return fmt.Errorf("model weight of %q is %v", n, w)
		}
	}
	if len(m.Weights) != len(want) {
		return fmt.Errorf("model has %d weights for %d features", len(m.Weights), len(want))
	}
	return nil
}

// featureNames lists the features the encoding produces, in vector order:
// numeric columns, then each categorical column's levels, then each
// datetime column's parts.
func (m *Model) featureNames() []string {
	var names []string
	for _, p := range m.Numeric {
		names = append(names, NumericFeature(p.Name))
	}
	for _, p := range m.Categorical {
		for _, lv := range p.Levels {
			names = append(names, CategoricalFeature(p.Name, lv))
		}
	}
	for _, p := range m.Datetime {
		for _, part := range p.Parts {
			names = append(names, DatetimeFeature(p.Name, part))
		}
	}
	return names
}

// Encode returns the standardized feature vector of in, in FeatureNames
// order.
func (m *Model) Encode(in Input) []float64 {
	x := make([]float64, 0, len(m.FeatureNames))
	for _, p := range m.Numeric {
		v, ok := in.Numeric[p.Name]
		if !ok || math.IsNaN(v) {
			v = p.Impute
		}
		x = append(x, Scale{Mean: p.Mean, Std: p.Std}.Z(v))
	}
	for _, p := range m.Categorical {
		lv := in.Categorical[p.Name]
		if lv == "" {
			lv = Unknown
		}
		for _, l := range p.Levels {
			if l == lv {
				x = append(x, 1)
			} else {
				x = append(x, 0)
			}
		}
	}
	for _, p := range m.Datetime {
		t, ok := in.Datetime[p.Name]
		var v [7]float64
		if ok {
			v = DatetimeValues(t)
			v[6] = Scale{Mean: p.DaysMean, Std: p.DaysStd}.Z(v[6])
		}
		x = append(x, v[:len(p.Parts)]...)
	}
	return x
}

// Predict returns the model's prediction for in.
func (m *Model) Predict(in Input) float64 {
	y := m.Intercept
	for i, v := range m.Encode(in) {
		y += m.Weights[m.FeatureNames[i]] * v
	}
	return y
}

// Raw returns the model as a linear function of raw, unstandardized
// features (RawFeatures names), to compare with a known truth. A missing
// numeric value's imputation is not part of it.
func (m *Model) Raw() Linear {
	l := Linear{Intercept: m.Intercept, Coefficients: map[string]float64{}}
	for _, n := range m.FeatureNames {
		l.Coefficients[n] = m.Weights[n]
	}
	for _, p := range m.Numeric {
		n := NumericFeature(p.Name)
		if p.Std > 0 {
			l.Coefficients[n] = m.Weights[n] / p.Std
			l.Intercept -= m.Weights[n] * p.Mean / p.Std
		}
	}
	for _, p := range m.Datetime {
		n := DatetimeFeature(p.Name, "days")
		if p.DaysStd > 0 {
			l.Coefficients[n] = m.Weights[n] / p.DaysStd
			l.Intercept -= m.Weights[n] * p.DaysMean / p.DaysStd
		}
	}
	return l
}

// WriteModel writes m as indented JSON.
func WriteModel(w io.Writer, m *Model) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return fmt.Errorf("write model: %w", err)
	}
	return nil
}

// ReadModel reads and validates a model file.
func ReadModel(r io.Reader) (*Model, error) {
	var m Model
	dec := json.NewDecoder(r)
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	return &m, nil
}

// LoadModel reads and validates the model file at path.
func LoadModel(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	defer f.Close()
	m, err := ReadModel(f)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	return m, nil
}
