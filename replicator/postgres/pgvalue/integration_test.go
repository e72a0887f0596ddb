package pgvalue_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/internal/testenv"
	"github.com/tributary-cdc/tributary/replicator/postgres/pgvalue"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the server's output")

// schemaSQL creates one column per type the source must map, with
// user-defined types (enum, domain, domain over a domain, composite) and
// arrays of them.
const schemaSQL = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN price AS numeric(10,2) CHECK (VALUE >= 0);
CREATE DOMAIN small_price AS price CHECK (VALUE < 1000);
CREATE TYPE pair AS (a int, b text);
CREATE TABLE all_types (
  id int PRIMARY KEY,
  c_smallint smallint, c_int int, c_bigint bigint, c_oid oid,
  c_numeric numeric, c_numeric_12_2 numeric(12,2), c_numeric_arr numeric[], c_money money,
  c_real real, c_double double precision,
  c_text text, c_varchar varchar(20), c_char char(5), c_bytea bytea, c_bool bool,
  c_date date, c_time time, c_timetz timetz, c_timestamp timestamp, c_timestamptz timestamptz,
  c_interval interval,
  c_uuid uuid, c_json json, c_jsonb jsonb,
  c_inet inet, c_cidr cidr, c_macaddr macaddr, c_macaddr8 macaddr8,
  c_int_arr int[], c_text_arr text[], c_int_2d int[][], c_bounded_arr int[],
  c_timestamptz_arr timestamptz[], c_bytea_arr bytea[],
  c_mood mood, c_mood_arr mood[], c_price price, c_price_arr price[], c_small_price_arr small_price[],
  c_bit bit(4), c_varbit varbit,
  c_point point, c_line line, c_lseg lseg, c_box box, c_box_arr box[], c_path path,
  c_polygon polygon, c_circle circle,
  c_int4range int4range, c_tstzrange tstzrange, c_int4multirange int4multirange,
  c_xml xml, c_tsvector tsvector, c_pg_lsn pg_lsn, c_pair pair, c_pair_arr pair[]
);
`

// rowsSQL inserts a normal row, an all-NULL row and an edge-case row, in one
// transaction.
const rowsSQL = `
INSERT INTO all_types VALUES (1,
  1, 2, 3, 4,
  12.5, 12.50, '{1.5,2}', 1234.56,
  1.5, 0.1,
  'hello', 'varchar', 'ab', '\x0a0b', true,
  '2024-06-30', '10:34:56.789', '10:34:56+02', '2024-06-30 10:34:56.789', '2024-06-30 10:34:56.789+00',
  '1 year 2 months 3 days 04:05:06',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": 1, "b": [true, null]}', '{"a": 1, "b": [true, null]}',
  '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
  '{1,NULL,3}', '{"a b",NULL,"NULL","x\"y"}', '{{1,2},{3,4}}', '[2:3]={7,8}',
  '{"2024-06-30 10:34:56.789+00",infinity}', '{"\\x0102",NULL}',
  'happy', '{sad,NULL,happy}', 12.50, '{1.5,NULL}', '{999.99}',
  B'1010', B'101',
  '(1,2)', '{1,2,3}', '[(1,2),(3,4)]', '(3,4),(1,2)', ARRAY['(1,1),(0,0)'::box, '(2,2),(1,1)'], '((1,2),(3,4))',
  '((1,2),(3,4),(5,6))', '<(1,2),3>',
  '[1,5)', '[2024-01-01 00:00+00,2024-02-01 00:00+00)', '{[1,3),[5,7)}',
  '<a>x</a>', 'a fat cat', '0/16B3748', ROW(1, 'a b'), ARRAY[ROW(2, 'c')::pair, NULL]);
