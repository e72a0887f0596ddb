package mysql

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/google/uuid"
	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/replicator"
)

// streamBatch is the most events handed to the pipeline at once in the
// middle of a large transaction; a transaction end always hands over what
// it has.
const streamBatch = 512

// streamer is the state of one binlog connection.
type streamer struct {
	s      *Source
	srv    *serverInfo
	out    chan<- replicator.Batch
	schema *schemaCache
	gtids  gtidSet // nil when positions are file and offset
	file   string
	filter *streamFilter
	crc    bool // events end in a CRC32 checksum (per the format description)

	batch replicator.Batch

	// The open transaction.
	inTx       bool
	tx         txRef
	txID       string
	txServerID uint32
	txMs       int64
	idx        int64
	tableOrder []tableCount
	idPrefix   []byte
	key        []string
	skipTo     int64  // events of this transaction already handed over before a reconnect
	stored     bool   // skipTo covers events the sinks already hold (ResumeAfter)
	resumeTx   string // the transaction of the last stored event, until passed
	resumeN    int64
	skipped    *change.Event // the last of those, rebuilt
}

type tableCount struct {
	t *table
	n int64
}

func (s *Source) stream(ctx context.Context, srv *serverInfo, start change.Position, filter *streamFilter, out chan<- replicator.Batch) error {
	host, port := s.dsn.Addr, uint16(0)
	if s.dsn.Net == "tcp" {
		h, p, err := net.SplitHostPort(s.dsn.Addr)
		if err != nil {
			return replicator.Permanent(fmt.Errorf("dsn address %q: %w", s.dsn.Addr, err))
		}
		n, _ := strconv.ParseUint(p, 10, 16)
		host, port = h, uint16(n)
	}
	cfg := replication.BinlogSyncerConfig{
		ServerID: s.cfg.ServerID, Flavor: srv.flavor, Host: host, Port: port,
		User: s.dsn.User, Password: s.dsn.Password, Charset: "utf8mb4",
		ParseTime: false, TimestampStringLocation: time.UTC, UseDecimal: false,
		HeartbeatPeriod: s.cfg.Heartbeat, ReadTimeout: 6 * s.cfg.Heartbeat,
		DisableRetrySync: true, DiscardGTIDSet: true, EventCacheCount: 256, // decoded rows events waiting for the loop: bounds memory
		Localhost: "tributary-" + s.cfg.Name,
		Logger:    slog.New(warnOnly{s.log.Handler()}),
	}
	if srv.flavor == gomysql.MariaDBFlavor && mariadbAtLeast(srv.version, 11, 4) {
		cfg.FillZeroLogPos = true
	}
	syncer := replication.NewBinlogSyncer(cfg)
	defer syncer.Close()
	st := &streamer{s: s, srv: srv, out: out, schema: newSchemaCache(srv.flavor, s.tables), file: start.File, filter: filter}
	st.resumeTx, st.resumeN = s.takeResume()
	var bs *replication.BinlogStreamer
	var err error
	if srv.gtid && start.GTID != "" {
		if st.gtids, err = parseGTIDSet(srv.flavor, start.GTID); err != nil {
			return replicator.Permanent(fmt.Errorf("saved position: %w", err))
		}
		set, err := gomysql.ParseGTIDSet(srv.flavor, start.GTID)
		if err != nil {
			return replicator.Permanent(fmt.Errorf("saved position: parse GTID set %q: %w", start.GTID, err))
		}
		bs, err = syncer.StartSyncGTID(set)
		if err != nil {
			return fmt.Errorf("start binlog stream at GTID %s: %w", start.GTID, err)
		}
	} else {
		if srv.gtid {
			st.gtids, _ = parseGTIDSet(srv.flavor, "")
		}
		bs, err = syncer.StartSync(gomysql.Position{Name: start.File, Pos: uint32(start.Pos)})
		if err != nil {
			return fmt.Errorf("start binlog stream at %s:%d: %w", start.File, start.Pos, err)
		}
	}
	s.state.Store("streaming")
	s.log.Info("streaming", "position", start, "flavor", srv.flavor, "server_id", s.cfg.ServerID)
	for {
		ev, err := bs.GetEvent(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var me *gomysql.MyError
			if asMyError(err, &me) && me.Code == gomysql.ER_MASTER_FATAL_ERROR_READING_BINLOG {
				msg := strings.ToLower(me.Message)
				switch {
				case strings.Contains(msg, "server_id") || strings.Contains(msg, "server_uuid") || strings.Contains(msg, "server id"):
					return replicator.Permanent(fmt.Errorf("the server refused the binlog stream: %s: give this source a server_id no other replica uses", me.Message))
				case strings.Contains(msg, "purged") || strings.Contains(msg, "could not find") || strings.Contains(msg, "not found"):
					return s.errPurged(start, "the server says: "+me.Message)
				}
				return replicator.Permanent(fmt.Errorf("the server cannot send the binlog from position %s: %s; Tributary never skips ahead: "+
					"if the server's binlog was reset, delete the saved position (%s and %s) to take a fresh snapshot", start, me.Message, s.positionKey(), s.snapshotKey()))
			}
			return replicator.Retryable(fmt.Errorf("read binlog: %w", err))
		}
		if err := st.handle(ctx, ev); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// handle processes one binlog event.
func (st *streamer) handle(ctx context.Context, ev *replication.BinlogEvent) error {
	h := ev.Header
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		st.file = string(e.NextLogName)
	case *replication.FormatDescriptionEvent:
		st.crc = e.ChecksumAlgorithm == replication.BINLOG_CHECKSUM_ALG_CRC32
	case *replication.MariadbGTIDEvent:
		g := e.GTID
		b := strconv.AppendUint(nil, uint64(g.DomainID), 10)
		b = strconv.AppendUint(append(b, '-'), uint64(g.ServerID), 10)
		b = strconv.AppendUint(append(b, '-'), g.SequenceNumber, 10)
		if ms, ok := st.gtids.(mariaSet); ok {
			ms[g.DomainID] = g // what add would do, without parsing the text again
			st.begin(string(b), h, int64(h.Timestamp)*1000, true)
			break
		}
		st.begin(string(b), h, int64(h.Timestamp)*1000, false)
	case *replication.GTIDEvent:
		if h.EventType == replication.ANONYMOUS_GTID_EVENT || e.GNO == 0 {
			st.begin("", h, int64(h.Timestamp)*1000, false) // gtid_mode OFF: no GTID, file:pos identifies it
			break
		}
		sid, err := uuid.FromBytes(e.SID)
		if err != nil {
			return replicator.Retryable(fmt.Errorf("GTID event: %w", err))
		}
		ms := int64(h.Timestamp) * 1000
		if e.OriginalCommitTimestamp > 0 {
			ms = int64(e.OriginalCommitTimestamp / 1000)
		}
		st.begin(sid.String()+":"+strconv.FormatInt(e.GNO, 10), h, ms, false)
	case *replication.QueryEvent:
		return st.query(ctx, e, h)
	case *replication.TableMapEvent:
		raw := ev.RawData
		if len(raw) > replication.EventHeaderSize {
			raw = raw[replication.EventHeaderSize:]
		}
		if st.crc && len(raw) >= replication.BinlogChecksumLength {
			raw = raw[:len(raw)-replication.BinlogChecksumLength] // the checksum covers the header: not part of the schema
		}
		if _, err := st.schema.lookup(e, raw); err != nil {
			return replicator.Permanent(err)
		}
	case *replication.RowsEvent:
		return st.rows(ctx, e, h)
	case *replication.XIDEvent:
		return st.end(ctx, h)
	case *replication.TransactionPayloadEvent:
		// MySQL binlog_transaction_compression: the inner events carry no
		// positions; they take the payload event's.
		for _, inner := range e.Events {
			ih := *inner.Header
			ih.LogPos, ih.EventSize = h.LogPos, h.EventSize
			inner.Header = &ih
			if err := st.handle(ctx, inner); err != nil {
				return err
			}
		}
	}
	return nil
}

// begin opens a transaction at the event with header h; tracked says the
// GTID is already added to the executed set.
func (st *streamer) begin(gtid string, h *replication.EventHeader, ms int64, tracked bool) {
	st.inTx, st.idx = true, 0
	st.tableOrder = st.tableOrder[:0]
	st.tx = txRef{gtid: gtid, file: st.file, pos: eventStart(h)}
	st.txServerID, st.txMs = h.ServerID, ms
	if gtid != "" {
		st.txID = gtid
		if st.gtids != nil && !tracked {
			if err := st.gtids.add(gtid); err != nil {
				st.s.log.Warn("cannot track GTID", "gtid", gtid, "err", err)
			}
		}
	} else {
		st.txID = st.tx.file + ":" + strconv.FormatUint(st.tx.pos, 10)
	}
	st.s.mu.Lock()
	st.skipTo, st.stored = 0, false
	if st.s.partialTx == st.txID {
		st.skipTo = st.s.partialN
	}
	st.s.mu.Unlock()
	if st.resumeTx != "" {
		// After a restart: skip what the sinks already hold.
		switch cmp, ok := resumeOrder(st.txID, st.resumeTx); {
		case ok && cmp < 0:
			st.skipTo, st.stored = math.MaxInt64, true
		case ok && cmp == 0:
			st.skipTo, st.stored = max(st.skipTo, st.resumeN), true
			st.resumeTx = ""
		default:
			st.resumeTx = "" // past it, or not comparable: publish from here on
		}
	}
	st.idPrefix = append(append(append(st.idPrefix[:0], st.s.cfg.Name...), ':'), st.txID...)
	st.idPrefix = append(st.idPrefix, ':')
	if st.filter != nil && st.filter.passed(st.tx) {
		st.filter = nil
		st.s.mu.Lock()
		st.s.filter = nil
		st.s.mu.Unlock()
	}
}

// query handles BEGIN, COMMIT and DDL statements.
func (st *streamer) query(ctx context.Context, e *replication.QueryEvent, h *replication.EventHeader) error {
	q := strings.TrimSpace(string(e.Query))
	switch {
	case strings.EqualFold(q, "BEGIN"):
		if !st.inTx {
			st.begin("", h, int64(h.Timestamp)*1000, false)
		}
		return nil
	case strings.EqualFold(q, "COMMIT"), strings.EqualFold(q, "ROLLBACK"):
		return st.end(ctx, h)
	}
	if !st.inTx {
		st.begin("", h, int64(h.Timestamp)*1000, false)
	}
	if db, name, ok := parseTruncate(q, string(e.Schema)); ok && st.s.tables[db+"."+name] {
		t := &table{db: db, name: name}
		if st.filter == nil || !st.filter.drop(t, nil, st.tx) {
			if err := st.emit(ctx, t, change.OpTruncate, nil, nil, h, 0); err != nil {
				return err
			}
		}
	} else if isSchemaChange(q) {
		st.s.log.Info("DDL in the binlog", "db", string(e.Schema), "query", shorten(q, 200))
	}
	return st.end(ctx, h)
}

// end closes the open transaction at the event with header h.
func (st *streamer) end(ctx context.Context, h *replication.EventHeader) error {
	if !st.inTx {
		return nil
	}
	st.inTx = false
	pos := change.Position{File: st.file, Pos: uint64(h.LogPos)}
	if st.gtids != nil {
		pos.GTID = st.gtids.String()
	}
	if st.idx == 0 {
		if len(st.batch) > 0 {
			if err := st.deliver(ctx); err != nil {
				return err
			}
		}
		st.s.idle(pos)
		return nil
	}
	if len(st.batch) == 0 {
		if st.stored {
			// Every event is already stored: the transaction only moves
			// the position.
			st.s.idle(pos)
			return nil
		}
		// Every event was handed over before a reconnect, but not the end:
		// hand the last one over again to carry it (same ID: sinks dedup).
		st.batch = append(st.batch, st.skipped)
	}
	last := st.batch[len(st.batch)-1]
	last.TxEnd, last.Position = true, pos
	st.s.handOver(pos, nil, st.txMs)
	st.s.stats.Transactions.Add(1)
	return st.deliver(ctx)
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
		return ctx.Err()
	}
}

