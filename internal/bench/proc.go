package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is a process the bench started. It runs in its own process group and
// dies with the bench (Pdeathsig), so that nothing outlives a crash.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  string // path of its combined output, "" when discarded
}

// startChild starts bin with args; its output goes to logPath ("" discards).
func startChild(name, logPath, bin string, args ...string) (*child, error) {
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if logPath != "" {
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{}), log: logPath}
	registerChild(c)
	go func() {
		c.err = cmd.Wait()
		close(c.done)
		unregisterChild(c)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// wait waits for the child to exit or ctx to end (then kills it).
func (c *child) wait(ctx context.Context) error {
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		c.kill()
		return ctx.Err()
	}
}

// stop sends SIGTERM and waits up to limit for a clean exit, then kills the
// process group. It returns the exit error of a process that did not exit 0.
func (c *child) stop(limit time.Duration) error {
	if c.exited() {
		return nil
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		_ = syscall.Kill(-c.pid(), syscall.SIGKILL)
		if c.err != nil {
			return fmt.Errorf("%s exited with %v after SIGTERM", c.name, c.err)
		}
		return nil
	case <-time.After(limit):
		c.kill()
		return fmt.Errorf("%s did not exit within %v of SIGTERM: killed", c.name, limit)
	}
}

// kill kills the child's process group and waits for it.
func (c *child) kill() {
	_ = syscall.Kill(-c.pid(), syscall.SIGKILL)
	<-c.done
}

// maxRSSMB is the peak RSS of an exited child from wait4's rusage, in MB.
func (c *child) maxRSSMB() float64 {
	if !c.exited() || c.cmd.ProcessState == nil {
		return 0
	}
	if ru, ok := c.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return float64(ru.Maxrss) / 1024 // KiB on Linux
	}
	return 0
}

// logTail returns the last n lines of the child's output.
func (c *child) logTail(n int) string {
	if c.log == "" {
		return ""
	}
	b, err := os.ReadFile(c.log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// vmHWMMB reads the peak resident set size of a live process from
// /proc/<pid>/status, in MB.
func vmHWMMB(pid int) (float64, error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, fmt.Errorf("read VmHWM of pid %d: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				break
			}
			kb, err := strconv.ParseFloat(fields[0], 64)
			if err != nil {
				return 0, fmt.Errorf("VmHWM of pid %d: %w", pid, err)
			}
			return kb / 1024, nil
		}
	}
	return 0, errors.New("VmHWM not found in /proc/" + strconv.Itoa(pid) + "/status")
}

// buildTributary builds ./cmd/tributary of the module at repo into dir.
func buildTributary(ctx context.Context, repo, dir string) (string, error) {
	out := filepath.Join(dir, "tributary")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/tributary")
	cmd.Dir = repo
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/tributary: %w\n%s", err, b)
	}
	return out, nil
}

// findRepo finds the module root (the directory holding go.mod) from dir up.
func findRepo(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if d == filepath.Dir(d) {
			return "", fmt.Errorf("no go.mod in %s or above: run from the Tributary checkout or pass --binary", dir)
		}
	}
}
