#!/usr/bin/env bash
# A 429 or 503 with Retry-After is the CA's word on when to come back, wherever it comes
# (issue #16): here on newOrder, from the hostile test CA. Pins down:
#  - a 429 rateLimited whose Retry-After (999999999 s) is far past the run's --timeout ends
#    `issue` at once (seconds, not a sleep) with exit 10, naming the day to come back and the
#    CA's problem type (rateLimited);
#  - a 503 whose Retry-After (1 s) fits the budget is waited out and the newOrder sent again,
#    exactly once more (2 newOrder requests in all), and the certificate is issued;
#  - in `renew`, such a 429 is a failed renewal (exit 11) whose next attempt is the CA's date.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/hostile_acme.sh"
harness_start
use_certcli
start_hostile_acme
webroot="$HARNESS_DIR/webroot" # the hostile CA validates nothing: no web server is needed
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

# 1. 429 rateLimited, Retry-After 999999999 s: exit 10 at once, the day and the problem named.
hostile_mode '{"new_order_status": 429, "new_order_retry_after": "999999999"}'
certcli_hostile domain add rl.example.com >/dev/null
orders=$(hostile_count newOrder)
timed_issue rl.example.com
assert_eq 10 "$LAST_STATUS" "exit code of a newOrder refused with 429 for 999999999 s (stderr: $LAST_STDERR)"
((ELAPSED <= 10)) || fail "certcli took ${ELAPSED} s to give up on a 999999999 s rate limit (stderr: $LAST_STDERR)"
day_from_start=$(date -u -d "@$((RUN_START + 999999999))" +%Y-%m-%d)
day_from_end=$(date -u -d "@$((RUN_END + 999999999))" +%Y-%m-%d)
if [[ "$LAST_STDERR" != *"$day_from_start"* && "$LAST_STDERR" != *"$day_from_end"* ]]; then
  fail "the message does not name the day the CA asked for ($day_from_start):"$'\n'"$LAST_STDERR"
fi
assert_contains "$LAST_STDERR" "rateLimited" "the message names the CA's problem type"
assert_eq $((orders + 1)) "$(hostile_count newOrder)" "newOrders of the rate-limited run"
assert_eq 0 "$(hostile_count authz)" "authorizations fetched after a refused newOrder"
echo "ok: newOrder 429 rateLimited with Retry-After 999999999: exit 10 in ${ELAPSED} s, naming $day_from_start and rateLimited"

# 1b. The CA's date is kept in the domain record: a later `renew` waits for it (backed off)
# instead of asking the CA again at once.
run_capture timeout -k 5 60 "$CERTCLI_BIN" --home "$home" --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" renew --json --skip-preflight rl.example.com
assert_eq backed-off "$(json_field "$LAST_STDOUT" domains.0.action)" "renew after a rate-limited issue (stderr: $LAST_STDERR)"
assert_eq $((orders + 1)) "$(hostile_count newOrder)" "newOrders of the renew that waits for the CA's date"
echo "ok: the rateLimited date is recorded: a later renew backs off until then without asking the CA"

# 2. 503 with Retry-After 1, once: waited out, the newOrder sent again (2 in all), issued.
hostile_mode '{"new_order_status": 503, "new_order_retry_after": "1", "new_order_fail_count": 1}'
certcli_hostile domain add rl503.example.com >/dev/null
orders=$(hostile_count newOrder)
timed_issue rl503.example.com
assert_eq 0 "$LAST_STATUS" "issue after one 503 with Retry-After 1 (stderr: $LAST_STDERR)"
assert_eq $((orders + 2)) "$(hostile_count newOrder)" "newOrders: the refused one and its retry"
((ELAPSED >= 1)) || fail "certcli did not wait the 1 s the CA asked for (${ELAPSED} s)"
assert_eq ready "$(json_field "$(certcli_hostile status rl503.example.com --json)" status)" "status after the retry"
assert_contains "$(openssl x509 -in "$home/domains/rl503.example.com/live/cert.pem" -noout -ext subjectAltName)" \
  "DNS:rl503.example.com"
echo "ok: newOrder 503 with Retry-After 1 is waited out (${ELAPSED} s), retried once (2 newOrders) and the certificate issued"

# 3. In `renew`, the same refusal is a failed renewal whose next attempt is the CA's date, not
# the 1 h backoff: the CA's word is not second-guessed by an earlier retry.
hostile_mode '{"new_order_status": 429, "new_order_retry_after": "999999999"}'
shifted=$(($(date +%s) + 5 * 86400)) # 5 days on, the 7-day certificate of rl503 is due
run_capture timeout -k 5 60 env CERTCLI_TEST_NOW="$(date -u -d "@$shifted" +%Y-%m-%dT%H:%M:%SZ)" \
  "$CERTCLI_BIN" --home "$home" --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" renew --json --skip-preflight rl503.example.com
assert_eq 11 "$LAST_STATUS" "renew refused by a 429 (stdout: $LAST_STDOUT, stderr: $LAST_STDERR)"
assert_eq failed "$(json_field "$LAST_STDOUT" domains.0.action)" "action of a rate-limited renewal"
assert_contains "$(json_field "$LAST_STDOUT" domains.0.error.message)" "rateLimited" "the renewal's error"
next=$(date -u -d "$(json_field "$LAST_STDOUT" domains.0.next_attempt_at)" +%s)
((next >= shifted + 999999999 - 5 && next <= shifted + 999999999 + 60)) ||
  fail "next_attempt_at $(json_field "$LAST_STDOUT" domains.0.next_attempt_at) is not the CA's Retry-After date"
echo "ok: renew refused by a 429 rateLimited fails (exit 11) with the CA's date as its next attempt"
