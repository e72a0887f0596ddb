package replicatortest

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tributary-cdc/tributary/change"
)

// CollectSink is an in-process replicator.Sink, and replicator.SubjectPurger,
// that keeps every event it is given. Its acks can be held back to act like
// a slow, paused or stuck sink. The zero value is ready to use.
type CollectSink struct {
	// Paused, while set, keeps Durable where it is: nothing more is acked.
	Paused atomic.Bool
	// Block, while set, makes Write wait, so the pipeline stops reading.
	Block atomic.Bool
	// Limit, when > 0, keeps every event after this sequence from becoming
	// durable.
	Limit atomic.Uint64

	mu      sync.Mutex
	events  []*change.Event
	seqs    []uint64
	durable atomic.Uint64
	last    atomic.Uint64
}

// Name returns "collect".
func (c *CollectSink) Name() string { return "collect" }

// Write keeps ev; it becomes durable at once unless the sink is paused or
// seq is past Limit.
func (c *CollectSink) Write(_ context.Context, seq uint64, ev *change.Event) error {
	for c.Block.Load() {
		time.Sleep(5 * time.Millisecond)
	}
	c.mu.Lock()
	c.events = append(c.events, ev)
	c.seqs = append(c.seqs, seq)
	c.mu.Unlock()
	c.last.Store(seq)
	if !c.Paused.Load() {
		c.durable.Store(c.limited(seq))
	}
	return nil
}

// limited is seq capped at Limit.
func (c *CollectSink) limited(seq uint64) uint64 {
	if l := c.Limit.Load(); l > 0 && seq > l {
		return l
	}
	return seq
}

// Durable returns the highest acked sequence: everything written unless
// the sink is paused (then what was acked when it paused) or Limit caps it.
func (c *CollectSink) Durable() uint64 {
	if !c.Paused.Load() {
		c.durable.Store(c.limited(c.last.Load()))
	}
	return c.durable.Load()
}

// Flush waits until everything written is durable or ctx ends.
func (c *CollectSink) Flush(ctx context.Context) error {
	for c.Durable() < c.last.Load() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// Close does nothing.
func (c *CollectSink) Close(context.Context) error { return nil }

// PurgeSource drops the kept events of the named source.
func (c *CollectSink) PurgeSource(_ context.Context, source string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int
	for i, ev := range c.events {
		if ev.Source.Name != source {
			c.events[n], c.seqs[n] = ev, c.seqs[i]
			n++
		}
	}
	c.events, c.seqs = c.events[:n], c.seqs[:n]
	return nil
}

// Snapshot returns a copy of the kept events, in the order written.
func (c *CollectSink) Snapshot() []*change.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*change.Event(nil), c.events...)
}

// Count returns the number of kept events.
func (c *CollectSink) Count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.events)
}

// DurableEvents returns the kept events that became durable.
func (c *CollectSink) DurableEvents() []*change.Event {
	d := c.Durable()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*change.Event
	for i, ev := range c.events {
		if c.seqs[i] <= d {
			out = append(out, ev)
		}
	}
	return out
}
