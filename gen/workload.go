package gen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/tributary-cdc/tributary/internal/progress"
)

// Mix is the relative weight of each kind of change in a workload.
type Mix struct{ Insert, Update, Delete int }

// ParseMix parses "insert=70,update=20,delete=10"; kinds left out weigh 0.
func ParseMix(s string) (Mix, error) {
	var m Mix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return m, fmt.Errorf("mix %q: %q is not kind=weight", s, part)
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return m, fmt.Errorf("mix %q: weight of %s must be a non-negative integer", s, k)
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "insert":
			m.Insert = n
		case "update":
			m.Update = n
		case "delete":
			m.Delete = n
		default:
			return m, fmt.Errorf("mix %q: unknown kind %q (want insert, update, delete)", s, k)
		}
	}
	if m.Insert+m.Update+m.Delete == 0 {
		return m, fmt.Errorf("mix %q: all weights are zero", s)
	}
	return m, nil
}

// String returns m in ParseMix's form.
func (m Mix) String() string {
	return fmt.Sprintf("insert=%d,update=%d,delete=%d", m.Insert, m.Update, m.Delete)
}

// Totals counts what a workload did: rows inserted, updated and deleted (as
// the database reported them) and transactions committed.
type Totals struct{ Inserts, Updates, Deletes, Commits int64 }

// Workload drives changes into the customer_transactions table of a
// PostgreSQL database at a steady rate, following the generating process:
// inserts are new transactions dated now; updates move an existing row to a
// new location and device and redraw its amount from the same model (in SQL,
// from the row's own age, gender, type and date, with fresh noise); deletes
// remove an existing row. Each commit is one transaction of BatchSize rows
// of one kind.
type Workload struct {
	DSN      string
	Rate     float64       // commits per second, paced by a 5 ms ticker
	Duration time.Duration // 0: until ctx ends
	Mix      Mix
	Seed     int64
	Progress io.Writer // nil: silent; else a line every second
	// BatchSize is the rows per transaction (default 1).
	BatchSize int
}

type opKind int

const (
	opInsert opKind = iota
	opUpdate
	opDelete
)

// job is one transaction to run.
type job struct {
	kind   opKind
	params [][]byte
	n      int // rows
}

// liveIDs is the set of ids known to exist, for picking update and delete
// targets cheaply.
type liveIDs struct {
	mu  sync.Mutex
	ids []int64
}

func (l *liveIDs) add(ids ...int64) {
	l.mu.Lock()
	l.ids = append(l.ids, ids...)
	l.mu.Unlock()
}

func (l *liveIDs) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ids)
}

// pick returns a random live id; remove takes it out of the set.
func (l *liveIDs) pick(rng *rand.Rand, remove bool) (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ids) == 0 {
		return 0, false
	}
	i := rng.IntN(len(l.ids))
	id := l.ids[i]
	if remove {
		l.ids[i] = l.ids[len(l.ids)-1]
		l.ids = l.ids[:len(l.ids)-1]
	}
	return id, true
}

// maxLiveIDs bounds the ids read from an existing table at the start.
const maxLiveIDs = 5_000_000

const (
	stmtInsert = "tributary_gen_insert"
	stmtUpdate = "tributary_gen_update"
	stmtDelete = "tributary_gen_delete"
)

const insertSQL = `INSERT INTO customer_transactions (customer_id, txn_date, amount, age, gender, transaction_type, location, device)
SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::numeric[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[])
RETURNING id`

const deleteSQL = `DELETE FROM customer_transactions WHERE id = ANY($1::bigint[])`

