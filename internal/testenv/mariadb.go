package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
)

// mysqlPassword is the password of the TCP login root@'%' that testenv
// creates. The servers listen on 127.0.0.1 only and live for one test.
const mysqlPassword = "tributary"

// MySQLOptions configures StartMariaDB. The zero value is a new temp dir on a
// free port.
type MySQLOptions struct {
	// Dir is the data directory. "" creates a temp dir that Close removes; a
	// given Dir is initialized when empty, reused otherwise, and kept.
	Dir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// Args are extra mariadbd options (like "--binlog-row-image=MINIMAL"),
	// applied after the defaults so that they win.
	Args []string
	// Log receives the server's log output; nil discards it (the last lines
	// are still kept for error messages and LogTail).
	Log io.Writer
}

// MySQL is a MariaDB server started by StartMariaDB or MariaDB. Its binary
// log is on: ROW format, full row image, full row metadata, server_id 1,
// GTID strict mode. User and Password log in over TCP with all privileges,
// REPLICATION SLAVE and REPLICATION CLIENT included.
type MySQL struct {
	Host     string // always 127.0.0.1
	Port     int
	Dir      string // data directory; the binary logs are Dir/binlog.*
	Socket   string // unix socket, inside the temp dir
	User     string // root
	Password string
	Bin      string // the mariadbd binary

	args []string
	dbServer
}

// MariaDB starts a throwaway MariaDB with a ROW binary log for the test, and
// stops and removes it in t.Cleanup. Missing binaries skip the test, or fail
// it when CI=true.
func MariaDB(t testing.TB) *MySQL {
	t.Helper()
	return MariaDBWith(t, MySQLOptions{})
}

// MariaDBWith is MariaDB with options.
func MariaDBWith(t testing.TB, opts MySQLOptions) *MySQL {
	t.Helper()
	m, err := StartMariaDB(context.Background(), opts)
	if errors.Is(err, ErrUnavailable) {
		unavailable(t, err)
	}
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testenv: mariadb on port %d, last log lines:\n%s", m.Port, m.LogTail(40))
		}
		if err := m.Close(); err != nil {
			t.Errorf("testenv: %v", err)
		}
	})
	return m
}

// StartMariaDB initializes (when needed) and starts a MariaDB server, makes
// sure the TCP login works, and returns once it does. The caller calls Close.
// An error wraps ErrUnavailable when MariaDB is not installed.
func StartMariaDB(ctx context.Context, opts MySQLOptions) (*MySQL, error) {
	bin, install, err := mariadbBins()
	if err != nil {
		return nil, err
	}
	as, err := lookupRunAs("mysql")
	if err != nil {
		return nil, err
	}
	root, owned, err := makeRoot(as, opts.Dir, "tributary-mariadb-")
	if err != nil {
		return nil, fmt.Errorf("start mariadb: %w", err)
	}
	m := &MySQL{Host: "127.0.0.1", User: "root", Password: mysqlPassword, Bin: bin, args: opts.Args,
		dbServer: dbServer{kind: "mariadb", root: root, owned: owned, as: as, log: &logTail{fwd: opts.Log}}}
	m.Dir, m.Socket = root, filepath.Join(root, "mariadbd.sock")
	if owned {
		m.Dir = filepath.Join(root, "data")
	}
	fail := func(err error) (*MySQL, error) {
		_ = m.Close()
		return nil, fmt.Errorf("start mariadb: %w", err)
	}
	if _, err := os.Stat(filepath.Join(m.Dir, "mysql")); err != nil {
		if err := as.run(ctx, root, install, "--no-defaults", "--datadir="+m.Dir,
			"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve",
			"--innodb-log-file-size=16M"); err != nil {
			return fail(err)
		}
	}
	for attempt := 1; ; attempt++ {
		m.Port = opts.Port
		if m.Port == 0 {
			if m.Port, err = FreePort(); err != nil {
				return fail(err)
			}
		}
		err := m.Start(ctx)
		if err == nil {
			return m, nil
		}
		// Another process took the free port between FreePort and bind.
		if opts.Port == 0 && attempt < 5 && m.log.contains("Address already in use") {
			m.log = &logTail{fwd: opts.Log}
			continue
		}
		return fail(err)
	}
}

