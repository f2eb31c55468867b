#!/usr/bin/env bash
# `certcli renew` as a timer runs it, against Pebble (issue #17): of three domains only the due
# one is renewed; a run with nothing due makes no request to the CA and exits 0; a deploy hook
# sees every documented variable; --dry-run leaves the state byte-identical; each expiry
# threshold is posted to the webhook exactly once, and a POST that failed is posted next run.
# Time moves through CERTCLI_TEST_NOW (test-only: it shifts certcli's clock), since Pebble's
# certificates are valid for five years.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_start
use_certcli

webroot="$HARNESS_DIR/webroot"
start_webroot_server "$webroot"
for name in a b c; do
  # a and b renew only in their last 10 days; c by the default rule (a third of the lifetime).
  extra=()
  [[ $name != c ]] && extra=(--buffer-days 10)
  certcli domain add "$name.renew.test" --webroot "$webroot" "${extra[@]}" >/dev/null
  certcli issue "$name.renew.test" --agree-tos >/dev/null 2>&1 || fail "issuing $name.renew.test"
done
serial() { openssl x509 -noout -serial -in "$home/domains/$1/live/cert.pem"; }
expires=$(json_field "$(certcli status a.renew.test --json)" expires_at)
expires_epoch=$(date -u -d "$expires" +%s)
at() { date -u -d "@$((expires_epoch - $1 * 86400))" +%Y-%m-%dT%H:%M:%SZ; }  # N days before a's expiry
pebble_requests() { grep -c 'calling handler' "$HARNESS_DIR/pebble.log" || true; }

# 500 days before expiry: under a third of the lifetime left (c is due), over 10 days (a, b not).
before_a=$(serial a.renew.test) before_b=$(serial b.renew.test) before_c=$(serial c.renew.test)
run_capture env CERTCLI_TEST_NOW="$(at 500)" "$CERTCLI_BIN" --home "$home" --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" renew --json
assert_eq 0 "$LAST_STATUS" "renew exit status (stderr: $LAST_STDERR)"
assert_eq skipped "$(json_field "$LAST_STDOUT" domains.0.action)"
assert_eq skipped "$(json_field "$LAST_STDOUT" domains.1.action)"
assert_eq renewed "$(json_field "$LAST_STDOUT" domains.2.action)"
assert_contains "$(json_field "$LAST_STDOUT" domains.0.reason)" "renewal buffer 10 days"
assert_eq "$before_a" "$(serial a.renew.test)" "a was renewed"
assert_eq "$before_b" "$(serial b.renew.test)" "b was renewed"
[[ "$before_c" != "$(serial c.renew.test)" ]] || fail "c was not renewed"
echo "ok: of three domains only the due one was renewed"

# Nothing is due now: no request at all (Pebble's log does not grow), silent with -q, exit 0.
requests=$(pebble_requests)
run_capture certcli renew --quiet
assert_eq 0 "$LAST_STATUS" "renew with nothing due (stderr: $LAST_STDERR)"
assert_eq "" "$LAST_STDOUT" "renew --quiet printed something with nothing due"
assert_eq "$requests" "$(pebble_requests)" "renew with nothing due sent requests to the CA"
assert_eq 0 "$(json_field "$(certcli renew --json)" acme_requests)"
echo "ok: a run with nothing due makes no request and exits 0, silently with --quiet"

# --dry-run goes through the whole flow and keeps nothing.
snapshot=$(state_snapshot "$home/domains")
run_capture certcli renew a.renew.test --force --dry-run --json
assert_eq 0 "$LAST_STATUS" "dry run (stderr: $LAST_STDERR)"
assert_eq renewed "$(json_field "$LAST_STDOUT" domains.0.action)"
assert_eq true "$(json_field "$LAST_STDOUT" dry_run)"
[[ "$(json_field "$LAST_STDOUT" acme_requests)" -gt 3 ]] || fail "the dry run did not talk to the CA: $LAST_STDOUT"
assert_eq "$snapshot" "$(state_snapshot "$home/domains")" "the dry run changed the domains' state"
echo "ok: --dry-run runs the flow and leaves every record, key and live file byte-identical"

# A deploy hook gets every documented variable, in its environment only.
hook_out="$HARNESS_DIR/hook.env"
run_capture certcli renew b.renew.test --force --deploy-hook "env | grep '^CERTCLI_' | sort > '$hook_out'"
assert_eq 0 "$LAST_STATUS" "renew with a hook (stderr: $LAST_STDERR)"
live="$home/domains/b.renew.test/live"
expected="CERTCLI_CERT=$live/cert.pem
CERTCLI_CHAIN=$live/chain.pem
CERTCLI_DOMAIN=b.renew.test
CERTCLI_FULLCHAIN=$live/fullchain.pem
CERTCLI_KEY=$live/key.pem
CERTCLI_LIVE_DIR=$live
CERTCLI_NAMES=b.renew.test"
assert_eq "$expected" "$(cat "$hook_out")" "the deploy hook's CERTCLI_* environment"
run_capture certcli renew b.renew.test --force --deploy-hook "exit 3"
assert_eq 12 "$LAST_STATUS" "a failing hook's exit status (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "exited with status 3"
assert_eq ready "$(json_field "$(certcli status b.renew.test --json)" status)" "the certificate stays after a failed hook"
echo "ok: the deploy hook sees every variable; a failing hook is exit 12 and the certificate stays"

