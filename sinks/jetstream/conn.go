package jetstream

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Connect connects to the NATS server(s) at url (comma-separated for several)
// under the client name name. The connection reconnects forever with an
// exponential backoff (100ms up to 2s, jittered), does not buffer publishes
// while reconnecting (the sink's ordering relies on a publish failing fast
// instead of being flushed later into a JetStream that may not be ready), and
// pings every 10s so that a dead server is noticed within about 30s. ctx
// bounds the initial connection; extra options are applied last.
func Connect(ctx context.Context, url, name string, opts ...nats.Option) (*nats.Conn, error) {
	if strings.TrimSpace(url) == "" {
		return nil, errors.New("connect to nats: url is empty")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("connect to nats %s: %w", redactURL(url), err)
	}
	timeout := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, max(time.Until(dl), 10*time.Millisecond))
	}
	base := []nats.Option{
		nats.Name(name),
		nats.Timeout(timeout),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(reconnectDelay),
		nats.ReconnectBufSize(-1),
		nats.PingInterval(10 * time.Second),
		nats.MaxPingsOutstanding(3),
	}
	nc, err := nats.Connect(url, append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats %s: %w", redactURL(url), err)
	}
	return nc, nil
}

// reconnectDelay is the wait before each round of reconnect attempts.
func reconnectDelay(attempts int) time.Duration {
	d := 100 * time.Millisecond << min(attempts, 5)
	d = min(d, 2*time.Second)
	return d - rand.N(d/5+1)
}

// redactURL hides passwords and tokens in a comma-separated URL list.
func redactURL(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil || u.User == nil {
			continue
		}
		if _, hasPass := u.User.Password(); hasPass {
			parts[i] = u.Redacted()
		} else {
			u.User = url.User("xxxxx") // a bare user part is a token
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}
