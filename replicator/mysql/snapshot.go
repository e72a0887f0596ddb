package mysql

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/replicator"
)

// snapState is the durable record of the initial snapshot, stored under
// snapshotKey. Runs are the consistent points of the snapshot's runs (one,
// unless a crash interrupted it); each table records which key ranges were
// read in which run. Values are never modified once handed to Confirm's
// bookkeeping: progress makes a new copy.
type snapState struct {
	Status string      `json:"status"` // "running" or "done"
	Runs   []snapPos   `json:"runs"`
	Tables []snapTable `json:"tables"`
}

// snapPos is a consistent point: where the binlog stood when a run's
// transaction began.
type snapPos struct {
	GTID string `json:"gtid,omitempty"`
	File string `json:"file"`
	Pos  uint64 `json:"pos"`
}

func (p snapPos) position() change.Position {
	return change.Position{GTID: p.GTID, File: p.File, Pos: p.Pos}
}

// snapTable is the progress of one table. Segments cover the key space in
// order: segment i holds the keys after segment i-1's UpTo up to its own
// UpTo (the whole rest of the table when UpTo is empty), read in run Run.
type snapTable struct {
	Name     string        `json:"name"`
	Done     bool          `json:"done"`
	Segments []snapSegment `json:"segments,omitempty"`
}

type snapSegment struct {
	UpTo []string `json:"up_to,omitempty"` // last primary key read (text form), integer keys only
	Run  int      `json:"run"`
}

func (st *snapState) clone() *snapState {
	c := &snapState{Status: st.Status, Runs: append([]snapPos(nil), st.Runs...), Tables: make([]snapTable, len(st.Tables))}
	for i, t := range st.Tables {
		c.Tables[i] = snapTable{Name: t.Name, Done: t.Done, Segments: append([]snapSegment(nil), t.Segments...)}
	}
	return c
}

func (s *Source) putSnapState(ctx context.Context, st *snapState) error {
	b, _ := json.Marshal(st)
	if err := s.cfg.State.Put(ctx, s.snapshotKey(), b); err != nil {
		return fmt.Errorf("save snapshot progress: %w", err)
	}
	return nil
}

func (s *Source) loadSnapState(ctx context.Context) (*snapState, error) {
	b, err := s.cfg.State.Get(ctx, s.snapshotKey())
	if errors.Is(err, replicator.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read snapshot progress %s: %w", s.snapshotKey(), err)
	}
	var st snapState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, replicator.Permanent(fmt.Errorf("decode snapshot progress %s: %w (delete it and %s to start over)", s.snapshotKey(), err, s.positionKey()))
	}
	return &st, nil
}

// openSnapshot starts a consistent-snapshot transaction on conn and returns
// the binlog position it sees. MariaDB reports the position of the
// snapshot itself (binlog_snapshot_file/position), so no lock is taken.
// MySQL has no such status: FLUSH TABLES WITH READ LOCK is held only while
// the transaction starts and the position is read, never during the scan.
func openSnapshot(conn *client.Conn, srv *serverInfo) (snapPos, error) {
	var p snapPos
	if _, err := conn.Execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		return p, fmt.Errorf("set isolation level: %w", err)
	}
	if srv.flavor == gomysql.MariaDBFlavor {
		if _, err := conn.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
			return p, fmt.Errorf("start consistent snapshot: %w", err)
		}
		r, err := conn.Execute("SHOW STATUS LIKE 'binlog_snapshot_%'")
		if err != nil {
			return p, fmt.Errorf("read snapshot position: %w", err)
		}
		for i := range r.Values {
			k, _ := r.GetString(i, 0)
			v, _ := r.GetString(i, 1)
			switch strings.ToLower(k) {
			case "binlog_snapshot_file":
				p.File = v
			case "binlog_snapshot_position":
				p.Pos, _ = strconv.ParseUint(v, 10, 64)
			}
		}
		if p.File == "" {
			return p, replicator.Permanent(errors.New("the server reports no binlog_snapshot_file: is the binary log on?"))
		}
		g, err := queryString(conn, "SELECT BINLOG_GTID_POS("+quoteString(p.File)+", "+strconv.FormatUint(p.Pos, 10)+")")
		if err != nil {
			return p, err
		}
		p.GTID = g
		return p, nil
	}
	if _, err := conn.Execute("FLUSH TABLES WITH READ LOCK"); err != nil {
		return p, fmt.Errorf("FLUSH TABLES WITH READ LOCK (needs the RELOAD privilege): %w", err)
	}
	unlock := func() { _, _ = conn.Execute("UNLOCK TABLES") }
	if _, err := conn.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		unlock()
		return p, fmt.Errorf("start consistent snapshot: %w", err)
	}
	head, err := headPosition(conn, srv)
	unlock()
	if err != nil {
		return p, err
	}
	return snapPos{GTID: head.GTID, File: head.File, Pos: head.Pos}, nil
}

