#!/usr/bin/env bash
# Runs the named test tiers (unit, web, integration, e2e, faults) one after another, even when one fails, and ends
# with the plain total line "N passed, N failed" that CI reads. Exit status is non-zero when any test failed or none
# ran.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

counts=$(mktemp)
trap 'rm -f "$counts"' EXIT
status=0
for tier in "$@"; do
  echo "== $tier tests"
  DM_TEST_COUNTS="$counts" npx vitest run --project "$tier" || status=1
done

read -r passed failed skipped < <(awk '{p+=$1; f+=$2; s+=$3} END {print p+0, f+0, s+0}' "$counts")
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
  echo "no test ran" >&2
  status=1
fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # A tier failed without a failing test (setup error, crash): count it so the total says so.
  failed=1
fi
echo
if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
exit "$status"
