package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// binary is the tributary binary built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tributary-bin-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "tributary")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build tributary: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemonProc is a `tributary run` child process.
type daemonProc struct {
	cmd   *exec.Cmd
	admin string
	log   *os.File
	done  chan error
}

type e2eEnv struct {
	pg        *testenv.PG
	dir       string
	config    string
	adminAddr string
	natsURL   string
}

// newE2E prepares a PostgreSQL and a config for the daemon; natsURL "" means
// the daemon's embedded JetStream server.
func newE2E(t *testing.T, tables, natsURL string) *e2eEnv {
	t.Helper()
	pg := testenv.Postgres(t)
	e, natsPort := newE2EEnv(t)
	e.pg = pg
	sink := fmt.Sprintf("    listen: 127.0.0.1:%d\n", natsPort)
	if natsURL != "" {
		sink = fmt.Sprintf("    url: %s\n", natsURL)
		e.natsURL = natsURL
	}
	e.writeConfig(t, fmt.Sprintf("    type: postgres\n    dsn: %s\n    tables: [%s]\n", pg.DSN("postgres"), tables), sink)
	return e
}

// newE2EEnv returns an e2eEnv in a temp dir with a free admin port and a free
// port for the embedded NATS server, which it also returns.
func newE2EEnv(t *testing.T) (*e2eEnv, int) {
	t.Helper()
	dir := t.TempDir()
	adminPort, _ := testenv.FreePort()
	natsPort, _ := testenv.FreePort()
	return &e2eEnv{dir: dir, config: filepath.Join(dir, "tributary.yaml"),
		adminAddr: fmt.Sprintf("127.0.0.1:%d", adminPort), natsURL: fmt.Sprintf("nats://127.0.0.1:%d", natsPort)}, natsPort
}

// writeConfig writes the daemon config: one source named shop, given by the
// YAML lines after its name, and a jetstream sink, given by the lines after
// its type.
func (e *e2eEnv) writeConfig(t *testing.T, source, sink string) {
	t.Helper()
	cfg := fmt.Sprintf(`data_dir: %s
log: {level: info, format: text}
admin: {listen: "%s"}
sources:
  - name: shop
%ssinks:
  - type: jetstream
%s`, filepath.Join(e.dir, "data"), e.adminAddr, source, sink)
	if err := os.WriteFile(e.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (e *e2eEnv) start(t *testing.T) *daemonProc {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(e.dir, "daemon.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "run", "--config", e.config)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Killed with the test binary even when a timeout panic skips cleanups.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemonProc{cmd: cmd, admin: e.adminAddr, log: logf, done: make(chan error, 1)}
	go func() { d.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-d.done
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			lines := strings.Split(string(b), "\n")
			if len(lines) > 60 {
				lines = lines[len(lines)-60:]
			}
			t.Logf("daemon log tail:\n%s", strings.Join(lines, "\n"))
		}
	})
	return d
}

func (d *daemonProc) status(t *testing.T) (map[string]any, error) {
	resp, err := http.Get("http://" + d.admin + "/status")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var doc map[string]any
	return doc, json.NewDecoder(resp.Body).Decode(&doc)
}

func (d *daemonProc) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + d.admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-d.done:
			d.done <- err
			t.Fatalf("daemon exited before it was ready: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatal("daemon not ready after 90s")
}

// sourceStatus reads a string field of the first source from /status; it
// returns "" when /status does not answer or has no such field.
func (d *daemonProc) sourceStatus(t *testing.T, field string) string {
	doc, err := d.status(t)
	if err != nil {
		return ""
	}
	srcs, _ := doc["sources"].([]any)
	if len(srcs) == 0 {
		return ""
	}
	s, _ := srcs[0].(map[string]any)
	v, _ := s[field].(string)
	return v
}

// confirmedLSN reads the source's confirmed LSN from /status.
func (d *daemonProc) confirmedLSN(t *testing.T) uint64 {
	return parseLSN(d.sourceStatus(t, "confirmed_lsn"))
}

func parseLSN(s string) uint64 {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0
	}
	h, _ := strconv.ParseUint(hi, 16, 32)
	l, _ := strconv.ParseUint(lo, 16, 32)
	return h<<32 | l
}

