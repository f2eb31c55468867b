#!/usr/bin/env bash
# A failed renewal backs off (1 h, then 2 h, 4 h ... at most 24 h), against the hostile test CA
# (7-day certificates; a mode with a malformed challenge token makes every order fail). Pins down:
#  - a renewal that fails exits 11, reports action "failed" with the error and next_attempt_at
#    (now + 1 h), marks the domain failed, and leaves the live certificate byte for byte as it was;
#  - the next run before that time backs off: exit 0, action "backed-off", the time printed (JSON
#    and the human "backing off" line), and not one newOrder sent;
#  - once the time has come it is tried again, and a second failure waits twice as long (2 h);
#  - --force tries despite the backoff; a success clears the failures (no failures key left);
#  - each failure is posted to the alert webhook as a "renewal.failed" event with the domain,
#    names, expiry, days left, status, error and next attempt.
# Time moves through CERTCLI_TEST_NOW (test-only: shifts certcli's clock).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/hostile_acme.sh"
harness_start
use_certcli
start_hostile_acme
webroot="$HARNESS_DIR/webroot" # the hostile CA validates nothing: no web server is needed
mkdir -p "$webroot"

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
epoch() { date -u -d "$1" +%s; }
domains=(b1.example.com b2.example.com)

# The alert webhook: appends each POST body (one JSON per line) to $hook_log.
hook_port=$(_harness_pick_ports 1) || fail "no free port for the webhook listener"
_HARNESS_PORTS="${_HARNESS_PORTS:-} $hook_port" # released by harness_stop
hook_log="$HARNESS_DIR/webhook.jsonl"
: >"$hook_log"
"$HARNESS_PYTHON" - "$hook_port" "$hook_log" >"$HARNESS_DIR/webhook.out" 2>&1 <<'PY' &
import http.server, sys
port, log = int(sys.argv[1]), sys.argv[2]
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with open(log, "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
http.server.HTTPServer(("127.0.0.1", port), Hook).serve_forever()
PY
_HARNESS_WEB_PIDS="${_HARNESS_WEB_PIDS:-} $!" # killed by harness_stop
for _ in $(seq 50); do
  _harness_curl -f -o /dev/null "http://127.0.0.1:$hook_port/" 2>/dev/null && break
  sleep 0.1
done
_harness_curl -f -o /dev/null "http://127.0.0.1:$hook_port/" || fail "the webhook listener did not start"
"$CERTCLI_BIN" --home "$home" config set alerts.webhook "http://127.0.0.1:$hook_port/hook" >/dev/null

# renewal_failed_events — the "renewal.failed" events posted so far, one JSON per line.
renewal_failed_events() {
  "$HARNESS_PYTHON" -c '
import json, sys
for line in open(sys.argv[1]):
    if line.strip() and json.loads(line).get("event") == "renewal.failed":
        print(line.strip())' "$hook_log"
}

# outcome JSON DOMAIN FIELD — FIELD of DOMAIN's object in `renew --json` output.
outcome() {
  "$HARNESS_PYTHON" - "$1" "$2" "$3" <<'PY'
import json, sys
doc = json.loads(sys.argv[1])
found = [d for d in doc["domains"] if d["domain"] == sys.argv[2]]
if len(found) != 1:
    sys.exit(f"{len(found)} outcomes for {sys.argv[2]} in {sys.argv[1]}")
value = found[0]
for key in sys.argv[3].split("."):
    value = value[key] if value is not None else None
print("null" if value is None else value)
PY
}

# toml_has NAME KEY — whether domains/NAME/domain.toml's [renewal] table has KEY.
toml_has() {
  "$HARNESS_PYTHON" - "$home/domains/$1/domain.toml" "$2" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print("yes" if sys.argv[2] in tomllib.load(f).get("renewal", {}) else "no")
PY
}

# renew_at EPOCH ARGS... — `renew ARGS` with certcli's clock at EPOCH (run_capture).
renew_at() {
  local when=$1
  shift
  run_capture env CERTCLI_TEST_NOW="$(iso "$when")" "$CERTCLI_BIN" --home "$home" \
    --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" renew --skip-preflight "$@"
}

# assert_near EXPECTED ACTUAL MSG — two epoch times at most 120 s apart.
assert_near() {
  (($2 - $1 <= 120 && $1 - $2 <= 120)) || fail "$3: expected about $(iso "$1"), got $(iso "$2")"
}

live_digest() { (cd "$home/domains/$1/live/" && sha256sum cert.pem chain.pem fullchain.pem key.pem); }

# 0. Two certificates from a well-behaved CA.
hostile_mode '{}'
for d in "${domains[@]}"; do
  certcli_hostile domain add "$d" --webroot "$webroot" >/dev/null
  run_capture certcli_hostile issue "$d" --email a@example.com --agree-tos --skip-preflight
  assert_eq 0 "$LAST_STATUS" "issue $d (stderr: $LAST_STDERR)"
done
declare -A digest expires
for d in "${domains[@]}"; do
  digest[$d]=$(live_digest "$d")
  expires[$d]=$(json_field "$(certcli_hostile status "$d" --json)" expires_at)
done

# 1. Five days on, both are due (7-day certificates) and fail: exit 11, next attempt in 1 h.
hostile_mode '{"token": "bad/token/that/is/not/base64url"}'
t1=$(($(date +%s) + 5 * 86400))
orders=$(hostile_count newOrder)
renew_at "$t1" --json
assert_eq 11 "$LAST_STATUS" "exit code of a renew whose renewals fail (stdout: $LAST_STDOUT, stderr: $LAST_STDERR)"
first=$LAST_STDOUT
assert_eq $((orders + 2)) "$(hostile_count newOrder)" "newOrders of the failing run (one per domain)"
declare -A next1
for d in "${domains[@]}"; do
  assert_eq failed "$(outcome "$first" "$d" action)" "action of $d"
  assert_contains "$(outcome "$first" "$d" error.message)" "bad/token" "the error of $d names the token"
  next1[$d]=$(epoch "$(outcome "$first" "$d" next_attempt_at)")
  assert_near $((t1 + 3600)) "${next1[$d]}" "next_attempt_at of $d after one failure"
  state=$(certcli_hostile status "$d" --json)
  assert_eq failed "$(json_field "$state" status)" "status of $d after a failed renewal"
  assert_contains "$(json_field "$state" error.message)" "bad/token" "the recorded error of $d"
  assert_eq "${digest[$d]}" "$(live_digest "$d")" "the live certificate of $d after a failed renewal"
  assert_eq 1 "$("$HARNESS_PYTHON" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["renewal"]["failures"])' \
    "$home/domains/$d/domain.toml")" "failures of $d"
done
echo "ok: at +5 d both renewals fail: exit 11, next attempt at +1 h, status failed, live certificates untouched"

# The webhook got one renewal.failed event per domain, with everything an operator needs.
check_events() { # check_events COUNT — the last two events are about this run's failures
  local events
  events=$(renewal_failed_events)
  assert_eq "$1" "$(grep -c . <<<"$events" || true)" "renewal.failed events posted"
  "$HARNESS_PYTHON" - "$events" "$first" <<'PY' || fail "a renewal.failed event is wrong (see above)"
import json, sys
events = [json.loads(l) for l in sys.argv[1].splitlines()][-2:]
run = {d["domain"]: d for d in json.loads(sys.argv[2])["domains"]}
assert sorted(e["domain"] for e in events) == sorted(run), f"domains of the events: {events}"
for e in events:
    d = run[e["domain"]]
    try:
        assert e["event"] == "renewal.failed"
        assert e["names"] == [e["domain"]], "names"
        assert e["status"] == "failed", "status"
        assert isinstance(e["expires_at"], str) and e["expires_at"].endswith("Z"), "expires_at"
        assert isinstance(e["days_left"], int) and 0 <= e["days_left"] <= 2, "days_left"
        assert e["error"]["type"] and "bad/token" in e["error"]["detail"], "error"
        assert e["next_attempt_at"] == d["next_attempt_at"], "next_attempt_at as in the run's output"
    except (AssertionError, KeyError) as x:
        sys.exit(f"event {e}: {x!r}")
PY
}
check_events 2
for d in "${domains[@]}"; do
  grep -F "\"domain\":\"$d\"" <<<"$(renewal_failed_events)" | grep -qF "\"expires_at\":\"${expires[$d]}\"" ||
    fail "the renewal.failed event of $d does not carry its expiry ${expires[$d]}: $(renewal_failed_events)"
done
echo "ok: the webhook received a renewal.failed event for each, with names, expiry, days left, error, next attempt"

# 2. The same time again: backed off, nothing sent to the CA, the time printed.
orders=$(hostile_count newOrder)
renew_at "$t1" --json
assert_eq 0 "$LAST_STATUS" "exit code of a run that only backs off (stdout: $LAST_STDOUT, stderr: $LAST_STDERR)"
for d in "${domains[@]}"; do
  assert_eq backed-off "$(outcome "$LAST_STDOUT" "$d" action)" "action of $d during its backoff"
  assert_eq "$(iso "${next1[$d]}")" "$(outcome "$LAST_STDOUT" "$d" next_attempt_at)" "next_attempt_at of $d"
done
renew_at "$t1"
assert_eq 0 "$LAST_STATUS" "exit code of a run that only backs off, human output (stderr: $LAST_STDERR)"
for d in "${domains[@]}"; do
  line=$(grep -F "$d" <<<"$LAST_STDOUT") || fail "no line for $d in:"$'\n'"$LAST_STDOUT"
  assert_contains "$line" "backing off" "the human line of $d"
  assert_contains "$line" "$(iso "${next1[$d]}")" "the human line of $d names the next attempt"
done
assert_eq "$orders" "$(hostile_count newOrder)" "newOrders while backing off"
check_events 2
echo "ok: during the backoff: exit 0, backed-off, next attempt printed ($(iso "${next1[b1.example.com]}")), no newOrder"

# 3. Past the next attempt (+61 min): tried again, fails again, the wait doubles to 2 h.
t2=$((t1 + 61 * 60))
orders=$(hostile_count newOrder)
renew_at "$t2" --json
assert_eq 11 "$LAST_STATUS" "exit code of the second failing run (stdout: $LAST_STDOUT, stderr: $LAST_STDERR)"
first=$LAST_STDOUT
assert_eq $((orders + 2)) "$(hostile_count newOrder)" "newOrders once the backoff is over"
for d in "${domains[@]}"; do
  assert_eq failed "$(outcome "$LAST_STDOUT" "$d" action)" "action of $d after its backoff"
  assert_near $((t2 + 7200)) "$(epoch "$(outcome "$LAST_STDOUT" "$d" next_attempt_at)")" \
    "next_attempt_at of $d after a second failure"
  assert_eq "${digest[$d]}" "$(live_digest "$d")" "the live certificate of $d after a second failure"
done
check_events 4
echo "ok: at +61 min both are tried again, fail again, and wait 2 h; two more renewal.failed events"

# 4. --force tries despite the backoff (the CA behaves again).
hostile_mode '{}'
orders=$(hostile_count newOrder)
renew_at "$t2" --json --force b1.example.com
assert_eq 0 "$LAST_STATUS" "renew --force during a backoff (stdout: $LAST_STDOUT, stderr: $LAST_STDERR)"
assert_eq renewed "$(outcome "$LAST_STDOUT" b1.example.com action)" "--force during the backoff"
assert_eq $((orders + 1)) "$(hostile_count newOrder)" "newOrders of renew --force"
[[ "${digest[b1.example.com]}" != "$(live_digest b1.example.com)" ]] || fail "--force did not install a certificate"
assert_eq no "$(toml_has b1.example.com failures)" "failures of b1 after a forced success"
echo "ok: renew --force renews b1.example.com despite its backoff"

# 5. Past the 2 h (+2 h 1 min) with a well-behaved CA: renewed, the failures forgotten.
t3=$((t2 + 121 * 60))
renew_at "$t3" --json b2.example.com
assert_eq 0 "$LAST_STATUS" "renew after the second backoff (stdout: $LAST_STDOUT, stderr: $LAST_STDERR)"
assert_eq renewed "$(outcome "$LAST_STDOUT" b2.example.com action)" "action of b2 after its backoff"
[[ "${digest[b2.example.com]}" != "$(live_digest b2.example.com)" ]] || fail "b2's new certificate is not live"
for d in "${domains[@]}"; do
  assert_eq no "$(toml_has "$d" failures)" "failures of $d after a success"
  assert_eq no "$(toml_has "$d" next_attempt_at)" "next_attempt_at of $d after a success"
  assert_eq ready "$(json_field "$(certcli_hostile status "$d" --json)" status)" "status of $d after a success"
done
check_events 4
echo "ok: at +2 h 1 min b2.example.com is renewed; no failures or next attempt left in domain.toml"
