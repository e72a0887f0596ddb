package pgvalue

// appendInteger appends an integer's text verbatim as a JSON number, so that
// 64-bit values stay exact.
func appendInteger(dst []byte, text []byte) []byte {
	if isJSONInteger(text) {
		return append(dst, text...)
	}
	return appendText(dst, text)
}

// isJSONInteger reports whether b is an integer in JSON's grammar:
// an optional minus and digits without a leading zero.
func isJSONInteger(b []byte) bool {
	i := 0
	if len(b) > 0 && b[0] == '-' {
		i++
	}
	if i == len(b) || (b[i] == '0' && len(b) > i+1) {
		return false
	}
	for ; i < len(b); i++ {
		if !isDigit(b[i]) {
			return false
		}
	}
	return true
}

// appendFloat appends a real or double precision value as a JSON number as
// PostgreSQL printed it; NaN, Infinity and -Infinity are not JSON numbers and
// become JSON strings.
func appendFloat(dst []byte, text []byte) []byte {
	if isJSONNumber(text) {
		return append(dst, text...)
	}
	return appendText(dst, text)
}

// isJSONNumber reports whether b is a number in JSON's grammar
// (-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?).
func isJSONNumber(b []byte) bool {
	i, n := 0, len(b)
	if i < n && b[i] == '-' {
		i++
	}
	switch {
	case i == n:
		return false
	case b[i] == '0':
		i++
	case isDigit(b[i]):
		for i < n && isDigit(b[i]) {
			i++
		}
	default:
		return false
	}
	if i < n && b[i] == '.' {
		i++
		if i == n || !isDigit(b[i]) {
			return false
		}
		for i < n && isDigit(b[i]) {
			i++
		}
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i == n || !isDigit(b[i]) {
			return false
		}
		for i < n && isDigit(b[i]) {
			i++
		}
	}
	return i == n
}

// appendMoney appends a money value, printed under lc_monetary=C as
// "$1,234.56", "-$1,234.56" (or "($1,234.56)" in locales that use
// parentheses), as a plain decimal string: "1234.56", "-1234.56".
// Anything else in the text (another currency sign, a second decimal point)
// makes it fall back to the text itself.
func appendMoney(dst []byte, text []byte) []byte {
	neg, digits, dots := false, 0, 0
	for _, c := range text {
		switch {
		case isDigit(c):
			digits++
		case c == '.':
			if dots++; digits == 0 || dots > 1 {
				return appendText(dst, text)
			}
		case c == '-' || c == '(':
			neg = true
		case c == '$' || c == ',' || c == ' ' || c == ')':
		default:
			return appendText(dst, text)
		}
	}
	if digits == 0 || (len(text) > 0 && text[len(text)-1] == '.') {
		return appendText(dst, text)
	}
	dst = append(dst, '"')
	if neg {
		dst = append(dst, '-')
	}
	for _, c := range text {
		if isDigit(c) || c == '.' {
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
