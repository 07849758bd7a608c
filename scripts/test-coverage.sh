#!/usr/bin/env bash
# Measures test coverage per tier (default: unit, web, integration) with V8's coverage through vitest, and ends
# with one table of the totals per tier. It informs; it is not a gate: low figures never fail it, only a tier
# that could not run does. Reports go to coverage/<tier>/ (index.html to browse, coverage-summary.json).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

if [ ! -d node_modules/@vitest/coverage-v8 ]; then
  echo "test-coverage needs the V8 coverage provider for vitest, which is not installed:" >&2
  echo "  add \"@vitest/coverage-v8\": \"$(node -p 'require("vitest/package.json").version')\" to devDependencies (the same version as vitest), then make install" >&2
  exit 1
fi

tiers=("$@")
[ ${#tiers[@]} -eq 0 ] && tiers=(unit web integration)

status=0
for tier in "${tiers[@]}"; do
  case "$tier" in
    web) include=(--coverage.include='web/src/**/*.{ts,tsx}') ;;
    # The end-to-end tiers run the built binary in other processes, which V8 coverage of the test run cannot see.
    unit | integration) include=(--coverage.include='src/**/*.ts') ;;
    *)
      echo "no coverage for tier \"$tier\": use unit, web or integration" >&2
      status=1
      continue
      ;;
  esac
  echo "== $tier coverage"
  npx vitest run --project "$tier" --coverage.enabled "${include[@]}" \
    --coverage.reportsDirectory="coverage/$tier" || status=1
done

echo
node --input-type=module - "${tiers[@]}" <<'JS'
import { existsSync, readFileSync } from 'node:fs';
const rows = [['tier', 'lines', 'statements', 'functions', 'branches']];
for (const tier of process.argv.slice(2)) {
  const file = `coverage/${tier}/coverage-summary.json`;
  if (!existsSync(file)) {
    rows.push([tier, 'not measured', '', '', '']);
    continue;
  }
  const { total } = JSON.parse(readFileSync(file, 'utf8'));
  const cell = (kind) => `${total[kind].pct.toFixed(1)} % (${total[kind].covered}/${total[kind].total})`;
  rows.push([tier, cell('lines'), cell('statements'), cell('functions'), cell('branches')]);
}
const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd());
JS
exit "$status"