// DSN returns a go-sql-driver style data source name for database db (""
// for none) over TCP: root:PASSWORD@tcp(127.0.0.1:PORT)/db.
func (m *MySQL) DSN(db string) string {
	return fmt.Sprintf("%s:%s@tcp(%s)/%s", m.User, m.Password, m.Addr(), db)
}

// Addr returns host:port, the address go-mysql's client and replication
// packages take.
func (m *MySQL) Addr() string {
	return m.Host + ":" + strconv.Itoa(m.Port)
}

// Start starts the server again after Stop or Kill, on the same port and
// data, and waits until the TCP login works.
func (m *MySQL) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	args := []string{
		"--no-defaults",
		"--datadir=" + m.Dir,
		"--socket=" + m.Socket,
		"--pid-file=" + filepath.Join(m.root, "mariadbd.pid"),
		"--port=" + strconv.Itoa(m.Port),
		"--bind-address=127.0.0.1",
		"--skip-name-resolve",
		"--log-bin=" + filepath.Join(m.Dir, "binlog"),
		"--binlog-format=ROW",
		"--binlog-row-image=FULL",
		"--binlog-row-metadata=FULL",
		"--server-id=1",
		"--log-slave-updates",
		"--gtid-strict-mode=ON",
		"--character-set-server=utf8mb4",
		"--collation-server=utf8mb4_general_ci",
		"--innodb-buffer-pool-size=64M",
		"--innodb-log-file-size=16M",
		"--innodb-flush-log-at-trx-commit=2",
		"--innodb-doublewrite=0",
		"--skip-performance-schema",
	}
	args = append(args, m.args...)
	proc, err := m.launch(m.Port, m.Bin, args...)
	if err != nil {
		return err
	}
	err = waitReady(ctx, proc, 60*time.Second, m.pingSocket)
	if err == nil {
		err = m.ensureTCPLogin(ctx)
	}
	if err != nil {
		return m.abort(m.Port, syscall.SIGKILL, err)
	}
	return nil
}

// pingSocket logs in as root over the unix socket (no password there).
func (m *MySQL) pingSocket(ctx context.Context) error {
	conn, err := client.ConnectWithContext(ctx, m.Socket, "root", "", "", 2*time.Second)
	if err != nil {
		return err
	}
	return conn.Quit()
}

// ensureTCPLogin creates root@'%' with the password and every privilege,
// outside the binary log, and checks that it can log in over TCP.
func (m *MySQL) ensureTCPLogin(ctx context.Context) error {
	conn, err := client.ConnectWithContext(ctx, m.Socket, "root", "", "", 5*time.Second)
	if err != nil {
		return fmt.Errorf("socket login: %w", err)
	}
	defer conn.Quit()
	// mariadb-install-db creates password-less root@127.0.0.1 and root@::1,
	// which win over root@'%' for TCP logins: they get the password too.
	stmts := []string{"SET SESSION sql_log_bin = 0"}
	for _, host := range []string{"%", "127.0.0.1", "::1"} {
		account := "'root'@'" + host + "'"
		stmts = append(stmts,
			"CREATE USER IF NOT EXISTS "+account,
			"ALTER USER "+account+" IDENTIFIED BY '"+mysqlPassword+"'",
			"GRANT ALL PRIVILEGES ON *.* TO "+account+" WITH GRANT OPTION")
	}
	for _, stmt := range stmts {
		if _, err := conn.Execute(stmt); err != nil {
			return fmt.Errorf("create TCP login: %s: %w", stmt, err)
		}
	}
	tcp, err := client.ConnectWithContext(ctx, m.Addr(), m.User, m.Password, "", 5*time.Second)
	if err != nil {
		return fmt.Errorf("TCP login %s@%s: %w", m.User, m.Addr(), err)
	}
	return tcp.Quit()
}

