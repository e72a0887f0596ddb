package postgres

import (
	"context"
	"math/rand"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/internal/testenv"
	"github.com/tributary-cdc/tributary/replicator/replicatortest"
)

func TestStreamInsertUpdateDeleteTruncate(t *testing.T) {
	pg := testenv.Postgres(t)
	pg.Exec(t, `CREATE TABLE public.items (id bigint PRIMARY KEY, name text, price numeric(12,2));
		ALTER TABLE public.items REPLICA IDENTITY FULL;
		CREATE TABLE public.other (id int PRIMARY KEY, v text)`)
	sink := &replicatortest.CollectSink{}
	r := startSource(t, Config{DSN: pg.DSN("postgres"), Tables: []string{"public.items", "public.other"}, Snapshot: true}, sink)
	waitStreaming(t, r.src)

	pg.Exec(t, `BEGIN; INSERT INTO items VALUES (1, 'a', 12.50), (2, 'b', 0.10); INSERT INTO other VALUES (1, 'x'); COMMIT`)
	pg.Exec(t, `UPDATE items SET price = 13.00 WHERE id = 1`)
	pg.Exec(t, `DELETE FROM items WHERE id = 2`)
	pg.Exec(t, `TRUNCATE other`)
	replicatortest.WaitFor(t, 20*time.Second, "6 events", func() bool { return len(sink.Snapshot()) >= 6 })
	evs := sink.Snapshot()
	if len(evs) != 6 {
		t.Fatalf("got %d events, want 6", len(evs))
	}
	wantOps := "cccudt"
	for i, ev := range evs {
		if byte(ev.Op) != wantOps[i] {
			t.Errorf("event %d op %c, want %c", i, ev.Op, wantOps[i])
		}
		if ev.Source.Connector != "postgresql" || ev.Source.Name != "shop" || ev.Source.DB != "postgres" || ev.Source.Schema != "public" {
			t.Errorf("event %d source %+v", i, ev.Source)
		}
	}
	// The first transaction: three events, contiguous, ordered, one ID prefix.
	tx := evs[0].Tx
	if tx == nil || evs[1].Tx.ID != tx.ID || evs[2].Tx.ID != tx.ID || evs[2].Tx.TotalOrder != 3 || evs[2].Tx.DataCollectionOrder != 1 || evs[1].Tx.DataCollectionOrder != 2 {
		t.Errorf("transaction blocks: %+v %+v %+v", evs[0].Tx, evs[1].Tx, evs[2].Tx)
	}
	if !evs[2].TxEnd || evs[0].TxEnd || evs[2].Position.LSN == 0 {
		t.Errorf("transaction end not marked on the last event")
	}
	if !strings.HasPrefix(evs[0].ID, "shop:") || !strings.HasSuffix(evs[0].ID, ":1") || !strings.HasSuffix(evs[2].ID, ":3") {
		t.Errorf("ids %s %s", evs[0].ID, evs[2].ID)
	}
	if got := field(t, evs[0].After, "price"); got != `"12.50"` {
		t.Errorf("price %s, want \"12.50\"", got)
	}
	if got := field(t, evs[3].Before, "price"); got != `"12.50"` {
		t.Errorf("update before price %s", got)
	}
	if got := field(t, evs[3].After, "price"); got != `"13.00"` {
		t.Errorf("update after price %s", got)
	}
	if evs[4].After != nil || field(t, evs[4].Before, "name") != `"b"` {
		t.Errorf("delete: %s / %s", rowString(evs[4].Before), rowString(evs[4].After))
	}
	if evs[5].Source.Table != "other" || evs[5].Before != nil || evs[5].After != nil {
		t.Errorf("truncate event %+v", evs[5])
	}
	// The slot is confirmed up to the last commit once everything is acked.
	end := evs[5].Position.LSN
	replicatortest.WaitFor(t, 10*time.Second, "confirmed LSN", func() bool { return r.src.Status().ConfirmedLSNValue >= end })
	r.stop(t)
	lsn := scalar(t, pg, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'tributary_shop'")
	if lsn == "" || lsn == "<nil>" {
		t.Fatalf("slot not confirmed")
	}
}

func TestSnapshotHandoffUnderConcurrentWrites(t *testing.T) {
	pg := testenv.Postgres(t)
	pg.Exec(t, `CREATE TABLE public.acc (id bigint PRIMARY KEY, v bigint NOT NULL);
		ALTER TABLE public.acc REPLICA IDENTITY FULL;
		INSERT INTO acc SELECT g, 0 FROM generate_series(1, 20000) g`)

	// A writer changes rows (inserts, updates, deletes) while the snapshot runs.
	ctx, stopWriter := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn := pg.Conn(t, "postgres")
		rng := rand.New(rand.NewSource(1))
		next := int64(20001)
		for ctx.Err() == nil {
			var err error
			switch rng.Intn(3) {
			case 0:
				_, err = conn.Exec(context.Background(), "INSERT INTO acc VALUES ($1, 1)", next)
				next++
			case 1:
				_, err = conn.Exec(context.Background(), "UPDATE acc SET v = v + 1 WHERE id = $1", rng.Int63n(next)+1)
			case 2:
				_, err = conn.Exec(context.Background(), "DELETE FROM acc WHERE id = $1", rng.Int63n(next)+1)
			}
			if err != nil {
				t.Errorf("writer: %v", err)
				return
			}
		}
	}()
	time.Sleep(200 * time.Millisecond)
	sink := &replicatortest.CollectSink{}
	r := startSource(t, Config{DSN: pg.DSN("postgres"), Tables: []string{"public.acc"}, Snapshot: true}, sink)
	waitStreaming(t, r.src)
	time.Sleep(500 * time.Millisecond)
	stopWriter()
	wg.Wait()
	// Wait until the stream has caught up with the server.
	target := parseLSN(t, scalar(t, pg, "SELECT pg_current_wal_lsn()::text"))
	replicatortest.WaitFor(t, 30*time.Second, "caught up", func() bool { return r.src.Status().ConfirmedLSNValue >= target })
	r.stop(t)

	// Replay the events into a map and compare with the table.
	state := map[string]string{}
	seen := map[string]bool{}
	reads := 0
	for _, ev := range sink.Snapshot() {
		if seen[ev.ID] {
			t.Fatalf("event %s delivered twice", ev.ID)
		}
		seen[ev.ID] = true
		switch ev.Op {
		case change.OpRead:
			reads++
			id := field(t, ev.After, "id")
			if _, dup := state[id]; dup {
				t.Fatalf("snapshot read row %s twice", id)
			}
			state[id] = field(t, ev.After, "v")
		case change.OpCreate:
			id := field(t, ev.After, "id")
			if _, dup := state[id]; dup {
				t.Fatalf("insert of row %s that already exists: repeated at the seam", id)
			}
			state[id] = field(t, ev.After, "v")
		case change.OpUpdate:
			id := field(t, ev.After, "id")
			if _, ok := state[id]; !ok {
				t.Fatalf("update of row %s never seen: missed at the seam", id)
			}
			state[id] = field(t, ev.After, "v")
		case change.OpDelete:
			id := field(t, ev.Before, "id")
			if _, ok := state[id]; !ok {
				t.Fatalf("delete of row %s never seen", id)
			}
			delete(state, id)
		}
	}
	if reads < 15000 {
		t.Fatalf("only %d snapshot reads", reads)
	}
	conn := pg.Conn(t, "postgres")
	rows, err := conn.Query(context.Background(), "SELECT id, v FROM acc")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var id, v int64
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		n++
		if got, ok := state[strconv.FormatInt(id, 10)]; !ok || got != strconv.FormatInt(v, 10) {
			t.Fatalf("row %d: table has v=%d, events say %q (present %v)", id, v, got, ok)
		}
	}
	if n != len(state) {
		t.Fatalf("table has %d rows, events describe %d", n, len(state))
	}
	t.Logf("snapshot reads %d, events %d, final rows %d", reads, len(seen), n)
}

func parseLSN(t *testing.T, s string) uint64 {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		t.Fatalf("bad lsn %q", s)
	}
	h, _ := strconv.ParseUint(hi, 16, 32)
	l, _ := strconv.ParseUint(lo, 16, 32)
	return h<<32 | l
}
