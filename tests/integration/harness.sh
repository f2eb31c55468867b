# shellcheck shell=bash
# tests/integration/harness.sh — local ACME test environment for certcli.
#
# Source this file from integration test scripts and from the demo:
#
#     source "$(dirname "$0")/harness.sh"
#     harness_start            # Pebble + pebble-challtestsrv on 127.0.0.1, random ports
#     "$CERTCLI_BIN" ... --directory "$CERTCLI_TEST_DIRECTORY" --ca-bundle "$CERTCLI_TEST_CA_BUNDLE"
#
# harness_start exports:
#   CERTCLI_TEST_DIRECTORY   https://127.0.0.1:P/dir   (Pebble's ACME directory)
#   CERTCLI_TEST_CA_BUNDLE   CA cert that signed Pebble's *HTTPS listener* cert (trust this
#                            to talk to the ACME server; it is NOT the issuing root)
#   CERTCLI_TEST_HTTP_PORT   port Pebble's VA connects to for http-01; certcli's standalone
#                            solver must listen on 127.0.0.1:$CERTCLI_TEST_HTTP_PORT
#   CERTCLI_TEST_TLS_PORT    port Pebble's VA connects to for tls-alpn-01
#   CERTCLI_TEST_DNS_SERVER  127.0.0.1:D — pebble-challtestsrv's mock DNS (Pebble's VA uses it
#                            unless HARNESS_PEBBLE_DNS is set)
#   CERTCLI_DNS_RESOLVER     $HARNESS_CERTCLI_DNS when set, else the DNS server Pebble's VA asks:
#                            $HARNESS_PEBBLE_DNS when set, else $CERTCLI_TEST_DNS_SERVER. certcli
#                            reads it as the resolver for its own lookups, so that it sees what the
#                            CA sees
#   CERTCLI_TEST_HTTP01_PORT = $CERTCLI_TEST_HTTP_PORT; certcli reads it as the port the CA
#                            validates http-01 on
#   PEBBLE_MANAGEMENT_URL    https://127.0.0.1:M (same CA bundle): /roots/0, /intermediates/0,
#                            /cert-status-by-serial/<hex>, ...
#   PEBBLE_ROOT_PEM          root that issued certificates chain to ($HARNESS_DIR/pebble-root.pem)
#   PEBBLE_INTERMEDIATE_PEM  $HARNESS_DIR/pebble-intermediate.pem
#   PEBBLE_CHALLTESTSRV_URL  http://127.0.0.1:X — challtestsrv management API (e.g. POST
#                            /set-txt {"host":"_acme-challenge.x.test.","value":"..."})
#   HARNESS_DIR              temp dir with configs, logs (pebble.log, challtestsrv.log), env.sh
#   HARNESS_PEBBLE_PID, HARNESS_CHALLTESTSRV_PID   PIDs of the two servers
#   NO_PROXY/no_proxy        extended with 127.0.0.1,localhost so proxies never intercept
#
# Every name resolves to 127.0.0.1 (A) and nothing else (no AAAA) in the mock DNS.
# Everything listens on 127.0.0.1 only.
#
# Environment knobs (read by harness_start):
#   CERTCLI_KEEP_TEST_DIR=1    keep $HARNESS_DIR after exit (for debugging)
#   PEBBLE_WFE_NONCEREJECT=N   % of valid nonces Pebble rejects (Pebble default 5 — keep it:
#                              it exercises certcli's badNonce retry). Passed through even if
#                              not exported. Other exported PEBBLE_* vars reach Pebble as-is.
#   PEBBLE_VA_SLEEPTIME=N      Pebble's VA sleeps 0 to N-1 s before each validation request
#                              (default: no sleep). Passed through even if not exported.
#   HARNESS_START_TIMEOUT=30   seconds to wait for the servers to come up
#   HARNESS_PEBBLE_EAB_KEYS='kid-1=KEY[,kid-2=KEY]'  Pebble requires External Account Binding
#                              with these key ids and base64url MAC keys (default: not required)
#   HARNESS_PEBBLE_DNS=IP:PORT Pebble's VA resolves through this server instead of challtestsrv's
#                              mock DNS (which still runs); knot_start (knot.sh) sets it to its
#                              recursive resolver (unbound, which asks Knot)
#   HARNESS_CERTCLI_DNS=IP:PORT certcli's resolver (CERTCLI_DNS_RESOLVER), when it must differ
#                              from Pebble's; knot_start sets it to Knot itself, since certcli asks
#                              the authoritative servers directly, at its resolver's port
#   CERTCLI_TEST_ENV=FILE      reuse an already running harness: source FILE (an env.sh written
#                              by a previous harness_start) instead of starting new servers;
#                              harness_stop then leaves those servers alone.
#
# Cleanup: harness_start installs an EXIT trap that runs harness_stop and then whatever EXIT
# trap was installed before it (chained). If you install your own EXIT trap *after*
# harness_start, call harness_stop from it yourself. INT/TERM/HUP are turned into a normal
# exit (so the EXIT trap runs) unless the caller already trapped them. A watchdog process
# additionally kills the servers if the calling shell dies without running its trap (SIGKILL,
# ctest timeout). Call harness_start in the main shell, not in $(...) or a pipeline: the
# servers are children of the shell that called it.
#
# Assertion helpers: fail, assert_eq, assert_contains, assert_not_contains, assert_file_mode,
# run_capture, run_expect_fail (see their comments below).
#
# Running this file directly (bash tests/integration/harness.sh) starts a harness in the
# foreground, prints the env file to source from other shells, and waits for Ctrl-C.
#
# This file does not change the caller's shell options; it works with and without
# `set -euo pipefail`.

