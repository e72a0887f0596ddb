package replicator

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestDirStore(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "state")
	st, err := NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "postgres.shop.snapshot"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing key: %v, want ErrNotFound", err)
	}
	if err := st.Put(ctx, "postgres.shop.snapshot", []byte(`{"status":"running"}`)); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "postgres.shop.snapshot", []byte(`{"status":"done"}`)); err != nil {
		t.Fatal(err)
	}
	// A second store on the same directory (a restart) reads the last value.
	st2, _ := NewDirStore(dir)
	if b, err := st2.Get(ctx, "postgres.shop.snapshot"); err != nil || string(b) != `{"status":"done"}` {
		t.Fatalf("Get = %q, %v", b, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in the state dir, want 1: a temporary file was left behind", len(entries))
	}
	if err := st.Delete(ctx, "postgres.shop.snapshot"); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, "postgres.shop.snapshot"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	if _, err := st.Get(ctx, "postgres.shop.snapshot"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}
	for _, bad := range []string{"../escape", "a/b", "", "sp ace"} {
		if err := st.Put(ctx, bad, nil); err == nil {
			t.Errorf("Put(%q) accepted a key that is not a file name", bad)
		}
	}
}
