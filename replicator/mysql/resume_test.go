package mysql

import (
	"log/slog"
	"testing"
)

func TestResumeOrder(t *testing.T) {
	for _, c := range []struct {
		tx, stored string
		cmp        int
		ok         bool
	}{
		{"0-1-41", "0-1-42", -1, true},
		{"0-1-42", "0-1-42", 0, true},
		{"0-2-43", "0-1-42", 1, true}, // same domain, another server: the sequence orders
		{"1-1-5", "0-1-42", 0, false}, // another domain cannot be ordered
		{"3e11fa47-71ca-11e1-9e33-c80aa9429562:22", "3e11fa47-71ca-11e1-9e33-c80aa9429562:23", -1, true},
		{"3e11fa47-71ca-11e1-9e33-c80aa9429562:24", "3e11fa47-71ca-11e1-9e33-c80aa9429562:23", 1, true},
		{"4e11fa47-71ca-11e1-9e33-c80aa9429562:1", "3e11fa47-71ca-11e1-9e33-c80aa9429562:23", 0, false},
		{"binlog.000002:900", "binlog.000003:4", -1, true},
		{"binlog.000003:120", "binlog.000003:4", 1, true},
		{"binlog.000003:4", "0-1-42", 0, false},
	} {
		cmp, ok := resumeOrder(c.tx, c.stored)
		if ok != c.ok || (ok && cmp != c.cmp) {
			t.Errorf("resumeOrder(%s, %s) = %d, %v; want %d, %v", c.tx, c.stored, cmp, ok, c.cmp, c.ok)
		}
	}
}

func TestResumeAfterParsesIDs(t *testing.T) {
	s := &Source{cfg: Config{Name: "legacy"}, log: slog.New(slog.DiscardHandler)}
	s.ResumeAfter("legacy:0-1-42:3")
	if tx, n := s.takeResume(); tx != "0-1-42" || n != 3 {
		t.Fatalf("got %s %d", tx, n)
	}
	s.ResumeAfter("legacy:3e11fa47-71ca-11e1-9e33-c80aa9429562:23:7")
	if tx, n := s.takeResume(); tx != "3e11fa47-71ca-11e1-9e33-c80aa9429562:23" || n != 7 {
		t.Fatalf("got %s %d", tx, n)
	}
	for _, bad := range []string{"other:0-1-42:3", "legacy:snap:binlog.000001:4:9", "legacy:0-1-42:x", "legacy"} {
		s.ResumeAfter(bad)
		if tx, _ := s.takeResume(); tx != "" {
			t.Errorf("ResumeAfter(%q) set %q", bad, tx)
		}
	}
}
