// Package postgres is Tributary's PostgreSQL source. It reads the logical
// replication stream of the pgoutput plugin (protocol version 1) through
// jackc/pglogrepl and pgx v5, and turns it into change events.
//
// The source creates the publication and a permanent logical slot when they
// are missing, takes an initial snapshot in the slot's exported snapshot (so
// that the snapshot and the stream meet with nothing missed or repeated),
// then streams inserts, updates, deletes and truncates in commit order.
//
// Positions: every event carries the commit's end LSN; the slot's confirmed
// flush LSN is reported only when the pipeline calls Confirm, that is after
// every sink durably stored the whole transaction. Keepalives that ask for a
// reply are always answered, and while nothing is pending the source reports
// the server's WAL end, so an idle slot never pins WAL.
//
// Event IDs are "<source>:<commit LSN>:<index in transaction>" for streamed
// changes and "<source>:snap:<consistent point>:<row number>" for snapshot
// reads; a replay of the same WAL yields the same IDs.
//
// Unchanged TOASTed values that PostgreSQL does not send in an update are
// emitted as change.Unavailable ("__debezium_unavailable_value") unless the
// before image (REPLICA IDENTITY FULL) holds the value, which is then copied.
package postgres
