// Command demo is `make demo`: a throwaway PostgreSQL (wal_level=logical, as
// the postgres user, in a temp dir, on a free port), a generated
// customer_transactions dataset, `tributary run` with its embedded NATS
// JetStream, and a steady stream of inserts, updates and deletes, with a live
// line of counts, rate and lag. Ctrl-C tears everything down.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tributary-cdc/tributary/gen"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

func main() {
	var o options
	flag.StringVar(&o.binary, "binary", "bin/tributary", "the tributary binary")
	flag.IntVar(&o.rows, "rows", 20000, "rows of the generated dataset loaded before tributary starts (its initial snapshot)")
	flag.Float64Var(&o.rate, "rate", 200, "workload commits per second")
	flag.StringVar(&o.mix, "mix", "insert=70,update=20,delete=10", "workload mix")
	flag.DurationVar(&o.duration, "duration", 0, "stop after this long (0: until Ctrl-C)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (data, logs) afterwards")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

type options struct {
	binary   string
	rows     int
	rate     float64
	mix      string
	duration time.Duration
	keep     bool
}

func say(format string, a ...any) { fmt.Printf("demo: "+format+"\n", a...) }

// summary is what a demo run saw, for its test.
type summary struct {
	events  uint64     // events the source had read at the last status poll
	totals  gen.Totals // what the workload committed
	stopped bool       // tributary exited 0 after SIGINT
}

func run(ctx context.Context, o options) (sum summary, err error) {
	mix, err := gen.ParseMix(o.mix)
	if err != nil {
		return sum, err
	}
	bin, err := filepath.Abs(o.binary)
	if err != nil {
		return sum, err
	}
	if _, err := os.Stat(bin); err != nil {
		return sum, fmt.Errorf("tributary binary: %w (run make build)", err)
	}
	dir, err := os.MkdirTemp("", "tributary-demo-*")
	if err != nil {
		return sum, err
	}
	if o.keep {
		defer say("kept %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	say("starting a throwaway PostgreSQL (wal_level=logical) ...")
	pglog, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return sum, err
	}
	defer pglog.Close()
	pg, err := testenv.StartPostgres(ctx, testenv.PGOptions{Log: pglog})
	if err != nil {
		return sum, fmt.Errorf("start postgres: %w", err)
	}
	defer func() {
		if err := pg.Close(); err != nil {
			say("stop postgres: %v", err)
		}
	}()
	dsn := pg.DSN("postgres")
	say("PostgreSQL on 127.0.0.1:%d (log %s)", pg.Port, pglog.Name())

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return sum, err
	}
	if _, err := conn.Exec(ctx, gen.CreateTableSQL); err != nil {
		conn.Close(ctx)
		return sum, fmt.Errorf("create table: %w", err)
	}
	conn.Close(ctx)
	csv := filepath.Join(dir, "customer_transactions.csv")
	f, err := os.Create(csv)
	if err != nil {
		return sum, err
	}
	if _, err := gen.WriteCSV(ctx, f, o.rows, 42, gen.DirtOptions{}); err != nil {
		f.Close()
		return sum, fmt.Errorf("generate data: %w", err)
	}
	f.Close()
	rep, err := gen.Load(ctx, dsn, csv, nil)
	if err != nil {
		return sum, fmt.Errorf("load data: %w", err)
	}
	say("generated %d rows (seed 42) and loaded %d into public.customer_transactions", o.rows, rep.Loaded)

	adminPort, _ := testenv.FreePort()
	natsPort, _ := testenv.FreePort()
	admin := fmt.Sprintf("127.0.0.1:%d", adminPort)
	cfgPath := filepath.Join(dir, "tributary.yaml")
	cfg := fmt.Sprintf(`# written by make demo
data_dir: %s
log: {level: info, format: text}
admin: {listen: "%s"}
sources:
  - name: shop
    type: postgres
    dsn: %s
    tables: [public.customer_transactions]
    snapshot: initial
sinks:
  - type: jetstream
    url: ""
    listen: 127.0.0.1:%d
    stream: TRIBUTARY
    subject_prefix: cdc
learners:
  - name: amount
    source: shop
    table: public.customer_transactions
    target: amount
    features:
      numeric: [age]
      categorical: [gender, transaction_type, location, device]
      datetime: [txn_date]
    algorithm: ridge
    version_every: {events: 5000, interval: 10s}
`, filepath.Join(dir, "data"), admin, dsn, natsPort)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return sum, err
	}
	logPath := filepath.Join(dir, "tributary.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return sum, err
	}
	defer logf.Close()
	daemon := exec.Command(bin, "run", "--config", cfgPath)
	daemon.Stdout, daemon.Stderr = logf, logf
	// Own process group: Ctrl-C reaches it through us, once. Pdeathsig: if the
	// demo dies, the daemon is told to stop rather than left running.
	daemon.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := daemon.Start(); err != nil {
		return sum, fmt.Errorf("start tributary: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- daemon.Wait() }()
	defer func() {
		_ = daemon.Process.Signal(syscall.SIGINT)
		select {
		case err := <-exited:
			if err != nil {
				say("tributary exited: %v (log %s)", err, logPath)
			} else {
				sum.stopped = true
				say("tributary stopped cleanly")
			}
		case <-time.After(30 * time.Second):
			_ = daemon.Process.Kill()
			say("tributary did not stop within 30s; killed")
		}
	}()
	say("tributary run --config %s (log %s)", cfgPath, logPath)
	if err := waitReady(ctx, admin, exited); err != nil {
		tail, _ := os.ReadFile(logPath)
		return sum, fmt.Errorf("%w\n%s", err, lastLines(string(tail), 20))
	}
	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	say("ready. Watch the changes with the nats CLI:")
	fmt.Printf("    nats --server %s stream info TRIBUTARY\n", natsURL)
	fmt.Printf("    nats --server %s sub 'cdc.shop.>'\n", natsURL)
	fmt.Printf("    nats --server %s sub 'cdc.predictions.>'\n", natsURL)
	fmt.Printf("  and the daemon with:\n")
	fmt.Printf("    %s status --addr %s\n", o.binary, admin)
	fmt.Printf("    %s model list --config %s\n", o.binary, cfgPath)
	say("driving %.0f commits/s (%s); Ctrl-C to stop", o.rate, mix)

	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	wctx, stopWorkload := context.WithCancel(ctx)
	defer stopWorkload()
	type result struct {
		t   gen.Totals
		err error
	}
	wdone := make(chan result, 1)
	w := &gen.Workload{DSN: dsn, Rate: o.rate, Mix: mix, Seed: 42}
	go func() {
		t, err := w.Run(wctx)
		wdone <- result{t, err}
	}()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	tty := isTerminal()
	var lastEvents uint64
	var final result
	lastAt := time.Now()
	for {
		select {
		case <-ctx.Done():
			stopWorkload()
			r := final
			if wdone != nil {
				r = <-wdone
			}
			fmt.Println()
			sum.totals = r.t
			say("workload: %d inserts, %d updates, %d deletes in %d commits", r.t.Inserts, r.t.Updates, r.t.Deletes, r.t.Commits)
			say("stopping ...")
			return sum, nil
		case r := <-wdone:
			// The workload ended on its own (it only does on an error).
			wdone, final = nil, r
			if r.err != nil && !errors.Is(r.err, context.Canceled) {
				return sum, fmt.Errorf("workload: %w", r.err)
			}
			say("workload ended: %d commits", r.t.Commits)
		case err := <-exited:
			exited <- err
			return sum, fmt.Errorf("tributary exited: %v (log %s)", err, logPath)
		case now := <-tick.C:
			st, err := fetchStatus(admin)
			if err != nil {
				continue
			}
			line := st.line(lastEvents, now.Sub(lastAt))
			lastEvents, lastAt = st.events(), now
			sum.events = lastEvents
			if tty {
				fmt.Printf("\r\033[K%s", line)
			} else {
				fmt.Println(line)
			}
		}
	}
}

type status struct {
	Sources []struct {
		State        string  `json:"state"`
		ConfirmedLSN string  `json:"confirmed_lsn"`
		LagBytes     uint64  `json:"lag_bytes"`
		LagSeconds   float64 `json:"lag_seconds"`
		Events       uint64  `json:"events"`
		Transactions uint64  `json:"transactions"`
	} `json:"sources"`
	Sinks []struct {
		Type  string         `json:"type"`
		Stats map[string]any `json:"stats"`
	} `json:"sinks"`
	Learners []map[string]any `json:"learners"`
}

func (s *status) events() uint64 {
	if len(s.Sources) == 0 {
		return 0
	}
	return s.Sources[0].Events
}

func (s *status) line(lastEvents uint64, dt time.Duration) string {
	if len(s.Sources) == 0 {
		return "no source"
	}
	src := s.Sources[0]
	rate := float64(src.Events-lastEvents) / dt.Seconds()
	var published any = "-"
	for _, k := range s.Sinks {
		if k.Type == "jetstream" && k.Stats != nil {
			published = k.Stats["published"]
		}
	}
	l := fmt.Sprintf("%s | events %d (%.0f/s) | txns %d | published %v | confirmed %s | lag %d B, %.2fs",
		src.State, src.Events, rate, src.Transactions, published, src.ConfirmedLSN, src.LagBytes, src.LagSeconds)
	for _, lr := range s.Learners {
		l += fmt.Sprintf(" | model %v v%v", lr["name"], lr["version"])
	}
	return l
}

func fetchStatus(admin string) (*status, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + admin + "/status")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var st status
	return &st, json.NewDecoder(resp.Body).Decode(&st)
}

func waitReady(ctx context.Context, admin string, exited chan error) error {
	deadline := time.Now().Add(2 * time.Minute)
	c := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		if resp, err := c.Get("http://" + admin + "/readyz"); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("tributary exited before it was ready: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New("tributary not ready after 2 minutes")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func isTerminal() bool {
	fi, err := os.Stdout.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
