# shellcheck shell=bash
# tests/integration/knot.sh — a real authoritative DNS server (Knot DNS) on loopback for dns-01
# tests. Source it after harness.sh (it uses fail and the harness's port reservations):
#
#     source "$(dirname "$0")/harness.sh"
#     source "$(dirname "$0")/knot.sh"
#     knot_zone example.test <<'EOF'     # optional extra zones, before knot_start
#     www A 127.0.0.1
#     EOF
#     knot_start                         # before harness_start: Pebble's VA then asks Knot
#     harness_start
#
# Zones: dns.test and delegated.test are always served (SOA; NS ns1.<zone>; ns1.<zone> and the
# apex A 127.0.0.1; dns.test also has `* A 127.0.0.1`, so any host name under it resolves).
# knot_zone NAME reads a zone body from stdin (relative names are relative to NAME); unless the
# body has its own SOA, the same SOA/NS/ns1 records are put in front of it. A body given for
# dns.test or delegated.test replaces the default one.
#
# knot_start runs knotd as the current user on 127.0.0.1:$KNOT_PORT (UDP and TCP), with every
# zone updatable (RFC 2136) by one TSIG key, and exports:
#   KNOT_PORT, KNOT_SERVER=127.0.0.1:$KNOT_PORT
#   KNOT_TSIG_NAME=certcli-test, KNOT_TSIG_ALGORITHM=hmac-sha256, KNOT_TSIG_SECRET (random, base64)
#   KNOT_DIR      config, zone files, journal, knot.log (the log is the place to look when a test fails)
#   KNOT_PID
#   HARNESS_CERTCLI_DNS=$KNOT_SERVER  certcli's own lookups (CERTCLI_DNS_RESOLVER, set by a
#                                     following harness_start) go to Knot directly: certcli asks the
#                                     authoritative servers itself for propagation, using its
#                                     resolver's port for their NS addresses, which only works when
#                                     that resolver is Knot
#
# Recursive resolver: after Knot, knot_start also runs unbound (Debian package `unbound`) as the
# current user on 127.0.0.1:$UNBOUND_PORT, with a stub-zone for every served zone pointing at
# Knot, no DNSSEC validation, no caching (a changed record is seen at once), everything outside
# the served zones refused (no query leaves the machine), config and unbound.log in
# $KNOT_DIR/unbound. Pebble's VA resolves through it, as real CAs ask a recursive resolver: it
# follows a CNAME from one served zone into another (dns-01 CNAME delegation), which Knot, being
# authoritative only, does not. Exports:
#   UNBOUND_PORT, UNBOUND_SERVER=127.0.0.1:$UNBOUND_PORT, UNBOUND_PID
#   HARNESS_PEBBLE_DNS=$UNBOUND_SERVER  so that a following harness_start points Pebble's VA at it
# unbound_dig ARGS... is kdig aimed at unbound. (A system unbound service, if installed, is not
# used: this instance has its own config, port and directory.)
#
# Helpers (after knot_start): knot_set NAME TYPE RDATA... (replace the RRset with one record),
# knot_add NAME TYPE RDATA... (add one record), knot_delete NAME [TYPE], knot_txt NAME (the TXT
# values at NAME, one per line), knot_dig ARGS... (kdig aimed at Knot). RDATA words are joined
# with spaces, as in a zone file: knot_set x.dns.test CAA 0 issue '"pebble.letsencrypt.org"'.
#
# Cleanup (knotd and unbound): knot_start chains knot_stop into the EXIT trap (running any earlier EXIT trap after
# it; harness_start, called later, chains in front of it in turn). A watchdog stops knotd and
# unbound and removes $KNOT_DIR if the shell dies without running its trap (SIGKILL, ctest timeout).
# CERTCLI_KEEP_TEST_DIR=1 keeps $KNOT_DIR. Call knot_start in the main shell, not in $(...).

KNOT_TSIG_NAME=${KNOT_TSIG_NAME:-certcli-test}
KNOT_TSIG_ALGORITHM=${KNOT_TSIG_ALGORITHM:-hmac-sha256}
KNOT_TTL=${KNOT_TTL:-60}
_KNOT_STARTED=0
_KNOT_ZONES=()

_knot_log() { echo "knot: $*" >&2; }

# Knot's daemons live in /usr/sbin, which is not on every user's PATH.
_knot_tool() {
  local name=$1 dir
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  for dir in /usr/sbin /sbin /usr/local/sbin; do
    [[ -x "$dir/$name" ]] && { echo "$dir/$name"; return 0; }
  done
  return 1
}

