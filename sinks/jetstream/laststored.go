package jetstream

import (
	"context"
	"errors"
	"fmt"

	natsjs "github.com/nats-io/nats.go/jetstream"
)

// LastStoredID returns the Nats-Msg-Id of the newest message the stream
// holds for source, or "" when it holds none. The pipeline hands it to the
// source before the source starts, so that a replay after a crash skips what
// the stream already has however long ago it was stored (the duplicate
// window only covers a few minutes).
func (s *Sink) LastStoredID(ctx context.Context, source string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.AckTimeout)
	defer cancel()
	st, err := s.js.Stream(ctx, s.opts.Stream)
	if err != nil {
		return "", fmt.Errorf("last stored event of %s: stream %s: %w", source, s.opts.Stream, err)
	}
	msg, err := st.GetLastMsgForSubject(ctx, SourceSubjects(s.opts.SubjectPrefix, source))
	if errors.Is(err, natsjs.ErrMsgNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("last stored event of %s: %w", source, err)
	}
	return msg.Header.Get("Nats-Msg-Id"), nil
}
