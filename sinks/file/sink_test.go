package file

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/change"
)

func TestWritesJSONLinesAndReportsDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "changes.jsonl")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 1; i <= 100; i++ {
		ev := &change.Event{ID: "x", Op: change.OpCreate, After: change.Row{{Name: "id", Value: []byte{byte('0' + i%10)}}},
			Source: change.Source{Connector: "postgresql", Name: "shop", Schema: "public", Table: "t"}}
		if err := s.Write(ctx, uint64(i), ev); err != nil {
			t.Fatal(err)
		}
	}
	// The background flusher makes everything durable without a Flush.
	deadline := time.Now().Add(5 * time.Second)
	for s.Durable() < 100 {
		if time.Now().After(deadline) {
			t.Fatalf("durable %d after 5s, want 100", s.Durable())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var ev change.Event
		if err := change.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		n++
		if got, want := string(ev.After[0].Value), string(rune('0'+n%10)); got != want {
			t.Fatalf("line %d has id %s, want %s", n, got, want)
		}
	}
	if n != 100 {
		t.Fatalf("%d lines, want 100", n)
	}
	// Appending: a second sink on the same path keeps the earlier lines.
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Write(ctx, 1, &change.Event{Op: change.OpTruncate}); err != nil {
		t.Fatal(err)
	}
	if err := s2.Flush(ctx); err != nil || s2.Durable() != 1 {
		t.Fatalf("flush: %v, durable %d", err, s2.Durable())
	}
	s2.Close(ctx)
	b, _ := os.ReadFile(path)
	if lines := len(splitLines(b)); lines != 101 {
		t.Fatalf("%d lines after append, want 101", lines)
	}
}

func TestOpenErrorNamesThePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "dir", "x.jsonl")
	_, err := Open(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open in a missing directory: %v, want an error naming %s", err, path)
	}
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	start := 0
	for i, c := range b {
		if c == '\n' {
			out = append(out, b[start:i])
			start = i + 1
		}
	}
	return out
}
