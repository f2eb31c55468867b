#!/usr/bin/env bash
# Benchmark: what a timer's `certcli renew --quiet` costs when nothing is due — the run that
# happens twice a day on every machine, nearly every day. Also `certcli check --json`.
#
# Builds a state directory of N ready, managed domains that are not due (a 90-day certificate
# issued 10 days ago, 80 days left) WITHOUT a CA: each domains/<name>/domain.toml is written
# directly in the format certcli writes (src/store/records.cpp; checked against a record from a
# real issuance at Pebble). No live/ certificate is written: renew must decide from domain.toml
# alone and parse no certificate for a domain that is not due, so a run that tried would fail.
#
# For each N: one warm-up run, then RUNS timed runs of `certcli --home DIR renew --quiet`
# (median, min, max wall time; median user+system CPU time, which a busy machine disturbs less;
# peak RSS, from /usr/bin/time), each of which must exit 0 and
# print nothing; then `renew --json`, which must report acme_requests 0 and N domains skipped;
# then RUNS timed runs of `check --json`. Prints a Markdown table.
#
# Usage: bench/renew_nothing_due.sh [RUNS]   (default 7)
#   BENCH_DOMAINS="1000 10000"   the state sizes (default)
#   BENCH_ARI=1                  give every record a fresh ARI answer (RFC 9773: window ahead,
#                                next poll 6 h away), as a fleet at Let's Encrypt has between polls;
#                                such a record must still cost no request
#   BENCH_KEEP=1                 keep the generated state directories (path printed on stderr)
#   CERTCLI_BIN                  the binary (default build/certcli)
# Needs python3; uses /usr/bin/time (Debian package `time`) when present, else python3's
# getrusage for the peak RSS. Needs no network and no Pebble.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
sizes=${BENCH_DOMAINS:-1000 10000}
CERTCLI_BIN=${CERTCLI_BIN:-$PWD/build/certcli}
PYTHON=${HARNESS_PYTHON:-/usr/bin/python3}
[[ -x "$PYTHON" ]] || PYTHON=python3
[[ -x "$CERTCLI_BIN" ]] || { echo "bench: build first (scripts/build.sh), or set CERTCLI_BIN" >&2; exit 1; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "usage: bench/renew_nothing_due.sh [RUNS]" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/certcli-bench-renew.XXXXXX")
if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
  echo "bench: keeping $work" >&2
else
  trap 'rm -rf -- "$work"' EXIT
fi

# generate DIR N — N domain records (bench/generate_state.sh).
generate() { HARNESS_PYTHON="$PYTHON" bench/generate_state.sh "$1" "$2"; }

# timed OUT_PREFIX CMD... — runs CMD with stdout to OUT_PREFIX.out and stderr to .err; prints
# "WALL_MS KIB EXIT CPU_MS" (CPU = user + system time of CMD).
timed() {
  local prefix=$1 start end rc=0 rss
  shift
  if [[ -x /usr/bin/time ]]; then
    start=$(date +%s%N)
    /usr/bin/time -f '%M %U %S' -o "$prefix.rss" "$@" >"$prefix.out" 2>"$prefix.err" || rc=$?
    end=$(date +%s%N)
    read -r rss user sys < <(tail -n 1 "$prefix.rss")
  else
    start=$(date +%s%N)
    "$PYTHON" -c 'import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:], stdout=open(sys.argv[1] + ".out", "wb"), stderr=open(sys.argv[1] + ".err", "wb"))
u = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1] + ".rss", "w").write("%d %.3f %.3f\n" % (u.ru_maxrss, u.ru_utime, u.ru_stime))
sys.exit(rc)' "$prefix" "$@" || rc=$?
    end=$(date +%s%N)
    read -r rss user sys <"$prefix.rss"
  fi
  echo "$(((end - start) / 1000000)) $rss $rc $("$PYTHON" -c 'import sys; print(round((float(sys.argv[1]) + float(sys.argv[2])) * 1000))' "$user" "$sys")"
}

