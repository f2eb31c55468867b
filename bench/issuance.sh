#!/usr/bin/env bash
# Benchmark: wall time, ACME requests and connections per issuance against a local Pebble
# (PEBBLE_VA_NOSLEEP=1, no nonce rejection), for certificates of 1 and 5 names with a stored
# account. Usage: bench/issuance.sh [ROUNDS] (default 10). Needs build/certcli.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
export CERTCLI_BIN=${CERTCLI_BIN:-$PWD/build/certcli}
[[ -x "$CERTCLI_BIN" ]] || { echo "bench: build first (scripts/build.sh)" >&2; exit 1; }
export PEBBLE_WFE_NONCEREJECT=0
source tests/integration/harness.sh
harness_start >/dev/null
use_certcli
listen="127.0.0.1:$CERTCLI_TEST_HTTP_PORT"
certcli domain add warmup.bench.test >/dev/null
certcli issue warmup.bench.test --agree-tos --http-listen "$listen" >/dev/null 2>&1

measure() {  # measure LABEL NAMES_PER_CERT
  local label=$1 count=$2 times=() requests=() connections=() i j sans
  for ((i = 0; i < rounds; i++)); do
    sans=()
    for ((j = 1; j < count; j++)); do sans+=(--san "n$j.r$i.$label.bench.test"); done
    certcli domain add "r$i.$label.bench.test" "${sans[@]}" >/dev/null
    local start end trace
    start=$(date +%s%N)
    trace=$(certcli -v issue "r$i.$label.bench.test" --http-listen "$listen" 2>&1 >/dev/null)
    end=$(date +%s%N)
    times+=($(((end - start) / 1000000)))
    requests+=("$(grep -c 'certcli: http: ' <<<"$trace")")
    connections+=("$(grep -c '(new connection)' <<<"$trace")")
  done
  "$HARNESS_PYTHON" - "$label" "${times[*]}" "${requests[*]}" "${connections[*]}" <<'PY'
import statistics, sys
label, times, requests, connections = sys.argv[1], *[list(map(int, a.split())) for a in sys.argv[2:]]
print(f"| {label} | {len(times)} | {statistics.median(times)} | {min(times)} | {max(times)} "
      f"| {statistics.median(requests)} | {max(connections)} |")
PY
}

echo "| certificate | rounds | median ms | min ms | max ms | median requests | connections |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
measure one-name 1
measure five-names 5
