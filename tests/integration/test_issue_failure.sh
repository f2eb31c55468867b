#!/usr/bin/env bash
# A validation the CA cannot complete ends in status failed, with the CA's problem and the fix
# recorded and shown, exit code 8; the dead order is dropped and the next run succeeds. The
# preflight would catch this setup before ordering (test_http01_preflight.sh): --skip-preflight
# lets the run reach the CA, as it does where certcli cannot see what the CA sees.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_start
use_certcli
certcli domain add broken.certcli.test >/dev/null

# certcli listens where Pebble does not look, so Pebble's connection to the http-01 port is refused.
run_expect_fail certcli issue broken.certcli.test --agree-tos --http-listen "127.0.0.1:$CERTCLI_TEST_TLS_PORT" --skip-preflight
assert_eq 8 "$LAST_STATUS" "exit code for a failed validation"
assert_contains "$LAST_STDERR" "certcli: error: the CA could not validate broken.certcli.test"
assert_contains "$LAST_STDERR" "certcli: hint: make sure http://broken.certcli.test/.well-known/acme-challenge/ reaches"
state=$(certcli status broken.certcli.test --json)
assert_eq failed "$(json_field "$state" status)"
assert_contains "$(json_field "$state" error.acme_type)" "urn:ietf:params:acme:error:"
assert_contains "$(json_field "$state" error.message)" "broken.certcli.test"
[[ -n "$(json_field "$state" error.hint)" ]] || fail "no fix recorded: $state"
assert_eq false "$(json_field "$state" interrupted)"
assert_eq null "$(json_field "$state" order_url)" "an order with an invalid authorization is not offered for resuming"
assert_contains "$(certcli status broken.certcli.test)" "fix:"
grep -q '"event":"issue.failed"' "$home/activity.jsonl" || fail "no issue.failed event in the activity log"
echo "ok: a failed validation is recorded as failed with the CA's problem and the fix (exit 8)"

run_capture certcli issue broken.certcli.test --http-listen "127.0.0.1:$CERTCLI_TEST_HTTP_PORT"
assert_eq 0 "$LAST_STATUS" "the corrected run exits 0 (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "ordering a certificate for broken.certcli.test"
state=$(certcli status broken.certcli.test --json)
assert_eq ready "$(json_field "$state" status)"
assert_eq null "$(json_field "$state" error)" "the error is cleared once the certificate is issued"
echo "ok: the next run orders anew and the domain becomes ready"