// Stop shuts the server down normally (SIGTERM) and waits for it to exit.
// It kills the server if ctx ends first, or after 60 s.
func (m *MySQL) Stop(ctx context.Context) error {
	return m.stop(ctx, m.Port, syscall.SIGTERM, 60*time.Second)
}

// Kill kills the server (SIGKILL, a crash: InnoDB recovers on the next start)
// and waits for it to exit.
func (m *MySQL) Kill() error {
	return m.stop(context.Background(), m.Port, syscall.SIGKILL, 10*time.Second)
}

// Close stops the server and removes its temp dir when StartMariaDB created
// it. It is safe to call more than once.
func (m *MySQL) Close() error {
	return m.close(m.Port, syscall.SIGTERM, 30*time.Second)
}

// LogTail returns the last n lines the server logged.
func (m *MySQL) LogTail(n int) string { return m.log.Lines(n) }

// Conn opens a TCP connection to database db ("" for none) as User, closed
// in t.Cleanup. It accepts several statements in one Execute without args.
func (m *MySQL) Conn(t testing.TB, db string) *client.Conn {
	t.Helper()
	conn, err := m.connect(db)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { _ = conn.Quit() })
	return conn
}

func (m *MySQL) connect(db string) (*client.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := client.ConnectWithContext(ctx, m.Addr(), m.User, m.Password, db, 10*time.Second,
		func(c *client.Conn) error {
			c.SetCapability(mysql.CLIENT_MULTI_STATEMENTS | mysql.CLIENT_MULTI_RESULTS)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("connect %s@%s/%s: %w", m.User, m.Addr(), db, err)
	}
	return conn, nil
}

// Exec runs sql over TCP with no database selected and fails t on error.
// With args it is one statement with ? placeholders; without args it may be
// several statements separated by semicolons.
func (m *MySQL) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	m.ExecDB(t, "", sql, args...)
}

// ExecDB is Exec with database db selected.
func (m *MySQL) ExecDB(t testing.TB, db, sql string, args ...any) {
	t.Helper()
	conn, err := m.connect(db)
	if err != nil {
		t.Fatalf("testenv: exec %s: %v", shortSQL(sql), err)
	}
	defer conn.Quit()
	if len(args) > 0 {
		_, err = conn.Execute(sql, args...)
	} else {
		_, err = conn.ExecuteMultiple(sql, func(_ *mysql.Result, e error) {
			if e != nil && err == nil {
				err = e
			}
		})
	}
	if err != nil {
		t.Fatalf("testenv: exec %s: %v", shortSQL(sql), err)
	}
}

// mariadbBins finds mariadbd (or mysqld) and mariadb-install-db (or
// mysql_install_db): $TRIBUTARY_MARIADB_BINDIR, /usr/sbin and /usr/bin, $PATH.
func mariadbBins() (server, install string, err error) {
	find := func(names ...string) string {
		dirs := []string{"/usr/sbin", "/usr/bin", "/usr/local/mysql/bin"}
		if d := os.Getenv("TRIBUTARY_MARIADB_BINDIR"); d != "" {
			dirs = []string{d}
		}
		for _, name := range names {
			for _, dir := range dirs {
				if st, err := os.Stat(filepath.Join(dir, name)); err == nil && !st.IsDir() {
					return filepath.Join(dir, name)
				}
			}
			if os.Getenv("TRIBUTARY_MARIADB_BINDIR") == "" {
				if p, err := exec.LookPath(name); err == nil {
					return p
				}
			}
		}
		return ""
	}
	server = find("mariadbd", "mysqld")
	install = find("mariadb-install-db", "mysql_install_db")
	if server == "" || install == "" {
		where := "/usr/sbin, /usr/bin or $PATH; install mariadb-server or set TRIBUTARY_MARIADB_BINDIR"
		if d := os.Getenv("TRIBUTARY_MARIADB_BINDIR"); d != "" {
			where = "TRIBUTARY_MARIADB_BINDIR=" + d
		}
		return "", "", fmt.Errorf("%w: MariaDB server binaries (mariadbd, mariadb-install-db) not found in %s", ErrUnavailable, where)
	}
	return server, install, nil
}