# summary LABEL DOMAINS "ms ms ..." "kib kib ..." "cpu_ms ..." REQUESTS — one table row.
summary() {
  "$PYTHON" - "$@" <<'PY'
import statistics, sys
label, domains, times, rss, cpu, requests = sys.argv[1:]
times, rss, cpu = (list(map(int, a.split())) for a in (times, rss, cpu))
print(f"| {label} | {int(domains):,} | {len(times)} | {statistics.median(times):.0f} | {min(times)} | {max(times)} "
      f"| {statistics.median(cpu):.0f} | {max(rss) / 1024:.1f} | {requests} |")
PY
}

failures=0
bad() { echo "bench: FAIL: $*" >&2; failures=$((failures + 1)); }

echo "| command | domains | runs | median ms | min ms | max ms | median CPU ms | peak RSS MiB | acme_requests |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for n in $sizes; do
  home="$work/state-$n"
  gen_start=$(date +%s%N)
  generate "$home" "$n"
  echo "bench: generated $n domains in $((($(date +%s%N) - gen_start) / 1000000)) ms ($home)" >&2
  out="$work/run-$n"

  # Warm-up (page cache), then the timed runs of what the timer runs.
  timed "$out" "$CERTCLI_BIN" --home "$home" renew --quiet >/dev/null
  times=() rss=() cpu=()
  for ((i = 0; i < runs; i++)); do
    read -r ms kib rc cpu_ms < <(timed "$out" "$CERTCLI_BIN" --home "$home" renew --quiet)
    ((rc == 0)) || bad "renew --quiet exited $rc with $n domains: $(head -c 500 "$out.err")"
    [[ ! -s "$out.out" ]] || bad "renew --quiet printed with nothing due: $(head -c 500 "$out.out")"
    times+=("$ms") rss+=("$kib") cpu+=("$cpu_ms")
  done

  # The same run in JSON: no request to the CA, every domain skipped, nothing else.
  read -r json_ms json_kib rc json_cpu < <(timed "$out" "$CERTCLI_BIN" --home "$home" renew --json)
  ((rc == 0)) || bad "renew --json exited $rc with $n domains: $(head -c 500 "$out.err")"
  read -r requests skipped total < <("$PYTHON" -c 'import collections, json, sys
r = json.load(open(sys.argv[1]))
actions = collections.Counter(d["action"] for d in r["domains"])
print(r["acme_requests"], actions["skipped"], len(r["domains"]))' "$out.out") || { requests="?" skipped="?" total="?"; }
  [[ "$requests" == 0 ]] || bad "renew --json reported acme_requests=$requests with nothing due"
  [[ "$skipped" == "$n" && "$total" == "$n" ]] || bad "renew --json: $skipped of $total domains skipped, expected $n of $n"
  summary "renew --quiet" "$n" "${times[*]}" "${rss[*]}" "${cpu[*]}" "$requests"
  summary "renew --json" "$n" "$json_ms" "$json_kib" "$json_cpu" "$requests"

  times=() rss=() cpu=()
  for ((i = 0; i < runs; i++)); do
    read -r ms kib rc cpu_ms < <(timed "$out" "$CERTCLI_BIN" --home "$home" check --json)
    ((rc == 0)) || bad "check --json exited $rc with $n domains: $(head -c 500 "$out.err")"
    times+=("$ms") rss+=("$kib") cpu+=("$cpu_ms")
  done
  checked=$("$PYTHON" -c 'import json, sys
c = json.load(open(sys.argv[1]))
print(len(c["domains"] if isinstance(c, dict) else c))' "$out.out" || echo "?")
  [[ "$checked" == "$n" ]] || bad "check --json listed $checked domains, expected $n"
  summary "check --json" "$n" "${times[*]}" "${rss[*]}" "${cpu[*]}" "-"
  [[ "${BENCH_KEEP:-0}" == 1 ]] || rm -rf -- "$home"
done
((failures == 0)) || { echo "bench: $failures check(s) failed" >&2; exit 1; }
