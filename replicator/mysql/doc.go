// Package mysql is Tributary's MySQL and MariaDB source. It reads the
// binary log directly with go-mysql's BinlogSyncer (registering as a
// replica under the configured server_id), decodes row events with the
// column metadata of their TABLE_MAP events, and turns them into change
// events in commit order.
//
// # Server requirements
//
// log_bin on, binlog_format=ROW, binlog_row_image=FULL,
// binlog_row_metadata=FULL (MySQL 8.0.1+, MariaDB 10.5+), a source
// server_id distinct from the server's, and the REPLICATION SLAVE,
// REPLICATION CLIENT (BINLOG MONITOR on MariaDB) and SELECT privileges; on
// MySQL the snapshot also needs RELOAD (FLUSH TABLES WITH READ LOCK). Run
// checks them all and fails with one error that lists each problem and
// its fix.
//
// # Schema
//
// Column names, signedness, character sets, ENUM/SET members and the
// primary key come from each TABLE_MAP event (binlog_row_metadata=FULL),
// never from information_schema, so a replay of old binlog after an ALTER
// TABLE maps the columns as they were when the row was written. DDL needs
// no handling beyond that: ALTER and RENAME are logged; TRUNCATE of a
// captured table becomes an op "t" event. The snapshot alone reads
// information_schema, inside its consistent-snapshot transaction.
//
// # Positions and events
//
// MariaDB positions are GTID positions (domain-server-seq, one per domain,
// as gtid_slave_pos); MySQL uses its uuid:interval GTID set when gtid_mode
// is ON, and file and offset otherwise. Every event carries the server_id
// that wrote it, the transaction's GTID, the binlog file and the offset of
// its rows event, and its row index in that event. The transaction ID is
// the GTID (file:offset of the transaction start without GTIDs); event IDs
// are "<source>:<transaction ID>:<index in transaction>", so a replay of
// the same binlog yields the same IDs. The last event of a transaction
// (at its XID, COMMIT or DDL) carries TxEnd and the position to resume
// from: the whole GTID set executed so far, and the file and end offset of
// the transaction.
//
// Confirm only records a position in memory; a saver goroutine persists it
// (state key "mysql.<source>.position") at most every SaveInterval and when
// Run returns. A position is saved only after Confirm, so only after every
// sink holds the transaction, and only at transaction ends. Transactions
// that touch no captured table move the saved position too, once nothing
// handed over awaits confirmation, so a quiet source does not fall behind
// the server's binlog retention. On start the source resumes from the
// saved position; when the server has purged binlog it needs, Run fails
// with a permanent error naming the position, the oldest binlog available,
// and the recovery (delete the saved position to take a fresh snapshot).
// It never skips ahead. After a lost connection Run returns a retryable
// error and, run again, resumes where this process handed over its last
// transaction (what was handed over is durable or the process dies); the
// rest of a large transaction interrupted mid-way is handed over without
// its first part again. After a crash the transactions confirmed since the
// last save are streamed again with the same event IDs, which the
// JetStream sink's message-ID deduplication absorbs.
//
// # Snapshot
//
// With snapshot: initial and no saved position, every table is read in a
// consistent-snapshot transaction (REPEATABLE READ, START TRANSACTION WITH
// CONSISTENT SNAPSHOT). MariaDB reports the binlog position of that
// snapshot (binlog_snapshot_file/position, with BINLOG_GTID_POS for the
// GTID position), so no lock is taken at all. MySQL takes FLUSH TABLES
// WITH READ LOCK only around starting the transaction and reading the
// position, never during the scan. Rows are read in primary-key order in
// chunks (ChunkSize rows, WHERE key > last key) and emitted as op "r";
// each chunk is confirmed like a transaction and its confirmation records
// the progress (state key "mysql.<source>.snapshot"). Streaming then
// starts at the snapshot's position, so the snapshot and the stream meet
// with nothing missed or repeated.
//
// Resuming after a crash: the chunks already emitted were read at point
// P1; a resumed run opens a new consistent snapshot at a later point P2
// and reads only the rows after the last confirmed key. Streaming starts
// at P1, and until the stream passes P2 a filter drops each row change
// that the snapshot already reflects: a change to a key read at P1 passes,
// a change at or before P2 to a key read at P2 is dropped (an update whose
// old and new keys fall on different sides becomes a create or a delete).
// Each key's history is thus its snapshot read followed by every later
// change, once: nothing lost, nothing repeated. This holds for tables with
// an integer primary key, whose key ranges the filter can compare. A table
// with another key (or none) that was interrupted mid-table is read again
// in full in the new run: its rows read before the crash appear twice as
// op "r" (the second read, at P2, supersedes the first; changes up to P2
// are dropped for it), which is the one duplication this source can
// produce besides one more: progress is saved every SaveInterval, so after
// a crash (not a clean stop) the chunks confirmed in that last interval
// may be read again the same way. Tables finished before the crash are
// never read again. A snapshot interrupted by a lost connection in a
// running process continues from what it handed over, without repeats.
//
// # Values
//
//	MySQL type                    JSON
//	----------------------------  ------------------------------------------------
//	TINYINT..BIGINT [UNSIGNED]    number, every digit (unsigned BIGINT exact)
//	DECIMAL                       string "12.50" (scale as declared)
//	FLOAT, DOUBLE                 number, shortest form that reads back the same
//	BIT(n)                        string of n binary digits "0101"
//	ENUM, SET                     string: the member name; SET members comma-joined
//	                              in definition order ("a,c"); the empty error value ""
//	DATE                          string "2024-06-30"
//	DATETIME(fsp)                 string "2024-06-30T10:34:56.789000" (fsp digits kept)
//	TIMESTAMP(fsp)                string "2024-06-30T10:34:56.789Z" (UTC)
//	TIME(fsp)                     string "-838:59:59.50" as MySQL prints it
//	zero / partial-zero dates     string as MySQL prints it: "0000-00-00",
//	                              "0000-00-00 00:00:00" (no ISO form exists)
//	YEAR                          number 2024 (0 for YEAR 0000)
//	CHAR, VARCHAR, TEXT           string, converted to UTF-8 from latin1, ucs2,
//	                              utf16, utf32; utf8mb4 4-byte characters kept
//	BINARY, VARBINARY, BLOB       string, standard base64 (BINARY(n) zero-padded to n)
//	JSON                          string holding the JSON text (MariaDB: as stored;
//	                              MySQL: binary JSON decoded by go-mysql)
//	GEOMETRY and subtypes         {"wkb": "<base64 WKB>", "srid": 4326}, Debezium's shape
//	MariaDB UUID, INET4, INET6    string, base64 of the binary form: the binlog carries
//	                              them as BINARY(16)/(4) with no type name, so the
//	                              snapshot reads CAST(col AS BINARY) to match
//
// A snapshot row and a binlog row of the same data encode the same; the
// every-type test checks it column by column.
//
// Tested against MariaDB 10.11. MySQL 8 is supported by design (flavor
// detection, uuid:interval GTID sets, SHOW BINARY LOG STATUS on 8.4,
// FLUSH TABLES WITH READ LOCK for the snapshot position, binary JSON,
// compressed transaction payloads) but was not tested: no MySQL server is
// installed here.
package mysql
