package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PGOptions configures StartPostgres. The zero value is a new temp dir on a
// free port.
type PGOptions struct {
	// Dir is the data directory. "" creates a temp dir that Close removes; a
	// given Dir is initialized when empty, reused otherwise, and kept.
	Dir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// Settings are postgresql.conf settings applied over the defaults
	// (wal_level=logical, fsync=off, shared_buffers=64MB, ...).
	Settings map[string]string
	// Log receives the server's log output; nil discards it (the last lines
	// are still kept for error messages and LogTail).
	Log io.Writer
}

// PG is a PostgreSQL server started by StartPostgres or Postgres.
type PG struct {
	Host      string // always 127.0.0.1
	Port      int
	Dir       string // data directory
	SocketDir string // unix socket directory, inside the temp dir
	BinDir    string // where postgres and initdb were found

	dbServer // root is the temp dir holding Dir
}

// pgDefaults are the settings every server gets unless PGOptions.Settings
// overrides them: logical decoding on, durability off for speed.
var pgDefaults = map[string]string{
	"listen_addresses":      "127.0.0.1",
	"wal_level":             "logical",
	"max_replication_slots": "20",
	"max_wal_senders":       "20",
	"fsync":                 "off",
	"full_page_writes":      "off",
	"shared_buffers":        "64MB",
	"max_connections":       "100",
	"timezone":              "UTC",
	"log_timezone":          "UTC",
}

var settingName = regexp.MustCompile(`^[a-z_][a-z0-9_.]*$`)

// Postgres starts a throwaway PostgreSQL for the test, with wal_level=logical,
// and stops and removes it in t.Cleanup. Missing binaries skip the test, or
// fail it when CI=true.
func Postgres(t testing.TB) *PG {
	t.Helper()
	return PostgresWith(t, PGOptions{})
}

// PostgresWith is Postgres with options, for tests that need extra settings.
func PostgresWith(t testing.TB, opts PGOptions) *PG {
	t.Helper()
	p, err := StartPostgres(context.Background(), opts)
	if errors.Is(err, ErrUnavailable) {
		unavailable(t, err)
	}
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testenv: postgres on port %d, last log lines:\n%s", p.Port, p.LogTail(40))
		}
		if err := p.Close(); err != nil {
			t.Errorf("testenv: %v", err)
		}
	})
	return p
}

// StartPostgres initializes (when needed) and starts a PostgreSQL server and
// waits until it accepts connections. The caller calls Close. An error wraps
// ErrUnavailable when PostgreSQL is not installed.
func StartPostgres(ctx context.Context, opts PGOptions) (*PG, error) {
	for k := range opts.Settings {
		if !settingName.MatchString(k) {
			return nil, fmt.Errorf("start postgres: setting %q: not a valid parameter name", k)
		}
		if k == "port" || k == "unix_socket_directories" {
			return nil, fmt.Errorf("start postgres: setting %q: set by testenv (use PGOptions.Port)", k)
		}
	}
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	as, err := lookupRunAs("postgres")
	if err != nil {
		return nil, err
	}
	root, owned, err := makeRoot(as, opts.Dir, "tributary-pg-")
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	p := &PG{Host: "127.0.0.1", BinDir: bin,
		dbServer: dbServer{kind: "postgres", root: root, owned: owned, as: as, log: &logTail{fwd: opts.Log}}}
	p.Dir, p.SocketDir = root, root
	if owned {
		p.Dir = filepath.Join(root, "data")
	}
	fail := func(err error) (*PG, error) {
		_ = p.Close()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	if _, err := os.Stat(filepath.Join(p.Dir, "PG_VERSION")); err != nil {
		if err := p.initdb(ctx); err != nil {
			return fail(err)
		}
	}
	for attempt := 1; ; attempt++ {
		p.Port = opts.Port
		if p.Port == 0 {
			if p.Port, err = FreePort(); err != nil {
				return fail(err)
			}
		}
		if err := p.writeConfig(opts.Settings); err != nil {
			return fail(err)
		}
		err := p.Start(ctx)
		if err == nil {
			return p, nil
		}
		// Another process took the free port between FreePort and bind.
		if opts.Port == 0 && attempt < 5 && strings.Contains(err.Error(), "could not bind") {
			continue
		}
		return fail(err)
	}
}

// initdb creates the cluster: trust auth, superuser postgres, UTF8, C locale.
func (p *PG) initdb(ctx context.Context) error {
	return p.as.run(ctx, p.root, filepath.Join(p.BinDir, "initdb"),
		"-D", p.Dir, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C",
		"--no-sync", "--no-instructions")
}

// writeConfig writes tributary.conf (included from postgresql.conf) and
// pg_hba.conf.
func (p *PG) writeConfig(extra map[string]string) error {
	settings := make(map[string]string, len(pgDefaults)+len(extra)+2)
	for k, v := range pgDefaults {
		settings[k] = v
	}
	for k, v := range extra {
		settings[k] = v
	}
	settings["port"] = strconv.Itoa(p.Port)
	settings["unix_socket_directories"] = p.SocketDir
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString("# Written by tributary internal/testenv on every start.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = '%s'\n", k, strings.ReplaceAll(settings[k], "'", "''"))
	}
	if err := p.as.writeFile(filepath.Join(p.Dir, "tributary.conf"), []byte(b.String()), 0o600); err != nil {
		return err
	}

	main := filepath.Join(p.Dir, "postgresql.conf")
	conf, err := os.ReadFile(main)
	if err != nil {
		return fmt.Errorf("read %s: %w", main, err)
	}
	const include = "include_if_exists = 'tributary.conf'"
	if !strings.Contains(string(conf), include) {
		conf = append(conf, "\n"+include+"\n"...)
		if err := p.as.writeFile(main, conf, 0o600); err != nil {
			return err
		}
	}
	hba := "local all all trust\n" +
		"host all all 127.0.0.1/32 trust\n" +
		"host all all ::1/128 trust\n" +
		"local replication all trust\n" +
		"host replication all 127.0.0.1/32 trust\n" +
		"host replication all ::1/128 trust\n"
	return p.as.writeFile(filepath.Join(p.Dir, "pg_hba.conf"), []byte(hba), 0o600)
}

