package mysql

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/tributary-cdc/tributary/replicator"
)

// serverInfo is what the pre-flight checks learned about the server.
type serverInfo struct {
	flavor      string // gomysql.MariaDBFlavor or gomysql.MySQLFlavor
	version     string
	serverID    uint32
	gtid        bool   // GTID positions are used (MariaDB always; MySQL with gtid_mode=ON)
	statusQuery string // SHOW MASTER STATUS, or SHOW BINARY LOG STATUS on MySQL 8.4+
}

// preflight checks what the source needs of the server and says how to fix
// what is missing: the binary log in ROW format with full row images and
// full row metadata, a server_id distinct from the server's, the
// REPLICATION SLAVE, REPLICATION CLIENT and SELECT privileges, the tables.
// Every problem found is reported at once.
func (s *Source) preflight(_ context.Context, conn *client.Conn) (*serverInfo, error) {
	srv := &serverInfo{flavor: gomysql.MySQLFlavor, statusQuery: "SHOW MASTER STATUS"}
	version, err := queryString(conn, "SELECT VERSION()")
	if err != nil {
		return nil, fmt.Errorf("preflight: %w", err)
	}
	srv.version = version
	if strings.Contains(strings.ToLower(version), "mariadb") {
		srv.flavor = gomysql.MariaDBFlavor
	} else if mysqlAtLeast(version, 8, 4) {
		srv.statusQuery = "SHOW BINARY LOG STATUS"
	}
	vars := map[string]string{}
	r, err := conn.Execute("SHOW GLOBAL VARIABLES WHERE Variable_name IN ('log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_metadata', 'server_id', 'gtid_mode', 'binlog_row_value_options')")
	if err != nil {
		return nil, fmt.Errorf("preflight: read server variables: %w", err)
	}
	for i := range r.Values {
		k, _ := r.GetString(i, 0)
		v, _ := r.GetString(i, 1)
		vars[strings.ToLower(k)] = strings.ToUpper(v)
	}
	var problems []string
	fix := "set it in the server's configuration ([mysqld] section) too, to keep it across restarts"
	if vars["log_bin"] != "ON" && vars["log_bin"] != "1" {
		problems = append(problems, "the binary log is off (log_bin="+vars["log_bin"]+"): start the server with log_bin (e.g. log_bin=binlog)")
	}
	if v := vars["binlog_format"]; v != "ROW" {
		problems = append(problems, "binlog_format is "+v+", want ROW: SET GLOBAL binlog_format = 'ROW' and "+fix)
	}
	if v := vars["binlog_row_image"]; v != "FULL" {
		problems = append(problems, "binlog_row_image is "+v+", want FULL (before and after images of every column): SET GLOBAL binlog_row_image = 'FULL' and "+fix)
	}
	switch v, ok := vars["binlog_row_metadata"]; {
	case !ok:
		problems = append(problems, "the server has no binlog_row_metadata variable: column names in the binlog need MySQL 8.0.1+ or MariaDB 10.5+")
	case v != "FULL":
		problems = append(problems, "binlog_row_metadata is "+v+", want FULL (column names and types in every table map, which keeps columns mapped right across DDL): SET GLOBAL binlog_row_metadata = 'FULL' and "+fix)
	}
	if v := vars["binlog_row_value_options"]; strings.Contains(v, "PARTIAL_JSON") {
		problems = append(problems, "binlog_row_value_options is PARTIAL_JSON, which logs JSON updates as diffs: SET GLOBAL binlog_row_value_options = '' and "+fix)
	}
	id, _ := strconv.ParseUint(vars["server_id"], 10, 32)
	srv.serverID = uint32(id)
	if srv.serverID == s.cfg.ServerID {
		problems = append(problems, fmt.Sprintf("server_id %d of this source is the server's own server_id: configure another server_id for the source, unique among the server's replicas", s.cfg.ServerID))
	}
	if srv.serverID == 0 {
		problems = append(problems, "the server's server_id is 0, which disables replication: set server_id to a number > 0 and restart the server")
	}
	switch {
	case srv.flavor == gomysql.MariaDBFlavor:
		srv.gtid = true
	case vars["gtid_mode"] == "ON":
		srv.gtid = true
	}
	problems = append(problems, s.checkPrivileges(conn, srv)...)
	if len(problems) > 0 {
		return nil, replicator.Permanent(fmt.Errorf("the server is not ready for change capture:\n  - %s", strings.Join(problems, "\n  - ")))
	}
	return srv, nil
}

