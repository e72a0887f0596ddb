package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/replicator"
)

// streamBatch is the most events handed to the pipeline at once in the
// middle of a large transaction; a commit always hands over what it has.
const streamBatch = 512

// confirmPoll is how soon the loop looks for a new confirmation while
// delivered transactions wait to be confirmed.
const confirmPoll = 50 * time.Millisecond

// streamer is the state of one replication connection's stream.
type streamer struct {
	s     *Source
	meta  *pgconn.PgConn // regular connection, for type lookups
	repl  *pgconn.PgConn
	out   chan<- replicator.Batch
	db    string
	rels  map[uint32]*relation
	build rowBuilder

	batch replicator.Batch

	// The open transaction.
	inTxn      bool
	skip       bool  // already delivered before a reconnect, or already stored
	skipUpTo   int64 // events of this transaction already stored
	emitted    int   // events of this transaction handed over
	xid        uint32
	finalLSN   uint64
	commitMs   int64
	idx        int64
	tableOrder []tableCount
	idPrefix   []byte
	txID       string // "xid:commit LSN", the transaction block's id

	// idleLSN is the furthest LSN the server says it has sent us (keepalive
	// WAL end, empty transactions). It may be reported as flushed whenever
	// nothing we were handed is still waiting for confirmation.
	idleLSN  uint64
	lastSent uint64
	sentAt   time.Time

	oldCols, newCols []tupleCol

	// The last event the sinks already hold (Source.ResumeAfter).
	resumeLSN uint64
	resumeIdx int64
}

type tableCount struct {
	rel uint32
	n   int64
}

func (s *Source) stream(ctx context.Context, meta, repl *pgconn.PgConn, out chan<- replicator.Batch) error {
	db, err := currentDatabase(ctx, meta)
	if err != nil {
		return replicator.Classify(err)
	}
	args := []string{"proto_version '1'", "publication_names " + quoteLiteral(s.cfg.Publication)}
	if err := pglogrepl.StartReplication(ctx, repl, s.cfg.Slot, 0, pglogrepl.StartReplicationOptions{Mode: pglogrepl.LogicalReplication, PluginArgs: args}); err != nil {
		return replicator.Classify(fmt.Errorf("start replication on slot %s: %w", s.cfg.Slot, err))
	}
	s.state.Store("streaming")
	s.log.Info("streaming", "slot", s.cfg.Slot, "publication", s.cfg.Publication, "confirmed_lsn", change.FormatLSN(s.confirmed.Load()))
	st := &streamer{s: s, meta: meta, repl: repl, out: out, db: db, rels: map[uint32]*relation{},
		build: rowBuilder{types: s.types}, sentAt: time.Now()}
	st.resumeLSN, st.resumeIdx = s.resumePoint()
	if st.resumeLSN > 0 {
		// A stored event ahead of the server's WAL cannot come from this
		// server's history (a restored backup, another cluster): skipping by
		// it could drop changes, so it is not used.
		rows, err := query(ctx, meta, "SELECT pg_current_wal_lsn()::text")
		if err != nil || len(rows) != 1 {
			return replicator.Classify(fmt.Errorf("read the current WAL position: %w", err))
		}
		if cur, err := pglogrepl.ParseLSN(rows[0][0]); err == nil && st.resumeLSN > uint64(cur) {
			s.log.Warn("the last stored event is ahead of the server's WAL; not skipping by it", "stored_lsn", change.FormatLSN(st.resumeLSN), "wal_lsn", rows[0][0])
			st.resumeLSN, st.resumeIdx = 0, 0
		}
	}
	return st.run(ctx)
}

func (st *streamer) run(ctx context.Context) error {
	s := st.s
	for {
		if ctx.Err() != nil {
			return st.finish()
		}
		now := time.Now()
		flush := st.flushLSN()
		if flush > st.lastSent && now.Sub(st.sentAt) >= confirmPoll || now.Sub(st.sentAt) >= s.cfg.StatusInterval {
			if err := st.sendStatus(flush, false); err != nil {
				return replicator.Retryable(err)
			}
		}
		deadline := st.sentAt.Add(s.cfg.StatusInterval)
		if s.delivered.Load() > st.lastSent {
			deadline = now.Add(confirmPoll)
		}
		rctx, cancel := context.WithDeadline(ctx, deadline)
		msg, err := st.repl.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return st.finish()
			}
			if pgconn.Timeout(err) {
				continue
			}
			return replicator.Retryable(fmt.Errorf("receive from slot %s: %w", s.cfg.Slot, err))
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			if len(m.Data) == 0 {
				continue
			}
			switch m.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(m.Data[1:])
				if err != nil {
					return replicator.Retryable(fmt.Errorf("parse keepalive: %w", err))
				}
				st.seeWALEnd(uint64(ka.ServerWALEnd))
				if !st.inTxn && uint64(ka.ServerWALEnd) > st.idleLSN {
					st.idleLSN = uint64(ka.ServerWALEnd)
				}
				if ka.ReplyRequested {
					if err := st.sendStatus(st.flushLSN(), false); err != nil {
						return replicator.Retryable(err)
					}
				}
			case pglogrepl.XLogDataByteID:
				d := m.Data[1:]
				if len(d) < 24 {
					return replicator.Retryable(errors.New("short XLogData message"))
				}
				walStart := binary.BigEndian.Uint64(d)
				st.seeWALEnd(binary.BigEndian.Uint64(d[8:]))
				if err := st.handle(ctx, walStart, d[24:]); err != nil {
					return err
				}
			}
		case *pgproto3.ErrorResponse:
			return replicator.Classify(fmt.Errorf("slot %s: %w", s.cfg.Slot, pgconn.ErrorResponseToPgError(m)))
		case *pgproto3.CopyDone:
			return replicator.Retryable(fmt.Errorf("slot %s: server ended the replication stream", s.cfg.Slot))
		}
	}
}

