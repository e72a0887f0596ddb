package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Report is the whole result of one bench run, the --json document.
type Report struct {
	Started  string   `json:"started"`
	Machine  Machine  `json:"machine"`
	Notes    []string `json:"notes"`
	Postgres *Source  `json:"postgres,omitempty"`
	MySQL    *Source  `json:"mysql,omitempty"`
	Batch    []Batch  `json:"batch,omitempty"`
	Skipped  []string `json:"skipped,omitempty"`
	Errors   []string `json:"errors,omitempty"`
}

// Machine describes where the numbers were measured.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model,omitempty"`
	GoVersion string `json:"go_version"`
	Server    string `json:"server,omitempty"` // PostgreSQL version
	MariaDB   string `json:"mariadb,omitempty"`
	// LoadStart and LoadEnd are /proc/loadavg at the start and the end: a
	// load above the CPU count means other work shared the machine.
	LoadStart string `json:"loadavg_start,omitempty"`
	LoadEnd   string `json:"loadavg_end,omitempty"`
}

// Source holds the results for one source type.
type Source struct {
	Throughput []Throughput `json:"throughput"`
	Latency    []Latency    `json:"latency,omitempty"`
	// LatencyPeakRSSMB is the daemon's peak RSS over the latency runs.
	LatencyPeakRSSMB float64 `json:"latency_peak_rss_mb,omitempty"`
	// VsPostgres is this source's rows/s over the PostgreSQL source's, by
	// workload (MySQL only).
	VsPostgres map[string]float64 `json:"vs_postgres,omitempty"`
}

// Throughput is one workload measured for Tributary and a baseline.
type Throughput struct {
	Workload  string  `json:"workload"` // A, B, A-backlog
	Desc      string  `json:"desc"`
	Rows      int     `json:"rows"`
	Tributary Rate    `json:"tributary"`
	FromFirst *Rate   `json:"tributary_from_first_message,omitempty"`
	Baseline  string  `json:"baseline"`
	Base      Rate    `json:"baseline_rate"`
	Ratio     float64 `json:"ratio"`
	Target    float64 `json:"ratio_target"`
	PeakRSSMB float64 `json:"peak_rss_mb"`
	Timing    string  `json:"timing"`
}

// Rate is a number of rows moved in some seconds.
type Rate struct {
	Seconds    float64 `json:"seconds"`
	RowsPerSec float64 `json:"rows_per_s"`
}

func rate(rows int, secs float64) Rate {
	r := Rate{Seconds: secs}
	if secs > 0 {
		r.RowsPerSec = float64(rows) / secs
	}
	return r
}

// Latency is commit-to-stream latency at one steady commit rate.
type Latency struct {
	TargetRate   float64 `json:"target_commits_per_s"`
	AchievedRate float64 `json:"achieved_commits_per_s"`
	Commits      int     `json:"commits"`
	Received     int     `json:"received"`
	P50Ms        float64 `json:"p50_ms"`
	P90Ms        float64 `json:"p90_ms"`
	P99Ms        float64 `json:"p99_ms"`
	MaxMs        float64 `json:"max_ms"`
	TargetP99Ms  float64 `json:"target_p99_ms,omitempty"`
}

// Batch is one `tributary batch preprocess` run.
type Batch struct {
	Rows       int     `json:"rows"`
	InputMB    float64 `json:"input_mb"`
	Seconds    float64 `json:"seconds"`
	RowsPerSec float64 `json:"rows_per_s"`
	PeakRSSMB  float64 `json:"peak_rss_mb"`
	Target     string  `json:"target"`
	Pass       bool    `json:"pass"`
}

func (r *Report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// verdict renders a pass mark for a target check.
func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISS"
}

