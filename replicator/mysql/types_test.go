package mysql

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/internal/testenv"
	"github.com/tributary-cdc/tributary/replicator/replicatortest"
)

const typesDDL = `CREATE DATABASE IF NOT EXISTS shop;
CREATE TABLE shop.types (
  id BIGINT UNSIGNED PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  dec1 DECIMAL(30,10), dec2 DECIMAL(5,0), f FLOAT, d DOUBLE,
  b1 BIT(1), b12 BIT(12), b64 BIT(64),
  e ENUM('small','medium','large'), st SET('a','b','c','d'), j JSON,
  dt DATETIME, dt6 DATETIME(6), ts TIMESTAMP(3) NULL, t TIME(2), dte DATE, y YEAR,
  zd DATE, zdt DATETIME, zts TIMESTAMP NULL,
  bl BLOB, bin BINARY(4), vbin VARBINARY(10),
  txt TEXT, vc VARCHAR(50), ch CHAR(5), lat VARCHAR(10) CHARACTER SET latin1, le ENUM('né','x') CHARACTER SET latin1, u16 VARCHAR(10) CHARACTER SET utf16,
  g GEOMETRY, pt POINT,
  u UUID, ip INET6, bo BOOLEAN,
  n INT NULL)`

const typesValues = `(18446744073709551615, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
  -9223372036854775808, 18446744073709551615,
  '12345678901234567890.0123456789', -99999, 3.14, 2.718281828459045,
  b'1', b'101010101010', b'1111111111111111111111111111111111111111111111111111111111111111',
  'medium', 'c,a', '{"k": [1, 2.5, "x"], "n": null}',
  '2024-06-30 10:34:56', '2024-06-30 10:34:56.789012', '2024-06-30 10:34:56.789', '-838:59:59.50', '2024-02-29', 2024,
  '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00',
  X'00FF10', X'6162', X'000102',
  'héllo wörld 😀 "q" \\ end', 'emoji 🚀 4-byte', 'ab', 'café€', 'né', 'ü𝄞',
  ST_GeomFromText('POINT(1 2)', 4326), ST_GeomFromText('POINT(3 4)'), '6ccd780c-baba-1026-9564-5b8c656024db', '2001:db8::1', TRUE, NULL)`

// typesWant is the JSON expected for each column of typesValues (id aside).
var typesWant = map[string]string{
	"ti": `-128`, "tiu": `255`, "si": `-32768`, "siu": `65535`, "mi": `-8388608`, "miu": `16777215`,
	"i": `-2147483648`, "iu": `4294967295`, "bi": `-9223372036854775808`, "biu": `18446744073709551615`,
	"dec1": `"12345678901234567890.0123456789"`, "dec2": `"-99999"`, "f": `3.14`, "d": `2.718281828459045`,
	"b1": `"1"`, "b12": `"101010101010"`, "b64": `"` + strings.Repeat("1", 64) + `"`,
	"e": `"medium"`, "st": `"a,c"`, "j": `"{\"k\": [1, 2.5, \"x\"], \"n\": null}"`,
	"dt": `"2024-06-30T10:34:56"`, "dt6": `"2024-06-30T10:34:56.789012"`, "ts": `"2024-06-30T10:34:56.789Z"`,
	"t": `"-838:59:59.50"`, "dte": `"2024-02-29"`, "y": `2024`,
	"zd": `"0000-00-00"`, "zdt": `"0000-00-00 00:00:00"`, "zts": `"0000-00-00 00:00:00"`,
	"bl": `"AP8Q"`, "bin": `"YWIAAA=="`, "vbin": `"AAEC"`,
	"txt": `"héllo wörld 😀 \"q\" \\ end"`, "vc": `"emoji 🚀 4-byte"`, "ch": `"ab"`, "lat": `"café€"`, "le": `"né"`, "u16": `"ü𝄞"`,
	"g":  `{"wkb":"AQEAAAAAAAAAAADwPwAAAAAAAABA","srid":4326}`,
	"pt": `{"wkb":"AQEAAAAAAAAAAAAIQAAAAAAAABBA","srid":0}`,
	"u":  `"bM14DLq6ECaVZFuMZWAk2w=="`, "ip": `"IAENuAAAAAAAAAAAAAAAAQ=="`, "bo": `1`,
	"n": `null`,
}