func (st *streamer) seeWALEnd(lsn uint64) {
	if lsn > st.s.walEnd.Load() {
		st.s.walEnd.Store(lsn)
	}
}

// flushLSN is the position to report as flushed: the confirmed commit LSN,
// or, while nothing delivered awaits confirmation and no transaction is
// open, the furthest position the server has sent (so an idle or filtered
// stream never pins WAL).
func (st *streamer) flushLSN() uint64 {
	conf := st.s.confirmed.Load()
	if st.inTxn || len(st.batch) > 0 || st.s.delivered.Load() > conf {
		return conf
	}
	if st.idleLSN > conf {
		return st.idleLSN
	}
	return conf
}

func (st *streamer) sendStatus(lsn uint64, reply bool) error {
	err := pglogrepl.SendStandbyStatusUpdate(context.Background(), st.repl, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: pglogrepl.LSN(lsn), WALFlushPosition: pglogrepl.LSN(lsn), WALApplyPosition: pglogrepl.LSN(lsn),
		ReplyRequested: reply,
	})
	if err != nil {
		return fmt.Errorf("send standby status to slot %s: %w", st.s.cfg.Slot, err)
	}
	st.lastSent, st.sentAt = lsn, time.Now()
	st.s.stats.StatusSent.Add(1)
	return nil
}

// finish sends the last confirmed position before the connection closes.
func (st *streamer) finish() error {
	lsn := st.flushLSN()
	if err := st.sendStatus(lsn, false); err != nil {
		st.s.log.Warn("final standby status not sent", "err", err)
	} else {
		st.s.log.Info("stopped streaming", "confirmed_lsn", change.FormatLSN(lsn))
	}
	return nil
}

// deliver hands the current batch to the pipeline.
func (st *streamer) deliver(ctx context.Context) error {
	if len(st.batch) == 0 {
		return nil
	}
	select {
	case st.out <- st.batch:
		st.batch = nil
		return nil
	case <-ctx.Done():
		return nil
	}
}

// handle decodes one pgoutput message.
func (st *streamer) handle(ctx context.Context, walStart uint64, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	r := reader{b: data[1:]}
	switch data[0] {
	case msgBegin:
		st.finalLSN = r.u64()
		st.commitMs = pgTimeMillis(r.u64())
		st.xid = r.u32()
		st.inTxn, st.idx, st.emitted, st.skipUpTo = true, 0, 0, 0
		st.tableOrder = st.tableOrder[:0]
		// A transaction at or before what this process already handed to the
		// pipeline is a replay after a reconnect, and one before the last
		// stored event is a replay after a restart: skip it. The transaction
		// of the last stored event is skipped up to that event.
		st.skip = st.finalLSN < st.s.delivered.Load() || st.finalLSN < st.resumeLSN
		if st.finalLSN == st.resumeLSN {
			st.skipUpTo = st.resumeIdx
		}
		st.idPrefix = strconv.AppendUint(append(append(st.idPrefix[:0], st.s.cfg.Name...), ':'), st.finalLSN, 10)
		st.idPrefix = append(st.idPrefix, ':')
		st.txID = strconv.FormatUint(uint64(st.xid), 10) + ":" + strconv.FormatUint(st.finalLSN, 10)
	case msgCommit:
		r.u8()
		r.u64() // commit LSN
		end := r.u64()
		st.inTxn = false
		if st.skip || st.emitted == 0 {
			// Nothing published in this transaction: it only moves the position.
			if end > st.idleLSN {
				st.idleLSN = end
			}
			return r.err
		}
		last := st.batch[len(st.batch)-1]
		last.TxEnd, last.Position = true, positionLSN(end)
		st.s.lastCommitMs.Store(st.commitMs)
		st.s.delivered.Store(end)
		st.s.stats.Transactions.Add(1)
		if err := st.deliver(ctx); err != nil {
			return err
		}
	case msgRelation:
		return st.relation(ctx, &r)
	case msgInsert, msgUpdate, msgDelete:
		if st.skip {
			return nil
		}
		return st.row(ctx, data[0], walStart, &r)
	case msgTruncate:
		if st.skip {
			return nil
		}
		n := int(r.u32())
		r.u8() // options
		for i := 0; i < n && r.err == nil; i++ {
			rel, ok := st.rels[r.u32()]
			if !ok {
				return replicator.Retryable(errors.New("truncate of a relation never described"))
			}
			st.emit(ctx, rel, change.OpTruncate, walStart, nil, nil)
		}
	case msgOrigin, msgType, msgMessage:
	default:
		// Streaming (protocol 2) and two-phase messages are never requested.
	}
	if r.err != nil {
		return replicator.Retryable(fmt.Errorf("decode pgoutput message %q: %w", data[0], r.err))
	}
	return nil
}

