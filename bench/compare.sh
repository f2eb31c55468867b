#!/usr/bin/env bash
# Side-by-side benchmark: certcli against certbot, lego and uacme (Debian's packages) on the
# same work, against one local Pebble on 127.0.0.1 (PEBBLE_VA_NOSLEEP=1, no nonce rejection),
# http-01 answered by every client through one webroot served on the port Pebble validates
# (start_webroot_server). Writes a Markdown report (default bench/RESULTS.md) with the date,
# machine, load, commit and versions, and these rows:
#   1. one certificate, new account, one name: wall, CPU (user+system), peak RSS, requests
#      Pebble received (its log's 'calling handler' lines);
#   2. the same with the account stored by the client's previous run;
#   3. CERTS certificates (default 100): certcli in one invocation (`renew --force --parallel P`
#      over CERTS added domains, stored account) against each peer's loop of one invocation per
#      certificate (a sample of SAMPLE, default 20, timed and extrapolated: the report says so);
#   4. `renew` with nothing due and `status --json` over generated state directories
#      (bench/generate_state.sh) of each size: wall, CPU, peak RSS, requests (must be 0);
#   5. start-up: `--version` (hyperfine when installed).
# Medians over ROUNDS runs (rows 1, 2, 4, 5 and certcli's row 3). A peer that cannot be installed
# or fails is reported "not run: why" / "failed: why", never given a number. Benchmarks are never
# timed tests: the script fails only when certcli does something wrong (a run fails, row 4 makes
# a request, a domain is not renewed), never on a time.
#
# Usage: bench/compare.sh [--rounds N] [--no-peers] [--sizes "1000 10000 100000"] [--certs N]
#                         [--sample N] [--parallel N] [--out FILE]
#   --rounds N    runs per measurement (default 5)
#   --no-peers    certcli alone (no apt-get, no peers)
#   --sizes LIST  state sizes for row 4 (default "1000 10000 100000")
#   --certs N     certificates in row 3 (default 100)
#   --sample N    peers' row 3 sample (default 20)
#   --parallel N  certcli's renew --parallel in row 3 (default 10)
#   --out FILE    the report (default bench/RESULTS.md)
#   CERTCLI_BIN   the binary (default build/certcli)
# Installs missing peers with `apt-get install -y uacme certbot lego hyperfine` (root; runs
# apt-get update only when that fails). uacme (libcurl-gnutls) has no option to trust another
# CA: it runs in its own mount namespace (`unshare -m`, root) where Pebble's test CA is
# bind-mounted over /etc/ssl/certs/ca-certificates.crt; the system's file is never changed.
# Needs pebble, pebble-challtestsrv, python3, /usr/bin/time (tests/integration/harness.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
rounds=5 peers=1 sizes="1000 10000 100000" certs=100 sample=20 parallel=10 out=$repo/bench/RESULTS.md
usage() { sed -n '/^# Usage:/,/^#   CERTCLI_BIN/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while (($#)); do
  case $1 in
    --rounds) rounds=${2:?}; shift 2 ;;
    --no-peers) peers=0; shift ;;
    --sizes) sizes=${2?}; shift 2 ;;
    --certs) certs=${2:?}; shift 2 ;;
    --sample) sample=${2:?}; shift 2 ;;
    --parallel) parallel=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    -h | --help) usage ;;
    *) echo "bench: unknown option $1" >&2; usage ;;
  esac
