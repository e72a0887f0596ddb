package batch

import (
	"bytes"
	"fmt"
)

// splitRecord splits one CSV record, a line without its line ending, into
// fields (RFC 4180: fields may be quoted, a quote inside a quoted field is
// doubled). Unquoted fields are slices of line; quoted ones are unescaped
// into scratch, which must have a capacity of at least len(line) so that it
// never moves. A record never spans lines: a quote left open at the end of
// the line is broken quoting. It returns the fields and an empty reason, or
// the reason the line is malformed.
func splitRecord(line []byte, fields [][]byte, scratch []byte) ([][]byte, string) {
	fields = fields[:0]
	if bytes.IndexByte(line, '"') < 0 {
		for {
			i := bytes.IndexByte(line, ',')
			if i < 0 {
				return append(fields, line), ""
			}
			fields = append(fields, line[:i])
			line = line[i+1:]
		}
	}
	scratch = scratch[:0]
	col := 1
	for {
		if len(line) > 0 && line[0] == '"' {
			start := len(scratch)
			i := 1
			closed := false
			for i < len(line) {
				c := line[i]
				if c == '"' {
					if i+1 < len(line) && line[i+1] == '"' {
						scratch = append(scratch, '"')
						i += 2
						continue
					}
					closed = true
					i++
					break
				}
				scratch = append(scratch, c)
				i++
			}
			if !closed {
				return fields, fmt.Sprintf("broken quoting: quoted field %d is not closed on its line", col)
			}
			fields = append(fields, scratch[start:len(scratch):len(scratch)])
			line = line[i:]
			if len(line) == 0 {
				return fields, ""
			}
			if line[0] != ',' {
				return fields, fmt.Sprintf("broken quoting: text after the closing quote of field %d", col)
			}
			line = line[1:]
		} else {
			i := bytes.IndexByte(line, ',')
			f := line
			if i >= 0 {
				f = line[:i]
			}
			if bytes.IndexByte(f, '"') >= 0 {
				return fields, fmt.Sprintf("broken quoting: stray quote inside unquoted field %d", col)
			}
			fields = append(fields, f)
			if i < 0 {
				return fields, ""
			}
			line = line[i+1:]
		}
		col++
	}
}
