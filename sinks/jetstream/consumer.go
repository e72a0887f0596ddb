package jetstream

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// OrderedFeed reads the messages of a stream that match one subject filter,
// in stream order, from a start sequence, with an ordered consumer: an
// ephemeral consumer that the client re-creates at the next expected
// sequence after a gap, a server restart or a reconnect, so that no message
// is skipped or delivered twice. Nothing is acknowledged; the reader keeps
// its own position (a learner records the last sequence in its versions).
type OrderedFeed struct {
	cons natsjs.Consumer
	it   natsjs.MessagesContext
}

// NewOrderedFeed starts reading stream at startSeq (1 or 0 for the
// beginning) on subjects matching filter.
func NewOrderedFeed(ctx context.Context, nc *nats.Conn, stream, filter string, startSeq uint64) (*OrderedFeed, error) {
	js, err := natsjs.New(nc)
	if err != nil {
		return nil, fmt.Errorf("ordered feed %s %s: %w", stream, filter, err)
	}
	cfg := natsjs.OrderedConsumerConfig{FilterSubjects: []string{filter}, DeliverPolicy: natsjs.DeliverAllPolicy}
	if startSeq > 1 {
		cfg.DeliverPolicy, cfg.OptStartSeq = natsjs.DeliverByStartSequencePolicy, startSeq
	}
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("ordered feed %s %s from %d: %w", stream, filter, startSeq, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("ordered feed %s %s from %d: %w", stream, filter, startSeq, err)
	}
	return &OrderedFeed{cons: cons, it: it}, nil
}

// Next returns the next message's stream sequence, subject and payload,
// blocking until there is one or ctx ends. When ctx ends it returns
// ctx.Err() and consumes nothing. After Stop it returns an error.
func (f *OrderedFeed) Next(ctx context.Context) (seq uint64, subject string, data []byte, err error) {
	for {
		m, err := f.it.Next(natsjs.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return 0, "", nil, ctx.Err()
			}
			if errors.Is(err, natsjs.ErrMsgIteratorClosed) {
				return 0, "", nil, fmt.Errorf("ordered feed: %w", err)
			}
			return 0, "", nil, fmt.Errorf("ordered feed: next: %w", err)
		}
		md, err := m.Metadata()
		if err != nil {
			continue // not a stream message
		}
		return md.Sequence.Stream, m.Subject(), m.Data(), nil
	}
}

// Stop ends the feed and lets the server remove the consumer.
func (f *OrderedFeed) Stop() { f.it.Stop() }
