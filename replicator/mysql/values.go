package mysql

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/tributary-cdc/tributary/change"
)

// binaryCollation is the collation ID of the binary character set: columns
// with it hold bytes (BINARY, VARBINARY, BLOB), emitted as base64.
const binaryCollation = 63

// column is what the decoder needs to know about one column.
type column struct {
	name     string
	typ      byte   // real type (ENUM and SET resolved from MYSQL_TYPE_STRING)
	meta     uint16 // binlog metadata
	unsigned bool
	binary   bool     // binary character set
	cs       charset  // character set of a text column
	padTo    int      // BINARY(n): length to pad with zero bytes
	bits     int      // BIT(n)
	names    []string // ENUM or SET member names
}

// appendStreamValue appends the JSON form of a value decoded from a binlog
// row by go-mysql (ParseTime off, TIMESTAMP strings in UTC, decimals as
// strings). v is never nil.
func appendStreamValue(dst []byte, c *column, v any) ([]byte, error) {
	switch x := v.(type) {
	case int8:
		if c.unsigned {
			return strconv.AppendUint(dst, uint64(uint8(x)), 10), nil
		}
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int16:
		if c.unsigned {
			return strconv.AppendUint(dst, uint64(uint16(x)), 10), nil
		}
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int32:
		if c.unsigned {
			if c.typ == gomysql.MYSQL_TYPE_INT24 {
				return strconv.AppendUint(dst, uint64(uint32(x)&0xFFFFFF), 10), nil
			}
			return strconv.AppendUint(dst, uint64(uint32(x)), 10), nil
		}
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		switch c.typ {
		case gomysql.MYSQL_TYPE_ENUM:
			return appendEnum(dst, c, x), nil
		case gomysql.MYSQL_TYPE_SET:
			return appendSet(dst, c, uint64(x)), nil
		case gomysql.MYSQL_TYPE_BIT:
			return appendBits(dst, uint64(x), c.bits), nil
		}
		if c.unsigned {
			return strconv.AppendUint(dst, uint64(x), 10), nil
		}
		return strconv.AppendInt(dst, x, 10), nil
	case int: // YEAR
		return strconv.AppendInt(dst, int64(x), 10), nil
	case float32:
		return appendFloat(dst, float64(x), 32), nil
	case float64:
		return appendFloat(dst, x, 64), nil
	case string:
		return appendStringValue(dst, c, x), nil
	case []byte:
		return appendBytesValue(dst, c, x), nil
	case *replication.JsonDiff:
		return dst, fmt.Errorf("column %s: partial JSON update in the binlog: set binlog_row_value_options='' on the server", c.name)
	}
	return dst, fmt.Errorf("column %s: unexpected binlog value of type %T", c.name, v)
}

// appendStringValue handles the values go-mysql decodes as strings:
// decimals, temporal types, CHAR/VARCHAR/BINARY/VARBINARY and MySQL JSON.
func appendStringValue(dst []byte, c *column, s string) []byte {
	switch c.typ {
	case gomysql.MYSQL_TYPE_NEWDECIMAL, gomysql.MYSQL_TYPE_DECIMAL:
		return change.AppendString(dst, s)
	case gomysql.MYSQL_TYPE_TIMESTAMP, gomysql.MYSQL_TYPE_TIMESTAMP2:
		return appendDateTime(dst, s, true)
	case gomysql.MYSQL_TYPE_DATETIME, gomysql.MYSQL_TYPE_DATETIME2:
		return appendDateTime(dst, s, false)
	case gomysql.MYSQL_TYPE_DATE, gomysql.MYSQL_TYPE_NEWDATE, gomysql.MYSQL_TYPE_TIME, gomysql.MYSQL_TYPE_TIME2:
		return change.AppendString(dst, s)
	case gomysql.MYSQL_TYPE_JSON:
		return change.AppendString(dst, s)
	}
	if c.binary {
		return appendBase64(dst, padBytes([]byte(s), c.padTo))
	}
	return change.AppendString(dst, toUTF8(c.cs, s))
}

// appendBytesValue handles BLOB/TEXT, GEOMETRY and empty MySQL JSON values.
func appendBytesValue(dst []byte, c *column, b []byte) []byte {
	switch c.typ {
	case gomysql.MYSQL_TYPE_GEOMETRY:
		return appendGeometry(dst, b)
	case gomysql.MYSQL_TYPE_JSON:
		return append(dst, `"null"`...) // an empty JSON document is the JSON null literal
	}
	if c.binary {
		return appendBase64(dst, b)
	}
	return change.AppendString(dst, toUTF8(c.cs, string(b)))
}

