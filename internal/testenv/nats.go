package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// NATSOptions configures StartNATS. The zero value is a JetStream server on a
// free port with its store in a new temp dir.
type NATSOptions struct {
	// StoreDir holds the JetStream store. "" creates a temp dir that Close
	// removes; a given StoreDir is kept.
	StoreDir string
	// Port is the client port on 127.0.0.1; 0 picks a free one.
	Port int
}

// NATSServer is an embedded nats-server with JetStream enabled, listening on
// 127.0.0.1.
type NATSServer struct {
	URL      string // nats://127.0.0.1:PORT, stable across Restart
	Port     int
	StoreDir string

	mu     sync.Mutex
	srv    *server.Server
	opts   *server.Options // with the real port, for Restart
	owned  bool
	closed bool
}

// NATS starts an embedded JetStream server for the test and shuts it down
// and removes its store in t.Cleanup.
func NATS(t testing.TB) *NATSServer {
	t.Helper()
	n, err := StartNATS(NATSOptions{})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("testenv: %v", err)
		}
	})
	return n
}

// StartNATS starts an embedded JetStream server and waits until it accepts
// connections. The caller calls Close.
func StartNATS(opts NATSOptions) (*NATSServer, error) {
	n := &NATSServer{StoreDir: opts.StoreDir}
	if n.StoreDir == "" {
		dir, err := os.MkdirTemp("", "tributary-nats-")
		if err != nil {
			return nil, fmt.Errorf("start nats: create store dir: %w", err)
		}
		n.StoreDir, n.owned = dir, true
	}
	port := opts.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	so := &server.Options{
		ServerName: "tributary-testenv",
		Host:       "127.0.0.1",
		Port:       port,
		JetStream:  true,
		StoreDir:   n.StoreDir,
		NoLog:      true,
		NoSigs:     true,
	}
	srv, err := startNATSServer(so)
	if err != nil {
		if n.owned {
			os.RemoveAll(n.StoreDir)
		}
		return nil, fmt.Errorf("start nats: %w", err)
	}
	n.srv = srv
	n.Port = srv.Addr().(*net.TCPAddr).Port
	n.URL = fmt.Sprintf("nats://127.0.0.1:%d", n.Port)
	n.opts = so.Clone()
	n.opts.Port = n.Port
	return n, nil
}

func startNATSServer(opts *server.Options) (*server.Server, error) {
	srv, err := server.NewServer(opts.Clone())
	if err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("server on %s:%d not ready after 10s", opts.Host, opts.Port)
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, errors.New("server started without JetStream")
	}
	return srv, nil
}

// Server returns the running nats-server, for tests that inspect it. It
// changes on Restart.
func (n *NATSServer) Server() *server.Server {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.srv
}

// Restart shuts the server down and starts it again on the same port with
// the same store, as a NATS restart mid-stream would. Clients reconnect to
// the same URL; JetStream streams and their messages survive. It fails t on
// error.
func (n *NATSServer) Restart(t testing.TB) {
	t.Helper()
	if err := n.Reboot(); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Reboot is Restart for programs: it returns the error.
func (n *NATSServer) Reboot() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return errors.New("restart nats: closed")
	}
	n.shutdown()
	srv, err := startNATSServer(n.opts)
	if err != nil {
		return fmt.Errorf("restart nats on port %d: %w", n.Port, err)
	}
	n.srv = srv
	return nil
}

// Shutdown stops the server and waits until it has stopped; the store is
// kept. Restart starts it again.
func (n *NATSServer) Shutdown() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.shutdown()
}

func (n *NATSServer) shutdown() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
}

// Close shuts the server down and removes the store when StartNATS created
// it. It is safe to call more than once.
func (n *NATSServer) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	n.shutdown()
	if n.owned {
		if err := os.RemoveAll(n.StoreDir); err != nil {
			return fmt.Errorf("close nats: remove %s: %w", n.StoreDir, err)
		}
	}
	return nil
}
