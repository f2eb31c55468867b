#!/usr/bin/env bash
# certcli verify (issue #18): what must hold before ordering, checked against a real DNS server
# (Knot). With CNAME delegation each broken state of `_acme-challenge.NAME` is named with the
# exact record that fixes it — Missing (nothing there), Wrong (a CNAME elsewhere), Duplicate (a
# TXT record where the CNAME belongs) — and exits 13, while a Valid one exits 0; --json is one
# document; status shows what verify found. A CAA record naming another CA stops `issue` with
# exit 13 before any order is placed, and so does a TSIG key the RFC 2136 server does not take.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/knot.sh"
knot_start
harness_start
use_certcli
export CERTCLI_DNS_RESOLVER="$KNOT_SERVER"

alias_target=challenges.delegated.test
add_dns_domain() {
  local name=$1
  shift
  certcli domain add "$name" --dns-rfc2136 "$KNOT_SERVER" --tsig-key "$KNOT_TSIG_NAME" \
    --tsig-secret '$ENV:KNOT_TSIG_SECRET' "$@" >/dev/null
}

# Pebble's CAA identity is not published in its directory: say which it is, as for any custom CA.
certcli config set ca.caa_identity pebble.test >/dev/null

for state in missing wrong duplicate valid; do add_dns_domain "$state.dns.test" --dns-alias "$alias_target"; done
knot_set _acme-challenge.wrong.dns.test CNAME elsewhere.delegated.test.
knot_set _acme-challenge.duplicate.dns.test TXT '"left-over-value"'
knot_set _acme-challenge.valid.dns.test CNAME "$alias_target."

run_capture certcli verify missing.dns.test
assert_eq 13 "$LAST_STATUS" "verify of a missing CNAME (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "FAIL"
assert_contains "$LAST_STDOUT" "fix: create \`_acme-challenge.missing.dns.test. CNAME $alias_target.\`"
echo "ok: a missing CNAME exits 13 and names the record to create"

run_capture certcli verify wrong.dns.test
assert_eq 13 "$LAST_STATUS" "verify of a CNAME pointing elsewhere (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "is a CNAME to elsewhere.delegated.test, not to $alias_target"
assert_contains "$LAST_STDOUT" \
  "fix: change \`_acme-challenge.wrong.dns.test. CNAME elsewhere.delegated.test.\` to \`_acme-challenge.wrong.dns.test. CNAME $alias_target.\`"
echo "ok: a CNAME pointing elsewhere exits 13, naming where it points and where it must"

run_capture certcli verify duplicate.dns.test
assert_eq 13 "$LAST_STATUS" "verify of a TXT record where the CNAME belongs (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" \
  "fix: delete \`_acme-challenge.duplicate.dns.test. TXT \"left-over-value\"\`, then create \`_acme-challenge.duplicate.dns.test. CNAME $alias_target.\`"
echo "ok: a TXT record where the CNAME belongs exits 13, naming the record to delete"

run_capture certcli verify valid.dns.test
assert_eq 0 "$LAST_STATUS" "verify of a valid delegation (stdout: $LAST_STDOUT, stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "_acme-challenge.valid.dns.test is delegated to $alias_target"
assert_not_contains "$LAST_STDOUT" "FAIL"
echo "ok: a valid delegation exits 0"

run_capture certcli verify duplicate.dns.test --json
assert_eq 13 "$LAST_STATUS" "verify --json of a broken domain"
printf '%s' "$LAST_STDOUT" | "$HARNESS_PYTHON" -c 'import json, sys; json.load(sys.stdin)' ||
  fail "verify --json is not one JSON document: $LAST_STDOUT"
assert_eq false "$(json_field "$LAST_STDOUT" ok)"
assert_eq duplicate "$(json_field "$LAST_STDOUT" names.0.checks.0.status)"
assert_eq dns-01 "$(json_field "$LAST_STDOUT" names.0.challenge_type)"
echo "ok: verify --json is one document with each check's status"

status_json=$(certcli status missing.dns.test --json)
assert_eq false "$(json_field "$status_json" verification.verified)"
assert_eq missing "$(json_field "$status_json" verification.names.0.dns_status)"
assert_contains "$(certcli status valid.dns.test)" "verified: yes"
echo "ok: status shows what the last verify found"

grep -q '"event":"domain.verify_failed"' "$home/activity.jsonl" || fail "no domain.verify_failed event in the activity log"
grep -q '"event":"domain.verified"' "$home/activity.jsonl" || fail "no domain.verified event in the activity log"

# Ownership: the token made at `domain add` must be published; once it has expired, verify makes
# a new one and says so, and the published value is then wrong.
add_dns_domain owned.dns.test --require-ownership
run_capture certcli verify owned.dns.test --json
assert_eq 13 "$LAST_STATUS" "verify before the ownership record is published"
assert_eq missing "$(json_field "$LAST_STDOUT" names.0.checks.3.status)"
token=$(json_field "$LAST_STDOUT" names.0.checks.3.fix | grep -o 'certcli-verify=[A-Za-z0-9_-]*')
knot_set _certcli-verify.owned.dns.test TXT "\"$token\""
run_capture certcli verify owned.dns.test
assert_eq 0 "$LAST_STATUS" "verify with the ownership record published (stdout: $LAST_STDOUT)"
run_capture env CERTCLI_TEST_NOW="$(date -u -d '+31 days' +%Y-%m-%dT%H:%M:%SZ)" "$CERTCLI_BIN" --home "$home" \
  verify owned.dns.test --json
