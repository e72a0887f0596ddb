package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// pgBench runs the PostgreSQL workloads.
type pgBench struct {
	binary   string
	tmp      string
	dsn      string
	bindir   string // PostgreSQL binaries, for pg_recvlogical
	rowsA    int
	rowsB    int
	conns    int
	backlogA bool
	latency  latencyPlan
	run      int // counter for source names
}

// workload commits the rows of one workload and returns when COMMIT
// returned and the WAL position after it.
type workload struct {
	rows   int
	commit func(ctx context.Context) (time.Time, string, error)
}

func (b *pgBench) bulk(rows int) workload {
	return workload{rows: rows, commit: func(ctx context.Context) (time.Time, string, error) {
		return pgBulkTxn(ctx, b.dsn, rows)
	}}
}

func (b *pgBench) singles(rows int) workload {
	return workload{rows: rows, commit: func(ctx context.Context) (time.Time, string, error) {
		lsn, err := pgSingleRowTxns(ctx, b.dsn, rows, b.conns)
		return time.Now(), lsn, err
	}}
}

// fresh recreates the table and drops the slots of earlier runs.
func (b *pgBench) fresh(ctx context.Context) error {
	if err := dropSlots(ctx, b.dsn); err != nil {
		return err
	}
	return recreatePGTable(ctx, b.dsn)
}

func (b *pgBench) newDaemon(label string) (*daemonSpec, error) {
	b.run++
	return newDaemonSpec(b.binary, b.tmp, fmt.Sprintf("%s%d", label, b.run), "postgres", b.dsn, "public.customer_transactions", "")
}

// tributaryLive measures Tributary running before the commit: from COMMIT
// returning until the stream holds every row. It returns the rate and the
// daemon's peak RSS.
func (b *pgBench) tributaryLive(ctx context.Context, w workload) (Rate, float64, error) {
	if err := b.fresh(ctx); err != nil {
		return Rate{}, 0, err
	}
	spec, err := b.newDaemon("live")
	if err != nil {
		return Rate{}, 0, err
	}
	defer os.RemoveAll(spec.dir)
	c, err := spec.start(ctx)
	if err != nil {
		return Rate{}, 0, err
	}
	defer c.kill()
	sw, err := watchStream(ctx, spec.natsURL())
	if err != nil {
		return Rate{}, 0, err
	}
	defer sw.close()
	committed, _, err := w.commit(ctx)
	if err != nil {
		return Rate{}, 0, err
	}
	_, last, err := sw.waitMsgs(ctx, c, uint64(w.rows), "tributary")
	if err != nil {
		return Rate{}, 0, err
	}
	r := rate(w.rows, last.Sub(committed).Seconds())
	rss := peakRSS(c)
	if err := c.stop(30 * time.Second); err != nil {
		return r, rss, err
	}
	return r, max(rss, c.maxRSSMB()), nil
}

// tributaryBacklog measures catch-up: the daemon creates its slot and stops,
// the workload commits, then the daemon starts again and is timed until the
// stream holds every row, from process start and from the first message.
func (b *pgBench) tributaryBacklog(ctx context.Context, w workload) (fromStart, fromFirst Rate, rss float64, err error) {
	if err := b.fresh(ctx); err != nil {
		return fromStart, fromFirst, 0, err
	}
	spec, err := b.newDaemon("backlog")
	if err != nil {
		return fromStart, fromFirst, 0, err
	}
	defer os.RemoveAll(spec.dir)
	c, err := spec.start(ctx)
	if err != nil {
		return fromStart, fromFirst, 0, err
	}
	if err := c.stop(30 * time.Second); err != nil {
		return fromStart, fromFirst, 0, fmt.Errorf("stop the daemon after it created its slot: %w", err)
	}
	if _, _, err := w.commit(ctx); err != nil {
		return fromStart, fromFirst, 0, err
	}
	start := time.Now()
	c, err = startChild("tributary run", spec.logPath, spec.binary, "run", "--config", spec.config)
	if err != nil {
		return fromStart, fromFirst, 0, err
	}
	defer c.kill()
	sw, err := watchStream(ctx, spec.natsURL())
	if err != nil {
		return fromStart, fromFirst, 0, err
	}
	defer sw.close()
	first, last, err := sw.waitMsgs(ctx, c, uint64(w.rows), "tributary catch-up")
	if err != nil {
		return fromStart, fromFirst, 0, err
	}
	fromStart = rate(w.rows, last.Sub(start).Seconds())
	fromFirst = rate(w.rows, last.Sub(first).Seconds())
	rss = peakRSS(c)
	if err := c.stop(30 * time.Second); err != nil {
		return fromStart, fromFirst, rss, err
	}
	return fromStart, fromFirst, max(rss, c.maxRSSMB()), nil
}