func currentLSN(t *testing.T, pg *testenv.PG) uint64 {
	t.Helper()
	var s string
	if err := pg.Conn(t, "postgres").QueryRow(context.Background(), "SELECT pg_current_wal_lsn()::text").Scan(&s); err != nil {
		t.Fatal(err)
	}
	return parseLSN(s)
}

func (d *daemonProc) stop(t *testing.T) {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		d.done <- err
		if err != nil {
			t.Fatalf("daemon exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not stop within 30s of SIGTERM")
	}
}

// kill SIGKILLs the daemon and waits for it to exit.
func (d *daemonProc) kill() {
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
	d.done <- nil
}

// readStream returns every message in the stream, in stream order.
func readStream(t *testing.T, url string) []*natsjs.RawStreamMsg {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := js.Stream(ctx, "TRIBUTARY")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := st.OrderedConsumer(ctx, natsjs.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []*natsjs.RawStreamMsg
	for uint64(len(out)) < info.State.Msgs {
		batch, err := cons.Fetch(1000, natsjs.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			md, _ := m.Metadata()
			out = append(out, &natsjs.RawStreamMsg{Subject: m.Subject(), Sequence: md.Sequence.Stream, Header: m.Headers(), Data: m.Data()})
			n++
		}
		if batch.Error() != nil {
			t.Fatal(batch.Error())
		}
		if n == 0 {
			break
		}
	}
	return out
}

func TestRunEndToEnd(t *testing.T) {
	e := newE2E(t, "public.customer_transactions", "")
	e.pg.Exec(t, `CREATE TABLE customer_transactions (id bigserial PRIMARY KEY, customer_id bigint, amount numeric(12,2));
		ALTER TABLE customer_transactions REPLICA IDENTITY FULL;
		INSERT INTO customer_transactions (customer_id, amount) SELECT g, g * 1.25 FROM generate_series(1, 1000) g`)
	d := e.start(t)
	d.waitReady(t)
	e.pg.Exec(t, `UPDATE customer_transactions SET amount = 99.99 WHERE id = 1`)
	e.pg.Exec(t, `DELETE FROM customer_transactions WHERE id = 2`)
	target := currentLSN(t, e.pg)
	waitUntil(t, 30*time.Second, "confirmed LSN to reach the WAL end", func() bool { return d.confirmedLSN(t) >= target })
	msgs := readStream(t, e.natsURL)
	if len(msgs) != 1002 {
		t.Fatalf("stream has %d messages, want 1002", len(msgs))
	}
	var ev change.Event
	if err := change.Unmarshal(msgs[1000].Data, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Op != change.OpUpdate || msgs[1000].Subject != "cdc.shop.public.customer_transactions" {
		t.Fatalf("message 1000: op %c subject %s", ev.Op, msgs[1000].Subject)
	}
	if v, _ := ev.After.Get("amount"); string(v) != `"99.99"` {
		t.Fatalf("amount %s", v)
	}
	if id := msgs[1001].Header.Get("Nats-Msg-Id"); !strings.HasPrefix(id, "shop:") {
		t.Fatalf("Nats-Msg-Id %q", id)
	}
	// Metrics and status answer.
	resp, err := http.Get("http://" + e.adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"tributary_events_read_total", "tributary_replication_lag_bytes", "tributary_confirmed_lsn", "tributary_sink_publish_errors_total", `tributary_events_published_total{source="shop"} 1002`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// `tributary status` reads the same document, as a table or as JSON.
	out, err := exec.Command(binary, "status", "--addr", e.adminAddr).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "shop") || !strings.Contains(string(out), "streaming") {
		t.Errorf("tributary status: %v\n%s", err, out)
	}
	out, err = exec.Command(binary, "status", "--json", "--addr", e.adminAddr).Output()
	var doc map[string]any
	if err != nil || json.Unmarshal(out, &doc) != nil || doc["sources"] == nil {
		t.Errorf("tributary status --json: %v\n%s", err, out)
	}
	d.stop(t)
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The daemon is SIGKILLed at random points during a 100k-row workload and
// restarted each time; at the end the stream holds exactly one message per
// change, in commit order.
func TestSIGKILLLeavesExactlyOneMessagePerChange(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	e := newE2E(t, "public.ledger", "")
	// A duplicate window shorter than the downtime: what keeps the stream
	// exact across restarts is the source resuming after the last stored
	// event, not the window.
	appendConfig(t, e, "    duplicate_window: 1s\n")
	e.pg.Exec(t, ledgerDDL)
	d := e.start(t)
	d.waitReady(t)

	w := startLedgerWorkload(t, e.pg, 100000)
	done := w.done
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	kills := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
			continue
		case <-time.After(time.Duration(300+rng.Intn(1500)) * time.Millisecond):
		}
		d.kill()
		kills++
		time.Sleep(1500 * time.Millisecond) // outlive the duplicate window
		d = e.start(t)
		d.waitReady(t)
	}
	if kills < 3 {
		t.Logf("workload finished after %d kills", kills)
	}
	target := currentLSN(t, e.pg)
	waitUntil(t, 2*time.Minute, "the daemon to catch up", func() bool { return d.confirmedLSN(t) >= target })
	msgs := readStream(t, e.natsURL)
	want := w.total()
	checkExactlyOnceInOrder(t, msgs, want)
	t.Logf("%d kills, %d changes, %d messages, each once and in commit order", kills, want, len(msgs))
	d.stop(t)
}

// checkExactlyOnceInOrder checks that msgs hold each change once, in commit
// order, and that there are want. Event IDs are "shop:<commit>:<index>";
// the commit is a PostgreSQL LSN, or a MariaDB GTID "domain-server-seq",
// whose last number orders the commits.
func checkExactlyOnceInOrder(t *testing.T, msgs []*natsjs.RawStreamMsg, want int64) {
	t.Helper()
	seen := make(map[string]bool, len(msgs))
	var lastSeq, lastIdx uint64
	for i, m := range msgs {
		id := m.Header.Get("Nats-Msg-Id")
		if seen[id] {
			t.Fatalf("message %d: %s is in the stream twice", i, id)
		}
		seen[id] = true
		parts := strings.Split(id, ":")
		if len(parts) != 3 {
			t.Fatalf("message %d: unexpected id %q", i, id)
		}
		commit := strings.Split(parts[1], "-")
		seq, _ := strconv.ParseUint(commit[len(commit)-1], 10, 64)
		idx, _ := strconv.ParseUint(parts[2], 10, 64)
		if seq < lastSeq || (seq == lastSeq && idx != lastIdx+1) || (seq > lastSeq && idx != 1) {
			t.Fatalf("message %d (%s) breaks commit order after %d:%d", i, id, lastSeq, lastIdx)
		}
		lastSeq, lastIdx = seq, idx
	}
	if int64(len(msgs)) != want {
		t.Fatalf("stream has %d messages, the workload made %d changes", len(msgs), want)
	}
}

const ledgerDDL = `CREATE TABLE IF NOT EXISTS ledger (id bigint PRIMARY KEY, v bigint NOT NULL); ALTER TABLE ledger REPLICA IDENTITY FULL`

// ledgerWorkload is a workload on table ledger running in the background.
type ledgerWorkload struct {
	done    chan struct{}
	mu      sync.Mutex
	changes int64
}

// total returns the row changes the workload has committed so far.
func (w *ledgerWorkload) total() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changes
}