// UpdateSQL returns the workload's update statement: it sets location and
// device from its arrays and redraws amount from the true model of the
// generating process, evaluated in SQL on the row's own columns plus the
// noise passed in. A NULL age counts as 42; a NULL or unknown level adds
// nothing. Parameters: $1 ids, $2 locations, $3 devices, $4 noise.
func UpdateSQL() string {
	caseOf := func(col string, levels []string, coef []float64) string {
		var b strings.Builder
		b.WriteString("(CASE " + col)
		for i, l := range levels {
			fmt.Fprintf(&b, " WHEN '%s' THEN %g", strings.ReplaceAll(l, "'", "''"), coef[i])
		}
		b.WriteString(" ELSE 0 END)")
		return b.String()
	}
	const utc = "(t.txn_date AT TIME ZONE 'UTC')"
	c := DatetimeCoef
	expr := fmt.Sprintf("%.12g + %g * COALESCE(t.age, 42) + %s + %s + %s + %s"+
		" + %g * sin(2 * pi() * extract(hour from %s)::float8 / 24) + %g * cos(2 * pi() * extract(hour from %s)::float8 / 24)"+
		" + %g * sin(2 * pi() * extract(dow from %s)::float8 / 7) + %g * cos(2 * pi() * extract(dow from %s)::float8 / 7)"+
		" + %g * sin(2 * pi() * (extract(month from %s)::float8 - 1) / 12) + %g * cos(2 * pi() * (extract(month from %s)::float8 - 1) / 12)"+
		" + %.12g * extract(epoch from t.txn_date)::float8 / 86400 + v.noise",
		Intercept(), AgeCoef,
		caseOf("t.gender", Genders, GenderCoef), caseOf("t.transaction_type", TransactionTypes, TypeCoef),
		caseOf("v.loc", Locations, LocationCoef), caseOf("v.dev", Devices, DeviceCoef),
		c[0], utc, c[1], utc, c[2], utc, c[3], utc, c[4], utc, c[5], utc, c[6])
	return `UPDATE customer_transactions AS t SET location = v.loc, device = v.dev,
  amount = GREATEST(` + strconv.FormatFloat(MinAmountCents/100.0, 'f', 2, 64) + `, round((` + expr + `)::numeric, 2))
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::float8[]) AS v(id, loc, dev, noise)
WHERE t.id = v.id`
}

