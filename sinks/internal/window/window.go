package window

import (
	"context"
	"sync"
	"sync/atomic"
)

// Window is a ring of reusable entries of type E (typically a pointer to a
// sink's own slot struct), filled by Push at the back and released by Pop
// from the front, in the order of their pipeline sequence numbers.
//
// A Window is guarded by the mutex given to New, which the sink also uses
// for its own state. Every method must be called with that mutex held,
// except Durable (lock-free) and Flush (which takes it).
type Window[E any] struct {
	mu       *sync.Mutex
	slots    []slot[E]
	head, n  int
	bytes    int // bytes of the entries in the window
	maxBytes int
	written  uint64 // seq of the last entry pushed
	durable  atomic.Uint64
	waitCh   chan struct{} // closed and cleared by Notify
}

type slot[E any] struct {
	v    E
	seq  uint64
	size int
}

// New returns an empty Window guarded by mu whose slots hold entries, in
// that order; len(entries) is the count limit. maxBytes bounds the bytes of
// the entries in the window (see Full).
func New[E any](mu *sync.Mutex, entries []E, maxBytes int) *Window[E] {
	w := &Window[E]{mu: mu, slots: make([]slot[E], len(entries)), maxBytes: maxBytes}
	for i, e := range entries {
		w.slots[i].v = e
	}
	return w
}

// Durable returns the seq of the last entry released by Pop, 0 before the
// first. It does not need the mutex.
func (w *Window[E]) Durable() uint64 { return w.durable.Load() }

// Len returns the number of entries in the window.
func (w *Window[E]) Len() int { return w.n }

// At returns the i-th oldest entry in the window, 0 <= i < Len().
func (w *Window[E]) At(i int) E { return w.slots[(w.head+i)%len(w.slots)].v }

// Oldest returns the entry at the front of the window: the one Pop releases
// next. When the window is empty it returns the slot Push fills next.
func (w *Window[E]) Oldest() E { return w.slots[w.head].v }

// Full reports whether an entry of size bytes must wait: every slot is in
// use, or the window is not empty and size would take its bytes over the
// limit. An empty window always takes one entry, however large.
func (w *Window[E]) Full(size int) bool {
	return w.n == len(w.slots) || w.n > 0 && w.bytes+size > w.maxBytes
}

// Push adds an entry of size bytes under seq at the back of the window and
// returns its slot for the caller to fill. The window must not be full
// (WaitRoom); seq must be above every seq pushed before.
func (w *Window[E]) Push(seq uint64, size int) E {
	s := &w.slots[(w.head+w.n)%len(w.slots)]
	w.n++
	s.seq, s.size = seq, size
	w.bytes += size
	w.written = seq
	return s.v
}

// Pop releases the entry at the front of the window, which must not be
// empty: its bytes leave the count and its seq becomes Durable. It does not
// Notify; the caller does once it has released what it can.
func (w *Window[E]) Pop() E {
	s := &w.slots[w.head]
	w.durable.Store(s.seq)
	w.bytes -= s.size
	w.head = (w.head + 1) % len(w.slots)
	w.n--
	return s.v
}

// Wait returns a channel closed at the next Notify. The caller releases the
// mutex before it waits on the channel.
func (w *Window[E]) Wait() <-chan struct{} {
	if w.waitCh == nil {
		w.waitCh = make(chan struct{})
	}
	return w.waitCh
}

// Notify wakes every waiter of Wait, WaitRoom and Flush so that they check
// their condition again. Call it after every change one of them may wait
// for: a Pop, a failure, a close.
func (w *Window[E]) Notify() {
	if w.waitCh != nil {
		close(w.waitCh)
		w.waitCh = nil
	}
}

// WaitRoom waits until an entry of size bytes fits in the window (see
// Full), stopped returns an error, or ctx ends. stopped, called with the
// mutex held, returns the error that stops the sink, or nil; a stopped sink
// gets its error even when there is room. WaitRoom releases the mutex while it sleeps and
// holds it again when it returns. It returns stopped's error as stop, or
// ctx.Err() as ctxErr when ctx ended first; both nil means there is room.
func (w *Window[E]) WaitRoom(ctx context.Context, size int, stopped func() error) (stop, ctxErr error) {
	// A stopped sink takes no entry even when there is room.
	blocked := func() bool { return w.Full(size) || stopped() != nil }
	stop, _, ctxErr = w.await(ctx, blocked, stopped)
	return stop, ctxErr
}

// Flush takes the mutex and waits until every entry pushed before the call
// is released (Durable reaches the last seq pushed), stopped returns an
// error, or ctx ends; stopped is called as in WaitRoom but only while
// something is left to wait for, so a stopped sink with nothing pending
// flushes without error. It returns stopped's error as stop, or ctx.Err() as ctxErr with pending, the number of entries
// in the window when it last went to sleep. It waits for no entry pushed
// after the call, so a concurrent writer cannot hold it up.
func (w *Window[E]) Flush(ctx context.Context, stopped func() error) (pending int, stop, ctxErr error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	target := w.written
	stop, pending, ctxErr = w.await(ctx, func() bool { return w.durable.Load() < target }, stopped)
	return pending, stop, ctxErr
}

// await waits, with the mutex held on entry and on return, while blocked
// reports true, unless stopped returns an error or ctx ends. pending is Len
// when it last went to sleep.
func (w *Window[E]) await(ctx context.Context, blocked func() bool, stopped func() error) (stop error, pending int, ctxErr error) {
	for blocked() {
		if err := stopped(); err != nil {
			return err, pending, nil
		}
		ch := w.Wait()
		pending = w.n
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			w.mu.Lock()
			return nil, pending, ctx.Err()
		}
		w.mu.Lock()
	}
	return nil, pending, nil
}