// appendTextValue appends the JSON form of a value read by a SELECT in the
// text protocol (session time_zone '+00:00'), so that a snapshot row and a
// binlog row of the same data encode the same. f describes the result column.
func appendTextValue(dst []byte, f *gomysql.Field, v *gomysql.FieldValue) []byte {
	switch v.Type {
	case gomysql.FieldValueTypeNull:
		return append(dst, "null"...)
	case gomysql.FieldValueTypeUnsigned:
		return strconv.AppendUint(dst, v.AsUint64(), 10)
	case gomysql.FieldValueTypeSigned:
		return strconv.AppendInt(dst, v.AsInt64(), 10)
	case gomysql.FieldValueTypeFloat:
		bits := 64
		if f.Type == gomysql.MYSQL_TYPE_FLOAT {
			bits = 32
		}
		return appendFloat(dst, v.AsFloat64(), bits)
	}
	b := v.AsString()
	switch f.Type {
	case gomysql.MYSQL_TYPE_NEWDECIMAL, gomysql.MYSQL_TYPE_DECIMAL:
		return change.AppendString(dst, string(b))
	case gomysql.MYSQL_TYPE_TIMESTAMP:
		return appendDateTime(dst, string(b), true)
	case gomysql.MYSQL_TYPE_DATETIME:
		return appendDateTime(dst, string(b), false)
	case gomysql.MYSQL_TYPE_BIT:
		var n uint64
		for _, c := range b {
			n = n<<8 | uint64(c)
		}
		return appendBits(dst, n, int(f.ColumnLength))
	case gomysql.MYSQL_TYPE_GEOMETRY:
		return appendGeometry(dst, b)
	case gomysql.MYSQL_TYPE_JSON:
		return change.AppendString(dst, string(b))
	}
	if f.Charset == binaryCollation && f.Flag&(gomysql.ENUM_FLAG|gomysql.SET_FLAG) == 0 &&
		f.Type != gomysql.MYSQL_TYPE_DATE && f.Type != gomysql.MYSQL_TYPE_TIME && f.Type != gomysql.MYSQL_TYPE_NEWDATE {
		return appendBase64(dst, b)
	}
	return change.AppendString(dst, string(b))
}

// appendDateTime turns "YYYY-MM-DD hh:mm:ss[.ffffff]" into ISO 8601 with a
// T, and a Z for TIMESTAMP (which go-mysql and the snapshot session both
// give in UTC). A zero date or a date with a zero month or day has no ISO
// form: it is emitted as MySQL prints it ("0000-00-00 00:00:00").
func appendDateTime(dst []byte, s string, utc bool) []byte {
	if len(s) < 19 || s[10] != ' ' || s[5:7] == "00" || s[8:10] == "00" {
		return change.AppendString(dst, s)
	}
	dst = append(dst, '"')
	dst = append(dst, s[:10]...)
	dst = append(dst, 'T')
	dst = append(dst, s[11:]...)
	if utc {
		dst = append(dst, 'Z')
	}
	return append(dst, '"')
}

func appendFloat(dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return change.AppendString(dst, strconv.FormatFloat(f, 'g', -1, bits))
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

// appendBits writes a BIT(n) value as a string of n binary digits, as the
// PostgreSQL source writes bit strings.
func appendBits(dst []byte, v uint64, n int) []byte {
	if n <= 0 || n > 64 {
		n = 64
	}
	dst = append(dst, '"')
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte('0'+(v>>uint(i))&1))
	}
	return append(dst, '"')
}

func appendEnum(dst []byte, c *column, idx int64) []byte {
	if idx <= 0 || int(idx) > len(c.names) {
		if idx == 0 {
			return append(dst, `""`...) // the empty error value
		}
		return strconv.AppendInt(dst, idx, 10)
	}
	return change.AppendString(dst, c.names[idx-1])
}

func appendSet(dst []byte, c *column, mask uint64) []byte {
	var b strings.Builder
	for i := 0; i < len(c.names) && i < 64; i++ {
		if mask&(1<<uint(i)) != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(c.names[i])
		}
	}
	return change.AppendString(dst, b.String())
}

func appendBase64(dst []byte, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

func padBytes(b []byte, n int) []byte {
	if len(b) >= n {
		return b
	}
	p := make([]byte, n)
	copy(p, b)
	return p
}

// appendGeometry writes MySQL's internal geometry value (4-byte little
// endian SRID, then WKB) in Debezium's Geometry shape:
// {"wkb": "<base64 WKB>", "srid": 4326}.
func appendGeometry(dst []byte, b []byte) []byte {
	if len(b) < 4 {
		return appendBase64(dst, b)
	}
	dst = append(dst, `{"wkb":`...)
	dst = appendBase64(dst, b[4:])
	dst = append(dst, `,"srid":`...)
	dst = strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(b)), 10)
	return append(dst, '}')
}
