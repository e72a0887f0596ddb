#!/usr/bin/env bash
# bench.sh is `make bench`: the Go micro-benchmarks of the packages that have
# them, then the end-to-end harness (internal/bench): Tributary against
# pg_recvlogical and mariadb-binlog on one machine in one run, commit-to-stream
# latency, peak RSS, and batch preprocess throughput.
#
# Arguments go to the harness (see `go run ./internal/bench -h`), e.g.
#   scripts/bench.sh --only pg --json
# Env: BENCH_GO=0 skips the Go micro-benchmarks; BENCH_BIG=0 leaves out the
# 10M-row batch run.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${BENCH_GO:-1}" != 0 ]; then
  pkgs=()
  for p in change replicator/postgres/pgvalue sinks/jetstream sinks/kafka batch gen; do
    if [ -d "$p" ] && grep -qs '^func Benchmark' "$p"/*_test.go; then
      pkgs+=("./$p/")
    fi
  done
  if [ ${#pkgs[@]} -gt 0 ]; then
    echo "== go test -run '^\$' -bench . -benchmem ${pkgs[*]}" >&2
    go test -run '^$' -bench . -benchmem "${pkgs[@]}"
  fi
  # The learner's targets are per core: its updates also run on one CPU.
  echo "== go test -run '^\$' -bench . -benchmem -cpu 1 ./learner/" >&2
  go test -run '^$' -bench . -benchmem -cpu 1 ./learner/
fi

mkdir -p bin
go build -o bin/bench ./internal/bench
go build -o bin/tributary ./cmd/tributary
big=--big
[ "${BENCH_BIG:-1}" = 0 ] && big=
echo "== bin/bench --binary bin/tributary $big $*" >&2
exec bin/bench --binary bin/tributary $big "$@"
