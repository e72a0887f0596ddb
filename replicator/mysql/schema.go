package mysql

import (
	"bytes"
	"fmt"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/tributary-cdc/tributary/replicator"
)

// table is a captured table as one TABLE_MAP event describes it: the
// columns of the rows events that follow, as they were when the rows were
// written (binlog_row_metadata=FULL carries names, signedness, charsets,
// ENUM/SET members and the primary key).
type table struct {
	db, name string
	cols     []column
	pk       []int  // primary key column indexes
	intPK    bool   // every primary key column is an integer
	skip     bool   // not a captured table
	raw      []byte // the TABLE_MAP event body this was decoded from
}

// schemaCache maps table IDs to decoded table maps. A TABLE_MAP event
// precedes the rows events of every transaction; its body is compared with
// the cached one, so a table is decoded again only after its definition
// (or table ID) changed.
type schemaCache struct {
	flavor string
	want   map[string]bool
	byID   map[uint64]*table
}

func newSchemaCache(flavor string, want map[string]bool) *schemaCache {
	return &schemaCache{flavor: flavor, want: want, byID: map[uint64]*table{}}
}

// lookup returns the captured table a TABLE_MAP event describes, or nil
// when the table is not captured.
func (sc *schemaCache) lookup(tm *replication.TableMapEvent, raw []byte) (*table, error) {
	if t, ok := sc.byID[tm.TableID]; ok && bytes.Equal(t.raw, raw) {
		if t.skip {
			return nil, nil
		}
		return t, nil
	}
	if !sc.want[string(tm.Schema)+"."+string(tm.Table)] {
		sc.byID[tm.TableID] = &table{skip: true, raw: append([]byte(nil), raw...)}
		return nil, nil
	}
	t, err := decodeTableMap(tm)
	if err != nil {
		return nil, err
	}
	t.raw = append([]byte(nil), raw...)
	sc.byID[tm.TableID] = t
	return t, nil
}

// decodeTableMap builds a table from a TABLE_MAP event with full metadata.
func decodeTableMap(tm *replication.TableMapEvent) (*table, error) {
	names := tm.ColumnNameString()
	n := int(tm.ColumnCount)
	if len(names) != n {
		return nil, fmt.Errorf("table map of %s.%s has no column names: set binlog_row_metadata=FULL on the server", tm.Schema, tm.Table)
	}
	t := &table{db: string(tm.Schema), name: string(tm.Table), cols: make([]column, n)}
	unsigned := tm.UnsignedMap()
	collations := tm.CollationMap()
	enums := tm.EnumStrValueMap()
	sets := tm.SetStrValueMap()
	enumColl := tm.EnumSetCollationMap()
	for i := 0; i < n; i++ {
		c := &t.cols[i]
		c.name = names[i]
		c.typ, c.meta = realType(tm.ColumnType[i], tm.ColumnMeta[i])
		c.unsigned = unsigned[i]
		if coll, ok := collations[i]; ok {
			c.cs = collationCharset(coll)
		}
		if coll, ok := collations[i]; ok && coll == binaryCollation {
			c.binary = true
			if c.typ == gomysql.MYSQL_TYPE_STRING {
				c.padTo = stringLength(tm.ColumnMeta[i])
			}
		}
		switch c.typ {
		case gomysql.MYSQL_TYPE_ENUM, gomysql.MYSQL_TYPE_SET:
			c.names = enums[i]
			if c.typ == gomysql.MYSQL_TYPE_SET {
				c.names = sets[i]
			}
			if cs := collationCharset(enumColl[i]); cs != csUTF8 {
				names := make([]string, len(c.names))
				for j, n := range c.names {
					names[j] = toUTF8(cs, n)
				}
				c.names = names
			}
		case gomysql.MYSQL_TYPE_BIT:
			c.bits = int(tm.ColumnMeta[i]>>8)*8 + int(tm.ColumnMeta[i]&0xFF)
		}
	}
	t.intPK = len(tm.PrimaryKey) > 0
	for _, k := range tm.PrimaryKey {
		if int(k) >= n {
			return nil, fmt.Errorf("table map of %s.%s: primary key column %d of %d", tm.Schema, tm.Table, k, n)
		}
		t.pk = append(t.pk, int(k))
		if !isIntType(t.cols[k].typ) {
			t.intPK = false
		}
	}
	return t, nil
}