// startLedgerWorkload creates table ledger and starts a workload on it: 100k inserted rows in transactions of 1-20 rows, with
// updates and deletes mixed in; it counts every row change it commits.
func startLedgerWorkload(t *testing.T, pg *testenv.PG, rows int64) *ledgerWorkload {
	pg.Exec(t, ledgerDDL)
	w := &ledgerWorkload{done: make(chan struct{})}
	go func() {
		defer close(w.done)
		conn := pg.Conn(t, "postgres")
		rng := rand.New(rand.NewSource(7))
		next := int64(1)
		for next <= rows {
			n := int64(1 + rng.Intn(20))
			if next+n > rows+1 {
				n = rows + 1 - next
			}
			tx, err := conn.Begin(context.Background())
			if err != nil {
				t.Errorf("begin: %v", err)
				return
			}
			ct, err := tx.Exec(context.Background(), "INSERT INTO ledger SELECT g, 0 FROM generate_series($1::bigint, $2::bigint) g", next, next+n-1)
			if err != nil {
				t.Errorf("insert: %v", err)
				return
			}
			c := ct.RowsAffected()
			if rng.Intn(4) == 0 {
				ct, err = tx.Exec(context.Background(), "UPDATE ledger SET v = v + 1 WHERE id BETWEEN $1 AND $1 + 9", rng.Int63n(next)+1)
				if err != nil {
					t.Errorf("update: %v", err)
					return
				}
				c += ct.RowsAffected()
			}
			if rng.Intn(8) == 0 {
				ct, err = tx.Exec(context.Background(), "DELETE FROM ledger WHERE id = $1", rng.Int63n(next)+1)
				if err != nil {
					t.Errorf("delete: %v", err)
					return
				}
				c += ct.RowsAffected()
			}
			if err := tx.Commit(context.Background()); err != nil {
				t.Errorf("commit: %v", err)
				return
			}
			next += n
			w.mu.Lock()
			w.changes += c
			w.mu.Unlock()
			if rng.Intn(20) == 0 {
				time.Sleep(time.Duration(rng.Intn(30)) * time.Millisecond)
			}
		}
	}()
	return w
}

