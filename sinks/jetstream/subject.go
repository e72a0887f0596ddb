package jetstream

import (
	"fmt"
	"strings"

	"github.com/tributary-cdc/tributary/change"
)

// Subject returns the subject ev is published on:
// "<prefix>.<source>.<schema-or-db>.<table>" (the schema for PostgreSQL,
// the database for MySQL). The source, namespace and table are made
// subject-safe: '.', '*', '>', whitespace and control characters become '_',
// and an empty name becomes "_". Distinct names can therefore share a
// subject ("a.b" and "a_b"); the event's source block keeps the exact names.
// prefix is used as given and must be a valid subject without wildcards.
func Subject(prefix string, ev *change.Event) string {
	src, ns, tbl := ev.Source.Name, ev.Source.Namespace(), ev.Source.Table
	var b strings.Builder
	b.Grow(len(prefix) + len(src) + len(ns) + len(tbl) + 3)
	b.WriteString(prefix)
	for _, t := range [3]string{src, ns, tbl} {
		b.WriteByte('.')
		writeToken(&b, t)
	}
	return b.String()
}

// SourceSubjects returns the subject filter that matches every event of the
// named source: "<prefix>.<source>.>".
func SourceSubjects(prefix, source string) string {
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteByte('.')
	writeToken(&b, source)
	b.WriteString(".>")
	return b.String()
}

func writeToken(b *strings.Builder, s string) {
	if s == "" {
		b.WriteByte('_')
		return
	}
	start := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; unsafeSubjectByte(c) {
			b.WriteString(s[start:i])
			b.WriteByte('_')
			start = i + 1
		}
	}
	b.WriteString(s[start:])
}

// unsafeSubjectByte reports whether c cannot appear inside a subject token.
// Multi-byte UTF-8 sequences never contain bytes below 0x80, so checking
// bytes is enough for the ASCII separators; Unicode spaces are left alone,
// as nats-server only splits on ASCII whitespace.
func unsafeSubjectByte(c byte) bool {
	return c == '.' || c == '*' || c == '>' || c <= ' ' || c == 0x7f
}

// validatePrefix checks that prefix is a literal subject: non-empty tokens
// without wildcards or whitespace.
func validatePrefix(prefix string) error {
	if prefix == "" {
		return fmt.Errorf("subject_prefix is empty")
	}
	for _, tok := range strings.Split(prefix, ".") {
		if tok == "" {
			return fmt.Errorf("subject_prefix %q has an empty token", prefix)
		}
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; c == '*' || c == '>' || c <= ' ' || c == 0x7f {
				return fmt.Errorf("subject_prefix %q contains %q; use letters, digits, '-' and '_' separated by '.'", prefix, c)
			}
		}
	}
	return nil
}

// subjectCovers reports whether every subject matched by the pattern q is
// also matched by the pattern p.
func subjectCovers(p, q string) bool {
	pt, qt := strings.Split(p, "."), strings.Split(q, ".")
	for i, t := range pt {
		if t == ">" {
			return i < len(qt)
		}
		if i >= len(qt) {
			return false
		}
		switch {
		case qt[i] == ">":
			return false
		case t == "*":
		case t != qt[i]:
			return false
		}
	}
	return len(pt) == len(qt)
}