_knot_ensure_dir() {
  if [[ -z "${KNOT_DIR:-}" || ! -d "$KNOT_DIR" ]]; then
    KNOT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/certcli-knot.XXXXXX") || fail "knot: mktemp failed"
    export KNOT_DIR
    mkdir -p "$KNOT_DIR/zones" "$KNOT_DIR/bodies" "$KNOT_DIR/run" "$KNOT_DIR/db"
  fi
}

# knot_zone NAME — add zone NAME with the body read from stdin (see the header).
knot_zone() {
  local zone=${1%.}
  [[ -n "$zone" ]] || fail "knot_zone: zone name missing"
  [[ "$_KNOT_STARTED" == 1 ]] && fail "knot_zone $zone: call it before knot_start"
  _knot_ensure_dir
  cat >"$KNOT_DIR/bodies/$zone"
  local z
  for z in "${_KNOT_ZONES[@]}"; do [[ "$z" == "$zone" ]] && return 0; done
  _KNOT_ZONES+=("$zone")
}

_knot_write_zone() {
  local zone=$1 body="$KNOT_DIR/bodies/$1"
  {
    echo "\$ORIGIN $zone."
    echo "\$TTL $KNOT_TTL"
    if ! grep -qE '(^|[[:space:]])SOA([[:space:]]|$)' "$body" 2>/dev/null; then
      echo "@ SOA ns1 hostmaster 1 3600 600 86400 $KNOT_TTL"
      echo "@ NS ns1"
      echo "ns1 A 127.0.0.1"
    fi
    [[ -f "$body" ]] && cat "$body"
  } >"$KNOT_DIR/zones/$zone.zone"
}

_knot_write_config() {
  local port=$1 zone
  {
    cat <<EOF
server:
    listen: 127.0.0.1@$port
    rundir: $KNOT_DIR/run
log:
  - target: $KNOT_DIR/knot.log
    any: info
database:
    storage: $KNOT_DIR/db
control:
    listen: $KNOT_DIR/run/knot.sock
key:
  - id: $KNOT_TSIG_NAME
    algorithm: $KNOT_TSIG_ALGORITHM
    secret: $KNOT_TSIG_SECRET
acl:
  - id: certcli-update
    key: $KNOT_TSIG_NAME
    action: update
template:
  - id: default
    storage: $KNOT_DIR/zones
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: changes
    semantic-checks: off
    acl: certcli-update
zone:
EOF
    for zone in "${_KNOT_ZONES[@]}"; do echo "  - domain: $zone"; done
  } >"$KNOT_DIR/knot.conf"
}

# knot_dig ARGS... — kdig asking Knot directly (short timeouts, no retries).
knot_dig() {
  "$_KNOT_KDIG" @127.0.0.1 -p "$KNOT_PORT" +timeout=2 +retry=0 "$@"
}

_knot_pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

