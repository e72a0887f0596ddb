package main

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// newMySQLE2E prepares a MariaDB with database shop and a daemon config
// with one mysql source (named shop) and the embedded JetStream server.
func newMySQLE2E(t *testing.T, tables string) (*e2eEnv, *testenv.MySQL) {
	t.Helper()
	m := testenv.MariaDB(t)
	m.Exec(t, "CREATE DATABASE shop")
	e, natsPort := newE2EEnv(t)
	e.writeConfig(t, fmt.Sprintf("    type: mysql\n    dsn: %s\n    server_id: 4242\n    tables: [%s]\n", m.DSN("shop"), tables),
		fmt.Sprintf("    listen: 127.0.0.1:%d\n", natsPort))
	return e, m
}

// mysqlSaved reads the source's saved GTID position from /status.
func (d *daemonProc) mysqlSaved(t *testing.T) string { return d.sourceStatus(t, "gtid") }

func gtidBinlogPos(t *testing.T, m *testenv.MySQL) string {
	t.Helper()
	r, err := m.Conn(t, "").Execute("SELECT @@gtid_binlog_pos")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := r.GetString(0, 0)
	return s
}

func TestMySQLRunEndToEnd(t *testing.T) {
	e, m := newMySQLE2E(t, "shop.orders")
	m.ExecDB(t, "shop", `CREATE TABLE orders (id BIGINT UNSIGNED PRIMARY KEY, amount DECIMAL(12,2), at TIMESTAMP(3) NULL);
		SET SESSION time_zone = '+00:00';
		INSERT INTO orders VALUES (1, 1.25, '2024-06-30 10:34:56.789'), (2, 2.50, NULL), (18446744073709551615, 3.75, NULL)`)
	d := e.start(t)
	d.waitReady(t)
	m.ExecDB(t, "shop", `UPDATE orders SET amount = 99.99 WHERE id = 1; DELETE FROM orders WHERE id = 2; TRUNCATE TABLE orders`)
	want := gtidBinlogPos(t, m)
	waitUntil(t, 30*time.Second, "saved position "+want, func() bool { return d.mysqlSaved(t) == want })
	msgs := readStream(t, e.natsURL)
	if len(msgs) != 6 {
		t.Fatalf("stream has %d messages, want 6 (3 reads, u, d, t)", len(msgs))
	}
	var ops string
	for _, msg := range msgs {
		var ev change.Event
		if err := change.Unmarshal(msg.Data, &ev); err != nil {
			t.Fatal(err)
		}
		ops += ev.Op.String()
		if msg.Subject != "cdc.shop.shop.orders" {
			t.Errorf("subject %s", msg.Subject)
		}
		if id := msg.Header.Get("Nats-Msg-Id"); !strings.HasPrefix(id, "shop:") {
			t.Errorf("Nats-Msg-Id %q", id)
		}
		if ev.Source.Connector != "mysql" {
			t.Errorf("connector %q", ev.Source.Connector)
		}
	}
	if ops != "rrrudt" {
		t.Errorf("ops %q, want rrrudt", ops)
	}
	var first, upd change.Event
	_ = change.Unmarshal(msgs[0].Data, &first)
	_ = change.Unmarshal(msgs[3].Data, &upd)
	if v, _ := first.After.Get("at"); string(v) != `"2024-06-30T10:34:56.789Z"` {
		t.Errorf("at = %s", v)
	}
	if v, _ := upd.After.Get("amount"); string(v) != `"99.99"` {
		t.Errorf("amount = %s", v)
	}
	if !strings.Contains(string(msgs[2].Data), `"id":18446744073709551615`) {
		t.Errorf("unsigned bigint not exact: %s", msgs[2].Data)
	}
	doc, err := d.status(t)
	if err != nil {
		t.Fatal(err)
	}
	src := doc["sources"].([]any)[0].(map[string]any)
	if src["type"] != "mysql" || src["state"] != "streaming" {
		t.Errorf("/status source %v", src)
	}
	d.stop(t)
}

// The daemon is SIGKILLed at random points during a 100k-row workload on
// MariaDB and restarted each time; at the end the stream holds exactly one
// message per change, in commit order.
func TestMySQLSIGKILLLeavesExactlyOneMessagePerChange(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	e, m := newMySQLE2E(t, "shop.ledger")
	// As for PostgreSQL: a duplicate window shorter than the downtime, so
	// that resuming after the last stored event is what keeps it exact.
	appendConfig(t, e, "    duplicate_window: 1s\n")
	m.ExecDB(t, "shop", "CREATE TABLE ledger (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)")
	d := e.start(t)
	d.waitReady(t)

	w := startMySQLLedgerWorkload(t, m, 100000)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	kills := 0
	for running := true; running; {
		select {
		case <-w.done:
			running = false
			continue
		case <-time.After(time.Duration(300+rng.Intn(1500)) * time.Millisecond):
		}
		d.kill()
		kills++
		time.Sleep(1500 * time.Millisecond) // outlive the duplicate window
		d = e.start(t)
		d.waitReady(t)
	}
	want := gtidBinlogPos(t, m)
	waitUntil(t, 2*time.Minute, "the daemon to catch up to "+want, func() bool { return d.mysqlSaved(t) == want })
	msgs := readStream(t, e.natsURL)
	checkExactlyOnceInOrder(t, msgs, w.total())
	t.Logf("%d kills, %d changes, %d messages, each once and in commit order", kills, w.total(), len(msgs))
	d.stop(t)
}

// startMySQLLedgerWorkload inserts rows into shop.ledger in transactions of
// 1-20 rows, with updates and deletes mixed in, counting every row change
// it commits.
func startMySQLLedgerWorkload(t *testing.T, m *testenv.MySQL, rows int64) *ledgerWorkload {
	w := &ledgerWorkload{done: make(chan struct{})}
	conn := m.Conn(t, "shop")
	go func() {
		defer close(w.done)
		rng := rand.New(rand.NewSource(7))
		next := int64(1)
		exec := func(q string) (uint64, bool) {
			r, err := conn.Execute(q)
			if err != nil {
				t.Errorf("workload: %s: %v", q, err)
				return 0, false
			}
			return r.AffectedRows, true
		}
		for next <= rows {
			n := int64(1 + rng.Intn(20))
			if next+n > rows+1 {
				n = rows + 1 - next
			}
			if _, ok := exec("BEGIN"); !ok {
				return
			}
			vals := make([]string, 0, n)
			for i := next; i < next+n; i++ {
				vals = append(vals, fmt.Sprintf("(%d, 0)", i))
			}
			c, ok := exec("INSERT INTO ledger VALUES " + strings.Join(vals, ", "))
			if !ok {
				return
			}
			if rng.Intn(4) == 0 {
				id := rng.Int63n(next) + 1
				a, ok := exec(fmt.Sprintf("UPDATE ledger SET v = v + 1 WHERE id BETWEEN %d AND %d", id, id+9))
				if !ok {
					return
				}
				c += a
			}
			if rng.Intn(8) == 0 {
				a, ok := exec(fmt.Sprintf("DELETE FROM ledger WHERE id = %d", rng.Int63n(next)+1))
				if !ok {
					return
				}
				c += a
			}
			if _, ok := exec("COMMIT"); !ok {
				return
			}
			next += n
			w.mu.Lock()
			w.changes += int64(c)
			w.mu.Unlock()
			if rng.Intn(20) == 0 {
				time.Sleep(time.Duration(rng.Intn(30)) * time.Millisecond)
			}
		}
	}()
	return w
}