// rows turns a rows event into change events.
func (st *streamer) rows(ctx context.Context, e *replication.RowsEvent, h *replication.EventHeader) error {
	t := st.schema.byID[e.TableID]
	if t == nil || t.skip {
		return nil
	}
	if !st.inTx {
		st.begin("", h, int64(h.Timestamp)*1000, false)
	}
	kind := e.Type()
	if h.EventType == replication.PARTIAL_UPDATE_ROWS_EVENT {
		kind = replication.EnumRowsEventTypeUpdate
	}
	switch kind {
	case replication.EnumRowsEventTypeInsert, replication.EnumRowsEventTypeDelete:
		for i, r := range e.Rows {
			img, err := st.image(t, r)
			if err != nil {
				return err
			}
			op := change.OpCreate
			var before, after change.Row
			if kind == replication.EnumRowsEventTypeInsert {
				after = img
			} else {
				op, before = change.OpDelete, img
			}
			if st.filter != nil && st.filter.drop(t, st.keyOf(t, img), st.tx) {
				continue
			}
			if err := st.emit(ctx, t, op, before, after, h, i); err != nil {
				return err
			}
		}
	case replication.EnumRowsEventTypeUpdate:
		for i := 0; i+1 < len(e.Rows); i += 2 {
			before, err := st.image(t, e.Rows[i])
			if err != nil {
				return err
			}
			after, err := st.image(t, e.Rows[i+1])
			if err != nil {
				return err
			}
			op := change.OpUpdate
			if st.filter != nil {
				// A row read by the snapshot after this change: split the
				// update by which side the snapshot already holds.
				dropB := st.filter.drop(t, st.keyOf(t, before), st.tx)
				dropA := st.filter.drop(t, st.keyOf(t, after), st.tx)
				switch {
				case dropB && dropA:
					continue
				case dropB:
					op, before = change.OpCreate, nil
				case dropA:
					op, after = change.OpDelete, nil
				}
			}
			if err := st.emit(ctx, t, op, before, after, h, i/2); err != nil {
				return err
			}
		}
	default:
		return replicator.Permanent(fmt.Errorf("unsupported rows event %s on %s.%s", h.EventType, t.db, t.name))
	}
	return nil
}

