package jetstream

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestEmbeddedRefusesBusyPortAndBadOptions(t *testing.T) {
	srv := startServer(t, t.TempDir(), "127.0.0.1:0")
	listen := strings.TrimPrefix(srv.URL(), "nats://")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err := StartEmbedded(ctx, EmbeddedOptions{StoreDir: t.TempDir(), Listen: listen})
	if err == nil || !strings.Contains(err.Error(), "listening") {
		t.Errorf("second server on %s: err = %v, want a listen error", listen, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("busy port detected after %v", d)
	}
	for _, o := range []EmbeddedOptions{
		{StoreDir: ""},
		{StoreDir: t.TempDir(), Listen: "nohostport"},
		{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", SyncInterval: "sometimes"},
	} {
		if _, err := StartEmbedded(ctx, o); err == nil {
			t.Errorf("StartEmbedded(%+v) succeeded", o)
		}
	}
	e, err := StartEmbedded(ctx, EmbeddedOptions{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", SyncInterval: "always"})
	if err != nil {
		t.Fatalf("sync_interval always: %v", err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}