// DSN returns a URL for database db as the superuser postgres over TCP:
// postgres://postgres@127.0.0.1:PORT/db?sslmode=disable.
func (p *PG) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@%s:%d/%s?sslmode=disable", p.Host, p.Port, db)
}

// ReplicationDSN returns DSN(db) with replication=database, the connection
// string of a logical replication connection.
func (p *PG) ReplicationDSN(db string) string {
	return p.DSN(db) + "&replication=database"
}

// Start starts the server again after Stop or Kill, on the same port and
// data, and waits until it accepts connections.
func (p *PG) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	proc, err := p.launch(p.Port, filepath.Join(p.BinDir, "postgres"), "-D", p.Dir)
	if err != nil {
		return err
	}
	if err := waitReady(ctx, proc, 30*time.Second, p.ping); err != nil {
		return p.abort(p.Port, syscall.SIGQUIT, err)
	}
	return nil
}

// ping connects once over TCP.
func (p *PG) ping(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, p.DSN("postgres"))
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// Stop shuts the server down fast (like pg_ctl -m fast: clients are
// disconnected, a shutdown checkpoint is written) and waits for it to exit.
// It kills the server if ctx ends first, or after 30 s.
func (p *PG) Stop(ctx context.Context) error {
	return p.stop(ctx, p.Port, syscall.SIGINT, 30*time.Second)
}

// Kill stops the server immediately (like pg_ctl -m immediate: no shutdown
// checkpoint, crash recovery on the next start) and waits for it to exit.
func (p *PG) Kill() error {
	return p.stop(context.Background(), p.Port, syscall.SIGQUIT, 10*time.Second)
}

// Close stops the server and removes its temp dir when StartPostgres created
// it. It is safe to call more than once.
func (p *PG) Close() error {
	return p.close(p.Port, syscall.SIGINT, 15*time.Second)
}

// LogTail returns the last n lines the server logged.
func (p *PG) LogTail(n int) string { return p.log.Lines(n) }

// Exec runs sql (with $1-style args, or several statements without args) on
// database postgres and fails t on error.
func (p *PG) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	p.ExecDB(t, "postgres", sql, args...)
}

// ExecDB is Exec on database db.
func (p *PG) ExecDB(t testing.TB, db, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.DSN(db))
	if err != nil {
		t.Fatalf("testenv: exec %s: connect %s: %v", shortSQL(sql), db, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("testenv: exec %s: %v", shortSQL(sql), err)
	}
}

// Conn opens a connection to database db, closed in t.Cleanup.
func (p *PG) Conn(t testing.TB, db string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.DSN(db))
	if err != nil {
		t.Fatalf("testenv: connect %s: %v", p.DSN(db), err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// CreateDB creates database name and fails t on error.
func (p *PG) CreateDB(t testing.TB, name string) {
	t.Helper()
	p.Exec(t, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
}

func shortSQL(sql string) string {
	sql = strings.Join(strings.Fields(sql), " ")
	if len(sql) > 80 {
		sql = sql[:77] + "..."
	}
	return strconv.Quote(sql)
}

// pgBinDir finds the PostgreSQL server binaries: $TRIBUTARY_PG_BINDIR, the
// highest /usr/lib/postgresql/<ver>/bin, pg_config --bindir, or $PATH.
func pgBinDir() (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"postgres", "initdb"} {
			if st, err := os.Stat(filepath.Join(dir, b)); err != nil || st.IsDir() {
				return false
			}
		}
		return true
	}
	if dir := os.Getenv("TRIBUTARY_PG_BINDIR"); dir != "" {
		if !has(dir) {
			return "", fmt.Errorf("%w: PostgreSQL server binaries (postgres, initdb) not found in TRIBUTARY_PG_BINDIR=%s", ErrUnavailable, dir)
		}
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		return compareVersions(filepath.Base(filepath.Dir(b)), filepath.Base(filepath.Dir(a)))
	})
	for _, dir := range dirs {
		if has(dir) {
			return dir, nil
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); has(dir) {
			return dir, nil
		}
	}
	if path, err := exec.LookPath("postgres"); err == nil && has(filepath.Dir(path)) {
		return filepath.Dir(path), nil
	}
	return "", fmt.Errorf("%w: PostgreSQL server binaries (postgres, initdb) not found in /usr/lib/postgresql/*/bin, pg_config --bindir or $PATH; install postgresql or set TRIBUTARY_PG_BINDIR", ErrUnavailable)
}

// compareVersions compares dotted numeric versions ("9.6" < "15").
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return 0
}
