package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/config"
	"github.com/tributary-cdc/tributary/learner"
	"github.com/tributary-cdc/tributary/sinks/jetstream"
)

// startLearners starts one learner.Runner per configured learner, each
// reading its table's subject of the JetStream stream over nc with an
// ordered consumer from the sequence after its newest version, keeping
// versions in the JetStream object store bucket jetstream.DefaultModelBucket,
// and publishing predictions and aggregates with
// JetStream async publishes (bounded in flight, with message IDs). The
// runners stop when ctx ends; wait then returns once each has saved its
// final version (bounded), with the errors of runners that failed. status
// returns the runners' learner.Status values for /status.
func startLearners(ctx context.Context, cfg *config.Config, nc *nats.Conn, reg prometheus.Registerer, log *slog.Logger) (wait func() error, status func() any, err error) {
	none := func() error { return nil }
	if len(cfg.Learners) == 0 {
		return none, func() any { return nil }, nil
	}
	sc, ok := cfg.Sink(config.SinkJetStream)
	if !ok || nc == nil {
		return nil, nil, errors.New("learners: they read the JetStream stream: configure a jetstream sink")
	}
	blobs, err := jetstream.NewObjectBlobs(ctx, nc, jetstream.DefaultModelBucket)
	if err != nil {
		return nil, nil, fmt.Errorf("learners: model store: %w", err)
	}
	pub, err := newJSPublisher(nc, log)
	if err != nil {
		return nil, nil, err
	}
	runners := make([]*learner.Runner, len(cfg.Learners))
	feeds := make([]*jetstream.OrderedFeed, len(cfg.Learners))
	stopAll := func() {
		for _, f := range feeds {
			if f != nil {
				f.Stop()
			}
		}
	}
	for i, lc := range cfg.Learners {
		r, err := learner.NewRunner(lc, sc.SubjectPrefix, blobs, pub, reg, log)
		if err != nil {
			stopAll()
			return nil, nil, fmt.Errorf("learners[%d]: %w", i, err)
		}
		start, err := r.StartSeq(ctx)
		if err != nil {
			stopAll()
			return nil, nil, fmt.Errorf("learners[%d]: %w", i, err)
		}
		filter, err := tableSubject(sc.SubjectPrefix, lc.Source, lc.Table)
		if err != nil {
			stopAll()
			return nil, nil, fmt.Errorf("learners[%d]: %w", i, err)
		}
		f, err := jetstream.NewOrderedFeed(ctx, nc, sc.Stream, filter, start)
		if err != nil {
			stopAll()
			return nil, nil, fmt.Errorf("learners[%d]: %w", i, err)
		}
		runners[i], feeds[i] = r, f
		log.Info("learner started", "learner", lc.Name, "algorithm", lc.Algorithm, "subject", filter, "from_seq", start)
	}
	errs := make([]error, len(runners))
	var wg sync.WaitGroup
	for i, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer feeds[i].Stop()
			if err := r.Run(ctx, feedAdapter{feeds[i]}); err != nil {
				errs[i] = err
				log.Error("learner stopped", "learner", cfg.Learners[i].Name, "err", err)
			}
		}()
	}
	wait = func() error {
		wg.Wait()
		pub.flush(5 * time.Second)
		return errors.Join(errs...)
	}
	status = func() any {
		out := make([]learner.Status, len(runners))
		for i, r := range runners {
			out[i] = r.Status()
		}
		return out
	}
	return wait, status, nil
}

// tableSubject is the subject a source's table is published on.
func tableSubject(prefix, source, table string) (string, error) {
	ns, tbl, ok := cutQualified(table)
	if !ok {
		return "", fmt.Errorf("table %q is not schema.table", table)
	}
	return jetstream.Subject(prefix, &change.Event{Source: change.Source{Name: source, Schema: ns, Table: tbl}}), nil
}

func cutQualified(t string) (string, string, bool) {
	for i := 0; i < len(t); i++ {
		if t[i] == '.' {
			return t[:i], t[i+1:], i > 0 && i < len(t)-1
		}
	}
	return "", "", false
}

// feedAdapter makes a jetstream.OrderedFeed a learner.Feed.
type feedAdapter struct{ f *jetstream.OrderedFeed }

func (a feedAdapter) Next(ctx context.Context) (learner.Message, error) {
	seq, subj, data, err := a.f.Next(ctx)
	return learner.Message{Seq: seq, Subject: subj, Data: data}, err
}

// jsPublisher publishes the learners' outputs with JetStream async
// publishes: at most 4096 in flight (a publish beyond waits), each with a
// Nats-Msg-Id so that a re-publication after a restart is dropped as a
// duplicate. The outputs' subjects fall under the stream's <prefix>.>, so
// the stream stores them; the learners' consumers filter on their table's
// subject and never read them back.
type jsPublisher struct {
	js     natsjs.JetStream
	log    *slog.Logger
	failed atomic.Int64
}

func newJSPublisher(nc *nats.Conn, log *slog.Logger) (*jsPublisher, error) {
	p := &jsPublisher{log: log}
	js, err := natsjs.New(nc, natsjs.WithPublishAsyncMaxPending(4096), natsjs.WithPublishAsyncErrHandler(func(_ natsjs.JetStream, m *nats.Msg, err error) {
		if n := p.failed.Add(1); n <= 10 || n%1000 == 0 {
			p.log.Warn("learner output not stored", "subject", m.Subject, "err", err, "failed_total", n)
		}
	}))
	if err != nil {
		return nil, fmt.Errorf("learners: %w", err)
	}
	p.js = js
	return p, nil
}

func (p *jsPublisher) Publish(ctx context.Context, subject, msgID string, data []byte) error {
	m := &nats.Msg{Subject: subject, Data: append([]byte(nil), data...), Header: nats.Header{}}
	_, err := p.js.PublishMsgAsync(m, natsjs.WithMsgID(msgID), natsjs.WithStallWait(5*time.Second))
	return err
}

// flush waits (bounded) for the outputs in flight to be acknowledged.
func (p *jsPublisher) flush(timeout time.Duration) {
	select {
	case <-p.js.PublishAsyncComplete():
	case <-time.After(timeout):
	}
}
