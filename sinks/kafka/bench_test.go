package kafka

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tributary-cdc/tributary/change"
)

// BenchmarkWrite measures events per second through Write and Flush into an
// in-process kfake cluster (one broker, the client and the broker sharing
// the CPUs; snappy compression, the client's default), the test workload's
// three tables of 10 partitions each, values of about 340 bytes.
func BenchmarkWrite(b *testing.B) {
	c := startCluster(b, kfake.NumBrokers(1))
	s := newSink(b, Options{Brokers: c.ListenAddrs()})
	ctx := context.Background()
	events := make([]*change.Event, 4096)
	for i := range events {
		events[i] = workloadEvent(i + 1)
	}
	seq := uint64(0)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		seq++
		ev := events[seq%uint64(len(events))]
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
