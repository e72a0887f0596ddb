package batch_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tributary-cdc/tributary/batch"
	"github.com/tributary-cdc/tributary/gen"
)

// BenchmarkPreprocess250k measures Preprocess on the 250,000-row seed file.
func BenchmarkPreprocess250k(b *testing.B) {
	dir := b.TempDir()
	in := filepath.Join(dir, "ct.csv")
	f, err := os.Create(in)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := gen.WriteCSV(context.Background(), f, 250000, 42, gen.DefaultDirt()); err != nil {
		b.Fatal(err)
	}
	f.Close()
	for _, ext := range []string{"parquet", "csv"} {
		b.Run(ext, func(b *testing.B) {
			for b.Loop() {
				rep, err := batch.Preprocess(context.Background(), batch.Options{In: in, Out: filepath.Join(dir, "out."+ext)})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(rep.RowsIn)/rep.Seconds, "rows/s")
			}
		})
	}
}