func (st *streamer) relation(ctx context.Context, r *reader) error {
	rel := &relation{id: r.u32(), namespace: r.str(), name: r.str()}
	r.u8() // replica identity
	n := int(r.u16())
	oids := make([]uint32, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		flags := r.u8()
		c := column{name: r.str(), oid: r.u32(), key: flags&1 == 1}
		r.u32() // type modifier
		rel.cols = append(rel.cols, c)
		oids = append(oids, c.oid)
	}
	if r.err != nil {
		return replicator.Retryable(fmt.Errorf("decode relation message: %w", r.err))
	}
	if err := st.s.types.Load(ctx, st.meta, oids...); err != nil {
		return replicator.Classify(fmt.Errorf("load types of %s.%s: %w", rel.namespace, rel.name, err))
	}
	for i := range rel.cols {
		rel.cols[i].typ = st.s.types.Lookup(rel.cols[i].oid)
	}
	st.rels[rel.id] = rel
	return nil
}

func (st *streamer) row(ctx context.Context, kind byte, walStart uint64, r *reader) error {
	rel, ok := st.rels[r.u32()]
	if !ok {
		return replicator.Retryable(fmt.Errorf("row change for a relation never described (message %q)", kind))
	}
	var before, after change.Row
	var op change.Op
	switch kind {
	case msgInsert:
		op = change.OpCreate
		r.u8() // 'N'
		st.newCols = r.tuple(st.newCols)
		after = st.build.build(rel, st.newCols, false, nil)
	case msgUpdate:
		op = change.OpUpdate
		t := r.u8()
		if t == 'K' || t == 'O' {
			st.oldCols = r.tuple(st.oldCols)
			before = st.build.build(rel, st.oldCols, t == 'K', nil)
			t = r.u8()
		}
		st.newCols = r.tuple(st.newCols)
		after = st.build.build(rel, st.newCols, false, before)
	case msgDelete:
		op = change.OpDelete
		t := r.u8()
		st.oldCols = r.tuple(st.oldCols)
		before = st.build.build(rel, st.oldCols, t == 'K', nil)
	}
	if r.err != nil {
		return replicator.Retryable(fmt.Errorf("decode %q message of %s.%s: %w", kind, rel.namespace, rel.name, r.err))
	}
	return st.emit(ctx, rel, op, walStart, before, after)
}

func (st *streamer) emit(ctx context.Context, rel *relation, op change.Op, lsn uint64, before, after change.Row) error {
	st.idx++
	var tableN int64
	for i := range st.tableOrder {
		if st.tableOrder[i].rel == rel.id {
			st.tableOrder[i].n++
			tableN = st.tableOrder[i].n
		}
	}
	if tableN == 0 {
		st.tableOrder = append(st.tableOrder, tableCount{rel: rel.id, n: 1})
		tableN = 1
	}
	if st.idx <= st.skipUpTo {
		return nil
	}
	st.emitted++
	ev := &change.Event{
		ID:     string(strconv.AppendInt(st.idPrefix, st.idx, 10)),
		Op:     op,
		Before: before,
		After:  after,
		Source: change.Source{Connector: "postgresql", Name: st.s.cfg.Name, TsMs: st.commitMs, Snapshot: "false",
			DB: st.db, Schema: rel.namespace, Table: rel.name, TxID: st.xid, LSN: lsn},
		TsMs: time.Now().UnixMilli(),
		Tx:   &change.Transaction{ID: st.txID, TotalOrder: st.idx, DataCollectionOrder: tableN},
	}
	st.batch = append(st.batch, ev)
	st.s.stats.Events.Add(1)
	if len(st.batch) >= streamBatch {
		return st.deliver(ctx)
	}
	return nil
}
