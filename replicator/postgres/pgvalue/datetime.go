package pgvalue

// dateTime is a timestamp's text split into its parts: date "2024-06-30"
// (the year may have more than 4 digits), clock "10:34:56" or
// "10:34:56.789" and whatever follows (a zone, " BC").
type dateTime struct {
	date, clock, rest []byte
}

// splitDateTime splits PostgreSQL's ISO timestamp text
// "YYYY-MM-DD HH:MM:SS[.ffffff]<rest>".
func splitDateTime(text []byte) (dt dateTime, ok bool) {
	i := 0
	for i < len(text) && isDigit(text[i]) {
		i++
	}
	if i < 4 || len(text) < i+6+9 {
		return dt, false
	}
	d := text[i:]
	if d[0] != '-' || !isDigit(d[1]) || !isDigit(d[2]) || d[3] != '-' || !isDigit(d[4]) || !isDigit(d[5]) || d[6] != ' ' {
		return dt, false
	}
	dt.date = text[:i+6]
	c := text[i+7:]
	if !isDigit(c[0]) || !isDigit(c[1]) || c[2] != ':' || !isDigit(c[3]) || !isDigit(c[4]) || c[5] != ':' || !isDigit(c[6]) || !isDigit(c[7]) {
		return dt, false
	}
	j := 8
	if j < len(c) && c[j] == '.' {
		j++
		if j == len(c) || !isDigit(c[j]) {
			return dt, false
		}
		for j < len(c) && isDigit(c[j]) {
			j++
		}
	}
	dt.clock, dt.rest = c[:j], c[j:]
	return dt, true
}

// appendTimestamp appends a timestamp without time zone as
// "2024-06-30T10:34:56.789": a T and no zone, since the value has none.
// BC timestamps and ±infinity are emitted as PostgreSQL printed them.
func appendTimestamp(dst []byte, text []byte) []byte {
	dt, ok := splitDateTime(text)
	if !ok || len(dt.rest) != 0 {
		return appendText(dst, text)
	}
	dst = append(dst, '"')
	dst = append(dst, dt.date...)
	dst = append(dst, 'T')
	dst = append(dst, dt.clock...)
	return append(dst, '"')
}

// appendTimestamptz appends a timestamp with time zone in UTC as
// "2024-06-30T10:34:56.789Z", keeping the fractional digits PostgreSQL
// printed. Under TimeZone=UTC the text ends in "+00"; any other offset is
// subtracted, so the result is UTC whatever the session's TimeZone was.
// BC timestamps and ±infinity are emitted as PostgreSQL printed them.
func appendTimestamptz(dst []byte, text []byte) []byte {
	dt, ok := splitDateTime(text)
	if !ok {
		return appendText(dst, text)
	}
	off, ok := parseOffset(dt.rest)
	if !ok {
		return appendText(dst, text)
	}
	if off == 0 {
		dst = append(dst, '"')
		dst = append(dst, dt.date...)
		dst = append(dst, 'T')
		dst = append(dst, dt.clock...)
		return append(dst, 'Z', '"')
	}
	return appendShiftedUTC(dst, dt, off, text)
}

// appendShiftedUTC appends dt, which is at offset off seconds east of UTC,
// as a UTC timestamp.
func appendShiftedUTC(dst []byte, dt dateTime, off int, text []byte) []byte {
	if len(dt.date) > 6+9 {
		return appendText(dst, text) // a year PostgreSQL cannot print
	}
	year := atoi(dt.date[:len(dt.date)-6])
	mon := atoi(dt.date[len(dt.date)-5 : len(dt.date)-3])
	day := atoi(dt.date[len(dt.date)-2:])
	c := dt.clock
	if mon < 1 || mon > 12 || day < 1 || day > 31 || atoi(c[0:2]) > 24 {
		return appendText(dst, text)
	}
	secs := atoi(c[0:2])*3600 + atoi(c[3:5])*60 + atoi(c[6:8]) - off
	days := daysFromCivil(year, mon, day)
	for secs < 0 {
		secs += 86400
		days--
	}
	for secs >= 86400 {
		secs -= 86400
		days++
	}
	year, mon, day = civilFromDays(days)
	if year < 1 {
		return appendText(dst, text) // would need a BC suffix: keep PostgreSQL's text
	}
	dst = append(dst, '"')
	dst = appendPadded(dst, year, 4)
	dst = append(dst, '-')
	dst = appendPadded(dst, mon, 2)
	dst = append(dst, '-')
	dst = appendPadded(dst, day, 2)
	dst = append(dst, 'T')
	dst = appendPadded(dst, secs/3600, 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, secs/60%60, 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, secs%60, 2)
	dst = append(dst, c[8:]...) // the fraction, as printed
	return append(dst, 'Z', '"')
}

// parseOffset parses a UTC offset as PostgreSQL prints it: "+00", "-03",
// "+05:30", "+00:53:28". It returns the offset in seconds east of UTC.
func parseOffset(z []byte) (int, bool) {
	if len(z) != 3 && len(z) != 6 && len(z) != 9 {
		return 0, false
	}
	if z[0] != '+' && z[0] != '-' {
		return 0, false
	}
	off := 0
	for i, unit := 1, 3600; i < len(z); i, unit = i+3, unit/60 {
		if (i > 1 && z[i-1] != ':') || !isDigit(z[i]) || !isDigit(z[i+1]) {
			return 0, false
		}
		off += atoi(z[i:i+2]) * unit
	}
	if z[0] == '-' {
		off = -off
	}
	return off, true
}

// appendTimetz appends a time with time zone as an ISO-8601 string: an
// offset printed as whole hours gets its minutes ("10:34:56+02" becomes
// "10:34:56+02:00"); "+05:30" is kept. Offsets with seconds ("+00:53:28",
// local mean time) are kept as printed.
func appendTimetz(dst []byte, text []byte) []byte {
	n := len(text)
	if n >= 11 && (text[n-3] == '+' || text[n-3] == '-') && isDigit(text[n-2]) && isDigit(text[n-1]) && isDigit(text[n-4]) {
		dst = appendText(dst, text)
		return append(dst[:len(dst)-1], ':', '0', '0', '"')
	}
	return appendText(dst, text)
}

// atoi parses a run of ASCII digits already checked by the caller.
func atoi(b []byte) int {
	n := 0
	for _, c := range b {
		n = n*10 + int(c-'0')
	}
	return n
}

// appendPadded appends n (>= 0) in decimal, zero-padded to width digits.
func appendPadded(dst []byte, n, width int) []byte {
	var buf [20]byte
	i := len(buf)
	for n >= 10 || width > 1 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		width--
	}
	i--
	buf[i] = byte('0' + n)
	return append(dst, buf[i:]...)
}

// daysFromCivil returns the number of days since 1970-01-01 of the
// proleptic Gregorian date y-m-d (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := m + 9
	if m > 2 {
		mp = m - 3
	}
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int) (y, m, d int) {
	z += 719468
	era := z
	if era < 0 {
		era -= 146096
	}
	era /= 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}
