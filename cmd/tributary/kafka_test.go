package main

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/config"
	"github.com/tributary-cdc/tributary/replicator"
)

// TestKafkaSinkWiredIntoDaemon opens a daemon's sinks from a config with a
// kafka sink (a kfake cluster) and checks that an event written through the
// fanout can be consumed back from its topic.
func TestKafkaSinkWiredIntoDaemon(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d := &daemon{log: log, cfg: &config.Config{DataDir: t.TempDir(), Sinks: []config.SinkConfig{
		{Type: "kafka", Brokers: c.ListenAddrs(), TopicPrefix: "tb"},
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.openSinks(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.fanout.Close(ctx)
	if len(d.sinks) != 1 || d.sinks[0].Name() != "kafka" || d.state == nil {
		t.Fatalf("sinks %v, state %v: want one kafka sink and a state store", d.sinks, d.state)
	}
	ev := &change.Event{ID: "shop:1", Op: change.OpCreate, TxEnd: true,
		After:  change.Row{{Name: "id", Value: []byte("7")}},
		Source: change.Source{Connector: "postgresql", Name: "shop", DB: "shop", Schema: "public", Table: "orders"}}
	if err := d.fanout.WriteBatch(ctx, replicator.Batch{ev}, func(uint64, int, *change.Event) {}); err != nil {
		t.Fatal(err)
	}
	if err := d.fanout.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := d.fanout.Durable(); got != 1 {
		t.Fatalf("Durable() = %d, want 1", got)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("tb.shop.public.orders"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	fs := cl.PollRecords(ctx, 1)
	if err := fs.Err0(); err != nil {
		t.Fatal(err)
	}
	recs := fs.Records()
	if len(recs) != 1 || string(recs[0].Key) != `{"id":7}` || string(recs[0].Value) != string(change.Marshal(ev)) {
		t.Fatalf("consumed %d records: %+v", len(recs), recs)
	}
}