# --parallel: three renewals at once share one session (one directory fetch, one account, one
# connection) and one webroot solver.
before=$(for n in a b c; do serial "$n.renew.test"; done)
log_lines_before=$(wc -l <"$HARNESS_DIR/pebble.log")
run_capture certcli renew --force --parallel 3 --json
assert_eq 0 "$LAST_STATUS" "renew --parallel 3 (stderr: $LAST_STDERR)"
for i in 0 1 2; do assert_eq renewed "$(json_field "$LAST_STDOUT" "domains.$i.action")"; done
after=$(for n in a b c; do serial "$n.renew.test"; done)
[[ -z "$(comm -12 <(sort <<<"$before") <(sort <<<"$after"))" ]] || fail "a certificate was not replaced by --parallel"
# What Pebble received during this run, by endpoint. The total is not a fixed number: order
# polls depend on how fast Pebble finalizes (slower under sanitizers), and Pebble rejects 5% of
# good nonces, so any POST may be sent twice. What sharing decides is fixed: one directory fetch
# and at most one fresh nonce per request in flight at once, so at most three for the whole run
# (every answer carries the next nonce, a badNonce answer too; a session per domain would fetch
# its own directory and nonce for each).
run_log=$(tail -n +"$((log_lines_before + 1))" "$HARNESS_DIR/pebble.log" | grep 'calling handler' || true)
endpoint_count() { grep -c " $1 -> calling handler" <<<"$run_log" || true; }
assert_eq 1 "$(endpoint_count 'GET /dir')" "--parallel 3: directory fetches"
[[ "$(endpoint_count 'HEAD /nonce-plz')" -le 3 ]] || fail "--parallel 3 fetched more than three fresh nonces"
for endpoint in 'POST /order-plz' 'POST /finalize-order/' 'POST /certZ/'; do
  [[ "$(endpoint_count "$endpoint")" -ge 3 ]] || fail "--parallel 3: fewer than three $endpoint requests"
done
# certcli's own count is what the CA saw.
assert_eq "$(grep -c 'calling handler' <<<"$run_log")" "$(json_field "$LAST_STDOUT" acme_requests)" \
  "--parallel 3: acme_requests against Pebble's log"
for n in a b c; do
  openssl verify -CAfile "$PEBBLE_ROOT_PEM" -untrusted "$home/domains/$n.renew.test/live/chain.pem" \
    "$home/domains/$n.renew.test/live/cert.pem" >/dev/null || fail "$n: the renewed chain does not verify"
done
echo "ok: --parallel 3 renews three domains at once through one session; each chain verifies"

# Expiry alerts to a webhook: a listener that appends each POST body as one line. Times are
# counted back from a's certificate as it is now.
expires=$(json_field "$(certcli status a.renew.test --json)" expires_at)
expires_epoch=$(date -u -d "$expires" +%s)
alerts="$HARNESS_DIR/alerts.jsonl"
webhook_port=$(_harness_pick_ports 1)
start_webhook() {
  "$HARNESS_PYTHON" - "$webhook_port" "$alerts" >"$HARNESS_DIR/webhook.log" 2>&1 <<'PY' &
import http.server, sys
port, path = int(sys.argv[1]), sys.argv[2]
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(path, "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(204)
        self.end_headers()
http.server.HTTPServer(("127.0.0.1", port), Hook).serve_forever()
PY
  webhook_pid=$!
  _HARNESS_WEB_PIDS="${_HARNESS_WEB_PIDS:-} $webhook_pid"
  for _ in $(seq 50); do
    curl --noproxy '*' -s -o /dev/null -X POST -d '' "http://127.0.0.1:$webhook_port/probe" && break
    sleep 0.1
  done
  : >"$alerts"
}
certcli config set alerts.webhook "http://127.0.0.1:$webhook_port/hook" >/dev/null
check_at() { env CERTCLI_TEST_NOW="$(at "$1")" "$CERTCLI_BIN" --home "$home" check --json; }
count_alerts() { grep -c "\"threshold_days\":$1" "$alerts" || true; }

# The webhook is down: the alert is not recorded as sent, and the next run posts it.
run_capture check_at 20
assert_eq 6 "$LAST_STATUS" "check with the webhook down (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "posted again on the next run"
start_webhook
run_capture check_at 20
assert_eq 0 "$LAST_STATUS" "check (stderr: $LAST_STDERR)"
assert_eq 3 "$(count_alerts 30)" "30-day alerts after crossing 30 days"
check_at 20 >/dev/null
check_at 19 >/dev/null
assert_eq 3 "$(count_alerts 30)" "30-day alerts were posted twice"
check_at 10 >/dev/null
check_at 5 >/dev/null
check_at 5 >/dev/null
for threshold in 30 14 7; do assert_eq 3 "$(count_alerts "$threshold")" "alerts at $threshold days"; done
assert_eq 9 "$(grep -c . "$alerts")" "alerts in all"
event=$(grep '"domain":"a.renew.test"' "$alerts" | grep '"threshold_days":7')
assert_eq certificate.expiring "$(json_field "$event" event)"
assert_eq a.renew.test "$(json_field "$event" names)"
assert_eq "$expires" "$(json_field "$event" expires_at)"
assert_eq 5 "$(json_field "$event" days_left)"
assert_eq ready "$(json_field "$event" status)"
echo "ok: each expiry threshold is posted once per certificate; a failed POST is posted on the next run"