_knot_kill() {
  local pid=$1 i
  _knot_pid_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    _knot_pid_alive "$pid" || break
    sleep 0.1
  done
  _knot_pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

# One attempt on a fresh port. Returns 2 if the port was taken in the meantime.
_knot_try_start() {
  local port
  port=$(_harness_pick_ports 1) || { _knot_log "port selection failed"; return 1; }
  _KNOT_PORT_RESERVED=$port
  _knot_write_config "$port"
  if ! "$_KNOT_KNOTC" -c "$KNOT_DIR/knot.conf" conf-check >"$KNOT_DIR/conf-check.log" 2>&1; then
    _knot_log "invalid configuration:"; cat "$KNOT_DIR/conf-check.log" >&2
    return 1
  fi
  "$_KNOT_KNOTD" -c "$KNOT_DIR/knot.conf" </dev/null >>"$KNOT_DIR/knotd.out" 2>&1 &
  KNOT_PID=$!
  export KNOT_PORT=$port KNOT_SERVER="127.0.0.1:$port" KNOT_PID
  local deadline=$((SECONDS + ${HARNESS_START_TIMEOUT:-30}))
  while :; do
    if ! _knot_pid_alive "$KNOT_PID"; then
      wait "$KNOT_PID" 2>/dev/null || true
      if grep -qi "address already in use" "$KNOT_DIR/knot.log" "$KNOT_DIR/knotd.out" 2>/dev/null; then
        return 2
      fi
      _knot_log "knotd exited during startup:"; tail -n 20 "$KNOT_DIR/knot.log" "$KNOT_DIR/knotd.out" >&2
      return 1
    fi
    # Both transports: updates and large answers go over TCP.
    if [[ "$(knot_dig +short SOA dns.test 2>/dev/null)" == ns1.dns.test.* &&
          "$(knot_dig +tcp +short SOA dns.test 2>/dev/null)" == ns1.dns.test.* ]]; then
      return 0
    fi
    if ((SECONDS >= deadline)); then
      _knot_log "knotd did not answer on $KNOT_SERVER within ${HARNESS_START_TIMEOUT:-30}s:"
      tail -n 20 "$KNOT_DIR/knot.log" >&2
      return 1
    fi
    sleep 0.1
  done
}

_knot_release_port() {
  if [[ -n "${_KNOT_PORT_RESERVED:-}" && -n "${_HARNESS_PORT_RESERVATIONS:-}" ]]; then
    rm -f -- "$_HARNESS_PORT_RESERVATIONS/$_KNOT_PORT_RESERVED"
  fi
  _KNOT_PORT_RESERVED=""
}

# shellcheck disable=SC2120  # "set --" below parses the trap text, not our arguments
_knot_install_traps() {
  local prev sig
  prev=$(trap -p EXIT)
  _KNOT_PREV_EXIT_TRAP=""
  if [[ -n "$prev" ]]; then
    eval "set -- $prev"
    _KNOT_PREV_EXIT_TRAP=$3
  fi
  trap '_knot_exit_trap' EXIT
  for sig in INT TERM HUP; do
    if [[ -z "$(trap -p "$sig")" ]]; then
      # shellcheck disable=SC2064  # expand the signal number now, on purpose
      trap "exit \$((128 + $(kill -l "$sig")))" "$sig"
    fi
  done
}

_knot_exit_trap() {
  local rc=$?
  knot_stop
  if [[ -n "${_KNOT_PREV_EXIT_TRAP:-}" ]]; then
    local had_e=0
    [[ $- == *e* ]] && had_e=1
    set +e
    (exit "$rc")
    eval "$_KNOT_PREV_EXIT_TRAP"
    ((had_e)) && set -e
  fi
  return "$rc"
}

# --- unbound: the recursive resolver Pebble's VA asks (see the header) -----------------------

# unbound_dig ARGS... — kdig asking unbound (short timeouts, no retries).
unbound_dig() {
  "$_KNOT_KDIG" @127.0.0.1 -p "$UNBOUND_PORT" +timeout=2 +retry=0 "$@"
}

_unbound_write_config() {
  local port=$1 dir=$KNOT_DIR/unbound zone
  {
    cat <<EOF
server:
    interface: 127.0.0.1
    port: $port
    do-ip4: yes
    do-ip6: no
    do-udp: yes
    do-tcp: yes
    # A port clash must fail the start (and be retried), not be shared silently.
    so-reuseport: no
    num-threads: 1
    username: ""
    chroot: ""
    directory: "$dir"
    pidfile: "$dir/unbound.pid"
    logfile: "$dir/unbound.log"
    use-syslog: no
    log-time-ascii: yes
    verbosity: 1
    log-queries: yes
    log-replies: yes
    log-servfail: yes
    access-control: 127.0.0.0/8 allow
    # Knot listens on 127.0.0.1.
    do-not-query-localhost: no
    # No DNSSEC validation; no trust anchor.
    module-config: "iterator"
    # No caching to speak of: a record changed in Knot is seen at once.
    cache-max-ttl: 0
    cache-max-negative-ttl: 0
    serve-expired: no
    prefetch: no
    # Ask Knot the full name, not label by label.
    qname-minimisation: no
    # Nothing outside the served zones: no query leaves the machine.
    local-zone: "." refuse
EOF
    # The served zones: "test." is one of unbound's built-in local zones (RFC 6761), and "."
    # is refused above; transparent lets queries for the served zones through to Knot.
    for zone in "${_KNOT_ZONES[@]}"; do echo "    local-zone: \"$zone.\" transparent"; done
    echo "remote-control:"
    echo "    control-enable: no"
    for zone in "${_KNOT_ZONES[@]}"; do
      echo "stub-zone:"
      echo "    name: \"$zone.\""
      echo "    stub-addr: 127.0.0.1@$KNOT_PORT"
      echo "    stub-no-cache: yes"
    done
  } >"$dir/unbound.conf"
}

# One attempt on a fresh port. Returns 2 if the port was taken in the meantime.
_unbound_try_start() {
  local port dir=$KNOT_DIR/unbound
  port=$(_harness_pick_ports 1) || { _knot_log "port selection failed"; return 1; }
  _UNBOUND_PORT_RESERVED=$port
  _unbound_write_config "$port"
  if ! "$_KNOT_UNBOUND_CHECKCONF" "$dir/unbound.conf" >"$dir/checkconf.log" 2>&1; then
    _knot_log "invalid unbound configuration:"; cat "$dir/checkconf.log" >&2
    return 1
  fi
  "$_KNOT_UNBOUND" -d -c "$dir/unbound.conf" </dev/null >>"$dir/unbound.out" 2>&1 &
  UNBOUND_PID=$!
  export UNBOUND_PORT=$port UNBOUND_SERVER="127.0.0.1:$port" UNBOUND_PID
  local deadline=$((SECONDS + ${HARNESS_START_TIMEOUT:-30}))
  while :; do
    if ! _knot_pid_alive "$UNBOUND_PID"; then
      wait "$UNBOUND_PID" 2>/dev/null || true
      if grep -qi "address already in use" "$dir/unbound.log" "$dir/unbound.out" 2>/dev/null; then
        return 2
      fi
      _knot_log "unbound exited during startup:"; tail -n 20 "$dir/unbound.log" "$dir/unbound.out" >&2
      return 1
    fi
    if [[ "$(unbound_dig +short SOA dns.test 2>/dev/null)" == ns1.dns.test.* &&
          "$(unbound_dig +tcp +short SOA dns.test 2>/dev/null)" == ns1.dns.test.* ]]; then
      return 0
    fi
    if ((SECONDS >= deadline)); then
      _knot_log "unbound did not answer on $UNBOUND_SERVER within ${HARNESS_START_TIMEOUT:-30}s:"
      tail -n 20 "$dir/unbound.log" "$dir/unbound.out" >&2
      return 1
    fi
    sleep 0.1
  done
}

_unbound_release_port() {
  if [[ -n "${_UNBOUND_PORT_RESERVED:-}" && -n "${_HARNESS_PORT_RESERVATIONS:-}" ]]; then
    rm -f -- "$_HARNESS_PORT_RESERVATIONS/$_UNBOUND_PORT_RESERVED"
  fi
  _UNBOUND_PORT_RESERVED=""
}

_unbound_start() {
  if ! { _KNOT_UNBOUND=$(_knot_tool unbound) && _KNOT_UNBOUND_CHECKCONF=$(_knot_tool unbound-checkconf); }; then
    _knot_log "unbound or unbound-checkconf not found (run scripts/install-deps.sh)"
    return 1
  fi
  mkdir -p "$KNOT_DIR/unbound"
  local attempt rc
  for attempt in 1 2 3; do
    rc=0
    _unbound_try_start || rc=$?
    ((rc == 0)) && return 0
    _knot_kill "${UNBOUND_PID:-}"
    UNBOUND_PID=""
    _unbound_release_port
    ((rc == 2 && attempt < 3)) || { _knot_log "unbound failed to start (CERTCLI_KEEP_TEST_DIR=1 keeps $KNOT_DIR)"; return 1; }
    _knot_log "port taken; retrying unbound on another"
  done
  return 1
}

# knot_start — see the header.
knot_start() {
  [[ "$_KNOT_STARTED" == 1 ]] && { _knot_log "already started ($KNOT_SERVER)"; return 1; }
  declare -F _harness_pick_ports >/dev/null || { echo "knot.sh: source harness.sh first" >&2; return 1; }
  if ! { _KNOT_KNOTD=$(_knot_tool knotd) && _KNOT_KNOTC=$(_knot_tool knotc) && _KNOT_KDIG=$(_knot_tool kdig) &&
         _KNOT_KNSUPDATE=$(_knot_tool knsupdate); }; then
    _knot_log "knotd, knotc, kdig or knsupdate not found (run scripts/install-deps.sh)"
    return 1
  fi
  _knot_ensure_dir
  _KNOT_STARTED=1
  _knot_install_traps

  local zone
  for zone in dns.test delegated.test; do
    if [[ ! -f "$KNOT_DIR/bodies/$zone" ]]; then
      {
        echo "@ A 127.0.0.1"
        [[ "$zone" == dns.test ]] && echo "* A 127.0.0.1"
      } >"$KNOT_DIR/bodies/$zone"
      _KNOT_ZONES=("$zone" "${_KNOT_ZONES[@]}")
    fi
  done
  for zone in "${_KNOT_ZONES[@]}"; do _knot_write_zone "$zone"; done

  KNOT_TSIG_SECRET=$(openssl rand -base64 32) || { _knot_log "openssl rand failed"; return 1; }
  export KNOT_TSIG_NAME KNOT_TSIG_ALGORITHM KNOT_TSIG_SECRET

  local attempt rc
  for attempt in 1 2 3; do
    rc=0
    _knot_try_start || rc=$?
    ((rc == 0)) && break
    _knot_kill "${KNOT_PID:-}"
    _knot_release_port
    ((rc == 2 && attempt < 3)) || { _knot_log "failed to start (CERTCLI_KEEP_TEST_DIR=1 keeps $KNOT_DIR)"; return 1; }
    _knot_log "port taken; retrying on another"
  done
  _unbound_start || return 1

  # Watchdog: stop knotd and unbound if this shell dies without running its EXIT trap.
  local owner=$$ knot_pid=$KNOT_PID unbound_pid=$UNBOUND_PID dir=$KNOT_DIR
  (
    trap - EXIT INT TERM HUP
    while kill -0 "$owner" 2>/dev/null; do sleep 1; done
    kill -TERM "$knot_pid" "$unbound_pid" 2>/dev/null
    if [[ "${CERTCLI_KEEP_TEST_DIR:-0}" != 1 ]]; then sleep 1; rm -rf -- "$dir"; fi
  ) </dev/null >/dev/null 2>&1 &
  _KNOT_WATCHDOG_PID=$!
  # Pebble's VA recurses through unbound; certcli asks Knot itself (see the header).
  export HARNESS_PEBBLE_DNS=$UNBOUND_SERVER HARNESS_CERTCLI_DNS=$KNOT_SERVER
  return 0
}

# knot_stop — stop knotd and unbound, release their ports, remove $KNOT_DIR. Safe to call twice; keeps $?.
knot_stop() {
  local rc=$?
  [[ "$_KNOT_STARTED" == 1 ]] || return "$rc"
  _KNOT_STARTED=0
  _knot_kill "${_KNOT_WATCHDOG_PID:-}"
  _knot_kill "${UNBOUND_PID:-}"
  _knot_kill "${KNOT_PID:-}"
  _KNOT_WATCHDOG_PID="" KNOT_PID="" UNBOUND_PID=""
  _unbound_release_port
  _knot_release_port
  if [[ -n "${KNOT_DIR:-}" && -d "$KNOT_DIR" ]]; then
    if [[ "${CERTCLI_KEEP_TEST_DIR:-0}" == 1 ]]; then
      _knot_log "keeping $KNOT_DIR"
    else
      rm -rf -- "$KNOT_DIR"
    fi
  fi
  return "$rc"
}

# The served zone that holds NAME (the longest suffix match).
_knot_zone_of() {
  local name=${1%.} zone best=""
  for zone in "${_KNOT_ZONES[@]}"; do
    if [[ "$name" == "$zone" || "$name" == *".$zone" ]] && ((${#zone} > ${#best})); then best=$zone; fi
  done
  [[ -n "$best" ]] || fail "knot: no served zone holds $name"
  echo "$best"
}

# _knot_update NAME LINE... — one signed RFC 2136 update of NAME's zone.
_knot_update() {
  local name=$1 zone out
  shift
  zone=$(_knot_zone_of "$name") || exit 1
  out=$(
    {
      echo "server 127.0.0.1 $KNOT_PORT"
      echo "zone $zone."
      echo "key $KNOT_TSIG_ALGORITHM:$KNOT_TSIG_NAME $KNOT_TSIG_SECRET"
      printf '%s\n' "$@"
      echo "send"
    } | "$_KNOT_KNSUPDATE" -t 5 -r 1 2>&1
  ) || fail "knot: update of $name failed: $out"
}

knot_set() {
  (($# >= 3)) || fail "usage: knot_set NAME TYPE RDATA..."
  local name=${1%.} type=$2
  shift 2
  _knot_update "$name" "update delete $name. $type" "update add $name. $KNOT_TTL $type $*"
}

knot_add() {
  (($# >= 3)) || fail "usage: knot_add NAME TYPE RDATA..."
  local name=${1%.} type=$2
  shift 2
  _knot_update "$name" "update add $name. $KNOT_TTL $type $*"
}

knot_delete() {
  (($# >= 1)) || fail "usage: knot_delete NAME [TYPE]"
  _knot_update "${1%.}" "update delete ${1%.}. ${2:-}"
}

# knot_txt NAME — the TXT values at NAME, one per line, each record's strings joined.
knot_txt() {
  knot_dig +short TXT "${1%.}." | sed -e 's/^"//' -e 's/"$//' -e 's/" "//g'
}
