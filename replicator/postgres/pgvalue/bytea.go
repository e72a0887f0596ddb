package pgvalue

import (
	"encoding/base64"
	"slices"
)

// byteaChunk is how many decoded bytes appendBytea encodes at a time. A
// multiple of 3, so that base64 of the chunks concatenated is base64 of the
// whole value.
const byteaChunk = 3 * 128

// appendBytea appends a bytea value as a standard base64 string (with
// padding). It decodes the hex format ("\x0a0b", bytea_output=hex) and, in
// case a session used bytea_output=escape, the escape format ("\012\\A").
func appendBytea(dst []byte, text []byte) []byte {
	mark := len(dst)
	var out []byte
	var ok bool
	if len(text) >= 2 && text[0] == '\\' && text[1] == 'x' {
		out, ok = appendHexBytea(dst, text[2:])
	} else {
		out, ok = appendEscapeBytea(dst, text)
	}
	if !ok {
		return appendText(out[:mark], text)
	}
	return out
}

func appendHexBytea(dst []byte, hex []byte) ([]byte, bool) {
	if len(hex)%2 != 0 {
		return dst, false
	}
	n := len(hex) / 2
	dst = slices.Grow(dst, base64.StdEncoding.EncodedLen(n)+2)
	dst = append(dst, '"')
	var buf [byteaChunk]byte
	for len(hex) > 0 {
		k := min(len(hex)/2, len(buf))
		for i := 0; i < k; i++ {
			hi, lo := unhex(hex[2*i]), unhex(hex[2*i+1])
			if hi > 15 || lo > 15 {
				return dst, false
			}
			buf[i] = hi<<4 | lo
		}
		dst = base64.StdEncoding.AppendEncode(dst, buf[:k])
		hex = hex[2*k:]
	}
	return append(dst, '"'), true
}

// unhex returns the value of hex digit c, or 255.
func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 255
}

// appendEscapeBytea decodes the escape format: "\\" is a backslash, "\ooo"
// an octal byte, any other byte itself.
func appendEscapeBytea(dst []byte, text []byte) ([]byte, bool) {
	dst = append(dst, '"')
	var buf [byteaChunk]byte
	k := 0
	for i := 0; i < len(text); {
		c := text[i]
		if c == '\\' {
			switch {
			case i+1 < len(text) && text[i+1] == '\\':
				i += 2
			case i+3 < len(text) && isOctal(text[i+1]) && text[i+1] <= '3' && isOctal(text[i+2]) && isOctal(text[i+3]):
				c = (text[i+1]-'0')<<6 | (text[i+2]-'0')<<3 | (text[i+3] - '0')
				i += 4
			default:
				return dst, false
			}
		} else {
			i++
		}
		buf[k] = c
		if k++; k == len(buf) {
			dst = base64.StdEncoding.AppendEncode(dst, buf[:k])
			k = 0
		}
	}
	dst = base64.StdEncoding.AppendEncode(dst, buf[:k])
	return append(dst, '"'), true
}

func isOctal(c byte) bool { return c-'0' < 8 }
