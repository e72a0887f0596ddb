package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/tributary-cdc/tributary/gen"
	"github.com/tributary-cdc/tributary/internal/progress"
)

func init() { commands = append(commands, newGenCmd) }

func newGenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gen",
		Short: "Generate the seed dataset, load it, drive a workload",
	}
	cmd.AddCommand(newGenDataCmd(), newGenLoadCmd(), newGenWorkloadCmd())
	return cmd
}

func newGenDataCmd() *cobra.Command {
	var (
		rows   int
		seed   int64
		out    string
		clean  bool
		asJSON bool
		quiet  bool
		dirt   = gen.DefaultDirt()
	)
	cmd := &cobra.Command{
		Use:   "data --rows N --out CSV",
		Short: "Write the seed CSV (deterministic for a seed) and its truth sidecar <out>.truth.json",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("gen data: --out is required")
			}
			if clean {
				dirt = gen.DirtOptions{}
			}
			f, err := os.Create(out)
			if err != nil {
				return fmt.Errorf("gen data: %w", err)
			}
			start := time.Now()
			cw := &lineCounter{w: f}
			stop := func() {}
			if !quiet {
				stop = progress.Every(time.Second, func() {
					n := cw.lines.Load()
					fmt.Fprintf(os.Stderr, "gen data: %d/%d lines (%.0f%%), %.0f lines/s\n", n, rows+1, 100*float64(n)/float64(rows+1), float64(n)/time.Since(start).Seconds())
				})
			}
			truth, err := gen.WriteCSV(cmd.Context(), cw, rows, seed, dirt)
			stop()
			if cerr := f.Close(); err == nil && cerr != nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("gen data: %w", err)
			}
			if err := gen.WriteTruth(out+".truth.json", truth); err != nil {
				return fmt.Errorf("gen data: %w", err)
			}
			el := time.Since(start)
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), map[string]any{
					"out": out, "truth": out + ".truth.json", "lines": truth.Lines, "rows": truth.Rows,
					"seed": seed, "seconds": el.Seconds(), "truth_r2": truth.R2, "noise_sd": truth.NoiseSD,
					"injected": truth.Injected,
				})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d lines (%d transactions, %d exact + %d near duplicates) in %.2fs; truth R² %.4f, noise sd %.1f -> %s.truth.json\n",
				out, truth.Lines, truth.Rows, truth.Injected.ExactDuplicates, truth.Injected.NearDuplicates, el.Seconds(), truth.R2, truth.NoiseSD, out)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&rows, "rows", 250000, "data lines to write (duplicate copies included)")
	f.Int64Var(&seed, "seed", 42, "random seed; the same seed gives the same bytes")
	f.StringVar(&out, "out", "", "output CSV path")
	f.BoolVar(&clean, "clean", false, "turn all dirt off")
	f.BoolVar(&quiet, "quiet", false, "no progress lines")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.Float64Var(&dirt.Missing, "missing", dirt.Missing, "chance each field is missing")
	f.Float64Var(&dirt.ExactDuplicates, "exact-dups", dirt.ExactDuplicates, "share of lines that are exact duplicates")
	f.Float64Var(&dirt.NearDuplicates, "near-dups", dirt.NearDuplicates, "share of lines that are near duplicates")
	f.Float64Var(&dirt.AmountFormat, "amount-format", dirt.AmountFormat, "chance an amount has a currency symbol or separators")
	f.Float64Var(&dirt.AgeDirty, "age-dirty", dirt.AgeDirty, "chance an age is out of range or text")
	f.Float64Var(&dirt.DateFormats, "date-formats", dirt.DateFormats, "chance a date is in a non-canonical format")
	f.Float64Var(&dirt.CategoryNoise, "category-noise", dirt.CategoryNoise, "chance a category has stray case or whitespace")
	f.Float64Var(&dirt.Outliers, "outliers", dirt.Outliers, "chance an amount is an outlier (x10-x100)")
	return cmd
}

// lineCounter counts the lines written through it.
type lineCounter struct {
	w     io.Writer
	lines atomic.Int64
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.lines.Add(int64(bytes.Count(p, []byte{'\n'})))
	return c.w.Write(p)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newGenLoadCmd() *cobra.Command {
	var (
		dsn, in string
		asJSON  bool
		quiet   bool
	)
	cmd := &cobra.Command{
		Use:   "load --dsn DSN --in CSV",
		Short: "Create customer_transactions if missing and load a CSV into it (COPY for PostgreSQL, batched INSERTs for MySQL/MariaDB)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dsn == "" || in == "" {
				return fmt.Errorf("gen load: --dsn and --in are required")
			}
			var progress io.Writer
			if !quiet {
				progress = os.Stderr
			}
			rep, err := gen.Load(cmd.Context(), dsn, in, progress)
			if err != nil {
				return err // "load <csv>: ..."
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "loaded %d of %d rows into %s (%s) in %.2fs, %.0f rows/s; skipped %d %v\n",
				rep.Loaded, rep.Rows, rep.Table, rep.Database, rep.Seconds, rep.RowsPerSec, rep.Skipped, rep.ByReason)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dsn, "dsn", "", "postgres://... or user:pass@tcp(host:port)/db")
	f.StringVar(&in, "in", "", "CSV to load (the gen data format)")
	f.BoolVar(&quiet, "quiet", false, "no progress lines")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func newGenWorkloadCmd() *cobra.Command {
	var (
		w      gen.Workload
		mix    string
		asJSON bool
		quiet  bool
	)
	cmd := &cobra.Command{
		Use:   "workload --dsn DSN --rate R",
		Short: "Drive inserts, updates and deletes into customer_transactions at a steady rate",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if w.DSN == "" {
				return fmt.Errorf("gen workload: --dsn is required")
			}
			m, err := gen.ParseMix(mix)
			if err != nil {
				return fmt.Errorf("gen workload: --mix: %w", err)
			}
			w.Mix = m
			if !quiet {
				w.Progress = os.Stderr
			}
			start := time.Now()
			t, err := w.Run(cmd.Context())
			el := time.Since(start).Seconds()
			if err != nil && t.Commits == 0 {
				return err
			}
			if asJSON {
				if jerr := writeJSON(cmd.OutOrStdout(), map[string]any{
					"commits": t.Commits, "inserts": t.Inserts, "updates": t.Updates, "deletes": t.Deletes,
					"seconds": el, "commits_per_second": float64(t.Commits) / el, "target_rate": w.Rate,
				}); jerr != nil {
					return jerr
				}
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "%d commits in %.1fs (%.0f/s, target %.0f): %d inserts, %d updates, %d deletes\n",
					t.Commits, el, float64(t.Commits)/el, w.Rate, t.Inserts, t.Updates, t.Deletes)
			}
			return err // "workload: ..."
		},
	}
	f := cmd.Flags()
	f.StringVar(&w.DSN, "dsn", "", "postgres://...")
	f.Float64Var(&w.Rate, "rate", 100, "commits per second")
	f.DurationVar(&w.Duration, "duration", 0, "how long to run (0: until interrupted)")
	f.StringVar(&mix, "mix", "insert=70,update=20,delete=10", "relative weights of inserts, updates and deletes")
	f.Int64Var(&w.Seed, "seed", 42, "random seed")
	f.IntVar(&w.BatchSize, "batch", 1, "rows per transaction")
	f.BoolVar(&quiet, "quiet", false, "no progress lines")
	f.BoolVar(&asJSON, "json", false, "print the totals as JSON")
	return cmd
}