done
for n in "$rounds" "$certs" "$sample" "$parallel" $sizes; do [[ "$n" =~ ^[1-9][0-9]*$ ]] || usage; done
[[ "$out" = /* ]] || out=$PWD/$out
export CERTCLI_BIN=${CERTCLI_BIN:-$repo/build/certcli}
[[ -x "$CERTCLI_BIN" ]] || { echo "bench: build first (scripts/build.sh), or set CERTCLI_BIN" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "bench: needs /usr/bin/time (Debian package time)" >&2; exit 1; }
log() { echo "bench: $*" >&2; }
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)

# --- Peers: installed from Debian when missing. ---
declare -A peer_missing=()
peer_list=()
if ((peers)); then
  peer_list=(uacme certbot lego)
  wanted=()
  for p in uacme certbot lego hyperfine; do command -v "$p" >/dev/null || wanted+=("$p"); done
  if ((${#wanted[@]})); then
    log "installing ${wanted[*]} from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y "${wanted[@]}" >&2 || { apt-get update >&2 && apt-get install -y "${wanted[@]}" >&2; } ||
      log "apt-get install failed"
  fi
  for p in "${peer_list[@]}"; do
    command -v "$p" >/dev/null || peer_missing[$p]="not installed (apt-get install $p failed)"
  done
  if [[ -z "${peer_missing[uacme]:-}" ]] && ! unshare -m true 2>/dev/null; then
    peer_missing[uacme]="cannot trust Pebble's CA: uacme has no CA option and unshare -m (root) is not available"
  fi
fi

# --- Pebble, a webroot server on its http-01 port. ---
export PEBBLE_WFE_NONCEREJECT=0
unset PEBBLE_VA_SLEEPTIME
source tests/integration/harness.sh
harness_start >/dev/null
webroot="$HARNESS_DIR/webroot"
start_webroot_server "$webroot"
work="$HARNESS_DIR/compare"
mkdir -p "$work"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
D=$CERTCLI_TEST_DIRECTORY B=$CERTCLI_TEST_CA_BUNDLE
PY=$HARNESS_PYTHON
pebble_requests() { grep -c 'calling handler' "$HARNESS_DIR/pebble.log" || true; }
failures=0
bad() { log "FAIL: $*"; failures=$((failures + 1)); }

cat >"$work/uacme-hook.sh" <<EOF
#!/bin/sh
# uacme's challenge hook: METHOD TYPE IDENT TOKEN KEY_AUTH; http-01 through the shared webroot.
[ "\$2" = http-01 ] || exit 1
dir='$webroot/.well-known/acme-challenge'
case "\$1" in
  begin) mkdir -p "\$dir" && printf '%s' "\$5" >"\$dir/\$4" ;;
  *) rm -f "\$dir/\$4" ;;
esac
EOF
chmod +x "$work/uacme-hook.sh"

# Each client's command for one certificate: CONF (its state), NAME, NEW (1: register first).
cmd_certcli() {
  local conf=$1 name=$2 new=$3 c=("$CERTCLI_BIN" --home "$1" --directory "$D" --ca-bundle "$B")
  printf '%q ' "${c[@]}" domain add "$name" --webroot "$webroot"
  printf '>/dev/null && '
  printf '%q ' "${c[@]}" issue "$name"
  ((new)) && printf -- '--agree-tos'
  echo
}
cmd_certbot() {
  printf 'REQUESTS_CA_BUNDLE=%q ' "$B"
  printf '%q ' certbot certonly -n --agree-tos --register-unsafely-without-email --server "$D" \
    --config-dir "$1/config" --work-dir "$1/work" --logs-dir "$1/logs" --key-type ecdsa \
    --webroot -w "$webroot" -d "$2"
  echo
}
cmd_lego() {
  printf 'LEGO_CA_CERTIFICATES=%q ' "$B"
  printf '%q ' lego --accept-tos --email bench@example.org --server "$D" --path "$1" --key-type ec256 \
    --http --http.webroot "$webroot" -d "$2" run
  echo
}
cmd_uacme() {
  local u=(unshare -m sh -c 'mount --bind "$0" /etc/ssl/certs/ca-certificates.crt && exec "$@"' "$B"
           uacme -c "$1" -a "$D" -t EC)
  if (($3)); then printf '%q ' "${u[@]}" -y new; printf '>/dev/null && '; fi
  printf '%q ' "${u[@]}" -h "$work/uacme-hook.sh" issue "$2"
  echo
}

# timed FILE SHELL-COMMAND — runs it; appends "WALL_MS CPU_MS RSS_KIB REQUESTS RC" to FILE.
timed() {
  local file=$1 cmd=$2 before start end rc=0 user sys rss
  before=$(pebble_requests)
  start=$(date +%s%N)
  /usr/bin/time -f '%U %S %M' -o "$work/time" bash -c "$cmd" >"$work/out" 2>"$work/err" || rc=$?
  end=$(date +%s%N)
  read -r user sys rss < <(tail -n 1 "$work/time")
  echo "$(((end - start) / 1000000)) $("$PY" -c 'import sys; print(round((float(sys.argv[1]) + float(sys.argv[2])) * 1000))' "$user" "$sys") $rss $(($(pebble_requests) - before)) $rc" >>"$file"
  if ((rc != 0)); then
    log "exit $rc: $cmd"
    tail -n 5 "$work/err" >&2
    tail -n 3 "$work/err" | tr '\n' ' ' | cut -c1-200 >"$file.why"
  fi
  return 0
}

# row FILE LABEL [SCALE] — a table row of medians from FILE ("failed: why" when a run failed);
# SCALE multiplies wall, CPU and requests (an extrapolated sample).
row() {
  "$PY" - "$@" <<'PY'
import os, statistics, sys
path, label = sys.argv[1], sys.argv[2]
scale = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
runs = [list(map(int, l.split())) for l in open(path)] if os.path.exists(path) else []
if not runs:
    print(f"| {label} | not run | | | | |")
elif any(r[4] != 0 for r in runs):
    why = open(path + ".why").read().strip().replace("|", "/") if os.path.exists(path + ".why") else ""
    print(f"| {label} | failed: {why} | | | | |")
else:
    med = lambda i: statistics.median(r[i] for r in runs)
    print(f"| {label} | {len(runs)} | {med(0) * scale:,.0f} | {med(1) * scale:,.0f} | {max(r[2] for r in runs) / 1024:.1f} "
          f"| {med(3) * scale:.0f} |")
PY
}

version_of() {
  case $1 in
    certcli) "$CERTCLI_BIN" --version 2>&1 | head -n 1 ;;
    certbot) certbot --version 2>&1 | head -n 1 ;;
    lego) echo "lego $(dpkg-query -W -f '${Version}' lego 2>/dev/null || lego --version)" ;;
    uacme) uacme -V 2>&1 | head -n 1 ;;
  esac
}

clients=(certcli)
for p in "${peer_list[@]}"; do [[ -n "${peer_missing[$p]:-}" ]] || clients+=("$p"); done

# --- Rows 1 and 2: one certificate, new account, then stored account. ---
for c in "${clients[@]}"; do
  log "rows 1-2: $c"
  for ((r = 1; r <= rounds; r++)); do
    conf="$work/$c-$r"
    timed "$work/row1-$c" "$(cmd_$c "$conf" "r$r.new.$c.bench.test" 1)"
    timed "$work/row2-$c" "$(cmd_$c "$conf" "r$r.stored.$c.bench.test" 0)"
  done
done

# --- Row 3: CERTS certificates. certcli: one renew --force --parallel over CERTS added domains. ---
log "row 3: certcli, $certs certificates, --parallel $parallel"
for ((r = 1; r <= rounds; r++)); do
  home="$work/certcli-$r"  # the account of rows 1-2
  names=()
  for ((i = 1; i <= certs; i++)); do names+=("$(printf 'c%03d.r%d.many.certcli.bench.test' "$i" "$r")"); done
  for name in "${names[@]}"; do
    "$CERTCLI_BIN" --home "$home" domain add "$name" --webroot "$webroot" >/dev/null
  done
  timed "$work/row3-certcli" "$(printf '%q ' "$CERTCLI_BIN" --home "$home" --directory "$D" --ca-bundle "$B" \
    renew --force --parallel "$parallel" --json "${names[@]}")"
  renewed=$("$PY" -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(sum(d["action"] == "renewed" for d in r["domains"]))' "$work/out" 2>/dev/null || echo "?")
  [[ "$renewed" == "$certs" ]] || bad "row 3 round $r: $renewed of $certs renewed"
done
# What certcli learned of this Pebble's speed (accounts/<ca>/timing.toml), for the report.
learned=$("$PY" - "$work"/certcli-1/accounts/*/timing.toml <<'PY' 2>/dev/null || echo "not recorded"
import sys, tomllib
t = tomllib.load(open(sys.argv[1], "rb"))
v, i = t.get("validation", {}), t.get("issuance", {})
print(f"validation {v.get('typical_ms', '?')} ms ({v.get('samples', 0)} waits), "
      f"issuance {i.get('typical_ms', '?')} ms ({i.get('samples', 0)} waits)")
PY
)
peer_sample=$((sample < certs ? sample : certs))
for c in "${clients[@]:1}"; do
  log "row 3: $c, a sample of $peer_sample of $certs"
  : >"$work/row3-$c.sum"
  for ((i = 1; i <= peer_sample; i++)); do
    timed "$work/row3-$c.each" "$(cmd_$c "$work/$c-1" "$(printf 'c%03d.many.%s.bench.test' "$i" "$c")" 0)"
  done
  # One line for the whole loop: the sums (peak RSS: the largest), failed if any run failed.
  "$PY" - "$work/row3-$c.each" >"$work/row3-$c" <<'PY'
import sys
runs = [list(map(int, l.split())) for l in open(sys.argv[1])]
print(sum(r[0] for r in runs), sum(r[1] for r in runs), max(r[2] for r in runs), sum(r[3] for r in runs),
      max(r[4] for r in runs))
PY
  [[ -f "$work/row3-$c.each.why" ]] && cp "$work/row3-$c.each.why" "$work/row3-$c.why"
done

# --- Row 4: nothing due, and status, over generated state. ---
row4=()
for n in $sizes; do
  home="$work/state-$n"
  log "row 4: generating $n domains"
  BENCH_DIRECTORY_URL=$D HARNESS_PYTHON=$PY bench/generate_state.sh "$home" "$n"
  c=("$CERTCLI_BIN" --home "$home" --ca-bundle "$B")
  bash -c "$(printf '%q ' "${c[@]}") renew --quiet" >/dev/null 2>&1 || true  # warm the page cache
  for ((r = 1; r <= rounds; r++)); do
    timed "$work/row4-renew-$n" "$(printf '%q ' "${c[@]}") renew --quiet"
    [[ ! -s "$work/out" ]] || bad "renew --quiet printed with nothing due ($n domains)"
  done
  timed "$work/row4-json-$n" "$(printf '%q ' "${c[@]}") renew --json"
  read -r acme skipped < <("$PY" -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(r["acme_requests"], sum(d["action"] == "skipped" for d in r["domains"]))' "$work/out" 2>/dev/null || echo "? ?")
  [[ "$acme" == 0 && "$skipped" == "$n" ]] || bad "renew --json over $n: acme_requests=$acme, $skipped of $n skipped"
  for ((r = 1; r <= rounds; r++)); do
    timed "$work/row4-status-$n" "$(printf '%q ' "${c[@]}") status --json"
  done
  listed=$("$PY" -c 'import json, sys
s = json.load(open(sys.argv[1]))
print(len(s["domains"] if isinstance(s, dict) else s))' "$work/out" 2>/dev/null || echo "?")
  [[ "$listed" == "$n" ]] || bad "status --json over $n listed $listed"
  for f in "$work/row4-renew-$n" "$work/row4-json-$n" "$work/row4-status-$n"; do
    "$PY" -c 'import sys
bad = [l for l in open(sys.argv[1]) if int(l.split()[3]) != 0]
sys.exit(1 if bad else 0)' "$f" || bad "row 4: a run over $n domains made requests ($f)"
  done
  rm -rf -- "$home"
done

# --- Row 5: start-up. ---
declare -A version_cmd=([certcli]="$CERTCLI_BIN --version" [certbot]="certbot --version" [lego]="lego --version"
                        [uacme]="uacme -V")  # uacme -V exits 2 after printing its version
have_hyperfine=0
command -v hyperfine >/dev/null && have_hyperfine=1
for c in "${clients[@]}"; do
  log "row 5: $c"
  for ((r = 1; r <= rounds; r++)); do timed "$work/row5-$c" "${version_cmd[$c]}$([[ $c == uacme ]] && echo ' || true')"; done
  if ((have_hyperfine)); then
    hyperfine -N -i --warmup 3 --runs $((rounds < 10 ? 10 : rounds)) --export-json "$work/row5-$c.json" \
      "${version_cmd[$c]}" >/dev/null 2>&1 || rm -f "$work/row5-$c.json"
  fi
done

# --- The report. ---
load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)
mem_gib=$(awk '/MemTotal/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)
cpu_model=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
mkdir -p "$(dirname "$out")"
{
  echo "# certcli against certbot, lego and uacme"
  echo
  echo "Written by \`bench/compare.sh --rounds $rounds --certs $certs --sample $sample --parallel $parallel --sizes \"$sizes\"$( ((peers)) || echo ' --no-peers')\`."
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- machine: $(nproc) cores ($cpu_model), $mem_gib GiB RAM, $(uname -sr)"
  echo "- load average (1, 5, 15 min): $load_at_start at the start, $load_at_end at the end (the machine may be shared: wall times are noisy under load, CPU times less so)"
  echo "- commit: $commit (the working tree as built; it may hold uncommitted changes)"
  echo "- CA: Pebble on 127.0.0.1, PEBBLE_VA_NOSLEEP=1, no nonce rejection; http-01 through one webroot served on Pebble's validation port"
  echo "- versions: $(for c in certcli "${peer_list[@]}"; do [[ -n "${peer_missing[$c]:-}" ]] || printf '%s; ' "$(version_of "$c")"; done)"
  for p in "${peer_list[@]}"; do [[ -z "${peer_missing[$p]:-}" ]] || echo "- $p: not run: ${peer_missing[$p]}"; done
  ((peers)) || echo "- peers: not run (--no-peers)"
  echo
  echo "Medians of the runs; CPU is user+system time of the client and its children; peak RSS is"
  echo "the largest of the runs; requests are those Pebble received (its log's 'calling handler' lines)."
  echo
  echo "## 1. One certificate, new account, one name"
  echo
  echo "| client | runs | wall ms | CPU ms | peak RSS MiB | requests |"
  echo "| --- | --- | --- | --- | --- | --- |"
  for c in "${clients[@]}"; do row "$work/row1-$c" "$c"; done
  echo
  echo "certcli: \`domain add NAME --webroot DIR\` then \`issue NAME --agree-tos\`; uacme: \`new\` then \`issue\`;"
  echo "certbot \`certonly --webroot\`; lego \`--http.webroot ... run\`. EC P-256 keys everywhere."
  echo
  echo "## 2. One certificate, stored account, one name"
  echo
  echo "| client | runs | wall ms | CPU ms | peak RSS MiB | requests |"
  echo "| --- | --- | --- | --- | --- | --- |"
  for c in "${clients[@]}"; do row "$work/row2-$c" "$c"; done
  echo
  echo "## 3. $certs certificates"
  echo
  echo "| client | runs | wall ms | CPU ms | peak RSS MiB | requests |"
  echo "| --- | --- | --- | --- | --- | --- |"
  row "$work/row3-certcli" "certcli, one \`renew --force --parallel $parallel\`"
  "$PY" -c 'import statistics, sys
runs = [list(map(int, l.split())) for l in open(sys.argv[1])]
n = int(sys.argv[2])
if runs and all(r[4] == 0 for r in runs):
    print(f"| certcli, per certificate | | {statistics.median(r[0] for r in runs) / n:,.1f} | {statistics.median(r[1] for r in runs) / n:,.1f} | | {statistics.median(r[3] for r in runs) / n:.1f} |")' \
    "$work/row3-certcli" "$certs"
  for c in "${clients[@]:1}"; do
    row "$work/row3-$c" "$c, loop of $certs (a sample of $peer_sample, extrapolated ×$("$PY" -c "print(round($certs / $peer_sample, 2))"))" \
      "$("$PY" -c "print($certs / $peer_sample)")"
    row "$work/row3-$c" "$c, per certificate" "$("$PY" -c "print(1 / $peer_sample)")"
  done
  echo
  echo "certcli: the domains are added first (\`domain add\`, local, not timed), with the account of row 2;"
  echo "peers: one invocation per certificate with their stored account of row 2, each run timed, the"
  echo "sum of the sample scaled to $certs. certcli's row is the median of $rounds runs; the peers' loop ran once."
  echo "certcli places its first poll where this CA usually finishes, learned from its own runs and kept"
  echo "with the account; after round 1 it had learned: $learned."
  echo
  echo "## 4. Nothing due, and status, over generated domains"
  echo
  echo "| command | domains | runs | wall ms | CPU ms | peak RSS MiB | requests |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  for n in $sizes; do
    for kind in renew json status; do
      label=$([[ $kind == renew ]] && echo "renew --quiet" || { [[ $kind == json ]] && echo "renew --json" || echo "status --json"; })
      row "$work/row4-$kind-$n" "$label" | sed "s/^| $label |/| $label | $(printf "%'d" "$n") |/"
    done
  done
  echo
  echo "State from \`bench/generate_state.sh DIR N\`: N ready, managed domains, 80 days left, naming this"
  echo "Pebble as their CA (so a request would be counted), no live certificate. Requests must be 0."
  echo "Peers: not run (each would need N issued certificates of its own)."
  echo
  echo "## 5. Start-up: \`--version\`"
  echo
  echo "| client | runs | wall ms | CPU ms | peak RSS MiB | requests | hyperfine mean ms |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  for c in "${clients[@]}"; do
    hf=$([[ -f "$work/row5-$c.json" ]] && "$PY" -c 'import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print("{:.1f} ± {:.1f} ({} runs)".format(r["mean"] * 1000, r["stddev"] * 1000, len(r["times"])))' "$work/row5-$c.json" ||
      { ((have_hyperfine)) && echo "hyperfine failed" || echo "not run: hyperfine not installed"; })
    row "$work/row5-$c" "$c" | sed "s/ |\$/ | $hf |/"
  done
} >"$out"
log "wrote $out"
((failures == 0)) || { log "$failures check(s) failed"; exit 1; }