// image converts one row image to a change.Row, in table-map column order.
func (st *streamer) image(t *table, r []any) (change.Row, error) {
	if len(r) != len(t.cols) {
		return nil, replicator.Permanent(fmt.Errorf("row of %s.%s has %d values, its table map %d columns", t.db, t.name, len(r), len(t.cols)))
	}
	buf := make([]byte, 0, 16*len(r))
	offs := make([]int, len(r)+1)
	var err error
	for i, v := range r {
		offs[i] = len(buf)
		if v == nil {
			continue
		}
		if buf, err = appendStreamValue(buf, &t.cols[i], v); err != nil {
			return nil, replicator.Permanent(fmt.Errorf("%s.%s: %w", t.db, t.name, err))
		}
	}
	offs[len(r)] = len(buf)
	row := make(change.Row, len(r))
	for i := range r {
		row[i].Name = t.cols[i].name
		if r[i] != nil {
			row[i].Value = buf[offs[i]:offs[i+1]:offs[i+1]]
		}
	}
	return row, nil
}

// keyOf returns the primary key values of img, or nil.
func (st *streamer) keyOf(t *table, img change.Row) []string {
	if img == nil || len(t.pk) == 0 {
		return nil
	}
	st.key = st.key[:0]
	for _, k := range t.pk {
		st.key = append(st.key, string(img[k].Value))
	}
	return st.key
}