// snapshot reads every table not yet done in a new consistent snapshot,
// in primary key order and in chunks, and emits each row as an op "r"
// event. Each chunk ends a "transaction" whose confirmation records the
// progress. prev is the progress of an interrupted snapshot, or nil. It
// returns the finished state once every row is confirmed durable.
func (s *Source) snapshot(ctx context.Context, srv *serverInfo, prev *snapState, out chan<- replicator.Batch) (*snapState, error) {
	conn, err := s.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("snapshot: connect: %w", err)
	}
	defer conn.Close()
	at, err := openSnapshot(conn, srv)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	var st *snapState
	if prev != nil {
		st = prev.clone()
		s.log.Warn("resuming an interrupted initial snapshot in a new consistent snapshot; rows already read are not read again",
			"first_run", st.Runs[0].position(), "this_run", at.position())
	} else {
		st = &snapState{Status: "running"}
		for _, t := range s.cfg.Tables {
			st.Tables = append(st.Tables, snapTable{Name: t})
		}
	}
	st.Runs = append(st.Runs, at)
	run := len(st.Runs) - 1
	start := time.Now()
	sn := &snapRun{s: s, st: st, run: run, at: at, out: out, startMs: start.UnixMilli(),
		idPrefix: s.cfg.Name + ":snap:" + at.File + ":" + strconv.FormatUint(at.Pos, 10) + ":"}
	for ti := range st.Tables {
		if st.Tables[ti].Done {
			continue
		}
		if err := sn.table(ctx, conn, ti); err != nil {
			return nil, err
		}
	}
	if _, err := conn.Execute("COMMIT"); err != nil {
		return nil, fmt.Errorf("snapshot: close transaction: %w", err)
	}
	st = st.clone()
	st.Status = "done"
	sn.st = st
	if err := sn.flush(ctx, st, true); err != nil {
		return nil, err
	}
	// Wait until the pipeline confirmed every row durable.
	for s.pendingCount() > 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	s.mu.Lock()
	s.snapTarget = st
	s.mu.Unlock()
	s.log.Info("snapshot done", "rows", sn.n, "seconds", time.Since(start).Seconds(), "position", st.Runs[0].position())
	return st, nil
}

// snapRun is one run of the snapshot.
type snapRun struct {
	s        *Source
	st       *snapState
	run      int
	at       snapPos
	out      chan<- replicator.Batch
	startMs  int64
	idPrefix string
	n        uint64
	chunks   uint64
	held     replicator.Batch // the last chunk, held back to mark its last row "last"
	heldSt   *snapState
}

