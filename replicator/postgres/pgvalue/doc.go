// Package pgvalue turns PostgreSQL values, in the text form the server
// prints them (pgoutput's text tuples, COPY or SELECT in text format), into
// the lossless JSON values of a change.Event row.
//
// It is on the hot path of the PostgreSQL source (every column of every
// row), so AppendJSON appends into the caller's buffer, uses no reflection
// and allocates nothing for the common types. A Registry resolves column
// type OIDs to Types; it knows every built-in type and loads the ones a
// database defines (enums, domains, composites, extension types, arrays of
// any of them) from pg_type, over a normal or a replication connection.
//
// The text forms parsed are those printed under SessionParams (DateStyle
// ISO, TimeZone UTC, IntervalStyle iso_8601, extra_float_digits 3,
// bytea_output hex, lc_monetary C, client_encoding UTF8); the source sets
// them on its connections. AppendJSON never fails: text it cannot parse as
// its type's output becomes a JSON string of the text, never null and never
// invalid JSON. The caller writes null for SQL NULL.
//
// # Mapping
//
//	PostgreSQL type                   text form (example)            JSON
//	--------------------------------  -----------------------------  ----------------------------------
//	smallint, integer, bigint, oid,   -9223372036854775808           number, digits copied verbatim
//	xid, cid, xid8                                                   (exact; no float rounding)
//	numeric                           12.50, NaN, Infinity           string "12.50" (scale as printed),
//	                                                                 "NaN", "Infinity", "-Infinity"
//	money                             -$1,234.56                     string "-1234.56"
//	real, double precision            1.5e-07, -0, NaN, -Infinity    number 1.5e-07 as printed (shortest
//	                                                                 exact); "NaN", "Infinity",
//	                                                                 "-Infinity" as strings
//	boolean                           t, f                           true, false
//	text, varchar, char(n), name,     ab   (char(5) keeps padding)   string, escaped; invalid UTF-8
//	"char", citext and other                                         becomes U+FFFD
//	extension base types
//	bytea                             \x0a0b (also escape \012\\)    string, standard base64 "Cgs="
//	date                              2024-06-30, infinity,          string as printed: "2024-06-30",
//	                                  0044-03-15 BC                  "infinity", "0044-03-15 BC"
//	timestamp                         2024-06-30 10:34:56.789        string "2024-06-30T10:34:56.789"
//	                                                                 (no zone: the value has none)
//	timestamptz                       2024-06-30 10:34:56.789+00     string "2024-06-30T10:34:56.789Z"
//	                                                                 (other offsets converted to UTC)
//	time                              10:34:56.789                   string "10:34:56.789"
//	timetz                            10:34:56+02, 10:34:56+05:30    string "10:34:56+02:00",
//	                                                                 "10:34:56+05:30"
//	interval                          P1Y2M3DT4H5M6.5S               string, ISO 8601 as printed
//	json, jsonb                       {"a": 1}                       string holding the JSON text, as
//	                                                                 Debezium's io.debezium.data.Json
//	uuid, inet, cidr, macaddr,        (text form)                    string of the text form
//	macaddr8, bit, varbit, xml,
//	tsvector, tsquery, pg_lsn,
//	txid_snapshot, pg_snapshot,
//	point, line, lseg, box, path,
//	polygon, circle, enums, ranges,
//	multiranges, composites, reg*
//	domains                           (base type's form)             as the base type (recursively)
//	arrays (any element type,         {1,NULL,3}, {{1,2},{3,4}},     JSON array, nested per dimension,
//	any number of dimensions)         {"a b","x\"y",NULL},           elements converted by the element
//	                                  [2:3]={1,2}, {(1,1),(0,0);..}  type, NULL elements null
//	unknown OIDs, pseudo-types        (text form)                    string of the text form
//
// Notes on the choices:
//
//   - Fractional seconds are kept exactly as PostgreSQL printed them (it
//     drops trailing zeros: "10:34:56.5"), never padded or rounded.
//   - Dates and timestamps before year 1 (BC) are emitted as PostgreSQL
//     prints them, with the " BC" suffix ("0044-03-15 BC",
//     "0044-03-15 10:00:00+00 BC"), because ISO 8601 needs astronomical
//     year numbering (year 0, negative years) that consumers rarely parse
//     the same way. Years after 9999 keep all their digits.
//   - ±infinity dates and timestamps are the strings "infinity" and
//     "-infinity".
//   - Array bounds: an array with explicit lower bounds ("[2:3]={1,2}")
//     becomes the plain JSON array [1,2]; the bounds are dropped.
//   - Arrays use the element type's delimiter (pg_type.typdelim): ';' for
//     box, ',' for everything else built in.
//   - Integers are JSON numbers with every digit kept; consumers that read
//     JSON numbers as float64 lose precision above 2^53, as with Debezium.
package pgvalue
