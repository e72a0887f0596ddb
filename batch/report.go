package batch

import (
	"encoding/json"
	"fmt"
	"os"
)

// Report is what Preprocess did, written as JSON beside the output. Rows
// reconcile exactly: RowsIn = RowsOut + DuplicatesRemoved + Rejected.
type Report struct {
	Input   string `json:"input"`
	Output  string `json:"output"`
	Format  string `json:"format"`
	Rejects string `json:"rejects_file"`
	Scaler  string `json:"scaler_file"`

	// RowsIn counts the non-blank data lines; BlankLines the blank ones,
	// which are not rows.
	RowsIn            int64            `json:"rows_in"`
	BlankLines        int64            `json:"blank_lines"`
	RowsOut           int64            `json:"rows_out"`
	DuplicatesRemoved int64            `json:"duplicates_removed"`
	Duplicates        DuplicateCounts  `json:"duplicates"`
	Rejected          int64            `json:"rejected"`
	RejectsByReason   map[string]int64 `json:"rejects_by_reason"`
	Reconciled        bool             `json:"reconciled"`

	// Missing counts missing values per column over the well-formed rows.
	Missing map[string]int64 `json:"missing"`
	// Repairs counts rows by repair kind (RepairNames), over rows kept
	// after parsing; imputations are counted in Imputed.
	Repairs map[string]int64 `json:"repairs"`
	// Imputed counts values filled in, per column, over the output rows;
	// Imputation says with what.
	Imputed    map[string]int64      `json:"imputed"`
	Imputation map[string]Imputation `json:"imputation"`

	Outliers        OutlierReport       `json:"outliers"`
	Standardization map[string]Scale    `json:"standardization"`
	Levels          map[string][]string `json:"levels"`

	// Order of the output rows; SortedRuns the number of runs spilled to disk
	// (0: sorted in memory).
	Order      string   `json:"order"`
	SortedRuns int      `json:"sorted_runs"`
	Seconds    float64  `json:"seconds"`
	RowsPerSec float64  `json:"rows_per_second"`
	Columns    []string `json:"columns"`
	Notes      []string `json:"notes"`
}

// DuplicateCounts splits the duplicates removed by kind.
type DuplicateCounts struct {
	Exact int64  `json:"exact"`
	Near  int64  `json:"near"`
	Rule  string `json:"rule"`
}

// Imputation says how a column's missing values were filled.
type Imputation struct {
	Method string `json:"method"` // median, mode, unknown
	Value  any    `json:"value"`
}

// OutlierReport says how outliers were flagged and how many.
type OutlierReport struct {
	Column  string  `json:"column"`
	Rule    string  `json:"rule"`
	Q1      float64 `json:"q1"`
	Q3      float64 `json:"q3"`
	Low     float64 `json:"low"`
	High    float64 `json:"high"`
	Flagged int64   `json:"flagged"`
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ReadReport reads a report written by Preprocess.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read report %s: %w", path, err)
	}
	return &r, nil
}
