package pgvalue

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"
)

// builtin is one row of the generated built-in type table.
type builtin struct {
	oid   uint32
	name  string
	kind  Kind
	elem  uint32
	delim byte
}

// builtinTypes maps the OID of every built-in type to its shared Type.
var builtinTypes = func() map[uint32]*Type {
	m := make(map[uint32]*Type, len(builtins))
	for i := range builtins {
		b := &builtins[i]
		m[b.oid] = &Type{OID: b.oid, Name: b.name, Kind: b.kind, Delim: b.delim}
	}
	for i := range builtins {
		b := &builtins[i]
		if b.kind == Array {
			t := m[b.oid]
			if t.Elem = m[b.elem]; t.Elem == nil {
				t.Elem = &Type{OID: b.elem, Name: "unknown", Kind: Unknown}
			}
		}
	}
	return m
}()

// Registry maps type OIDs to Types. Every built-in type of PostgreSQL 15 is
// known from the start; Load adds the types a database defines (enums,
// domains, composites, extension types and their arrays). Lookup is safe to
// call from any goroutine, also while Load runs. The zero Registry is ready
// to use and knows the built-in types.
type Registry struct {
	mu    sync.Mutex                       // serializes Load
	types atomic.Pointer[map[uint32]*Type] // copy-on-write; nil = builtinTypes
}

// NewRegistry returns a Registry that knows PostgreSQL's built-in types.
func NewRegistry() *Registry { return &Registry{} }

func (r *Registry) snapshot() map[uint32]*Type {
	if m := r.types.Load(); m != nil {
		return *m
	}
	return builtinTypes
}

// Lookup returns the Type of oid. It never returns nil: an OID the Registry
// does not know gets a fresh Type of Kind Unknown, whose values AppendJSON
// emits as JSON strings of their text form.
func (r *Registry) Lookup(oid uint32) *Type {
	if t := r.snapshot()[oid]; t != nil {
		return t
	}
	return &Type{OID: oid, Name: "unknown", Kind: Unknown}
}

// Known reports whether the Registry has a Type for oid.
func (r *Registry) Known(oid uint32) bool {
	_, ok := r.snapshot()[oid]
	return ok
}

// maxLoadRounds bounds the recursion of Load through element and base types
// (an array of a domain over a domain over an enum takes 4 rounds).
const maxLoadRounds = 16

// Load looks up in pg_type the OIDs the Registry does not know yet, and the
// element and base types they refer to, recursively (an array of an enum, a
// domain over numeric, an array of a domain over a domain). It uses only the
// simple query protocol, so conn may be a replication connection
// (replication=database). OIDs missing from pg_type (a type dropped since)
// stay unknown and are not an error: their values are emitted as text.
// Load holds conn for the duration of its queries, so it must not be called
// while another operation is in progress on conn; in particular not on a
// replication connection after START_REPLICATION, which is in COPY mode:
// load before starting the stream, or over a second connection. OIDs
// already known send no query.
func (r *Registry) Load(ctx context.Context, conn *pgconn.PgConn, oids ...uint32) error {
	r.mu.Lock()
	defer r.mu.Unlock()

	known := r.snapshot()
	rows := map[uint32]typeRow{}
	pending := missing(known, rows, oids)
	for round := 0; len(pending) > 0; round++ {
		if round == maxLoadRounds {
			return fmt.Errorf("load types: element/base type chain deeper than %d at oids %v", maxLoadRounds, pending)
		}
		got, err := queryTypes(ctx, conn, pending)
		if err != nil {
			return err
		}
		var next []uint32
		for _, row := range got {
			rows[row.oid] = row
			next = append(next, row.elem, row.base)
		}
		for _, oid := range pending {
			if _, ok := rows[oid]; !ok {
				rows[oid] = typeRow{oid: oid, kind: Unknown} // not found: stays text
			}
		}
		pending = missing(known, rows, next)
	}
	if len(rows) == 0 {
		return nil
	}

	// Build the new Types, link them to each other and to the known ones,
	// then publish a new map: published Types are never modified.
	m := make(map[uint32]*Type, len(known)+len(rows))
	for oid, t := range known {
		m[oid] = t
	}
	fresh := make(map[uint32]*Type, len(rows))
	for oid, row := range rows {
		if row.kind == Unknown {
			continue
		}
		t := &Type{OID: oid, Name: row.name, Kind: row.kind, Delim: row.delim}
		fresh[oid] = t
		m[oid] = t
	}
	link := func(oid uint32) *Type {
		if t := m[oid]; t != nil {
			return t
		}
		return &Type{OID: oid, Name: "unknown", Kind: Unknown}
	}
	for oid, t := range fresh {
		switch t.Kind {
		case Array:
			t.Elem = link(rows[oid].elem)
		case Domain:
			t.Base = link(rows[oid].base)
		}
	}
	r.types.Store(&m)
	return nil
}

