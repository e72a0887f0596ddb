package mysql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/config"
	"github.com/tributary-cdc/tributary/replicator"
)

// Config configures a MySQL or MariaDB source.
type Config struct {
	Name     string   // source name, used in event IDs, subjects and state keys
	DSN      string   // user:pass@tcp(host:port)/db
	ServerID uint32   // replica server_id this source registers with; distinct from the server's
	Tables   []string // "db.table"
	Snapshot bool     // take an initial snapshot when there is no saved position

	// State keeps the position and the snapshot's progress. Required.
	State replicator.StateStore
	// ChunkSize is how many rows one snapshot query reads (default 1000).
	ChunkSize int
	// SaveInterval is how often a newly confirmed position is persisted
	// (default 100ms); the last one is always saved when Run returns.
	SaveInterval time.Duration
	// Heartbeat is the binlog heartbeat period asked of the server
	// (default 5s); a connection silent for 6 heartbeats is dropped.
	Heartbeat time.Duration
	Logger    *slog.Logger
}

// Source is the MySQL/MariaDB binlog source. It satisfies replicator.Source.
type Source struct {
	cfg    Config
	dsn    config.MySQLDSN
	log    *slog.Logger
	tables map[string]bool // "db.table"

	// mu guards the confirmation state below.
	mu sync.Mutex
	// pending are the transaction ends handed to the pipeline and not yet
	// confirmed, in order.
	pending []pendingEnd
	// target is the newest position that may be persisted; saved is the
	// last one persisted.
	target, saved change.Position
	// idleNext is the end of a transaction without captured changes seen
	// after the last hand-over; it becomes the target once everything
	// handed over is confirmed.
	idleNext change.Position
	// snapTarget is the snapshot progress confirmed durable; snapSaved the
	// last persisted.
	snapTarget, snapSaved *snapState
	// delivered is the end of the last transaction handed to the pipeline in
	// this process; a reconnect resumes there.
	delivered change.Position
	// snapDelivered is the snapshot progress handed to the pipeline in this
	// process; a retried snapshot continues there.
	snapDelivered *snapState
	// partialTx and partialN are the transaction whose first partialN
	// events were handed over before its end (a large transaction); a
	// reconnect that reads it again skips them.
	partialTx string
	partialN  int64
	// resumeTx and resumeN name the last event the sinks already hold
	// (ResumeAfter); the next stream skips up to it.
	resumeTx string
	resumeN  int64
	// filter drops stream rows a resumed snapshot already read.
	filter *streamFilter
	// saveMu serializes writes to the state store.
	saveMu sync.Mutex

	chunkSeq atomic.Uint64 // numbers snapshot chunks
	flavor   atomic.Value  // string
	state    atomic.Value  // string: connecting, snapshot, streaming
	stats    Stats
	kick     chan struct{}
}

type pendingEnd struct {
	pos  change.Position
	snap *snapState // snapshot progress reached when this chunk is durable
	ms   int64
}

// Stats are the source's counters, safe to read concurrently.
type Stats struct {
	Transactions atomic.Uint64
	Events       atomic.Uint64
	Reconnects   atomic.Uint64
	Saves        atomic.Uint64
	runs         atomic.Uint64
}

// New returns a MySQL source. It does not connect.
func New(cfg Config) (*Source, error) {
	if cfg.Name == "" {
		return nil, errors.New("mysql source: name is required")
	}
	d, err := config.ParseMySQLDSN(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("mysql source %s: dsn: %w", cfg.Name, err)
	}
	if cfg.ServerID == 0 {
		return nil, fmt.Errorf("mysql source %s: server_id is required: a number > 0, unique among the server's replicas", cfg.Name)
	}
	if len(cfg.Tables) == 0 {
		return nil, fmt.Errorf("mysql source %s: at least one table is required", cfg.Name)
	}
	tables := map[string]bool{}
	for _, t := range cfg.Tables {
		if _, _, ok := splitTable(t); !ok {
			return nil, fmt.Errorf("mysql source %s: table %q: want db.table", cfg.Name, t)
		}
		tables[t] = true
	}
	if cfg.State == nil {
		return nil, fmt.Errorf("mysql source %s: a state store is required", cfg.Name)
	}
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = 1000
	}
	if cfg.SaveInterval <= 0 {
		cfg.SaveInterval = 100 * time.Millisecond
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Source{cfg: cfg, dsn: d, log: cfg.Logger.With("source", cfg.Name), tables: tables,
		kick: make(chan struct{}, 1)}, nil
}

