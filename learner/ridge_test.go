package learner

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/gen"
	"gonum.org/v1/gonum/mat"
)

// scratchRidge fits ridge from scratch on the rows' raw feature vectors the
// straightforward way: dense standardized design matrix, normal equations,
// weights mapped back to raw units.
func scratchRidge(t *testing.T, xs [][]float64, ys []float64, lambda float64) (float64, []float64) {
	t.Helper()
	n, d := len(xs), len(xs[0])
	mean := make([]float64, d)
	std := make([]float64, d)
	for _, x := range xs {
		for j, v := range x {
			mean[j] += v / float64(n)
		}
	}
	for _, x := range xs {
		for j, v := range x {
			std[j] += (v - mean[j]) * (v - mean[j]) / float64(n)
		}
	}
	var keep []int
	for j := range std {
		std[j] = math.Sqrt(std[j])
		if std[j] > 1e-9 {
			keep = append(keep, j)
		}
	}
	ybar := 0.0
	for _, y := range ys {
		ybar += y / float64(n)
	}
	z := mat.NewDense(n, len(keep), nil)
	yc := mat.NewVecDense(n, nil)
	for i, x := range xs {
		for p, j := range keep {
			z.Set(i, p, (x[j]-mean[j])/std[j])
		}
		yc.SetVec(i, ys[i]-ybar)
	}
	var ztz mat.Dense
	ztz.Mul(z.T(), z)
	for p := range keep {
		ztz.Set(p, p, ztz.At(p, p)+lambda)
	}
	var zty, beta mat.VecDense
	zty.MulVec(z.T(), yc)
	if err := beta.SolveVec(&ztz, &zty); err != nil {
		t.Fatal(err)
	}
	w := make([]float64, d)
	icpt := ybar
	for p, j := range keep {
		w[j] = beta.AtVec(p) / std[j]
		icpt -= w[j] * mean[j]
	}
	return icpt, w
}

// Inserts, deletes and updates leave the ridge learner equal to a fit from
// scratch on the rows that remain.
func TestRidgeEqualsFitFromScratchAfterDeletesAndUpdates(t *testing.T) {
	cfg := testConfig("ridge")
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := gen.NewGenerator(3, gen.Options{Rows: 5000})
	rng := rand.New(rand.NewPCG(1, 2))
	live := map[int64]change.Row{}
	var seq uint64
	apply := func(ev *change.Event) {
		seq++
		if r := l.Apply(ev, seq); r.NotUnlearned {
			t.Fatalf("event %d not unlearned", seq)
		}
	}
	for id := int64(1); id <= 5000; id++ {
		img := genImage(id, g.Next())
		live[id] = img
		apply(event(change.OpCreate, nil, img))
		if rng.IntN(5) == 0 { // delete a random live row
			for k, old := range live {
				apply(event(change.OpDelete, old, nil))
				delete(live, k)
				break
			}
		}
		if rng.IntN(10) == 0 { // update one: new location, device and amount
			for k, old := range live {
				nr := g.Next()
				img := append(change.Row{}, old...)
				img[3].Value = change.AppendString(nil, nr.AmountString())
				img[7].Value = change.AppendString(nil, nr.Location)
				img[8].Value = change.AppendString(nil, nr.Device)
				apply(event(change.OpUpdate, old, img))
				live[k] = img
				break
			}
		}
	}
	v, err := l.Snapshot(1)
	if err != nil {
		t.Fatal(err)
	}
	// From scratch on the live rows, featurized with the learner's own
	// vocabulary and day centre.
	var xs [][]float64
	var ys []float64
	r := l.feat.newRow()
	var vec Vec
	for _, img := range live {
		l.feat.read(img, r)
		l.feat.encode(r, &vec, false)
		x := make([]float64, l.feat.Dim())
		for k, i := range vec.Idx {
			x[i] = vec.Val[k]
		}
		xs = append(xs, x)
		ys = append(ys, r.y)
	}
	icpt, w := scratchRidge(t, xs, ys, cfg.L2)
	worst := math.Abs(icpt - v.Intercept)
	if worst > 1e-6 {
		t.Errorf("intercept %v, from scratch %v", v.Intercept, icpt)
	}
	for j, n := range v.FeatureNames {
		d := math.Abs(w[j] - v.Weights[n])
		worst = max(worst, d)
		if d > 1e-6 {
			t.Errorf("weight %s = %v, from scratch %v (diff %g)", n, v.Weights[n], w[j], d)
		}
	}
	t.Logf("largest difference from the fit from scratch: %.3g", worst)
	c := v.Counts
	if c.Inserts != 5000 || c.Deletes == 0 || c.Updates == 0 || int64(len(live)) != c.Inserts-c.Deletes {
		t.Errorf("counts %+v, %d live rows", c, len(live))
	}
	t.Logf("%d live rows after %d inserts, %d deletes, %d updates", len(live), c.Inserts, c.Deletes, c.Updates)
}

