package mysql

import (
	"strings"

	"github.com/tributary-cdc/tributary/replicator"
)

// streamFilter drops the stream's row changes that a resumed snapshot has
// already read. A snapshot interrupted by a crash is continued in a new
// consistent snapshot (run) at a later binlog point, and streaming starts at
// the first run's point P1. A row read in run r reflects every transaction
// up to run r's point, so a change to that row from a transaction at or
// before that point is dropped; later ones pass. Key ranges are known
// per table: integer primary keys in chunk-sized ranges, other tables as a
// whole (they are read again in full when interrupted).
type streamFilter struct {
	gtid   bool
	runs   []filterRun
	tables map[string][]snapSegment // "db.table"
}

type filterRun struct {
	pos snapPos
	set gtidSet
}

// newStreamFilter returns the filter for a finished snapshot, or nil when
// the snapshot took one run (streaming from its point needs no filter).
func newStreamFilter(srv *serverInfo, st *snapState) (*streamFilter, error) {
	if st == nil || len(st.Runs) < 2 {
		return nil, nil
	}
	f := &streamFilter{gtid: srv.gtid, tables: map[string][]snapSegment{}}
	for _, r := range st.Runs {
		if r.GTID == "" {
			f.gtid = false
		}
	}
	for _, r := range st.Runs {
		fr := filterRun{pos: r}
		if f.gtid {
			set, err := parseGTIDSet(srv.flavor, r.GTID)
			if err != nil {
				return nil, replicator.Permanent(err)
			}
			fr.set = set
		}
		f.runs = append(f.runs, fr)
	}
	for _, t := range st.Tables {
		f.tables[t.Name] = t.Segments
	}
	return f, nil
}

// txRef identifies a transaction's place in the binlog.
type txRef struct {
	gtid string
	file string
	pos  uint64 // start of the transaction
}

// atOrBefore reports whether the transaction is at or before run r's point.
func (f *streamFilter) atOrBefore(r int, tx txRef) bool {
	if r < 0 || r >= len(f.runs) {
		return false
	}
	if f.gtid && tx.gtid != "" {
		return f.runs[r].set.contains(tx.gtid)
	}
	return compareFilePos(tx.file, tx.pos, f.runs[r].pos.File, f.runs[r].pos.Pos) < 0
}

// passed reports whether tx is after every run's point: the filter is then
// no longer needed.
func (f *streamFilter) passed(tx txRef) bool {
	for r := range f.runs {
		if f.atOrBefore(r, tx) {
			return false
		}
	}
	return true
}

// drop reports whether a change of the row with primary key key (the JSON
// values of the key columns; nil when unknown) in table t, made by tx, is
// already reflected in the snapshot.
func (f *streamFilter) drop(t *table, key []string, tx txRef) bool {
	segs := f.tables[t.db+"."+t.name]
	if len(segs) == 0 {
		return false
	}
	seg := segs[0]
	if len(segs) > 1 {
		if !t.intPK || key == nil {
			return false // cannot place the row: keep it (later changes overwrite)
		}
		found := false
		for _, sg := range segs {
			if len(sg.UpTo) == 0 || compareIntKeys(key, sg.UpTo) <= 0 {
				seg, found = sg, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return f.atOrBefore(seg.Run, tx)
}

// compareIntKeys compares two primary keys of decimal integers.
func compareIntKeys(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := compareInt(a[i], b[i]); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

func compareInt(a, b string) int {
	an, bn := strings.HasPrefix(a, "-"), strings.HasPrefix(b, "-")
	switch {
	case an && !bn:
		return -1
	case !an && bn:
		return 1
	case an && bn:
		return -compareInt(a[1:], b[1:])
	}
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}