var grantOn = regexp.MustCompile("(?i)^GRANT (.+) ON (\\S+) TO ")

// checkPrivileges checks REPLICATION SLAVE (from SHOW GRANTS), REPLICATION
// CLIENT (by reading the binlog status) and SELECT on each table (by
// selecting nothing from it).
func (s *Source) checkPrivileges(conn *client.Conn, srv *serverInfo) []string {
	var problems []string
	user := s.dsn.User
	r, err := conn.Execute("SHOW GRANTS")
	if err != nil {
		return []string{"cannot read the grants of " + user + ": " + err.Error()}
	}
	replSlave := false
	for i := range r.Values {
		g, _ := r.GetString(i, 0)
		m := grantOn.FindStringSubmatch(g)
		if m == nil || m[2] != "*.*" {
			continue
		}
		privs := strings.ToUpper(m[1])
		if strings.Contains(privs, "ALL PRIVILEGES") || strings.Contains(privs, "REPLICATION SLAVE") || strings.Contains(privs, "REPLICATION REPLICA") {
			replSlave = true
		}
	}
	if !replSlave {
		problems = append(problems, fmt.Sprintf("user %s lacks the REPLICATION SLAVE privilege (needed to read the binlog): GRANT REPLICATION SLAVE ON *.* TO '%s'@'...'", user, user))
	}
	if _, err := conn.Execute(srv.statusQuery); err != nil {
		var me *gomysql.MyError
		if asMyError(err, &me) && (me.Code == gomysql.ER_SPECIFIC_ACCESS_DENIED_ERROR || me.Code == gomysql.ER_ACCESS_DENIED_ERROR) {
			problems = append(problems, fmt.Sprintf("user %s lacks the REPLICATION CLIENT privilege (needed to read binlog positions; BINLOG MONITOR on MariaDB 10.5+): GRANT REPLICATION CLIENT ON *.* TO '%s'@'...'", user, user))
		} else {
			problems = append(problems, srv.statusQuery+": "+err.Error())
		}
	}
	for _, t := range s.cfg.Tables {
		db, table, _ := splitTable(t)
		_, err := conn.Execute("SELECT 1 FROM " + quoteIdent(db) + "." + quoteIdent(table) + " LIMIT 0")
		var me *gomysql.MyError
		switch {
		case err == nil:
		case asMyError(err, &me) && (me.Code == gomysql.ER_NO_SUCH_TABLE || me.Code == gomysql.ER_BAD_DB_ERROR):
			problems = append(problems, fmt.Sprintf("table %s does not exist", t))
		case asMyError(err, &me) && (me.Code == gomysql.ER_TABLEACCESS_DENIED_ERROR || me.Code == gomysql.ER_DBACCESS_DENIED_ERROR):
			problems = append(problems, fmt.Sprintf("user %s lacks the SELECT privilege on %s (needed for the snapshot): GRANT SELECT ON %s.* TO '%s'@'...'", user, t, quoteIdent(db), user))
		default:
			problems = append(problems, fmt.Sprintf("table %s: %v", t, err))
		}
	}
	return problems
}

// mysqlAtLeast reports whether a MySQL version string is at least major.minor.
func mysqlAtLeast(version string, major, minor int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err := errors.Join(err1, err2); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// quoteString quotes s as a string literal for a session whose sql_mode
// allows backslash escapes (the source clears sql_mode).
func quoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}
