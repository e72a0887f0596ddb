package postgres

import (
	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/replicator/postgres/pgvalue"
)

// relation is the source's view of a table, from the latest Relation
// message (or the catalog, during the snapshot). A Relation message mid-stream
// replaces it, so later events use the new columns and types.
type relation struct {
	id        uint32
	namespace string
	name      string
	cols      []column
}

type column struct {
	name string
	oid  uint32
	key  bool
	typ  *pgvalue.Type
}

// rowBuilder turns tuples into change.Rows, appending every value's JSON
// into one buffer per row so that a row costs few allocations.
type rowBuilder struct {
	types *pgvalue.Registry
}

// build converts a tuple of rel into a Row. keyOnly keeps only key columns
// (a before image sent as the replica identity key). fill, when not nil, is
// a before image whose values replace unchanged-TOAST markers.
func (b *rowBuilder) build(rel *relation, cols []tupleCol, keyOnly bool, fill change.Row) change.Row {
	size := 0
	for i := range cols {
		size += len(cols[i].data) + 8
	}
	buf := make([]byte, 0, size+size/4+16)
	n := len(cols)
	if n > len(rel.cols) {
		n = len(rel.cols)
	}
	row := make(change.Row, 0, n)
	for i := 0; i < n; i++ {
		c := &rel.cols[i]
		if keyOnly && !c.key {
			continue
		}
		start := len(buf)
		switch cols[i].kind {
		case tupleNull:
			row = append(row, change.Field{Name: c.name})
			continue
		case tupleToast:
			if v, ok := fill.Get(c.name); ok && len(v) > 0 && string(v) != string(change.UnavailableJSON) {
				buf = append(buf, v...)
			} else {
				buf = append(buf, change.UnavailableJSON...)
			}
		case tupleBin:
			// Binary format is never requested; carry it as text so nothing is lost.
			buf = change.AppendString(buf, string(cols[i].data))
		default:
			buf = pgvalue.AppendJSON(buf, c.typ, cols[i].data)
		}
		row = append(row, change.Field{Name: c.name, Value: buf[start:len(buf):len(buf)]})
	}
	return row
}