// table reads one table's remaining rows.
func (sn *snapRun) table(ctx context.Context, conn *client.Conn, ti int) error {
	s := sn.s
	t := &sn.st.Tables[ti]
	db, name, _ := splitTable(t.Name)
	cat, err := readCatalog(conn, db, name)
	if err != nil {
		return err
	}
	var after []string
	if len(t.Segments) > 0 {
		last := t.Segments[len(t.Segments)-1]
		if cat.allInt() && len(last.UpTo) == len(cat.pk) {
			after = last.UpTo
		} else {
			// Only integer keys can be placed in the stream's key ranges:
			// read this table again in full in this run.
			s.log.Warn("snapshot of the table was interrupted and its key is not an integer: reading it again from the start", "table", t.Name)
			t.Segments = nil
		}
	}
	cols := make([]string, len(cat.cols))
	for i, c := range cat.cols {
		cols[i] = quoteIdent(c)
		switch cat.types[i] {
		case "uuid", "inet4", "inet6":
			// MariaDB data-type plugins: the binlog holds their binary
			// form as a BINARY column; read the same bytes here.
			cols[i] = "CAST(" + quoteIdent(c) + " AS BINARY) AS " + quoteIdent(c)
		}
	}
	base := "SELECT " + strings.Join(cols, ", ") + " FROM " + quoteIdent(db) + "." + quoteIdent(name)
	chunk := s.cfg.ChunkSize
	if len(cat.pk) == 0 {
		chunk = 0 // no key to page by: one query, still emitted in chunks
	}
	pkIdx := make([]int, len(cat.pk))
	for i, k := range cat.pk {
		for j, c := range cat.cols {
			if c == k {
				pkIdx[i] = j
			}
		}
	}
	rows := 0
	for {
		q := base
		if chunk > 0 {
			if after != nil {
				q += " WHERE " + keyAfter(cat, after)
			}
			q += " ORDER BY " + joinIdents(cat.pk) + " LIMIT " + strconv.Itoa(chunk)
		}
		var (
			batch   replicator.Batch
			lastKey []string
			fields  []*gomysql.Field
			emitErr error
		)
		var result gomysql.Result
		err := conn.ExecuteSelectStreaming(q, &result, func(row []gomysql.FieldValue) error {
			ev := sn.rowEvent(cat, fields, row)
			batch = append(batch, ev)
			if len(pkIdx) > 0 {
				lastKey = lastKey[:0]
				for _, k := range pkIdx {
					lastKey = append(lastKey, string(row[k].AsString()))
					if row[k].Type == gomysql.FieldValueTypeSigned {
						lastKey[len(lastKey)-1] = strconv.FormatInt(row[k].AsInt64(), 10)
					} else if row[k].Type == gomysql.FieldValueTypeUnsigned {
						lastKey[len(lastKey)-1] = strconv.FormatUint(row[k].AsUint64(), 10)
					}
				}
			}
			if chunk == 0 && len(batch) >= s.cfg.ChunkSize {
				// Keyless table: hand over in pieces; progress is per table.
				emitErr = sn.chunk(ctx, batch, nil, ti, false)
				batch = nil
				return emitErr
			}
			return nil
		}, func(r *gomysql.Result) error {
			fields = r.Fields
			return nil
		})
		if err != nil {
			return fmt.Errorf("snapshot: read %s: %w", t.Name, err)
		}
		rows += len(batch)
		done := chunk == 0 || len(batch) < chunk
		if len(batch) > 0 || done {
			var key []string
			if cat.allInt() && lastKey != nil {
				key = append([]string(nil), lastKey...)
			}
			if err := sn.chunk(ctx, batch, key, ti, done); err != nil {
				return err
			}
		}
		if done {
			break
		}
		after = append([]string(nil), lastKey...)
	}
	s.log.Info("snapshot read table", "table", t.Name, "rows", rows, "run", sn.run)
	return nil
}

// chunk records the progress a batch of rows makes and hands the
// previously held batch to the pipeline; this batch is held back.
func (sn *snapRun) chunk(ctx context.Context, batch replicator.Batch, key []string, ti int, done bool) error {
	t := &sn.st.Tables[ti]
	if key != nil {
		if n := len(t.Segments); n > 0 && t.Segments[n-1].Run == sn.run {
			t.Segments[n-1].UpTo = key
		} else {
			t.Segments = append(t.Segments, snapSegment{UpTo: key, Run: sn.run})
		}
	}
	if done {
		t.Done = true
		if n := len(t.Segments); n > 0 && t.Segments[n-1].Run == sn.run {
			t.Segments[n-1].UpTo = nil
		} else {
			t.Segments = append(t.Segments, snapSegment{Run: sn.run})
		}
	}
	if len(batch) == 0 {
		return nil // the progress rides on the next chunk
	}
	if err := sn.flush(ctx, sn.heldSt, false); err != nil {
		return err
	}
	sn.held, sn.heldSt = batch, sn.st.clone()
	return nil
}

