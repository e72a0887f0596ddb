package mysql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/google/uuid"
	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/replicator"
)

// savedPosition is the JSON stored under positionKey.
type savedPosition struct {
	Flavor  string    `json:"flavor"`
	GTID    string    `json:"gtid,omitempty"`
	File    string    `json:"file,omitempty"`
	Pos     uint64    `json:"pos,omitempty"`
	Updated time.Time `json:"updated"`
}

func (s *Source) positionKey() string { return "mysql." + s.cfg.Name + ".position" }
func (s *Source) snapshotKey() string { return "mysql." + s.cfg.Name + ".snapshot" }

func (s *Source) putPosition(ctx context.Context, pos change.Position) error {
	flavor, _ := s.flavor.Load().(string)
	b, _ := json.Marshal(savedPosition{Flavor: flavor, GTID: pos.GTID, File: pos.File, Pos: pos.Pos, Updated: time.Now().UTC()})
	if err := s.cfg.State.Put(ctx, s.positionKey(), b); err != nil {
		return fmt.Errorf("save position %s: %w", pos, err)
	}
	return nil
}

// loadPosition returns the saved position, or the zero position.
func (s *Source) loadPosition(ctx context.Context) (change.Position, error) {
	b, err := s.cfg.State.Get(ctx, s.positionKey())
	if errors.Is(err, replicator.ErrNotFound) {
		return change.Position{}, nil
	}
	if err != nil {
		return change.Position{}, fmt.Errorf("read position %s: %w", s.positionKey(), err)
	}
	var sp savedPosition
	if err := json.Unmarshal(b, &sp); err != nil {
		return change.Position{}, replicator.Permanent(fmt.Errorf("decode position %s: %w (delete the key to take a fresh snapshot)", s.positionKey(), err))
	}
	return change.Position{GTID: sp.GTID, File: sp.File, Pos: sp.Pos}, nil
}

// gtidSet is the set of transactions executed up to a point of the binlog,
// in the flavor's text form: MariaDB's domain-server-seq list (one GTID per
// domain, as in gtid_slave_pos) or MySQL's uuid:interval set.
type gtidSet interface {
	String() string
	// add adds one transaction's GTID ("0-1-42" or "uuid:42").
	add(gtid string) error
	// contains reports whether the transaction gtid is in the set.
	contains(gtid string) bool
}

func parseGTIDSet(flavor, s string) (gtidSet, error) {
	if flavor == gomysql.MariaDBFlavor {
		return parseMariaSet(s)
	}
	set, err := gomysql.ParseMysqlGTIDSet(s)
	if err != nil {
		return nil, fmt.Errorf("parse GTID set %q: %w", s, err)
	}
	return &mysqlSet{set.(*gomysql.MysqlGTIDSet)}, nil
}

// mariaSet is a MariaDB GTID position: the last GTID of each domain.
type mariaSet map[uint32]gomysql.MariadbGTID

