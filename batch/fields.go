package batch

import (
	"bytes"
	"strings"
)

// Repair is a bit set of the repairs applied to one field or row.
type Repair uint32

// The repairs preprocessing knows how to make. Each has a name in the report
// (see RepairNames).
const (
	RepairAmountSymbol    Repair = 1 << iota // currency symbol or code removed
	RepairAmountSeparator                    // thousands separator removed
	RepairAmountComma                        // decimal comma read as a point
	RepairDateFormat                         // date in a non-canonical format
	RepairDateEpoch                          // date written as Unix seconds or milliseconds
	RepairAgeText                            // age written in words ("thirty-four")
	RepairAgeDecimal                         // age written with a fraction or unit ("34.0", "34 years")
	RepairAgeOutOfRange                      // age outside [AgeMin, AgeMax], set missing then imputed
	RepairAgeUnparsable                      // age not a number, set missing then imputed
	RepairCategory                           // category case or whitespace normalized
	RepairWhitespace                         // key or number surrounded by whitespace
	numRepairs            = iota
)

// RepairNames maps each repair bit to its name in the report.
var RepairNames = [numRepairs]string{
	"amount_currency_symbol",
	"amount_thousands_separator",
	"amount_decimal_comma",
	"date_noncanonical_format",
	"date_unix_epoch",
	"age_words",
	"age_decimal_or_unit",
	"age_out_of_range",
	"age_unparsable",
	"category_case_whitespace",
	"whitespace_trimmed",
}

// IsMissing reports whether s is a missing-value token: empty, or one of NA,
// N/A, NaN, null, None, nil, "-", "?" in any case, surrounded by any space.
func IsMissing(s []byte) bool {
	s = bytes.TrimSpace(s)
	switch len(s) {
	case 0:
		return true
	case 1:
		return s[0] == '-' || s[0] == '?'
	}
	if len(s) > 4 {
		return false
	}
	switch strings.ToLower(string(s)) {
	case "na", "n/a", "nan", "null", "none", "nil":
		return true
	}
	return false
}

// ParseAmount parses an amount into cents. It accepts a leading minus, a
// currency symbol or code ($ € £ ¥ USD EUR GBP) before or after the number,
// thousands separators (1,234.56) and a decimal comma when it is the only
// separator and is followed by one or two digits (12,50). It rounds to the
// nearest cent. ok is false when s is not a number.
func ParseAmount(s []byte) (cents int64, rep Repair, ok bool) {
	t := bytes.TrimSpace(s)
	if len(t) != len(s) {
		rep |= RepairWhitespace
	}
	// Strip currency symbols and codes anywhere outside the digits.
	var buf [64]byte
	out := buf[:0]
	neg := false
	for i := 0; i < len(t); {
		c := t[i]
		switch {
		case c >= '0' && c <= '9', c == '.', c == ',':
			out = append(out, c)
			i++
		case c == '-':
			if neg || len(out) > 0 {
				return 0, rep, false
			}
			neg = true
			i++
		case c == ' ' || c == '+':
			i++
		case c == '$':
			rep |= RepairAmountSymbol
			i++
		case c >= 0x80: // € £ ¥ as UTF-8
			r, n := decodeRune(t[i:])
			if r != '€' && r != '£' && r != '¥' {
				return 0, rep, false
			}
			rep |= RepairAmountSymbol
			i += n
		case c|0x20 >= 'a' && c|0x20 <= 'z':
			if i+3 > len(t) {
				return 0, rep, false
			}
			switch strings.ToUpper(string(t[i : i+3])) {
			case "USD", "EUR", "GBP":
			default:
				return 0, rep, false
			}
			rep |= RepairAmountSymbol
			i += 3
		default:
			return 0, rep, false
		}
		if len(out) > 40 {
			return 0, rep, false
		}
	}
	if len(out) == 0 {
		return 0, rep, false
	}
	// Decide what the separators mean.
	lastDot := bytes.LastIndexByte(out, '.')
	lastComma := bytes.LastIndexByte(out, ',')
	decimal := -1
	switch {
	case lastComma < 0:
		decimal = lastDot
	case lastDot > lastComma:
		decimal = lastDot // 1,234.56
	case lastDot < 0 && len(out)-lastComma-1 <= 2 && bytes.Count(out, []byte{','}) == 1:
		decimal = lastComma // 12,5 or 12,50
		rep |= RepairAmountComma
	case lastDot < 0:
		decimal = -1 // 1,234 or 1,234,567
	default:
		return 0, rep, false // 1.234,56: ambiguous, not written by the generator
	}
	intPart, fracPart := out, out[:0]
	if decimal >= 0 {
		intPart, fracPart = out[:decimal], out[decimal+1:]
	}
	if len(intPart) == 0 && len(fracPart) == 0 {
		return 0, rep, false
	}
	var whole, frac int64
	group := -1 // digits since the last thousands separator; -1 before any
	for i, c := range intPart {
		switch c {
		case '.':
			return 0, rep, false
		case ',':
			if i == 0 || (group >= 0 && group != 3) || (group < 0 && i > 3) {
				return 0, rep, false
			}
			group = 0
			rep |= RepairAmountSeparator
		default:
			if whole > 1e15 {
				return 0, rep, false
			}
			whole = whole*10 + int64(c-'0')
			if group >= 0 {
				group++
			}
		}
	}
	if group >= 0 && group != 3 {
		return 0, rep, false
	}
	fracDigits := 0
	roundUp := false
	for _, c := range fracPart {
		if c < '0' || c > '9' {
			return 0, rep, false
		}
		if fracDigits < 2 {
			frac = frac*10 + int64(c-'0')
		} else if fracDigits == 2 {
			roundUp = c >= '5'
		}
		fracDigits++
	}
	for ; fracDigits < 2; fracDigits++ {
		frac *= 10
	}
	cents = whole*100 + frac
	if roundUp {
		cents++
	}
	if neg {
		cents = -cents
	}
	return cents, rep, true
}

