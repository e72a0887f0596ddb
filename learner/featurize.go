package learner

import (
	"fmt"
	"math"

	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/config"
)

// Unknown is the level a missing categorical value takes (the "missing"
// level); it is the level batch training uses too.
const Unknown = "Unknown"

// DatetimeParts are the features a datetime column becomes, in order: the
// hour of day, day of week (Sunday 0) and month as points on a circle, and
// the day count since the epoch centred on the learner's first day (or the
// warm-start model's mean day). They match the batch model format.
var DatetimeParts = []string{"hour_sin", "hour_cos", "dow_sin", "dow_cos", "month_sin", "month_cos", "days"}

// Vec is a sparse feature vector: Val[k] is the value of feature Idx[k].
type Vec struct {
	Idx []int32
	Val []float64
}

func (v *Vec) reset() { v.Idx, v.Val = v.Idx[:0], v.Val[:0] }

func (v *Vec) add(i int32, x float64) {
	v.Idx = append(v.Idx, i)
	v.Val = append(v.Val, x)
}

type colKind uint8

const (
	kindNumeric colKind = iota + 1
	kindCategorical
	kindDatetime
	kindTarget
)

type colRef struct {
	kind colKind
	i    int
}

// runningStats are a mean and variance kept with Welford's method, which
// can also remove a value.
type runningStats struct {
	N    float64 `json:"n"`
	Mean float64 `json:"mean"`
	M2   float64 `json:"m2"`
}

func (s *runningStats) add(x float64) {
	s.N++
	d := x - s.Mean
	s.Mean += d / s.N
	s.M2 += d * (x - s.Mean)
}

func (s *runningStats) remove(x float64) {
	if s.N <= 1 {
		*s = runningStats{}
		return
	}
	d := x - s.Mean
	s.N--
	s.Mean -= d / s.N
	s.M2 -= d * (x - s.Mean)
	if s.M2 < 0 {
		s.M2 = 0
	}
}

func (s *runningStats) std() float64 {
	if s.N < 2 {
		return 0
	}
	return math.Sqrt(s.M2 / s.N)
}

// row is one row image, read: the values of the spec's columns and the
// target, pointing into the event's raw JSON where they are strings.
type row struct {
	num   []float64
	numOK []bool
	cat   [][]byte
	catOK []bool
	dt    []int64
	dtOK  []bool
	y     float64
	yOK   bool
	// present counts the spec's columns and the target found in the image,
	// null or not: a before image without them all cannot be unlearned.
	present int
}

// Featurizer turns rows into raw feature vectors by the learner's spec:
// numeric columns as they are (a missing value takes the running mean of
// the learned rows), one feature per categorical level (the vocabulary
// grows as levels appear; a missing value is the level Unknown), and
// DatetimeParts per datetime column (a missing value gives zeros: the mean
// of a cycle, and the centre day). Standardization is the models' business:
// sgd centres and scales online, ridge standardizes exactly at solve time.
//
// Feature indexes: numeric columns first, then the datetime parts, then
// categorical levels in the order they were first seen.
type Featurizer struct {
	spec   config.FeatureConfig
	target string
	cols   map[string]colRef
	num    []runningStats
	impute []float64 // warm-start imputation of numeric columns, used before any row is learned
	vocab  []map[string]int32
	levels [][]string
	names  []string
	// dayCenter is subtracted from the day count; set from the first row
	// learned (or the warm start) and then fixed.
	dayCenter float64
	centered  bool
	nnz       int
}

// NewFeaturizer returns a featurizer for spec and target with an empty
// vocabulary.
func NewFeaturizer(spec config.FeatureConfig, target string) (*Featurizer, error) {
	f := &Featurizer{spec: spec, target: target, cols: map[string]colRef{}}
	add := func(name string, ref colRef) error {
		if name == "" {
			return fmt.Errorf("featurizer: empty column name")
		}
		if _, dup := f.cols[name]; dup {
			return fmt.Errorf("featurizer: column %s is used twice", name)
		}
		f.cols[name] = ref
		return nil
	}
	if err := add(target, colRef{kind: kindTarget}); err != nil {
		return nil, err
	}
	for i, c := range spec.Numeric {
		if err := add(c, colRef{kindNumeric, i}); err != nil {
			return nil, err
		}
		f.names = append(f.names, c)
	}
	for i, c := range spec.Datetime {
		if err := add(c, colRef{kindDatetime, i}); err != nil {
			return nil, err
		}
		for _, p := range DatetimeParts {
			f.names = append(f.names, c+"."+p)
		}
	}
	for i, c := range spec.Categorical {
		if err := add(c, colRef{kindCategorical, i}); err != nil {
			return nil, err
		}
	}
	f.num = make([]runningStats, len(spec.Numeric))
	f.impute = make([]float64, len(spec.Numeric))
	f.vocab = make([]map[string]int32, len(spec.Categorical))
	f.levels = make([][]string, len(spec.Categorical))
	for i := range f.vocab {
		f.vocab[i] = map[string]int32{}
	}
	f.nnz = len(spec.Numeric) + len(spec.Categorical) + len(DatetimeParts)*len(spec.Datetime)
	return f, nil
}

