package postgres

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The pgoutput message types this source handles (protocol version 1).
const (
	msgBegin    = 'B'
	msgCommit   = 'C'
	msgOrigin   = 'O'
	msgRelation = 'R'
	msgType     = 'Y'
	msgInsert   = 'I'
	msgUpdate   = 'U'
	msgDelete   = 'D'
	msgTruncate = 'T'
	msgMessage  = 'M'
)

// Tuple column kinds.
const (
	tupleNull  = 'n'
	tupleToast = 'u'
	tupleText  = 't'
	tupleBin   = 'b'
)

var errShort = errors.New("message too short")

// reader decodes big-endian fields from a pgoutput message without copying.
// The first error sticks; later reads return zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) u8() byte {
	if r.err != nil || len(r.b) < 1 {
		r.err = errShort
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u16() uint16 {
	if r.err != nil || len(r.b) < 2 {
		r.err = errShort
		return 0
	}
	v := binary.BigEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v
}

func (r *reader) u32() uint32 {
	if r.err != nil || len(r.b) < 4 {
		r.err = errShort
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *reader) u64() uint64 {
	if r.err != nil || len(r.b) < 8 {
		r.err = errShort
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// str reads a NUL-terminated string.
func (r *reader) str() string {
	if r.err != nil {
		return ""
	}
	for i, c := range r.b {
		if c == 0 {
			s := string(r.b[:i])
			r.b = r.b[i+1:]
			return s
		}
	}
	r.err = errShort
	return ""
}

// bytes reads n bytes, aliasing the message buffer.
func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || len(r.b) < n {
		r.err = errShort
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// tupleCol is one column of a tuple: its kind and, for text and binary, its
// data aliasing the message buffer.
type tupleCol struct {
	kind byte
	data []byte
}

// tuple reads a TupleData into cols (reused) and returns it.
func (r *reader) tuple(cols []tupleCol) []tupleCol {
	n := int(r.u16())
	cols = cols[:0]
	for i := 0; i < n && r.err == nil; i++ {
		c := tupleCol{kind: r.u8()}
		switch c.kind {
		case tupleText, tupleBin:
			c.data = r.bytes(int(r.u32()))
		case tupleNull, tupleToast:
		default:
			r.err = fmt.Errorf("unknown tuple column kind %q", c.kind)
		}
		cols = append(cols, c)
	}
	return cols
}

// pgEpochMicros is 2000-01-01 in microseconds since the Unix epoch.
const pgEpochMicros = 946684800 * 1000000

// pgTimeMillis converts a PostgreSQL timestamp (µs since 2000-01-01) to Unix ms.
func pgTimeMillis(us uint64) int64 { return (int64(us) + pgEpochMicros) / 1000 }
