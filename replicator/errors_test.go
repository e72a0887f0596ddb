package replicator

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestClassify(t *testing.T) {
	if Classify(nil) != nil || Permanent(nil) != nil {
		t.Fatal("nil in, non-nil out")
	}
	plain := fmt.Errorf("connect: %w", io.EOF)
	if err := Classify(plain); !IsRetryable(err) || IsPermanent(err) || !errors.Is(err, io.EOF) || err.Error() != plain.Error() {
		t.Errorf("Classify(plain) = %#v: want retryable, wrapping io.EOF, same message", err)
	}
	perm := fmt.Errorf("preflight: %w", Permanent(io.ErrUnexpectedEOF))
	if err := Classify(perm); err != perm || IsRetryable(err) || !IsPermanent(err) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Classify(permanent) = %#v: want it unchanged and not retryable", err)
	}
	if perm.Error() != "preflight: unexpected EOF" {
		t.Errorf("permanent message %q", perm)
	}
	retry := Retryable(io.EOF)
	if err := Classify(retry); err != retry {
		t.Errorf("Classify(retryable) = %#v: want it unchanged, not wrapped again", err)
	}
}