// Name returns the source's configured name.
func (s *Source) Name() string { return s.cfg.Name }

// Confirm records that every transaction up to the one that ended at pos is
// durable in every sink. It only updates memory; the saver goroutine of Run
// persists the position.
func (s *Source) Confirm(pos change.Position) {
	s.mu.Lock()
	i := 0
	for i < len(s.pending) && s.pending[i].pos != pos {
		i++
	}
	if i == len(s.pending) {
		s.mu.Unlock()
		return // not ours (a replay confirmed twice): ignore
	}
	for _, p := range s.pending[:i+1] {
		if p.snap != nil {
			s.snapTarget = p.snap
		}
	}
	s.pending = append(s.pending[:0], s.pending[i+1:]...)
	if pos.LSN == 0 {
		s.target = pos
		if len(s.pending) == 0 && !s.idleNext.IsZero() {
			s.target, s.delivered = s.idleNext, s.idleNext
			s.idleNext = change.Position{}
		}
	}
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// handOver records a transaction end about to be handed to the pipeline.
func (s *Source) handOver(pos change.Position, snap *snapState, commitMs int64) {
	s.mu.Lock()
	s.pending = append(s.pending, pendingEnd{pos: pos, snap: snap, ms: commitMs})
	s.idleNext = change.Position{}
	if snap != nil {
		s.snapDelivered = snap
	} else {
		s.delivered = pos
		s.partialTx, s.partialN = "", 0
	}
	s.mu.Unlock()
}

// idle records that the stream passed a transaction that produced no
// events: when nothing handed over awaits confirmation, the position may
// move there, so that a source whose tables are quiet does not fall behind
// the server's binlog retention.
func (s *Source) idle(pos change.Position) {
	s.mu.Lock()
	if len(s.pending) == 0 {
		s.target, s.delivered = pos, pos
	} else {
		s.idleNext = pos
	}
	s.mu.Unlock()
}

// pendingCount returns how many handed-over transaction ends await Confirm.
func (s *Source) pendingCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// Status is a point-in-time view of the source for /status and metrics.
type Status struct {
	State        string  `json:"state"`
	Position     string  `json:"position"` // the saved position, compact (GTID set or file:pos)
	Flavor       string  `json:"flavor,omitempty"`
	ServerID     uint32  `json:"server_id"`
	GTID         string  `json:"gtid"`
	File         string  `json:"file"`
	Pos          uint64  `json:"pos"`
	Pending      int     `json:"pending_transactions"`
	LagSeconds   float64 `json:"lag_seconds"`
	Transactions uint64  `json:"transactions"`
	Events       uint64  `json:"events"`
	Reconnects   uint64  `json:"reconnects"`
	Saves        uint64  `json:"position_saves"`
}

// Status returns the source's saved position and lag. Lag in seconds is
// the age of the oldest delivered but unconfirmed transaction (0 when
// everything delivered is confirmed).
func (s *Source) Status() Status {
	state, _ := s.state.Load().(string)
	if state == "" {
		state = "connecting"
	}
	flavor, _ := s.flavor.Load().(string)
	s.mu.Lock()
	pos, n := s.target, len(s.pending)
	var oldest int64
	if n > 0 {
		oldest = s.pending[0].ms
	}
	s.mu.Unlock()
	st := Status{State: state, Flavor: flavor, ServerID: s.cfg.ServerID, GTID: pos.GTID, File: pos.File, Pos: pos.Pos,
		Pending: n, Transactions: s.stats.Transactions.Load(), Events: s.stats.Events.Load(),
		Reconnects: s.stats.Reconnects.Load(), Saves: s.stats.Saves.Load()}
	if !pos.IsZero() {
		st.Position = pos.String()
	}
	if n > 0 && oldest > 0 {
		st.LagSeconds = max(0, time.Since(time.UnixMilli(oldest)).Seconds())
	}
	return st
}

// Run connects, checks the server, snapshots when there is no saved
// position, and streams the binlog until ctx is cancelled. See
// replicator.Source.
func (s *Source) Run(ctx context.Context, out chan<- replicator.Batch) error {
	s.state.Store("connecting")
	if s.stats.runs.Add(1) > 1 {
		s.stats.Reconnects.Add(1)
	}
	conn, err := s.connect(ctx)
	if err != nil {
		return replicator.Classify(fmt.Errorf("connect: %w", err))
	}
	defer conn.Close()
	srv, err := s.preflight(ctx, conn)
	if err != nil {
		return replicator.Classify(err)
	}
	s.flavor.Store(srv.flavor)

	saverCtx, stopSaver := context.WithCancel(context.WithoutCancel(ctx))
	saverDone := make(chan struct{})
	go func() { defer close(saverDone); s.saver(saverCtx) }()
	defer func() {
		stopSaver()
		<-saverDone
	}()

	start, filter, err := s.startPosition(ctx, conn, srv, out)
	if err != nil {
		return replicator.Classify(err)
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := s.checkPurged(conn, srv, start); err != nil {
		return replicator.Classify(err)
	}
	conn.Close()
	return replicator.Classify(s.stream(ctx, srv, start, filter, out))
}

// connect opens a query connection with the session settings the snapshot
// and the checks rely on.
func (s *Source) connect(ctx context.Context) (*client.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := client.ConnectWithContext(cctx, s.dsn.Addr, s.dsn.User, s.dsn.Password, "", 15*time.Second,
		func(c *client.Conn) error {
			c.SetCapability(gomysql.CLIENT_MULTI_RESULTS)
			return nil
		})
	if err != nil {
		var me *gomysql.MyError
		if asMyError(err, &me) && (me.Code == gomysql.ER_ACCESS_DENIED_ERROR || me.Code == gomysql.ER_DBACCESS_DENIED_ERROR) {
			return nil, replicator.Permanent(fmt.Errorf("%s@%s: %w", s.dsn.User, s.dsn.Addr, err))
		}
		return nil, fmt.Errorf("%s@%s: %w", s.dsn.User, s.dsn.Addr, err)
	}
	for _, q := range []string{
		"SET NAMES utf8mb4",
		"SET SESSION time_zone = '+00:00'",
		"SET SESSION sql_mode = ''",
	} {
		if _, err := conn.Execute(q); err != nil {
			conn.Close()
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	return conn, nil
}

// saver persists the confirmed position and snapshot progress, at most once
// per SaveInterval, and once more when ctx ends.
func (s *Source) saver(ctx context.Context) {
	t := time.NewTicker(s.cfg.SaveInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := s.save(sctx); err != nil {
				s.log.Warn("final position save failed; the last confirmed transactions will be replayed (deduplicated by ID)", "err", err)
			}
			cancel()
			return
		case <-t.C:
		}
		if err := s.save(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("save position", "err", err)
		}
	}
}

// save writes the confirmed position and snapshot progress when they changed.
func (s *Source) save(ctx context.Context) error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.mu.Lock()
	pos, saved := s.target, s.saved
	snap, snapSaved := s.snapTarget, s.snapSaved
	s.mu.Unlock()
	if snap != nil && snap != snapSaved {
		if err := s.putSnapState(ctx, snap); err != nil {
			return err
		}
		s.mu.Lock()
		s.snapSaved = snap
		s.mu.Unlock()
	}
	if pos.IsZero() || pos == saved {
		return nil
	}
	if err := s.putPosition(ctx, pos); err != nil {
		return err
	}
	s.stats.Saves.Add(1)
	s.mu.Lock()
	s.saved = pos
	s.mu.Unlock()
	return nil
}

// asMyError finds a server error in err's chain, following both Unwrap
// and the Cause method of the pingcap/errors wrappers go-mysql uses.
func asMyError(err error, target **gomysql.MyError) bool {
	for err != nil {
		if me, ok := err.(*gomysql.MyError); ok {
			*target = me
			return true
		}
		switch x := err.(type) {
		case interface{ Unwrap() error }:
			err = x.Unwrap()
		case interface{ Cause() error }:
			c := x.Cause()
			if c == err {
				return false
			}
			err = c
		default:
			return false
		}
	}
	return false
}

func splitTable(t string) (db, table string, ok bool) {
	db, table, ok = strings.Cut(t, ".")
	return db, table, ok && db != "" && table != "" && !strings.Contains(table, ".")
}
