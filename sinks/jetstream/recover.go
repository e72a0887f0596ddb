package jetstream

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// run is the recovery goroutine: each time publishing pauses it brings the
// stream back in order, or stops the sink when that cannot be done.
func (s *Sink) run() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.kick:
		}
		if err := s.recover(); err != nil {
			if s.ctx.Err() != nil {
				return
			}
			s.mu.Lock()
			if s.fatal == nil {
				s.fatal = err
			}
			s.win.Notify()
			s.mu.Unlock()
			s.log.Error("jetstream sink stopped", "err", err)
			return
		}
	}
}

// recover re-sends every unacknowledged event in order: it waits until no
// publish is in flight, until JetStream answers for the stream, re-sends the
// first unacknowledged event synchronously until it is stored, then re-sends
// the rest pipelined and resumes normal publishing. A new failure on the way
// starts it over. It returns an error only for a failure it cannot retry.
func (s *Sink) recover() error {
	start := time.Now()
	bo := backoff{min: 50 * time.Millisecond, max: 2 * time.Second}
	var lastLog time.Time
	retry := func(what string, err error) error {
		s.stats.retries.Add(1)
		if lastLog.IsZero() || time.Since(lastLog) >= 10*time.Second {
			lastLog = time.Now()
			s.log.Warn("jetstream unavailable, retrying", "step", what, "err", err,
				"attempt", bo.n+1, "paused_for", time.Since(start).Round(time.Millisecond), "durable", s.Durable())
		}
		return bo.sleep(s.ctx)
	}

	s.mu.Lock()
	if s.paused {
		s.log.Warn("jetstream publish failed, pausing to re-send in order", "reason", s.pauseReason, "durable", s.Durable())
	}
	s.mu.Unlock()

	for {
		// 1. Let every publish in flight resolve; each one ends with an ack,
		// an error or the ack timeout, so this wait is bounded.
		s.mu.Lock()
		if !s.paused {
			s.mu.Unlock()
			return nil
		}
		for s.inflight > 0 {
			ch := s.win.Wait()
			s.mu.Unlock()
			select {
			case <-ch:
			case <-s.ctx.Done():
				return s.ctx.Err()
			}
			s.mu.Lock()
		}
		gen := s.gen.Load()
		s.mu.Unlock()

		// 2. JetStream must answer for the stream before anything is re-sent.
		if err := s.ready(); err != nil {
			if permanent(s.nc, err) {
				return err
			}
			s.stats.errors.Add(1)
			if err := retry("stream check", err); err != nil {
				return err
			}
			continue
		}

		// 3. Skip what the stream already holds (an ack lost with the
		// connection), so that a re-send after a long outage stores nothing
		// twice even beyond the duplicate window.
		if err := s.skipStored(); err != nil {
			s.stats.errors.Add(1)
			if err := retry("last stored event", err); err != nil {
				return err
			}
			continue
		}

		// 4. Re-send the first unacknowledged event until it is stored.
		s.mu.Lock()
		e := s.firstUnackedLocked()
		s.mu.Unlock()
		if e != nil {
			if err := s.publishSync(e); err != nil {
				if permanent(s.nc, err) {
					return fmt.Errorf("publish event %s (seq %d, %d bytes) to %s: %w", e.id[0], e.seq, len(e.msg.Data), e.msg.Subject, err)
				}
				s.stats.errors.Add(1)
				if err := retry("re-send", err); err != nil {
					return err
				}
				continue
			}
		}

		// 5. Re-send the rest in order, pipelined, then resume.
		if s.resend(gen) {
			s.log.Info("jetstream publishing resumed", "paused_for", time.Since(start).Round(time.Millisecond),
				"durable", s.Durable(), "retries", bo.n)
			return nil
		}
		if err := bo.sleep(s.ctx); err != nil {
			return err
		}
	}
}