// Dim returns the number of features so far.
func (f *Featurizer) Dim() int { return len(f.names) }

// Names returns the feature names by index; the slice must not be changed.
func (f *Featurizer) Names() []string { return f.names }

// newRow returns a row sized for f.
func (f *Featurizer) newRow() *row {
	return &row{
		num: make([]float64, len(f.spec.Numeric)), numOK: make([]bool, len(f.spec.Numeric)),
		cat: make([][]byte, len(f.spec.Categorical)), catOK: make([]bool, len(f.spec.Categorical)),
		dt: make([]int64, len(f.spec.Datetime)), dtOK: make([]bool, len(f.spec.Datetime)),
	}
}

// complete reports whether the image r was read from had every column the
// learner uses.
func (f *Featurizer) complete(r *row) bool { return r.present == len(f.cols) }

// read fills r from the row image img.
func (f *Featurizer) read(img change.Row, r *row) {
	clear(r.numOK)
	clear(r.catOK)
	clear(r.dtOK)
	r.yOK, r.present = false, 0
	for k := range img {
		ref, ok := f.cols[img[k].Name]
		if !ok {
			continue
		}
		r.present++
		v := img[k].Value
		switch ref.kind {
		case kindTarget:
			r.y, r.yOK = parseNumber(v)
		case kindNumeric:
			r.num[ref.i], r.numOK[ref.i] = parseNumber(v)
		case kindCategorical:
			if !isNull(v) {
				r.cat[ref.i], r.catOK[ref.i] = v, true
			}
		case kindDatetime:
			r.dt[ref.i], r.dtOK[ref.i] = parseTime(v)
		}
	}
}

// level returns the feature index of a categorical value (raw JSON), adding
// it to the vocabulary when grow is set; -1 when it is unknown and grow is
// not set.
func (f *Featurizer) level(c int, raw []byte, ok, grow bool) int32 {
	var key []byte
	escaped := false
	if ok {
		key, escaped = stringBytes(raw)
	}
	if !ok || len(key) == 0 {
		key, escaped = []byte(Unknown), false
	}
	if !escaped {
		if i, found := f.vocab[c][string(key)]; found {
			return i
		}
	}
	s := string(key)
	if escaped {
		s = unquote(raw)
		if i, found := f.vocab[c][s]; found {
			return i
		}
	}
	if !grow {
		return -1
	}
	return f.addLevel(c, s)
}

func (f *Featurizer) addLevel(c int, s string) int32 {
	i := int32(len(f.names))
	f.vocab[c][s] = i
	f.levels[c] = append(f.levels[c], s)
	f.names = append(f.names, f.spec.Categorical[c]+"="+s)
	return i
}

// encode writes r's raw features into v. With grow, new categorical levels
// join the vocabulary and the first datetime fixes the day centre; without
// it (predicting from a saved version), an unseen level sets no feature.
func (f *Featurizer) encode(r *row, v *Vec, grow bool) {
	v.reset()
	for i := range f.spec.Numeric {
		x := r.num[i]
		if !r.numOK[i] {
			x = f.imputed(i)
		}
		v.add(int32(i), x)
	}
	base := int32(len(f.spec.Numeric))
	for i := range f.spec.Datetime {
		if !r.dtOK[i] {
			for p := range DatetimeParts {
				v.add(base+int32(p), 0)
			}
		} else {
			us := r.dt[i]
			if grow && !f.centered {
				f.dayCenter = math.Floor(float64(us) / 86400e6)
				f.centered = true
			}
			secs := floorDiv(us, 1e6)
			days := floorDiv(secs, 86400)
			h := (secs - days*86400) / 3600
			dow := (days + 4) % 7 // 1970-01-01 was a Thursday
			if dow < 0 {
				dow += 7
			}
			m := monthFromDays(days) - 1
			v.add(base, hourSin[h])
			v.add(base+1, hourCos[h])
			v.add(base+2, dowSin[dow])
			v.add(base+3, dowCos[dow])
			v.add(base+4, monthSin[m])
			v.add(base+5, monthCos[m])
			// days − centre, exact in integers down to the centre's day.
			cd := math.Floor(f.dayCenter)
			v.add(base+6, float64(us-int64(cd)*86400e6)/86400e6-(f.dayCenter-cd))
		}
		base += int32(len(DatetimeParts))
	}
	for i := range f.spec.Categorical {
		if idx := f.level(i, r.cat[i], r.catOK[i], grow); idx >= 0 {
			v.add(idx, 1)
		}
	}
}