// missing returns the OIDs in oids, without duplicates and zeros, that are
// neither known nor already fetched.
func missing(known map[uint32]*Type, fetched map[uint32]typeRow, oids []uint32) []uint32 {
	var out []uint32
	seen := map[uint32]bool{}
	for _, oid := range oids {
		if oid == 0 || seen[oid] {
			continue
		}
		seen[oid] = true
		if _, ok := known[oid]; ok {
			continue
		}
		if _, ok := fetched[oid]; ok {
			continue
		}
		out = append(out, oid)
	}
	return out
}

// typeRow is one pg_type row as Load reads it.
type typeRow struct {
	oid   uint32
	name  string
	kind  Kind
	elem  uint32 // element type, for arrays
	base  uint32 // base type, for domains
	delim byte
}

// queryTypes reads the pg_type rows of oids with one simple-protocol query.
// A true array is told apart from other types with a typelem (name, point,
// int2vector) the way PostgreSQL versions before 14 allow: category 'A' and
// variable length. The OIDs are integers formatted by us, so building the
// statement text is safe.
func queryTypes(ctx context.Context, conn *pgconn.PgConn, oids []uint32) ([]typeRow, error) {
	var sb strings.Builder
	sb.WriteString("SELECT t.oid, t.typname, t.typtype, t.typelem, t.typbasetype, t.typdelim," +
		" t.typcategory = 'A' AND t.typlen = -1 AND t.typelem <> 0" +
		" FROM pg_catalog.pg_type t WHERE t.oid IN (")
	for i, oid := range oids {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.FormatUint(uint64(oid), 10))
	}
	sb.WriteString(")")

	results, err := conn.Exec(ctx, sb.String()).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("load types %v from pg_type: %w", oids, err)
	}
	var out []typeRow
	for _, res := range results {
		for _, cols := range res.Rows {
			row, err := parseTypeRow(cols)
			if err != nil {
				return nil, fmt.Errorf("load types %v from pg_type: %w", oids, err)
			}
			out = append(out, row)
		}
	}
	return out, nil
}

func parseTypeRow(cols [][]byte) (typeRow, error) {
	if len(cols) != 7 {
		return typeRow{}, fmt.Errorf("pg_type row has %d columns, want 7", len(cols))
	}
	var row typeRow
	var err error
	if row.oid, err = parseOID(cols[0]); err != nil {
		return row, fmt.Errorf("oid: %w", err)
	}
	row.name = string(cols[1])
	if row.elem, err = parseOID(cols[3]); err != nil {
		return row, fmt.Errorf("type %s: typelem: %w", row.name, err)
	}
	if row.base, err = parseOID(cols[4]); err != nil {
		return row, fmt.Errorf("type %s: typbasetype: %w", row.name, err)
	}
	row.delim = ','
	if len(cols[5]) == 1 {
		row.delim = cols[5][0]
	}
	isArray := string(cols[6]) == "t"
	switch string(cols[2]) {
	case "b":
		row.kind = Base
	case "c":
		row.kind = Composite
	case "d":
		row.kind = Domain
	case "e":
		row.kind = Enum
	case "r":
		row.kind = Range
	case "m":
		row.kind = Multirange
	case "p":
		row.kind = Pseudo
	default:
		row.kind = Unknown
	}
	if isArray {
		row.kind = Array
	} else {
		row.elem = 0
	}
	if row.kind != Domain {
		row.base = 0
	}
	return row, nil
}

func parseOID(b []byte) (uint32, error) {
	n, err := strconv.ParseUint(string(b), 10, 32)
	return uint32(n), err
}