// writeTable prints the report as plain tables.
func (r *Report) writeTable(w io.Writer) {
	fmt.Fprintf(w, "Tributary bench, %s, %d CPUs (%s), %s\n", r.Started, r.Machine.CPUs, r.Machine.CPUModel, r.Machine.GoVersion)
	fmt.Fprintf(w, "load average (1, 5, 15 min) at start %s, at end %s\n", r.Machine.LoadStart, r.Machine.LoadEnd)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if r.Postgres != nil {
		fmt.Fprintf(w, "\nPostgreSQL source (%s) -> JetStream (embedded)\n", r.Machine.Server)
		r.Postgres.write(w, 150)
	}
	if r.MySQL != nil {
		fmt.Fprintf(w, "\nMariaDB source (%s) -> JetStream (embedded)\n", r.Machine.MariaDB)
		r.MySQL.write(w, 150)
		if len(r.MySQL.VsPostgres) > 0 {
			var parts []string
			for _, wl := range []string{"A", "B"} {
				if v, ok := r.MySQL.VsPostgres[wl]; ok {
					parts = append(parts, fmt.Sprintf("%s %.2f %s", wl, v, verdict(v >= 0.8)))
				}
			}
			fmt.Fprintf(w, "MySQL-source rows/s / PostgreSQL-source rows/s (target >= 0.80): %s\n", strings.Join(parts, ", "))
		}
	}
	if len(r.Batch) > 0 {
		fmt.Fprintf(w, "\nbatch preprocess (child process)\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "rows\tinput MB\tseconds\trows/s\tpeak RSS MB\ttarget\t\t\n")
		for _, b := range r.Batch {
			fmt.Fprintf(tw, "%d\t%.0f\t%.2f\t%.0f\t%.0f\t%s\t%s\t\n", b.Rows, b.InputMB, b.Seconds, b.RowsPerSec, b.PeakRSSMB, b.Target, verdict(b.Pass))
		}
		tw.Flush()
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "skipped: %s\n", s)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "ERROR: %s\n", e)
	}
}

func (s *Source) write(w io.Writer, rssTarget float64) {
	if len(s.Throughput) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "workload\trows\ttributary rows/s\tbaseline\tbaseline rows/s\tratio\ttarget\t\tpeak RSS MB\t\t\n")
		for _, t := range s.Throughput {
			target, mark := "-", ""
			if t.Target > 0 {
				target, mark = fmt.Sprintf(">= %.2f", t.Target), verdict(t.Ratio >= t.Target)
			}
			fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%.0f\t%.2f\t%s\t%s\t%.0f\t%s\t\n",
				t.Workload, t.Rows, t.Tributary.RowsPerSec, t.Baseline, t.Base.RowsPerSec, t.Ratio, target,
				mark, t.PeakRSSMB, verdict(t.PeakRSSMB < rssTarget))
		}
		tw.Flush()
		for _, t := range s.Throughput {
			fmt.Fprintf(w, "  %s: %s; tributary %.2fs", t.Workload, t.Desc, t.Tributary.Seconds)
			if t.FromFirst != nil {
				fmt.Fprintf(w, " (%.0f rows/s, %.2fs, from its first message)", t.FromFirst.RowsPerSec, t.FromFirst.Seconds)
			}
			fmt.Fprintf(w, ", %s %.2fs; %s\n", t.Baseline, t.Base.Seconds, t.Timing)
		}
	}
	if len(s.Latency) > 0 {
		fmt.Fprintf(w, "commit -> JetStream latency (single-row commits, ordered consumer receive time):\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "target/s\tachieved/s\tcommits\treceived\tp50 ms\tp90 ms\tp99 ms\tmax ms\t\t\n")
		for _, l := range s.Latency {
			mark := ""
			if l.TargetP99Ms > 0 {
				mark = fmt.Sprintf("p99 < %.0f ms %s", l.TargetP99Ms, verdict(l.P99Ms < l.TargetP99Ms))
			}
			fmt.Fprintf(tw, "%.0f\t%.0f\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t\n",
				l.TargetRate, l.AchievedRate, l.Commits, l.Received, l.P50Ms, l.P90Ms, l.P99Ms, l.MaxMs, mark)
		}
		tw.Flush()
		fmt.Fprintf(w, "  peak RSS over the latency runs: %.0f MB (target < %.0f) %s\n", s.LatencyPeakRSSMB, rssTarget, verdict(s.LatencyPeakRSSMB < rssTarget))
	}
}
