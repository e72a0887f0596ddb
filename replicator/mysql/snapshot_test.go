package mysql

import (
	"context"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/internal/testenv"
	"github.com/tributary-cdc/tributary/replicator/replicatortest"
)

const ledgerDDL = `CREATE DATABASE IF NOT EXISTS shop;
CREATE TABLE shop.ledger (id BIGINT PRIMARY KEY, v BIGINT NOT NULL, note VARCHAR(20));
SET SESSION max_recursive_iterations = 10000000;
INSERT INTO shop.ledger WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %d) SELECT n, 0, CONCAT('n', n) FROM s`

// writer runs random single-row changes on shop.ledger until stopped.
type writer struct {
	stop chan struct{}
	wg   sync.WaitGroup
	n    int
}

func startWriter(t *testing.T, m *testenv.MySQL, maxID int) *writer {
	w := &writer{stop: make(chan struct{})}
	conn := m.Conn(t, "shop")
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		rng := rand.New(rand.NewSource(3))
		next := maxID + 1
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			var q string
			switch rng.Intn(4) {
			case 0:
				q = fmt.Sprintf("INSERT INTO ledger VALUES (%d, 1, 'new')", next)
				next++
			case 1:
				q = fmt.Sprintf("DELETE FROM ledger WHERE id = %d", 1+rng.Intn(next))
			default:
				id := 1 + rng.Intn(next)
				q = fmt.Sprintf("UPDATE ledger SET v = v + 1, note = 'u%d' WHERE id BETWEEN %d AND %d", w.n, id, id+2)
			}
			if _, err := conn.Execute(q); err != nil {
				t.Errorf("writer: %s: %v", q, err)
				return
			}
			w.n++
		}
	}()
	return w
}

func (w *writer) halt() { close(w.stop); w.wg.Wait() }

// The snapshot and the stream meet with nothing missed or repeated while
// writes go on during the snapshot.
func TestSnapshotHandoffUnderWrites(t *testing.T) {
	m := testenv.MariaDB(t)
	m.Exec(t, fmt.Sprintf(ledgerDDL, 20000))
	w := startWriter(t, m, 20000)
	time.Sleep(200 * time.Millisecond)
	sink := &replicatortest.CollectSink{}
	cfg := testConfig(t, m, "shop.ledger")
	cfg.ChunkSize = 500
	r := startSource(t, cfg, sink)
	waitStreaming(t, r.src)
	time.Sleep(500 * time.Millisecond)
	w.halt()
	waitCaughtUp(t, m, r.src)
	r.stop(t)
	evs := sink.Snapshot()
	reads := 0
	for _, ev := range evs {
		if ev.Op == change.OpRead {
			reads++
		}
	}
	img := map[string]string{}
	replay(t, img, evs)
	sameImage(t, img, tableImage(t, m, "shop.ledger"))
	t.Logf("%d writes during the run, %d snapshot rows, %d events", w.n, reads, len(evs))
	if reads < 19000 || len(evs) == reads {
		t.Errorf("%d reads of %d events: want the snapshot and stream changes", reads, len(evs))
	}
}

