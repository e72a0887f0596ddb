package learner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/config"
	"github.com/tributary-cdc/tributary/gen"
)

// sliceFeed delivers its messages in order and then ends the run (as a
// shutdown does) by cancelling it.
type sliceFeed struct {
	msgs []Message
	stop context.CancelFunc
}

func (f *sliceFeed) Next(ctx context.Context) (Message, error) {
	if len(f.msgs) == 0 {
		f.stop()
		<-ctx.Done()
		return Message{}, ctx.Err()
	}
	m := f.msgs[0]
	f.msgs = f.msgs[1:]
	return m, nil
}

// insertMessages returns n insert events of generated rows, sequences from
// first on.
func insertMessages(seed int64, first uint64, n int) []Message {
	g := gen.NewGenerator(seed, gen.Options{Rows: n})
	var msgs []Message
	for i := range n {
		seq := first + uint64(i)
		ev := event(change.OpCreate, nil, genImage(int64(seq), g.Next()))
		msgs = append(msgs, Message{Seq: seq, Subject: "cdc.shop.public.customer_transactions", Data: change.Marshal(ev)})
	}
	return msgs
}

// runEvents runs a runner over blobs on msgs to the end.
func runEvents(t *testing.T, cfg config.LearnerConfig, blobs Blobs, msgs []Message) *Runner {
	t.Helper()
	r, err := NewRunner(cfg, "cdc", blobs, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	if err := r.Run(rctx, &sliceFeed{msgs: msgs, stop: stop}); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("the run timed out")
	}
	return r
}

// With keep_versions 3, a learner that saved 10 versions keeps exactly the
// newest three, and the newest loads after a restart, which resumes from
// it and goes on numbering after it.
func TestLearnerKeepVersions(t *testing.T) {
	cfg := testConfig("sgd")
	cfg.KeepVersions = 3
	cfg.VersionEvery = config.VersionEvery{Events: 100}
	dir := t.TempDir()
	blobs := NewDirBlobs(dir)
	st := Store{Blobs: blobs}
	ctx := context.Background()
	r := runEvents(t, cfg, blobs, insertMessages(1, 1, 1000))
	if s := r.Status(); s.Version != 10 || s.LastError != "" {
		t.Fatalf("status after 1000 events: version %d, last error %q", s.Version, s.LastError)
	}
	vs, err := st.Versions(ctx, "amount")
	if err != nil || !reflect.DeepEqual(vs, []uint64{8, 9, 10}) {
		t.Fatalf("versions = %v, %v; want [8 9 10]", vs, err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "amount", "*"))
	if len(files) != 3 {
		t.Fatalf("files left: %v", files)
	}
	v, skipped, err := st.Latest(ctx, "amount")
	if err != nil || len(skipped) != 0 || v.Version != 10 || v.StreamSeq != 1000 || v.Parent != 9 {
		t.Fatalf("newest = %+v, skipped %v, %v", v, skipped, err)
	}
	if _, err := st.Load(ctx, "amount", 7); !errors.Is(err, ErrNotFound) {
		t.Fatalf("version 7 after pruning: %v, want ErrNotFound", err)
	}

	// A restart resumes from version 10 and prunes on.
	r2 := runEvents(t, cfg, blobs, insertMessages(2, 1001, 250))
	if s := r2.Status(); s.Version != 13 || s.StreamSeq != 1250 {
		t.Fatalf("after restart: version %d, stream_seq %d; want 13, 1250", s.Version, s.StreamSeq)
	}
	if vs, _ := st.Versions(ctx, "amount"); !reflect.DeepEqual(vs, []uint64{11, 12, 13}) {
		t.Fatalf("versions after restart = %v, want [11 12 13]", vs)
	}
}

