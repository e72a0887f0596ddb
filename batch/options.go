package batch

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
)

// Options configures Preprocess.
type Options struct {
	// In is the input CSV. Out is the output file: Parquet when it ends in
	// .parquet, CSV when it ends in .csv.
	In, Out string
	// Rejects, Report and Scaler are the paths of the rejects CSV, the JSON
	// report and the fitted standardization parameters (default
	// <Out>.rejects.csv, <Out>.report.json, <Out>.scaler.json).
	Rejects, Report, Scaler string
	// Categorical says how a missing category is filled: "unknown" (the
	// level Unknown, the default) or "mode" (the column's most frequent
	// level).
	Categorical string
	// AgeMin and AgeMax bound a valid age (default 18 and 100); an age
	// outside is set missing and imputed.
	AgeMin, AgeMax int
	// NearDuplicateWindow is how close in time two rows of a customer with
	// the same amount and transaction type must be to count as one
	// transaction (default 5 minutes).
	NearDuplicateWindow time.Duration
	// OutlierIQR is the k of the outlier fences Q1 − k·IQR and Q3 + k·IQR on
	// amount (default 3).
	OutlierIQR float64
	// Workers is the number of parsing goroutines (default GOMAXPROCS).
	Workers int
	// RunRows is how many rows are sorted in memory before a sorted run is
	// spilled to TempDir (default 2,000,000: about 110 MB).
	RunRows int
	// TempDir holds spilled runs (default os.TempDir()).
	TempDir string
	// Progress, when not nil, gets a progress line every second.
	Progress io.Writer
}

func (o *Options) setDefaults() error {
	if o.In == "" || o.Out == "" {
		return fmt.Errorf("options: In and Out are required")
	}
	switch strings.ToLower(o.Categorical) {
	case "":
		o.Categorical = "unknown"
	case "unknown", "mode":
		o.Categorical = strings.ToLower(o.Categorical)
	default:
		return fmt.Errorf("options: categorical %q, want unknown or mode", o.Categorical)
	}
	if _, err := outputKind(o.Out); err != nil {
		return err
	}
	if o.Rejects == "" {
		o.Rejects = o.Out + ".rejects.csv"
	}
	if o.Report == "" {
		o.Report = o.Out + ".report.json"
	}
	if o.Scaler == "" {
		o.Scaler = o.Out + ".scaler.json"
	}
	if o.AgeMin == 0 && o.AgeMax == 0 {
		o.AgeMin, o.AgeMax = 18, 100
	}
	if o.AgeMin < 0 || o.AgeMax > 250 || o.AgeMin > o.AgeMax {
		return fmt.Errorf("options: age range [%d, %d] invalid, want 0 <= min <= max <= 250", o.AgeMin, o.AgeMax)
	}
	if o.NearDuplicateWindow == 0 {
		o.NearDuplicateWindow = 5 * time.Minute
	}
	if o.OutlierIQR == 0 {
		o.OutlierIQR = 3
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.RunRows <= 0 {
		o.RunRows = 2_000_000
	}
	return nil
}

func outputKind(path string) (string, error) {
	switch {
	case strings.HasSuffix(strings.ToLower(path), ".parquet"):
		return "parquet", nil
	case strings.HasSuffix(strings.ToLower(path), ".csv"):
		return "csv", nil
	}
	return "", fmt.Errorf("output %s: want a .parquet or .csv name", path)
}
