package learner

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/batch"
	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/gen"
)

// A learner saved at event k and restored continues exactly as one that
// never stopped: same weights, counts and metrics at the end.
func TestRestoreContinuesExactly(t *testing.T) {
	for _, algo := range []string{"sgd", "ridge"} {
		t.Run(algo, func(t *testing.T) {
			cfg := testConfig(algo)
			g := gen.NewGenerator(5, gen.Options{Rows: 3000})
			var evs []*change.Event
			var prev change.Row
			for i := range 3000 {
				img := genImage(int64(i+1), g.Next())
				evs = append(evs, event(change.OpCreate, nil, img))
				if i%7 == 3 && prev != nil {
					evs = append(evs, event(change.OpDelete, prev, nil))
				}
				prev = img
			}
			whole, _ := New(cfg)
			resumed, _ := New(cfg)
			st := Store{Blobs: NewDirBlobs(t.TempDir())}
			for i, ev := range evs {
				whole.Apply(ev, uint64(i+1))
				if i < 1500 {
					resumed.Apply(ev, uint64(i+1))
				}
				if i == 1499 {
					// Saving solves ridge exactly, as the runner does.
					if _, err := whole.Snapshot(1); err != nil {
						t.Fatal(err)
					}
					whole.Saved(1)
				}
			}
			v, err := resumed.Snapshot(1)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Save(context.Background(), v); err != nil {
				t.Fatal(err)
			}
			loaded, _, err := st.Latest(context.Background(), "amount")
			if err != nil {
				t.Fatal(err)
			}
			if loaded.StreamSeq != 1500 || loaded.Version != 1 {
				t.Fatalf("loaded version %d at seq %d", loaded.Version, loaded.StreamSeq)
			}
			resumed, err = Restore(cfg, loaded)
			if err != nil {
				t.Fatal(err)
			}
			for i := int(resumed.Seq()); i < len(evs); i++ {
				resumed.Apply(evs[i], uint64(i+1))
			}
			a, _ := whole.Snapshot(2)
			b, _ := resumed.Snapshot(2)
			a.CreatedAt, b.CreatedAt = time.Time{}, time.Time{}
			a.Parent = b.Parent
			if b.Parent != 1 {
				t.Errorf("parent = %d, want 1", b.Parent)
			}
			// The rolling window restarts empty; everything else is equal.
			a.Metrics.Rolling, b.Metrics.Rolling = Scores{}, Scores{}
			ja, _ := a.canonical()
			jb, _ := b.canonical()
			if !bytes.Equal(ja, jb) {
				for _, n := range a.FeatureNames {
					if a.Weights[n] != b.Weights[n] {
						t.Errorf("weight %s: %v uninterrupted, %v resumed", n, a.Weights[n], b.Weights[n])
					}
				}
				t.Fatalf("resumed learner differs from the uninterrupted one\n%s\n%s", ja[:min(400, len(ja))], jb[:min(400, len(jb))])
			}
		})
	}
}

// A damaged version fails its checksum; the store falls back to the
// previous one.
func TestChecksumAndFallback(t *testing.T) {
	cfg := testConfig("ridge")
	l, _ := New(cfg)
	dir := t.TempDir()
	st := Store{Blobs: NewDirBlobs(dir)}
	g := gen.NewGenerator(1, gen.Options{Rows: 100})
	for v := uint64(1); v <= 2; v++ {
		l.Apply(event(change.OpCreate, nil, genImage(int64(v), g.Next())), v)
		ver, err := l.Snapshot(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Save(context.Background(), ver); err != nil {
			t.Fatal(err)
		}
		l.Saved(v)
	}
	p := filepath.Join(dir, "amount", "v0000000002.json")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(b, []byte(`"inserts": 2`), []byte(`"inserts": 3`), 1), 0o644)
	if _, err := st.Load(context.Background(), "amount", 2); err == nil || !bytes.Contains([]byte(err.Error()), []byte("checksum")) {
		t.Fatalf("edited version loaded: %v", err)
	}
	v, skipped, err := st.Latest(context.Background(), "amount")
	if err != nil || v.Version != 1 || len(skipped) != 1 {
		t.Fatalf("Latest = %v, %v, %v; want version 1 with one skipped", v, skipped, err)
	}
	if _, _, err := st.Latest(context.Background(), "other"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Latest of a learner without versions: %v", err)
	}
	vs, _ := st.Versions(context.Background(), "amount")
	if !reflect.DeepEqual(vs, []uint64{1, 2}) {
		t.Errorf("versions %v", vs)
	}
}

// A resumed version must match the learner's spec.
func TestRestoreRefusesAnotherSpec(t *testing.T) {
	cfg := testConfig("sgd")
	l, _ := New(cfg)
	v, _ := l.Snapshot(1)
	other := cfg
	other.Features.Numeric = nil
	if _, err := Restore(other, v); err == nil {
		t.Error("restored a version into a learner with other features")
	}
	other = cfg
	other.Algorithm = "ridge"
	other.L2 = 1
	if _, err := Restore(other, v); err == nil {
		t.Error("restored an sgd version as ridge")
	}
}

