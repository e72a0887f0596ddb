package jetstream

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/replicator"
)

func TestStateStore(t *testing.T) {
	srv := startServer(t, t.TempDir(), "127.0.0.1:0")
	nc := connect(t, srv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := NewStateStore(ctx, nc, "tributary_state")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "shop/position"); !errors.Is(err, replicator.ErrNotFound) {
		t.Fatalf("Get of a missing key: err = %v, want ErrNotFound", err)
	}
	keys := []string{"shop/position", "snapshot:public.customer_transactions", ".odd..key."}
	for i, k := range keys {
		if err := st.Put(ctx, k, []byte{byte(i), 'v'}); err != nil {
			t.Fatalf("Put %q: %v", k, err)
		}
	}
	if err := st.Put(ctx, keys[0], []byte("0/16B374D8")); err != nil {
		t.Fatal(err)
	}
	// A second store on the same bucket sees the values.
	st2, err := NewStateStore(ctx, nc, "tributary_state")
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		want := string([]byte{byte(i), 'v'})
		if i == 0 {
			want = "0/16B374D8"
		}
		got, err := st2.Get(ctx, k)
		if err != nil || string(got) != want {
			t.Errorf("Get %q = %q, %v; want %q", k, got, err, want)
		}
	}
	if err := st.Delete(ctx, keys[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, keys[0]); !errors.Is(err, replicator.ErrNotFound) {
		t.Errorf("Get after Delete: err = %v, want ErrNotFound", err)
	}
	if err := st.Delete(ctx, "never/stored"); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
	if _, err := st.Get(ctx, keys[1]); err != nil {
		t.Errorf("Delete removed another key: %v", err)
	}
	if err := st.Put(ctx, "", []byte("x")); err == nil {
		t.Error("Put with an empty key succeeded")
	}
}
