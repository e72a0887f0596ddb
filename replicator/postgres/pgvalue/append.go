package pgvalue

import (
	"unsafe"

	"github.com/tributary-cdc/tributary/change"
)

// OIDs of the built-in types AppendJSON converts specially.
const (
	oidBool        = 16
	oidBytea       = 17
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidOID         = 26
	oidXID         = 28
	oidCID         = 29
	oidFloat4      = 700
	oidFloat8      = 701
	oidMoney       = 790
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidTimetz      = 1266
	oidXID8        = 5069
)

// maxDomainDepth bounds the walk from a domain to its base type, so that a
// hand-built cycle of Types cannot loop forever.
const maxDomainDepth = 32

// AppendJSON appends the JSON form of a non-NULL value of type t, given as
// PostgreSQL's text output of it, to dst and returns the extended buffer.
// The caller writes null for SQL NULL itself.
//
// AppendJSON never fails: a text it cannot parse as t's output, and any value
// of a type it has no special rule for, is appended as a JSON string holding
// the text (invalid UTF-8 replaced by U+FFFD). The output is always one valid
// JSON value. The mapping per type is in the package documentation. The
// text forms parsed are those PostgreSQL prints under SessionParams.
//
// AppendJSON does not retain text or dst, and allocates only when dst must
// grow or an array element holds a backslash escape.
func AppendJSON(dst []byte, t *Type, text []byte) []byte {
	for depth := 0; t != nil && t.Kind == Domain && depth < maxDomainDepth; depth++ {
		t = t.Base
	}
	if t == nil {
		return appendText(dst, text)
	}
	switch t.Kind {
	case Base:
		return appendBase(dst, t.OID, text)
	case Array:
		return appendArray(dst, t, text)
	}
	return appendText(dst, text)
}

// appendBase converts a value of the built-in or extension base type oid.
func appendBase(dst []byte, oid uint32, text []byte) []byte {
	switch oid {
	case oidInt2, oidInt4, oidInt8, oidOID, oidXID, oidCID, oidXID8:
		return appendInteger(dst, text)
	case oidFloat4, oidFloat8:
		return appendFloat(dst, text)
	case oidBool:
		return appendBool(dst, text)
	case oidMoney:
		return appendMoney(dst, text)
	case oidBytea:
		return appendBytea(dst, text)
	case oidTimestamp:
		return appendTimestamp(dst, text)
	case oidTimestamptz:
		return appendTimestamptz(dst, text)
	case oidTimetz:
		return appendTimetz(dst, text)
	}
	// numeric, text, varchar, bpchar, name, date, time, interval, uuid,
	// json, jsonb, network, geometric, bit strings, xml, text search, ...
	return appendText(dst, text)
}

// appendText appends text as a JSON string.
func appendText(dst []byte, text []byte) []byte {
	// change.AppendString copies s and does not keep it, so a string
	// sharing text's bytes is safe and saves a copy per value.
	return change.AppendString(dst, unsafe.String(unsafe.SliceData(text), len(text)))
}

func appendBool(dst []byte, text []byte) []byte {
	switch string(text) {
	case "t", "true":
		return append(dst, "true"...)
	case "f", "false":
		return append(dst, "false"...)
	}
	return appendText(dst, text)
}

// isDigit reports whether c is an ASCII digit.
func isDigit(c byte) bool { return c-'0' < 10 }