// ready checks that the connection is up and JetStream answers for the
// stream, re-creating the stream if it was deleted.
func (s *Sink) ready() error {
	if s.nc.IsClosed() {
		return nats.ErrConnectionClosed
	}
	if !s.nc.IsConnected() {
		return errors.New("not connected")
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.AckTimeout)
	defer cancel()
	_, err := s.js.Stream(ctx, s.opts.Stream)
	if !errors.Is(err, natsjs.ErrStreamNotFound) {
		return err
	}
	s.log.Warn("stream is gone, re-creating it")
	if _, err := s.js.CreateStream(ctx, s.streamCfg); err != nil && !errors.Is(err, natsjs.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("stream %s was deleted and cannot be re-created: %w", s.opts.Stream, err)
	}
	s.mu.Lock()
	s.lastStreamSeq = 0 // sequences start over in a new stream
	s.mu.Unlock()
	return nil
}

// firstUnackedLocked returns the oldest event that was never sent or whose
// publish failed.
func (s *Sink) firstUnackedLocked() *entry {
	for i := 0; i < s.win.Len(); i++ {
		e := s.win.At(i)
		if e.state == stFailed || e.state == stUnsent {
			return e
		}
	}
	return nil
}

// publishSync publishes e and waits for its ack. Only the recovery goroutine
// touches a failed or unsent entry, so e is not modified concurrently.
func (s *Sink) publishSync(e *entry) error {
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.AckTimeout)
	defer cancel()
	s.mu.Lock()
	e.sent++
	s.mu.Unlock()
	pa, err := s.js.PublishMsg(ctx, &e.msg, s.pubOpts...)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.ackLocked(e, pa)
	s.mu.Unlock()
	return nil
}

// resend publishes, in order, every event not yet sent or whose publish
// failed, including those written meanwhile, and resumes normal publishing
// once none is left. It returns false if a new failure (generation change)
// interrupted it.
func (s *Sink) resend(gen uint64) bool {
	var batch []*entry
	for {
		s.mu.Lock()
		if s.gen.Load() != gen {
			s.mu.Unlock()
			return false
		}
		batch = batch[:0]
		for i := 0; i < s.win.Len(); i++ {
			e := s.win.At(i)
			if e.state == stFailed || e.state == stUnsent {
				e.state = stInflight
				e.sent++
				s.inflight++
				batch = append(batch, e)
			}
		}
		if len(batch) == 0 {
			s.paused = false
			s.pauseReason = nil
			s.win.Notify()
			s.mu.Unlock()
			return true
		}
		s.mu.Unlock()
		for i, e := range batch {
			if s.gen.Load() != gen {
				// Give back the ones not sent; no callback will come for them.
				s.mu.Lock()
				for _, r := range batch[i:] {
					if r.state == stInflight {
						r.state = stFailed
						r.sent--
						s.inflight--
					}
				}
				s.win.Notify()
				s.mu.Unlock()
				return false
			}
			if _, err := s.js.PublishMsgAsync(&e.msg, s.pubOpts...); err != nil {
				s.mu.Lock()
				s.failLocked(e, err)
				s.mu.Unlock()
			}
		}
	}
}

// permanent reports whether err is a publish failure that retrying cannot
// fix: a closed connection, a message over the server's size limit, a
// permission denial, or a 400-class JetStream error (message too large for
// the stream, sealed stream).
func permanent(nc *nats.Conn, err error) bool {
	switch {
	case errors.Is(err, nats.ErrConnectionClosed),
		errors.Is(err, nats.ErrMaxPayload),
		errors.Is(err, nats.ErrHeadersNotSupported),
		errors.Is(err, nats.ErrBadSubject),
		errors.Is(err, nats.ErrPermissionViolation),
		errors.Is(err, nats.ErrAuthorization):
		return true
	}
	var apiErr *natsjs.APIError
	if errors.As(err, &apiErr) && (apiErr.Code == 400 || apiErr.Code == 403) {
		return true
	}
	// A publish the server refuses for permissions is dropped with an
	// asynchronous -ERR, so the request only times out.
	if last := nc.LastError(); last != nil && errors.Is(last, nats.ErrPermissionViolation) &&
		strings.Contains(strings.ToLower(last.Error()), "publish") {
		return true
	}
	return false
}

// backoff is an exponential backoff with jitter.
type backoff struct {
	min, max time.Duration
	n        int
}

func (b *backoff) sleep(ctx context.Context) error {
	d := b.min << min(b.n, 20)
	if d > b.max || d <= 0 {
		d = b.max
	}
	b.n++
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