assert_eq 13 "$LAST_STATUS" "verify after the ownership token expired"
assert_eq true "$(json_field "$LAST_STDOUT" ownership_token_renewed)"
assert_eq wrong "$(json_field "$LAST_STDOUT" names.0.checks.3.status)"
echo "ok: an expired ownership token is renewed by verify, and the old record is then wrong"

# CAA naming another CA: the check fails with the record to add, and issue orders nothing.
add_dns_domain caa.dns.test
knot_set caa.dns.test CAA 0 issue '"other-ca.example"'
run_capture certcli verify caa.dns.test
assert_eq 13 "$LAST_STATUS" "verify with a CAA record for another CA (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "other-ca.example"
assert_contains "$LAST_STDOUT" "fix: add \`caa.dns.test. CAA 0 issue \"pebble.test\"\`"
run_capture certcli issue caa.dns.test --agree-tos
assert_eq 13 "$LAST_STATUS" "issue with a CAA record for another CA (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "caa"
assert_contains "$LAST_STDERR" "certcli: hint: "
orders=$(grep -c 'order-plz -> calling handler' "$HARNESS_DIR/pebble.log" || true)
assert_eq 0 "$orders" "newOrder requests Pebble received"
echo "ok: a CAA record naming another CA stops issue with exit 13 before any order"

# RFC 2136 access: verify sends the server an update that changes nothing (a false prerequisite,
# no update records) signed with the domain's key; a key Knot does not take fails before any order.
serial_before=$(knot_dig +short SOA dns.test)
add_dns_domain update.dns.test --san www.update.dns.test --wildcard
run_capture certcli verify update.dns.test --json
assert_eq 0 "$LAST_STATUS" "verify with the right TSIG key (stdout: $LAST_STDOUT, stderr: $LAST_STDERR)"
assert_eq dns-update "$(json_field "$LAST_STDOUT" names.0.checks.1.check)"
assert_eq "$KNOT_SERVER accepts updates for zone dns.test signed with key $KNOT_TSIG_NAME" \
  "$(json_field "$LAST_STDOUT" names.0.checks.1.message)"
updates=$(printf '%s' "$LAST_STDOUT" | grep -o '"check": *"dns-update"' | wc -l)
assert_eq 1 "$updates" "dns-update checks for three names in one zone"
assert_eq "$serial_before" "$(knot_dig +short SOA dns.test)" "the SOA of dns.test after verify (the zone must not change)"
echo "ok: the right TSIG key passes the dns-update check once per zone, and the zone is unchanged"

WRONG_SECRET=$(openssl rand -base64 32)
export WRONG_SECRET
certcli domain add badsecret.dns.test --dns-rfc2136 "$KNOT_SERVER" --tsig-key "$KNOT_TSIG_NAME" \
  --tsig-secret '$ENV:WRONG_SECRET' >/dev/null
run_capture certcli verify badsecret.dns.test
assert_eq 13 "$LAST_STATUS" "verify with a wrong TSIG secret (stdout: $LAST_STDOUT, stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "dns-update"
assert_contains "$LAST_STDOUT" "the signature of key $KNOT_TSIG_NAME did not verify (NOTAUTH, BADSIG)"
assert_contains "$LAST_STDOUT" "fix: the secret differs from the one the server has for key $KNOT_TSIG_NAME"
echo "ok: a wrong TSIG secret exits 13 naming BADSIG"

certcli domain add badkey.dns.test --dns-rfc2136 "$KNOT_SERVER" --tsig-key no-such-key \
  --tsig-secret '$ENV:KNOT_TSIG_SECRET' >/dev/null
run_capture certcli verify badkey.dns.test
assert_eq 13 "$LAST_STATUS" "verify with an unknown TSIG key name (stdout: $LAST_STDOUT, stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "the server does not know key no-such-key with algorithm hmac-sha256"
assert_contains "$LAST_STDOUT" "(NOTAUTH, BADKEY)"
echo "ok: an unknown TSIG key name exits 13 naming BADKEY"

orders_before=$(grep -c 'order-plz -> calling handler' "$HARNESS_DIR/pebble.log" || true)
run_capture certcli issue badsecret.dns.test --agree-tos
assert_eq 13 "$LAST_STATUS" "issue with a wrong TSIG secret (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "dns-update check failed"
assert_contains "$LAST_STDERR" "BADSIG"
orders_after=$(grep -c 'order-plz -> calling handler' "$HARNESS_DIR/pebble.log" || true)
assert_eq "$orders_before" "$orders_after" "newOrder requests Pebble received during issue with a wrong TSIG secret"
echo "ok: a wrong TSIG secret stops issue with exit 13 before any order"

echo "PASS: test_verify"
