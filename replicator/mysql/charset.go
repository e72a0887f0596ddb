package mysql

import (
	"encoding/binary"
	"unicode/utf16"
	"unicode/utf8"
)

// charset is how a character column's bytes in the binlog are encoded.
// The binlog carries strings in the column's own character set; the
// snapshot reads them converted to utf8mb4 by the server.
type charset byte

const (
	csUTF8    charset = iota // utf8mb3, utf8mb4, ascii, and anything not listed: taken as UTF-8
	csLatin1                 // MySQL's latin1 is Windows-1252
	csUTF16                  // utf16 and ucs2, big endian
	csUTF16LE                // utf16le
	csUTF32                  // utf32, big endian
)

// collationCharset maps the collation IDs of the non-UTF-8 character sets
// that are converted to their charset. Other collations are taken as UTF-8
// (invalid sequences become U+FFFD).
func collationCharset(id uint64) charset {
	switch {
	case id == 5 || id == 8 || id == 15 || id == 31 || id == 47 || id == 48 || id == 49 || id == 94:
		return csLatin1
	case id == 35 || id == 90 || id >= 128 && id <= 151 || id == 159, // ucs2
		id == 54 || id == 55 || id >= 101 && id <= 124: // utf16
		return csUTF16
	case id == 56 || id == 62:
		return csUTF16LE
	case id == 60 || id == 61 || id >= 160 && id <= 183:
		return csUTF32
	}
	return csUTF8
}

// cp1252 holds the Windows-1252 characters of bytes 0x80-0x9F; MySQL's
// latin1 maps the five undefined ones to the C1 controls.
var cp1252 = [32]rune{
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
}

// toUTF8 converts s from cs to UTF-8.
func toUTF8(cs charset, s string) string {
	switch cs {
	case csLatin1:
		ascii := true
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				ascii = false
				break
			}
		}
		if ascii {
			return s
		}
		b := make([]byte, 0, len(s)+8)
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c < 0x80:
				b = append(b, c)
			case c < 0xA0:
				b = utf8.AppendRune(b, cp1252[c-0x80])
			default:
				b = utf8.AppendRune(b, rune(c))
			}
		}
		return string(b)
	case csUTF16, csUTF16LE:
		u := make([]uint16, 0, len(s)/2)
		for i := 0; i+1 < len(s); i += 2 {
			if cs == csUTF16 {
				u = append(u, binary.BigEndian.Uint16([]byte(s[i:i+2])))
			} else {
				u = append(u, binary.LittleEndian.Uint16([]byte(s[i:i+2])))
			}
		}
		return string(utf16.Decode(u))
	case csUTF32:
		b := make([]byte, 0, len(s))
		for i := 0; i+3 < len(s); i += 4 {
			b = utf8.AppendRune(b, rune(binary.BigEndian.Uint32([]byte(s[i:i+4]))))
		}
		return string(b)
	}
	return s
}
