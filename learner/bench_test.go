package learner

import (
	"context"
	"testing"

	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/gen"
)

// benchRows returns n generated customer_transactions rows, read by l's
// featurizer (the values parsed, as the learner holds them after reading a
// row image).
func benchRows(b *testing.B, l *Learner, n int) []*row {
	g := gen.NewGenerator(1, gen.Options{Rows: n})
	rows := make([]*row, n)
	for i := range rows {
		rows[i] = l.feat.newRow()
		l.feat.read(genImage(int64(i+1), g.Next()), rows[i])
	}
	return rows
}

// benchUpdates measures one prequential step per row on the
// customer_transactions features: featurize the parsed values, predict,
// learn, update the running means.
func benchUpdates(b *testing.B, algo string) {
	l, err := New(testConfig(algo))
	if err != nil {
		b.Fatal(err)
	}
	rows := benchRows(b, l, 1<<16)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := rows[i&(len(rows)-1)]
		l.feat.encode(r, &l.vec, true)
		p := l.algo.Predict(&l.vec)
		l.eval.Add(p, r.y)
		l.algo.Update(&l.vec, r.y, 1)
		l.feat.observe(r, 1)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}

func BenchmarkSGDUpdate(b *testing.B)   { benchUpdates(b, "sgd") }
func BenchmarkRidgeUpdate(b *testing.B) { benchUpdates(b, "ridge") }

// benchApply measures Learner.Apply on insert events whose envelope is
// decoded but whose column values are still raw JSON (decimal strings,
// ISO timestamps).
func benchApply(b *testing.B, algo string) {
	l, err := New(testConfig(algo))
	if err != nil {
		b.Fatal(err)
	}
	g := gen.NewGenerator(1, gen.Options{Rows: 1 << 16})
	evs := make([]*change.Event, 1<<16)
	for i := range evs {
		evs[i] = event(change.OpCreate, nil, genImage(int64(i+1), g.Next()))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l.Apply(evs[i&(len(evs)-1)], uint64(i+1))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkSGDApply(b *testing.B)   { benchApply(b, "sgd") }
func BenchmarkRidgeApply(b *testing.B) { benchApply(b, "ridge") }

// benchSave measures saving a version of a learner that has learned 100k
// rows: snapshot (ridge: an exact solve), encode with checksum, and write
// the file with fsync.
func benchSave(b *testing.B, algo string) {
	l, err := New(testConfig(algo))
	if err != nil {
		b.Fatal(err)
	}
	g := gen.NewGenerator(1, gen.Options{Rows: 100000})
	for i := range 100000 {
		l.Apply(event(change.OpCreate, nil, genImage(int64(i+1), g.Next())), uint64(i+1))
	}
	st := Store{Blobs: NewDirBlobs(b.TempDir())}
	b.ResetTimer()
	size := 0
	for i := 0; i < b.N; i++ {
		v, err := l.Snapshot(uint64(i + 1))
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Save(context.Background(), v); err != nil {
			b.Fatal(err)
		}
		l.Saved(v.Version)
		if i == 0 {
			enc, _ := v.Encode()
			size = len(enc)
		}
	}
	b.ReportMetric(float64(size), "bytes/version")
}

func BenchmarkSGDSaveVersion(b *testing.B)   { benchSave(b, "sgd") }
func BenchmarkRidgeSaveVersion(b *testing.B) { benchSave(b, "ridge") }
