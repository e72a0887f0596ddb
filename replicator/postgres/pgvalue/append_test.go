package pgvalue

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// builtin returns the built-in Type named name, failing the test if there is none.
func builtinType(t testing.TB, name string) *Type {
	t.Helper()
	for _, typ := range builtinTypes {
		if typ.Name == name {
			return typ
		}
	}
	t.Fatalf("no built-in type %q", name)
	return nil
}

// Hand-built user-defined types, as Registry.Load would build them.
var (
	moodEnum      = &Type{OID: 90001, Name: "mood", Kind: Enum, Delim: ','}
	moodArray     = &Type{OID: 90002, Name: "_mood", Kind: Array, Elem: moodEnum, Delim: ','}
	priceDomain   = &Type{OID: 90003, Name: "price", Kind: Domain, Base: builtinTypes[1700], Delim: ','}
	priceArray    = &Type{OID: 90004, Name: "_price", Kind: Array, Elem: priceDomain, Delim: ','}
	qtyDomain     = &Type{OID: 90005, Name: "qty", Kind: Domain, Base: builtinTypes[23], Delim: ','}
	qty2Domain    = &Type{OID: 90006, Name: "qty2", Kind: Domain, Base: qtyDomain, Delim: ','}
	boxDomain     = &Type{OID: 90007, Name: "frame", Kind: Domain, Base: builtinTypes[603], Delim: ';'}
	boxDomainArr  = &Type{OID: 90008, Name: "_frame", Kind: Array, Elem: boxDomain, Delim: ';'}
	pairComposite = &Type{OID: 90009, Name: "pair", Kind: Composite, Delim: ','}
	pairArray     = &Type{OID: 90010, Name: "_pair", Kind: Array, Elem: pairComposite, Delim: ','}
	loopDomain    = &Type{OID: 90011, Name: "loop", Kind: Domain, Delim: ','}
	noElemArray   = &Type{OID: 90012, Name: "_noelem", Kind: Array}
)

func init() { loopDomain.Base = loopDomain }

type tcase struct {
	typ  string // built-in type name, or one of the hand-built types above
	in   string
	want string
}

var userTypes = map[string]*Type{
	"mood": moodEnum, "_mood": moodArray, "price": priceDomain, "_price": priceArray,
	"qty": qtyDomain, "qty2": qty2Domain, "frame": boxDomain, "_frame": boxDomainArr,
	"pair": pairComposite, "_pair": pairArray, "loop": loopDomain, "_noelem": noElemArray,
	"unknown": {OID: 4000000000, Name: "unknown", Kind: Unknown},
	"nil":     nil,
}

func typeFor(t testing.TB, name string) *Type {
	if typ, ok := userTypes[name]; ok {
		return typ
	}
	return builtinType(t, name)
}

func runCases(t *testing.T, cases []tcase) {
	t.Helper()
	for _, c := range cases {
		typ := typeFor(t, c.typ)
		prefix := []byte(`{"x":`)
		got := AppendJSON(prefix, typ, []byte(c.in))
		if !bytes.HasPrefix(got, []byte(`{"x":`)) {
			t.Errorf("%s %q: prefix of dst overwritten: %s", c.typ, c.in, got)
			continue
		}
		val := string(got[len(prefix):])
		if val != c.want {
			t.Errorf("%s %q:\n got %s\nwant %s", c.typ, c.in, val, c.want)
		}
		if !json.Valid(append(got, '}')) {
			t.Errorf("%s %q: invalid JSON %s", c.typ, c.in, val)
		}
	}
}

func TestIntegers(t *testing.T) {
	runCases(t, []tcase{
		{"int2", "-32768", `-32768`},
		{"int4", "123", `123`},
		{"int4", "0", `0`},
		{"int8", "9223372036854775807", `9223372036854775807`},
		{"int8", "-9223372036854775808", `-9223372036854775808`},
		{"oid", "4294967295", `4294967295`},
		{"xid8", "18446744073709551615", `18446744073709551615`},
		{"int4", "", `""`},
		{"int4", "-", `"-"`},
		{"int4", "12a", `"12a"`},
		{"int4", "007", `"007"`},
		{"int4", " 1", `" 1"`},
	})
}

