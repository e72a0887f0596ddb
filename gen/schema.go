package gen

// Table is the name of the seed table.
const Table = "customer_transactions"

// CreateTableSQL creates the seed table in PostgreSQL if it is missing
// (DESIGN.md's schema) and sets REPLICA IDENTITY FULL, so that updates and
// deletes carry the whole before image the learner needs. It is two
// statements; run it with the simple protocol (pgx Exec without arguments).
const CreateTableSQL = `CREATE TABLE IF NOT EXISTS customer_transactions (
    id               bigserial PRIMARY KEY,
    customer_id      bigint        NOT NULL,
    txn_date         timestamptz   NOT NULL,
    amount           numeric(12,2) NOT NULL,
    age              int,
    gender           text,
    transaction_type text,
    location         text,
    device           text
);
ALTER TABLE customer_transactions REPLICA IDENTITY FULL`

// CreateTableMySQL is the same table for MySQL 8 and MariaDB 10.5+: DECIMAL
// amounts, DATETIME(6) dates holding UTC, and row images are full when the
// server runs with binlog_row_image=FULL.
const CreateTableMySQL = `CREATE TABLE IF NOT EXISTS customer_transactions (
    id               BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    customer_id      BIGINT        NOT NULL,
    txn_date         DATETIME(6)   NOT NULL,
    amount           DECIMAL(12,2) NOT NULL,
    age              INT           NULL,
    gender           VARCHAR(64)   NULL,
    transaction_type VARCHAR(64)   NULL,
    location         VARCHAR(128)  NULL,
    device           VARCHAR(64)   NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`

// Columns are the table's columns that loads and inserts fill, in order.
var Columns = []string{"customer_id", "txn_date", "amount", "age", "gender", "transaction_type", "location", "device"}
