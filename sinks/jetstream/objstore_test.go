package jetstream

import (
	"context"
	"errors"
	"io/fs"
	"sort"
	"strings"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
)

func TestObjectBlobs(t *testing.T) {
	dir := t.TempDir()
	e := startServer(t, dir, "127.0.0.1:0")
	nc := connect(t, e.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := NewObjectBlobs(ctx, nc, "models_test")
	if err != nil {
		t.Fatal(err)
	}
	if names, err := b.List(ctx, ""); err != nil || len(names) != 0 {
		t.Fatalf("empty bucket lists %v, %v", names, err)
	}
	if _, err := b.Get(ctx, "a/v1.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Get of a missing object: %v, want fs.ErrNotExist", err)
	}
	big := strings.Repeat("x", 300<<10) // several chunks
	for name, data := range map[string]string{"a/v1.json": "one", "a/v2.json": big, "b/v1.json": "other"} {
		if err := b.Put(ctx, name, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Put(ctx, "a/v1.json", []byte("one, replaced")); err != nil {
		t.Fatal(err)
	}
	// A second handle on the same bucket (opened, not created) sees them.
	b2, err := NewObjectBlobs(ctx, nc, "models_test")
	if err != nil {
		t.Fatal(err)
	}
	names, err := b2.List(ctx, "a/")
	sort.Strings(names)
	if err != nil || strings.Join(names, ",") != "a/v1.json,a/v2.json" {
		t.Fatalf("List(a/) = %v, %v", names, err)
	}
	if got, err := b2.Get(ctx, "a/v2.json"); err != nil || string(got) != big {
		t.Fatalf("Get(a/v2.json): %d bytes, %v", len(got), err)
	}
	if got, _ := b2.Get(ctx, "a/v1.json"); string(got) != "one, replaced" {
		t.Fatalf("Get(a/v1.json) = %q", got)
	}
}

// The ordered feed starts at the given sequence, keeps to its filter and
// gives stream sequences; a cancelled Next consumes nothing.
func TestOrderedFeed(t *testing.T) {
	e := startServer(t, t.TempDir(), "127.0.0.1:0")
	nc := connect(t, e.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js, _ := natsjs.New(nc)
	if _, err := js.CreateStream(ctx, natsjs.StreamConfig{Name: "S", Subjects: []string{"cdc.>"}}); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		subj := "cdc.shop.public.t"
		if i%2 == 1 {
			subj = "cdc.predictions.x"
		}
		if _, err := js.Publish(ctx, subj, []byte{byte('a' + i)}); err != nil {
			t.Fatal(err)
		}
	}
	f, err := NewOrderedFeed(ctx, nc, "S", "cdc.shop.public.t", 5)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	var seqs []uint64
	for len(seqs) < 8 {
		seq, subj, data, err := f.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if subj != "cdc.shop.public.t" || data[0] != byte('a'+seq-1) {
			t.Fatalf("seq %d: subject %s data %q", seq, subj, data)
		}
		seqs = append(seqs, seq)
	}
	if seqs[0] != 5 || seqs[7] != 19 {
		t.Fatalf("sequences %v, want 5, 7, ..., 19", seqs)
	}
	short, scancel := context.WithTimeout(ctx, 100*time.Millisecond)
	if _, _, _, err := f.Next(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next on an idle feed: %v", err)
	}
	scancel()
	if _, err := js.Publish(ctx, "cdc.shop.public.t", []byte("z")); err != nil {
		t.Fatal(err)
	}
	if seq, _, data, err := f.Next(ctx); err != nil || seq != 21 || string(data) != "z" {
		t.Fatalf("after an idle wait: %d %q %v", seq, data, err)
	}
}

// Delete removes an object (Get reports fs.ErrNotExist, List leaves it
// out) and purges its delete marker, so deleted objects do not pile up in
// the bucket's stream; deleting a missing object is not an error.
func TestObjectBlobsDelete(t *testing.T) {
	e := startServer(t, t.TempDir(), "127.0.0.1:0")
	nc := connect(t, e.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := NewObjectBlobs(ctx, nc, "models_del")
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("y", 300<<10) // several chunks
	for _, name := range []string{"a/v1.json", "a/v2.json", "a/v3.json"} {
		if err := b.Put(ctx, name, []byte(big)); err != nil {
			t.Fatal(err)
		}
	}
	js, _ := natsjs.New(nc)
	stream, err := js.Stream(ctx, "OBJ_models_del")
	if err != nil {
		t.Fatal(err)
	}
	msgs := func() uint64 {
		info, err := stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}
	before := msgs()
	for _, name := range []string{"a/v1.json", "a/v2.json"} {
		if err := b.Delete(ctx, name); err != nil {
			t.Fatalf("Delete(%s): %v", name, err)
		}
	}
	if _, err := b.Get(ctx, "a/v1.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Get after Delete: %v, want fs.ErrNotExist", err)
	}
	if names, err := b.List(ctx, "a/"); err != nil || strings.Join(names, ",") != "a/v3.json" {
		t.Fatalf("List after Delete = %v, %v", names, err)
	}
	if got, err := b.Get(ctx, "a/v3.json"); err != nil || string(got) != big {
		t.Fatalf("Get(a/v3.json) after deleting the others: %d bytes, %v", len(got), err)
	}
	// Each object is 3 chunks and a metadata message; nothing of the deleted
	// ones is left, not even a marker.
	if after := msgs(); after != before/3 {
		t.Errorf("stream holds %d messages after deleting 2 of 3 objects (%d before), want %d", after, before, before/3)
	}
	for _, name := range []string{"a/v1.json", "never/put.json"} {
		if err := b.Delete(ctx, name); err != nil {
			t.Errorf("Delete of missing %s: %v", name, err)
		}
	}
	// A name can be stored again after its deletion.
	if err := b.Put(ctx, "a/v1.json", []byte("again")); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Get(ctx, "a/v1.json"); err != nil || string(got) != "again" {
		t.Fatalf("Get after Put again: %q, %v", got, err)
	}
}
