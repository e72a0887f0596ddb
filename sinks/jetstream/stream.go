package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strings"

	natsjs "github.com/nats-io/nats.go/jetstream"
)

// provision creates the stream when it is missing and checks it otherwise.
func (s *Sink) provision(ctx context.Context) error {
	name := s.opts.Stream
	st, err := s.js.Stream(ctx, name)
	if errors.Is(err, natsjs.ErrStreamNotFound) {
		_, err = s.js.CreateStream(ctx, s.streamCfg)
		if errors.Is(err, natsjs.ErrStreamNameAlreadyInUse) {
			st, err = s.js.Stream(ctx, name) // created concurrently
		} else if err != nil {
			return fmt.Errorf("jetstream sink: create stream %s (subjects %s): %w", name, s.streamCfg.Subjects[0], err)
		} else {
			s.log.Info("created stream", "subjects", s.streamCfg.Subjects[0], "duplicate_window", s.opts.DuplicateWindow)
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("jetstream sink: look up stream %s: %w", name, err)
	}
	return s.checkStream(&st.CachedInfo().Config)
}

// checkStream reports why an existing stream cannot take the sink's events.
func (s *Sink) checkStream(cfg *natsjs.StreamConfig) error {
	want := s.opts.SubjectPrefix + ".>"
	covered := false
	for _, subj := range cfg.Subjects {
		if subjectCovers(subj, want) {
			covered = true
			break
		}
	}
	switch {
	case !covered:
		return fmt.Errorf("jetstream sink: stream %s takes subjects [%s], which do not cover %s; add %s to the stream's subjects (nats stream edit %s --subjects ...) or set the sink's stream/subject_prefix to a matching pair",
			cfg.Name, strings.Join(cfg.Subjects, " "), want, want, cfg.Name)
	case cfg.Duplicates < s.opts.DuplicateWindow:
		return fmt.Errorf("jetstream sink: stream %s keeps message IDs for %s, less than the duplicate_window of %s that absorbs replays; raise it (nats stream edit %s --dupe-window %s) or lower the sink's duplicate_window",
			cfg.Name, cfg.Duplicates, s.opts.DuplicateWindow, cfg.Name, s.opts.DuplicateWindow)
	case cfg.NoAck:
		return fmt.Errorf("jetstream sink: stream %s has no_ack set, so publishes are never acknowledged; turn it off", cfg.Name)
	case cfg.Sealed:
		return fmt.Errorf("jetstream sink: stream %s is sealed and takes no new messages", cfg.Name)
	case cfg.Mirror != nil:
		return fmt.Errorf("jetstream sink: stream %s is a mirror and takes no published messages", cfg.Name)
	}
	if cfg.Storage == natsjs.MemoryStorage {
		s.log.Warn("stream uses memory storage: its events are lost when the server restarts")
	}
	if cfg.Discard == natsjs.DiscardNew && (cfg.MaxMsgs > 0 || cfg.MaxBytes > 0 || cfg.MaxMsgsPerSubject > 0) {
		s.log.Warn("stream discards new messages at its limits: when full, publishing stalls and retries until space is freed")
	}
	return nil
}