// Run drives the workload until Duration has passed or ctx ends, then
// finishes the transactions in flight (for at most 10 s) and returns the
// totals. Ending by ctx is not an error. A database error stops the run and
// is returned with the totals so far.
func (w *Workload) Run(ctx context.Context) (Totals, error) {
	if !isPostgres(w.DSN) {
		return Totals{}, fmt.Errorf("workload: DSN must be postgres:// (MySQL workloads are not supported yet)")
	}
	if w.Rate <= 0 {
		return Totals{}, fmt.Errorf("workload: rate %v must be > 0", w.Rate)
	}
	if w.Mix.Insert+w.Mix.Update+w.Mix.Delete <= 0 || w.Mix.Insert < 0 || w.Mix.Update < 0 || w.Mix.Delete < 0 {
		return Totals{}, fmt.Errorf("workload: mix %s has no positive weight", w.Mix)
	}
	bs := max(w.BatchSize, 1)
	conns := 1
	switch {
	case w.Rate > 2000:
		conns = 4
	case w.Rate > 300:
		conns = 2
	}
	setup, err := pgx.Connect(ctx, w.DSN)
	if err != nil {
		return Totals{}, fmt.Errorf("workload: connect: %w", err)
	}
	defer setup.Close(context.Background())
	if _, err := setup.Exec(ctx, CreateTableSQL); err != nil {
		return Totals{}, fmt.Errorf("workload: create table: %w", err)
	}
	live := &liveIDs{}
	rows, err := setup.Query(ctx, "SELECT id FROM customer_transactions LIMIT "+strconv.Itoa(maxLiveIDs))
	if err != nil {
		return Totals{}, fmt.Errorf("workload: read ids: %w", err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return Totals{}, fmt.Errorf("workload: read ids: %w", err)
		}
		live.ids = append(live.ids, id)
	}
	if err := rows.Err(); err != nil {
		return Totals{}, fmt.Errorf("workload: read ids: %w", err)
	}
	workers := make([]*pgx.Conn, conns)
	for i := range workers {
		c, err := pgx.Connect(ctx, w.DSN)
		if err != nil {
			return Totals{}, fmt.Errorf("workload: connect: %w", err)
		}
		defer c.Close(context.Background())
		for name, sql := range map[string]string{stmtInsert: insertSQL, stmtUpdate: UpdateSQL(), stmtDelete: deleteSQL} {
			if _, err := c.PgConn().Prepare(ctx, name, sql, nil); err != nil {
				return Totals{}, fmt.Errorf("workload: prepare %s: %w", name, err)
			}
		}
		workers[i] = c
	}

	var tot struct{ inserts, updates, deletes, commits atomic.Int64 }
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if w.Duration > 0 {
		var c2 context.CancelFunc
		runCtx, c2 = context.WithTimeout(runCtx, w.Duration)
		defer c2()
	}
	// finishCtx bounds the transactions still in flight after the run ends.
	finishCtx, finishCancel := context.WithCancel(context.Background())
	defer finishCancel()
	go func() {
		<-runCtx.Done()
		t := time.AfterFunc(10*time.Second, finishCancel)
		<-finishCtx.Done()
		t.Stop()
	}()

	jobs := make(chan job, int(w.Rate)+64)
	errc := make(chan error, conns)
	var wg sync.WaitGroup
	for _, c := range workers {
		wg.Add(1)
		go func(c *pgx.Conn) {
			defer wg.Done()
			if err := runWorker(finishCtx, c, jobs, live, &tot.inserts, &tot.updates, &tot.deletes, &tot.commits); err != nil {
				errc <- err
				cancel()
			}
		}(c)
	}

	start := time.Now()
	stopProgress := progress.Lines(w.Progress, func(el time.Duration) string {
		c := tot.commits.Load()
		return fmt.Sprintf("workload: %.0f commits/s (target %.0f), totals: %d commits, %d inserts, %d updates, %d deletes, %d live ids",
			float64(c)/el.Seconds(), w.Rate, c, tot.inserts.Load(), tot.updates.Load(), tot.deletes.Load(), live.len())
	})
	g := NewGenerator(w.Seed, Options{})
	rng := rand.New(rand.NewPCG(uint64(w.Seed), 0x776f726b6c6f6164))
	total := w.Mix.Insert + w.Mix.Update + w.Mix.Delete
	tick := time.NewTicker(5 * time.Millisecond)
	var issued int64
	maxBacklog := int64(w.Rate/10) + 1 // never catch up more than 100 ms at once
dispatch:
	for {
		select {
		case <-runCtx.Done():
			break dispatch
		case now := <-tick.C:
			due := int64(w.Rate*now.Sub(start).Seconds()) - issued
			if due > maxBacklog {
				issued += due - maxBacklog
				due = maxBacklog
			}
			for range due {
				j := w.makeJob(g, rng, live, total, bs, now)
				select {
				case jobs <- j:
					issued++
				case <-runCtx.Done():
					break dispatch
				}
			}
		}
	}
	tick.Stop()
	close(jobs)
	wg.Wait()
	stopProgress()
	t := Totals{Inserts: tot.inserts.Load(), Updates: tot.updates.Load(), Deletes: tot.deletes.Load(), Commits: tot.commits.Load()}
	if w.Progress != nil {
		el := time.Since(start).Seconds()
		fmt.Fprintf(w.Progress, "workload: done in %.1fs: %.0f commits/s (target %.0f), %d commits, %d inserts, %d updates, %d deletes\n",
			el, float64(t.Commits)/el, w.Rate, t.Commits, t.Inserts, t.Updates, t.Deletes)
	}
	select {
	case err := <-errc:
		return t, fmt.Errorf("workload: %w", err)
	default:
	}
	if finishCtx.Err() != nil {
		return t, fmt.Errorf("workload: transactions still in flight 10 s after the end")
	}
	return t, nil
}

// makeJob draws the next transaction.
func (w *Workload) makeJob(g *Generator, rng *rand.Rand, live *liveIDs, total, n int, now time.Time) job {
	u := rng.IntN(total)
	kind := opInsert
	switch {
	case u < w.Mix.Insert:
	case u < w.Mix.Insert+w.Mix.Update:
		kind = opUpdate
	default:
		kind = opDelete
	}
	if kind != opInsert && live.len() < n {
		kind = opInsert // nothing to change yet
	}
	switch kind {
	case opInsert:
		cols := make([][]string, 8)
		for range n {
			r := g.At(now)
			vals := []string{strconv.FormatInt(r.CustomerID, 10), r.Date.Format(time.RFC3339), r.AmountString(), strconv.Itoa(r.Age),
				r.Gender, r.TransactionType, r.Location, r.Device}
			for i, v := range vals {
				cols[i] = append(cols[i], v)
			}
		}
		p := make([][]byte, 8)
		for i, c := range cols {
			p[i] = pgArray(c, i >= 4 || i == 1)
		}
		return job{kind: opInsert, params: p, n: n}
	case opUpdate:
		var ids, locs, devs, noise []string
		for range n {
			id, _ := live.pick(rng, false)
			l, d, e := g.UpdateValues()
			ids = append(ids, strconv.FormatInt(id, 10))
			locs, devs = append(locs, l), append(devs, d)
			noise = append(noise, strconv.FormatFloat(e, 'f', 4, 64))
		}
		return job{kind: opUpdate, params: [][]byte{pgArray(ids, false), pgArray(locs, true), pgArray(devs, true), pgArray(noise, false)}, n: n}
	default:
		var ids []string
		for range n {
			id, _ := live.pick(rng, true)
			ids = append(ids, strconv.FormatInt(id, 10))
		}
		return job{kind: opDelete, params: [][]byte{pgArray(ids, false)}, n: n}
	}
}

