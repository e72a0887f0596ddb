package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/replicator"
	"github.com/tributary-cdc/tributary/replicator/postgres/pgvalue"
)

// Config configures a PostgreSQL source.
type Config struct {
	Name        string   // source name, used in event IDs and subjects
	DSN         string   // libpq URL or key=value connection string
	Tables      []string // "schema.table"
	Slot        string   // logical replication slot
	Publication string
	Snapshot    bool // take an initial snapshot when the slot is created

	// State keeps the snapshot's progress. Required.
	State replicator.StateStore
	// Purgers are the sinks that can retract an interrupted snapshot.
	Purgers []replicator.SubjectPurger
	// StatusInterval is how often a standby status update is sent even when
	// nothing changed (default 10s; PostgreSQL's wal_sender_timeout is 60s).
	StatusInterval time.Duration
	Logger         *slog.Logger
}

// Source is the PostgreSQL source. It satisfies replicator.Source.
type Source struct {
	cfg   Config
	log   *slog.Logger
	types *pgvalue.Registry

	// confirmed is the highest commit end LSN the pipeline confirmed.
	confirmed atomic.Uint64
	// delivered is the highest commit end LSN handed to the pipeline.
	delivered atomic.Uint64
	// walEnd is the server's WAL end from the latest message.
	walEnd atomic.Uint64
	// lastCommitMs is the commit time of the latest delivered transaction.
	lastCommitMs atomic.Int64
	// snapshotDone is signalled when the pipeline confirms the snapshot's end.
	snapMu      sync.Mutex
	snapWaitLSN uint64
	snapDone    chan struct{}

	stats Stats
	state atomic.Value // string: connecting, snapshot, streaming

	// resumeLSN and resumeIdx name the last event the sinks already hold
	// (ResumeAfter): the stream skips it and everything before it.
	resumeMu  sync.Mutex
	resumeLSN uint64
	resumeIdx int64
}

