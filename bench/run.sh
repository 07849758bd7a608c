#!/usr/bin/env bash
# Runs the benchmarks in bench/ (all, or those named: `bench/run.sh migration`) against the test Docker hosts.
# Benchmarks print figures and ratios; they never fail on time. Run as root: the migration bench empties the page cache.
set -euo pipefail
cd "$(dirname "$0")/.."
benches=()
if [ $# -eq 0 ]; then
  benches=(bench/*.bench.ts)
else
  for name in "$@"; do
    [ -f "bench/$name.bench.ts" ] || { echo "no bench/$name.bench.ts" >&2; exit 2; }
    benches+=("bench/$name.bench.ts")
  done
fi
# The incremental re-sync is compared with rsync between the volume folders: from the distribution, when missing.
if ! command -v rsync >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get install -y -qq --no-install-recommends rsync >/dev/null ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends rsync >/dev/null; } ||
    echo "cannot install rsync: the re-sync is not compared with it" >&2
fi
hosts=$(bash scripts/docker-hosts.sh start 2 --json)
export DM_BENCH_HOSTS="$hosts"
for bench in "${benches[@]}"; do
  echo "== $bench"
  npx tsx "$bench"
done
