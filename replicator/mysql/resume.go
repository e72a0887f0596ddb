package mysql

import (
	"strconv"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
)

// ResumeAfter makes the stream skip the events the sinks already hold: the
// transactions before the one of id and that transaction's events up to id.
// A transaction is skipped only when it is provably at or before the stored
// one: the same GTID domain (MariaDB) or server UUID (MySQL) with a lower or
// equal sequence number, or an earlier binlog file:pos when GTIDs are off.
// Anything it cannot order is published (and left to the stream's duplicate
// window), so a stored ID from another history never hides a change.
func (s *Source) ResumeAfter(id string) {
	rest, ok := strings.CutPrefix(id, s.cfg.Name+":")
	i := strings.LastIndexByte(rest, ':')
	if !ok || i <= 0 || strings.HasPrefix(rest, "snap:") {
		return
	}
	n, err := strconv.ParseInt(rest[i+1:], 10, 64)
	if err != nil || n < 1 {
		s.log.Warn("ignoring an unrecognised last stored event id", "id", id)
		return
	}
	s.mu.Lock()
	s.resumeTx, s.resumeN = rest[:i], n
	s.mu.Unlock()
	s.log.Info("resuming after the last stored event", "id", id)
}

// takeResume returns the resume point set by ResumeAfter, once.
func (s *Source) takeResume() (string, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, n := s.resumeTx, s.resumeN
	s.resumeTx, s.resumeN = "", 0
	return tx, n
}

// resumeOrder compares the transaction tx (its ID: a GTID or file:pos) with
// the stored transaction stored: -1 before, 0 the same, +1 after, and ok
// false when the two cannot be ordered.
func resumeOrder(tx, stored string) (cmp int, ok bool) {
	if tx == stored {
		return 0, true
	}
	if a, err := gomysql.ParseMariadbGTID(tx); err == nil && strings.Count(tx, "-") == 2 {
		b, err := gomysql.ParseMariadbGTID(stored)
		if err != nil || a.DomainID != b.DomainID {
			return 0, false
		}
		return cmpUint(a.SequenceNumber, b.SequenceNumber), true
	}
	if ua, na, err := splitMySQLGTID(tx); err == nil {
		ub, nb, err := splitMySQLGTID(stored)
		if err != nil || ua != ub {
			return 0, false
		}
		return cmpUint(uint64(na), uint64(nb)), true
	}
	fa, pa, okA := splitFilePos(tx)
	fb, pb, okB := splitFilePos(stored)
	if !okA || !okB {
		return 0, false
	}
	return compareFilePos(fa, pa, fb, pb), true
}

func splitFilePos(s string) (string, uint64, bool) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return "", 0, false
	}
	p, err := strconv.ParseUint(s[i+1:], 10, 64)
	return s[:i], p, err == nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
