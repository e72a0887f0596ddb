package change

import (
	"strconv"
	"strings"
)

// Version is the Tributary version written into every event's source block.
const Version = "0.1.0"

// Op is the kind of row change, as Debezium spells it.
type Op byte

// The operations an Event can carry.
const (
	OpCreate   Op = 'c' // insert
	OpUpdate   Op = 'u' // update
	OpDelete   Op = 'd' // delete
	OpRead     Op = 'r' // row read by a snapshot
	OpTruncate Op = 't' // table truncated
)

// String returns the one-letter code of op.
func (op Op) String() string { return string(rune(op)) }

// Valid reports whether op is one of the defined operations.
func (op Op) Valid() bool {
	switch op {
	case OpCreate, OpUpdate, OpDelete, OpRead, OpTruncate:
		return true
	}
	return false
}

// Unavailable is the placeholder written for a value the source did not
// send, such as an unchanged TOASTed column in a PostgreSQL update. It is the
// string Debezium uses, so Debezium consumers recognise it.
const Unavailable = "__debezium_unavailable_value"

// UnavailableJSON is Unavailable encoded as a JSON string.
var UnavailableJSON = []byte(`"` + Unavailable + `"`)

// Field is one column of a row image: its name and its value as raw JSON
// (nil or "null" for SQL NULL).
type Field struct {
	Name  string
	Value []byte
}

// Row is a row image: the columns in table order. A nil Row is "no image".
type Row []Field

// Get returns the raw JSON value of the named column and whether it exists.
func (r Row) Get(name string) ([]byte, bool) {
	for i := range r {
		if r[i].Name == name {
			return r[i].Value, true
		}
	}
	return nil, false
}

// Source is the source block of an event: where the change came from.
// PostgreSQL fills TxID and LSN; MySQL fills ServerID, GTID, File, Pos, Row.
type Source struct {
	Connector string // "postgresql" or "mysql"
	Name      string // the source's configured name
	TsMs      int64  // commit time at the source, in ms since the epoch
	Snapshot  string // "true", "last" or "false"
	DB        string
	Schema    string // PostgreSQL schema; empty for MySQL
	Table     string

	// PostgreSQL.
	TxID uint32
	LSN  uint64

	// MySQL.
	ServerID uint32
	GTID     string
	File     string
	Pos      uint64
	Row      int
}

// Namespace returns the schema (PostgreSQL) or database (MySQL) of the table.
func (s *Source) Namespace() string {
	if s.Schema != "" {
		return s.Schema
	}
	return s.DB
}

// Transaction is the transaction block of an event.
type Transaction struct {
	ID                  string // "txid:commitLSN" for PostgreSQL, the GTID or file:pos for MySQL
	TotalOrder          int64  // 1-based index of the event in its transaction
	DataCollectionOrder int64  // 1-based index among the transaction's events of the same table
}

// Position is a place in a source's log that can be confirmed once every
// event before it is durable. PostgreSQL uses LSN; MySQL uses GTID (a full
// GTID set) or File and Pos.
type Position struct {
	LSN  uint64
	GTID string
	File string
	Pos  uint64
}

// IsZero reports whether p is the zero position.
func (p Position) IsZero() bool { return p == Position{} }

// String returns p in a compact human form.
func (p Position) String() string {
	switch {
	case p.GTID != "":
		return p.GTID
	case p.File != "":
		return p.File + ":" + strconv.FormatUint(p.Pos, 10)
	default:
		return FormatLSN(p.LSN)
	}
}

// FormatLSN formats a PostgreSQL LSN the way PostgreSQL prints it (16/B374D848).
func FormatLSN(lsn uint64) string {
	return strings.ToUpper(strconv.FormatUint(lsn>>32, 16)) + "/" + strings.ToUpper(strconv.FormatUint(lsn&0xffffffff, 16))
}

// Event is one row change (or a truncate) with everything a sink needs to
// publish it and the pipeline needs to confirm it.
type Event struct {
	// ID is deterministic: source name, position and index in the transaction.
	// Replaying the same change yields the same ID, which sinks use for dedup.
	ID     string
	Op     Op
	Before Row // nil when the source has no before image
	After  Row // nil for deletes and truncates
	Source Source
	TsMs   int64 // when Tributary processed the event, in ms since the epoch
	Tx     *Transaction

	// Position is where the source may resume after this event's transaction;
	// meaningful only when TxEnd is true. Not encoded.
	Position Position
	// TxEnd marks the last event of a transaction (or of a snapshot batch):
	// once it is durable everywhere, Position may be confirmed. Not encoded.
	TxEnd bool
}

// Key returns the routing key of the event: "<source>.<schema-or-db>.<table>".
func (e *Event) Key() string {
	return e.Source.Name + "." + e.Source.Namespace() + "." + e.Source.Table
}