// realType resolves the type a MYSQL_TYPE_STRING column really has (CHAR,
// BINARY, ENUM or SET), as go-mysql's decoder does.
func realType(typ byte, meta uint16) (byte, uint16) {
	if typ == gomysql.MYSQL_TYPE_STRING && meta >= 256 {
		b0 := byte(meta >> 8)
		if b0&0x30 != 0x30 {
			return b0 | 0x30, meta
		}
		return b0, meta
	}
	return typ, meta
}

// stringLength is the byte length of a CHAR/BINARY column from its metadata.
func stringLength(meta uint16) int {
	if meta >= 256 {
		b0, b1 := uint8(meta>>8), uint8(meta&0xFF)
		if b0&0x30 != 0x30 {
			return int(uint16(b1) | uint16((b0&0x30)^0x30)<<4)
		}
		return int(b1)
	}
	return int(meta)
}

func isIntType(t byte) bool {
	switch t {
	case gomysql.MYSQL_TYPE_TINY, gomysql.MYSQL_TYPE_SHORT, gomysql.MYSQL_TYPE_INT24,
		gomysql.MYSQL_TYPE_LONG, gomysql.MYSQL_TYPE_LONGLONG:
		return true
	}
	return false
}

// catalogTable is a table as information_schema describes it, for the
// snapshot's queries.
type catalogTable struct {
	db, name string
	cols     []string // every column, in table order
	types    []string // DATA_TYPE of each column
	pk       []string // primary key columns, in key order
	pkInt    []bool   // whether each key column is an integer type
	pkBinary []bool   // whether each key column holds bytes
}

// readCatalog reads a table's columns and primary key.
func readCatalog(conn *client.Conn, db, name string) (*catalogTable, error) {
	r, err := conn.Execute(`SELECT COLUMN_NAME, COLUMN_KEY, DATA_TYPE FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ` + quoteString(db) + ` AND TABLE_NAME = ` + quoteString(name) + ` ORDER BY ORDINAL_POSITION`)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s.%s: %w", db, name, err)
	}
	ct := &catalogTable{db: db, name: name}
	types := map[string]string{}
	for i := range r.Values {
		col, _ := r.GetString(i, 0)
		ct.cols = append(ct.cols, col)
		dt, _ := r.GetString(i, 2)
		ct.types = append(ct.types, dt)
		types[col] = dt
	}
	if len(ct.cols) == 0 {
		return nil, replicator.Permanent(fmt.Errorf("table %s.%s does not exist or has no columns", db, name))
	}
	r, err = conn.Execute(`SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
		WHERE TABLE_SCHEMA = ` + quoteString(db) + ` AND TABLE_NAME = ` + quoteString(name) + ` AND CONSTRAINT_NAME = 'PRIMARY'
		ORDER BY ORDINAL_POSITION`)
	if err != nil {
		return nil, fmt.Errorf("read primary key of %s.%s: %w", db, name, err)
	}
	for i := range r.Values {
		col, _ := r.GetString(i, 0)
		ct.pk = append(ct.pk, col)
		switch types[col] {
		case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
			ct.pkBinary = append(ct.pkBinary, true)
		default:
			ct.pkBinary = append(ct.pkBinary, false)
		}
		switch types[col] {
		case "tinyint", "smallint", "mediumint", "int", "bigint":
			ct.pkInt = append(ct.pkInt, true)
		default:
			ct.pkInt = append(ct.pkInt, false)
		}
	}
	return ct, nil
}

// allInt reports whether the table has a primary key of integer columns.
func (ct *catalogTable) allInt() bool {
	if len(ct.pk) == 0 {
		return false
	}
	for _, b := range ct.pkInt {
		if !b {
			return false
		}
	}
	return true
}