func decodeRune(b []byte) (rune, int) {
	switch {
	case len(b) >= 3 && b[0] == 0xE2 && b[1] == 0x82 && b[2] == 0xAC:
		return '€', 3
	case len(b) >= 2 && b[0] == 0xC2 && b[1] == 0xA3:
		return '£', 2
	case len(b) >= 2 && b[0] == 0xC2 && b[1] == 0xA5:
		return '¥', 2
	}
	return 0xFFFD, 1
}

// ParseInt parses a decimal integer surrounded by optional space.
func ParseInt(s []byte) (int64, bool) {
	s = bytes.TrimSpace(s)
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	neg := false
	if s[0] == '-' {
		neg, s = true, s[1:]
		if len(s) == 0 {
			return 0, false
		}
	}
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// ParseAge parses an age in years: digits ("34"), with a fraction or unit
// ("34.0", "34 years", "34 yrs"), or English words ("thirty-four", "Thirty
// Four"). It returns the age and the repairs made; ok is false when s is not
// an age at all. Range checks are the caller's.
func ParseAge(s []byte) (age int, rep Repair, ok bool) {
	t := bytes.TrimSpace(s)
	if len(t) != len(s) {
		rep |= RepairWhitespace
	}
	if n, ok := ParseInt(t); ok {
		if n < -1000 || n > 1000 {
			return int(n / 1000 * 1000), rep, true // clearly out of range either way
		}
		return int(n), rep, true
	}
	// Digits followed by a fraction and/or a unit.
	i := 0
	if i < len(t) && t[i] == '-' {
		i++
	}
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i > 0 && t[0] != '-' || i > 1 {
		n, _ := ParseInt(t[:i])
		rest := t[i:]
		if len(rest) > 0 && rest[0] == '.' {
			j := 1
			for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
				j++
			}
			if j > 1 && rest[1] >= '5' {
				n++ // round half up
			}
			rest = rest[j:]
		}
		switch strings.ToLower(string(bytes.TrimSpace(rest))) {
		case "", "y", "yr", "yrs", "year", "years", "years old", "yo", "y.o.":
			return int(n), rep | RepairAgeDecimal, true
		}
		return 0, rep, false
	}
	if n, ok := parseNumberWords(t); ok {
		return n, rep | RepairAgeText, true
	}
	return 0, rep, false
}

var smallNumbers = map[string]int{
	"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
	"eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
	"fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
	"nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
	"seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
}

// parseNumberWords reads English number words up to a few hundred:
// "thirty-four", "Thirty Four", "one hundred and two".
func parseNumberWords(s []byte) (int, bool) {
	words := strings.FieldsFunc(strings.ToLower(string(s)), func(r rune) bool {
		return r == ' ' || r == '-' || r == '_'
	})
	if len(words) == 0 || len(words) > 5 {
		return 0, false
	}
	total, cur, seen := 0, 0, false
	for _, w := range words {
		if w == "and" {
			continue
		}
		if w == "years" || w == "year" || w == "old" {
			continue
		}
		v, ok := smallNumbers[w]
		if !ok {
			return 0, false
		}
		seen = true
		if v == 100 {
			if cur == 0 {
				cur = 1
			}
			cur *= 100
			continue
		}
		cur += v
	}
	total += cur
	return total, seen
}

// NormalizeCategory trims s, collapses inner runs of space to one, and
// title-cases each word ("  new   YORK " -> "New York"). changed reports
// whether the result differs from s.
func NormalizeCategory(s []byte) (norm string, changed bool) {
	if isCanonicalCategory(s) {
		return string(s), false
	}
	var b strings.Builder
	b.Grow(len(s))
	start := true
	space := false
	for _, c := range bytes.TrimSpace(s) {
		if c == ' ' || c == '\t' {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
			start = true
		}
		if start {
			b.WriteByte(upper(c))
			start = false
		} else {
			b.WriteByte(lower(c))
		}
	}
	return b.String(), true
}

func isCanonicalCategory(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	start := true
	for i, c := range s {
		switch {
		case c == ' ':
			if i == 0 || i == len(s)-1 || s[i-1] == ' ' {
				return false
			}
			start = true
		case c == '\t':
			return false
		case start:
			if c >= 'a' && c <= 'z' {
				return false
			}
			start = false
		default:
			if c >= 'A' && c <= 'Z' {
				return false
			}
		}
	}
	return true
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 32
	}
	return c
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 32
	}
	return c
}
