package replicator_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/replicator"
	"github.com/tributary-cdc/tributary/replicator/replicatortest"
)

// scriptedSource hands over one prepared run of batches per Run call, then
// either fails with a retryable error (while runs remain) or waits for ctx.
type scriptedSource struct {
	runs [][]replicator.Batch
	sink *replicatortest.CollectSink

	mu        sync.Mutex
	calls     int
	confirmed []uint64
	// settled records, at the start of each Run after the first, whether
	// everything handed over before was durable.
	settled []bool
}

func (s *scriptedSource) Name() string { return "shop" }

func (s *scriptedSource) Run(ctx context.Context, out chan<- replicator.Batch) error {
	s.mu.Lock()
	i := s.calls
	s.calls++
	if i > 0 {
		s.settled = append(s.settled, s.sink.Durable() == uint64(s.sink.Count()))
	}
	s.mu.Unlock()
	if i < len(s.runs) {
		for _, b := range s.runs[i] {
			select {
			case out <- b:
			case <-ctx.Done():
				return nil
			}
		}
	}
	if i < len(s.runs)-1 {
		return replicator.Retryable(errors.New("connection lost"))
	}
	<-ctx.Done()
	return nil
}

func (s *scriptedSource) Confirm(pos change.Position) {
	s.mu.Lock()
	s.confirmed = append(s.confirmed, pos.LSN)
	s.mu.Unlock()
}

func (s *scriptedSource) lastConfirmed() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.confirmed) == 0 {
		return 0
	}
	return s.confirmed[len(s.confirmed)-1]
}

// txn builds a transaction of n events ending at lsn.
func txn(n int, lsn uint64) replicator.Batch {
	b := make(replicator.Batch, n)
	for i := range b {
		b[i] = &change.Event{ID: "e", Op: change.OpCreate, Source: change.Source{Name: "shop", Table: "t"}}
	}
	b[n-1].TxEnd, b[n-1].Position = true, change.Position{LSN: lsn}
	return b
}

// The position is confirmed only once every event of the transaction is
// durable, in commit order, and a source restarted after a retryable error
// starts again only after what it handed over is durable.
func TestPipelineConfirmsOnlyDurableTransactions(t *testing.T) {
	sink := &replicatortest.CollectSink{}
	sink.Limit.Store(4) // events 1-4 durable: only the first transaction is whole
	src := &scriptedSource{sink: sink, runs: [][]replicator.Batch{
		{txn(3, 10), txn(2, 20)},
		{txn(1, 30)},
	}}
	p := &replicator.Pipeline{Source: src, Out: replicator.NewFanout(sink), MinBackoff: time.Millisecond, CommitInterval: time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	replicatortest.WaitFor(t, 5*time.Second, "the first transaction confirmed", func() bool { return src.lastConfirmed() == 10 })
	time.Sleep(50 * time.Millisecond)
	if got := src.lastConfirmed(); got != 10 {
		t.Fatalf("confirmed %d while only the first transaction is durable", got)
	}
	src.mu.Lock()
	calls := src.calls
	src.mu.Unlock()
	if calls != 1 {
		t.Fatalf("source restarted (%d runs) before what it handed over was durable", calls)
	}
	sink.Limit.Store(0)
	replicatortest.WaitFor(t, 5*time.Second, "every transaction confirmed", func() bool { return src.lastConfirmed() == 30 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	for i := 1; i < len(src.confirmed); i++ {
		if src.confirmed[i] < src.confirmed[i-1] {
			t.Fatalf("confirmations out of order: %v", src.confirmed)
		}
	}
	if len(src.settled) != 1 || !src.settled[0] {
		t.Fatalf("restart settled = %v, want [true]", src.settled)
	}
}

// A source that fails for good stops the pipeline with its error.
func TestPipelineStopsOnPermanentError(t *testing.T) {
	sink := &replicatortest.CollectSink{}
	src := &failing{err: replicator.Permanent(errors.New("wal_level is replica"))}
	p := &replicator.Pipeline{Source: src, Out: replicator.NewFanout(sink)}
	err := p.Run(context.Background())
	if err == nil || !errors.Is(err, src.err) {
		t.Fatalf("Run = %v, want the source's error", err)
	}
}

type failing struct{ err error }

func (f *failing) Name() string                                       { return "shop" }
func (f *failing) Run(context.Context, chan<- replicator.Batch) error { return f.err }
func (f *failing) Confirm(change.Position)                            {}