// writeTruthModel writes a batch model file holding the generator's true
// coefficients on standardized features.
func writeTruthModel(t *testing.T) string {
	truth := gen.TruthLinear()
	m := &batch.Model{Format: batch.ModelFormat, FormatVersion: batch.ModelFormatVersion, CreatedAt: time.Now().UTC(),
		Algorithm: "ridge", Lambda: 1, Target: "amount", Features: batch.DefaultSpec(), Weights: map[string]float64{}}
	ageMean, ageStd, daysMean, daysStd := 42.0, 14.0, 19500.0, 210.0
	m.Numeric = []batch.NumericParam{{Name: "age", Mean: ageMean, Std: ageStd, Impute: 42}}
	levels := [][]string{gen.Genders, gen.TransactionTypes, gen.Locations, gen.Devices}
	m.FeatureNames = []string{"age"}
	m.Weights["age"] = truth.Coefficients["age"] * ageStd
	m.Intercept = truth.Intercept + truth.Coefficients["age"]*ageMean
	for i, c := range batch.DefaultSpec().Categorical {
		m.Categorical = append(m.Categorical, batch.CategoricalParam{Name: c, Levels: levels[i]})
		for _, lv := range levels[i] {
			n := batch.CategoricalFeature(c, lv)
			m.FeatureNames = append(m.FeatureNames, n)
			m.Weights[n] = truth.Coefficients[n]
		}
	}
	m.Datetime = []batch.DatetimeParam{{Name: "txn_date", Parts: batch.DatetimeParts, DaysMean: daysMean, DaysStd: daysStd}}
	for _, p := range batch.DatetimeParts {
		n := batch.DatetimeFeature("txn_date", p)
		m.FeatureNames = append(m.FeatureNames, n)
		m.Weights[n] = truth.Coefficients[n]
	}
	m.Weights["txn_date.days"] *= daysStd
	m.Intercept += truth.Coefficients["txn_date.days"] * daysMean
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := batch.WriteModel(f, m); err != nil {
		t.Fatal(err)
	}
	return path
}

// A warm start predicts what the batch model predicts before any row is
// learned, for both algorithms, and is recorded in the version.
func TestWarmStartPredictsLikeTheBatchModel(t *testing.T) {
	path := writeTruthModel(t)
	truth := gen.TruthLinear()
	g := gen.NewGenerator(9, gen.Options{Rows: 100})
	rows := make([]gen.Row, 5)
	for i := range rows {
		rows[i] = g.Next()
	}
	for _, algo := range []string{"sgd", "ridge"} {
		cfg := testConfig(algo)
		cfg.WarmStart = path
		v, err := WarmStart(cfg, path)
		if err != nil {
			t.Fatal(err)
		}
		if v.Version != 1 || v.Parent != 0 || v.WarmStart == nil || v.WarmStart.Path != path {
			t.Fatalf("%s: warm-start version %+v", algo, v.WarmStart)
		}
		enc, _ := v.Encode()
		v, err = DecodeVersion(enc)
		if err != nil {
			t.Fatal(err)
		}
		l, err := Restore(cfg, v)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			want := truth.Eval(batch.RawFeatures(batch.DefaultSpec(), batch.Input{
				Numeric:     map[string]float64{"age": float64(r.Age)},
				Categorical: map[string]string{"gender": r.Gender, "transaction_type": r.TransactionType, "location": r.Location, "device": r.Device},
				Datetime:    map[string]time.Time{"txn_date": r.Date},
			}))
			res := l.Apply(event(change.OpCreate, nil, genImage(int64(i+1), r)), uint64(i+1))
			if i == 0 || algo == "ridge" {
				if math.Abs(res.Prediction-want) > 1e-9 {
					t.Errorf("%s: row %d predicted %v, the batch model says %v", algo, i, res.Prediction, want)
				}
			}
		}
	}
}

// A version predicts from its own weights what the learner predicted when
// it was saved.
func TestPredictVersionMatchesLearner(t *testing.T) {
	for _, algo := range []string{"sgd", "ridge"} {
		l, _ := New(testConfig(algo))
		g := gen.NewGenerator(2, gen.Options{Rows: 2000})
		for i := range 2000 {
			l.Apply(event(change.OpCreate, nil, genImage(int64(i+1), g.Next())), uint64(i+1))
		}
		v, err := l.Snapshot(1)
		if err != nil {
			t.Fatal(err)
		}
		img := genImage(1, g.Next())
		want, _ := l.Predict(img)
		p, err := PredictVersion(v, img)
		if err != nil || math.Abs(p.Prediction-want) > 1e-9*math.Abs(want) || len(p.Imputed) != 0 {
			t.Errorf("%s: PredictVersion = %+v, %v; learner predicts %v", algo, p, err, want)
		}
		img = change.Row{{Name: "location", Value: []byte(`"Atlantis"`)}}
		p, _ = PredictVersion(v, img)
		if len(p.Imputed) != 5 || len(p.UnseenLevels) != 1 || p.UnseenLevels[0] != "location=Atlantis" {
			t.Errorf("%s: sparse row: %+v", algo, p)
		}
	}
}