# The system interpreter from Debian's python3 package: a version manager's shim on PATH can
# cost half a second per call, which the tests make many of.
HARNESS_PYTHON=${HARNESS_PYTHON:-/usr/bin/python3}
# certcli shows progress lines only on a terminal; tests read them from a file, so they ask for
# them (test_output.sh unsets it to test the default).
export CERTCLI_PROGRESS=${CERTCLI_PROGRESS:-always}

# ---------------------------------------------------------------------------------------
# Assertion helpers
# ---------------------------------------------------------------------------------------

# fail MSG... — report a test failure and end the script (the EXIT trap cleans up).
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# assert_eq EXPECTED ACTUAL [MSG]
assert_eq() {
  if [[ "$1" != "$2" ]]; then
    fail "${3:-assert_eq}: expected [$1], got [$2]"
  fi
}

# assert_contains HAYSTACK NEEDLE [MSG] — fixed-string substring match.
assert_contains() {
  if [[ "$1" != *"$2"* ]]; then
    fail "${3:-assert_contains}: [$2] not found in:"$'\n'"$1"
  fi
}

# assert_not_contains HAYSTACK NEEDLE [MSG]
assert_not_contains() {
  if [[ "$1" == *"$2"* ]]; then
    fail "${3:-assert_not_contains}: unexpected [$2] found in:"$'\n'"$1"
  fi
}

# assert_file_mode MODE PATH — octal permission bits as printed by `stat -c %a` (e.g. 600).
assert_file_mode() {
  local mode
  [[ -e "$2" ]] || fail "assert_file_mode: $2 does not exist"
  mode=$(stat -c %a -- "$2") || fail "assert_file_mode: cannot stat $2"
  [[ "$mode" == "$1" ]] || fail "assert_file_mode: $2 has mode $mode, expected $1"
}

# run_capture CMD... — run CMD without aborting under `set -e`; sets LAST_STATUS,
# LAST_STDOUT, LAST_STDERR (trailing newlines stripped, as with $(...)). Always returns 0.
run_capture() {
  local out err
  out=$(mktemp "${HARNESS_DIR:-${TMPDIR:-/tmp}}/run.out.XXXXXX") || fail "mktemp failed"
  err=$(mktemp "${HARNESS_DIR:-${TMPDIR:-/tmp}}/run.err.XXXXXX") || fail "mktemp failed"
  LAST_STATUS=0
  "$@" >"$out" 2>"$err" || LAST_STATUS=$?
  LAST_STDOUT=$(<"$out")
  LAST_STDERR=$(<"$err")
  rm -f -- "$out" "$err"
  return 0
}

