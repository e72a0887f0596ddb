package jetstream

import (
	"strings"

	natsjs "github.com/nats-io/nats.go/jetstream"
)

// skipStored marks as acknowledged every unacknowledged event that the
// stream is known to hold: for each source with events waiting to be
// re-sent, the newest stored message of that source names an event, and it
// and every earlier event of the source in the window are stored, since the
// stream keeps a source's events in pipeline order. Recovery then re-sends
// only what is missing, so exactness after a long outage does not depend on
// the duplicate window.
func (s *Sink) skipStored() error {
	s.mu.Lock()
	sources := map[string]bool{}
	for i := 0; i < s.win.Len(); i++ {
		e := s.win.At(i)
		if e.state == stFailed || e.state == stUnsent {
			sources[s.sourceOf(e)] = true
		}
	}
	s.mu.Unlock()
	for src := range sources {
		id, err := s.LastStoredID(s.ctx, src)
		if err != nil {
			return err
		}
		if id == "" {
			continue
		}
		s.mu.Lock()
		last := -1
		for i := 0; i < s.win.Len(); i++ {
			e := s.win.At(i)
			if (e.state == stFailed || e.state == stUnsent) && s.sourceOf(e) == src && len(e.id) > 0 && e.id[0] == id {
				last = i
				break
			}
		}
		var stored []*entry
		for i := 0; i <= last; i++ {
			e := s.win.At(i)
			if (e.state == stFailed || e.state == stUnsent) && s.sourceOf(e) == src {
				stored = append(stored, e)
			}
		}
		for _, e := range stored {
			s.ackLocked(e, &natsjs.PubAck{Stream: s.opts.Stream, Duplicate: true})
		}
		if len(stored) > 0 {
			s.log.Info("jetstream already held events waiting to be re-sent", "source", src, "events", len(stored), "through", id)
		}
		s.mu.Unlock()
	}
	return nil
}

// sourceOf returns the source token of an entry's subject
// ("<prefix>.<source>.<ns>.<table>").
func (s *Sink) sourceOf(e *entry) string {
	rest := strings.TrimPrefix(e.msg.Subject, s.opts.SubjectPrefix+".")
	src, _, _ := strings.Cut(rest, ".")
	return src
}
