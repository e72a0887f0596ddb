package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/tributary-cdc/tributary/batch"
)

func init() { commands = append(commands, newBatchCmd) }

func newBatchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "batch",
		Short: "Clean and featurize a CSV, train a warm-start model",
	}
	cmd.AddCommand(newBatchPreprocessCmd(), newBatchTrainCmd())
	return cmd
}

func newBatchPreprocessCmd() *cobra.Command {
	var (
		o        batch.Options
		asJSON   bool
		quiet    bool
		memLimit int64
	)
	cmd := &cobra.Command{
		Use:   "preprocess --in CSV --out FILE",
		Short: "Repair, deduplicate, impute, flag outliers, standardize and featurize a CSV into Parquet or CSV",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.In == "" || o.Out == "" {
				return fmt.Errorf("batch preprocess: --in and --out are required")
			}
			if memLimit > 0 {
				debug.SetMemoryLimit(memLimit << 20)
			}
			if !quiet {
				o.Progress = os.Stderr
			}
			rep, err := batch.Preprocess(cmd.Context(), o)
			if err != nil {
				return err // "preprocess <in>: ..."
			}
			rss := peakRSSMB()
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), struct {
					*batch.Report
					PeakRSSMB float64 `json:"peak_rss_mb"`
				}{rep, rss})
			}
			printPreprocess(cmd.OutOrStdout(), rep)
			fmt.Fprintf(cmd.OutOrStdout(), "peak RSS %.0f MB\n", rss)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.In, "in", "", "input CSV")
	f.StringVar(&o.Out, "out", "", "output file: .parquet or .csv")
	f.StringVar(&o.Categorical, "categorical", "unknown", "fill for a missing category: unknown (the level Unknown) or mode")
	f.IntVar(&o.AgeMin, "age-min", 18, "lowest valid age")
	f.IntVar(&o.AgeMax, "age-max", 100, "highest valid age")
	f.DurationVar(&o.NearDuplicateWindow, "near-window", 5*time.Minute, "near-duplicate time window")
	f.Float64Var(&o.OutlierIQR, "outlier-iqr", 3, "k of the outlier fences Q1-k*IQR, Q3+k*IQR")
	f.IntVar(&o.Workers, "workers", 0, "parsing goroutines (default: the number of CPUs)")
	f.IntVar(&o.RunRows, "run-rows", 2_000_000, "rows sorted in memory before a run is spilled to disk")
	f.StringVar(&o.TempDir, "tmp", "", "directory for spilled runs (default: the system temp dir)")
	f.Int64Var(&memLimit, "mem-limit-mb", 768, "soft Go memory limit in MiB (0: none)")
	f.BoolVar(&quiet, "quiet", false, "no progress lines")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// peakRSSMB returns the process's peak resident set size in MB (Linux
// reports ru_maxrss in KiB).
func peakRSSMB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) * 1024 / 1e6
}

func printPreprocess(w io.Writer, r *batch.Report) {
	fmt.Fprintf(w, "rows in %d = out %d + duplicates %d (exact %d, near %d) + rejected %d  [reconciled: %v]\n",
		r.RowsIn, r.RowsOut, r.DuplicatesRemoved, r.Duplicates.Exact, r.Duplicates.Near, r.Rejected, r.Reconciled)
	fmt.Fprintf(w, "outliers flagged %d (amount outside [%.2f, %.2f]); imputed %v\n", r.Outliers.Flagged, r.Outliers.Low, r.Outliers.High, r.Imputed)
	fmt.Fprintf(w, "repairs %v\n", r.Repairs)
	fmt.Fprintf(w, "rejects %v -> %s\n", r.RejectsByReason, r.Rejects)
	fmt.Fprintf(w, "wrote %s (%s); report %s\n", r.Output, r.Format, r.Output+".report.json")
	fmt.Fprintf(w, "%.3fs, %.0f rows/s\n", r.Seconds, r.RowsPerSec)
}

func newBatchTrainCmd() *cobra.Command {
	var (
		o      batch.TrainOptions
		asJSON bool
		quiet  bool
	)
	cmd := &cobra.Command{
		Use:   "train --in FILE",
		Short: "Fit exact ridge regression on preprocessed data; print holdout metrics next to the known truth; save the model JSON",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.In == "" {
				return fmt.Errorf("batch train: --in is required")
			}
			if !quiet {
				o.Progress = os.Stderr
			}
			res, err := batch.Train(cmd.Context(), o)
			if err != nil {
				return err // "train: ..."
			}
			m := res.Model
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), map[string]any{
					"model": res.ModelPath, "metrics": m.Metrics, "truth_file": res.TruthPath,
					"truth_r2_all_rows": res.TruthR2, "training_data": m.TrainingData,
				})
			}
			w := cmd.OutOrStdout()
			td := m.TrainingData
			fmt.Fprintf(w, "ridge (lambda %g) on %s: %d rows, train %d, holdout %d (%.0f%%), outliers skipped %d\n",
				m.Lambda, td.Path, td.Rows, td.TrainRows, td.HoldoutRows, 100*td.HoldoutFraction, td.OutliersSkipped)
			fmt.Fprintf(w, "%-22s %10s %10s %8s\n", "holdout", "RMSE", "MAE", "R²")
			fmt.Fprintf(w, "%-22s %10.4f %10.4f %8.4f\n", "model", m.Metrics.Holdout.RMSE, m.Metrics.Holdout.MAE, m.Metrics.Holdout.R2)
			if t := m.Metrics.TruthHoldout; t != nil {
				fmt.Fprintf(w, "%-22s %10.4f %10.4f %8.4f\n", "known truth", t.RMSE, t.MAE, t.R2)
				fmt.Fprintf(w, "R² gap (truth - model): %.4f   (truth file %s; truth R² on all generated rows %.4f)\n", t.R2-m.Metrics.Holdout.R2, res.TruthPath, *res.TruthR2)
			} else {
				fmt.Fprintln(w, "known truth: no truth file (pass --truth FILE)")
			}
			fmt.Fprintf(w, "model -> %s (format %s v%d, sha256 of data %s…)\n", res.ModelPath, m.Format, m.FormatVersion, td.SHA256[:12])
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.In, "in", "", "preprocessed file (.parquet or .csv)")
	f.StringVar(&o.Out, "out", "", "model file (default <in>.model.json)")
	f.StringVar(&o.Target, "target", "amount", "column to predict")
	f.Float64Var(&o.Lambda, "lambda", 1, "ridge penalty on standardized weights")
	f.Float64Var(&o.Holdout, "holdout", 0.2, "share of rows held out")
	f.Int64Var(&o.Seed, "seed", 1, "seed of the holdout split")
	f.BoolVar(&o.IncludeOutliers, "include-outliers", false, "train and evaluate on outlier rows too")
	f.StringVar(&o.Truth, "truth", "", "generator truth file (default: found via the preprocess report; - for none)")
	f.BoolVar(&quiet, "quiet", false, "no progress lines")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}