// Every type: a row read by the snapshot and the same row written while
// streaming encode the same, and as expected.
func TestEveryType(t *testing.T) {
	m := testenv.MariaDB(t)
	m.Exec(t, typesDDL)
	m.ExecDB(t, "shop", "SET SESSION sql_mode = ''; SET SESSION time_zone = '+00:00'; INSERT INTO types VALUES "+typesValues)
	sink := &replicatortest.CollectSink{}
	r := startSource(t, testConfig(t, m, "shop.types"), sink)
	waitStreaming(t, r.src)
	// The same row with another key, and one of NULLs; then an update and a delete.
	m.ExecDB(t, "shop", "SET SESSION sql_mode = ''; SET SESSION time_zone = '+05:00'; SET SESSION time_zone = '+00:00';"+
		"INSERT INTO types VALUES "+strings.Replace(typesValues, "(18446744073709551615,", "(1,", 1)+
		"; INSERT INTO types (id) VALUES (2); UPDATE types SET ti = 1, ts = '2000-01-01 00:00:00.5' WHERE id = 1; DELETE FROM types WHERE id = 2")
	waitCaughtUp(t, m, r.src)
	r.stop(t)

	evs := sink.Snapshot()
	if len(evs) != 5 {
		t.Fatalf("%d events, want 5 (r, c, c, u, d)", len(evs))
	}
	ops := ""
	for _, ev := range evs {
		ops += ev.Op.String()
	}
	if ops != "rccud" {
		t.Fatalf("ops %q, want rccud", ops)
	}
	snap, ins := evs[0].After, evs[1].After
	if got := field(t, snap, "id"); got != "18446744073709551615" {
		t.Errorf("snapshot id = %s", got)
	}
	for name, want := range typesWant {
		if got := field(t, snap, name); got != want {
			t.Errorf("snapshot %s = %s, want %s", name, got, want)
		}
		if got := field(t, ins, name); got != want {
			t.Errorf("stream %s = %s, want %s", name, got, want)
		}
	}
	if len(snap) != len(typesWant)+1 || len(ins) != len(snap) {
		t.Errorf("columns: snapshot %d, stream %d, want %d", len(snap), len(ins), len(typesWant)+1)
	}
	for i := range snap {
		if snap[i].Name != ins[i].Name {
			t.Errorf("column %d: snapshot %s, stream %s", i, snap[i].Name, ins[i].Name)
		}
	}
	for _, f := range evs[2].After {
		if f.Name != "id" && f.Value != nil {
			t.Errorf("NULL row: %s = %s", f.Name, f.Value)
		}
	}
	up := evs[3]
	if field(t, up.Before, "ti") != "-128" || field(t, up.After, "ti") != "1" || field(t, up.After, "ts") != `"2000-01-01T00:00:00.500Z"` {
		t.Errorf("update before %s after %s", rowString(up.Before), rowString(up.After))
	}
	if evs[4].After != nil || field(t, evs[4].Before, "id") != "2" {
		t.Errorf("delete: %s", change.Marshal(evs[4]))
	}
	for _, ev := range evs {
		var v map[string]any
		if err := json.Unmarshal(change.Marshal(ev), &v); err != nil {
			t.Fatalf("event %s is not valid JSON: %v", ev.ID, err)
		}
	}
	in := evs[1]
	if in.Source.Connector != "mysql" || in.Source.DB != "shop" || in.Source.Table != "types" || in.Source.ServerID != 1 ||
		in.Source.GTID == "" || in.Source.File == "" || in.Source.Pos == 0 || in.Tx == nil || in.Tx.ID != in.Source.GTID {
		t.Errorf("source block %+v tx %+v", in.Source, in.Tx)
	}
	if want := "shop:" + in.Source.GTID + ":1"; in.ID != want {
		t.Errorf("ID %s, want %s", in.ID, want)
	}
	t.Logf("stream event: %s", change.Marshal(in))
}
