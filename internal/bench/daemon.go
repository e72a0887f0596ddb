package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// daemonSpec is one `tributary run` set-up: a config with one source and an
// embedded JetStream sink, in its own data dir.
type daemonSpec struct {
	binary string
	dir    string // holds the config, data_dir and the log
	source string // source name, also the slot/publication suffix
	typ    string // postgres | mysql
	dsn    string
	table  string // schema.table or db.table
	extra  string // extra source keys (YAML lines, indented 4)

	adminAddr string
	natsPort  int
	config    string
	logPath   string
}

// newDaemonSpec writes the config file for a daemon in a new dir under root.
func newDaemonSpec(binary, root, source, typ, dsn, table, extra string) (*daemonSpec, error) {
	dir, err := os.MkdirTemp(root, "daemon-"+source+"-")
	if err != nil {
		return nil, err
	}
	adminPort, err := testenv.FreePort()
	if err != nil {
		return nil, err
	}
	natsPort, err := testenv.FreePort()
	if err != nil {
		return nil, err
	}
	d := &daemonSpec{binary: binary, dir: dir, source: source, typ: typ, dsn: dsn, table: table, extra: extra,
		adminAddr: fmt.Sprintf("127.0.0.1:%d", adminPort), natsPort: natsPort,
		config: filepath.Join(dir, "tributary.yaml"), logPath: filepath.Join(dir, "daemon.log")}
	cfg := fmt.Sprintf(`data_dir: %s
log: {level: warn, format: text}
admin: {listen: "%s"}
sources:
  - name: %s
    type: %s
    dsn: "%s"
    tables: [%s]
    snapshot: never
%ssinks:
  - type: jetstream
    listen: 127.0.0.1:%d
`, filepath.Join(dir, "data"), d.adminAddr, source, typ, dsn, table, extra, natsPort)
	if err := os.WriteFile(d.config, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *daemonSpec) natsURL() string { return fmt.Sprintf("nats://127.0.0.1:%d", d.natsPort) }

// subject is the JetStream subject of the source's table.
func (d *daemonSpec) subject() string { return "cdc." + d.source + "." + d.table }

// start starts the daemon and waits until /readyz answers 200.
func (d *daemonSpec) start(ctx context.Context) (*child, error) {
	c, err := startChild("tributary run", d.logPath, d.binary, "run", "--config", d.config)
	if err != nil {
		return nil, err
	}
	if err := d.waitReady(ctx, c); err != nil {
		c.kill()
		return nil, err
	}
	return c, nil
}

// waitReady polls /readyz every 10 ms for up to 90 s.
func (d *daemonSpec) waitReady(ctx context.Context, c *child) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if c.exited() {
			return fmt.Errorf("tributary run exited before it was ready (%v); log tail:\n%s", c.err, c.logTail(20))
		}
		resp, err := client.Get("http://" + d.adminAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return fmt.Errorf("tributary run not ready after 90s; log tail:\n%s", c.logTail(20))
}

// streamWatch reads the message count of the daemon's stream.
type streamWatch struct {
	nc *nats.Conn
	st jetstream.Stream
}

// watchStream connects to the daemon's embedded NATS server, retrying while
// the daemon starts, and finds its stream.
func watchStream(ctx context.Context, url string) (*streamWatch, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var last error
	for {
		nc, err := nats.Connect(url, nats.Name("tributary-bench"))
		if err == nil {
			js, jerr := jetstream.New(nc)
			if jerr == nil {
				st, serr := js.Stream(ctx, "TRIBUTARY")
				if serr == nil {
					return &streamWatch{nc: nc, st: st}, nil
				}
				jerr = serr
			}
			nc.Close()
			err = jerr
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("watch stream TRIBUTARY at %s: %w", url, last)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (w *streamWatch) close() { w.nc.Close() }

// msgs returns the number of messages in the stream.
func (w *streamWatch) msgs(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := w.st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream info: %w", err)
	}
	return info.State.Msgs, nil
}

// waitMsgs polls the stream every 5 ms until it holds want messages and
// returns the time it saw the first message (after the call) and the time it
// saw all of them. It fails when the daemon exits or after idle seconds
// without progress.
func (w *streamWatch) waitMsgs(ctx context.Context, c *child, want uint64, what string) (first, last time.Time, err error) {
	var seen uint64
	lastProgress := time.Now()
	nextLog := time.Now().Add(5 * time.Second)
	for {
		n, err := w.msgs(ctx)
		now := time.Now()
		if err != nil {
			return first, last, err
		}
		if n > 0 && first.IsZero() {
			first = now
		}
		if n >= want {
			return first, now, nil
		}
		if n > seen {
			seen, lastProgress = n, now
		}
		if now.After(nextLog) {
			progress("  %s: %d/%d messages in the stream", what, n, want)
			nextLog = now.Add(5 * time.Second)
		}
		if now.Sub(lastProgress) > 120*time.Second {
			return first, last, fmt.Errorf("%s: stuck at %d of %d messages for 120s; daemon log tail:\n%s", what, n, want, c.logTail(20))
		}
		if c.exited() {
			return first, last, fmt.Errorf("%s: tributary exited (%v) at %d of %d messages; log tail:\n%s", what, c.err, n, want, c.logTail(20))
		}
		select {
		case <-ctx.Done():
			return first, last, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// peakRSS returns the daemon's peak RSS so far: VmHWM while it runs, the
// rusage maximum once it has exited.
func peakRSS(c *child) float64 {
	if c.exited() {
		return c.maxRSSMB()
	}
	mb, err := vmHWMMB(c.pid())
	if err != nil {
		progress("  %v", err)
	}
	return mb
}

// unsupported reports whether the daemon refused a source type.
func unsupported(log string) bool {
	return strings.Contains(log, "is not supported by this build")
}
