package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// options are the command-line flags.
type options struct {
	only      string
	asJSON    bool
	binary    string
	rowsA     int
	rowsB     int
	conns     int
	rates     string
	warmup    time.Duration
	duration  time.Duration
	backlogA  bool
	big       bool
	batchRows int
	bigRows   int
}

func main() {
	var o options
	flag.StringVar(&o.only, "only", "all", "what to run: pg, mysql (also runs PostgreSQL A and B for the comparison), batch or all")
	flag.BoolVar(&o.asJSON, "json", false, "print the results as JSON instead of a table")
	flag.StringVar(&o.binary, "binary", "", "tributary binary to run (default: go build ./cmd/tributary into a temp dir)")
	flag.IntVar(&o.rowsA, "rows-a", 1_000_000, "rows of workload A (one transaction)")
	flag.IntVar(&o.rowsB, "rows-b", 100_000, "single-row transactions of workload B")
	flag.IntVar(&o.conns, "conns", 4, "connections committing workload B")
	flag.StringVar(&o.rates, "rates", "1000,2500,5000", "steady commit rates of the latency runs (commits/s, comma separated; empty skips them)")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "warm-up before each latency measurement")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured time of each latency run")
	flag.BoolVar(&o.backlogA, "backlog-a", true, "also run workload A with tributary started after the commit")
	flag.BoolVar(&o.big, "big", false, "also preprocess a 10M-row file (about 600 MB, a few minutes)")
	flag.IntVar(&o.batchRows, "batch-rows", 250_000, "rows of the seed-sized batch preprocess run")
	flag.IntVar(&o.bigRows, "big-rows", 10_000_000, "rows of the --big batch preprocess run")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "bench: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	switch o.only {
	case "pg", "postgres", "mysql", "batch", "all":
	default:
		fmt.Fprintf(os.Stderr, "bench: --only %q: want pg, mysql, batch or all\n", o.only)
		os.Exit(2)
	}

	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		progress("%v: stopping everything (a second signal kills at once)", sig)
		cancel()
		<-sigs
		killChildren()
		runClosers()
		os.Exit(130)
	}()

	rep, err := run(ctx, o)
	if rep != nil {
		rep.Machine.LoadEnd = loadAvg()
	}
	cancel()
	killChildren()
	runClosers()
	if rep != nil {
		if o.asJSON {
			if jerr := rep.writeJSON(os.Stdout); jerr != nil {
				fmt.Fprintf(os.Stderr, "bench: %v\n", jerr)
			}
		} else {
			fmt.Println()
			rep.writeTable(os.Stdout)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
	if rep != nil && len(rep.Errors) > 0 {
		os.Exit(1)
	}
}

// run does the whole bench; the report is returned even on error, with what
// was measured before it.
func run(ctx context.Context, o options) (*Report, error) {
	rep := &Report{Started: time.Now().Format(time.RFC3339), Machine: machine()}
	tmp, err := os.MkdirTemp("", "tributary-bench-")
	if err != nil {
		return rep, err
	}
	// The server users (postgres, mysql) run nothing here, but temp dirs
	// under it hold files the daemon writes as us.
	onClose(func() { os.RemoveAll(tmp) })

	binary := o.binary
	if binary == "" {
		repo, err := findRepo(".")
		if err != nil {
			return rep, err
		}
		progress("building tributary (go build ./cmd/tributary)")
		if binary, err = buildTributary(ctx, repo, tmp); err != nil {
			return rep, err
		}
	} else if binary, err = filepath.Abs(binary); err != nil {
		return rep, err
	}

	wantPG := o.only == "all" || o.only == "pg" || o.only == "postgres"
	wantMySQL := o.only == "all" || o.only == "mysql"
	wantBatch := o.only == "all" || o.only == "batch"

	if wantMySQL {
		if linked, known := mysqlLinked(binary); known && !linked {
			progress("skipped: mysql source not built (the tributary binary does not link replicator/mysql)")
			rep.Skipped = append(rep.Skipped, "mysql source not built (the tributary binary does not link replicator/mysql)")
			wantMySQL = false
		}
	}
	var pgRates map[string]float64 // workload -> tributary rows/s, for the MySQL comparison
	if wantPG || wantMySQL {
		rates, err := parseRates(o.rates)
		if err != nil {
			return rep, err
		}
		rep.Notes = append(rep.Notes,
			"servers are throwaway internal/testenv instances with fsync=off and full_page_writes=off (same settings for every contender); the JetStream store is the daemon's embedded server (file storage, default sync interval)",
			"contenders run one after the other on a fresh table and slot; the bench process itself (workload, stream polling every 5 ms, latency consumer) shares the 2 cores",
			"tributary rows/s end when JetStream stream info (polled every 5 ms) shows every message stored, i.e. at the last JetStream ack; tributary peak RSS includes its embedded NATS server",
			"the machine is shared with other work: absolute numbers are noisy, the ratios (measured in the same run) are the primary figure")
		progress("starting PostgreSQL (internal/testenv)")
		pg, err := testenv.StartPostgres(ctx, testenv.PGOptions{})
		if err != nil {
			return rep, fmt.Errorf("start postgres: %w", err)
		}
		onClose(func() { _ = pg.Close() })
		rep.Machine.Server = serverVersion(pg.BinDir)
		b := &pgBench{binary: binary, tmp: tmp, dsn: pg.DSN("postgres"), bindir: pg.BinDir,
			rowsA: o.rowsA, rowsB: o.rowsB, conns: o.conns, backlogA: o.backlogA,
			latency: latencyPlan{rates: rates, warmup: o.warmup, duration: o.duration}}
		if !wantPG {
			b.latency.rates = nil
			b.backlogA = false
		}
		rep.Postgres = b.runAll(ctx, rep)
		pgRates = map[string]float64{}
		for _, t := range rep.Postgres.Throughput {
			pgRates[t.Workload] = t.Tributary.RowsPerSec
		}
		_ = pg.Close()
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
	}
	if wantMySQL {
		if err := runMySQL(ctx, rep, binary, tmp, o, pgRates); err != nil {
			rep.Errors = append(rep.Errors, "mysql: "+err.Error())
		}
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
	}
	if wantBatch {
		if err := runBatch(ctx, rep, binary, tmp, o); err != nil {
			rep.Errors = append(rep.Errors, "batch: "+err.Error())
		}
	}
	return rep, ctx.Err()
}

func parseRates(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		r, err := strconv.ParseFloat(f, 64)
		if err != nil || r <= 0 {
			return nil, fmt.Errorf("--rates: %q is not a positive number", f)
		}
		out = append(out, r)
	}
	return out, nil
}

// progress writes a timestamped progress line to stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

var (
	cleanupMu sync.Mutex
	children  = map[*child]bool{}
	closers   []func()
)

func registerChild(c *child) {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	children[c] = true
}

func unregisterChild(c *child) {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	delete(children, c)
}

// killChildren kills every child process still running.
func killChildren() {
	cleanupMu.Lock()
	var cs []*child
	for c := range children {
		cs = append(cs, c)
	}
	cleanupMu.Unlock()
	for _, c := range cs {
		_ = syscall.Kill(-c.pid(), syscall.SIGKILL)
	}
}

// onClose registers f to run at exit, last registered first.
func onClose(f func()) {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	closers = append(closers, f)
}

// runClosers runs the registered closers once.
func runClosers() {
	cleanupMu.Lock()
	fs := closers
	closers = nil
	cleanupMu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

// machine describes this machine.
func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadStart: loadAvg()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	return m
}

// serverVersion asks a server binary in bindir for its version.
func serverVersion(bindir string) string {
	out, err := exec.Command(filepath.Join(bindir, "postgres"), "--version").Output()
	if err != nil {
		return "PostgreSQL"
	}
	return strings.TrimSpace(string(out))
}

// loadAvg returns the 1, 5 and 15 minute load averages from /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
