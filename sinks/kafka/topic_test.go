package kafka

import (
	"strings"
	"testing"

	"github.com/tributary-cdc/tributary/change"
)

func TestKafkaTopic(t *testing.T) {
	long := strings.Repeat("t", 300)
	for _, tc := range []struct {
		src  change.Source
		want string
	}{
		{change.Source{Name: "shop", Schema: "public", DB: "shop", Table: "orders"}, "cdc.shop.public.orders"},
		{change.Source{Name: "legacy", DB: "shop", Table: "customer-transactions"}, "cdc.legacy.shop.customer-transactions"},
		{change.Source{Name: "shop", Schema: "my schema", Table: "a.b$c/é"}, "cdc.shop.my_schema.a_b_c___"},
		{change.Source{Name: "shop", Table: "t"}, "cdc.shop._.t"},
	} {
		if got := Topic("cdc", &change.Event{Source: tc.src}); got != tc.want {
			t.Errorf("Topic(%+v) = %q, want %q", tc.src, got, tc.want)
		}
	}
	a := Topic("cdc", &change.Event{Source: change.Source{Name: "s", Schema: "p", Table: long + "a"}})
	b := Topic("cdc", &change.Event{Source: change.Source{Name: "s", Schema: "p", Table: long + "b"}})
	if len(a) != MaxTopicLen || len(b) != MaxTopicLen || a == b {
		t.Errorf("long topics: %d %d characters, equal %v; want %d each and distinct", len(a), len(b), a == b, MaxTopicLen)
	}
	for _, c := range a {
		if !topicByte(byte(c)) {
			t.Fatalf("long topic %q has %q", a, c)
		}
	}
}

func TestKafkaValidatePrefix(t *testing.T) {
	for _, p := range []string{"cdc", "my.cdc-1_x"} {
		if err := validatePrefix(p); err != nil {
			t.Errorf("validatePrefix(%q) = %v", p, err)
		}
	}
	for _, p := range []string{"", "a/b", "a b", "é", strings.Repeat("x", 245)} {
		if err := validatePrefix(p); err == nil {
			t.Errorf("validatePrefix(%q) accepted", p)
		}
	}
}

func TestKafkaKey(t *testing.T) {
	row := change.Row{{Name: "id", Value: []byte("7")}, {Name: "region", Value: []byte(`"eu"`)}, {Name: "n", Value: nil}}
	for _, tc := range []struct {
		name string
		ev   *change.Event
		cols []string
		want string
		ok   bool
	}{
		{"insert", &change.Event{Op: change.OpCreate, After: row}, []string{"id"}, `{"id":7}`, true},
		{"delete uses before", &change.Event{Op: change.OpDelete, Before: row}, []string{"id"}, `{"id":7}`, true},
		{"update uses after", &change.Event{Op: change.OpUpdate, Before: change.Row{{Name: "id", Value: []byte("6")}}, After: row}, []string{"id"}, `{"id":7}`, true},
		{"composite", &change.Event{Op: change.OpCreate, After: row}, []string{"region", "id"}, `{"region":"eu","id":7}`, true},
		{"null value", &change.Event{Op: change.OpCreate, After: row}, []string{"n"}, `{"n":null}`, true},
		{"missing column", &change.Event{Op: change.OpCreate, After: row}, []string{"id", "uuid"}, "", false},
		{"truncate", &change.Event{Op: change.OpTruncate}, []string{"id"}, "", false},
	} {
		got, ok := AppendKey([]byte("prefix"), tc.ev, tc.cols)
		if ok != tc.ok || string(got) != "prefix"+tc.want {
			t.Errorf("%s: AppendKey = %q, %v; want %q, %v", tc.name, got, ok, "prefix"+tc.want, tc.ok)
		}
	}
}
