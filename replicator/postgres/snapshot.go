package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/replicator"
)

// snapshotBatch is how many snapshot rows go to the pipeline at once.
const snapshotBatch = 512

// snapshot reads every configured table inside the slot's exported snapshot
// and emits each row as an op "r" event. It returns once the pipeline has
// confirmed the last row durable, so that the caller can record the
// snapshot as done before streaming starts.
func (s *Source) snapshot(ctx context.Context, snapName string, lsn uint64, out chan<- replicator.Batch) error {
	conn, err := s.connect(ctx, false)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := query(ctx, conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT "+quoteLiteral(snapName)); err != nil {
		return fmt.Errorf("open snapshot %s: %w", snapName, err)
	}
	db, err := currentDatabase(ctx, conn)
	if err != nil {
		return err
	}
	start := time.Now()
	var (
		batch   replicator.Batch
		pending *change.Event // held back one row, to mark the last one
		n       uint64
		idPfx   = s.cfg.Name + ":snap:" + strconv.FormatUint(lsn, 10) + ":"
	)
	emit := func(ev *change.Event) error {
		batch = append(batch, ev)
		if len(batch) < snapshotBatch {
			return nil
		}
		select {
		case out <- batch:
			batch = nil
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	b := rowBuilder{types: s.types}
	for _, t := range s.cfg.Tables {
		rel, err := s.catalogRelation(ctx, conn, t)
		if err != nil {
			return err
		}
		sql := "SELECT "
		for i, c := range rel.cols {
			if i > 0 {
				sql += ", "
			}
			sql += quoteIdent(c.name)
		}
		sql += " FROM " + quoteTable(t)
		mrr := conn.Exec(ctx, sql)
		tableRows := 0
		for mrr.NextResult() {
			rr := mrr.ResultReader()
			cols := make([]tupleCol, len(rel.cols))
			for rr.NextRow() {
				vals := rr.Values()
				for i := range cols {
					if i < len(vals) && vals[i] != nil {
						cols[i] = tupleCol{kind: tupleText, data: vals[i]}
					} else {
						cols[i] = tupleCol{kind: tupleNull}
					}
				}
				n++
				tableRows++
				ev := &change.Event{
					ID:    idPfx + strconv.FormatUint(n, 10),
					Op:    change.OpRead,
					After: b.build(rel, cols, false, nil),
					Source: change.Source{Connector: "postgresql", Name: s.cfg.Name, TsMs: start.UnixMilli(),
						Snapshot: "true", DB: db, Schema: rel.namespace, Table: rel.name, LSN: lsn},
					TsMs: time.Now().UnixMilli(),
				}
				if pending != nil {
					if err := emit(pending); err != nil {
						mrr.Close()
						return err
					}
				}
				pending = ev
			}
			if _, err := rr.Close(); err != nil {
				mrr.Close()
				return fmt.Errorf("read table %s: %w", t, err)
			}
		}
		if err := mrr.Close(); err != nil {
			return fmt.Errorf("read table %s: %w", t, err)
		}
		s.log.Info("snapshot read table", "table", t, "rows", tableRows)
	}
	if _, err := query(ctx, conn, "COMMIT"); err != nil {
		return fmt.Errorf("close snapshot: %w", err)
	}
	if pending == nil {
		s.log.Info("snapshot done: the tables are empty")
		return nil
	}
	pending.Source.Snapshot = "last"
	pending.TxEnd = true
	pending.Position = positionLSN(lsn)
	done := make(chan struct{})
	s.snapMu.Lock()
	s.snapWaitLSN, s.snapDone = lsn, done
	s.snapMu.Unlock()
	if err := emit(pending); err != nil {
		return err
	}
	if len(batch) > 0 {
		select {
		case out <- batch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.stats.Events.Add(n)
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.log.Info("snapshot done", "rows", n, "seconds", time.Since(start).Seconds())
	return nil
}

// catalogRelation reads a table's columns from the catalog, for the
// snapshot; the stream uses the Relation messages instead.
func (s *Source) catalogRelation(ctx context.Context, conn *pgconn.PgConn, table string) (*relation, error) {
	schema, name, _ := splitTable(table)
	rows, err := query(ctx, conn, `SELECT a.attname, a.atttypid,
		COALESCE(a.attnum = ANY(i.indkey), false)
		FROM pg_attribute a
		LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
		WHERE a.attrelid = `+quoteLiteral(quoteTable(table))+`::regclass AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", table, err)
	}
	rel := &relation{namespace: schema, name: name}
	oids := make([]uint32, 0, len(rows))
	for _, r := range rows {
		oid, _ := strconv.ParseUint(r[1], 10, 32)
		rel.cols = append(rel.cols, column{name: r[0], oid: uint32(oid), key: r[2] == "t"})
		oids = append(oids, uint32(oid))
	}
	if err := s.types.Load(ctx, conn, oids...); err != nil {
		return nil, fmt.Errorf("load types of %s: %w", table, err)
	}
	for i := range rel.cols {
		rel.cols[i].typ = s.types.Lookup(rel.cols[i].oid)
	}
	return rel, nil
}

func currentDatabase(ctx context.Context, conn *pgconn.PgConn) (string, error) {
	rows, err := query(ctx, conn, "SELECT current_database()")
	if err != nil || len(rows) != 1 {
		return "", fmt.Errorf("read current database: %w", err)
	}
	return rows[0][0], nil
}

func positionLSN(lsn uint64) change.Position { return change.Position{LSN: lsn} }
