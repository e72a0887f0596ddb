#!/usr/bin/env bash
# bench.sh measures `tributary batch preprocess` on the 250,000-row seed file
# and on a 10,000,000-row file (rows/s, wall time, peak RSS), then the
# workload generator at 5,000 commits/s against a throwaway PostgreSQL.
# Targets: 250k rows in under 1 s; >= 500k rows/s on 10M rows with peak RSS
# under 1 GB; 5,000 commits/s sustained.
#
# Env: BIG_ROWS (default 10000000), WORKLOAD_RATE (default 5000; 0 skips),
# KEEP=1 keeps the temp dir. Needs ~1.5 GB of disk for the 10M-row files.
set -euo pipefail
cd "$(dirname "$0")/.."
BIG_ROWS=${BIG_ROWS:-10000000}
WORKLOAD_RATE=${WORKLOAD_RATE:-5000}
dir=$(mktemp -d)
[ "${KEEP:-}" = 1 ] || trap 'rm -rf "$dir"' EXIT
go build -o "$dir/tributary" ./cmd/tributary
bin=$dir/tributary

json_num() { grep -o "\"$1\": *[0-9.e+]*" "$2" | head -1 | sed 's/.*: *//'; }

for rows in 250000 "$BIG_ROWS"; do
  csv=$dir/ct_$rows.csv
  "$bin" gen data --rows "$rows" --seed 42 --out "$csv" >/dev/null
  out=$dir/ct_$rows.parquet
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -v "$bin" batch preprocess --quiet --json --in "$csv" --out "$out" >"$dir/report.json" 2>"$dir/time.txt"
    rss_mb=$(awk '/Maximum resident set size/ {printf "%.0f", $6/1024}' "$dir/time.txt")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$dir/time.txt")
  else
    "$bin" batch preprocess --quiet --json --in "$csv" --out "$out" >"$dir/report.json"
    rss_mb=$(json_num peak_rss_mb "$dir/report.json" | awk '{printf "%.0f", $1}')
    wall="(no /usr/bin/time)"
  fi
  rps=$(json_num rows_per_second "$dir/report.json" | awk '{printf "%.0f", $1}')
  secs=$(json_num seconds "$dir/report.json" | awk '{printf "%.3f", $1}')
  printf 'batch preprocess %9d rows: %8s rows/s, %6ss (wall %s), peak RSS %s MB\n' "$rows" "$rps" "$secs" "$wall" "$rss_mb"
  rm -f "$csv" "$out"
done

if [ "$WORKLOAD_RATE" != 0 ]; then
  TRIBUTARY_WORKLOAD_RATE=$WORKLOAD_RATE TRIBUTARY_WORKLOAD_SECONDS=${WORKLOAD_SECONDS:-10} \
    go test ./gen/ -run '^TestWorkloadSustainsRate$' -count=1 -v 2>&1 | grep -E 'achieved|FAIL|SKIP|ok ' || true
fi
