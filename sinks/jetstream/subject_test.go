package jetstream

import (
	"testing"

	"github.com/tributary-cdc/tributary/change"
)

func TestSubject(t *testing.T) {
	for _, tc := range []struct {
		src, db, schema, table, want string
	}{
		{"shop", "shop", "public", "customer_transactions", "cdc.shop.public.customer_transactions"},
		{"legacy", "shop", "", "orders", "cdc.legacy.shop.orders"}, // MySQL: the database
		{"s", "d", "my.schema", "a*b>c", "cdc.s.my_schema.a_b_c"},
		{"s", "d", "public", "with space\tand\ttab", "cdc.s.public.with_space_and_tab"},
		{"s", "d", "public", "", "cdc.s.public._"},
		{"s", "d", "public", "naïve_表", "cdc.s.public.naïve_表"},
	} {
		ev := &change.Event{Source: change.Source{Name: tc.src, DB: tc.db, Schema: tc.schema, Table: tc.table}}
		if got := Subject("cdc", ev); got != tc.want {
			t.Errorf("Subject(%q/%q/%q/%q) = %q, want %q", tc.src, tc.db, tc.schema, tc.table, got, tc.want)
		}
	}
	if got := SourceSubjects("cdc", "my.src"); got != "cdc.my_src.>" {
		t.Errorf("SourceSubjects = %q", got)
	}
}

func TestSubjectCovers(t *testing.T) {
	for _, tc := range []struct {
		p, q string
		want bool
	}{
		{"cdc.>", "cdc.>", true},
		{">", "cdc.>", true},
		{"*.>", "cdc.>", true},
		{"cdc.*", "cdc.>", false},
		{"cdc", "cdc.>", false},
		{"cdc.a.>", "cdc.>", false},
		{"other.>", "cdc.>", false},
		{"cdc.*.>", "cdc.x.>", true},
	} {
		if got := subjectCovers(tc.p, tc.q); got != tc.want {
			t.Errorf("subjectCovers(%q, %q) = %v, want %v", tc.p, tc.q, got, tc.want)
		}
	}
}

func TestKVKey(t *testing.T) {
	for in, want := range map[string]string{
		"shop/position":      "shop/position",
		"snapshot:public.t":  "snapshot=3Apublic.t",
		".lead":              "=2Elead",
		"trail.":             "trail=2E",
		"a..b":               "a.=2Eb",
		"a=b":                "a=3Db",
		"space here":         "space=20here",
		"public.customer_tx": "public.customer_tx",
	} {
		got, err := kvKey(in)
		if err != nil || got != want {
			t.Errorf("kvKey(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := kvKey(""); err == nil {
		t.Error("kvKey(\"\") succeeded")
	}
}

func TestParseSyncInterval(t *testing.T) {
	for in, want := range map[string]struct {
		d      string
		always bool
		ok     bool
	}{
		"": {"0s", false, true}, "always": {"0s", true, true}, "ALWAYS": {"0s", true, true},
		"10s": {"10s", false, true}, "2m": {"2m0s", false, true},
		"soon": {"", false, false}, "-1s": {"", false, false}, "0s": {"", false, false},
	} {
		d, always, err := ParseSyncInterval(in)
		if (err == nil) != want.ok || (err == nil && (d.String() != want.d || always != want.always)) {
			t.Errorf("ParseSyncInterval(%q) = %v, %v, %v; want %v", in, d, always, err, want)
		}
	}
}
