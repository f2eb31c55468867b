#!/usr/bin/env bash
# The side-by-side bench (bench/compare.sh) cannot rot (issue #25): one round, no peers, 5
# certificates in rows 1-3 and 100 generated domains in row 4, against its own Pebble. Checks
# that the report holds every row and that nothing-due and status made no request. Never
# asserts a time: benchmarks are not timed tests.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
: "${CERTCLI_BIN:?set CERTCLI_BIN to the certcli binary (ctest does)}"
source_dir=${CERTCLI_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/certcli-bench-smoke.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
report="$tmp/RESULTS.md"

# Its own harness: not the one a CERTCLI_TEST_ENV would share, whose Pebble log others write to.
env -u CERTCLI_TEST_ENV bash "$source_dir/bench/compare.sh" --rounds 1 --no-peers --sizes 100 --certs 5 \
  --out "$report" >"$tmp/compare.out" 2>"$tmp/compare.err" ||
  fail "bench/compare.sh failed: $(tail -n 20 "$tmp/compare.err")"
[[ -s "$report" ]] || fail "bench/compare.sh wrote no report"
text=$(cat "$report")

for heading in "## 1. One certificate, new account" "## 2. One certificate, stored account" \
  "## 3. 5 certificates" "## 4. Nothing due" "## 5. Start-up"; do
  assert_contains "$text" "$heading"
done
for field in "- date:" "- machine:" "- load average" "- commit:" "- versions:" "peers: not run (--no-peers)"; do
  assert_contains "$text" "$field"
done
# Every certcli row has a number of runs, not "failed" or "not run".
assert_not_contains "$text" "| certcli | failed"
assert_not_contains "$text" "| certcli | not run"
assert_contains "$text" "| certcli, one \`renew --force --parallel 10\` | 1 |"

# Row 4: each command over 100 domains ran and made no request (the last column).
for command in "renew --quiet" "renew --json" "status --json"; do
  line=$(grep -F "| $command | 100 |" "$report") || fail "row 4 has no line for $command"
  requests=$(awk -F'|' '{gsub(/ /, "", $(NF - 1)); print $(NF - 1)}' <<<"$line")
  assert_eq 0 "$requests" "requests of $command over 100 domains"
done
echo "PASS: test_bench_smoke"
