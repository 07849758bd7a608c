#!/usr/bin/env bash
# Runs every benchmark in bench/ against the test Docker hosts. Benchmarks print figures and ratios; they never fail on time.
set -euo pipefail
cd "$(dirname "$0")/.."
hosts=$(bash scripts/docker-hosts.sh start 2 --json)
export DM_BENCH_HOSTS="$hosts"
for bench in bench/*.bench.ts; do
  echo "== $bench"
  npx tsx "$bench"
done