// A snapshot interrupted after some chunks are durable resumes in a new
// consistent snapshot: rows already read are not read again, and changes
// made meanwhile reach each row once.
func TestSnapshotResume(t *testing.T) {
	m := testenv.MariaDB(t)
	m.Exec(t, fmt.Sprintf(ledgerDDL, 10000))
	sink1 := &replicatortest.CollectSink{}
	sink1.Limit.Store(3000) // six chunks of 500 become durable
	cfg := testConfig(t, m, "shop.ledger")
	cfg.ChunkSize = 500
	r1 := startSource(t, cfg, sink1)
	replicatortest.WaitFor(t, 30*time.Second, "4000 events written", func() bool { return sink1.Count() >= 4000 })
	r1.cancel()
	<-r1.done
	// Changes between the two runs, on both sides of the resume key 3000:
	// updates, deletes, an insert, and key changes across the boundary.
	m.ExecDB(t, "shop", `UPDATE ledger SET v = 100 WHERE id = 100; UPDATE ledger SET v = 9000 WHERE id = 9000;
		DELETE FROM ledger WHERE id IN (200, 9500); INSERT INTO ledger VALUES (20001, 1, 'between');
		UPDATE ledger SET id = 20002 WHERE id = 300; UPDATE ledger SET id = 0 WHERE id = 9200`)
	sink2 := &replicatortest.CollectSink{}
	r2 := startSource(t, cfg, sink2)
	waitStreaming(t, r2.src)
	m.ExecDB(t, "shop", `UPDATE ledger SET v = 7 WHERE id IN (1, 5000, 20002, 0)`)
	waitCaughtUp(t, m, r2.src)
	r2.stop(t)

	first, second := sink1.DurableEvents(), sink2.Snapshot()
	if len(first) != 3000 {
		t.Fatalf("first run: %d durable events, want 3000", len(first))
	}
	reread := 0
	for _, ev := range second {
		if ev.Op == change.OpRead && len(field(t, ev.After, "id")) <= 4 && field(t, ev.After, "id") <= "3000" && field(t, ev.After, "id") != "0" {
			var id int
			fmt.Sscan(field(t, ev.After, "id"), &id)
			if id <= 3000 {
				reread++
			}
		}
	}
	if reread > 0 {
		t.Errorf("%d rows of the first run were read again", reread)
	}
	img := map[string]string{}
	replay(t, img, append(first, second...))
	sameImage(t, img, tableImage(t, m, "shop.ledger"))
	var ops string
	for _, ev := range second {
		if ev.Op != change.OpRead {
			ops += ev.Op.String()
		}
	}
	t.Logf("second run: %d events, stream ops %q", len(second), ops)
	st, err := r2.src.loadSnapState(context.Background())
	if err != nil || st == nil || st.Status != "done" || len(st.Runs) != 2 {
		t.Fatalf("snapshot state %+v, %v: want done after 2 runs", st, err)
	}
}

// The snapshot's connection dropping mid-table: the pipeline runs the
// source again, which continues in a new consistent snapshot after the
// rows it handed over, in the same process.
func TestSnapshotRetryInProcess(t *testing.T) {
	m := testenv.MariaDB(t)
	m.Exec(t, fmt.Sprintf(ledgerDDL, 50000))
	sink := &replicatortest.CollectSink{}
	sink.Block.Store(true)
	cfg := testConfig(t, m, "shop.ledger")
	cfg.ChunkSize = 500
	r := startSource(t, cfg, sink)
	replicatortest.WaitFor(t, 30*time.Second, "part of the snapshot handed over", func() bool { return r.src.Status().Events >= 5000 })
	time.Sleep(300 * time.Millisecond)
	c := m.Conn(t, "shop")
	res, err := c.Execute("SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND USER = 'root'")
	if err != nil {
		t.Fatal(err)
	}
	for i := range res.Values {
		id, _ := res.GetInt(i, 0)
		_, _ = c.Execute(fmt.Sprintf("KILL %d", id))
	}
	m.ExecDB(t, "shop", "UPDATE ledger SET v = 1 WHERE id IN (1, 49000); DELETE FROM ledger WHERE id = 2; INSERT INTO ledger VALUES (60000, 6, 'x')")
	sink.Block.Store(false)
	waitCaughtUp(t, m, r.src)
	st := r.src.Status()
	r.stop(t)
	img := map[string]string{}
	replay(t, img, sink.Snapshot())
	sameImage(t, img, tableImage(t, m, "shop.ledger"))
	snap, err := r.src.loadSnapState(context.Background())
	if err != nil || snap == nil || len(snap.Runs) != 2 || st.Reconnects < 1 {
		t.Fatalf("snapshot state %+v (%v), %d reconnects: want 2 runs after a reconnect", snap, err, st.Reconnects)
	}
}
