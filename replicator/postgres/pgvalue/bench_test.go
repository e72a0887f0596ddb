package pgvalue

import (
	"encoding/json"
	"testing"

	"github.com/tributary-cdc/tributary/change"
)

// customerRow is one customer_transactions row as pgoutput sends it in text.
var customerRow = []struct {
	name string
	oid  uint32
	text []byte
}{
	{"id", 20, []byte("1234567")},
	{"customer_id", 20, []byte("90210")},
	{"txn_date", 1184, []byte("2024-06-30 10:34:56.789+00")},
	{"amount", 1700, []byte("1234.50")},
	{"age", 23, []byte("42")},
	{"gender", 25, []byte("Female")},
	{"transaction_type", 25, []byte("Purchase")},
	{"location", 25, []byte("San Francisco")},
	{"device", 25, []byte("Mobile")},
}

// appendCustomerRow appends the row as a JSON object the way a source fills
// an event's after image.
func appendCustomerRow(dst []byte, types []*Type) []byte {
	dst = append(dst, '{')
	for i, col := range customerRow {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = change.AppendString(dst, col.name)
		dst = append(dst, ':')
		dst = AppendJSON(dst, types[i], col.text)
	}
	return append(dst, '}')
}

func TestCustomerRow(t *testing.T) {
	reg := NewRegistry()
	types := make([]*Type, len(customerRow))
	for i, col := range customerRow {
		types[i] = reg.Lookup(col.oid)
	}
	got := string(appendCustomerRow(nil, types))
	want := `{"id":1234567,"customer_id":90210,"txn_date":"2024-06-30T10:34:56.789Z","amount":"1234.50",` +
		`"age":42,"gender":"Female","transaction_type":"Purchase","location":"San Francisco","device":"Mobile"}`
	if got != want || !json.Valid([]byte(got)) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// BenchmarkAppendRow converts one customer_transactions row (bigint, bigint,
// timestamptz, numeric(12,2), int, 4 x text) per iteration.
func BenchmarkAppendRow(b *testing.B) {
	reg := NewRegistry()
	types := make([]*Type, len(customerRow))
	size := 0
	for i, col := range customerRow {
		types[i] = reg.Lookup(col.oid)
		size += len(col.text)
	}
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		buf = appendCustomerRow(buf[:0], types)
	}
}