// A NATS server restarting twice mid-stream loses and duplicates nothing.
func TestNATSRestartMidStream(t *testing.T) {
	n := testenv.NATS(t)
	e := newE2E(t, "public.ledger", n.URL)
	appendConfig(t, e, "    duplicate_window: 1s\n")
	e.pg.Exec(t, ledgerDDL)
	d := e.start(t)
	d.waitReady(t)
	w := startLedgerWorkload(t, e.pg, 60000)
	for i := 0; i < 2; i++ {
		time.Sleep(time.Duration(700+400*i) * time.Millisecond)
		n.Restart(t)
	}
	<-w.done
	target := currentLSN(t, e.pg)
	waitUntil(t, 2*time.Minute, "the daemon to catch up", func() bool { return d.confirmedLSN(t) >= target })
	msgs := readStream(t, e.natsURL)
	checkExactlyOnceInOrder(t, msgs, w.total())
	t.Logf("%d changes, %d messages after 2 NATS restarts", w.total(), len(msgs))
	d.stop(t)
}

// appendConfig appends YAML lines to the end of the e2e config (the
// jetstream sink block).
func appendConfig(t *testing.T, e *e2eEnv, yaml string) {
	t.Helper()
	b, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.config, append(b, yaml...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A daemon killed in the middle of its initial snapshot starts the snapshot
// over on restart, and the stream ends up with each row exactly once: the
// rows the first attempt published are retracted before the retake.
func TestSnapshotInterruptedByCrashRestartsCleanly(t *testing.T) {
	e := newE2E(t, "public.ledger", "")
	e.pg.Exec(t, ledgerDDL)
	e.pg.Exec(t, `INSERT INTO ledger SELECT g, g FROM generate_series(1, 300000) g`)
	d := e.start(t)
	// Kill it once some of the snapshot is in the stream, before it is done.
	nc, err := nats.Connect(e.natsURL, nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := natsjs.New(nc)
	waitUntil(t, 60*time.Second, "part of the snapshot in the stream", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		st, err := js.Stream(ctx, "TRIBUTARY")
		if err != nil {
			return false
		}
		info, err := st.Info(ctx)
		return err == nil && info.State.Msgs > 20000
	})
	d.kill()
	nc.Close()

	d = e.start(t)
	d.waitReady(t)
	e.pg.Exec(t, `UPDATE ledger SET v = -1 WHERE id = 1`)
	target := currentLSN(t, e.pg)
	waitUntil(t, 2*time.Minute, "the daemon to catch up", func() bool { return d.confirmedLSN(t) >= target })
	msgs := readStream(t, e.natsURL)
	if len(msgs) != 300001 {
		t.Fatalf("stream has %d messages, want 300000 snapshot reads and 1 update", len(msgs))
	}
	ids := make(map[string]bool, len(msgs))
	prefix := ""
	for i, m := range msgs[:300000] {
		id := m.Header.Get("Nats-Msg-Id")
		if ids[id] {
			t.Fatalf("message %d: %s twice", i, id)
		}
		ids[id] = true
		p := id[:strings.LastIndex(id, ":")]
		if prefix == "" {
			prefix = p
		} else if p != prefix {
			t.Fatalf("message %d (%s) is from another snapshot attempt than %s", i, id, prefix)
		}
	}
	var ev change.Event
	if err := change.Unmarshal(msgs[300000].Data, &ev); err != nil || ev.Op != change.OpUpdate {
		t.Fatalf("last message: op %c err %v", ev.Op, err)
	}
	d.stop(t)
}
