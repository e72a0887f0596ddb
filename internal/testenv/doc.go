// Package testenv starts real servers for tests, demos and benchmarks: a
// throwaway PostgreSQL (wal_level=logical), a throwaway MariaDB (binary log in
// ROW format with full row metadata and GTIDs) and an embedded NATS server with
// JetStream.
//
// PostgreSQL and MariaDB run from the installed server binaries on free ports
// in temporary directories, as the postgres and mysql OS users when the caller
// is root, each in its own process group so that Close (or the test cleanup)
// leaves no server behind. They never touch the machine's own services on 5432
// or 3306.
//
// The test helpers (Postgres, MariaDB, NATS) stop and remove everything in
// t.Cleanup. When the server binaries are missing they skip the test with a
// clear message, or fail it when the environment variable CI is "true". The
// Start functions (StartPostgres, StartMariaDB, StartNATS) are the same thing
// for programs such as `make demo` and `make bench`; their caller calls Close.
package testenv
