package gen

import (
	"bytes"
	"context"
	"testing"
)

func TestWriteCSVDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	ta, err := WriteCSV(context.Background(), &a, 20000, 42, DefaultDirt())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteCSV(context.Background(), &b, 20000, 42, DefaultDirt()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two runs with seed 42 differ")
	}
	var c bytes.Buffer
	if _, err := WriteCSV(context.Background(), &c, 20000, 43, DefaultDirt()); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Fatal("seeds 42 and 43 give the same file")
	}
	if n := bytes.Count(a.Bytes(), []byte{'\n'}); n != 20001 {
		t.Fatalf("lines = %d, want 20001 (header + rows)", n)
	}
	if ta.Lines != 20000 || ta.Rows+ta.Injected.ExactDuplicates+ta.Injected.NearDuplicates != 20000 {
		t.Fatalf("truth lines %d rows %d dups %d+%d", ta.Lines, ta.Rows, ta.Injected.ExactDuplicates, ta.Injected.NearDuplicates)
	}
	t.Logf("truth r2=%.4f rmse=%.3f clamped=%d injected=%+v", ta.R2, ta.RMSE, ta.ClampedRows, ta.Injected)
}