// recvlogical measures pg_recvlogical (test_decoding) to /dev/null on its
// own slot, created before the workload and read after the commit until
// --endpos. fromCommit says whether the time counts from COMMIT returning
// (else from the start of pg_recvlogical).
func (b *pgBench) recvlogical(ctx context.Context, w workload, fromCommit bool) (Rate, error) {
	if err := b.fresh(ctx); err != nil {
		return Rate{}, err
	}
	const slot = "bench_recvlogical"
	if err := pgExec(ctx, b.dsn, "SELECT pg_create_logical_replication_slot($1, 'test_decoding')", slot); err != nil {
		return Rate{}, err
	}
	committed, lsn, err := w.commit(ctx)
	if err != nil {
		return Rate{}, err
	}
	start := time.Now()
	c, err := startChild("pg_recvlogical", filepath.Join(b.tmp, "pg_recvlogical.log"), filepath.Join(b.bindir, "pg_recvlogical"),
		"-d", b.dsn, "--slot", slot, "--start", "--endpos", lsn, "--no-loop", "-f", "/dev/null")
	if err != nil {
		return Rate{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if err := c.wait(wctx); err != nil {
		return Rate{}, fmt.Errorf("pg_recvlogical: %w\n%s", err, c.logTail(10))
	}
	end := time.Now()
	if fromCommit {
		start = committed
	}
	return rate(w.rows, end.Sub(start).Seconds()), nil
}

// runPG runs every PostgreSQL workload and fills src; a failed workload is
// recorded in rep.Errors and the others go on.
func (b *pgBench) runAll(ctx context.Context, rep *Report) *Source {
	src := &Source{}
	fail := func(what string, err error) {
		msg := fmt.Sprintf("postgres %s: %v", what, err)
		progress("%s", msg)
		rep.Errors = append(rep.Errors, msg)
	}

	// Workload A: one big transaction.
	progress("postgres A: %d rows in one transaction, pg_recvlogical", b.rowsA)
	baseA, err := b.recvlogical(ctx, b.bulk(b.rowsA), true)
	if err != nil {
		fail("A pg_recvlogical", err)
	} else {
		progress("  pg_recvlogical: %.0f rows/s (%.2fs)", baseA.RowsPerSec, baseA.Seconds)
		progress("postgres A: %d rows in one transaction, tributary streaming", b.rowsA)
		tr, rss, err := b.tributaryLive(ctx, b.bulk(b.rowsA))
		if err != nil {
			fail("A tributary", err)
		} else {
			progress("  tributary: %.0f rows/s (%.2fs), peak RSS %.0f MB", tr.RowsPerSec, tr.Seconds, rss)
			src.Throughput = append(src.Throughput, Throughput{
				Workload: "A", Desc: fmt.Sprintf("%d rows in one transaction, tributary running before the commit", b.rowsA),
				Rows: b.rowsA, Tributary: tr, Baseline: "pg_recvlogical", Base: baseA, Ratio: tr.RowsPerSec / baseA.RowsPerSec,
				Target: 0.5, PeakRSSMB: rss, Timing: "both timed from COMMIT returning (pg_recvlogical started after it, to --endpos)",
			})
		}
	}
	if ctx.Err() != nil {
		return src
	}

	// Workload B: single-row transactions, catch-up.
	progress("postgres B: %d single-row transactions, pg_recvlogical catch-up", b.rowsB)
	baseB, err := b.recvlogical(ctx, b.singles(b.rowsB), false)
	if err != nil {
		fail("B pg_recvlogical", err)
	} else {
		progress("  pg_recvlogical: %.0f rows/s (%.2fs)", baseB.RowsPerSec, baseB.Seconds)
		progress("postgres B: %d single-row transactions, tributary catch-up", b.rowsB)
		fs, ff, rss, err := b.tributaryBacklog(ctx, b.singles(b.rowsB))
		if err != nil {
			fail("B tributary", err)
		} else {
			progress("  tributary: %.0f rows/s from process start (%.0f from first message), peak RSS %.0f MB", fs.RowsPerSec, ff.RowsPerSec, rss)
			src.Throughput = append(src.Throughput, Throughput{
				Workload: "B", Desc: fmt.Sprintf("%d single-row transactions committed while the consumer was stopped", b.rowsB),
				Rows: b.rowsB, Tributary: fs, FromFirst: &ff, Baseline: "pg_recvlogical", Base: baseB, Ratio: fs.RowsPerSec / baseB.RowsPerSec,
				Target: 0.8, PeakRSSMB: rss, Timing: "both timed from process start (ratio uses tributary from process start)",
			})
		}
	}
	if ctx.Err() != nil {
		return src
	}

	// Workload A in backlog mode, against the same pg_recvlogical figure.
	if b.backlogA && baseA.RowsPerSec > 0 {
		progress("postgres A-backlog: %d rows in one transaction, tributary started after the commit", b.rowsA)
		fs, ff, rss, err := b.tributaryBacklog(ctx, b.bulk(b.rowsA))
		if err != nil {
			fail("A-backlog tributary", err)
		} else {
			progress("  tributary: %.0f rows/s from process start (%.0f from first message), peak RSS %.0f MB", fs.RowsPerSec, ff.RowsPerSec, rss)
			src.Throughput = append(src.Throughput, Throughput{
				Workload: "A-backlog", Desc: fmt.Sprintf("%d rows in one transaction, tributary started after the commit", b.rowsA),
				Rows: b.rowsA, Tributary: fs, FromFirst: &ff, Baseline: "pg_recvlogical", Base: baseA, Ratio: fs.RowsPerSec / baseA.RowsPerSec,
				Target: 0.5, PeakRSSMB: rss, Timing: "tributary from process start; pg_recvlogical figure of A (from COMMIT)",
			})
		}
	}
	if ctx.Err() != nil || len(b.latency.rates) == 0 {
		return src
	}

	// Latency at steady commit rates.
	lat, rss, err := b.runLatency(ctx)
	if err != nil {
		fail("latency", err)
	}
	src.Latency, src.LatencyPeakRSSMB = lat, rss
	return src
}