// flush hands the held chunk to the pipeline with st, the progress its
// confirmation records; last marks its last row as the snapshot's last.
func (sn *snapRun) flush(ctx context.Context, st *snapState, last bool) error {
	if len(sn.held) == 0 {
		if last {
			// Nothing held (every table empty or already done): snapshot
			// records the end once everything before it is confirmed.
			sn.s.mu.Lock()
			sn.s.snapDelivered = st
			sn.s.mu.Unlock()
		}
		return nil
	}
	b := sn.held
	sn.held, sn.heldSt = nil, nil
	sn.chunks++
	ev := b[len(b)-1]
	ev.TxEnd = true
	// LSN, unused by MySQL, numbers the chunks: Confirm tells them apart
	// from stream positions and from each other, across runs too.
	ev.Position = change.Position{LSN: sn.s.chunkSeq.Add(1), GTID: sn.at.GTID, File: sn.at.File, Pos: sn.at.Pos}
	if last {
		ev.Source.Snapshot = "last"
	}
	sn.s.handOver(ev.Position, st, sn.startMs)
	sn.s.stats.Events.Add(uint64(len(b)))
	select {
	case sn.out <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (sn *snapRun) rowEvent(cat *catalogTable, fields []*gomysql.Field, row []gomysql.FieldValue) *change.Event {
	sn.n++
	var buf []byte
	offs := make([]int, len(row)+1)
	for i := range row {
		offs[i] = len(buf)
		buf = appendTextValue(buf, fields[i], &row[i])
	}
	offs[len(row)] = len(buf)
	after := make(change.Row, len(row))
	for i := range row {
		after[i] = change.Field{Name: cat.cols[i], Value: buf[offs[i]:offs[i+1]:offs[i+1]]}
		if row[i].Type == gomysql.FieldValueTypeNull {
			after[i].Value = nil
		}
	}
	return &change.Event{
		ID:    sn.idPrefix + strconv.FormatUint(sn.n, 10),
		Op:    change.OpRead,
		After: after,
		Source: change.Source{Connector: "mysql", Name: sn.s.cfg.Name, TsMs: sn.startMs, Snapshot: "true",
			DB: cat.db, Table: cat.name, File: sn.at.File, Pos: sn.at.Pos},
		TsMs: time.Now().UnixMilli(),
	}
}

// keyAfter is the condition "primary key > after" written so that the
// optimizer uses the key's index: a > x OR (a = x AND b > y) ...
func keyAfter(cat *catalogTable, after []string) string {
	var ors []string
	for i := range cat.pk {
		var ands []string
		for j := 0; j < i; j++ {
			ands = append(ands, quoteIdent(cat.pk[j])+" = "+keyLiteral(cat, j, after[j]))
		}
		ands = append(ands, quoteIdent(cat.pk[i])+" > "+keyLiteral(cat, i, after[i]))
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return strings.Join(ors, " OR ")
}

func keyLiteral(cat *catalogTable, i int, v string) string {
	if cat.pkBinary[i] {
		return "X'" + hex.EncodeToString([]byte(v)) + "'"
	}
	if cat.pkInt[i] {
		if _, err := strconv.ParseInt(v, 10, 64); err == nil {
			return v
		}
		if _, err := strconv.ParseUint(v, 10, 64); err == nil {
			return v
		}
	}
	return quoteString(v)
}

func joinIdents(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quoteIdent(n)
	}
	return strings.Join(q, ", ")
}
