// Command bench is `make bench`: it measures Tributary against the baselines
// on one machine, in one run, with the same workloads for every contender,
// and prints a table (or, with --json, a JSON document) of the results.
//
// It starts its own PostgreSQL (internal/testenv: wal_level=logical and, for
// speed, fsync=off and full_page_writes=off, the same for every contender),
// builds the tributary binary (or takes --binary) and runs `tributary run` as
// a child process with an embedded JetStream server, so that the child's peak
// RSS can be read.
//
// Workloads, each on a freshly created customer_transactions table and a
// fresh slot, one contender after the other so that they never share the CPU:
//
//   - A: one transaction inserting 1,000,000 rows. Tributary runs before the
//     commit; the time is from COMMIT returning until the JetStream stream
//     holds every message (stream info polled every 5 ms). The baseline is
//     pg_recvlogical (test_decoding) writing to /dev/null, started after the
//     commit on a slot created before the workload, timed until it exits at
//     --endpos. A backlog variant starts Tributary only after the commit.
//   - B: 100,000 single-row transactions, as catch-up throughput: the
//     consumer is stopped while they are committed, then started and timed
//     (Tributary from process start and from its first message).
//   - Latency: steady 1,000, 2,500 and 5,000 single-row commits/s; for each
//     row the time from COMMIT returning to its arrival on a JetStream
//     ordered consumer, keyed by the row id.
//
// With --only mysql (or all) the same throughput workloads run against
// MariaDB with mariadb-binlog as the baseline, once the daemon accepts
// `type: mysql` sources; with --only batch (or all) it times `tributary batch
// preprocess` on generated seed files.
//
// Everything it starts it stops, also on SIGINT, and its temp dirs are
// removed.
package main
