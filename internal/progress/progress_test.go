package progress

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"
)

func TestEveryCallsUntilStopped(t *testing.T) {
	var n atomic.Int32
	stop := Every(10*time.Millisecond, func() { n.Add(1) })
	time.Sleep(75 * time.Millisecond)
	stop()
	got := n.Load()
	if got < 2 {
		t.Fatalf("fn called %d times in 75ms at a 10ms interval, want at least 2", got)
	}
	time.Sleep(30 * time.Millisecond)
	if after := n.Load(); after != got {
		t.Fatalf("fn called %d more times after stop", after-got)
	}
}

func TestLinesWritesElapsed(t *testing.T) {
	var buf bytes.Buffer
	var last time.Duration
	stop := Lines(&buf, func(el time.Duration) string { last = el; return "tick" })
	time.Sleep(1100 * time.Millisecond)
	stop()
	if got := buf.String(); got != "tick\n" {
		t.Fatalf("wrote %q in 1.1s, want one line %q", got, "tick\n")
	}
	if last < time.Second || last > 1100*time.Millisecond {
		t.Fatalf("elapsed %v at the first line, want about 1s", last)
	}
}

func TestLinesNilWriter(t *testing.T) {
	var called atomic.Bool
	stop := Lines(nil, func(time.Duration) string { called.Store(true); return "x" })
	time.Sleep(1100 * time.Millisecond)
	stop()
	if called.Load() {
		t.Fatal("line called for a nil writer")
	}
}
