package replicator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tributary-cdc/tributary/change"
)

// Pipeline runs one source into a Fanout and confirms the source's
// position as the sinks make events durable.
type Pipeline struct {
	Source  Source
	Out     *Fanout
	Logger  *slog.Logger
	Metrics *Metrics // may be nil

	// ShutdownTimeout bounds the drain on shutdown (default 15s).
	ShutdownTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between source restarts
	// (defaults 250ms and 30s).
	MinBackoff, MaxBackoff time.Duration
	// CommitInterval is how often durable positions are confirmed (default 5ms).
	CommitInterval time.Duration

	mu      sync.Mutex
	pending []pendingTx
	count   int64 // events written since the last transaction end (run loop only)
}

type pendingTx struct {
	seq    uint64
	pos    change.Position
	events int64
}

// Run moves events until ctx is cancelled, then drains: it stops reading,
// waits (up to ShutdownTimeout) for the sinks to acknowledge what was
// written, confirms the last durable position and stops the source. It
// returns nil after a clean shutdown and an error when the source fails
// permanently or a sink cannot go on.
func (p *Pipeline) Run(ctx context.Context) error {
	p.defaults()
	name := p.Source.Name()
	batches := make(chan Batch, 8)
	srcCtx, stopSource := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSource()
	p.resume(ctx)
	srcDone := make(chan error, 1)
	barriers := make(chan chan struct{})
	go func() { srcDone <- p.runSource(srcCtx, batches, barriers) }()

	commitCtx, stopCommit := context.WithCancel(context.WithoutCancel(ctx))
	commitDone := make(chan struct{})
	go func() {
		defer close(commitDone)
		t := time.NewTicker(p.CommitInterval)
		defer t.Stop()
		for {
			select {
			case <-commitCtx.Done():
				return
			case <-t.C:
				p.commit()
			}
		}
	}()

	var runErr error
loop:
	for {
		select {
		case b := <-batches:
			if err := p.write(ctx, b); err != nil {
				if ctx.Err() != nil {
					break loop
				}
				runErr = err
				break loop
			}
		case done := <-barriers:
			// The source stopped and will run again: make what it handed
			// over durable first, so that it restarts from a settled state
			// (a snapshot it retakes can then be purged without racing
			// events still in flight).
			if err := p.Out.Flush(ctx); err != nil && ctx.Err() == nil {
				p.Logger.Warn("sinks did not acknowledge before the source restarted", "source", name, "err", err)
			}
			close(done)
		case err := <-srcDone:
			srcDone <- err // let the shutdown below see it
			if err != nil {
				runErr = fmt.Errorf("source %s: %w", name, err)
			}
			break loop
		case <-ctx.Done():
			break loop
		}
	}

	// Drain: no more reading; wait for acks, confirm, then stop the source
	// so that it can report the final position before it disconnects.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.ShutdownTimeout)
	defer cancel()
	if err := p.Out.Flush(sctx); err != nil {
		p.Logger.Warn("sinks did not acknowledge everything before shutdown; unconfirmed changes will be replayed on restart", "source", name, "err", err)
	}
	stopCommit()
	<-commitDone
	p.commit()
	stopSource()
	select {
	case err := <-srcDone:
		if err != nil && runErr == nil && !errors.Is(err, context.Canceled) {
			runErr = fmt.Errorf("source %s: %w", name, err)
		}
	case <-sctx.Done():
		p.Logger.Warn("source did not stop in time", "source", name)
	}
	return runErr
}

func (p *Pipeline) defaults() {
	if p.Logger == nil {
		p.Logger = slog.Default()
	}
	if p.ShutdownTimeout <= 0 {
		p.ShutdownTimeout = 15 * time.Second
	}
	if p.MinBackoff <= 0 {
		p.MinBackoff = 250 * time.Millisecond
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = 30 * time.Second
	}
	if p.CommitInterval <= 0 {
		p.CommitInterval = 5 * time.Millisecond
	}
}

// resume tells the source which of its events the sinks already hold, so
// that a replay after a crash does not rely on the duplicate window alone.
func (p *Pipeline) resume(ctx context.Context) {
	r, ok := p.Source.(Resumer)
	if !ok {
		return
	}
	for _, s := range p.Out.Sinks() {
		ls, ok := s.(LastStored)
		if !ok {
			continue
		}
		id, err := ls.LastStoredID(ctx, p.Source.Name())
		if err != nil {
			p.Logger.Warn("cannot read the last stored event; relying on the duplicate window", "source", p.Source.Name(), "sink", s.Name(), "err", err)
			return
		}
		if id != "" {
			r.ResumeAfter(id)
		}
		return
	}
}

// runSource runs the source, restarting it with exponential backoff after
// retryable errors, until ctx ends or it fails permanently. Before a
// restart it waits until the run loop has written every batch the source
// handed over and the sinks made them durable (through barriers).
func (p *Pipeline) runSource(ctx context.Context, out chan Batch, barriers chan<- chan struct{}) error {
	backoff := p.MinBackoff
	for {
		started := time.Now()
		err := p.Source.Run(ctx, out)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			return errors.New("source stopped without an error")
		}
		if !IsRetryable(err) {
			return err
		}
		if time.Since(started) > 2*p.MaxBackoff {
			backoff = p.MinBackoff
		}
		p.Logger.Warn("source failed; reconnecting", "source", p.Source.Name(), "err", err, "backoff", backoff)
		if p.Metrics != nil {
			p.Metrics.SourceRestarts.WithLabelValues(p.Source.Name()).Inc()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		if err := p.settle(ctx, out, barriers); err != nil {
			return nil
		}
		backoff *= 2
		if backoff > p.MaxBackoff {
			backoff = p.MaxBackoff
		}
	}
}

// settle waits until the run loop has taken every batch from out, then
// until it has flushed the sinks. It returns ctx's error if ctx ends first.
func (p *Pipeline) settle(ctx context.Context, out chan Batch, barriers chan<- chan struct{}) error {
	for len(out) > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	done := make(chan struct{})
	select {
	case barriers <- done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Pipeline) write(ctx context.Context, b Batch) error {
	if p.Metrics != nil {
		p.Metrics.observeRead(p.Source.Name(), b)
	}
	last := 0
	err := p.Out.WriteBatch(ctx, b, func(seq uint64, i int, ev *change.Event) {
		p.mu.Lock()
		p.pending = append(p.pending, pendingTx{seq: seq, pos: ev.Position, events: p.count + int64(i+1-last)})
		p.mu.Unlock()
		p.count, last = 0, i+1
	})
	p.count += int64(len(b) - last)
	return err
}

// commit confirms the newest position whose transaction is durable in
// every sink.
func (p *Pipeline) commit() {
	durable := p.Out.Durable()
	p.mu.Lock()
	i := 0
	var events int64
	for i < len(p.pending) && p.pending[i].seq <= durable {
		events += p.pending[i].events
		i++
	}
	if i == 0 {
		p.mu.Unlock()
		return
	}
	last := p.pending[i-1]
	p.pending = append(p.pending[:0], p.pending[i:]...)
	p.mu.Unlock()
	p.Source.Confirm(last.pos)
	if p.Metrics != nil {
		p.Metrics.TransactionsConfirmed.WithLabelValues(p.Source.Name()).Add(float64(i))
		p.Metrics.EventsPublished.WithLabelValues(p.Source.Name()).Add(float64(events))
	}
}
