#!/usr/bin/env bash
# Benchmark: renewing a fleet of 20 domains at once (`renew --parallel 10`) against one at a time
# (`renew`, --parallel 1), next to issuing the same 20 one by one, against a local Pebble on
# 127.0.0.1 (PEBBLE_VA_NOSLEEP=1, no nonce rejection) with http-01 answered through a webroot
# served by a plain web server (start_webroot_server), as an operator's would be.
#
# Each round uses a fresh state directory (so a fresh account) on the same Pebble and webroot:
#   1. `domain add bNN.bench.test --webroot DIR` for b01 ... b20 (not timed);
#   2. `issue NAME --agree-tos` for the 20 names one after the other, timed together (wall
#      clock); the first registers the account. Requests counted at Pebble (log lines with
#      'calling handler', before and after);
#   3. `renew --force --parallel 10 --json`: wall time, acme_requests from the JSON, which must
#      equal the count at Pebble; every one of the 20 actions must be "renewed";
#   4. `renew --force --json` (--parallel 1): the same;
#   5. `renew --quiet` with nothing due, QUIET_RUNS times: must exit 0, print nothing and make
#      no request (Pebble's count unchanged).
# Authorization reuse: Pebble puts an account's still-valid authorization for a name into a new
# order instead of a fresh one PEBBLE_AUTHZREUSE percent of the time (Pebble's default is 50, a
# coin toss per name, which makes the renewals' request counts and times vary from run to run).
# This script sets it to 100 unless PEBBLE_AUTHZREUSE is exported: every renewal in 3 and 4 then
# reuses the authorization its issuance in 2 validated and answers no challenge, so both are
# cheaper than a first issuance, and equally so, which keeps 3 against 4 a fair comparison. It
# is what a CA that keeps authorizations valid for a while does with a renewal soon after
# issuance. PEBBLE_AUTHZREUSE=0 makes every renewal validate its name again, as a renewal must
# when the account's authorization for the name has expired by the time it renews.
#
# Prints a Markdown table: median, min and max wall time over the rounds, the median per domain,
# the median user+system CPU time of certcli (summed over the 20 runs for step 2), and the median
# request counts. Fails when a run exits non-zero or a check above does not hold.
#
# Usage: bench/renew_parallel.sh [ROUNDS]   (default 3)
#   QUIET_RUNS=5          runs of step 5 per round
#   PEBBLE_AUTHZREUSE=N   % of renewals that reuse a valid authorization (default here 100)
#   CERTCLI_BIN           the binary (default build/certcli)
# Needs pebble, pebble-challtestsrv, python3 (tests/integration/harness.sh) and /usr/bin/time for
# the CPU column (without it the column shows "-").
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
quiet_runs=${QUIET_RUNS:-5}
domains=20
[[ "$rounds" =~ ^[1-9][0-9]*$ && "$quiet_runs" =~ ^[1-9][0-9]*$ ]] ||
  { echo "usage: bench/renew_parallel.sh [ROUNDS]  (QUIET_RUNS=N)" >&2; exit 2; }
export CERTCLI_BIN=${CERTCLI_BIN:-$PWD/build/certcli}
[[ -x "$CERTCLI_BIN" ]] || { echo "bench: build first (scripts/build.sh), or set CERTCLI_BIN" >&2; exit 1; }
export PEBBLE_WFE_NONCEREJECT=0
export PEBBLE_AUTHZREUSE=${PEBBLE_AUTHZREUSE:-100}
[[ "$PEBBLE_AUTHZREUSE" =~ ^([0-9]|[1-9][0-9]|100)$ ]] || { echo "bench: PEBBLE_AUTHZREUSE must be 0-100" >&2; exit 2; }
echo "bench: $rounds rounds, PEBBLE_AUTHZREUSE=$PEBBLE_AUTHZREUSE, no nonce rejection" >&2
source tests/integration/harness.sh
harness_start >/dev/null
use_certcli
webroot="$HARNESS_DIR/webroot"
start_webroot_server "$webroot"
names=()
for ((i = 1; i <= domains; i++)); do names+=("$(printf 'b%02d.bench.test' "$i")"); done