# run_expect_fail CMD... — like run_capture, but fails the test if CMD exits 0.
run_expect_fail() {
  run_capture "$@"
  if ((LAST_STATUS == 0)); then
    fail "expected non-zero exit from: $*"$'\n'"stdout: $LAST_STDOUT"$'\n'"stderr: $LAST_STDERR"
  fi
}

# json_field JSON PATH — print one value of a JSON document; PATH is dot-separated keys and
# list indexes ("certificate.names.0"). Lists print one item per line, null prints "null".
json_field() {
  "$HARNESS_PYTHON" - "$1" "$2" <<'PY'
import json, sys
value = json.loads(sys.argv[1])
for key in filter(None, sys.argv[2].split(".")):
    value = value[int(key)] if isinstance(value, list) else value[key]
if isinstance(value, list):
    print("\n".join(str(v) for v in value))
elif value is None:
    print("null")
elif isinstance(value, bool):
    print("true" if value else "false")
else:
    print(value)
PY
}

# state_snapshot DIR — every path under DIR with its type, mode, size and content digest,
# so a test can prove that a refused command changed nothing.
state_snapshot() {
  [[ -e "$1" ]] || { echo "(absent)"; return 0; }
  (cd "$1" && find . -printf '%y %m %s %p\n' | sort && find . -type f -exec sha256sum {} + | sort -k2)
}

