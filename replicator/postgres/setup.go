package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/tributary-cdc/tributary/replicator"
)

// query runs sql with the simple protocol and returns the rows as strings.
func query(ctx context.Context, conn *pgconn.PgConn, sql string) ([][]string, error) {
	results, err := conn.Exec(ctx, sql).ReadAll()
	if err != nil {
		return nil, err
	}
	var rows [][]string
	for _, r := range results {
		for _, row := range r.Rows {
			vals := make([]string, len(row))
			for i, v := range row {
				vals[i] = string(v)
			}
			rows = append(rows, vals)
		}
	}
	return rows, nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func quoteLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

func quoteTable(t string) string {
	schema, table, _ := splitTable(t)
	return quoteIdent(schema) + "." + quoteIdent(table)
}

// preflight checks what the source needs of the server and says how to fix
// what is missing: wal_level=logical, the REPLICATION privilege, the tables.
func (s *Source) preflight(ctx context.Context, conn *pgconn.PgConn) error {
	rows, err := query(ctx, conn, `SELECT current_setting('wal_level'), r.rolreplication OR r.rolsuper, current_user
		FROM pg_roles r WHERE r.rolname = current_user`)
	if err != nil {
		return replicator.Classify(fmt.Errorf("preflight: %w", err))
	}
	if len(rows) != 1 {
		return replicator.Permanent(errors.New("preflight: cannot read the current role from pg_roles"))
	}
	if rows[0][0] != "logical" {
		return replicator.Permanent(fmt.Errorf("wal_level is %q, logical decoding needs wal_level=logical: run ALTER SYSTEM SET wal_level = logical and restart PostgreSQL", rows[0][0]))
	}
	if rows[0][1] != "t" {
		return replicator.Permanent(fmt.Errorf("role %s lacks the REPLICATION privilege: run ALTER ROLE %s WITH REPLICATION", rows[0][2], quoteIdent(rows[0][2])))
	}
	for _, t := range s.cfg.Tables {
		rows, err := query(ctx, conn, "SELECT to_regclass("+quoteLiteral(quoteTable(t))+") IS NOT NULL")
		if err != nil {
			return replicator.Classify(fmt.Errorf("preflight: table %s: %w", t, err))
		}
		if len(rows) != 1 || rows[0][0] != "t" {
			return replicator.Permanent(fmt.Errorf("table %s does not exist", t))
		}
	}
	return nil
}

// ensurePublication creates the publication for the configured tables, or
// adds the configured tables a publication that exists lacks.
func (s *Source) ensurePublication(ctx context.Context, conn *pgconn.PgConn) error {
	pub := s.cfg.Publication
	rows, err := query(ctx, conn, "SELECT puballtables FROM pg_publication WHERE pubname = "+quoteLiteral(pub))
	if err != nil {
		return fmt.Errorf("look up publication %s: %w", pub, err)
	}
	if len(rows) == 0 {
		quoted := make([]string, len(s.cfg.Tables))
		for i, t := range s.cfg.Tables {
			quoted[i] = quoteTable(t)
		}
		if _, err := query(ctx, conn, "CREATE PUBLICATION "+quoteIdent(pub)+" FOR TABLE "+strings.Join(quoted, ", ")); err != nil {
			return fmt.Errorf("create publication %s: %w", pub, err)
		}
		s.log.Info("created publication", "publication", pub, "tables", s.cfg.Tables)
		return nil
	}
	if rows[0][0] == "t" {
		return nil
	}
	have, err := query(ctx, conn, "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = "+quoteLiteral(pub))
	if err != nil {
		return fmt.Errorf("list tables of publication %s: %w", pub, err)
	}
	in := map[string]bool{}
	for _, r := range have {
		in[r[0]] = true
	}
	for _, t := range s.cfg.Tables {
		if in[t] {
			continue
		}
		if _, err := query(ctx, conn, "ALTER PUBLICATION "+quoteIdent(pub)+" ADD TABLE "+quoteTable(t)); err != nil {
			return fmt.Errorf("add table %s to publication %s: %w", t, pub, err)
		}
		s.log.Info("added table to publication", "publication", pub, "table", t)
	}
	return nil
}

// snapshotState is the durable record of the initial snapshot.
type snapshotState struct {
	Status          string    `json:"status"` // "running" or "done"
	Slot            string    `json:"slot"`
	ConsistentPoint string    `json:"consistent_point"`
	Updated         time.Time `json:"updated"`
}

func (s *Source) stateKey() string { return "postgres." + s.cfg.Name + ".snapshot" }

func (s *Source) loadSnapshotState(ctx context.Context) (*snapshotState, error) {
	b, err := s.cfg.State.Get(ctx, s.stateKey())
	if errors.Is(err, replicator.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read snapshot state: %w", err)
	}
	var st snapshotState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("decode snapshot state %s: %w", s.stateKey(), err)
	}
	return &st, nil
}

