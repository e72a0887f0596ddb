package mysql

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/tributary-cdc/tributary/internal/testenv"
	"github.com/tributary-cdc/tributary/replicator"
)

const benchDDL = `CREATE TABLE IF NOT EXISTS shop.customer_transactions (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, customer_id BIGINT NOT NULL,
    txn_date DATETIME(6) NOT NULL, amount DECIMAL(12,2) NOT NULL, age INT NULL,
    gender VARCHAR(64) NULL, transaction_type VARCHAR(64) NULL,
    location VARCHAR(128) NULL, device VARCHAR(64) NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`

// benchBinlog writes a binlog holding either one transaction of rows rows
// or rows single-row transactions into the customer_transactions table and
// returns a copy of the file.
func benchBinlog(b *testing.B, rows int, single bool) string {
	b.Helper()
	m := testenv.MariaDB(b)
	m.Exec(b, "CREATE DATABASE shop; "+benchDDL+"; FLUSH BINARY LOGS")
	c := m.Conn(b, "shop")
	row := "(%d, '2024-06-30 10:34:56.789012', 12.50, 41, 'female', 'purchase', 'Lisbon', 'mobile')"
	if single {
		for i := 0; i < rows; i += 1000 {
			var q []string
			for j := i; j < i+1000 && j < rows; j++ {
				q = append(q, "INSERT INTO customer_transactions (customer_id, txn_date, amount, age, gender, transaction_type, location, device) VALUES "+fmt.Sprintf(row, j))
			}
			m.ExecDB(b, "shop", strings.Join(q, ";"))
		}
	} else {
		m.ExecDB(b, "shop", "SET SESSION max_recursive_iterations = 100000000; INSERT INTO customer_transactions (customer_id, txn_date, amount, age, gender, transaction_type, location, device) "+
			fmt.Sprintf("WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %d) SELECT n, '2024-06-30 10:34:56.789012', 12.50, 41, 'female', 'purchase', 'Lisbon', 'mobile' FROM s", rows))
	}
	file := query1(b, c, "SHOW MASTER STATUS")
	m.Exec(b, "FLUSH BINARY LOGS")
	data, err := os.ReadFile(filepath.Join(m.Dir, file))
	if err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(b.TempDir(), file)
	if err := os.WriteFile(out, data, 0o644); err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkDecode measures the source's decode path on a binlog file:
// go-mysql's event parser, the table-map schema, value conversion to JSON
// and change.Event building, with a consumer confirming every transaction.
// The network and the sinks are left out. parse_only is go-mysql alone.
func BenchmarkDecode(b *testing.B) {
	cases := []struct {
		name   string
		rows   int
		single bool
	}{{"one_txn_200k_rows", 200000, false}, {"single_row_txns_20k", 20000, true}}
	for _, c := range cases {
		path := benchBinlog(b, c.rows, c.single)
		b.Run(c.name, func(b *testing.B) { benchDecode(b, path, c.rows, true) })
		b.Run(c.name+"/parse_only", func(b *testing.B) { benchDecode(b, path, c.rows, false) })
	}
}

func benchDecode(b *testing.B, path string, rows int, full bool) {
	st, _ := replicator.NewDirStore(b.TempDir())
	src, err := New(Config{Name: "shop", DSN: "u:p@tcp(127.0.0.1:1)/shop", ServerID: 9, Tables: []string{"shop.customer_transactions"}, State: st})
	if err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	events := 0
	for i := 0; i < b.N; i++ {
		out := make(chan replicator.Batch, 64)
		done := make(chan int)
		go func() {
			n := 0
			for batch := range out {
				n += len(batch)
				if last := batch[len(batch)-1]; last.TxEnd {
					src.Confirm(last.Position)
				}
			}
			done <- n
		}()
		srv := &serverInfo{flavor: gomysql.MariaDBFlavor, gtid: true}
		s := &streamer{s: src, srv: srv, out: out, schema: newSchemaCache(srv.flavor, src.tables), gtids: mariaSet{}}
		p := replication.NewBinlogParser()
		p.SetFlavor(gomysql.MariaDBFlavor)
		p.SetTimestampStringLocation(time.UTC)
		// Events are parsed from memory, as the network stream hands them
		// over; ParseFile would add two read syscalls per event.
		for off := 4; off+replication.EventHeaderSize <= len(data); {
			size := int(binary.LittleEndian.Uint32(data[off+9:]))
			ev, err := p.Parse(data[off : off+size])
			if err != nil {
				b.Fatal(err)
			}
			off += size
			if full {
				if err := s.handle(context.Background(), ev); err != nil {
					b.Fatal(err)
				}
			}
		}
		close(out)
		events += <-done
	}
	elapsed := time.Since(start)
	if full && events != rows*b.N {
		b.Fatalf("%d events, want %d", events, rows*b.N)
	}
	b.ReportMetric(float64(rows*b.N)/elapsed.Seconds(), "rows/s")
}
