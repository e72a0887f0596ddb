package jetstream

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkPublish measures events per second through Write and Flush into
// an embedded server (default sync interval, Msg-Id dedup on).
func BenchmarkPublish(b *testing.B) {
	srv := startServer(b, b.TempDir(), "127.0.0.1:0")
	nc := connect(b, srv.URL())
	s := newSink(b, nc, Options{Stream: "BENCH"})
	ctx := context.Background()
	ev := testEvent("bench", 1)
	seq := uint64(0)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		seq++
		ev.ID = fmt.Sprintf("bench:%d", seq)
		if err := s.Write(ctx, seq, ev); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