func TestNumericAndMoney(t *testing.T) {
	runCases(t, []tcase{
		{"numeric", "12.50", `"12.50"`},
		{"numeric", "-0.00000000000000000001", `"-0.00000000000000000001"`},
		{"numeric", "1000000000000000000000000000000", `"1000000000000000000000000000000"`},
		{"numeric", "NaN", `"NaN"`},
		{"numeric", "Infinity", `"Infinity"`},
		{"numeric", "-Infinity", `"-Infinity"`},
		{"money", "$1,234.56", `"1234.56"`},
		{"money", "-$1,234.56", `"-1234.56"`},
		{"money", "$0.00", `"0.00"`},
		{"money", "-$0.01", `"-0.01"`},
		{"money", "$92,233,720,368,547,758.07", `"92233720368547758.07"`},
		{"money", "-$92,233,720,368,547,758.08", `"-92233720368547758.08"`},
		{"money", "($5.00)", `"-5.00"`},
		{"money", "€5,00", `"€5,00"`},
		{"money", "$1.2.3", `"$1.2.3"`},
		{"money", "$", `"$"`},
		{"money", "", `""`},
	})
}

func TestFloats(t *testing.T) {
	runCases(t, []tcase{
		{"float8", "1.1", `1.1`},
		{"float8", "1e+100", `1e+100`},
		{"float8", "1.5e-07", `1.5e-07`},
		{"float8", "-0", `-0`},
		{"float8", "123456789012", `123456789012`},
		{"float8", "Infinity", `"Infinity"`},
		{"float8", "-Infinity", `"-Infinity"`},
		{"float8", "NaN", `"NaN"`},
		{"float4", "0.1", `0.1`},
		{"float4", "3.4e+38", `3.4e+38`},
		{"float8", ".5", `".5"`},
		{"float8", "1.", `"1."`},
		{"float8", "1e", `"1e"`},
		{"float8", "01", `"01"`},
		{"float8", "", `""`},
	})
}

