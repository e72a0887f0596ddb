package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ErrUnavailable is wrapped by the Start functions when a server cannot run on
// this machine at all: its binaries are missing, or the OS user it must run as
// does not exist. The test helpers skip (or, with CI=true, fail) on it.
var ErrUnavailable = errors.New("server unavailable")

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Another process may take it before the caller binds it; the Start functions
// retry with a new port when that happens and no port was asked for.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// unavailable skips t for a server that cannot run here, or fails it when
// CI=true, where a missing server is a broken setup rather than a choice.
func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("testenv: %v (CI=true: a missing server fails the test instead of skipping it)", err)
	}
	t.Skipf("testenv: %v", err)
}

// runAs is the OS identity a server process runs as. cred is nil when the
// caller is not root: the server then runs as the caller.
type runAs struct {
	name string
	uid  int
	gid  int
	cred *syscall.Credential
}

// lookupRunAs returns the identity to run a server as: the named OS user when
// the caller is root (PostgreSQL and MariaDB refuse to run as root), else the
// caller itself.
func lookupRunAs(name string) (*runAs, error) {
	if os.Geteuid() != 0 {
		return &runAs{name: "current user", uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("%w: running as root needs the OS user %q to run the server: %v", ErrUnavailable, name, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", name, u.Gid, err)
	}
	return &runAs{name: name, uid: uid, gid: gid, cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}, nil
}

// chown gives path to the server user; it does nothing when not root.
func (r *runAs) chown(path string) error {
	if r.cred == nil {
		return nil
	}
	if err := os.Lchown(path, r.uid, r.gid); err != nil {
		return fmt.Errorf("chown %s to %s: %w", path, r.name, err)
	}
	return nil
}

// chownAll gives the tree under root to the server user.
func (r *runAs) chownAll(root string) error {
	if r.cred == nil {
		return nil
	}
	return filepath.WalkDir(root, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return r.chown(path)
	})
}

// canReach checks that the server user can search every parent of dir, so
// that a TMPDIR under /root fails with a clear message rather than a
// permission error from initdb.
func (r *runAs) canReach(dir string) error {
	if r.cred == nil {
		return nil
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("stat %s: %w", d, err)
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		mode := st.Mode().Perm()
		searchable := mode&0o001 != 0 ||
			(ok && int(sys.Uid) == r.uid && mode&0o100 != 0) ||
			(ok && int(sys.Gid) == r.gid && mode&0o010 != 0)
		if !searchable {
			return fmt.Errorf("user %s cannot reach %s: %s is not searchable by it (mode %v); set TMPDIR to a directory it can reach", r.name, dir, d, mode)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// writeFile writes a file owned by the server user.
func (r *runAs) writeFile(path string, data []byte, perm os.FileMode) error {
	if err := os.WriteFile(path, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return r.chown(path)
}

// command prepares bin to run as the server user in its own process group,
// killed if this process dies.
func (r *runAs) command(ctx context.Context, dir, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: r.cred, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	if r.cred != nil {
		cmd.Env = append(cmd.Env, "HOME="+dir, "USER="+r.name, "LOGNAME="+r.name)
	}
	return cmd
}

// run runs a short command (initdb, mariadb-install-db) and returns its output
// in the error when it fails.
func (r *runAs) run(ctx context.Context, dir, bin string, args ...string) error {
	cmd := r.command(ctx, dir, bin, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, tailLines(string(out), 30))
	}
	return nil
}

// process is a running server: a process group led by the server binary.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the server has exited
	err  error         // its exit status, valid after done

	logDone chan struct{} // closed when every writer of the log has gone
}

// flushLog waits briefly for the log of an exited server to be read fully.
func (p *process) flushLog() {
	select {
	case <-p.logDone:
	case <-time.After(time.Second):
	}
}

// startProcess starts a server process whose output goes to out.
func (r *runAs) startProcess(dir string, out io.Writer, bin string, args ...string) (*process, error) {
	cmd := r.command(context.Background(), dir, bin, args...)
	cmd.Cancel = nil
	// An explicit pipe, not an io.Writer, so that Wait returns when the
	// server exits even while its children still hold the write end.
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: log pipe: %w", filepath.Base(bin), err)
	}
	cmd.Stdout = pw
	cmd.Stderr = pw
	err = cmd.Start()
	pw.Close()
	if err != nil {
		pr.Close()
		return nil, fmt.Errorf("start %s: %w", filepath.Base(bin), err)
	}
	p := &process{cmd: cmd, done: make(chan struct{}), logDone: make(chan struct{})}
	go func() {
		_, _ = io.Copy(out, pr)
		pr.Close()
		close(p.logDone)
	}()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the server has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends sig to the server and waits for it to exit. When ctx ends
// first, or the server ignores the signal, the whole process group is
// killed. Either way no process of the group is left behind.
func (p *process) stop(ctx context.Context, sig syscall.Signal) error {
	pid := p.cmd.Process.Pid
	if !p.exited() {
		_ = syscall.Kill(pid, sig)
	}
	var err error
	select {
	case <-p.done:
	case <-ctx.Done():
		err = fmt.Errorf("server pid %d did not exit on %v: killed: %w", pid, sig, ctx.Err())
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-p.done
	}
	// Sweep children that outlived their leader (a killed postmaster's backends).
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	return err
}

// logTail keeps the last bytes a server wrote, for error messages, and
// forwards everything to an optional writer.
type logTail struct {
	mu  sync.Mutex
	buf []byte
	fwd io.Writer
}

const logTailMax = 64 << 10

func (l *logTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf = append(l.buf, p...)
	if len(l.buf) > logTailMax {
		l.buf = append(l.buf[:0:0], l.buf[len(l.buf)-logTailMax/2:]...)
	}
	fwd := l.fwd
	l.mu.Unlock()
	if fwd != nil {
		_, _ = fwd.Write(p)
	}
	return len(p), nil
}

// Lines returns the last n lines written.
func (l *logTail) Lines(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return tailLines(string(l.buf), n)
}

// contains reports whether the kept log contains s.
func (l *logTail) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Contains(l.buf, []byte(s))
}

func tailLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// makeRoot creates a temp dir owned by the server user, or uses dir.
func makeRoot(r *runAs, dir, pattern string) (root string, owned bool, err error) {
	if dir == "" {
		root, err = os.MkdirTemp("", pattern)
		if err != nil {
			return "", false, fmt.Errorf("create temp dir: %w", err)
		}
		if err := r.chown(root); err != nil {
			os.RemoveAll(root)
			return "", false, err
		}
		if err := r.canReach(root); err != nil {
			os.RemoveAll(root)
			return "", false, err
		}
		return root, true, nil
	}
	root, err = filepath.Abs(dir)
	if err != nil {
		return "", false, fmt.Errorf("dir %q: %w", dir, err)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", false, fmt.Errorf("create dir %s: %w", root, err)
	}
	return root, false, r.chown(root)
}

// waitReady polls ready every 25 ms until it returns nil, the server exits,
// or timeout passes.
func waitReady(ctx context.Context, p *process, timeout time.Duration, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if p.exited() {
			return fmt.Errorf("server exited during startup: %v", p.err)
		}
		attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		last = ready(attempt)
		cancelAttempt()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server not ready after %v: %w", timeout, last)
		case <-p.done:
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// dbServer is the process lifecycle PG and MySQL share: one server process at
// a time under a root dir, started, stopped and closed under mu.
type dbServer struct {
	kind  string // "postgres" or "mariadb", in errors
	root  string // temp dir holding the data, removed by close when owned
	owned bool
	as    *runAs
	log   *logTail

	mu     sync.Mutex
	proc   *process
	closed bool
}

// launch starts bin as the server process on port unless the server is
// closed or running. The caller holds mu and waits for the server to be
// ready, calling abort if it is not.
func (s *dbServer) launch(port int, bin string, args ...string) (*process, error) {
	if s.closed {
		return nil, fmt.Errorf("start %s: closed", s.kind)
	}
	if s.proc != nil && !s.proc.exited() {
		return nil, fmt.Errorf("start %s on port %d: already running", s.kind, port)
	}
	proc, err := s.as.startProcess(s.root, s.log, bin, args...)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", s.kind, err)
	}
	s.proc = proc
	return proc, nil
}

// abort stops a launched server that did not get ready, with sig and at most
// 5 s, and returns err with the last lines of its log.
func (s *dbServer) abort(port int, sig syscall.Signal, err error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.proc.stop(ctx, sig)
	s.proc.flushLog()
	return fmt.Errorf("start %s on port %d: %w\nlast log lines:\n%s", s.kind, port, err, s.log.Lines(30))
}

// stop sends sig to the running server and waits for it to exit, killing it
// when ctx ends or limit passes first.
func (s *dbServer) stop(ctx context.Context, port int, sig syscall.Signal, limit time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked(ctx, port, sig, limit)
}

func (s *dbServer) stopLocked(ctx context.Context, port int, sig syscall.Signal, limit time.Duration) error {
	if s.proc == nil || s.proc.exited() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if err := s.proc.stop(ctx, sig); err != nil {
		return fmt.Errorf("stop %s on port %d: %w", s.kind, port, err)
	}
	return nil
}

// close stops the server as stop does and removes root when it is owned.
// Calls after the first do nothing.
func (s *dbServer) close(port int, sig syscall.Signal, limit time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.stopLocked(context.Background(), port, sig, limit)
	if s.owned {
		if rmErr := os.RemoveAll(s.root); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("remove %s: %w", s.root, rmErr))
		}
	}
	return err
}
