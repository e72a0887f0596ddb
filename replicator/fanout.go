package replicator

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tributary-cdc/tributary/change"
)

// Fanout writes every event to every sink under one sequence number. All
// pipelines of a daemon share one Fanout, so that sequence numbers strictly
// increase across sources as the Sink contract requires.
type Fanout struct {
	mu    sync.Mutex
	seq   uint64
	sinks []Sink
}

// NewFanout returns a Fanout over sinks.
func NewFanout(sinks ...Sink) *Fanout { return &Fanout{sinks: sinks} }

// Sinks returns the sinks in configuration order.
func (f *Fanout) Sinks() []Sink { return f.sinks }

// WriteBatch writes the events of b to every sink in order and calls
// txEnd with the sequence number and batch index of every event that
// ends a transaction.
func (f *Fanout) WriteBatch(ctx context.Context, b Batch, txEnd func(seq uint64, i int, ev *change.Event)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, ev := range b {
		f.seq++
		for _, s := range f.sinks {
			if err := s.Write(ctx, f.seq, ev); err != nil {
				return fmt.Errorf("sink %s: %w", s.Name(), err)
			}
		}
		if ev.TxEnd {
			txEnd(f.seq, i, ev)
		}
	}
	return nil
}

// Durable returns the highest sequence number durable in every sink.
func (f *Fanout) Durable() uint64 {
	var min uint64
	for i, s := range f.sinks {
		if d := s.Durable(); i == 0 || d < min {
			min = d
		}
	}
	return min
}

// Flush waits until every sink has stored everything written to it.
func (f *Fanout) Flush(ctx context.Context) error {
	var errs []error
	for _, s := range f.sinks {
		if err := s.Flush(ctx); err != nil {
			errs = append(errs, fmt.Errorf("flush sink %s: %w", s.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// Close closes every sink within ctx.
func (f *Fanout) Close(ctx context.Context) error {
	var errs []error
	for _, s := range f.sinks {
		if err := s.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close sink %s: %w", s.Name(), err))
		}
	}
	return errors.Join(errs...)
}