func (st *streamer) emit(ctx context.Context, t *table, op change.Op, before, after change.Row, h *replication.EventHeader, row int) error {
	st.idx++
	var tableN int64
	for i := range st.tableOrder {
		if st.tableOrder[i].t.db == t.db && st.tableOrder[i].t.name == t.name {
			st.tableOrder[i].n++
			tableN = st.tableOrder[i].n
		}
	}
	if tableN == 0 {
		st.tableOrder = append(st.tableOrder, tableCount{t: t, n: 1})
		tableN = 1
	}
	ev := &change.Event{
		ID:     string(strconv.AppendInt(st.idPrefix, st.idx, 10)),
		Op:     op,
		Before: before,
		After:  after,
		Source: change.Source{Connector: "mysql", Name: st.s.cfg.Name, TsMs: st.txMs, Snapshot: "false",
			DB: t.db, Table: t.name, ServerID: h.ServerID, GTID: st.tx.gtid, File: st.file,
			Pos: eventStart(h), Row: row},
		TsMs: time.Now().UnixMilli(),
		Tx:   &change.Transaction{ID: st.txID, TotalOrder: st.idx, DataCollectionOrder: tableN},
	}
	if st.idx <= st.skipTo {
		st.skipped = ev
		return nil // handed over before a reconnect
	}
	st.batch = append(st.batch, ev)
	st.s.stats.Events.Add(1)
	if len(st.batch) >= streamBatch {
		st.s.mu.Lock()
		st.s.partialTx, st.s.partialN = st.txID, st.idx
		st.s.mu.Unlock()
		return st.deliver(ctx)
	}
	return nil
}

// warnOnly is a slog handler that passes go-mysql's warnings and errors
// on and drops its info chatter.
type warnOnly struct{ slog.Handler }

func (w warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && w.Handler.Enabled(ctx, l)
}

// mariadbAtLeast reports whether a MariaDB version string is at least
// major.minor.
func mariadbAtLeast(version string, major, minor int) bool {
	return mysqlAtLeast(version, major, minor)
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// eventStart is the offset of the event with header h in its binlog file.
func eventStart(h *replication.EventHeader) uint64 {
	if h.LogPos < h.EventSize {
		return 0
	}
	return uint64(h.LogPos - h.EventSize)
}
