package replicatortest

import (
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/change"
)

// WaitFor polls cond every 20 ms until it holds, and fails t when timeout
// passes first; what names the awaited condition in the failure.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Field returns the JSON of column name in r, "null" for SQL NULL, and
// fails t when r has no such column.
func Field(t testing.TB, r change.Row, name string) string {
	t.Helper()
	v, ok := r.Get(name)
	if !ok {
		t.Fatalf("row %s has no column %s", RowString(r), name)
	}
	if v == nil {
		return "null"
	}
	return string(v)
}

// RowString returns r as JSON, "null" for a nil row.
func RowString(r change.Row) string {
	if r == nil {
		return "null"
	}
	return string(change.Marshal(&change.Event{Op: change.OpCreate, After: r}))
}
