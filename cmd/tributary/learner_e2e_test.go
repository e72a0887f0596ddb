package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"gonum.org/v1/gonum/mat"

	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/gen"
	"github.com/tributary-cdc/tributary/learner"
	"github.com/tributary-cdc/tributary/sinks/jetstream"
)

const tableSubj = "cdc.shop.public.customer_transactions"

// addLearner appends a learners block for customer_transactions to the
// e2e config.
func addLearner(t *testing.T, e *e2eEnv, algorithm, extra string) {
	t.Helper()
	block := fmt.Sprintf(`learners:
  - name: amount
    source: shop
    table: public.customer_transactions
    target: amount
    features:
      numeric: [age]
      categorical: [gender, transaction_type, location, device]
      datetime: [txn_date]
    algorithm: %s
%s`, algorithm, extra)
	appendConfig(t, e, block)
}

// copyRows inserts generated rows with COPY and returns them.
func copyRows(t *testing.T, conn *pgx.Conn, g *gen.Generator, n int) {
	t.Helper()
	rows := make([][]any, n)
	for i := range rows {
		r := g.Next()
		rows[i] = []any{r.CustomerID, r.Date, r.AmountString(), r.Age, r.Gender, r.TransactionType, r.Location, r.Device}
	}
	if _, err := conn.CopyFrom(context.Background(), pgx.Identifier{"customer_transactions"}, gen.Columns, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
}

func modelStore(t *testing.T, url string) (learner.Store, func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nc, err := jetstream.Connect(ctx, url, "test")
	if err != nil {
		t.Fatal(err)
	}
	b, err := jetstream.NewObjectBlobs(ctx, nc, jetstream.DefaultModelBucket)
	if err != nil {
		nc.Close()
		t.Fatal(err)
	}
	return learner.Store{Blobs: b}, nc.Close
}

func latest(t *testing.T, st learner.Store) *learner.Version {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, _, err := st.Latest(ctx, "amount")
	if errors.Is(err, learner.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Through PostgreSQL: 50k inserts, 20% deleted and 10% updated (REPLICA
// IDENTITY FULL): the ridge version's weights equal a fit from scratch on
// the remaining rows to within 1e-6.
func TestLearnerRidgeExactThroughPostgres(t *testing.T) {
	e := newE2E(t, "public.customer_transactions", "")
	addLearner(t, e, "ridge", "    version_every: {events: 20000, interval: 500ms}\n")
	e.pg.Exec(t, gen.CreateTableSQL)
	d := e.start(t)
	d.waitReady(t)
	conn := e.pg.Conn(t, "postgres")
	g := gen.NewGenerator(11, gen.Options{Rows: 50000})
	for range 5 {
		copyRows(t, conn, g, 10000)
	}
	e.pg.Exec(t, `DELETE FROM customer_transactions WHERE id % 5 = 0`)
	e.pg.Exec(t, `UPDATE customer_transactions SET location = CASE WHEN location = 'Chicago' THEN 'Dallas' ELSE 'Chicago' END,
		device = 'Tablet', amount = amount + 17.25 WHERE id % 10 = 1`)
	st, done := modelStore(t, e.natsURL)
	defer done()
	var v *learner.Version
	waitUntil(t, 3*time.Minute, "a version with every change", func() bool {
		v = latest(t, st)
		return v != nil && v.Counts.Inserts == 50000 && v.Counts.Deletes == 10000 && v.Counts.Updates == 5000
	})
	if n := v.Counts.UpdatesNotUnlearned + v.Counts.DeletesNotUnlearned; n != 0 {
		t.Fatalf("%d changes not unlearned", n)
	}
	worst, n := compareWithScratchFit(t, conn, v, 1e-6)
	if n != 40000 {
		t.Fatalf("%d rows remain, want 40000", n)
	}
	t.Logf("version %d at stream seq %d: %d features, largest difference from the fit from scratch %.3g", v.Version, v.StreamSeq, len(v.FeatureNames), worst)
	d.stop(t)
}

// compareWithScratchFit fits ridge from scratch on the rows the table holds
// now and checks version v's weights against it: each within tol times
// max(1, |weight|). It returns the largest difference and the number of rows.
func compareWithScratchFit(t *testing.T, conn *pgx.Conn, v *learner.Version, tol float64) (float64, int) {
	t.Helper()
	// From scratch on the table's rows.
	rows, err := conn.Query(context.Background(), `SELECT age, gender, transaction_type, location, device, txn_date, amount::float8 FROM customer_transactions`)
	if err != nil {
		t.Fatal(err)
	}
	index := map[string]int{}
	for j, n := range v.FeatureNames {
		index[n] = j
	}
	center := v.State.Featurizer.DayCenter
	var xs [][]float64
	var ys []float64
	for rows.Next() {
		var age int
		var gnd, typ, loc, dev string
		var at time.Time
		var y float64
		if err := rows.Scan(&age, &gnd, &typ, &loc, &dev, &at, &y); err != nil {
			t.Fatal(err)
		}
		x := make([]float64, len(v.FeatureNames))
		x[index["age"]] = float64(age)
		for _, kv := range [][2]string{{"gender", gnd}, {"transaction_type", typ}, {"location", loc}, {"device", dev}} {
			j, ok := index[kv[0]+"="+kv[1]]
			if !ok {
				t.Fatalf("level %s=%s not in the model", kv[0], kv[1])
			}
			x[j] = 1
		}
		at = at.UTC()
		h, w, m := 2*math.Pi*float64(at.Hour())/24, 2*math.Pi*float64(at.Weekday())/7, 2*math.Pi*float64(at.Month()-1)/12
		for p, val := range map[string]float64{"hour_sin": math.Sin(h), "hour_cos": math.Cos(h), "dow_sin": math.Sin(w), "dow_cos": math.Cos(w),
			"month_sin": math.Sin(m), "month_cos": math.Cos(m), "days": float64(at.UnixMicro())/86400e6 - center} {
			x[index["txn_date."+p]] = val
		}
		xs = append(xs, x)
		ys = append(ys, y)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	icpt, w := fitRidge(t, xs, ys, v.Hyperparameters.L2)
	worst := math.Abs(icpt - v.Intercept)
	for j, n := range v.FeatureNames {
		worst = math.Max(worst, math.Abs(w[j]-v.Weights[n]))
		if math.Abs(w[j]-v.Weights[n]) > tol*math.Max(1, math.Abs(w[j])) {
			t.Errorf("weight %s: version %v, from scratch %v", n, v.Weights[n], w[j])
		}
	}
	if math.Abs(icpt-v.Intercept) > tol*math.Max(1, math.Abs(icpt)) {
		t.Errorf("intercept: version %v, from scratch %v", v.Intercept, icpt)
	}
	return worst, len(xs)
}

// fitRidge fits ridge from scratch: standardized features, unpenalized
// intercept, lambda on the standardized weights; weights in raw units.
func fitRidge(t *testing.T, xs [][]float64, ys []float64, lambda float64) (float64, []float64) {
	n, d := float64(len(xs)), len(xs[0])
	mean, sd := make([]float64, d), make([]float64, d)
	ybar := 0.0
	for i, x := range xs {
		for j, v := range x {
			mean[j] += v / n
		}
		ybar += ys[i] / n
	}
	for _, x := range xs {
		for j, v := range x {
			sd[j] += (v - mean[j]) * (v - mean[j]) / n
		}
	}
	var keep []int
	for j := range sd {
		if sd[j] = math.Sqrt(sd[j]); sd[j] > 1e-9 {
			keep = append(keep, j)
		}
	}
	z := mat.NewDense(len(xs), len(keep), nil)
	yc := mat.NewVecDense(len(xs), nil)
	for i, x := range xs {
		for p, j := range keep {
			z.Set(i, p, (x[j]-mean[j])/sd[j])
		}
		yc.SetVec(i, ys[i]-ybar)
	}
	var a mat.Dense
	a.Mul(z.T(), z)
	for p := range keep {
		a.Set(p, p, a.At(p, p)+lambda)
	}
	var b, beta mat.VecDense
	b.MulVec(z.T(), yc)
	if err := beta.SolveVec(&a, &b); err != nil {
		t.Fatal(err)
	}
	w := make([]float64, d)
	icpt := ybar
	for p, j := range keep {
		w[j] = beta.AtVec(p) / sd[j]
		icpt -= w[j] * mean[j]
	}
	return icpt, w
}

// insertsThrough counts the inserts (c and r) of the table subject in the
// stream at sequences up to seq.
func insertsThrough(t *testing.T, url string, seq uint64) int64 {
	t.Helper()
	if seq == 0 {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	f, err := jetstream.NewOrderedFeed(ctx, nc, "TRIBUTARY", tableSubj, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	var n int64
	for {
		s, _, data, err := f.Next(ctx)
		if err != nil {
			t.Fatalf("read stream up to %d: %v", seq, err)
		}
		if s > seq {
			return n
		}
		var ev change.Event
		if err := change.Unmarshal(data, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Op == change.OpCreate || ev.Op == change.OpRead {
			n++
		}
		if s == seq {
			return n
		}
	}
}

// The daemon is SIGKILLed at random points while it learns; after each
// restart the newest version's insert count equals the inserts in the
// stream up to its recorded sequence, never more, and at the end every
// insert is in the model once.
func TestLearnerExactlyOnceAcrossSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	e := newE2E(t, "public.customer_transactions", "")
	addLearner(t, e, "sgd", "    version_every: {events: 700, interval: 300ms}\n")
	e.pg.Exec(t, gen.CreateTableSQL)
	d := e.start(t)
	d.waitReady(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &gen.Workload{DSN: e.pg.DSN("postgres"), Rate: 400, BatchSize: 20, Mix: gen.Mix{Insert: 8, Update: 1, Delete: 1}, Seed: 3, Duration: 20 * time.Second}
	wdone := make(chan error, 1)
	var totals gen.Totals
	go func() {
		var err error
		totals, err = w.Run(ctx)
		wdone <- err
	}()
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	kills, checks := 0, 0
	// The embedded NATS server lives in the daemon: read the store over a
	// new connection each time the daemon is up.
	latestNow := func() *learner.Version {
		st, closeStore := modelStore(t, e.natsURL)
		defer closeStore()
		return latest(t, st)
	}
	check := func() {
		v := latestNow()
		if v == nil {
			return
		}
		got := v.Counts.Inserts + v.Counts.SnapshotReads
		want := insertsThrough(t, e.natsURL, v.StreamSeq)
		if got != want {
			t.Fatalf("after %d kills: version %d at stream seq %d counts %d inserts, the stream has %d up to there", kills, v.Version, v.StreamSeq, got, want)
		}
		checks++
	}
	for running := true; running; {
		select {
		case err := <-wdone:
			if err != nil {
				t.Fatal(err)
			}
			running = false
			continue
		case <-time.After(time.Duration(500+rng.Intn(2000)) * time.Millisecond):
		}
		d.kill()
		kills++
		d = e.start(t)
		d.waitReady(t)
		check() // before the restarted learner saves anything new, or after: either must hold
	}
	// Catch up, stop cleanly (a final version), and compare with the table's
	// whole history.
	target := currentLSN(t, e.pg)
	waitUntil(t, 2*time.Minute, "the daemon to catch up", func() bool { return d.confirmedLSN(t) >= target })
	waitUntil(t, time.Minute, "the learner to catch up", func() bool {
		v := latestNow()
		return v != nil && v.Counts.Inserts == totals.Inserts
	})
	check()
	v := latestNow()
	d.stop(t)
	if v.Counts.Inserts != totals.Inserts || v.Counts.Deletes != totals.Deletes || v.Counts.Updates != totals.Updates {
		t.Fatalf("final version counts %+v; the workload made %+v", v.Counts, totals)
	}
	t.Logf("%d kills, %d checks; final version %d: %d inserts, %d updates, %d deletes, rolling RMSE %.2f",
		kills, checks, v.Version, v.Counts.Inserts, v.Counts.Updates, v.Counts.Deletes, v.Metrics.Rolling.RMSE)
}

// A row inserted into PostgreSQL shows up as a prediction event; at a
// steady 1,000 single-row commits/s the test reports the time from commit
// to prediction.
func TestLearnerPredictionFreshness(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	e := newE2E(t, "public.customer_transactions", "")
	addLearner(t, e, "sgd", "    version_every: {events: 100000, interval: 1s}\n    aggregates: {keys: [customer_id, location], window: 5m}\n")
	e.pg.Exec(t, gen.CreateTableSQL)
	d := e.start(t)
	d.waitReady(t)
	nc, err := nats.Connect(e.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	lat := make(chan float64, 1<<16)
	aggs := make(chan []byte, 1<<16)
	sub, err := nc.Subscribe("cdc.predictions.amount", func(m *nats.Msg) {
		recv := float64(time.Now().UnixMicro()) / 1000
		var p struct {
			SourceTsMs int64              `json:"source_ts_ms"`
			Prediction float64            `json:"prediction"`
			Key        struct{ ID int64 } `json:"key"`
		}
		if err := jsonUnmarshal(m.Data, &p); err != nil || p.Key.ID == 0 {
			t.Errorf("prediction event %s: %v", m.Data, err)
			return
		}
		lat <- recv - float64(p.SourceTsMs)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	asub, err := nc.Subscribe("cdc.aggregates.amount", func(m *nats.Msg) { aggs <- m.Data })
	if err != nil {
		t.Fatal(err)
	}
	defer asub.Unsubscribe()
	w := &gen.Workload{DSN: e.pg.DSN("postgres"), Rate: 1000, Mix: gen.Mix{Insert: 1}, Seed: 5, Duration: 10 * time.Second}
	totals, err := w.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "a prediction for every insert", func() bool { return int64(len(lat)) >= totals.Inserts })
	var ms []float64
	for len(lat) > 0 {
		ms = append(ms, <-lat)
	}
	sort.Float64s(ms)
	// Skip the first second (connections warming up).
	steady := ms
	p := func(q float64) float64 { return steady[int(q*float64(len(steady)-1))] }
	t.Logf("%d inserts at %.0f commits/s: commit to prediction p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms (commit time has ms resolution)",
		totals.Inserts, float64(totals.Commits)/10, p(0.5), p(0.9), p(0.99), steady[len(steady)-1])
	if p(0.99) > 250 {
		t.Errorf("p99 commit to prediction %.1f ms", p(0.99))
	}
	if len(aggs) < int(totals.Inserts) {
		t.Errorf("%d aggregate events for %d inserts", len(aggs), totals.Inserts)
	}
	a := <-aggs
	if !strings.Contains(string(a), `"column":"customer_id"`) || !strings.Contains(string(a), `"column":"location"`) {
		t.Errorf("aggregate event %s", a)
	}
	// Where the time goes: commit to stored in the stream.
	stored := storedLatency(t, nc)
	t.Logf("commit to stored in the stream: p50 %.1f ms, p99 %.1f ms", stored[len(stored)/2], stored[len(stored)*99/100])
	// The stream stores the outputs too, and the learner did not read them.
	st, closeStore := modelStore(t, e.natsURL)
	defer closeStore()
	var v *learner.Version
	waitUntil(t, 30*time.Second, "a version with every insert", func() bool {
		v = latest(t, st)
		return v != nil && v.Counts.Inserts == totals.Inserts
	})
	if v.Counts.OtherTables != 0 || v.Counts.Malformed != 0 {
		t.Fatalf("final version counts %+v", v.Counts)
	}
	js, _ := natsjs.New(nc)
	info, err := js.Stream(context.Background(), "TRIBUTARY")
	if err != nil {
		t.Fatal(err)
	}
	if n := info.CachedInfo().State.Msgs; n != uint64(3*totals.Inserts) {
		t.Errorf("stream holds %d messages, want %d (changes, predictions, aggregates)", n, 3*totals.Inserts)
	}
	// /status and /metrics report the learner.
	doc, err := d.status(t)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := doc["learners"].([]any)
	if len(ls) != 1 || ls[0].(map[string]any)["name"] != "amount" || ls[0].(map[string]any)["counts"].(map[string]any)["inserts"].(float64) != float64(totals.Inserts) {
		t.Errorf("/status learners = %v", doc["learners"])
	}
	resp, err := http.Get("http://" + e.adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`tributary_learner_rmse{learner="amount",window="rolling"}`, `tributary_learner_events_total{learner="amount",op="c"} ` + strconv.FormatInt(totals.Inserts, 10)} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	d.stop(t)
}

// storedLatency returns, sorted, the ms from each change's commit to its
// storage in the stream.
func storedLatency(t *testing.T, nc *nats.Conn) []float64 {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	js, _ := natsjs.New(nc)
	c, err := js.OrderedConsumer(ctx, "TRIBUTARY", natsjs.OrderedConsumerConfig{FilterSubjects: []string{tableSubj}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	for uint64(len(out)) < info.NumPending {
		m, err := c.Next(natsjs.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		md, _ := m.Metadata()
		var ev change.Event
		if err := change.Unmarshal(m.Data(), &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, float64(md.Timestamp.UnixMicro())/1000-float64(ev.Source.TsMs))
	}
	sort.Float64s(out)
	return out
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// A daemon killed during its initial snapshot, with a learner that has
// already saved versions of the first attempt's reads: after the retake the
// ridge model equals a fit from scratch on the table, not a double count.
func TestLearnerAfterInterruptedSnapshot(t *testing.T) {
	e := newE2E(t, "public.customer_transactions", "")
	addLearner(t, e, "ridge", "    version_every: {events: 5000, interval: 200ms}\n")
	e.pg.Exec(t, gen.CreateTableSQL)
	conn := e.pg.Conn(t, "postgres")
	g := gen.NewGenerator(13, gen.Options{Rows: 200000})
	for range 20 {
		copyRows(t, conn, g, 10000)
	}
	d := e.start(t)
	waitUntil(t, time.Minute, "the embedded NATS server", func() bool {
		nc, err := nats.Connect(e.natsURL)
		if err == nil {
			nc.Close()
		}
		return err == nil
	})
	st, done := modelStore(t, e.natsURL)
	defer done()
	waitUntil(t, 2*time.Minute, "a version holding part of the first snapshot", func() bool {
		v := latest(t, st)
		return v != nil && v.Counts.SnapshotReads >= 10000 && v.Counts.SnapshotReads < 200000
	})
	d.kill()
	done()

	d = e.start(t)
	d.waitReady(t)
	st, done = modelStore(t, e.natsURL)
	defer done()
	var v *learner.Version
	waitUntil(t, 3*time.Minute, "a version after the retake", func() bool {
		v = latest(t, st)
		return v != nil && v.Counts.SnapshotRetakes == 1 && v.StreamSeq == subjectLastSeq(t, e.natsURL, "cdc.shop.public.customer_transactions")
	})
	// 200k rows: rounding in the sufficient statistics reaches a few 1e-6;
	// learning the first attempt's reads twice would be off by far more.
	worst, n := compareWithScratchFit(t, conn, v, 1e-5)
	if n != 200000 {
		t.Fatalf("%d rows in the table", n)
	}
	t.Logf("retake learned: %d reads in all, snapshot_retakes %d, largest difference from the fit from scratch %.3g", v.Counts.SnapshotReads, v.Counts.SnapshotRetakes, worst)
	d.stop(t)
}

// subjectLastSeq is the stream sequence of the last message on subject.
func subjectLastSeq(t *testing.T, url, subject string) uint64 {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		return 0
	}
	defer nc.Close()
	js, err := natsjs.New(nc)
	if err != nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "TRIBUTARY")
	if err != nil {
		return 0
	}
	m, err := st.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		return 0
	}
	return m.Sequence
}
