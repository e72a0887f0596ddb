package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
)

// latencyPlan is the steady-rate latency runs.
type latencyPlan struct {
	rates    []float64
	warmup   time.Duration
	duration time.Duration
}

// receiver records when each row id arrived on the stream.
type receiver struct {
	mu   sync.Mutex
	recv map[int64]time.Time
	bad  int
}

func (r *receiver) handle(m jetstream.Msg) {
	now := time.Now()
	var ev struct {
		After map[string]json.RawMessage `json:"after"`
	}
	var id int64
	err := json.Unmarshal(m.Data(), &ev)
	if err == nil {
		raw := ev.After["id"]
		if len(raw) > 1 && raw[0] == '"' {
			raw = raw[1 : len(raw)-1]
		}
		id, err = strconv.ParseInt(string(raw), 10, 64)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.bad++
		return
	}
	if _, seen := r.recv[id]; !seen {
		r.recv[id] = now
	}
}

func (r *receiver) get(id int64) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.recv[id]
	return t, ok
}

// commitTimes holds the wall time right after each row's COMMIT returned.
type commitTimes struct {
	mu sync.Mutex
	at map[int64]time.Time
}

// runLatency runs the steady-rate latency workloads against one daemon and
// returns the results and the daemon's peak RSS over them.
func (b *pgBench) runLatency(ctx context.Context) ([]Latency, float64, error) {
	if err := b.fresh(ctx); err != nil {
		return nil, 0, err
	}
	spec, err := b.newDaemon("lat")
	if err != nil {
		return nil, 0, err
	}
	defer os.RemoveAll(spec.dir)
	c, err := spec.start(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer c.kill()
	sw, err := watchStream(ctx, spec.natsURL())
	if err != nil {
		return nil, 0, err
	}
	defer sw.close()
	cons, err := sw.st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{spec.subject()}, DeliverPolicy: jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return nil, 0, fmt.Errorf("ordered consumer: %w", err)
	}
	rcv := &receiver{recv: make(map[int64]time.Time)}
	cc, err := cons.Consume(rcv.handle)
	if err != nil {
		return nil, 0, fmt.Errorf("consume: %w", err)
	}
	defer cc.Stop()

	var out []Latency
	for _, r := range b.latency.rates {
		if ctx.Err() != nil {
			break
		}
		progress("postgres latency: %.0f commits/s for %v after %v warm-up", r, b.latency.duration, b.latency.warmup)
		l, err := b.latencyAt(ctx, r, rcv)
		if err != nil {
			return out, peakRSS(c), err
		}
		progress("  achieved %.0f/s, p50 %.2f ms, p99 %.2f ms, max %.2f ms, %d/%d received", l.AchievedRate, l.P50Ms, l.P99Ms, l.MaxMs, l.Received, l.Commits)
		out = append(out, l)
	}
	rss := peakRSS(c)
	cc.Stop()
	if err := c.stop(30 * time.Second); err != nil {
		return out, rss, err
	}
	return out, max(rss, c.maxRSSMB()), nil
}

// latencyAt commits single-row transactions at rate per second over a few
// connections, each paced on an absolute schedule, and measures commit to
// receive latency for the rows committed after the warm-up.
func (b *pgBench) latencyAt(ctx context.Context, rate float64, rcv *receiver) (Latency, error) {
	conns := max(2, int(math.Ceil(rate/625)))
	interval := time.Duration(float64(time.Second) * float64(conns) / rate)
	start := time.Now().Add(50 * time.Millisecond)
	measureFrom := start.Add(b.latency.warmup)
	end := measureFrom.Add(b.latency.duration)
	ct := &commitTimes{at: make(map[int64]time.Time)}
	errs := make([]error, conns)
	var wg sync.WaitGroup
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := pgx.Connect(ctx, b.dsn)
			if err != nil {
				errs[w] = fmt.Errorf("connect: %w", err)
				return
			}
			defer conn.Close(context.Background())
			rnd := rand.New(rand.NewPCG(uint64(w), uint64(rate)))
			next := start.Add(time.Duration(w) * interval / time.Duration(conns))
			for next.Before(end) {
				if d := time.Until(next); d > 0 {
					select {
					case <-ctx.Done():
						errs[w] = ctx.Err()
						return
					case <-time.After(d):
					}
				}
				row := randomRow(rnd)
				var id int64
				err := conn.QueryRow(ctx, `INSERT INTO customer_transactions
					(customer_id, txn_date, amount, age, gender, transaction_type, location, device)
					VALUES ($1, $2, $3::numeric, $4, $5, $6, $7, $8) RETURNING id`,
					row.customer, row.date, row.amount, row.age, row.gender, row.typ, row.location, row.device).Scan(&id)
				now := time.Now()
				if err != nil {
					errs[w] = fmt.Errorf("insert: %w", err)
					return
				}
				if !next.Before(measureFrom) {
					ct.mu.Lock()
					ct.at[id] = now
					ct.mu.Unlock()
				}
				next = next.Add(interval)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return Latency{}, err
		}
	}
	// Wait (up to 60 s) for every measured row to arrive.
	deadline := time.Now().Add(60 * time.Second)
	for {
		missing := 0
		for id := range ct.at {
			if _, ok := rcv.get(id); !ok {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	l := Latency{TargetRate: rate, Commits: len(ct.at)}
	if rate == 1000 {
		l.TargetP99Ms = 10
	}
	var first, last time.Time
	for _, t := range ct.at {
		if first.IsZero() || t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	if window := last.Sub(first).Seconds(); window > 0 {
		l.AchievedRate = float64(len(ct.at)-1) / window
	}
	lat := make([]float64, 0, len(ct.at))
	for id, committed := range ct.at {
		if got, ok := rcv.get(id); ok {
			lat = append(lat, float64(got.Sub(committed))/float64(time.Millisecond))
		}
	}
	l.Received = len(lat)
	if len(lat) == 0 {
		return l, fmt.Errorf("no row of the %.0f/s run arrived on the stream", rate)
	}
	slices.Sort(lat)
	l.P50Ms, l.P90Ms, l.P99Ms, l.MaxMs = quantile(lat, 0.5), quantile(lat, 0.9), quantile(lat, 0.99), lat[len(lat)-1]
	if l.Received < l.Commits {
		return l, fmt.Errorf("%.0f/s run: only %d of %d measured rows arrived within 60s", rate, l.Received, l.Commits)
	}
	return l, nil
}

// quantile returns the q-quantile of sorted values (nearest rank).
func quantile(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
