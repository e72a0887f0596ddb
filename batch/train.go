package batch

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/tributary-cdc/tributary/internal/progress"
)

// TrainOptions configures Train.
type TrainOptions struct {
	// In is a preprocess output (.parquet or .csv).
	In string
	// Out is the model file (default <In>.model.json).
	Out string
	// Target is the numeric column to predict (default amount).
	Target string
	// Spec names the feature columns (default DefaultSpec()).
	Spec Spec
	// Lambda is the ridge penalty on the standardized weights; the intercept
	// is not penalized (default 1).
	Lambda float64
	// Holdout is the share of rows held out for evaluation (default 0.2),
	// chosen by a hash of Seed and the row's source line.
	Holdout float64
	Seed    int64
	// IncludeOutliers trains and evaluates on rows flagged as outliers too.
	IncludeOutliers bool
	// Truth is the generator's truth file, to report what the known truth
	// achieves on the holdout rows. "" looks for <input CSV>.truth.json via
	// the preprocess report beside In; "-" disables.
	Truth string
	// Progress, when not nil, gets progress lines.
	Progress io.Writer
}

// TrainResult is what Train fitted and where it wrote it.
type TrainResult struct {
	Model     *Model
	ModelPath string
	TruthPath string
	// TruthR2 is the R² the truth file states for the full generated data.
	TruthR2 *float64
	// Raw and TruthRaw are the model and the truth on raw features.
	Raw      Linear
	TruthRaw *Linear
}

// truthFile is the part of gen's truth file that training reads.
type truthFile struct {
	Format  string  `json:"format"`
	NoiseSD float64 `json:"noise_sd"`
	R2      float64 `json:"r2"`
	Linear
}