// pgArray formats a PostgreSQL array literal in text form, quoting the
// elements when asked.
func pgArray(elems []string, quoted bool) []byte {
	b := []byte{'{'}
	for i, e := range elems {
		if i > 0 {
			b = append(b, ',')
		}
		if !quoted {
			b = append(b, e...)
			continue
		}
		b = append(b, '"')
		for j := 0; j < len(e); j++ {
			if e[j] == '"' || e[j] == '\\' {
				b = append(b, '\\')
			}
			b = append(b, e[j])
		}
		b = append(b, '"')
	}
	return append(b, '}')
}

// maxPipeline bounds the transactions a worker sends before reading results.
const maxPipeline = 64

// runWorker runs jobs on c, pipelining what is queued: each job is sent with
// its own Sync, so each is its own transaction and commit.
func runWorker(ctx context.Context, c *pgx.Conn, jobs <-chan job, live *liveIDs, ins, upd, del, commits *atomic.Int64) error {
	batchJobs := make([]job, 0, maxPipeline)
	for {
		j, ok := <-jobs
		if !ok {
			return nil
		}
		batchJobs = append(batchJobs[:0], j)
	fill:
		for len(batchJobs) < maxPipeline {
			select {
			case j, ok := <-jobs:
				if !ok {
					break fill
				}
				batchJobs = append(batchJobs, j)
			default:
				break fill
			}
		}
		if err := runPipeline(ctx, c.PgConn(), batchJobs, live, ins, upd, del, commits); err != nil {
			return err
		}
	}
}

func runPipeline(ctx context.Context, pc *pgconn.PgConn, jobs []job, live *liveIDs, ins, upd, del, commits *atomic.Int64) error {
	pl := pc.StartPipeline(ctx)
	for _, j := range jobs {
		name := stmtInsert
		switch j.kind {
		case opUpdate:
			name = stmtUpdate
		case opDelete:
			name = stmtDelete
		}
		pl.SendQueryPrepared(name, j.params, nil, nil)
		pl.SendPipelineSync()
	}
	if err := pl.Flush(); err != nil {
		pl.Close()
		return fmt.Errorf("send: %w", err)
	}
	var firstErr error
	for _, j := range jobs {
		res, err := pl.GetResults()
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %w", kindName(j.kind), err)
			}
		} else if rr, ok := res.(*pgconn.ResultReader); ok {
			var ids []int64
			for rr.NextRow() {
				if id, err := strconv.ParseInt(string(rr.Values()[0]), 10, 64); err == nil {
					ids = append(ids, id)
				}
			}
			tag, err := rr.Close()
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("%s: %w", kindName(j.kind), err)
				}
			} else {
				switch j.kind {
				case opInsert:
					live.add(ids...)
					ins.Add(tag.RowsAffected())
				case opUpdate:
					upd.Add(tag.RowsAffected())
				case opDelete:
					del.Add(tag.RowsAffected())
				}
				commits.Add(1)
			}
		}
		// The Sync that ends this job's transaction.
		for {
			res, err := pl.GetResults()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				if errors.Is(err, context.Canceled) || pc.IsClosed() {
					pl.Close()
					return firstErr
				}
				continue
			}
			if _, ok := res.(*pgconn.PipelineSync); ok || res == nil {
				break
			}
		}
	}
	if err := pl.Close(); err != nil && firstErr == nil {
		firstErr = err
	}
	return firstErr
}

func kindName(k opKind) string {
	return [...]string{"insert", "update", "delete"}[k]
}
