#!/usr/bin/env bash
# A Retry-After is the CA's word on when to come back (issue #16, item 2). When it asks for a
# wait longer than what is left of the run's budget (--timeout, default 180 s), certcli does
# not sleep through it (nor poll against it): it stops at once, exits 10, says when to try again
# (the date the CA named, RFC 3339 UTC) and keeps the order and its key, so the next run
# resumes that order (no second newOrder, no second finalize) and installs the certificate.
# Both forms are covered: delta-seconds (999999999) and an HTTP-date (2070). A Retry-After that
# fits the budget ("1") is honoured: the run waits and succeeds.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/hostile_acme.sh"
harness_start
use_certcli
start_hostile_acme
webroot="$HARNESS_DIR/webroot"
mkdir -p "$webroot"

# timed_issue NAME — `issue NAME` against the hostile CA, killed after 60 s so that a run that
# sleeps through the CA's wait fails the test instead of hanging it. Sets LAST_* (run_capture),
# RUN_START, RUN_END (epoch seconds) and ELAPSED.
timed_issue() {
  RUN_START=$(date +%s)
  run_capture timeout -k 5 60 "$CERTCLI_BIN" --home "$home" --directory "$HOSTILE_DIRECTORY" \
    --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" issue "$1" --email a@example.com --agree-tos --webroot "$webroot" --skip-preflight
  RUN_END=$(date +%s)
  ELAPSED=$((RUN_END - RUN_START))
  ((LAST_STATUS != 124 && LAST_STATUS != 137)) ||
    fail "issue $1 was still running after 60 s (stderr: $LAST_STDERR)"
}

# 1. delta-seconds far beyond the budget: refused at once, the order kept, resumed next run.
hostile_mode '{"order_retry_after": "999999999"}'
certcli_hostile domain add ra.example.com >/dev/null
orders=$(hostile_count newOrder)
finalizes=$(hostile_count finalize)
timed_issue ra.example.com
assert_eq 10 "$LAST_STATUS" "exit code when the CA asks for 999999999 s (stderr: $LAST_STDERR)"
((ELAPSED <= 15)) || fail "certcli took ${ELAPSED} s to give up on a 999999999 s wait (stderr: $LAST_STDERR)"
day_from_start=$(date -u -d "@$((RUN_START + 999999999))" +%Y-%m-%d)
day_from_end=$(date -u -d "@$((RUN_END + 999999999))" +%Y-%m-%d)
if [[ "$LAST_STDERR" != *"$day_from_start"* && "$LAST_STDERR" != *"$day_from_end"* ]]; then
  fail "the message does not name the day the CA asked for ($day_from_start):"$'\n'"$LAST_STDERR"
fi
state=$(certcli_hostile status ra.example.com --json)
order_url=$(json_field "$state" order_url)
[[ "$order_url" == https://127.0.0.1:* ]] || fail "the order was not kept for the next run: $state"
assert_eq $((orders + 1)) "$(hostile_count newOrder)" "orders after the refused wait"
assert_eq $((finalizes + 1)) "$(hostile_count finalize)" "finalize requests after the refused wait"
echo "ok: Retry-After 999999999 ends the run in ${ELAPSED} s with exit 10, naming $day_from_start; the order is kept"

hostile_mode '{}'
timed_issue ra.example.com
assert_eq 0 "$LAST_STATUS" "the run after the CA's wait exits 0 (stderr: $LAST_STDERR)"
assert_eq $((orders + 1)) "$(hostile_count newOrder)" "the kept order is resumed, not replaced"
assert_eq $((finalizes + 1)) "$(hostile_count finalize)" "the resumed order is not finalized again"
live="$home/domains/ra.example.com/live"
assert_contains "$(openssl x509 -in "$live/cert.pem" -noout -ext subjectAltName)" "DNS:ra.example.com"
assert_eq "$(openssl x509 -in "$live/cert.pem" -noout -pubkey)" "$(openssl pkey -in "$live/key.pem" -pubout)" \
  "the installed certificate carries the installed key"
echo "ok: the next run resumed order $order_url without a second finalize and installed the certificate"

# 2. An HTTP-date far in the future: the same refusal, naming that date.
hostile_mode '{"order_retry_after": "Wed, 01 Jan 2070 00:00:00 GMT"}'
certcli_hostile domain add ra2070.example.com >/dev/null
timed_issue ra2070.example.com
assert_eq 10 "$LAST_STATUS" "exit code when the CA asks to come back in 2070 (stderr: $LAST_STDERR)"
((ELAPSED <= 15)) || fail "certcli took ${ELAPSED} s to give up on a wait until 2070 (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "2070-01-01" "the message names the date the CA asked for"
[[ "$(json_field "$(certcli_hostile status ra2070.example.com --json)" order_url)" != null ]] ||
  fail "the order was not kept after a Retry-After HTTP-date"
echo "ok: Retry-After 'Wed, 01 Jan 2070 00:00:00 GMT' ends the run with exit 10, naming 2070-01-01"

# 3. A wait that fits the budget is honoured: certcli polls again after it and succeeds.
hostile_mode '{"order_retry_after": "1"}'
certcli_hostile domain add ra1.example.com >/dev/null
polls=$(hostile_count order)
timed_issue ra1.example.com
assert_eq 0 "$LAST_STATUS" "issue with Retry-After: 1 exits 0 (stderr: $LAST_STDERR)"
((ELAPSED >= 1)) || fail "certcli did not wait the 1 s the CA asked for"
(($(hostile_count order) - polls >= 2)) || fail "certcli did not poll the order again after the CA's wait"
assert_contains "$(openssl x509 -in "$home/domains/ra1.example.com/live/cert.pem" -noout -ext subjectAltName)" \
  "DNS:ra1.example.com"
echo "ok: Retry-After 1 is waited out (${ELAPSED} s) and the certificate issued"
