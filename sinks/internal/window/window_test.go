package window

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

type item struct{ id int }

func newTest(n, maxBytes int) (*sync.Mutex, *Window[*item]) {
	mu := &sync.Mutex{}
	items := make([]*item, n)
	for i := range items {
		items[i] = &item{id: i}
	}
	return mu, New(mu, items, maxBytes)
}

func notStopped() error { return nil }

func TestRingOrderAndLimits(t *testing.T) {
	_, w := newTest(3, 10)
	if w.Full(100) {
		t.Fatal("an empty window refuses an entry over the byte limit; it must take one")
	}
	a := w.Push(1, 6)
	if w.Full(5) != true || w.Full(4) != false {
		t.Fatalf("Full(5)=%v Full(4)=%v with 6 of 10 bytes used, want true and false", w.Full(5), w.Full(4))
	}
	b := w.Push(2, 1)
	c := w.Push(3, 1)
	if !w.Full(0) {
		t.Fatal("Full(0) = false with every slot in use")
	}
	if w.Len() != 3 || w.At(0) != a || w.At(1) != b || w.At(2) != c || w.Oldest() != a {
		t.Fatalf("window out of order: len %d, At = %v %v %v", w.Len(), w.At(0), w.At(1), w.At(2))
	}
	if d := w.Durable(); d != 0 {
		t.Fatalf("Durable() = %d before any Pop", d)
	}
	if got := w.Pop(); got != a || w.Durable() != 1 {
		t.Fatalf("Pop() = %v, Durable() = %d; want the first entry and 1", got, w.Durable())
	}
	// The freed slot is reused behind the others.
	if d := w.Push(4, 9); d != a || w.At(2) != a || w.Oldest() != b {
		t.Fatalf("Push after Pop reused %v, want slot %v at the back", d, a)
	}
	w.Pop()
	w.Pop()
	w.Pop()
	if w.Len() != 0 || w.Durable() != 4 || w.Full(10) {
		t.Fatalf("after popping all: len %d, durable %d, full %v", w.Len(), w.Durable(), w.Full(10))
	}
}

func TestWaitRoomBlocksUntilPop(t *testing.T) {
	mu, w := newTest(1, 100)
	mu.Lock()
	w.Push(1, 1)
	mu.Unlock()
	got := make(chan error, 1)
	go func() {
		mu.Lock()
		defer mu.Unlock()
		stop, ctxErr := w.WaitRoom(context.Background(), 1, notStopped)
		got <- errors.Join(stop, ctxErr)
	}()
	select {
	case err := <-got:
		t.Fatalf("WaitRoom returned %v while the window was full", err)
	case <-time.After(50 * time.Millisecond):
	}
	mu.Lock()
	w.Pop()
	w.Notify()
	mu.Unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("WaitRoom = %v after a Pop, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitRoom still waits after Pop and Notify")
	}
}

func TestWaitRoomStoppedAndCancelled(t *testing.T) {
	mu, w := newTest(2, 100)
	boom := errors.New("boom")
	mu.Lock()
	defer mu.Unlock()
	// A stopped sink gets its error even with room.
	if stop, ctxErr := w.WaitRoom(context.Background(), 1, func() error { return boom }); stop != boom || ctxErr != nil {
		t.Fatalf("WaitRoom on a stopped sink = (%v, %v), want (boom, nil)", stop, ctxErr)
	}
	w.Push(1, 1)
	w.Push(2, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if stop, ctxErr := w.WaitRoom(ctx, 1, notStopped); stop != nil || !errors.Is(ctxErr, context.DeadlineExceeded) {
		t.Fatalf("WaitRoom on a full window = (%v, %v), want the deadline as ctxErr", stop, ctxErr)
	}
	// The mutex is held again: TryLock must fail.
	if mu.TryLock() {
		t.Fatal("WaitRoom returned without the mutex held")
	}
}

func TestFlushWaitsForEarlierEntriesOnly(t *testing.T) {
	mu, w := newTest(4, 100)
	mu.Lock()
	w.Push(1, 1)
	w.Push(2, 1)
	mu.Unlock()
	type result struct {
		pending     int
		stop, ctxEr error
	}
	got := make(chan result, 1)
	go func() {
		p, stop, ctxErr := w.Flush(context.Background(), notStopped)
		got <- result{p, stop, ctxErr}
	}()
	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	w.Push(3, 1) // after the Flush: not waited for
	w.Pop()
	w.Notify()
	mu.Unlock()
	select {
	case r := <-got:
		t.Fatalf("Flush returned %+v with seq 2 not released", r)
	case <-time.After(50 * time.Millisecond):
	}
	mu.Lock()
	w.Pop()
	w.Notify()
	mu.Unlock()
	select {
	case r := <-got:
		if r.stop != nil || r.ctxEr != nil {
			t.Fatalf("Flush = %+v, want no error", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Flush still waits once seq 2 is durable; it must not wait for seq 3")
	}

	// Cancelled: pending is the window's length.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	p, stop, ctxErr := w.Flush(ctx, notStopped)
	if p != 1 || stop != nil || !errors.Is(ctxErr, context.DeadlineExceeded) {
		t.Fatalf("Flush with seq 3 pending = (%d, %v, %v), want (1, nil, deadline)", p, stop, ctxErr)
	}

	// Stopped: the error while something is pending, nil once nothing is.
	boom := errors.New("boom")
	if _, stop, _ := w.Flush(context.Background(), func() error { return boom }); stop != boom {
		t.Fatalf("Flush on a stopped sink with seq 3 pending = %v, want boom", stop)
	}
	mu.Lock()
	w.Pop()
	mu.Unlock()
	if _, stop, ctxErr := w.Flush(context.Background(), func() error { return boom }); stop != nil || ctxErr != nil {
		t.Fatalf("Flush on a stopped sink with nothing pending = (%v, %v), want nil", stop, ctxErr)
	}
}