// keep_versions 0 keeps every version.
func TestLearnerKeepAllVersions(t *testing.T) {
	cfg := testConfig("ridge")
	cfg.KeepVersions = 0
	cfg.VersionEvery = config.VersionEvery{Events: 100}
	blobs := NewDirBlobs(t.TempDir())
	runEvents(t, cfg, blobs, insertMessages(1, 1, 450))
	vs, err := Store{Blobs: blobs}.Versions(context.Background(), "amount")
	if err != nil || !reflect.DeepEqual(vs, []uint64{1, 2, 3, 4, 5}) {
		t.Fatalf("versions = %v, %v; want 1 to 5", vs, err)
	}
}

// The version 1 a warm start imported is kept besides the newest
// keep_versions.
func TestLearnerKeepVersionsKeepsWarmStart(t *testing.T) {
	cfg := testConfig("sgd")
	cfg.WarmStart = writeTruthModel(t)
	cfg.KeepVersions = 2
	cfg.VersionEvery = config.VersionEvery{Events: 100}
	blobs := NewDirBlobs(t.TempDir())
	st := Store{Blobs: blobs}
	runEvents(t, cfg, blobs, insertMessages(1, 1, 600))
	vs, err := st.Versions(context.Background(), "amount")
	if err != nil || !reflect.DeepEqual(vs, []uint64{1, 6, 7}) {
		t.Fatalf("versions = %v, %v; want [1 6 7]", vs, err)
	}
	v1, err := st.Load(context.Background(), "amount", 1)
	if err != nil || v1.WarmStart == nil || v1.Counts.Inserts != 0 {
		t.Fatalf("version 1 = %+v, %v; want the warm start", v1, err)
	}
}

func TestLearnerRetired(t *testing.T) {
	seq := func(a, b uint64) []uint64 {
		var vs []uint64
		for v := a; v <= b; v++ {
			vs = append(vs, v)
		}
		return vs
	}
	for _, c := range []struct {
		vs       []uint64
		newest   uint64
		keep     int
		pinFirst bool
		want     []uint64
	}{
		{seq(1, 10), 10, 3, false, seq(1, 7)},
		{seq(1, 10), 10, 3, true, seq(2, 7)},
		{seq(1, 10), 10, 1, false, seq(1, 9)},
		{seq(1, 10), 10, 0, false, nil},
		{seq(1, 3), 3, 3, false, nil},
		{seq(1, 3), 3, 5, false, nil},
		{[]uint64{1, 4, 9, 10}, 10, 2, true, []uint64{4}},
		// Deletions that failed last time are retried; what is above newest
		// (never written by this runner) is not touched.
		{[]uint64{2, 3, 8, 9, 10, 12}, 10, 3, false, []uint64{2, 3}},
	} {
		if got := retired(c.vs, c.newest, c.keep, c.pinFirst); !reflect.DeepEqual(got, c.want) {
			t.Errorf("retired(%v, newest %d, keep %d, pin %v) = %v, want %v", c.vs, c.newest, c.keep, c.pinFirst, got, c.want)
		}
	}
}

// DirBlobs.Delete removes a blob; deleting a missing one is not an error.
func TestLearnerDirBlobsDelete(t *testing.T) {
	dir := t.TempDir()
	b := NewDirBlobs(dir)
	ctx := context.Background()
	for _, n := range []string{"a/v1.json", "a/v2.json"} {
		if err := b.Put(ctx, n, []byte(n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Delete(ctx, "a/v1.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "a/v1.json"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
	if names, err := b.List(ctx, "a/"); err != nil || !reflect.DeepEqual(names, []string{"a/v2.json"}) {
		t.Fatalf("List after Delete = %v, %v", names, err)
	}
	for _, n := range []string{"a/v1.json", "b/v1.json"} {
		if err := b.Delete(ctx, n); err != nil {
			t.Errorf("Delete of missing %s: %v", n, err)
		}
	}
	if err := b.Delete(ctx, "../x"); err == nil {
		t.Error("Delete of a name outside the store succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "v2.json")); err != nil {
		t.Fatal(err)
	}
}
