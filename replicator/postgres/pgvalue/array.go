package pgvalue

// appendArray appends an array's text form ("{1,NULL,3}", "{{1,2},{3,4}}",
// `{"a b","x\"y",NULL}`, "[2:3]={1,2}") as a JSON array, nested for each
// dimension, converting each element by the element type. An unquoted NULL
// is JSON null; a quoted "NULL" is the string. Explicit bounds ("[2:3]=")
// are dropped: the JSON array starts at the first element whatever the
// lower bound was. Text that is not a well-formed array falls back to a
// JSON string of the text.
func appendArray(dst []byte, t *Type, text []byte) []byte {
	mark := len(dst)
	out, ok := appendArrayValue(dst, t, text)
	if !ok {
		return appendText(out[:mark], text)
	}
	return out
}

// arrayScratchSize is the stack buffer for unescaping array elements; longer
// escaped elements allocate.
const arrayScratchSize = 128

func appendArrayValue(dst []byte, t *Type, text []byte) ([]byte, bool) {
	elem := t.Elem
	delim := t.Delim
	if delim == 0 && elem != nil {
		delim = elem.Delim
	}
	if delim == 0 {
		delim = ','
	}
	var scratchBuf [arrayScratchSize]byte

	i := skipSpace(text, 0)
	if i < len(text) && text[i] == '[' {
		// Dimension decoration: [lo:hi][lo:hi]=
		for i < len(text) && text[i] != '=' {
			c := text[i]
			if !isDigit(c) && c != '[' && c != ']' && c != ':' && c != '-' && c != '+' {
				return dst, false
			}
			i++
		}
		if i == len(text) {
			return dst, false
		}
		i = skipSpace(text, i+1)
	}
	if i == len(text) || text[i] != '{' {
		return dst, false
	}

	depth := 0
	expectValue := true // after '{' or a delimiter
	first := true       // right after '{': '}' may close an empty array
	for {
		i = skipSpace(text, i)
		if i == len(text) {
			return dst, false
		}
		c := text[i]
		if !expectValue {
			switch c {
			case delim:
				dst = append(dst, ',')
				expectValue, first = true, false
				i++
				continue
			case '}':
				dst = append(dst, ']')
				i++
				if depth--; depth == 0 {
					return dst, skipSpace(text, i) == len(text)
				}
				continue
			}
			return dst, false
		}
		switch c {
		case '{':
			dst = append(dst, '[')
			depth++
			first = true
			i++
			continue
		case '}':
			if !first {
				return dst, false
			}
			expectValue = false
			continue // closed by the branch above
		case '"':
			j := i + 1
			escaped := false
			for j < len(text) && text[j] != '"' {
				if text[j] == '\\' {
					escaped = true
					j++
				}
				j++
			}
			if j >= len(text) {
				return dst, false
			}
			v := text[i+1 : j]
			if escaped {
				v = unescapeElement(scratchBuf[:0], v)
			}
			dst = AppendJSON(dst, elem, v)
			i = j + 1
		default:
			j := i
			escaped := false
			for j < len(text) && text[j] != delim && text[j] != '}' {
				switch text[j] {
				case '{', '"':
					return dst, false
				case '\\':
					escaped = true
					j++
				}
				j++
			}
			if j >= len(text) {
				return dst, false
			}
			end := j
			for end > i && isSpace(text[end-1]) {
				end--
			}
			if end == i {
				return dst, false // an empty element must be quoted
			}
			v := text[i:end]
			switch {
			case escaped:
				dst = AppendJSON(dst, elem, unescapeElement(scratchBuf[:0], v))
			case isNULL(v):
				dst = append(dst, "null"...)
			default:
				dst = AppendJSON(dst, elem, v)
			}
			i = j
		}
		expectValue, first = false, false
	}
}

// unescapeElement appends v to buf with each backslash escape replaced by
// the character it escapes.
func unescapeElement(buf, v []byte) []byte {
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		buf = append(buf, v[i])
	}
	return buf
}

// isNULL reports whether v is NULL, in any case, as array_in reads it.
func isNULL(v []byte) bool {
	return len(v) == 4 && v[0]|0x20 == 'n' && v[1]|0x20 == 'u' && v[2]|0x20 == 'l' && v[3]|0x20 == 'l'
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}