INSERT INTO all_types (id) VALUES (2);
INSERT INTO all_types VALUES (3,
  -32768, -2147483648, -9223372036854775808, 4294967295,
  'NaN', -0.01, '{Infinity,-Infinity,NaN,NULL}', '-92233720368547758.08',
  '-Infinity', 'Infinity',
  E'quote " backslash \\ newline \n tab \t ctrl \x01 emoji \U0001F600 \u00e9 sep \u2028', '', ' ', '\x00ff5c22', false,
  '0044-03-15 BC', '24:00:00', '00:00:00.000001+05:30', '-infinity', 'infinity',
  '-1 day -00:00:01.5',
  '00000000-0000-0000-0000-000000000000', '"just a string"', '[]',
  '::1', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00:00:00',
  '{}', E'{"",NULL,"\\\\","{}","a,b"," lead","\u00e9\U0001F600"}', '{{NULL,2},{3,NULL}}', '[0:1][-1:0]={{1,2},{3,4}}',
  '{-infinity,"0044-03-15 10:00:00+00 BC","10000-01-01 00:00:00.000001+00"}', '{"\\x"}',
  'sad', '{}', 0, '{}', '{}',
  B'0000', B'',
  '(-1.5,1e+100)', '{1,-1,0}', '[(0,0),(0,0)]', '(0,0),(0,0)', '{}', '[(0,0)]',
  '((0,0))', '<(0,0),0>',
  '(,)', 'empty', '{}',
  '<a attr="1">&amp;</a>', '', 'FFFFFFFF/FFFFFFFF', ROW(NULL, '"q"'), '{}');
