package change

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// goldenEvents are the envelopes the golden files lock: one per op and
// connector, with values in their lossless forms.
func goldenEvents() map[string]*Event {
	pgSource := Source{Connector: "postgresql", Name: "shop", TsMs: 1719743696789, Snapshot: "false",
		DB: "shop", Schema: "public", Table: "customer_transactions", TxID: 1234, LSN: 24023128}
	row := Row{
		{Name: "id", Value: []byte(`7`)},
		{Name: "customer_id", Value: []byte(`9223372036854775807`)},
		{Name: "amount", Value: []byte(`"12.50"`)},
		{Name: "txn_date", Value: []byte(`"2024-06-30T10:34:56.789Z"`)},
		{Name: "gender", Value: nil},
		{Name: "note", Value: []byte(`"quote \" backslash \\ tab \t é 😀"`)},
		{Name: "body", Value: UnavailableJSON},
	}
	tx := &Transaction{ID: "1234:24023128", TotalOrder: 3, DataCollectionOrder: 3}
	return map[string]*Event{
		"pg_insert":   {Op: OpCreate, After: row, Source: pgSource, TsMs: 1719743696801, Tx: tx},
		"pg_update":   {Op: OpUpdate, Before: row[:4], After: row, Source: pgSource, TsMs: 1719743696801, Tx: tx},
		"pg_delete":   {Op: OpDelete, Before: row[:1], Source: pgSource, TsMs: 1719743696801, Tx: tx},
		"pg_truncate": {Op: OpTruncate, Source: pgSource, TsMs: 1719743696801, Tx: tx},
		"pg_snapshot": {Op: OpRead, After: row[:3], Source: func() Source { s := pgSource; s.Snapshot = "last"; s.TxID = 0; return s }(), TsMs: 1719743696801},
		"mysql_insert": {Op: OpCreate, After: Row{{Name: "id", Value: []byte(`18446744073709551615`)}, {Name: "price", Value: []byte(`"0.10"`)}},
			Source: Source{Connector: "mysql", Name: "legacy", TsMs: 1719743696000, Snapshot: "false", DB: "shop", Table: "orders",
				ServerID: 1, GTID: "0-1-42", File: "binlog.000003", Pos: 1234, Row: 0},
			TsMs: 1719743696801, Tx: &Transaction{ID: "0-1-42", TotalOrder: 1, DataCollectionOrder: 1}},
	}
}

func TestGoldenEnvelopes(t *testing.T) {
	for name, ev := range goldenEvents() {
		t.Run(name, func(t *testing.T) {
			got := Marshal(ev)
			if !json.Valid(got) {
				t.Fatalf("invalid JSON: %s", got)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, got, "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			path := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./change -update to create it)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Fatalf("envelope changed:\n got %s\nwant %s", pretty.Bytes(), want)
			}
			// Round trip: decoding and encoding again gives the same bytes.
			var back Event
			if err := Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			if again := Marshal(&back); !bytes.Equal(again, got) {
				t.Fatalf("round trip changed the envelope:\n%s\n%s", got, again)
			}
		})
	}
}

func TestUnmarshalErrors(t *testing.T) {
	for _, in := range []string{`{`, `{"op":"x"}`, `{"op":"c","after":[1]}`, `[]`} {
		var e Event
		if err := Unmarshal([]byte(in), &e); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", in)
		}
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "a\"b\\c", "\x00\x01\x1f", "line\nbreak\r\t", "é😀", "\u2028\u2029", "bad\xffutf8", "<&>"} {
		got := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q -> %s: %v", s, got, err)
		}
		want := s
		if !json.Valid([]byte(`"`+s+`"`)) || bytes.ContainsRune([]byte(s), 0xfffd) {
			want = string(bytes.ToValidUTF8([]byte(s), []byte("\ufffd")))
		}
		if back != want {
			t.Errorf("%q round-trips to %q", s, back)
		}
	}
}

func TestFormatLSN(t *testing.T) {
	if got := FormatLSN(0x16_B374D848); got != "16/B374D848" {
		t.Fatalf("FormatLSN = %s", got)
	}
}

func FuzzUnmarshal(f *testing.F) {
	for _, ev := range goldenEvents() {
		f.Add(Marshal(ev))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var e Event
		if Unmarshal(data, &e) != nil {
			return
		}
		out := Marshal(&e)
		if !json.Valid(out) {
			t.Fatalf("re-encoded event is not valid JSON: %s", out)
		}
	})
}

func BenchmarkMarshal(b *testing.B) {
	ev := goldenEvents()["pg_insert"]
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendJSON(buf[:0], ev)
	}
	b.SetBytes(int64(len(buf)))
}