func TestBoolAndText(t *testing.T) {
	runCases(t, []tcase{
		{"bool", "t", `true`},
		{"bool", "f", `false`},
		{"bool", "yes", `"yes"`},
		{"text", "", `""`},
		{"text", `say "hi" \ bye`, `"say \"hi\" \\ bye"`},
		{"text", "a\x00b\x01\x1f\n\r\t", `"a\u0000b\u0001\u001f\n\r\t"`},
		{"text", "emoji 😀 and é", `"emoji 😀 and é"`},
		{"text", "bad \xff\xfe utf8 \xe2\x82", `"bad \ufffd\ufffd utf8 \ufffd\ufffd"`},
		{"text", "line\u2028sep", `"line\u2028sep"`},
		{"text", "<a&b>", `"<a&b>"`},
		{"varchar", "v", `"v"`},
		{"bpchar", "ab   ", `"ab   "`},
		{"name", "pg_class", `"pg_class"`},
		{"char", `\200`, `"\\200"`},
		{"json", `{"a": [1, "x"]}`, `"{\"a\": [1, \"x\"]}"`},
		{"jsonb", `{"a": 1}`, `"{\"a\": 1}"`},
		{"xml", "<a>x</a>", `"<a>x</a>"`},
		{"uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`},
		{"inet", "192.168.0.1/24", `"192.168.0.1/24"`},
		{"point", "(1,2)", `"(1,2)"`},
		{"box", "(3,4),(1,2)", `"(3,4),(1,2)"`},
		{"int4range", "[1,5)", `"[1,5)"`},
		{"tstzrange", `["2024-01-01 00:00:00+00",)`, `"[\"2024-01-01 00:00:00+00\",)"`},
		{"int4multirange", "{[1,3),[5,7)}", `"{[1,3),[5,7)}"`},
		{"int2vector", "1 2 3", `"1 2 3"`},
		{"tsvector", "'a' 'cat'", `"'a' 'cat'"`},
		{"pg_lsn", "0/16B3748", `"0/16B3748"`},
		{"mood", "happy", `"happy"`},
		{"pair", `(1,"a b")`, `"(1,\"a b\")"`},
		{"unknown", "whatever \xff", `"whatever \ufffd"`},
		{"nil", "x", `"x"`},
	})
}

func TestBytea(t *testing.T) {
	raw := make([]byte, 1000)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	hexText := []byte(`\x`)
	for _, b := range raw {
		hexText = append(hexText, "0123456789abcdef"[b>>4], "0123456789abcdef"[b&15])
	}
	var escText []byte
	for _, b := range raw {
		switch {
		case b == '\\':
			escText = append(escText, `\\`...)
		case b < 0x20 || b >= 0x7f:
			escText = append(escText, '\\', '0'+b>>6, '0'+b>>3&7, '0'+b&7)
		default:
			escText = append(escText, b)
		}
	}
	want := `"` + base64.StdEncoding.EncodeToString(raw) + `"`
	runCases(t, []tcase{
		{"bytea", `\x0a0b`, `"Cgs="`},
		{"bytea", `\x`, `""`},
		{"bytea", `\xDEADbeef`, `"3q2+7w=="`},
		{"bytea", `\x0`, `"\\x0"`},
		{"bytea", `\xzz`, `"\\xzz"`},
		{"bytea", `\012\013\\A\377`, `"CgtcQf8="`},
		{"bytea", ``, `""`},
		{"bytea", `abc`, `"YWJj"`},
		{"bytea", `\9`, `"\\9"`},
		{"bytea", `ab\`, `"ab\\"`},
		{"bytea", string(hexText), want},
		{"bytea", string(escText), want},
	})
}

func TestDateTime(t *testing.T) {
	runCases(t, []tcase{
		{"date", "2024-06-30", `"2024-06-30"`},
		{"date", "infinity", `"infinity"`},
		{"date", "-infinity", `"-infinity"`},
		{"date", "0044-03-15 BC", `"0044-03-15 BC"`},
		{"date", "99999-01-01", `"99999-01-01"`},

		{"timestamp", "2024-06-30 10:34:56.789", `"2024-06-30T10:34:56.789"`},
		{"timestamp", "2024-06-30 10:34:56", `"2024-06-30T10:34:56"`},
		{"timestamp", "2024-06-30 10:34:56.000001", `"2024-06-30T10:34:56.000001"`},
		{"timestamp", "10000-01-01 00:00:00", `"10000-01-01T00:00:00"`},
		{"timestamp", "0044-03-15 10:00:00 BC", `"0044-03-15 10:00:00 BC"`},
		{"timestamp", "infinity", `"infinity"`},
		{"timestamp", "-infinity", `"-infinity"`},
		{"timestamp", "2024-06-30 10:34:56.", `"2024-06-30 10:34:56."`},
		{"timestamp", "2024-06-30T10:34:56", `"2024-06-30T10:34:56"`},

		{"timestamptz", "2024-06-30 10:34:56.789+00", `"2024-06-30T10:34:56.789Z"`},
		{"timestamptz", "2024-06-30 10:34:56+00", `"2024-06-30T10:34:56Z"`},
		{"timestamptz", "10000-01-01 00:00:00+00", `"10000-01-01T00:00:00Z"`},
		{"timestamptz", "2024-06-30 16:04:56.789+05:30", `"2024-06-30T10:34:56.789Z"`},
		{"timestamptz", "1850-01-01 00:19:32+00:19:32", `"1850-01-01T00:00:00Z"`},
		{"timestamptz", "2024-12-31 23:30:00.5-03", `"2025-01-01T02:30:00.5Z"`},
		{"timestamptz", "2024-03-01 01:00:00+02", `"2024-02-29T23:00:00Z"`},
		{"timestamptz", "2023-03-01 01:00:00+02", `"2023-02-28T23:00:00Z"`},
		{"timestamptz", "0001-01-01 01:00:00+02", `"0001-01-01 01:00:00+02"`},
		{"timestamptz", "0044-03-15 10:00:00+00 BC", `"0044-03-15 10:00:00+00 BC"`},
		{"timestamptz", "infinity", `"infinity"`},
		{"timestamptz", "-infinity", `"-infinity"`},
		{"timestamptz", "2024-06-30 10:34:56", `"2024-06-30 10:34:56"`},
		{"timestamptz", "2024-06-30 10:34:56+0", `"2024-06-30 10:34:56+0"`},
		{"timestamptz", "2024-13-30 10:34:56+01", `"2024-13-30 10:34:56+01"`},

		{"time", "10:34:56.789", `"10:34:56.789"`},
		{"time", "24:00:00", `"24:00:00"`},
		{"timetz", "10:34:56+02", `"10:34:56+02:00"`},
		{"timetz", "10:34:56.5-03", `"10:34:56.5-03:00"`},
		{"timetz", "10:34:56+05:30", `"10:34:56+05:30"`},
		{"timetz", "10:00:00+00:53:28", `"10:00:00+00:53:28"`},
		{"timetz", "+02", `"+02"`},
		{"interval", "P1Y2M3DT4H5M6.5S", `"P1Y2M3DT4H5M6.5S"`},
		{"interval", "P-1D", `"P-1D"`},
		{"interval", "PT0S", `"PT0S"`},
	})
}

func TestDomains(t *testing.T) {
	runCases(t, []tcase{
		{"price", "12.50", `"12.50"`},
		{"qty", "7", `7`},
		{"qty2", "-7", `-7`},
		{"frame", "(1,1),(0,0)", `"(1,1),(0,0)"`},
		{"loop", "1", `"1"`},
	})
}

func TestArrays(t *testing.T) {
	long := strings.Repeat(`ab\"`, 100)
	longWant := strings.Repeat(`ab\"`, 100)
	runCases(t, []tcase{
		{"_int4", "{1,NULL,3}", `[1,null,3]`},
		{"_int4", "{}", `[]`},
		{"_int4", "{{1,2},{3,4}}", `[[1,2],[3,4]]`},
		{"_int4", "{{{1},{2}},{{3},{4}}}", `[[[1],[2]],[[3],[4]]]`},
		{"_int4", "[2:3]={1,2}", `[1,2]`},
		{"_int4", "[0:1][1:2]={{1,2},{3,4}}", `[[1,2],[3,4]]`},
		{"_int4", "[-2:-1]={5,6}", `[5,6]`},
		{"_int4", " { 1 , 2 } ", `[1,2]`},
		{"_int4", "{null,Null}", `[null,null]`},
		{"_text", `{"a b","NULL",NULL,"x\"y\\z",""," lead","{}","a,b"}`,
			`["a b","NULL",null,"x\"y\\z",""," lead","{}","a,b"]`},
		{"_text", `{"😀","\\\\","tab	x"}`, `["😀","\\\\","tab\tx"]`},
		{"_text", `{"` + long + `"}`, `["` + longWant + `"]`},
		{"_text", `{a\,b}`, `["a,b"]`},
		{"_text", "{\"bad \xff\"}", `["bad \ufffd"]`},
		{"_box", "{(1,1),(0,0);(2,2),(1,1)}", `["(1,1),(0,0)","(2,2),(1,1)"]`},
		{"_bytea", `{"\\x0102",NULL}`, `["AQI=",null]`},
		{"_json", `{"{\"a\": 1}"}`, `["{\"a\": 1}"]`},
		{"_float8", "{1.5,NaN,-Infinity}", `[1.5,"NaN","-Infinity"]`},
		{"_numeric", "{1.50,NaN}", `["1.50","NaN"]`},
		{"_bool", "{t,f}", `[true,false]`},
		{"_timestamptz", `{"2024-01-01 10:00:00+00",infinity}`, `["2024-01-01T10:00:00Z","infinity"]`},
		{"_date", "{2024-01-01,NULL}", `["2024-01-01",null]`},
		{"_money", `{$1.00,-$2.50}`, `["1.00","-2.50"]`},
		{"_mood", "{happy,sad,NULL}", `["happy","sad",null]`},
		{"_price", "{1.50,NULL}", `["1.50",null]`},
		{"_frame", "{(1,1),(0,0);(2,2),(1,1)}", `["(1,1),(0,0)","(2,2),(1,1)"]`},
		{"_pair", `{"(1,\"a b\")",NULL}`, `["(1,\"a b\")",null]`},
		{"_noelem", "{1,x}", `["1","x"]`},
		{"_int4range", `{"[1,5)",empty}`, `["[1,5)","empty"]`},
		// Malformed: the whole text as a string.
		{"_int4", "{1,2", `"{1,2"`},
		{"_int4", "{1,,2}", `"{1,,2}"`},
		{"_int4", "1,2", `"1,2"`},
		{"_int4", "{1,2}x", `"{1,2}x"`},
		{"_int4", "{{1,2}", `"{{1,2}"`},
		{"_int4", "[1:2]{1,2}", `"[1:2]{1,2}"`},
		{"_int4", "[1:2]", `"[1:2]"`},
		{"_int4", "", `""`},
		{"_text", `{"abc}`, `"{\"abc}"`},
		{"_text", `{ab"c}`, `"{ab\"c}"`},
		{"_text", `{"a"b}`, `"{\"a\"b}"`},
		{"_text", `{a\`, `"{a\\"`},
	})
}

// TestAppendKeepsDst checks that a fallback after a partly written array or
// bytea leaves what was in dst before the call untouched.
func TestAppendKeepsDst(t *testing.T) {
	dst := make([]byte, 0, 4)
	dst = append(dst, "[1,"...)
	dst = AppendJSON(dst, builtinType(t, "_int4"), []byte("{1,2,3,4,5,6,7,8,9,10,11,12,13"))
	dst = append(dst, ',')
	dst = AppendJSON(dst, builtinType(t, "bytea"), []byte(`\x0102zz`))
	dst = append(dst, ']')
	want := `[1,"{1,2,3,4,5,6,7,8,9,10,11,12,13","\\x0102zz"]`
	if string(dst) != want {
		t.Fatalf("got %s, want %s", dst, want)
	}
}

// TestNoAllocs checks that the common types convert without allocating
// once dst has room.
func TestNoAllocs(t *testing.T) {
	cases := []tcase{
		{"int8", "9223372036854775807", ""},
		{"int4", "42", ""},
		{"numeric", "12.50", ""},
		{"text", "Mumbai \"west\"", ""},
		{"timestamptz", "2024-06-30 10:34:56.789+00", ""},
		{"timestamptz", "2024-06-30 16:04:56.789+05:30", ""},
		{"timestamp", "2024-06-30 10:34:56.789", ""},
		{"bool", "t", ""},
		{"float8", "1.5e-07", ""},
		{"money", "-$1,234.56", ""},
		{"bytea", `\x0a0b0c0d`, ""},
		{"timetz", "10:34:56+02", ""},
		{"_int4", "{1,NULL,3}", ""},
		{"_text", `{"a \"b\"",c}`, ""},
		{"price", "1.50", ""},
	}
	dst := make([]byte, 0, 4096)
	for _, c := range cases {
		typ, text := typeFor(t, c.typ), []byte(c.in)
		n := testing.AllocsPerRun(100, func() { dst = AppendJSON(dst[:0], typ, text) })
		if n != 0 {
			t.Errorf("%s %q: %v allocations per value", c.typ, c.in, n)
		}
	}
}

func TestSessionParams(t *testing.T) {
	p := SessionParams()
	want := map[string]string{"DateStyle": "ISO", "TimeZone": "UTC", "IntervalStyle": "iso_8601",
		"extra_float_digits": "3", "bytea_output": "hex", "lc_monetary": "C", "client_encoding": "UTF8"}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("SessionParams()[%q] = %q, want %q", k, p[k], v)
		}
	}
	p["TimeZone"] = "Europe/Paris"
	if SessionParams()["TimeZone"] != "UTC" {
		t.Error("SessionParams returns a shared map")
	}
}

// FuzzAppendJSON checks that any text of any kind of type gives one valid
// JSON value.
func FuzzAppendJSON(f *testing.F) {
	names := []string{"int4", "int8", "float8", "numeric", "money", "bool", "text", "bytea",
		"timestamp", "timestamptz", "timetz", "date", "_int4", "_text", "_box", "_bytea",
		"_timestamptz", "_mood", "_price", "qty2", "unknown", "_float8", "_money"}
	for i, n := range names {
		f.Add(uint8(i), "{1,NULL,\"a\\\"b\"}")
		f.Add(uint8(i), "2024-06-30 10:34:56.789+05:30")
		f.Add(uint8(i), `\x0a0b`)
		f.Add(uint8(i), "-$1,234.56")
		f.Add(uint8(i), "[1:2][0:0]={{1},{2}}")
		_ = n
	}
	f.Fuzz(func(t *testing.T, which uint8, text string) {
		typ := typeFor(t, names[int(which)%len(names)])
		out := AppendJSON(nil, typ, []byte(text))
		if !json.Valid(out) {
			t.Fatalf("%s %q: invalid JSON %q", typ, text, out)
		}
	})
}
