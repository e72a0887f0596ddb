package progress

import (
	"fmt"
	"io"
	"time"
)

// Every calls fn every d until the returned stop is called. stop waits for a
// call of fn in progress to return, so nothing runs after it; call it once.
func Every(d time.Duration, fn func()) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fn()
			}
		}
	}()
	return func() { close(done); <-finished }
}

// Lines writes line(elapsed), with a newline, to w every second until the
// returned stop is called; elapsed is the time since Lines was called. A nil
// w writes nothing.
func Lines(w io.Writer, line func(elapsed time.Duration) string) (stop func()) {
	if w == nil {
		return func() {}
	}
	start := time.Now()
	return Every(time.Second, func() { fmt.Fprintln(w, line(time.Since(start))) })
}