func (s *Source) saveSnapshotState(ctx context.Context, st snapshotState) error {
	st.Updated = time.Now().UTC()
	b, _ := json.Marshal(st)
	if err := s.cfg.State.Put(ctx, s.stateKey(), b); err != nil {
		return fmt.Errorf("save snapshot state: %w", err)
	}
	return nil
}

// prepareSlot makes sure the slot exists, taking the initial snapshot when
// the slot is new. A snapshot that a crash interrupted leaves its state at
// "running": the slot is then dropped, the rows already published are
// purged from the sinks that can, and the snapshot starts over.
func (s *Source) prepareSlot(ctx context.Context, meta, repl *pgconn.PgConn, out chan<- replicator.Batch) error {
	rows, err := query(ctx, meta, "SELECT plugin, database = current_database(), confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = "+quoteLiteral(s.cfg.Slot))
	if err != nil {
		return fmt.Errorf("look up slot %s: %w", s.cfg.Slot, err)
	}
	st, err := s.loadSnapshotState(ctx)
	if err != nil {
		return err
	}
	exists := len(rows) == 1
	if exists {
		if rows[0][0] != "pgoutput" || rows[0][1] != "t" {
			return replicator.Permanent(fmt.Errorf("slot %s exists but is not a pgoutput slot of this database: drop it or configure another slot", s.cfg.Slot))
		}
		if lsn, err := pglogrepl.ParseLSN(rows[0][2]); err == nil {
			s.Confirm(positionLSN(uint64(lsn)))
		}
	}
	interrupted := s.cfg.Snapshot && st != nil && st.Status == "running"
	switch {
	case exists && !interrupted:
		if s.cfg.Snapshot && st == nil {
			s.log.Warn("slot exists without a snapshot record (created outside Tributary?): streaming from it without an initial snapshot", "slot", s.cfg.Slot)
		}
		return nil
	case interrupted:
		s.log.Warn("initial snapshot was interrupted; starting it over", "slot", s.cfg.Slot)
		if exists {
			if err := pglogrepl.DropReplicationSlot(ctx, repl, s.cfg.Slot, pglogrepl.DropReplicationSlotOptions{Wait: true}); err != nil {
				return fmt.Errorf("drop slot %s: %w", s.cfg.Slot, err)
			}
			s.confirmed.Store(0)
		}
		for _, p := range s.cfg.Purgers {
			if err := p.PurgeSource(ctx, s.cfg.Name); err != nil {
				return fmt.Errorf("retract the interrupted snapshot: %w", err)
			}
		}
	case st != nil && st.Status == "done":
		s.log.Warn("replication slot is gone although a snapshot was taken: changes made while it was missing are lost; creating it again", "slot", s.cfg.Slot)
	}
	if s.cfg.Snapshot {
		// Record the attempt before the slot exists, so that a crash at any
		// point after this is seen as an interrupted snapshot.
		if err := s.saveSnapshotState(ctx, snapshotState{Status: "running", Slot: s.cfg.Slot}); err != nil {
			return err
		}
	}

	action := "NOEXPORT_SNAPSHOT"
	if s.cfg.Snapshot {
		action = "EXPORT_SNAPSHOT"
	}
	res, err := pglogrepl.CreateReplicationSlot(ctx, repl, s.cfg.Slot, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: action})
	if err != nil {
		return fmt.Errorf("create slot %s: %w", s.cfg.Slot, err)
	}
	lsn, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		return fmt.Errorf("create slot %s: consistent point %q: %w", s.cfg.Slot, res.ConsistentPoint, err)
	}
	s.log.Info("created replication slot", "slot", s.cfg.Slot, "consistent_point", res.ConsistentPoint)
	if !s.cfg.Snapshot {
		return nil
	}
	s.state.Store("snapshot")
	if err := s.snapshot(ctx, res.SnapshotName, uint64(lsn), out); err != nil {
		return fmt.Errorf("initial snapshot: %w", err)
	}
	return s.saveSnapshotState(ctx, snapshotState{Status: "done", Slot: s.cfg.Slot, ConsistentPoint: res.ConsistentPoint})
}