failures=0
bad() { echo "bench: FAIL: $*" >&2; failures=$((failures + 1)); }
pebble_requests() { grep -c 'calling handler' "$HARNESS_DIR/pebble.log" || true; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# run OUT CMD... — certcli CMD with stdout to OUT.out, stderr to OUT.err; adds its user+system
# CPU milliseconds to $cpu_ms (or sets cpu_ms=- without /usr/bin/time); returns its exit status.
run() {
  local out=$1 rc=0 user sys
  shift
  if [[ -x /usr/bin/time && "$cpu_ms" != - ]]; then
    /usr/bin/time -f '%U %S' -o "$out.time" "$CERTCLI_BIN" --home "$home" \
      --directory "$CERTCLI_TEST_DIRECTORY" --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" "$@" \
      >"$out.out" 2>"$out.err" || rc=$?
    read -r user sys < <(tail -n 1 "$out.time")
    cpu_ms=$((cpu_ms + $("$HARNESS_PYTHON" -c 'import sys; print(round((float(sys.argv[1]) + float(sys.argv[2])) * 1000))' "$user" "$sys")))
  else
    cpu_ms=-
    certcli "$@" >"$out.out" 2>"$out.err" || rc=$?
  fi
  return "$rc"
}

# renew_json OUT — print "ACME_REQUESTS RENEWED TOTAL" from a renew --json report.
renew_json() {
  "$HARNESS_PYTHON" -c 'import collections, json, sys
r = json.load(open(sys.argv[1]))
actions = collections.Counter(d["action"] for d in r["domains"])
print(r["acme_requests"], actions["renewed"], len(r["domains"]))' "$1.out" 2>/dev/null || echo "? ? ?"
}

# Per step, one entry per round (quiet: one per run): "ms cpu_ms certcli_requests pebble_requests".
issue_rows=() parallel_rows=() sequential_rows=() quiet_rows=()
out="$HARNESS_DIR/bench"
for ((r = 1; r <= rounds; r++)); do
  home="$HARNESS_DIR/home-$r"
  for name in "${names[@]}"; do
    certcli domain add "$name" --webroot "$webroot" >/dev/null
  done

  # 2. Twenty issuances, one after the other; the first registers the account.
  cpu_ms=0 before=$(pebble_requests) start=$(now_ms)
  for name in "${names[@]}"; do
    run "$out" issue "$name" --agree-tos || bad "round $r: issue $name exited $?: $(head -c 500 "$out.err")"
  done
  end=$(now_ms)
  issue_rows+=("$((end - start)) $cpu_ms - $(($(pebble_requests) - before))")
  echo "bench: round $r: issued $domains in $((end - start)) ms" >&2

  # 3 and 4. The same 20 renewed by force, ten at once, then one at a time.
  for parallel in 10 1; do
    args=(renew --force --json)
    ((parallel == 1)) || args+=(--parallel "$parallel")
    cpu_ms=0 before=$(pebble_requests) start=$(now_ms)
    rc=0
    run "$out" "${args[@]}" || rc=$?
    end=$(now_ms)
    ((rc == 0)) || bad "round $r: ${args[*]} exited $rc: $(head -c 500 "$out.err")"
    read -r requests renewed total < <(renew_json "$out")
    [[ "$renewed" == "$domains" && "$total" == "$domains" ]] ||
      bad "round $r: ${args[*]}: $renewed of $total domains renewed, expected $domains of $domains"
    at_pebble=$(($(pebble_requests) - before))
    [[ "$requests" == "$at_pebble" ]] ||
      bad "round $r: ${args[*]} reported acme_requests=$requests, Pebble counted $at_pebble"
    row="$((end - start)) $cpu_ms $requests $at_pebble"
    if ((parallel == 1)); then sequential_rows+=("$row"); else parallel_rows+=("$row"); fi
    echo "bench: round $r: ${args[*]} in $((end - start)) ms, $requests requests" >&2
  done

  # 5. Nothing due: the timer's quiet day.
  for ((q = 0; q < quiet_runs; q++)); do
    cpu_ms=0 before=$(pebble_requests) start=$(now_ms)
    rc=0
    run "$out" renew --quiet || rc=$?
    end=$(now_ms)
    ((rc == 0)) || bad "round $r: renew --quiet exited $rc: $(head -c 500 "$out.err")"
    [[ ! -s "$out.out" && ! -s "$out.err" ]] ||
      bad "round $r: renew --quiet printed with nothing due: $(head -c 500 "$out.out" "$out.err")"
    quiet_rows+=("$((end - start)) $cpu_ms - $(($(pebble_requests) - before))")
  done
done

echo "| step | domains | runs | median ms | min ms | max ms | median ms per domain | median CPU ms | acme_requests (certcli) | requests at Pebble |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
summary() {  # summary LABEL ROWS...
  "$HARNESS_PYTHON" - "$domains" "$@" <<'PY'
import statistics, sys
domains, label, rows = int(sys.argv[1]), sys.argv[2], [r.split() for r in sys.argv[3:]]
def med(column):
    values = [r[column] for r in rows]
    if any(v in ("-", "?") for v in values):
        return "-" if all(v == "-" for v in values) else "?"
    m = statistics.median(map(int, values))
    return f"{m:.0f}" if m == int(m) else f"{m:.1f}"
ms = [int(r[0]) for r in rows]
print(f"| {label} | {domains} | {len(rows)} | {statistics.median(ms):.0f} | {min(ms)} | {max(ms)} "
      f"| {statistics.median(ms) / domains:.0f} | {med(1)} | {med(2)} | {med(3)} |")
PY
}
summary "issue ×20, one after the other (1st registers the account)" "${issue_rows[@]}"
summary "renew --force --parallel 10 --json" "${parallel_rows[@]}"
summary "renew --force --json (--parallel 1)" "${sequential_rows[@]}"
summary "renew --quiet, nothing due" "${quiet_rows[@]}"
((failures == 0)) || { echo "bench: $failures check(s) failed" >&2; exit 1; }
