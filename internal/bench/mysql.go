package main

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/tributary-cdc/tributary/gen"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// errMySQLNotBuilt means the daemon refused `type: mysql` sources.
var errMySQLNotBuilt = errors.New("mysql source not built")

const mysqlDB = "shop"

// myBench runs workloads A and B against MariaDB.
type myBench struct {
	binary string
	tmp    string
	m      *testenv.MySQL
	rowsA  int
	rowsB  int
	conns  int
	run    int
}

func (b *myBench) connect(ctx context.Context, db string) (*client.Conn, error) {
	conn, err := client.ConnectWithContext(ctx, b.m.Addr(), b.m.User, b.m.Password, db, 10*time.Second,
		func(c *client.Conn) error {
			c.SetCapability(gomysql.CLIENT_MULTI_STATEMENTS | gomysql.CLIENT_MULTI_RESULTS)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("connect to mariadb %s: %w", b.m.Addr(), err)
	}
	return conn, nil
}

func (b *myBench) exec(ctx context.Context, db string, stmts ...string) error {
	conn, err := b.connect(ctx, db)
	if err != nil {
		return err
	}
	defer conn.Quit()
	for _, s := range stmts {
		if _, err := conn.Execute(s); err != nil {
			return fmt.Errorf("%s: %w", firstLine(s), err)
		}
	}
	return nil
}

// fresh recreates the table.
func (b *myBench) fresh(ctx context.Context) error {
	return b.exec(ctx, "", "CREATE DATABASE IF NOT EXISTS "+mysqlDB, "USE "+mysqlDB,
		"DROP TABLE IF EXISTS customer_transactions", gen.CreateTableMySQL)
}

// binlogPos returns the server's current binlog file and position.
func (b *myBench) binlogPos(ctx context.Context) (string, uint64, error) {
	conn, err := b.connect(ctx, "")
	if err != nil {
		return "", 0, err
	}
	defer conn.Quit()
	r, err := conn.Execute("SHOW MASTER STATUS")
	if err != nil {
		return "", 0, fmt.Errorf("show master status: %w", err)
	}
	if r.RowNumber() == 0 {
		return "", 0, errors.New("show master status: no binary log (log_bin off?)")
	}
	file, _ := r.GetString(0, 0)
	pos, _ := r.GetUint(0, 1)
	return file, pos, nil
}

// bulk inserts rows in one transaction from MariaDB's sequence engine.
func (b *myBench) bulk(ctx context.Context, rows int) (time.Time, error) {
	conn, err := b.connect(ctx, mysqlDB)
	if err != nil {
		return time.Time{}, err
	}
	defer conn.Quit()
	elt := func(pool []string, salt int) string {
		q := make([]string, len(pool))
		for i, s := range pool {
			q[i] = "'" + s + "'"
		}
		return fmt.Sprintf("ELT(1 + ((seq * %d) %% %d), %s)", salt, len(pool), strings.Join(q, ","))
	}
	sql := fmt.Sprintf(`INSERT INTO customer_transactions
  (customer_id, txn_date, amount, age, gender, transaction_type, location, device)
SELECT 1 + (seq * 7919) %% 20000,
       TIMESTAMP '2023-01-01 00:00:00' + INTERVAL ((seq * 104729) %% 63072000) SECOND,
       ROUND(5 + RAND() * 995, 2),
       18 + (seq * 31) %% 63,
       %s, %s, %s, %s
FROM seq_1_to_%d`, elt(genders, 13), elt(txnTypes, 17), elt(locations, 19), elt(devices, 23), rows)
	start := time.Now()
	for _, s := range []string{"BEGIN", sql, "COMMIT"} {
		if _, err := conn.Execute(s); err != nil {
			return time.Time{}, fmt.Errorf("insert %d rows: %s: %w", rows, firstLine(s), err)
		}
	}
	committed := time.Now()
	progress("  inserted and committed %d rows in one transaction in %.1fs", rows, committed.Sub(start).Seconds())
	return committed, nil
}

// singles commits n single-row transactions (autocommit INSERTs, 100 per
// round trip) over several connections.
func (b *myBench) singles(ctx context.Context, n int) error {
	start := time.Now()
	per := (n + b.conns - 1) / b.conns
	errs := make([]error, b.conns)
	var wg sync.WaitGroup
	for w := 0; w < b.conns; w++ {
		count := min(per, n-w*per)
		if count <= 0 {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := b.connect(ctx, mysqlDB)
			if err != nil {
				errs[w] = err
				return
			}
			defer conn.Quit()
			r := rand.New(rand.NewPCG(uint64(w), 43))
			var sb strings.Builder
			for done := 0; done < count; {
				sb.Reset()
				k := min(100, count-done)
				for i := 0; i < k; i++ {
					sb.WriteString("INSERT INTO customer_transactions (customer_id, txn_date, amount, age, gender, transaction_type, location, device) VALUES ")
					sb.WriteString(randomRow(r).valuesSQL("2006-01-02 15:04:05"))
					sb.WriteString(";")
				}
				var qerr error
				if _, err := conn.ExecuteMultiple(sb.String(), func(_ *gomysql.Result, e error) {
					if e != nil && qerr == nil {
						qerr = e
					}
				}); err != nil {
					errs[w] = fmt.Errorf("single-row transactions: %w", err)
					return
				}
				if qerr != nil {
					errs[w] = fmt.Errorf("single-row transactions: %w", qerr)
					return
				}
				done += k
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	el := time.Since(start)
	progress("  committed %d single-row transactions over %d connections in %.1fs (%.0f/s)", n, b.conns, el.Seconds(), float64(n)/el.Seconds())
	return nil
}

func (b *myBench) newDaemon(label string) (*daemonSpec, error) {
	b.run++
	extra := fmt.Sprintf("    server_id: %d\n", 4200+b.run)
	return newDaemonSpec(b.binary, b.tmp, fmt.Sprintf("my%s%d", label, b.run), "mysql", b.m.DSN(mysqlDB), mysqlDB+".customer_transactions", extra)
}

// startDaemon starts the daemon, telling a refused source type apart.
func startDaemonOrSkip(ctx context.Context, spec *daemonSpec) (*child, error) {
	c, err := spec.start(ctx)
	if err != nil {
		if b, rerr := os.ReadFile(spec.logPath); rerr == nil && unsupported(string(b)) {
			return nil, errMySQLNotBuilt
		}
		return nil, err
	}
	return c, nil
}

// mariadbBinlog times mariadb-binlog reading the binlog from file:pos to the
// end over the replication protocol, decoding rows (-v), to /dev/null.
func (b *myBench) mariadbBinlog(ctx context.Context, rows int, file string, pos uint64) (Rate, error) {
	bin, err := exec.LookPath("mariadb-binlog")
	if err != nil {
		if bin, err = exec.LookPath("mysqlbinlog"); err != nil {
			return Rate{}, errors.New("mariadb-binlog (or mysqlbinlog) not found in $PATH")
		}
	}
	logPath := filepath.Join(b.tmp, "mariadb-binlog.err")
	start := time.Now()
	c, err := startChild("mariadb-binlog", logPath, "/bin/sh", "-c",
		`exec "$0" "$@" > /dev/null`, bin,
		"--read-from-remote-server", "--host=127.0.0.1", "--port="+strconv.Itoa(b.m.Port),
		"--user="+b.m.User, "--password="+b.m.Password, "--start-position="+strconv.FormatUint(pos, 10),
		"--to-last-log", "--base64-output=decode-rows", "--verbose", file)
	if err != nil {
		return Rate{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if err := c.wait(wctx); err != nil {
		return Rate{}, fmt.Errorf("mariadb-binlog: %w\n%s", err, c.logTail(10))
	}
	return rate(rows, time.Since(start).Seconds()), nil
}

// live measures workload A with the daemon running before the commit, then
// mariadb-binlog on the same binlog.
func (b *myBench) live(ctx context.Context) (Throughput, error) {
	t := Throughput{Workload: "A", Rows: b.rowsA, Baseline: "mariadb-binlog", Target: 0,
		Desc:   fmt.Sprintf("%d rows in one transaction, tributary running before the commit", b.rowsA),
		Timing: "tributary from COMMIT returning; mariadb-binlog -v (rows decoded) over the same binlog afterwards, from its start to its exit"}
	if err := b.fresh(ctx); err != nil {
		return t, err
	}
	spec, err := b.newDaemon("live")
	if err != nil {
		return t, err
	}
	defer os.RemoveAll(spec.dir)
	c, err := startDaemonOrSkip(ctx, spec)
	if err != nil {
		return t, err
	}
	defer c.kill()
	sw, err := watchStream(ctx, spec.natsURL())
	if err != nil {
		return t, err
	}
	defer sw.close()
	file, pos, err := b.binlogPos(ctx)
	if err != nil {
		return t, err
	}
	committed, err := b.bulk(ctx, b.rowsA)
	if err != nil {
		return t, err
	}
	_, last, err := sw.waitMsgs(ctx, c, uint64(b.rowsA), "tributary")
	if err != nil {
		return t, err
	}
	t.Tributary = rate(b.rowsA, last.Sub(committed).Seconds())
	t.PeakRSSMB = peakRSS(c)
	if err := c.stop(30 * time.Second); err != nil {
		return t, err
	}
	t.PeakRSSMB = max(t.PeakRSSMB, c.maxRSSMB())
	progress("  tributary: %.0f rows/s (%.2fs), peak RSS %.0f MB", t.Tributary.RowsPerSec, t.Tributary.Seconds, t.PeakRSSMB)
	if t.Base, err = b.mariadbBinlog(ctx, b.rowsA, file, pos); err != nil {
		return t, err
	}
	progress("  mariadb-binlog: %.0f rows/s (%.2fs)", t.Base.RowsPerSec, t.Base.Seconds)
	t.Ratio = t.Tributary.RowsPerSec / t.Base.RowsPerSec
	return t, nil
}

// backlog measures workload B as catch-up, then mariadb-binlog on the same
// binlog.
func (b *myBench) backlog(ctx context.Context) (Throughput, error) {
	t := Throughput{Workload: "B", Rows: b.rowsB, Baseline: "mariadb-binlog",
		Desc:   fmt.Sprintf("%d single-row transactions committed while the consumer was stopped", b.rowsB),
		Timing: "both from process start; mariadb-binlog -v over the same binlog afterwards"}
	if err := b.fresh(ctx); err != nil {
		return t, err
	}
	spec, err := b.newDaemon("backlog")
	if err != nil {
		return t, err
	}
	defer os.RemoveAll(spec.dir)
	c, err := startDaemonOrSkip(ctx, spec)
	if err != nil {
		return t, err
	}
	if err := c.stop(30 * time.Second); err != nil {
		return t, fmt.Errorf("stop the daemon after it started: %w", err)
	}
	file, pos, err := b.binlogPos(ctx)
	if err != nil {
		return t, err
	}
	if err := b.singles(ctx, b.rowsB); err != nil {
		return t, err
	}
	start := time.Now()
	c, err = startChild("tributary run", spec.logPath, spec.binary, "run", "--config", spec.config)
	if err != nil {
		return t, err
	}
	defer c.kill()
	sw, err := watchStream(ctx, spec.natsURL())
	if err != nil {
		return t, err
	}
	defer sw.close()
	first, last, err := sw.waitMsgs(ctx, c, uint64(b.rowsB), "tributary catch-up")
	if err != nil {
		return t, err
	}
	t.Tributary = rate(b.rowsB, last.Sub(start).Seconds())
	ff := rate(b.rowsB, last.Sub(first).Seconds())
	t.FromFirst = &ff
	t.PeakRSSMB = peakRSS(c)
	if err := c.stop(30 * time.Second); err != nil {
		return t, err
	}
	t.PeakRSSMB = max(t.PeakRSSMB, c.maxRSSMB())
	progress("  tributary: %.0f rows/s from process start (%.0f from first message), peak RSS %.0f MB", t.Tributary.RowsPerSec, ff.RowsPerSec, t.PeakRSSMB)
	if t.Base, err = b.mariadbBinlog(ctx, b.rowsB, file, pos); err != nil {
		return t, err
	}
	progress("  mariadb-binlog: %.0f rows/s (%.2fs)", t.Base.RowsPerSec, t.Base.Seconds)
	t.Ratio = t.Tributary.RowsPerSec / t.Base.RowsPerSec
	return t, nil
}

// runMySQL runs workloads A and B against a throwaway MariaDB and compares
// the MySQL source's rows/s with the PostgreSQL source's of the same run.
func runMySQL(ctx context.Context, rep *Report, binary, tmp string, o options, pgRates map[string]float64) error {
	progress("starting MariaDB (internal/testenv)")
	m, err := testenv.StartMariaDB(ctx, testenv.MySQLOptions{Args: []string{"--innodb-buffer-pool-size=256M"}})
	if errors.Is(err, testenv.ErrUnavailable) {
		rep.Skipped = append(rep.Skipped, "mysql: "+err.Error())
		return nil
	}
	if err != nil {
		return fmt.Errorf("start mariadb: %w", err)
	}
	onClose(func() { _ = m.Close() })
	defer m.Close()
	if out, err := exec.Command(m.Bin, "--version").Output(); err == nil {
		rep.Machine.MariaDB = strings.TrimSpace(string(out))
	}
	b := &myBench{binary: binary, tmp: tmp, m: m, rowsA: o.rowsA, rowsB: o.rowsB, conns: o.conns}
	src := &Source{VsPostgres: map[string]float64{}}
	for _, step := range []struct {
		name string
		fn   func(context.Context) (Throughput, error)
	}{{"A", b.live}, {"B", b.backlog}} {
		if ctx.Err() != nil {
			break
		}
		progress("mysql %s", step.name)
		t, err := step.fn(ctx)
		if errors.Is(err, errMySQLNotBuilt) {
			progress("skipped: mysql source not built (the daemon refused type: mysql)")
			rep.Skipped = append(rep.Skipped, "mysql source not built (the daemon refused `type: mysql`)")
			return nil
		}
		if err != nil {
			msg := fmt.Sprintf("mysql %s: %v", step.name, err)
			progress("%s", msg)
			rep.Errors = append(rep.Errors, msg)
			continue
		}
		src.Throughput = append(src.Throughput, t)
		if pg := pgRates[step.name]; pg > 0 {
			src.VsPostgres[step.name] = t.Tributary.RowsPerSec / pg
		}
	}
	if len(src.Throughput) > 0 {
		rep.MySQL = src
	}
	return nil
}

// mysqlLinked reports whether the tributary binary links the MySQL source
// package, from its ELF symbol table; known is false when that cannot be
// told (a stripped binary), and the daemon is then simply tried.
func mysqlLinked(binary string) (linked, known bool) {
	f, err := elf.Open(binary)
	if err != nil {
		return false, false
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil || len(syms) == 0 {
		return false, false
	}
	for _, s := range syms {
		if strings.HasPrefix(s.Name, "github.com/tributary-cdc/tributary/replicator/mysql.") {
			return true, true
		}
	}
	return false, true
}
