#!/usr/bin/env bash
# The Knot test server itself (tests/integration/knot.sh), which the dns-01 tests build on: its
# zones answer over UDP and TCP, signed updates with the test key change them, updates signed
# with a wrong secret or not signed at all are refused, and knotd never outlives its shell.
# No Pebble: the C++ DNS layer is exercised through certcli by the dns-01 tests.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/harness.sh"
source "$here/knot.sh"

knot_zone extra.test <<'EOF'
www A 127.0.0.2
txt TXT "hello" "world"
@ CAA 0 issue "pebble.letsencrypt.org"
EOF
knot_start

echo "== the default zones and an added one answer, over UDP and TCP"
assert_eq "127.0.0.1" "$(knot_dig +short A dns.test)" "dns.test apex"
assert_eq "127.0.0.1" "$(knot_dig +short A any.host.dns.test)" "dns.test wildcard"
assert_eq "127.0.0.1" "$(knot_dig +tcp +short A any.host.dns.test)" "dns.test over TCP"
assert_eq "ns1.delegated.test." "$(knot_dig +short NS delegated.test)" "delegated.test NS"
assert_eq "127.0.0.1" "$(knot_dig +short A ns1.delegated.test)" "delegated.test name server address"
assert_eq "127.0.0.2" "$(knot_dig +short A www.extra.test)" "added zone"
assert_eq "helloworld" "$(knot_txt txt.extra.test)" "TXT strings of one record"
assert_contains "$(knot_dig +short CAA extra.test)" 'issue "pebble.letsencrypt.org"' "CAA"
assert_contains "$(knot_dig +norecurse A www.extra.test)" "Flags: qr aa" "authoritative answer"
assert_contains "$(knot_dig A nothing.delegated.test)" "NXDOMAIN" "unknown name"
assert_eq "127.0.0.1:$KNOT_PORT" "$KNOT_SERVER" "KNOT_SERVER"
assert_eq "$UNBOUND_SERVER" "$HARNESS_PEBBLE_DNS" "HARNESS_PEBBLE_DNS (Pebble asks the recursive resolver)"
assert_eq "$KNOT_SERVER" "$HARNESS_CERTCLI_DNS" "HARNESS_CERTCLI_DNS (certcli asks Knot)"
assert_eq "hmac-sha256" "$KNOT_TSIG_ALGORITHM" "KNOT_TSIG_ALGORITHM"

echo "== updates signed with the test key change the zones"
challenge=_acme-challenge.www.dns.test
knot_set "$challenge" TXT '"first"'
assert_eq "first" "$(knot_txt "$challenge")" "knot_set"
knot_add "$challenge" TXT '"second"'
assert_eq $'first\nsecond' "$(knot_txt "$challenge" | sort)" "knot_add keeps the other value"
knot_set "$challenge" TXT '"third"'
assert_eq "third" "$(knot_txt "$challenge")" "knot_set replaces the RRset"
knot_set www.extra.test A 127.0.0.3
assert_eq "127.0.0.3" "$(knot_dig +short A www.extra.test)" "update in an added zone"
knot_set extra.test CAA 0 issue '";"'
assert_eq '0 issue ";"' "$(knot_dig +short CAA extra.test | sed 's/ *$//')" "CAA replaced"
knot_delete "$challenge" TXT
assert_eq "" "$(knot_txt "$challenge")" "knot_delete"

echo "== updates with a wrong secret, an unknown key or no key are refused"
update() { # update KEYLINE — try to add TXT "intruder" at $challenge
  { echo "server 127.0.0.1 $KNOT_PORT"; echo "zone dns.test."; [[ -n "$1" ]] && echo "$1"
    echo "update add $challenge. 60 TXT \"intruder\""; echo send; } | knsupdate -t 5 -r 0
}
wrong_secret=$(openssl rand -base64 32)
run_capture update "key hmac-sha256:$KNOT_TSIG_NAME $wrong_secret"
((LAST_STATUS != 0)) || fail "an update with a wrong secret was accepted"
assert_contains "$LAST_STDOUT$LAST_STDERR" "BADSIG" "wrong secret"
run_capture update "key hmac-sha256:someone-else $KNOT_TSIG_SECRET"
((LAST_STATUS != 0)) || fail "an update with an unknown key was accepted"
run_capture update ""
((LAST_STATUS != 0)) || fail "an unsigned update was accepted"
assert_eq "" "$(knot_txt "$challenge")" "refused updates changed nothing"

echo "== knotd stops with its shell, also when the shell is killed"
knot_pid=$KNOT_PID dir=$KNOT_DIR
knot_stop
kill -0 "$knot_pid" 2>/dev/null && fail "knotd $knot_pid still runs after knot_stop"
[[ ! -e "$dir" ]] || fail "knot_stop left $dir behind"
pidfile=$(mktemp)
bash -c 'source "$1/harness.sh"; source "$1/knot.sh"; knot_start; echo "$KNOT_PID $KNOT_DIR" >"$2"; sleep 600' \
  _ "$here" "$pidfile" </dev/null >/dev/null 2>&1 &
shell=$!
for _ in $(seq 100); do [[ -s "$pidfile" ]] && break; sleep 0.1; done
read -r knot_pid dir <"$pidfile"
rm -f "$pidfile"
kill -0 "$knot_pid" || fail "the inner knot_start did not start knotd"
kill -KILL "$shell"
wait "$shell" 2>/dev/null || true
for _ in $(seq 100); do kill -0 "$knot_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$knot_pid" 2>/dev/null && { kill "$knot_pid"; fail "knotd outlived a SIGKILLed shell"; }
for _ in $(seq 50); do [[ -e "$dir" ]] || break; sleep 0.1; done
[[ ! -e "$dir" ]] || fail "the watchdog left $dir behind"
echo "PASS"