// A truncate resets ridge; an update without a before image is counted,
// not guessed.
func TestRidgeTruncateAndMissingBeforeImage(t *testing.T) {
	l, err := New(testConfig("ridge"))
	if err != nil {
		t.Fatal(err)
	}
	g := gen.NewGenerator(1, gen.Options{Rows: 100})
	img := genImage(1, g.Next())
	l.Apply(event(change.OpCreate, nil, img), 1)
	if r := l.Apply(event(change.OpUpdate, nil, img), 2); !r.NotUnlearned {
		t.Error("update without before image was applied")
	}
	if r := l.Apply(event(change.OpDelete, change.Row{img[0]}, nil), 3); !r.NotUnlearned {
		t.Error("delete with a key-only before image was applied")
	}
	if l.ridge.N() != 1 {
		t.Errorf("rows in statistics = %v, want 1", l.ridge.N())
	}
	l.Apply(event(change.OpTruncate, nil, nil), 4)
	if l.ridge.N() != 0 {
		t.Errorf("rows after truncate = %v", l.ridge.N())
	}
	c := l.Counts()
	if c.UpdatesNotUnlearned != 1 || c.DeletesNotUnlearned != 1 || c.Truncates != 1 || c.TruncatesNotUnlearned != 0 {
		t.Errorf("counts = %+v", c)
	}
}

// A PostgreSQL snapshot taken again (another consistent point) restates the
// table: ridge starts over from the new reads instead of counting the rows
// twice, also when the first snapshot's reads come from a restored version.
func TestRidgeSnapshotRetakeRestatesTheTable(t *testing.T) {
	cfg := testConfig("ridge")
	g := gen.NewGenerator(5, gen.Options{Rows: 200})
	var imgs []change.Row
	for id := int64(1); id <= 200; id++ {
		imgs = append(imgs, genImage(id, g.Next()))
	}
	read := func(l *Learner, lsn uint64, seq *uint64, rows []change.Row) {
		for _, img := range rows {
			ev := event(change.OpRead, nil, img)
			ev.Source.LSN = lsn
			*seq++
			l.Apply(ev, *seq)
		}
	}
	// Reference: one snapshot of all 200 rows.
	ref, _ := New(cfg)
	var rs uint64
	read(ref, 100, &rs, imgs)
	refV, err := ref.Snapshot(1)
	if err != nil {
		t.Fatal(err)
	}

	// First attempt reads 120 rows and is saved; the retake reads all 200.
	l, _ := New(cfg)
	var seq uint64
	read(l, 100, &seq, imgs[:120])
	v, err := l.Snapshot(1)
	if err != nil {
		t.Fatal(err)
	}
	l, err = Restore(cfg, v)
	if err != nil {
		t.Fatal(err)
	}
	read(l, 200, &seq, imgs)
	if l.ridge.N() != 200 {
		t.Fatalf("rows in statistics = %v, want 200 (the retake restates the table)", l.ridge.N())
	}
	got, err := l.Snapshot(2)
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range refV.Weights {
		if d := math.Abs(got.Weights[name] - w); d > 1e-9 {
			t.Errorf("weight %s = %v, want %v", name, got.Weights[name], w)
		}
	}
	if c := l.Counts(); c.SnapshotRetakes != 1 {
		t.Errorf("snapshot_retakes = %d, want 1", c.SnapshotRetakes)
	}
}
