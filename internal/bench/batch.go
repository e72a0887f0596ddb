package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// runBatch times `tributary batch preprocess` on a generated seed-sized file
// and, with --big, on a 10M-row file, each as a child process whose peak RSS
// is read from wait4's rusage.
func runBatch(ctx context.Context, rep *Report, binary, tmp string, o options) error {
	dir, err := os.MkdirTemp(tmp, "batch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sizes := []int{o.batchRows}
	if o.big {
		sizes = append(sizes, o.bigRows)
	} else {
		rep.Skipped = append(rep.Skipped, fmt.Sprintf("batch preprocess on %d rows (pass --big)", o.bigRows))
	}
	for i, n := range sizes {
		b, err := preprocessOnce(ctx, binary, dir, n)
		if err != nil {
			return err
		}
		if i == 0 && n == o.batchRows {
			b.Target = "< 1 s"
			b.Pass = b.Seconds < 1
		} else {
			b.Target = ">= 500k rows/s, < 1 GB"
			b.Pass = b.RowsPerSec >= 500_000 && b.PeakRSSMB < 1024
		}
		rep.Batch = append(rep.Batch, b)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// preprocessOnce generates an n-row file and preprocesses it into Parquet.
func preprocessOnce(ctx context.Context, binary, dir string, n int) (Batch, error) {
	csv := filepath.Join(dir, fmt.Sprintf("ct_%d.csv", n))
	out := filepath.Join(dir, fmt.Sprintf("ct_%d.parquet", n))
	defer os.Remove(csv)
	defer os.Remove(out)
	progress("batch: tributary gen data --rows %d", n)
	start := time.Now()
	g, err := startChild("tributary gen data", filepath.Join(dir, "gen.log"), binary, "gen", "data", "--rows", fmt.Sprint(n), "--seed", "42", "--out", csv)
	if err != nil {
		return Batch{}, err
	}
	if err := g.wait(ctx); err != nil {
		return Batch{}, fmt.Errorf("gen data --rows %d: %w\n%s", n, err, g.logTail(10))
	}
	st, err := os.Stat(csv)
	if err != nil {
		return Batch{}, err
	}
	progress("  wrote %.0f MB in %.1fs", float64(st.Size())/1e6, time.Since(start).Seconds())

	progress("batch: tributary batch preprocess --in %s --out %s", filepath.Base(csv), filepath.Base(out))
	reportPath := filepath.Join(dir, "report.json")
	// The child's stdout (the JSON report) goes to a file; stderr is quiet.
	start = time.Now()
	c, err := startChild("tributary batch preprocess", reportPath, binary, "batch", "preprocess", "--quiet", "--json",
		"--tmp", dir, "--in", csv, "--out", out)
	if err != nil {
		return Batch{}, err
	}
	if err := c.wait(ctx); err != nil {
		return Batch{}, fmt.Errorf("batch preprocess %d rows: %w\n%s", n, err, c.logTail(10))
	}
	secs := time.Since(start).Seconds()
	defer os.Remove(reportPath)
	raw, err := os.ReadFile(reportPath)
	if err != nil {
		return Batch{}, err
	}
	var r struct {
		RowsIn int64 `json:"rows_in"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return Batch{}, fmt.Errorf("batch preprocess %d rows: read its JSON report: %w", n, err)
	}
	rows := int(r.RowsIn)
	if rows == 0 {
		rows = n
	}
	b := Batch{Rows: rows, InputMB: float64(st.Size()) / 1e6, Seconds: secs, RowsPerSec: float64(rows) / secs, PeakRSSMB: c.maxRSSMB()}
	progress("  %d rows in %.2fs: %.0f rows/s, peak RSS %.0f MB", rows, secs, b.RowsPerSec, b.PeakRSSMB)
	return b, nil
}
