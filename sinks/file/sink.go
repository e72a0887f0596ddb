package file

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tributary-cdc/tributary/change"
)

// SyncInterval is how often buffered lines are flushed (and fsynced) when
// nobody calls Flush.
const SyncInterval = 50 * time.Millisecond

// Sink appends events as JSON lines. It satisfies replicator.Sink.
type Sink struct {
	path string
	f    *os.File // nil for stdout
	mu   sync.Mutex
	w    *bufio.Writer
	buf  []byte
	last uint64 // seq of the last event written to w
	err  error  // sticky write error

	durable atomic.Uint64
	stop    chan struct{}
	done    chan struct{}
}

// Open opens path for appending ("-" is standard output) and starts the
// background flusher.
func Open(path string) (*Sink, error) {
	s := &Sink{path: path, stop: make(chan struct{}), done: make(chan struct{})}
	var w io.Writer = os.Stdout
	if path != "-" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("open file sink: %w", err)
		}
		s.f, w = f, f
	}
	s.w = bufio.NewWriterSize(w, 256<<10)
	go s.loop()
	return s, nil
}

// Name returns "file".
func (s *Sink) Name() string { return "file" }

// Write appends ev as one line. It is durable after the next sync.
func (s *Sink) Write(ctx context.Context, seq uint64, ev *change.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.buf = append(change.AppendJSON(s.buf[:0], ev), '\n')
	if _, err := s.w.Write(s.buf); err != nil {
		s.err = fmt.Errorf("write %s: %w", s.path, err)
		return s.err
	}
	s.last = seq
	return nil
}

// Durable returns the seq of the last event flushed (and fsynced) to the file.
func (s *Sink) Durable() uint64 { return s.durable.Load() }

// Flush writes out buffered lines and fsyncs the file.
func (s *Sink) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sync()
}

func (s *Sink) sync() error {
	if s.err != nil {
		return s.err
	}
	if s.durable.Load() == s.last {
		return nil
	}
	last := s.last
	if err := s.w.Flush(); err != nil {
		s.err = fmt.Errorf("write %s: %w", s.path, err)
		return s.err
	}
	if s.f != nil {
		if err := s.f.Sync(); err != nil {
			s.err = fmt.Errorf("fsync %s: %w", s.path, err)
			return s.err
		}
	}
	s.durable.Store(last)
	return nil
}

func (s *Sink) loop() {
	defer close(s.done)
	t := time.NewTicker(SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.mu.Lock()
			_ = s.sync()
			s.mu.Unlock()
		}
	}
}

// Close flushes and closes the file.
func (s *Sink) Close(ctx context.Context) error {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.sync()
	if s.f != nil {
		if cerr := s.f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %s: %w", s.path, cerr)
		}
	}
	return err
}
