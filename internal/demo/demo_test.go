package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestDemo runs `make demo` for a few seconds: PostgreSQL, a loaded dataset,
// the daemon with its embedded JetStream and a workload; changes must flow
// and everything must stop cleanly.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and the daemon")
	}
	bin := filepath.Join(t.TempDir(), "tributary")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/tributary").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if _, err := exec.LookPath("initdb"); err != nil {
		if _, err := os.Stat("/usr/lib/postgresql"); err != nil && os.Getenv("CI") != "true" {
			t.Skip("PostgreSQL is not installed")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sum, err := run(ctx, options{binary: bin, rows: 2000, rate: 100, mix: "insert=70,update=20,delete=10", duration: 8 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if sum.totals.Commits < 100 {
		t.Errorf("workload committed only %d transactions", sum.totals.Commits)
	}
	if sum.events < 1900+uint64(sum.totals.Commits)/2 {
		t.Errorf("source read %d events; want the snapshot (~2000 rows) and most of %d commits", sum.events, sum.totals.Commits)
	}
	if !sum.stopped {
		t.Error("tributary did not exit 0 after SIGINT")
	}
}