# use_certcli — for tests of the certcli binary, after harness_start: checks $CERTCLI_BIN, sets
# $home to a state directory under $HARNESS_DIR and defines certcli() aimed at this Pebble.
use_certcli() {
  : "${CERTCLI_BIN:?set CERTCLI_BIN to the certcli binary (ctest does)}"
  home="$HARNESS_DIR/home"
  certcli() { "$CERTCLI_BIN" --home "$home" --directory "$CERTCLI_TEST_DIRECTORY" --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" "$@"; }
}

# start_webroot_server DIR — a plain web server for DIR on 127.0.0.1:$CERTCLI_TEST_HTTP_PORT (the
# port Pebble validates http-01 on), as an operator's web server would be for --webroot.
# harness_stop stops it.
start_webroot_server() {
  mkdir -p "$1"
  # http.server's own listen backlog is 5: parallel validations (renew --parallel) would overflow
  # it, and a dropped SYN is sent again only after a second.
  "$HARNESS_PYTHON" - "$1" "$CERTCLI_TEST_HTTP_PORT" >"$HARNESS_DIR/webroot-server.log" 2>&1 <<'PY' &
import functools, http.server, sys
class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
Server(("127.0.0.1", int(sys.argv[2])), handler).serve_forever()
PY
  _HARNESS_WEB_PIDS="${_HARNESS_WEB_PIDS:-} $!"
  local _
  for _ in $(seq 50); do
    curl --noproxy '*' -s -o /dev/null "http://127.0.0.1:$CERTCLI_TEST_HTTP_PORT/" && return 0
    sleep 0.1
  done
  fail "the webroot server did not start (see $HARNESS_DIR/webroot-server.log)"
}

# ---------------------------------------------------------------------------------------
# Internals
# ---------------------------------------------------------------------------------------

_HARNESS_PORT_RESERVATIONS="${TMPDIR:-/tmp}/certcli-harness-ports.${UID}"
HARNESS_STARTED=${HARNESS_STARTED:-0}

_harness_log() { echo "harness: $*" >&2; }

# curl against our own loopback servers: never via a proxy, short timeouts.
_harness_curl() {
  curl --noproxy '*' --silent --show-error --connect-timeout 2 --max-time 5 "$@"
}

# _harness_pick_ports N — print N distinct free ports (one per line), each currently free
# for both TCP and UDP on 127.0.0.1, and reserve them for this shell ($$).
#
# Why not just bind port 0 and close? Two harnesses running concurrently could then be
# handed the same port in the window before Pebble binds it, and the http-01/tls-alpn-01
# ports are not bound by anyone until certcli runs. So:
#  * candidates come from *below* the kernel's ephemeral range, so the kernel never hands
#    them out as source ports of outgoing connections (e.g. curl, Pebble's VA);
#  * each chosen port is claimed with an O_EXCL file in a per-user reservation directory,
#    owned by this shell's PID; claims by dead PIDs are garbage-collected.
_harness_pick_ports() {
  "$HARNESS_PYTHON" - "$1" "$$" "$_HARNESS_PORT_RESERVATIONS" <<'PY'
import errno, os, random, socket, sys

count, owner, resdir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
os.makedirs(resdir, mode=0o700, exist_ok=True)

# Garbage-collect reservations whose owner is gone (killed harness).
for name in os.listdir(resdir):
    path = os.path.join(resdir, name)
    try:
        pid = int(open(path).read().strip() or "0")
        os.kill(pid, 0)
    except ProcessLookupError:
        try: os.unlink(path)
        except FileNotFoundError: pass
    except (ValueError, OSError):
        pass

try:
    eph_lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except OSError:
    eph_lo = 32768
lo, hi = 20000, eph_lo - 1
if hi - lo < 2000:           # unusual ephemeral range: fall back to a fixed block
    lo, hi = 10000, 19999

def free(port):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True

chosen = []
for port in random.sample(range(lo, hi + 1), hi - lo + 1):
    if len(chosen) == count:
        break
    path = os.path.join(resdir, str(port))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        continue            # reserved by another live harness
    os.write(fd, owner.encode())
    os.close(fd)
    if free(port):
        chosen.append(port)
    else:
        os.unlink(path)
if len(chosen) < count:
    for p in chosen:
        os.unlink(os.path.join(resdir, str(p)))
    sys.exit("could not find enough free ports")
print("\n".join(map(str, chosen)))
PY
}

_harness_release_ports() {
  local p
  for p in ${_HARNESS_PORTS:-}; do
    rm -f -- "$_HARNESS_PORT_RESERVATIONS/$p"
  done
  _HARNESS_PORTS=""
}

# Throwaway CA (EC P-256) + server cert for Pebble's HTTPS listeners (ACME + management).
_harness_make_certs() {
  local d="$HARNESS_DIR"
  {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout "$d/test-ca.key" -out "$d/test-ca.pem" -days 7 \
      -subj "/CN=certcli integration test CA $$" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" &&
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout "$d/pebble-https.key" -out "$d/pebble-https.csr" -subj "/CN=localhost" &&
    printf '%s\n' \
      "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=serverAuth" \
      "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$d/pebble-https.ext" &&
    openssl x509 -req -in "$d/pebble-https.csr" -CA "$d/test-ca.pem" -CAkey "$d/test-ca.key" \
      -set_serial "0x$(openssl rand -hex 8)" -days 7 -extfile "$d/pebble-https.ext" \
      -out "$d/pebble-https.pem"
  } >"$d/openssl.log" 2>&1 || {
    _harness_log "certificate generation failed:"; tail -n 20 "$d/openssl.log" >&2
    return 1
  }
}

_harness_dump_logs() {
  local f
  for f in "$HARNESS_DIR/challtestsrv.log" "$HARNESS_DIR/pebble.log"; do
    [[ -f "$f" ]] || continue
    echo "----- tail of $f -----" >&2
    tail -n 25 "$f" >&2
  done
  echo "-----" >&2
}

_harness_pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

# _harness_kill PID — TERM, wait up to ~5 s, then KILL; reap it if it is our child.
_harness_kill() {
  local pid=$1 i
  _harness_pid_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    _harness_pid_alive "$pid" || break
    sleep 0.1
  done
  if _harness_pid_alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}

# Start Pebble in the background (HARNESS_PEBBLE_PID), appending to pebble.log.
# PEBBLE_VA_NOSLEEP: no random 0-15 s sleep before validations, unless the caller set
# PEBBLE_VA_SLEEPTIME=N (each validation request then starts 0 to N-1 s late, as a real CA's
# may). The nonce-reject rate is left at Pebble's default (5%) unless the caller set
# PEBBLE_WFE_NONCEREJECT.
_harness_run_pebble() {
  local -a penv=(PEBBLE_VA_NOSLEEP=1)
  if [[ -n "${PEBBLE_VA_SLEEPTIME:-}" ]]; then
    penv=(PEBBLE_VA_NOSLEEP=0 "PEBBLE_VA_SLEEPTIME=$PEBBLE_VA_SLEEPTIME")
  fi
  if [[ -n "${PEBBLE_WFE_NONCEREJECT+set}" ]]; then
    penv+=("PEBBLE_WFE_NONCEREJECT=$PEBBLE_WFE_NONCEREJECT")
  fi
  # Run from HARNESS_DIR: Pebble resolves nothing relative, but keeps stray files out of cwd.
  (cd "$HARNESS_DIR" && exec env "${penv[@]}" pebble \
    -config "$HARNESS_DIR/pebble-config.json" -dnsserver "$_HARNESS_PEBBLE_DNS" \
    </dev/null >>"$HARNESS_DIR/pebble.log" 2>&1) &
  HARNESS_PEBBLE_PID=$!
}

# The CA goes away: Pebble is killed (SIGKILL, like a crash or a host going down) and its
# ports are closed until harness_start_pebble_again.
harness_kill_pebble() {
  kill -KILL "$HARNESS_PEBBLE_PID" 2>/dev/null || true
  wait "$HARNESS_PEBBLE_PID" 2>/dev/null || true
}

# Pebble again on the same ports, with the same configuration, and none of its state: it
# forgets every account, order and authorization, and makes a new issuing hierarchy (fetched
# again into PEBBLE_ROOT_PEM / PEBBLE_INTERMEDIATE_PEM). A watchdog of its own kills it if the
# calling shell dies without its EXIT trap.
harness_start_pebble_again() {
  _harness_run_pebble
  export HARNESS_PEBBLE_PID
  local owner=$$ pebble_pid=$HARNESS_PEBBLE_PID deadline=$((SECONDS + ${HARNESS_START_TIMEOUT:-30}))
  (
    trap - EXIT INT TERM HUP
    while kill -0 "$owner" 2>/dev/null; do sleep 1; done
    kill -TERM "$pebble_pid" 2>/dev/null
  ) </dev/null >/dev/null 2>&1 &
  until _harness_curl -f -o /dev/null --cacert "$CERTCLI_TEST_CA_BUNDLE" "$CERTCLI_TEST_DIRECTORY" 2>/dev/null; do
    if ! _harness_pid_alive "$HARNESS_PEBBLE_PID" || ((SECONDS >= deadline)); then
      _harness_log "pebble did not come back on $CERTCLI_TEST_DIRECTORY"
      _harness_dump_logs
      return 1
    fi
    sleep 0.1
  done
  _harness_curl -f --cacert "$CERTCLI_TEST_CA_BUNDLE" -o "$PEBBLE_ROOT_PEM" "$PEBBLE_MANAGEMENT_URL/roots/0" &&
    _harness_curl -f --cacert "$CERTCLI_TEST_CA_BUNDLE" -o "$PEBBLE_INTERMEDIATE_PEM" \
      "$PEBBLE_MANAGEMENT_URL/intermediates/0"
}

# Stop the servers of one start attempt (used on failure and by harness_stop).
_harness_kill_servers() {
  _harness_kill "${_HARNESS_WATCHDOG_PID:-}"
  _harness_kill "${HARNESS_PEBBLE_PID:-}"
  _harness_kill "${HARNESS_CHALLTESTSRV_PID:-}"
  _HARNESS_WATCHDOG_PID="" HARNESS_PEBBLE_PID="" HARNESS_CHALLTESTSRV_PID=""
  _harness_release_ports
}

# One attempt at bringing the servers up on fresh ports. Returns 2 if a port was taken
# in the meantime (worth retrying), 1 on any other failure.
_harness_try_start() {
  local ports http_port tls_port dns_port ctl_port acme_port mgmt_port
  ports=$(_harness_pick_ports 6) || { _harness_log "port selection failed"; return 1; }
  _HARNESS_PORTS=$(tr '\n' ' ' <<<"$ports")
  read -r acme_port mgmt_port http_port tls_port dns_port ctl_port <<<"$_HARNESS_PORTS"

  # Pebble config. ocspResponderURL "" = no AIA OCSP URL in issued certs.
  local eab_json='"externalAccountBindingRequired": false' eab_pair eab_keys=""
  if [[ -n "${HARNESS_PEBBLE_EAB_KEYS:-}" ]]; then
    for eab_pair in ${HARNESS_PEBBLE_EAB_KEYS//,/ }; do
      eab_keys+="${eab_keys:+, }\"${eab_pair%%=*}\": \"${eab_pair#*=}\""
    done
    eab_json="\"externalAccountBindingRequired\": true, \"externalAccountMACKeys\": {$eab_keys}"
  fi
  cat >"$HARNESS_DIR/pebble-config.json" <<EOF
{
  "pebble": {
    "listenAddress": "127.0.0.1:$acme_port",
    "managementListenAddress": "127.0.0.1:$mgmt_port",
    "certificate": "$HARNESS_DIR/pebble-https.pem",
    "privateKey": "$HARNESS_DIR/pebble-https.key",
    "httpPort": $http_port,
    "tlsPort": $tls_port,
    "ocspResponderURL": "",
    $eab_json
  }
}
EOF

  # Mock DNS for Pebble's VA. Only the DNS server and the management API are enabled
  # (the challenge servers of challtestsrv would compete with certcli's own solver), and
  # every name answers A 127.0.0.1 / no AAAA, so the VA always dials 127.0.0.1.
  pebble-challtestsrv \
    -dns01 "127.0.0.1:$dns_port" \
    -http01 "" -https01 "" -tlsalpn01 "" \
    -management "127.0.0.1:$ctl_port" \
    -defaultIPv4 127.0.0.1 -defaultIPv6 "" \
    </dev/null >"$HARNESS_DIR/challtestsrv.log" 2>&1 &
  HARNESS_CHALLTESTSRV_PID=$!

  _HARNESS_PEBBLE_DNS="${HARNESS_PEBBLE_DNS:-127.0.0.1:$dns_port}"
  : >"$HARNESS_DIR/pebble.log"
  _harness_run_pebble

  # Watchdog: if the shell that owns the harness disappears without running its EXIT trap
  # (SIGKILL, ctest timeout), kill the servers anyway. Detached from stdout/stderr so it
  # never holds a test runner's output pipe open.
  local owner=$$ pebble_pid=$HARNESS_PEBBLE_PID ctl_pid=$HARNESS_CHALLTESTSRV_PID
  (
    trap - EXIT INT TERM HUP
    while kill -0 "$owner" 2>/dev/null; do sleep 1; done
    kill -TERM "$pebble_pid" "$ctl_pid" 2>/dev/null
    if [[ "${CERTCLI_KEEP_TEST_DIR:-0}" != 1 ]]; then sleep 1; rm -rf -- "$HARNESS_DIR"; fi
  ) </dev/null >/dev/null 2>&1 &
  _HARNESS_WATCHDOG_PID=$!

  export HARNESS_PEBBLE_PID HARNESS_CHALLTESTSRV_PID
  export CERTCLI_TEST_DIRECTORY="https://127.0.0.1:$acme_port/dir"
  export CERTCLI_TEST_CA_BUNDLE="$HARNESS_DIR/test-ca.pem"
  export CERTCLI_TEST_HTTP_PORT="$http_port"
  export CERTCLI_TEST_TLS_PORT="$tls_port"
  export CERTCLI_TEST_DNS_SERVER="127.0.0.1:$dns_port"
  export CERTCLI_DNS_RESOLVER="${HARNESS_CERTCLI_DNS:-${HARNESS_PEBBLE_DNS:-$CERTCLI_TEST_DNS_SERVER}}"
  export CERTCLI_TEST_HTTP01_PORT="$CERTCLI_TEST_HTTP_PORT"
  export PEBBLE_MANAGEMENT_URL="https://127.0.0.1:$mgmt_port"
  export PEBBLE_CHALLTESTSRV_URL="http://127.0.0.1:$ctl_port"
  export PEBBLE_ROOT_PEM="$HARNESS_DIR/pebble-root.pem"
  export PEBBLE_INTERMEDIATE_PEM="$HARNESS_DIR/pebble-intermediate.pem"

  # Wait (bounded) until both servers answer. Fail fast if either process died.
  local deadline=$((SECONDS + ${HARNESS_START_TIMEOUT:-30})) up_ctl=0 up_acme=0
  while :; do
    if ! _harness_pid_alive "$HARNESS_CHALLTESTSRV_PID" || ! _harness_pid_alive "$HARNESS_PEBBLE_PID"; then
      sleep 0.2 # let the log flush
      if grep -qi "address already in use" "$HARNESS_DIR"/*.log 2>/dev/null; then
        _harness_log "a port was taken by someone else; retrying on other ports"
        return 2
      fi
      _harness_log "pebble or pebble-challtestsrv exited during startup"
      _harness_dump_logs
      return 1
    fi
    # (if-statements rather than `a && b`: the caller may run with `set -e`)
    if ((!up_ctl)) && _harness_curl -o /dev/null "$PEBBLE_CHALLTESTSRV_URL/" 2>/dev/null; then
      up_ctl=1
    fi
    if ((!up_acme)) && _harness_curl -f -o /dev/null --cacert "$CERTCLI_TEST_CA_BUNDLE" \
         "$CERTCLI_TEST_DIRECTORY" 2>/dev/null; then
      up_acme=1
    fi
    if ((up_ctl && up_acme)); then break; fi
    if ((SECONDS >= deadline)); then
      _harness_log "timed out after ${HARNESS_START_TIMEOUT:-30}s waiting for" \
        "$( ((up_acme)) || echo "pebble ($CERTCLI_TEST_DIRECTORY)")" \
        "$( ((up_ctl)) || echo "challtestsrv ($PEBBLE_CHALLTESTSRV_URL)")"
      _harness_dump_logs
      return 1
    fi
    sleep 0.1
  done

  # Pebble generates a fresh issuing hierarchy on every start; fetch it for chain checks.
  if ! _harness_curl -f --cacert "$CERTCLI_TEST_CA_BUNDLE" -o "$PEBBLE_ROOT_PEM" \
         "$PEBBLE_MANAGEMENT_URL/roots/0" ||
     ! _harness_curl -f --cacert "$CERTCLI_TEST_CA_BUNDLE" -o "$PEBBLE_INTERMEDIATE_PEM" \
         "$PEBBLE_MANAGEMENT_URL/intermediates/0"; then
    _harness_log "could not fetch Pebble's root/intermediate from $PEBBLE_MANAGEMENT_URL"
    _harness_dump_logs
    return 1
  fi
  return 0
}

# Write $HARNESS_DIR/env.sh so other shells (demo, CERTCLI_TEST_ENV) can reuse this harness.
_harness_write_env() {
  local v
  {
    echo "# certcli test harness environment; source it or pass it as CERTCLI_TEST_ENV"
    for v in CERTCLI_TEST_DIRECTORY CERTCLI_TEST_CA_BUNDLE CERTCLI_TEST_HTTP_PORT \
             CERTCLI_TEST_TLS_PORT CERTCLI_TEST_DNS_SERVER CERTCLI_DNS_RESOLVER \
             CERTCLI_TEST_HTTP01_PORT PEBBLE_MANAGEMENT_URL \
             PEBBLE_CHALLTESTSRV_URL PEBBLE_ROOT_PEM PEBBLE_INTERMEDIATE_PEM HARNESS_DIR \
             HARNESS_PEBBLE_PID HARNESS_CHALLTESTSRV_PID; do
      printf 'export %s=%q\n' "$v" "${!v}"
    done
  } >"$HARNESS_DIR/env.sh"
}

_harness_add_no_proxy() {
  local np="${NO_PROXY:-${no_proxy:-}}"
  case ",$np," in *,127.0.0.1,*) ;; *) np="${np:+$np,}127.0.0.1,localhost" ;; esac
  export NO_PROXY="$np" no_proxy="$np"
}

# Install harness_stop in front of any existing EXIT trap (which keeps running afterwards).
# shellcheck disable=SC2120  # "set --" below parses the trap text, not our arguments
_harness_install_traps() {
  local prev sig
  prev=$(trap -p EXIT)
  if [[ -n "$prev" ]]; then
    # `trap -p` prints: trap -- 'CMD' EXIT — let the shell parse the quoting for us.
    eval "set -- $prev"
    _HARNESS_PREV_EXIT_TRAP=$3
  else
    _HARNESS_PREV_EXIT_TRAP=""
  fi
  trap '_harness_exit_trap' EXIT
  # Bash does not run the EXIT trap when killed by an untrapped signal; turn the usual
  # ones into an ordinary exit, but never override a handler the caller installed.
  for sig in INT TERM HUP; do
    if [[ -z "$(trap -p "$sig")" ]]; then
      # shellcheck disable=SC2064  # expand the signal number now, on purpose
      trap "exit \$((128 + $(kill -l "$sig")))" "$sig"
    fi
  done
}

_harness_exit_trap() {
  local rc=$?
  harness_stop
  if [[ -n "${_HARNESS_PREV_EXIT_TRAP:-}" ]]; then
    # Give the previous trap the original $?; `set +e` so that doing so cannot abort us.
    local had_e=0
    [[ $- == *e* ]] && had_e=1
    set +e
    (exit "$rc")
    eval "$_HARNESS_PREV_EXIT_TRAP"
    ((had_e)) && set -e
  fi
  return "$rc"
}

# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------

# harness_start — see the header. Returns non-zero (with a message and log tails) on failure.
harness_start() {
  if [[ "$HARNESS_STARTED" == 1 ]]; then
    _harness_log "harness already started in this shell ($HARNESS_DIR)"
    return 1
  fi
  local tool
  for tool in pebble pebble-challtestsrv openssl curl python3; do
    command -v "$tool" >/dev/null 2>&1 || {
      _harness_log "required tool '$tool' not found (run scripts/install-deps.sh)"
      return 1
    }
  done

  # Reuse a harness started elsewhere (see header).
  if [[ -n "${CERTCLI_TEST_ENV:-}" ]]; then
    [[ -r "$CERTCLI_TEST_ENV" ]] || { _harness_log "CERTCLI_TEST_ENV=$CERTCLI_TEST_ENV not readable"; return 1; }
    # shellcheck disable=SC1090
    source "$CERTCLI_TEST_ENV"
    _harness_add_no_proxy
    if ! _harness_curl -f -o /dev/null --cacert "$CERTCLI_TEST_CA_BUNDLE" "$CERTCLI_TEST_DIRECTORY"; then
      _harness_log "harness from CERTCLI_TEST_ENV ($CERTCLI_TEST_DIRECTORY) is not answering"
      return 1
    fi
    HARNESS_STARTED=1 _HARNESS_REUSED=1
    return 0
  fi

  HARNESS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/certcli-harness.XXXXXX") || {
    _harness_log "mktemp failed"; return 1; }
  export HARNESS_DIR
  HARNESS_STARTED=1 _HARNESS_REUSED=0
  _harness_install_traps
  _harness_add_no_proxy

  _harness_make_certs || return 1

  local attempt rc
  for attempt in 1 2 3; do
    rc=0
    _harness_try_start || rc=$?
    ((rc == 0)) && break
    _harness_kill_servers
    ((rc == 2 && attempt < 3)) || { _harness_log "failed to start (set CERTCLI_KEEP_TEST_DIR=1 to keep the logs in $HARNESS_DIR)"; return 1; }
  done
  _harness_write_env
  return 0
}

# harness_stop — kill the servers, release ports, remove $HARNESS_DIR (unless
# CERTCLI_KEEP_TEST_DIR=1). Safe to call more than once. Preserves $?.
harness_stop() {
  local rc=$?
  [[ "$HARNESS_STARTED" == 1 ]] || return "$rc"
  HARNESS_STARTED=0
  if [[ "${_HARNESS_REUSED:-0}" == 1 ]]; then
    return "$rc"
  fi
  local pid
  for pid in ${_HARNESS_WEB_PIDS:-}; do kill "$pid" 2>/dev/null || true; done
  _HARNESS_WEB_PIDS=""
  _harness_kill_servers
  if [[ -n "${HARNESS_DIR:-}" && -d "$HARNESS_DIR" ]]; then
    if [[ "${CERTCLI_KEEP_TEST_DIR:-0}" == 1 ]]; then
      _harness_log "keeping $HARNESS_DIR"
    else
      rm -rf -- "$HARNESS_DIR"
    fi
  fi
  return "$rc"
}

# Executed directly: run a harness in the foreground for manual use / demos.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  harness_start
  echo "Pebble directory: $CERTCLI_TEST_DIRECTORY"
  echo "In another shell:  source $HARNESS_DIR/env.sh   (or CERTCLI_TEST_ENV=$HARNESS_DIR/env.sh)"
  echo "Ctrl-C to stop."
  while :; do sleep 1; done
fi
