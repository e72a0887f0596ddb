package mysql

import (
	"strings"
)

// parseTruncate recognizes TRUNCATE [TABLE] [db.]name and returns the
// table, with defaultDB (the statement's current database) when the name
// is not qualified.
func parseTruncate(q, defaultDB string) (db, name string, ok bool) {
	q = skipComments(q)
	if !hasWord(q, "TRUNCATE") {
		return "", "", false
	}
	q = skipComments(q[len("TRUNCATE"):])
	if hasWord(q, "TABLE") {
		q = skipComments(q[len("TABLE"):])
	}
	first, rest, ok := readIdent(q)
	if !ok {
		return "", "", false
	}
	if strings.HasPrefix(rest, ".") {
		second, _, ok := readIdent(rest[1:])
		if !ok {
			return "", "", false
		}
		return first, second, true
	}
	return defaultDB, first, defaultDB != ""
}

// isSchemaChange reports whether q is a DDL statement worth logging.
func isSchemaChange(q string) bool {
	q = skipComments(q)
	for _, w := range []string{"ALTER", "RENAME", "CREATE", "DROP"} {
		if hasWord(q, w) {
			return true
		}
	}
	return false
}

// readIdent reads a plain or backquoted identifier.
func readIdent(s string) (ident, rest string, ok bool) {
	if strings.HasPrefix(s, "`") {
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			if s[i] == '`' {
				if i+1 < len(s) && s[i+1] == '`' {
					b.WriteByte('`')
					i++
					continue
				}
				return b.String(), s[i+1:], true
			}
			b.WriteByte(s[i])
		}
		return "", "", false
	}
	i := 0
	for i < len(s) && (s[i] == '_' || s[i] == '$' || s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || s[i] >= 0x80) {
		i++
	}
	return s[:i], s[i:], i > 0
}

func hasWord(s, w string) bool {
	if len(s) < len(w) || !strings.EqualFold(s[:len(w)], w) {
		return false
	}
	if len(s) == len(w) {
		return true
	}
	c := s[len(w)]
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '`' || c == '/'
}

// skipComments drops leading white space and /* */ comments.
func skipComments(s string) string {
	for {
		s = strings.TrimLeft(s, " \t\r\n")
		if !strings.HasPrefix(s, "/*") {
			return s
		}
		end := strings.Index(s, "*/")
		if end < 0 {
			return s
		}
		s = s[end+2:]
	}
}
