package learner

import (
	"math"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/batch"
	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/gen"
)

// On the generated seed stream (250k rows), ridge's prequential RMSE is
// within 1% of the in-sample RMSE of a ridge fit on all the rows, and sgd's
// within 3% of ridge's.
func TestPrequentialAccuracyOnSeedStream(t *testing.T) {
	rows := 250000
	if testing.Short() {
		rows = 50000
	}
	g := gen.NewGenerator(1, gen.Options{Rows: rows})
	imgs := make([]change.Row, rows)
	truth := gen.TruthLinear()
	spec := batch.DefaultSpec()
	var truthSq float64
	for i := range imgs {
		r := g.Next()
		imgs[i] = genImage(int64(i+1), r)
		x := batch.RawFeatures(spec, batch.Input{
			Numeric:     map[string]float64{"age": float64(r.Age)},
			Categorical: map[string]string{"gender": r.Gender, "transaction_type": r.TransactionType, "location": r.Location, "device": r.Device},
			Datetime:    map[string]time.Time{"txn_date": r.Date},
		})
		e := truth.Eval(x) - float64(r.Amount)/100
		truthSq += e * e
	}
	noise := math.Sqrt(truthSq / float64(rows))

	run := func(algo string) (*Learner, Metrics) {
		l, err := New(testConfig(algo))
		if err != nil {
			t.Fatal(err)
		}
		for i, img := range imgs {
			l.Apply(event(change.OpCreate, nil, img), uint64(i+1))
		}
		return l, l.Metrics()
	}
	ridge, rm := run("ridge")
	_, sm := run("sgd")

	// In-sample RMSE of the exact fit on all rows: the ridge learner's final
	// weights applied to every row.
	var sq float64
	for _, img := range imgs {
		p, err := ridge.Predict(img)
		if err != nil {
			t.Fatal(err)
		}
		y, _ := parseNumber(mustGet(img, "amount"))
		sq += (p - y) * (p - y)
	}
	inSample := math.Sqrt(sq / float64(rows))
	t.Logf("rows %d: noise floor (truth) RMSE %.3f; ridge in-sample %.3f; prequential ridge %.3f (MAE %.3f, R² %.4f), sgd %.3f (MAE %.3f, R² %.4f)",
		rows, noise, inSample, rm.Cumulative.RMSE, rm.Cumulative.MAE, rm.Cumulative.R2, sm.Cumulative.RMSE, sm.Cumulative.MAE, sm.Cumulative.R2)
	if rm.Cumulative.RMSE > 1.01*inSample {
		t.Errorf("ridge prequential RMSE %.4f is more than 1%% above the in-sample RMSE %.4f", rm.Cumulative.RMSE, inSample)
	}
	if sm.Cumulative.RMSE > 1.03*rm.Cumulative.RMSE {
		t.Errorf("sgd prequential RMSE %.4f is more than 3%% above ridge's %.4f", sm.Cumulative.RMSE, rm.Cumulative.RMSE)
	}
	if rm.Cumulative.N != int64(rows) || rm.Rolling.N != 1000 {
		t.Errorf("metrics counted %d predictions, rolling %d", rm.Cumulative.N, rm.Rolling.N)
	}
}

func mustGet(r change.Row, col string) []byte {
	v, _ := r.Get(col)
	return v
}
