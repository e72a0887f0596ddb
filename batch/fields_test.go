package batch

import (
	"testing"
	"time"
)

func TestParseAmount(t *testing.T) {
	cases := []struct {
		in    string
		cents int64
		rep   Repair
		ok    bool
	}{
		{"123.45", 12345, 0, true},
		{"123", 12300, 0, true},
		{"123.4", 12340, 0, true},
		{"0.005", 1, 0, true},
		{"-12.50", -1250, 0, true},
		{" 12.50 ", 1250, RepairWhitespace, true},
		{"$123.45", 12345, RepairAmountSymbol, true},
		{"USD 123.45", 12345, RepairAmountSymbol, true},
		{"123.45 USD", 12345, RepairAmountSymbol, true},
		{"€99.00", 9900, RepairAmountSymbol, true},
		{"£5", 500, RepairAmountSymbol, true},
		{"1,234.56", 123456, RepairAmountSeparator, true},
		{"$1,234,567.89", 123456789, RepairAmountSymbol | RepairAmountSeparator, true},
		{"12,5", 1250, RepairAmountComma, true},
		{"1,234", 123400, RepairAmountSeparator, true},
		{"abc", 0, 0, false},
		{"12.3.4", 0, 0, false},
		{"1,23.00", 0, 0, false},
		{"1.234,56", 0, 0, false},
		{"$", 0, RepairAmountSymbol, false},
		{"12-3", 0, 0, false},
		{"XYZ 12", 0, 0, false},
	}
	for _, c := range cases {
		cents, rep, ok := ParseAmount([]byte(c.in))
		if ok != c.ok || ok && (cents != c.cents || rep != c.rep) {
			t.Errorf("ParseAmount(%q) = %d, %b, %v; want %d, %b, %v", c.in, cents, rep, ok, c.cents, c.rep, c.ok)
		}
	}
}

func TestParseDate(t *testing.T) {
	want := time.Date(2024, 2, 29, 13, 5, 9, 0, time.UTC).UnixMicro()
	cases := []struct {
		in  string
		rep Repair
	}{
		{"2024-02-29 13:05:09", 0},
		{"2024-02-29T13:05:09Z", RepairDateFormat},
		{"2024-02-29T15:05:09+02:00", RepairDateFormat},
		{"02/29/2024 13:05:09", RepairDateFormat},
		{"29.02.2024 13:05:09", RepairDateFormat},
		{"2024/02/29 13:05:09", RepairDateFormat},
		{"1709211909", RepairDateEpoch},
		{"1709211909000", RepairDateEpoch},
		{" 2024-02-29 13:05:09", RepairWhitespace},
	}
	for _, c := range cases {
		got, rep, ok := ParseDate([]byte(c.in))
		if !ok || got != want || rep != c.rep {
			t.Errorf("ParseDate(%q) = %d, %b, %v; want %d, %b", c.in, got, rep, ok, want, c.rep)
		}
	}
	if got, _, ok := ParseDate([]byte("2024-02-29 13:05:09.250")); !ok || got != want+250000 {
		t.Errorf("fraction: got %d, %v", got, ok)
	}
	if got, rep, ok := ParseDate([]byte("2024-02-29")); !ok || got != time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC).UnixMicro() || rep != RepairDateFormat {
		t.Errorf("date only: got %d, %b, %v", got, rep, ok)
	}
	for _, bad := range []string{"2023-02-29 00:00:00", "2024-13-01 00:00:00", "2024-01-01 25:00:00", "yesterday", "12345", "2024-01-01X10:00:00", "31/12/2024 10:00:00"} {
		if _, _, ok := ParseDate([]byte(bad)); ok {
			t.Errorf("ParseDate(%q) accepted", bad)
		}
	}
}

func TestParseAge(t *testing.T) {
	cases := []struct {
		in  string
		age int
		rep Repair
		ok  bool
	}{
		{"34", 34, 0, true},
		{" 34 ", 34, RepairWhitespace, true},
		{"34.0", 34, RepairAgeDecimal, true},
		{"33.6", 34, RepairAgeDecimal, true},
		{"34 years", 34, RepairAgeDecimal, true},
		{"thirty-four", 34, RepairAgeText, true},
		{"Thirty Four", 34, RepairAgeText, true},
		{"seventy", 70, RepairAgeText, true},
		{"one hundred and two", 102, RepairAgeText, true},
		{"-1", -1, 0, true},
		{"999", 999, 0, true},
		{"old", 0, 0, false},
		{"34 apples", 0, 0, false},
	}
	for _, c := range cases {
		age, rep, ok := ParseAge([]byte(c.in))
		if ok != c.ok || ok && (age != c.age || rep != c.rep) {
			t.Errorf("ParseAge(%q) = %d, %b, %v; want %d, %b, %v", c.in, age, rep, ok, c.age, c.rep, c.ok)
		}
	}
}

func TestNormalizeCategory(t *testing.T) {
	cases := map[string]struct {
		want    string
		changed bool
	}{
		"Male":          {"Male", false},
		"New York":      {"New York", false},
		"male":          {"Male", true},
		"MALE":          {"Male", true},
		" Mobile":       {"Mobile", true},
		"Desktop  ":     {"Desktop", true},
		"new  york":     {"New York", true},
		"gift\tcard":    {"Gift Card", true},
		"BILL PAYMENT ": {"Bill Payment", true},
	}
	for in, c := range cases {
		got, changed := NormalizeCategory([]byte(in))
		if got != c.want || changed != c.changed {
			t.Errorf("NormalizeCategory(%q) = %q, %v; want %q, %v", in, got, changed, c.want, c.changed)
		}
	}
}

func TestIsMissing(t *testing.T) {
	for _, s := range []string{"", " ", "NA", "n/a", "null", "NULL", "NaN", "None", "-", "?"} {
		if !IsMissing([]byte(s)) {
			t.Errorf("IsMissing(%q) = false", s)
		}
	}
	for _, s := range []string{"0", "Male", "nan1", "Nancy"} {
		if IsMissing([]byte(s)) {
			t.Errorf("IsMissing(%q) = true", s)
		}
	}
}

func TestSplitRecord(t *testing.T) {
	cases := []struct {
		in     string
		fields []string
		bad    bool
	}{
		{"a,b,c", []string{"a", "b", "c"}, false},
		{"a,,c,", []string{"a", "", "c", ""}, false},
		{`a,"$1,234.56",c`, []string{"a", "$1,234.56", "c"}, false},
		{`"say ""hi""",b`, []string{`say "hi"`, "b"}, false},
		{`"a","b"`, []string{"a", "b"}, false},
		{`a,"b`, nil, true},
		{`a,"b"x,c`, nil, true},
		{`a,b"c,d`, nil, true},
	}
	for _, c := range cases {
		got, reason := splitRecord([]byte(c.in), nil, make([]byte, 0, len(c.in)))
		if (reason != "") != c.bad {
			t.Errorf("splitRecord(%q): reason %q, want bad=%v", c.in, reason, c.bad)
			continue
		}
		if c.bad {
			continue
		}
		if len(got) != len(c.fields) {
			t.Errorf("splitRecord(%q) = %q, want %q", c.in, got, c.fields)
			continue
		}
		for i := range got {
			if string(got[i]) != c.fields[i] {
				t.Errorf("splitRecord(%q)[%d] = %q, want %q", c.in, i, got[i], c.fields[i])
			}
		}
	}
}
