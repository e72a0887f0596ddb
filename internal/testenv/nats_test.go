package testenv

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestNATSRestartKeepsStream(t *testing.T) {
	n := NATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	nc, err := nats.Connect(n.URL, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := js.Publish(ctx, "t.x", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}

	url := n.URL
	n.Restart(t)
	if n.URL != url {
		t.Fatalf("URL changed across restart: %s -> %s", url, n.URL)
	}

	// The old client reconnects to the same URL and can publish again.
	if _, err := js.Publish(ctx, "t.x", []byte("3"), jetstream.WithRetryAttempts(100), jetstream.WithRetryWait(50*time.Millisecond)); err != nil {
		t.Fatalf("publish after restart: %v", err)
	}
	nc2, err := nats.Connect(n.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	js2, _ := jetstream.New(nc2)
	s, err := js2.Stream(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 4 {
		t.Fatalf("stream has %d messages after restart, want 4 (3 before, 1 after)", info.State.Msgs)
	}
	msg, err := s.GetMsg(ctx, 1)
	if err != nil || string(msg.Data) != "0" {
		t.Fatalf("first message after restart = %v, %v; want \"0\"", msg, err)
	}

	n.Shutdown()
	if _, err := nats.Connect(n.URL, nats.Timeout(500*time.Millisecond)); err == nil {
		t.Fatal("connect after Shutdown succeeded")
	}
}
