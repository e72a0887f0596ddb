package learner

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unsafe"

	"github.com/tributary-cdc/tributary/change"
)

// The event format carries column values as raw JSON in their lossless form
// (see package change): numbers and decimal strings ("12.50"), ISO-8601
// timestamps, dates, strings, null. These functions read them without
// allocating on the common paths.

// bytesString views b as a string without copying; the string must not
// outlive b or be kept.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// isNull reports whether raw is SQL NULL or the placeholder of a value the
// source did not send (an unchanged TOASTed column).
func isNull(raw []byte) bool {
	return len(raw) == 0 || (len(raw) == 4 && string(raw) == "null") || bytes.Equal(raw, change.UnavailableJSON)
}

// parseNumber reads a JSON number or a decimal string ("12.50"). NULL,
// NaN and ±Infinity (which the event format writes as strings), booleans
// aside, and anything unparsable count as missing.
func parseNumber(raw []byte) (float64, bool) {
	if isNull(raw) {
		return 0, false
	}
	switch raw[0] {
	case '"':
		if len(raw) < 2 || raw[len(raw)-1] != '"' {
			return 0, false
		}
		raw = raw[1 : len(raw)-1]
	case 't':
		return 1, string(raw) == "true"
	case 'f':
		return 0, string(raw) == "false"
	}
	f, err := strconv.ParseFloat(bytesString(raw), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// stringBytes returns the text of a JSON string value without its quotes,
// and whether it needs unescaping; a value that is not a string (a number,
// a boolean) is returned as it is, as its own level.
func stringBytes(raw []byte) (b []byte, escaped bool) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		b = raw[1 : len(raw)-1]
		return b, bytes.IndexByte(b, '\\') >= 0
	}
	return raw, false
}

// unquote decodes a JSON string with escapes; on failure it returns the
// raw text.
func unquote(raw []byte) string {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return string(raw)
	}
	return s
}

// parseTime reads a timestamp or date value as microseconds since the Unix
// epoch, in UTC. It accepts "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SS[.ffffff]"
// with 'T' or ' ' between date and time, and an optional "Z" or ±HH[:MM]
// offset (a value without an offset is taken as UTC, as MySQL DATETIME and
// PostgreSQL timestamp without time zone carry no zone). A JSON number is
// taken as seconds since the epoch.
func parseTime(raw []byte) (int64, bool) {
	if isNull(raw) {
		return 0, false
	}
	if raw[0] != '"' {
		f, ok := parseNumber(raw)
		if !ok || math.Abs(f) > 1e13 {
			return 0, false
		}
		return int64(math.Round(f * 1e6)), true
	}
	s, _ := stringBytes(raw)
	if us, ok := parseISO(s); ok {
		return us, true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999Z07", "2006-01-02T15:04:05.999999999Z07"} {
		if t, err := time.Parse(layout, string(s)); err == nil {
			return t.UnixMicro(), true
		}
	}
	return 0, false
}

// parseISO is the allocation-free fast path of parseTime.
func parseISO(s []byte) (int64, bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	y, ok1 := digits(s[0:4])
	mo, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return 0, false
	}
	days := daysFromCivil(y, mo, d)
	us := days * 86400e6
	s = s[10:]
	if len(s) == 0 {
		return us, true
	}
	if len(s) < 9 || (s[0] != 'T' && s[0] != ' ') || s[3] != ':' || s[6] != ':' {
		return 0, false
	}
	h, ok1 := digits(s[1:3])
	mi, ok2 := digits(s[4:6])
	sec, ok3 := digits(s[7:9])
	if !ok1 || !ok2 || !ok3 || h > 23 || mi > 59 || sec > 60 {
		return 0, false
	}
	us += (h*3600 + mi*60 + sec) * 1e6
	s = s[9:]
	if len(s) > 0 && s[0] == '.' {
		i, frac, scale := 1, int64(0), int64(1e6)
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if scale > 1 {
				scale /= 10
				frac += int64(s[i]-'0') * scale
			}
		}
		if i == 1 {
			return 0, false
		}
		us += frac
		s = s[i:]
	}
	switch {
	case len(s) == 0 || (len(s) == 1 && s[0] == 'Z'):
		return us, true
	case s[0] == '+' || s[0] == '-':
		var oh, om int64
		var ok bool
		switch len(s) {
		case 3:
			oh, ok = digits(s[1:3])
		case 6:
			if s[3] != ':' {
				return 0, false
			}
			oh, ok = digits(s[1:3])
			var ok2 bool
			om, ok2 = digits(s[4:6])
			ok = ok && ok2
		}
		if !ok {
			return 0, false
		}
		off := (oh*3600 + om*60) * 1e6
		if s[0] == '+' {
			return us - off, true
		}
		return us + off, true
	}
	return 0, false
}

func digits(b []byte) (int64, bool) {
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// monthFromDays returns the month (1-12) of the date days after 1970-01-01.
func monthFromDays(z int64) int {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	if mp < 10 {
		return int(mp + 3)
	}
	return int(mp - 9)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
