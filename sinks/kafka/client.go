package kafka

import (
	"context"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// retryHook counts produce requests lost in transit and failed broker
// connections: the client retries the records they carried.
type retryHook struct{ n *atomic.Uint64 }

var (
	_ kgo.HookBrokerE2E     = retryHook{}
	_ kgo.HookBrokerConnect = retryHook{}
)

// produceKey is the Kafka API key of a produce request.
const produceKey = 0

// OnBrokerE2E implements kgo.HookBrokerE2E.
func (h retryHook) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	if key == produceKey && e2e.Err() != nil {
		h.n.Add(1)
	}
}

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (h retryHook) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		h.n.Add(1)
	}
}

// logger passes the client's warnings and errors to slog.
type logger struct{ l *slog.Logger }

// Level implements kgo.Logger.
func (logger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

// Log implements kgo.Logger.
func (l logger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelWarn
	switch level {
	case kgo.LogLevelError:
		lv = slog.LevelError
	case kgo.LogLevelInfo:
		lv = slog.LevelInfo
	case kgo.LogLevelDebug:
		lv = slog.LevelDebug
	}
	l.l.Log(context.Background(), lv, "kafka client: "+msg, keyvals...)
}
