package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultListen is the embedded server's default client address.
const DefaultListen = "127.0.0.1:4222"

// EmbeddedOptions configures StartEmbedded.
type EmbeddedOptions struct {
	// StoreDir is where JetStream keeps its data (it writes under
	// StoreDir/jetstream). Required.
	StoreDir string
	// Listen is the client address, host:port. Default 127.0.0.1:4222; port 0
	// picks a free port (see Embedded.URL).
	Listen string
	// SyncInterval is the fsync policy: "" for the server default (every 2
	// minutes), "always" to fsync every message before acknowledging it, or a
	// Go duration.
	SyncInterval string
	// MaxPayload is the largest message the server accepts. Default 8 MiB.
	MaxPayload int32
	// StartTimeout bounds the wait for the server to be ready, JetStream
	// store recovery included. Default 60s; ctx may end it sooner.
	StartTimeout time.Duration
	// Logger receives the server's warnings and errors (its notices at debug
	// level). Nil silences the server.
	Logger *slog.Logger
}

// Embedded is an in-process nats-server with JetStream enabled.
type Embedded struct {
	srv      *server.Server
	url      string
	stopOnce sync.Once
	stopped  chan struct{}
}

// ParseSyncInterval parses the sync_interval setting: "" (server default),
// "always", or a positive Go duration.
func ParseSyncInterval(s string) (interval time.Duration, always bool, err error) {
	switch s = strings.TrimSpace(s); strings.ToLower(s) {
	case "":
		return 0, false, nil
	case "always":
		return 0, true, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, false, fmt.Errorf("sync_interval %q: want \"always\" or a positive duration such as 2m or 10s", s)
	}
	return d, false, nil
}

// StartEmbedded starts a nats-server with JetStream storing in o.StoreDir and
// waits until it accepts clients. The server installs no signal handlers.
func StartEmbedded(ctx context.Context, o EmbeddedOptions) (*Embedded, error) {
	if o.StoreDir == "" {
		return nil, errors.New("embedded nats: store dir is empty")
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	host, portStr, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: listen %q: %w", o.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("embedded nats: listen %q: bad port", o.Listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	interval, always, err := ParseSyncInterval(o.SyncInterval)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	if o.MaxPayload <= 0 {
		o.MaxPayload = 8 << 20
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 60 * time.Second
	}
	opts := &server.Options{
		ServerName:             "tributary",
		Host:                   host,
		Port:                   port,
		JetStream:              true,
		StoreDir:               o.StoreDir,
		SyncInterval:           interval,
		SyncAlways:             always,
		MaxPayload:             o.MaxPayload,
		NoSigs:                 true,
		DisableJetStreamBanner: true,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	lg := &serverLogger{log: o.Logger}
	srv.SetLoggerV2(lg, false, false, false)
	go srv.Start()

	e := &Embedded{srv: srv, stopped: make(chan struct{})}
	deadline := time.Now().Add(o.StartTimeout)
	for !srv.ReadyForConnections(100 * time.Millisecond) {
		var cause error
		switch {
		case lg.fatalMsg() != "":
			cause = errors.New(lg.fatalMsg())
		case ctx.Err() != nil:
			cause = ctx.Err()
		case time.Now().After(deadline):
			cause = fmt.Errorf("not ready after %s", o.StartTimeout)
		}
		if cause != nil {
			_ = e.Shutdown(context.Background())
			return nil, fmt.Errorf("embedded nats on %s (store %s): %w", o.Listen, o.StoreDir, cause)
		}
	}
	if !srv.JetStreamEnabled() {
		msg := lg.fatalMsg()
		_ = e.Shutdown(context.Background())
		return nil, fmt.Errorf("embedded nats (store %s): JetStream did not start: %s", o.StoreDir, msg)
	}
	addr, ok := srv.Addr().(*net.TCPAddr)
	if !ok {
		_ = e.Shutdown(context.Background())
		return nil, fmt.Errorf("embedded nats: unexpected listener address %v", srv.Addr())
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1"
	}
	e.url = "nats://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
	return e, nil
}

// URL returns the client URL of the server, with the port it listens on.
func (e *Embedded) URL() string { return e.url }

// Shutdown stops the server, closing client connections and flushing its
// stores. It returns when the server has stopped or ctx ends, whichever is
// first; it may be called more than once.
func (e *Embedded) Shutdown(ctx context.Context) error {
	e.stopOnce.Do(func() {
		go func() {
			e.srv.Shutdown()
			e.srv.WaitForShutdown()
			close(e.stopped)
		}()
	})
	select {
	case <-e.stopped:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("embedded nats: shutdown: %w", ctx.Err())
	}
}

// serverLogger passes nats-server's log to slog: notices at debug level,
// warnings and errors as such; debug and trace output is dropped. It keeps
// the first fatal message so that a failed start can say why.
type serverLogger struct {
	log   *slog.Logger
	mu    sync.Mutex
	fatal string
}

func (l *serverLogger) Noticef(format string, v ...any) { l.emit(slog.LevelDebug, format, v) }
func (l *serverLogger) Warnf(format string, v ...any)   { l.emit(slog.LevelWarn, format, v) }
func (l *serverLogger) Errorf(format string, v ...any)  { l.emit(slog.LevelError, format, v) }
func (l *serverLogger) Debugf(string, ...any)           {}
func (l *serverLogger) Tracef(string, ...any)           {}

func (l *serverLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.mu.Lock()
	if l.fatal == "" {
		l.fatal = msg
	}
	l.mu.Unlock()
	l.emit(slog.LevelError, "%s", []any{msg})
}

func (l *serverLogger) fatalMsg() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatal
}

func (l *serverLogger) emit(level slog.Level, format string, v []any) {
	if l.log == nil || !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, v...), "component", "nats-server")
}