`

// hostileSettings are server defaults unlike SessionParams, so the golden
// output proves that SessionParams (not the server's defaults) shape it.
var hostileSettings = map[string]string{
	"timezone":           "Asia/Kolkata",
	"datestyle":          "SQL, DMY",
	"intervalstyle":      "postgres",
	"extra_float_digits": "0",
	"bytea_output":       "escape",
}

// connect opens a pgconn connection to dsn with SessionParams, plus extra
// runtime params.
func connect(t *testing.T, ctx context.Context, dsn string, extra map[string]string) *pgconn.PgConn {
	t.Helper()
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("parse dsn: %v", err)
	}
	for k, v := range pgvalue.SessionParams() {
		cfg.RuntimeParams[k] = v
	}
	for k, v := range extra {
		cfg.RuntimeParams[k] = v
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// renderRows converts rows of text values (nil = NULL) of the named
// columns with AppendJSON into JSON objects, one column per line.
func renderRows(t *testing.T, names []string, types []*pgvalue.Type, rows [][][]byte) []byte {
	t.Helper()
	out := []byte("[\n")
	for r, row := range rows {
		if r > 0 {
			out = append(out, ",\n"...)
		}
		out = append(out, "  {"...)
		for i, val := range row {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, "\n    "...)
			out = change.AppendString(out, names[i])
			out = append(out, ": "...)
			start := len(out)
			if val == nil {
				out = append(out, "null"...)
			} else {
				out = pgvalue.AppendJSON(out, types[i], val)
			}
			if !json.Valid(out[start:]) {
				t.Errorf("row %d column %s (%s): invalid JSON %s from %q", r, names[i], types[i], out[start:], val)
			}
		}
		out = append(out, "\n  }"...)
	}
	out = append(out, "\n]\n"...)
	if !json.Valid(out) {
		t.Fatalf("rows are not valid JSON:\n%s", out)
	}
	return out
}

// loadTypes resolves oids with Load on conn and returns their Types.
func loadTypes(t *testing.T, ctx context.Context, conn *pgconn.PgConn, reg *pgvalue.Registry, names []string, oids []uint32) []*pgvalue.Type {
	t.Helper()
	if err := reg.Load(ctx, conn, oids...); err != nil {
		t.Fatalf("load column types: %v", err)
	}
	types := make([]*pgvalue.Type, len(oids))
	for i, oid := range oids {
		if types[i] = reg.Lookup(oid); types[i].Kind == pgvalue.Unknown {
			t.Errorf("column %s: type oid %d still unknown after Load", names[i], oid)
		}
	}
	return types
}

// selectRows reads all_types in text format with the simple protocol (as a
// snapshot does) and renders it.
func selectRows(t *testing.T, ctx context.Context, conn *pgconn.PgConn) []byte {
	t.Helper()
	results, err := conn.Exec(ctx, "SELECT * FROM all_types ORDER BY id").ReadAll()
	if err != nil {
		t.Fatalf("select: %v", err)
	}
	res := results[0]
	var names []string
	var oids []uint32
	for _, fd := range res.FieldDescriptions {
		names = append(names, fd.Name)
		oids = append(oids, fd.DataTypeOID)
	}
	types := loadTypes(t, ctx, conn, pgvalue.NewRegistry(), names, oids)
	return renderRows(t, names, types, res.Rows)
}

// streamRows reads n inserts of all_types from a pgoutput stream on the
// replication connection repl and renders them. Types are loaded over side,
// since repl is in COPY mode while it streams.
func streamRows(t *testing.T, ctx context.Context, repl, side *pgconn.PgConn, n int) []byte {
	t.Helper()
	var names []string
	var oids []uint32
	var rows [][][]byte
	for len(rows) < n {
		msg, err := repl.ReceiveMessage(ctx)
		if err != nil {
			t.Fatalf("receive from pgoutput stream (got %d of %d rows): %v", len(rows), n, err)
		}
		cd, ok := msg.(*pgproto3.CopyData)
		if !ok {
			if e, ok := msg.(*pgproto3.ErrorResponse); ok {
				t.Fatalf("stream: %s", e.Message)
			}
			continue
		}
		if len(cd.Data) == 0 || cd.Data[0] != pglogrepl.XLogDataByteID {
			continue // keepalives: the test ends long before the sender times out
		}
		xld, err := pglogrepl.ParseXLogData(cd.Data[1:])
		if err != nil {
			t.Fatalf("parse XLogData: %v", err)
		}
		lm, err := pglogrepl.Parse(xld.WALData)
		if err != nil {
			t.Fatalf("parse pgoutput message: %v", err)
		}
		switch m := lm.(type) {
		case *pglogrepl.RelationMessage:
			names, oids = nil, nil
			for _, c := range m.Columns {
				names = append(names, c.Name)
				oids = append(oids, c.DataType)
			}
		case *pglogrepl.InsertMessage:
			row := make([][]byte, len(m.Tuple.Columns))
			for i, c := range m.Tuple.Columns {
				switch c.DataType {
				case 't':
					row[i] = append([]byte{}, c.Data...)
				case 'n':
				default:
					t.Fatalf("column %d: tuple data kind %q, want text or null", i, c.DataType)
				}
			}
			rows = append(rows, row)
		}
	}
	types := loadTypes(t, ctx, side, pgvalue.NewRegistry(), names, oids)
	return renderRows(t, names, types, rows)
}

// TestGoldenPostgres converts every column of three rows read from a real
// PostgreSQL, as a snapshot reads them (SELECT in text format on a normal and
// a replication connection) and as the stream sends them (pgoutput), and
// compares them with testdata/all_types.golden.json. The server's defaults
// are set unlike SessionParams, so the test also shows that SessionParams
// alone fix the text forms.
func TestGoldenPostgres(t *testing.T) {
	pg := testenv.PostgresWith(t, testenv.PGOptions{Settings: hostileSettings})
	pg.Exec(t, schemaSQL)
	pg.Exec(t, "CREATE PUBLICATION pgvalue_test FOR TABLE all_types")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// The server defaults really are hostile.
	bare, err := pgconn.Connect(ctx, pg.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close(context.Background())
	res, err := bare.Exec(ctx, "SELECT current_setting('TimeZone'), current_setting('bytea_output'), current_setting('DateStyle')").ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%s", res[0].Rows[0]); got != "[Asia/Kolkata escape SQL, DMY]" {
		t.Fatalf("server defaults: got %s, want the hostile settings", got)
	}

	repl := connect(t, ctx, pg.DSN("postgres"), map[string]string{"replication": "database"})
	if _, err := pglogrepl.CreateReplicationSlot(ctx, repl, "pgvalue_test", "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Temporary: true, Mode: pglogrepl.LogicalReplication}); err != nil {
		t.Fatalf("create slot: %v", err)
	}
	pg.Exec(t, rowsSQL)

	golden := filepath.Join("testdata", "all_types.golden.json")
	conn := connect(t, ctx, pg.DSN("postgres"), nil)
	got := selectRows(t, ctx, conn)
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("rows differ from %s (run with -update after checking):\n%s", golden, got)
	}

	t.Run("select on replication connection", func(t *testing.T) {
		if got := selectRows(t, ctx, repl); !bytes.Equal(got, want) {
			t.Errorf("rows over replication=database differ from %s:\n%s", golden, got)
		}
	})

	t.Run("pgoutput stream", func(t *testing.T) {
		err := pglogrepl.StartReplication(ctx, repl, "pgvalue_test", 0, pglogrepl.StartReplicationOptions{
			Mode:       pglogrepl.LogicalReplication,
			PluginArgs: []string{"proto_version '1'", "publication_names 'pgvalue_test'"},
		})
		if err != nil {
			t.Fatalf("start replication: %v", err)
		}
		if got := streamRows(t, ctx, repl, conn, 3); !bytes.Equal(got, want) {
			t.Errorf("rows from pgoutput differ from %s:\n%s", golden, got)
		}
	})
}

// TestRegistryLoad checks that Load resolves user-defined types, recursively,
// over a replication connection (simple query protocol only).
func TestRegistryLoad(t *testing.T) {
	pg := testenv.Postgres(t)
	pg.Exec(t, schemaSQL)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	oidOf := map[string]uint32{}
	plain := connect(t, ctx, pg.DSN("postgres"), nil)
	results, err := plain.Exec(ctx, `SELECT typname, oid FROM pg_type
		WHERE typname IN ('mood','_mood','price','_price','small_price','_small_price','pair','_pair')`).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range results[0].Rows {
		oid, _ := strconv.ParseUint(string(row[1]), 10, 32)
		oidOf[string(row[0])] = uint32(oid)
	}
	if len(oidOf) != 8 {
		t.Fatalf("found types %v, want 8", oidOf)
	}

	repl := connect(t, ctx, pg.DSN("postgres"), map[string]string{"replication": "database"})
	reg := pgvalue.NewRegistry()
	if typ := reg.Lookup(oidOf["_mood"]); typ.Kind != pgvalue.Unknown {
		t.Fatalf("before Load: _mood is %v, want unknown", typ.Kind)
	}
	// Readers keep looking types up while Load runs (go test -race).
	stop := make(chan struct{})
	readers := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				readers <- n
				return
			default:
			}
			if reg.Lookup(1184).Kind != pgvalue.Base {
				panic("timestamptz lost")
			}
			_ = reg.Lookup(oidOf["_mood"])
			n++
		}
	}()
	// Only the arrays and the composite are asked for: their element and
	// base types must be found by recursion. 4000000000 does not exist.
	err = reg.Load(ctx, repl, oidOf["_mood"], oidOf["_small_price"], oidOf["pair"], 4000000000)
	close(stop)
	if n := <-readers; n == 0 {
		t.Error("the concurrent reader did not run")
	}
	if err != nil {
		t.Fatalf("Load over replication=database: %v", err)
	}

	check := func(name string, kind pgvalue.Kind) *pgvalue.Type {
		t.Helper()
		typ := reg.Lookup(oidOf[name])
		if typ.Kind != kind || typ.Name != name || typ.OID != oidOf[name] {
			t.Errorf("%s: got %+v, want kind %v", name, typ, kind)
		}
		return typ
	}
	moodArr := check("_mood", pgvalue.Array)
	mood := check("mood", pgvalue.Enum)
	if moodArr.Elem != mood {
		t.Errorf("_mood.Elem = %v, want the mood Type", moodArr.Elem)
	}
	smallArr := check("_small_price", pgvalue.Array)
	small := check("small_price", pgvalue.Domain)
	price := check("price", pgvalue.Domain)
	if smallArr.Elem != small || small.Base != price || price.Base == nil || price.Base.OID != 1700 {
		t.Errorf("_small_price chain: elem %v, base %v, base of base %v; want small_price, price, numeric",
			smallArr.Elem, small.Base, price.Base)
	}
	check("pair", pgvalue.Composite)
	if reg.Known(oidOf["_pair"]) {
		t.Error("_pair was loaded though nobody asked for it")
	}
	if typ := reg.Lookup(4000000000); typ.Kind != pgvalue.Unknown {
		t.Errorf("missing oid: got kind %v, want unknown", typ.Kind)
	}

	got := string(pgvalue.AppendJSON(nil, smallArr, []byte("{1.50,NULL,999.99}")))
	if want := `["1.50",null,"999.99"]`; got != want {
		t.Errorf("small_price[] value: got %s, want %s", got, want)
	}
	got = string(pgvalue.AppendJSON(nil, moodArr, []byte("{sad,happy}")))
	if want := `["sad","happy"]`; got != want {
		t.Errorf("mood[] value: got %s, want %s", got, want)
	}

	// A second Load of known types sends no query: it works on a closed conn.
	closed := connect(t, ctx, pg.DSN("postgres"), nil)
	_ = closed.Close(ctx)
	if err := reg.Load(ctx, closed, oidOf["mood"], oidOf["_small_price"], 23); err != nil {
		t.Errorf("Load of known types queried the server: %v", err)
	}
	if err := reg.Load(ctx, closed, oidOf["_pair"]); err == nil {
		t.Error("Load of an unknown type on a closed connection did not fail")
	}
}