// Train fits exact ridge regression through the normal equations on the
// training split of o.In, evaluates it on the holdout split, and writes the
// model file. It reads the input three times (encoding, normal equations,
// evaluation), holding only a p×p matrix, so memory does not grow with the
// data.
func Train(ctx context.Context, o TrainOptions) (*TrainResult, error) {
	if o.In == "" {
		return nil, fmt.Errorf("train: In is required")
	}
	if o.Out == "" {
		o.Out = o.In + ".model.json"
	}
	if o.Target == "" {
		o.Target = ColAmount
	}
	if len(o.Spec.Numeric)+len(o.Spec.Categorical)+len(o.Spec.Datetime) == 0 {
		o.Spec = DefaultSpec()
	}
	if o.Lambda == 0 {
		o.Lambda = 1
	}
	if o.Lambda < 0 {
		return nil, fmt.Errorf("train: lambda %v < 0", o.Lambda)
	}
	if o.Holdout == 0 {
		o.Holdout = 0.2
	}
	if o.Holdout <= 0 || o.Holdout >= 1 {
		return nil, fmt.Errorf("train: holdout %v, want 0 < holdout < 1", o.Holdout)
	}
	if _, ok := numericValue(&OutRow{}, o.Target); !ok {
		return nil, fmt.Errorf("train: target %q is not a numeric column", o.Target)
	}
	for _, c := range o.Spec.Numeric {
		if _, ok := numericValue(&OutRow{}, c); !ok {
			return nil, fmt.Errorf("train: numeric feature %q is not a numeric column", c)
		}
	}
	for _, c := range o.Spec.Categorical {
		if _, ok := categoricalValue(&OutRow{}, c); !ok {
			return nil, fmt.Errorf("train: categorical feature %q is not a categorical column", c)
		}
	}
	for _, c := range o.Spec.Datetime {
		if c != ColTxnDate {
			return nil, fmt.Errorf("train: datetime feature %q: only %s is a datetime column", c, ColTxnDate)
		}
	}
	res := &TrainResult{ModelPath: o.Out}
	var truth *truthFile
	if o.Truth != "-" {
		path := o.Truth
		if path == "" {
			if rep, err := ReadReport(o.In + ".report.json"); err == nil {
				if _, err := os.Stat(rep.Input + ".truth.json"); err == nil {
					path = rep.Input + ".truth.json"
				}
			}
		}
		if path != "" {
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("train: truth: %w", err)
			}
			truth = &truthFile{}
			if err := json.Unmarshal(b, truth); err != nil {
				return nil, fmt.Errorf("train: truth %s: %w", path, err)
			}
			res.TruthPath = path
			res.TruthR2 = &truth.R2
			res.TruthRaw = &truth.Linear
		}
	}
	var scanned atomic.Int64
	var pass atomic.Int32
	stopProgress := progress.Lines(o.Progress, func(time.Duration) string {
		return fmt.Sprintf("train: pass %d/3, %d rows", pass.Load(), scanned.Load())
	})
	defer stopProgress()
	sum, err := fileSHA256(o.In)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	m := &Model{
		Format: ModelFormat, FormatVersion: ModelFormatVersion, CreatedAt: time.Now().UTC().Truncate(time.Second),
		Algorithm: "ridge", Lambda: o.Lambda, Target: o.Target, Features: o.Spec,
		TrainingData: TrainingData{Path: o.In, SHA256: sum, HoldoutFraction: o.Holdout, Seed: o.Seed},
	}
	isHoldout := func(r *OutRow) bool {
		h := fnv.New64a()
		var b [16]byte
		binary.LittleEndian.PutUint64(b[:], uint64(o.Seed))
		binary.LittleEndian.PutUint64(b[8:], uint64(r.SourceLine))
		h.Write(b[:])
		return float64(h.Sum64()>>11)/(1<<53) < o.Holdout
	}
	// use reports whether a row takes part, and its target.
	use := func(r *OutRow) (float64, bool) {
		y, _ := numericValue(r, o.Target)
		if math.IsNaN(y) {
			return 0, false
		}
		return y, o.IncludeOutliers || !r.IsOutlier
	}

	// Pass 1: levels, and the scales of numeric columns and days over the
	// training rows.
	type acc struct{ n, sum, sum2 float64 }
	numAcc := make([]acc, len(o.Spec.Numeric))
	dayAcc := make([]acc, len(o.Spec.Datetime))
	levels := make([]map[string]bool, len(o.Spec.Categorical))
	for i := range levels {
		levels[i] = map[string]bool{}
	}
	numMedian := make([][]float64, len(o.Spec.Numeric)) // bounded sample for the imputation value
	var rows int64
	pass.Store(1)
	scanned.Store(0)
	err = ScanOutput(o.In, func(r *OutRow) error {
		scanned.Add(1)
		rows++
		if _, ok := use(r); !ok {
			if r.IsOutlier && !o.IncludeOutliers {
				m.TrainingData.OutliersSkipped++
			} else {
				m.TrainingData.MissingTarget++
			}
			return nil
		}
		if isHoldout(r) {
			return nil
		}
		for i, c := range o.Spec.Numeric {
			v, _ := numericValue(r, c)
			if math.IsNaN(v) {
				continue
			}
			a := &numAcc[i]
			a.n++
			a.sum += v
			a.sum2 += v * v
			if len(numMedian[i]) < 100000 {
				numMedian[i] = append(numMedian[i], v)
			}
		}
		for i, c := range o.Spec.Categorical {
			v, _ := categoricalValue(r, c)
			if v == "" {
				v = Unknown
			}
			levels[i][v] = true
		}
		days := float64(r.TxnDate) / 86400e6
		for i := range o.Spec.Datetime {
			a := &dayAcc[i]
			a.n++
			a.sum += days
			a.sum2 += days * days
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	m.TrainingData.Rows = rows
	for i, c := range o.Spec.Numeric {
		s := meanStd(numAcc[i].n, numAcc[i].sum, numAcc[i].sum2)
		slices.Sort(numMedian[i])
		med := 0.0
		if n := len(numMedian[i]); n > 0 {
			med = numMedian[i][n/2]
		}
		m.Numeric = append(m.Numeric, NumericParam{Name: c, Mean: s.Mean, Std: s.Std, Impute: med})
	}
	for i, c := range o.Spec.Categorical {
		lv := make([]string, 0, len(levels[i]))
		for l := range levels[i] {
			lv = append(lv, l)
		}
		sort.Strings(lv)
		m.Categorical = append(m.Categorical, CategoricalParam{Name: c, Levels: lv})
	}
	for i, c := range o.Spec.Datetime {
		s := meanStd(dayAcc[i].n, dayAcc[i].sum, dayAcc[i].sum2)
		m.Datetime = append(m.Datetime, DatetimeParam{Name: c, Parts: DatetimeParts, DaysMean: s.Mean, DaysStd: s.Std})
	}
	m.FeatureNames = m.featureNames()
	p := len(m.FeatureNames) + 1 // with the intercept first
	enc := newEncoder(m, o.Spec)

	// Pass 2: the normal equations over the training rows.
	xtx := make([]float64, p*p)
	xty := make([]float64, p)
	x := make([]float64, p)
	var nTrain float64
	pass.Store(2)
	scanned.Store(0)
	err = ScanOutput(o.In, func(r *OutRow) error {
		scanned.Add(1)
		y, ok := use(r)
		if !ok || isHoldout(r) {
			return nil
		}
		enc.encode(r, x)
		nTrain++
		for i, xi := range x {
			if xi == 0 {
				continue
			}
			row := xtx[i*p:]
			for j := i; j < p; j++ {
				row[j] += xi * x[j]
			}
			xty[i] += xi * y
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if nTrain < float64(p) {
		return nil, fmt.Errorf("train: %v training rows for %d features: too few", nTrain, p)
	}
	a := mat.NewSymDense(p, nil)
	for i := range p {
		for j := i; j < p; j++ {
			a.SetSym(i, j, xtx[i*p+j])
		}
		if i > 0 {
			a.SetSym(i, i, xtx[i*p+i]+o.Lambda)
		}
	}
	var chol mat.Cholesky
	if ok := chol.Factorize(a); !ok {
		return nil, fmt.Errorf("train: normal equations are not positive definite (lambda %v)", o.Lambda)
	}
	w := mat.NewVecDense(p, nil)
	if err := chol.SolveVecTo(w, mat.NewVecDense(p, xty)); err != nil {
		return nil, fmt.Errorf("train: solve normal equations: %w", err)
	}
	m.Intercept = w.AtVec(0)
	m.Weights = make(map[string]float64, p-1)
	for i, n := range m.FeatureNames {
		m.Weights[n] = w.AtVec(i + 1)
	}

	// Pass 3: metrics on both splits, and the truth on the holdout rows.
	var trainM, holdM, truthM metricAcc
	var truthEnc *rawEncoder
	if truth != nil {
		truthEnc = newRawEncoder(truth.Linear, o.Spec)
	}
	pass.Store(3)
	scanned.Store(0)
	err = ScanOutput(o.In, func(r *OutRow) error {
		scanned.Add(1)
		y, ok := use(r)
		if !ok {
			return nil
		}
		enc.encode(r, x)
		pred := 0.0
		for i, v := range x {
			pred += w.AtVec(i) * v
		}
		if isHoldout(r) {
			holdM.add(y, pred)
			if truthEnc != nil {
				truthM.add(y, truthEnc.eval(r))
			}
		} else {
			trainM.add(y, pred)
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	m.Metrics.Train = trainM.metrics()
	m.Metrics.Holdout = holdM.metrics()
	if truth != nil {
		tm := truthM.metrics()
		m.Metrics.TruthHoldout = &tm
	}
	m.TrainingData.TrainRows = m.Metrics.Train.Rows
	m.TrainingData.HoldoutRows = m.Metrics.Holdout.Rows
	res.Model = m
	res.Raw = m.Raw()
	f, err := os.Create(o.Out)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if err := WriteModel(f, m); err != nil {
		f.Close()
		return nil, fmt.Errorf("train: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	return res, nil
}

// encoder turns an OutRow into the model's standardized vector, with a
// leading 1 for the intercept.
type encoder struct {
	m     *Model
	spec  Spec
	index []map[string]int // per categorical column: level -> position
	off   []int            // per categorical column: first position
}

func newEncoder(m *Model, spec Spec) *encoder {
	e := &encoder{m: m, spec: spec}
	pos := 1 + len(m.Numeric)
	for _, c := range m.Categorical {
		idx := map[string]int{}
		for i, l := range c.Levels {
			idx[l] = pos + i
		}
		e.index = append(e.index, idx)
		e.off = append(e.off, pos)
		pos += len(c.Levels)
	}
	return e
}

func (e *encoder) encode(r *OutRow, x []float64) {
	clear(x)
	x[0] = 1
	for i, p := range e.m.Numeric {
		v, _ := numericValue(r, p.Name)
		if math.IsNaN(v) {
			v = p.Impute
		}
		x[1+i] = Scale{Mean: p.Mean, Std: p.Std}.Z(v)
	}
	for i, c := range e.spec.Categorical {
		v, _ := categoricalValue(r, c)
		if v == "" {
			v = Unknown
		}
		if j, ok := e.index[i][v]; ok {
			x[j] = 1
		}
	}
	pos := len(x) - 7*len(e.m.Datetime)
	for _, p := range e.m.Datetime {
		v := DatetimeValues(time.UnixMicro(r.TxnDate))
		v[6] = Scale{Mean: p.DaysMean, Std: p.DaysStd}.Z(v[6])
		copy(x[pos:], v[:])
		pos += 7
	}
}

// rawEncoder evaluates a Linear on raw features of an OutRow.
type rawEncoder struct {
	l    Linear
	spec Spec
}

func newRawEncoder(l Linear, spec Spec) *rawEncoder { return &rawEncoder{l: l, spec: spec} }

func (e *rawEncoder) eval(r *OutRow) float64 {
	y := e.l.Intercept
	for _, c := range e.spec.Numeric {
		v, _ := numericValue(r, c)
		if !math.IsNaN(v) {
			y += e.l.Coefficients[NumericFeature(c)] * v
		}
	}
	for _, c := range e.spec.Categorical {
		v, _ := categoricalValue(r, c)
		if v == "" {
			v = Unknown
		}
		y += e.l.Coefficients[CategoricalFeature(c, v)]
	}
	for _, c := range e.spec.Datetime {
		v := DatetimeValues(time.UnixMicro(r.TxnDate))
		for i, part := range DatetimeParts {
			y += e.l.Coefficients[DatetimeFeature(c, part)] * v[i]
		}
	}
	return y
}

// metricAcc accumulates RMSE, MAE and R² (Welford for the target's variance).
type metricAcc struct {
	n, mean, m2, sse, sabs float64
}

func (a *metricAcc) add(y, pred float64) {
	a.n++
	d := y - a.mean
	a.mean += d / a.n
	a.m2 += d * (y - a.mean)
	e := y - pred
	a.sse += e * e
	a.sabs += math.Abs(e)
}

func (a *metricAcc) metrics() Metrics {
	m := Metrics{Rows: int64(a.n)}
	if a.n == 0 {
		return m
	}
	m.RMSE = math.Sqrt(a.sse / a.n)
	m.MAE = a.sabs / a.n
	if a.m2 > 0 {
		m.R2 = 1 - a.sse/a.m2
	}
	return m
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("checksum: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("checksum %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