func parseMariaSet(s string) (mariaSet, error) {
	m := mariaSet{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if err := m.add(part); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m mariaSet) add(gtid string) error {
	g, err := gomysql.ParseMariadbGTID(gtid)
	if err != nil {
		return fmt.Errorf("parse MariaDB GTID %q: %w", gtid, err)
	}
	m[g.DomainID] = *g
	return nil
}

func (m mariaSet) contains(gtid string) bool {
	g, err := gomysql.ParseMariadbGTID(gtid)
	if err != nil {
		return false
	}
	have, ok := m[g.DomainID]
	return ok && have.SequenceNumber >= g.SequenceNumber
}

// covers reports whether m has executed everything o has, domain by domain.
func (m mariaSet) covers(o mariaSet) bool {
	for d, g := range o {
		if have, ok := m[d]; !ok || have.SequenceNumber < g.SequenceNumber {
			return false
		}
	}
	return true
}

func (m mariaSet) String() string {
	domains := make([]uint32, 0, len(m))
	for d := range m {
		domains = append(domains, d)
	}
	sort.Slice(domains, func(i, j int) bool { return domains[i] < domains[j] })
	var b []byte
	for i, d := range domains {
		if i > 0 {
			b = append(b, ',')
		}
		g := m[d]
		b = strconv.AppendUint(b, uint64(g.DomainID), 10)
		b = append(b, '-')
		b = strconv.AppendUint(b, uint64(g.ServerID), 10)
		b = append(b, '-')
		b = strconv.AppendUint(b, g.SequenceNumber, 10)
	}
	return string(b)
}

// mysqlSet is a MySQL GTID set.
type mysqlSet struct{ set *gomysql.MysqlGTIDSet }

func (m *mysqlSet) String() string { return m.set.String() }

func (m *mysqlSet) add(gtid string) error {
	sid, gno, err := splitMySQLGTID(gtid)
	if err != nil {
		return err
	}
	m.set.AddGTID(sid, gno)
	return nil
}

func (m *mysqlSet) contains(gtid string) bool {
	sid, gno, err := splitMySQLGTID(gtid)
	if err != nil {
		return false
	}
	one := gomysql.NewUUIDSet(sid, gomysql.Interval{Start: gno, Stop: gno + 1})
	have, ok := m.set.Sets[sid.String()]
	return ok && have.Contain(one)
}

func splitMySQLGTID(gtid string) (uuid.UUID, int64, error) {
	u, n, ok := strings.Cut(gtid, ":")
	if i := strings.LastIndexByte(gtid, ':'); ok && i > len(u) {
		n = gtid[i+1:] // uuid:tag:gno (MySQL 8.4 tagged GTIDs): the tag is ignored
	}
	sid, err := uuid.Parse(u)
	if err != nil || !ok {
		return uuid.UUID{}, 0, fmt.Errorf("parse MySQL GTID %q: want uuid:number", gtid)
	}
	gno, err := strconv.ParseInt(n, 10, 64)
	if err != nil {
		return uuid.UUID{}, 0, fmt.Errorf("parse MySQL GTID %q: %w", gtid, err)
	}
	return sid, gno, nil
}

// compareFilePos orders binlog coordinates: by the file's numeric
// extension, then by offset.
func compareFilePos(f1 string, p1 uint64, f2 string, p2 uint64) int {
	if f1 != f2 {
		n1, n2 := binlogIndex(f1), binlogIndex(f2)
		if n1 != n2 {
			if n1 < n2 {
				return -1
			}
			return 1
		}
		return strings.Compare(f1, f2)
	}
	switch {
	case p1 < p2:
		return -1
	case p1 > p2:
		return 1
	}
	return 0
}

func binlogIndex(f string) uint64 {
	i := strings.LastIndexByte(f, '.')
	n, _ := strconv.ParseUint(f[i+1:], 10, 64)
	return n
}

// headPosition reads the server's current binlog position.
func headPosition(conn *client.Conn, srv *serverInfo) (change.Position, error) {
	r, err := conn.Execute(srv.statusQuery)
	if err != nil {
		return change.Position{}, fmt.Errorf("%s: %w", srv.statusQuery, err)
	}
	if r.RowNumber() == 0 {
		return change.Position{}, replicator.Permanent(errors.New("the binary log is off (SHOW MASTER STATUS is empty): start the server with log_bin"))
	}
	file, _ := r.GetStringByName(0, "File")
	pos, _ := r.GetUintByName(0, "Position")
	p := change.Position{File: file, Pos: pos}
	if srv.flavor == gomysql.MariaDBFlavor {
		g, err := queryString(conn, "SELECT @@GLOBAL.gtid_binlog_pos")
		if err != nil {
			return p, err
		}
		p.GTID = g
	} else if srv.gtid {
		p.GTID, _ = r.GetStringByName(0, "Executed_Gtid_Set")
		p.GTID = strings.ReplaceAll(p.GTID, "\n", "")
	}
	return p, nil
}

// errPurged is the message of the permanent error for a resume position the
// server no longer has.
func (s *Source) errPurged(pos change.Position, oldest string) error {
	return replicator.Permanent(fmt.Errorf("the binlog needed to resume from position %s has been purged from the server (oldest available: %s); "+
		"Tributary never skips ahead: to recover, take a fresh snapshot by deleting the saved position (state keys %s and %s: "+
		"in the JetStream KV bucket tributary_state, or the files of that name under data_dir/state) and restarting",
		pos, oldest, s.positionKey(), s.snapshotKey()))
}

// checkPurged fails with errPurged when the server has purged binlog that
// streaming from pos needs.
func (s *Source) checkPurged(conn *client.Conn, srv *serverInfo, pos change.Position) error {
	r, err := conn.Execute("SHOW BINARY LOGS")
	if err != nil {
		return fmt.Errorf("SHOW BINARY LOGS: %w", err)
	}
	if r.RowNumber() == 0 {
		return nil
	}
	oldest, _ := r.GetString(0, 0)
	switch {
	case pos.GTID != "" && srv.flavor == gomysql.MariaDBFlavor:
		start, err := queryString(conn, "SELECT BINLOG_GTID_POS("+quoteString(oldest)+", 4)")
		if err != nil {
			return err
		}
		have, err1 := parseMariaSet(pos.GTID)
		need, err2 := parseMariaSet(start)
		if err1 != nil || err2 != nil {
			return replicator.Permanent(fmt.Errorf("compare GTID positions %q and %q: %w", pos.GTID, start, errors.Join(err1, err2)))
		}
		if !have.covers(need) {
			return s.errPurged(pos, oldest+" starting after GTID "+start)
		}
	case pos.GTID != "" && srv.gtid:
		purged, err := queryString(conn, "SELECT @@GLOBAL.gtid_purged")
		if err != nil {
			return err
		}
		have, err1 := gomysql.ParseMysqlGTIDSet(pos.GTID)
		need, err2 := gomysql.ParseMysqlGTIDSet(strings.ReplaceAll(purged, "\n", ""))
		if err1 != nil || err2 != nil {
			return replicator.Permanent(fmt.Errorf("compare GTID sets %q and %q: %w", pos.GTID, purged, errors.Join(err1, err2)))
		}
		if !have.Contain(need) {
			return s.errPurged(pos, oldest+" (gtid_purged "+purged+")")
		}
	case pos.File != "":
		for i := range r.Values {
			if f, _ := r.GetString(i, 0); f == pos.File {
				return nil
			}
		}
		if compareFilePos(pos.File, 0, oldest, 0) < 0 {
			return s.errPurged(pos, oldest)
		}
		return replicator.Permanent(fmt.Errorf("resume position %s: the server has no binlog file %s (oldest %s): was the server's binlog reset? delete the saved position (%s) to take a fresh snapshot", pos, pos.File, oldest, s.positionKey()))
	}
	return nil
}

func queryString(conn *client.Conn, q string) (string, error) {
	r, err := conn.Execute(q)
	if err != nil {
		return "", fmt.Errorf("%s: %w", q, err)
	}
	if r.RowNumber() == 0 {
		return "", nil
	}
	v, _ := r.GetString(0, 0)
	return v, nil
}

// startPosition decides where streaming starts: where this process left
// off after a reconnect; else the saved position; else, with a snapshot
// configured, the snapshot's first consistent point once the snapshot is
// done (taking or resuming it); else the server's current position, saved
// at once so that a crash before the first confirmation loses nothing.
func (s *Source) startPosition(ctx context.Context, conn *client.Conn, srv *serverInfo, out chan<- replicator.Batch) (change.Position, *streamFilter, error) {
	s.mu.Lock()
	delivered, filter := s.delivered, s.filter
	s.mu.Unlock()
	if !delivered.IsZero() {
		return delivered, filter, nil
	}
	pos, err := s.loadPosition(ctx)
	if err != nil {
		return pos, nil, err
	}
	snap, err := s.loadSnapState(ctx)
	if err != nil {
		return pos, nil, err
	}
	if !pos.IsZero() {
		filter, err := newStreamFilter(srv, snap)
		if err != nil {
			return pos, nil, err
		}
		s.mu.Lock()
		s.target, s.saved, s.delivered, s.filter = pos, pos, pos, filter
		s.mu.Unlock()
		s.log.Info("resuming from the saved position", "position", pos)
		return pos, filter, nil
	}
	if !s.cfg.Snapshot {
		head, err := headPosition(conn, srv)
		if err != nil {
			return head, nil, err
		}
		if err := s.putPosition(ctx, head); err != nil {
			return head, nil, err
		}
		s.mu.Lock()
		s.target, s.saved, s.delivered = head, head, head
		s.mu.Unlock()
		s.log.Info("no saved position and no snapshot configured: streaming from the server's current position", "position", head)
		return head, nil, nil
	}
	if snap != nil && snap.Status == "done" {
		s.log.Warn("snapshot record without a saved position (the position was deleted?): taking a fresh snapshot")
		snap = nil
	}
	s.mu.Lock()
	if s.snapDelivered != nil {
		snap = s.snapDelivered // a retry in this process: what was handed over will be durable
	}
	s.mu.Unlock()
	s.state.Store("snapshot")
	done, err := s.snapshot(ctx, srv, snap, out)
	if err != nil {
		return pos, nil, err
	}
	start := done.Runs[0].position()
	filter, err = newStreamFilter(srv, done)
	if err != nil {
		return pos, nil, err
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	if err := s.putSnapState(ctx, done); err != nil {
		return pos, nil, err
	}
	if err := s.putPosition(ctx, start); err != nil {
		return pos, nil, err
	}
	s.mu.Lock()
	s.snapSaved, s.target, s.saved, s.delivered, s.filter = done, start, start, start, filter
	s.mu.Unlock()
	return start, filter, nil
}