// Stats are the source's counters, safe to read concurrently.
type Stats struct {
	Transactions atomic.Uint64
	Events       atomic.Uint64
	Reconnects   atomic.Uint64
	StatusSent   atomic.Uint64
	runs         atomic.Uint64
}

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// New returns a PostgreSQL source. It does not connect.
func New(cfg Config) (*Source, error) {
	if cfg.Name == "" {
		return nil, errors.New("postgres source: name is required")
	}
	if cfg.Slot == "" {
		cfg.Slot = "tributary_" + strings.ReplaceAll(cfg.Name, "-", "_")
	}
	if cfg.Publication == "" {
		cfg.Publication = cfg.Slot
	}
	if !identRE.MatchString(cfg.Slot) {
		return nil, fmt.Errorf("postgres source %s: slot %q: use lower-case letters, digits and _", cfg.Name, cfg.Slot)
	}
	if !identRE.MatchString(cfg.Publication) {
		return nil, fmt.Errorf("postgres source %s: publication %q: use lower-case letters, digits and _", cfg.Name, cfg.Publication)
	}
	if len(cfg.Tables) == 0 {
		return nil, fmt.Errorf("postgres source %s: at least one table is required", cfg.Name)
	}
	for _, t := range cfg.Tables {
		if _, _, ok := splitTable(t); !ok {
			return nil, fmt.Errorf("postgres source %s: table %q: want schema.table", cfg.Name, t)
		}
	}
	if cfg.State == nil {
		return nil, fmt.Errorf("postgres source %s: a state store is required", cfg.Name)
	}
	if cfg.StatusInterval <= 0 {
		cfg.StatusInterval = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Source{cfg: cfg, log: cfg.Logger.With("source", cfg.Name), types: pgvalue.NewRegistry()}, nil
}

// Name returns the source's configured name.
func (s *Source) Name() string { return s.cfg.Name }

// Confirm records that every transaction ending at or before pos.LSN is
// durable in every sink. The stream loop reports it to PostgreSQL.
func (s *Source) Confirm(pos change.Position) {
	for {
		cur := s.confirmed.Load()
		if pos.LSN <= cur || s.confirmed.CompareAndSwap(cur, pos.LSN) {
			break
		}
	}
	s.snapMu.Lock()
	if s.snapDone != nil && pos.LSN >= s.snapWaitLSN {
		close(s.snapDone)
		s.snapDone = nil
	}
	s.snapMu.Unlock()
}

// ResumeAfter makes the stream skip the events the sinks already hold: every
// transaction that committed before the one of id, and that transaction's
// events up to id. IDs of other sources and snapshot IDs are ignored.
func (s *Source) ResumeAfter(id string) {
	parts := strings.Split(id, ":")
	if len(parts) != 3 || parts[0] != s.cfg.Name || parts[1] == "snap" {
		return
	}
	lsn, err1 := strconv.ParseUint(parts[1], 10, 64)
	idx, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || idx < 1 {
		s.log.Warn("ignoring an unrecognised last stored event id", "id", id)
		return
	}
	s.resumeMu.Lock()
	s.resumeLSN, s.resumeIdx = lsn, idx
	s.resumeMu.Unlock()
	s.log.Info("resuming after the last stored event", "id", id)
}

func (s *Source) resumePoint() (uint64, int64) {
	s.resumeMu.Lock()
	defer s.resumeMu.Unlock()
	return s.resumeLSN, s.resumeIdx
}

// Status is a point-in-time view of the source for /status and metrics.
type Status struct {
	State             string  `json:"state"`
	Slot              string  `json:"slot"`
	ConfirmedLSN      string  `json:"confirmed_lsn"`
	ServerWALEnd      string  `json:"server_wal_end"`
	LagBytes          uint64  `json:"lag_bytes"`
	LagSeconds        float64 `json:"lag_seconds"`
	Transactions      uint64  `json:"transactions"`
	Events            uint64  `json:"events"`
	Reconnects        uint64  `json:"reconnects"`
	ConfirmedLSNValue uint64  `json:"-"`
}

// Status returns the source's current position and lag. Lag in bytes is the
// distance from the confirmed LSN to the server's WAL end; lag in seconds is
// the age of the oldest delivered but unconfirmed commit (0 when caught up).
func (s *Source) Status() Status {
	conf, end := s.confirmed.Load(), s.walEnd.Load()
	state, _ := s.state.Load().(string)
	if state == "" {
		state = "connecting"
	}
	st := Status{
		State: state, Slot: s.cfg.Slot, ConfirmedLSN: change.FormatLSN(conf), ServerWALEnd: change.FormatLSN(end),
		Transactions: s.stats.Transactions.Load(), Events: s.stats.Events.Load(),
		Reconnects: s.stats.Reconnects.Load(), ConfirmedLSNValue: conf,
	}
	if end > conf {
		st.LagBytes = end - conf
	}
	if s.delivered.Load() > conf {
		if ms := s.lastCommitMs.Load(); ms > 0 {
			st.LagSeconds = time.Since(time.UnixMilli(ms)).Seconds()
		}
	}
	return st
}

// Run connects, prepares the publication and slot, snapshots when needed and
// streams until ctx is cancelled. See replicator.Source.
func (s *Source) Run(ctx context.Context, out chan<- replicator.Batch) error {
	s.state.Store("connecting")
	if s.stats.runs.Add(1) > 1 {
		s.stats.Reconnects.Add(1)
	}
	meta, err := s.connect(ctx, false)
	if err != nil {
		return replicator.Classify(fmt.Errorf("connect: %w", err))
	}
	defer meta.Close(context.Background())
	if err := s.preflight(ctx, meta); err != nil {
		return err
	}
	if err := s.ensurePublication(ctx, meta); err != nil {
		return replicator.Classify(err)
	}
	repl, err := s.connect(ctx, true)
	if err != nil {
		return replicator.Classify(fmt.Errorf("open replication connection: %w", err))
	}
	defer repl.Close(context.Background())
	if err := s.prepareSlot(ctx, meta, repl, out); err != nil {
		return replicator.Classify(err)
	}
	return s.stream(ctx, meta, repl, out)
}

// connect opens a connection with the session settings whose text output
// formats pgvalue parses; replication opens a walsender connection.
func (s *Source) connect(ctx context.Context, replication bool) (*pgconn.PgConn, error) {
	cfg, err := pgconn.ParseConfig(s.cfg.DSN)
	if err != nil {
		return nil, replicator.Permanent(fmt.Errorf("parse dsn: %w", err))
	}
	for k, v := range pgvalue.SessionParams() {
		cfg.RuntimeParams[k] = v
	}
	cfg.RuntimeParams["application_name"] = "tributary_" + s.cfg.Name
	if replication {
		cfg.RuntimeParams["replication"] = "database"
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := pgconn.ConnectConfig(cctx, cfg)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && replication && pgErr.Code == "42501" {
			return nil, replicator.Permanent(fmt.Errorf("role lacks the REPLICATION privilege (ALTER ROLE ... WITH REPLICATION): %w", err))
		}
		if errors.As(err, &pgErr) && (pgErr.Code == "28000" || pgErr.Code == "28P01" || pgErr.Code == "3D000") {
			return nil, replicator.Permanent(err)
		}
		return nil, err
	}
	return conn, nil
}

func splitTable(t string) (schema, table string, ok bool) {
	schema, table, ok = strings.Cut(t, ".")
	return schema, table, ok && schema != "" && table != "" && !strings.Contains(table, ".")
}