// imputed is the value a missing numeric column i takes.
func (f *Featurizer) imputed(i int) float64 {
	if f.num[i].N > 0 {
		return f.num[i].Mean
	}
	return f.impute[i]
}

// observe adds (sign +1) or removes (sign −1) r's numeric values from the
// running means used to impute.
func (f *Featurizer) observe(r *row, sign float64) {
	for i := range f.num {
		if !r.numOK[i] {
			continue
		}
		if sign > 0 {
			f.num[i].add(r.num[i])
		} else {
			f.num[i].remove(r.num[i])
		}
	}
}

// missing calls fn with the name of every feature column missing in r.
func (f *Featurizer) missing(r *row, fn func(col string)) {
	for i, ok := range r.numOK {
		if !ok {
			fn(f.spec.Numeric[i])
		}
	}
	for i, ok := range r.catOK {
		if !ok {
			fn(f.spec.Categorical[i])
		}
	}
	for i, ok := range r.dtOK {
		if !ok {
			fn(f.spec.Datetime[i])
		}
	}
}

var (
	hourSin, hourCos   [24]float64
	dowSin, dowCos     [7]float64
	monthSin, monthCos [12]float64
)

func init() {
	for i := range 24 {
		a := 2 * math.Pi * float64(i) / 24
		hourSin[i], hourCos[i] = math.Sin(a), math.Cos(a)
	}
	for i := range 7 {
		a := 2 * math.Pi * float64(i) / 7
		dowSin[i], dowCos[i] = math.Sin(a), math.Cos(a)
	}
	for i := range 12 {
		a := 2 * math.Pi * float64(i) / 12
		monthSin[i], monthCos[i] = math.Sin(a), math.Cos(a)
	}
}

// featurizerState is the featurizer's part of a saved version.
type featurizerState struct {
	Levels    map[string][]string     `json:"levels"` // by categorical column, in index order
	Numeric   map[string]runningStats `json:"numeric"`
	Impute    map[string]float64      `json:"impute,omitempty"`
	DayCenter float64                 `json:"day_center"`
	Centered  bool                    `json:"centered"`
}

func (f *Featurizer) state() featurizerState {
	st := featurizerState{Levels: map[string][]string{}, Numeric: map[string]runningStats{}, DayCenter: f.dayCenter, Centered: f.centered}
	for i, c := range f.spec.Categorical {
		st.Levels[c] = append([]string{}, f.levels[i]...)
	}
	for i, c := range f.spec.Numeric {
		st.Numeric[c] = f.num[i]
		if f.impute[i] != 0 {
			if st.Impute == nil {
				st.Impute = map[string]float64{}
			}
			st.Impute[c] = f.impute[i]
		}
	}
	return st
}

// restore loads st into a new featurizer. Levels are re-added in feature
// index order, so that indexes match the saved weights.
func (f *Featurizer) restore(st featurizerState, names []string) error {
	for i, c := range f.spec.Numeric {
		f.num[i] = st.Numeric[c]
		f.impute[i] = st.Impute[c]
	}
	f.dayCenter, f.centered = st.DayCenter, st.Centered
	fixed := len(f.names)
	if len(names) < fixed {
		return fmt.Errorf("restore featurizer: %d feature names, the spec alone gives %d", len(names), fixed)
	}
	for k, n := range names[:fixed] {
		if f.names[k] != n {
			return fmt.Errorf("restore featurizer: feature %d is %q, the spec gives %q", k, n, f.names[k])
		}
	}
	catIndex := map[string]int{}
	for i, c := range f.spec.Categorical {
		catIndex[c] = i
	}
	next := map[string]int{}
	for _, n := range names[fixed:] {
		col, lv, ok := cutLevel(n, catIndex)
		if !ok {
			return fmt.Errorf("restore featurizer: feature %q is not a level of a categorical column", n)
		}
		c := catIndex[col]
		want := st.Levels[col]
		if next[col] >= len(want) || want[next[col]] != lv {
			return fmt.Errorf("restore featurizer: level %q of %s is out of order", lv, col)
		}
		next[col]++
		f.addLevel(c, lv)
	}
	return nil
}

// cutLevel splits a categorical feature name "col=level" for a known column
// (column names may contain '=' too: the longest known prefix wins).
func cutLevel(name string, cols map[string]int) (col, level string, ok bool) {
	for i := len(name) - 1; i > 0; i-- {
		if name[i] == '=' {
			if _, known := cols[name[:i]]; known {
				return name[:i], name[i+1:], true
			}
		}
	}
	return "", "", false
}
