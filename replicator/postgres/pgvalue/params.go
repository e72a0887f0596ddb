package pgvalue

// SessionParams returns the run-time parameters a connection must be opened
// with (pgconn.Config.RuntimeParams) so that PostgreSQL prints values in the
// text forms AppendJSON parses. Startup parameters apply to replication
// connections too, so the values pgoutput sends follow them. The map is new
// on every call; the caller may change it.
//
//   - DateStyle=ISO: dates "2024-06-30", timestamps "2024-06-30 10:34:56.789".
//   - TimeZone=UTC: timestamptz printed at "+00", emitted with a Z.
//   - IntervalStyle=iso_8601: intervals "P1Y2M3DT4H5M6S".
//   - extra_float_digits=3: on PostgreSQL 12 and later any positive value
//     prints the shortest text that reads back as the same float (1 and 3
//     are equivalent there); before 12, 3 is the value that prints enough
//     digits (17 for double) to be exact, while 1 would round. 3 is what
//     pg_dump and the JDBC driver use, so it is lossless on every version.
//   - bytea_output=hex: bytea "\x0a0b".
//   - lc_monetary=C: money "$1,234.56" / "-$1,234.56", whatever the
//     database's locale is.
//   - client_encoding=UTF8: text arrives in UTF-8 (pgoutput converts values
//     to the client encoding), so JSON strings need no transcoding.
func SessionParams() map[string]string {
	return map[string]string{
		"DateStyle":          "ISO",
		"TimeZone":           "UTC",
		"IntervalStyle":      "iso_8601",
		"extra_float_digits": "3",
		"bytea_output":       "hex",
		"lc_monetary":        "C",
		"client_encoding":    "UTF8",
	}
}
