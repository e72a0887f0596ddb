package batch

import "bytes"

// DateFormats lists the date layouts ParseDate reads, in Go's reference-time
// notation; the first is the canonical one. All are read as UTC unless they
// carry an offset.
var DateFormats = []string{
	"2006-01-02 15:04:05",       // canonical
	"2006-01-02T15:04:05Z07:00", // RFC 3339, optional fraction
	"01/02/2006 15:04:05",       // US, month first
	"02.01.2006 15:04:05",       // European, day first
	"2006/01/02 15:04:05",
	"2006-01-02",     // date only: midnight
	"<unix seconds>", // 9-10 digits, or 13 digits for milliseconds
}

// ParseDate parses a timestamp in any of DateFormats (seconds optional,
// fraction optional, "T" or space between date and time, optional trailing
// Z or ±hh:mm offset) and returns it as microseconds since the Unix epoch,
// UTC. ok is false when s is none of them or names an impossible date.
func ParseDate(s []byte) (micros int64, rep Repair, ok bool) {
	t := bytes.TrimSpace(s)
	if len(t) != len(s) {
		rep |= RepairWhitespace
	}
	if len(t) < 8 {
		return 0, rep, false
	}
	if allDigits(t) {
		n, _ := ParseInt(t)
		switch len(t) {
		case 9, 10:
			return n * 1e6, rep | RepairDateEpoch, true
		case 13:
			return n * 1e3, rep | RepairDateEpoch, true
		}
		return 0, rep, false
	}
	var y, mo, d int
	var rest []byte
	switch {
	case len(t) >= 10 && t[4] == '-' && t[7] == '-':
		y, mo, d = num(t[0:4]), num(t[5:7]), num(t[8:10])
		rest = t[10:]
	case len(t) >= 10 && t[4] == '/' && t[7] == '/':
		y, mo, d = num(t[0:4]), num(t[5:7]), num(t[8:10])
		rest = t[10:]
		rep |= RepairDateFormat
	case len(t) >= 10 && t[2] == '/' && t[5] == '/':
		mo, d, y = num(t[0:2]), num(t[3:5]), num(t[6:10])
		rest = t[10:]
		rep |= RepairDateFormat
	case len(t) >= 10 && t[2] == '.' && t[5] == '.':
		d, mo, y = num(t[0:2]), num(t[3:5]), num(t[6:10])
		rest = t[10:]
		rep |= RepairDateFormat
	default:
		return 0, rep, false
	}
	if y < 1900 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) {
		return 0, rep, false
	}
	var h, mi, sec, frac int
	offset := 0
	if len(rest) > 0 {
		switch rest[0] {
		case ' ':
		case 'T':
			rep |= RepairDateFormat
		default:
			return 0, rep, false
		}
		rest = rest[1:]
		if len(rest) < 5 || rest[2] != ':' {
			return 0, rep, false
		}
		h, mi = num(rest[0:2]), num(rest[3:5])
		rest = rest[5:]
		if len(rest) >= 3 && rest[0] == ':' {
			sec = num(rest[1:3])
			rest = rest[3:]
		} else {
			rep |= RepairDateFormat
		}
		if len(rest) > 1 && rest[0] == '.' {
			j := 1
			scale := 100000
			for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
				if scale > 0 {
					frac += int(rest[j]-'0') * scale
					scale /= 10
				}
				j++
			}
			if j == 1 {
				return 0, rep, false
			}
			rest = rest[j:]
		}
		switch {
		case len(rest) == 0:
		case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
		case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
			oh, om := num(rest[1:3]), num(rest[4:6])
			if oh < 0 || om < 0 || oh > 23 || om > 59 {
				return 0, rep, false
			}
			offset = (oh*60 + om) * 60
			if rest[0] == '-' {
				offset = -offset
			}
		default:
			return 0, rep, false
		}
		if h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60 {
			return 0, rep, false
		}
	} else {
		rep |= RepairDateFormat
	}
	secs := daysFromCivil(y, mo, d)*86400 + int64(h*3600+mi*60+sec-offset)
	return secs*1e6 + int64(frac), rep, true
}

// num parses two or four ASCII digits; -1 when they are not digits.
func num(b []byte) int {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
