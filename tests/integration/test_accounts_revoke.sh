#!/usr/bin/env bash
# Accounts and revocation against a Pebble that requires External Account Binding: register is
# refused without EAB (naming what is missing) and works with it; contacts are updated; a key
# rollover keeps the account URL and the next issuance is signed with the new key; revocation
# by the account key and by the certificate's own key is reported by Pebble's management API,
# shown by status, and the next renew replaces the certificate; a deactivated account is refused.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
EAB_KEY1=zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W
EAB_KEY2=b10lLJs8l1GPIzsLP0s6pMt8O0XVGnfTaCeROxQM0BIt2XrJMDHJZBM5NLYdLTPs
export HARNESS_PEBBLE_EAB_KEYS="kid-1=$EAB_KEY1,kid-2=$EAB_KEY2"
harness_start
use_certcli
listen="127.0.0.1:$CERTCLI_TEST_HTTP_PORT"

pebble_cert_status() {  # serial (hex, as certcli shows it) -> Pebble's "Status"
  local serial body
  serial=$(tr 'A-F' 'a-f' <<<"$1" | sed 's/^0*//')
  body=$(curl --noproxy '*' -sf --cacert "$CERTCLI_TEST_CA_BUNDLE" "$PEBBLE_MANAGEMENT_URL/cert-status-by-serial/$serial")
  json_field "$body" Status
}

# --- External Account Binding --------------------------------------------------------------
run_capture certcli account register --agree-tos --email ops@certcli.test
assert_eq 2 "$LAST_STATUS" "register without EAB exits 2"
assert_contains "$LAST_STDERR" "requires External Account Binding" "the refusal names EAB"
assert_contains "$LAST_STDERR" "--eab-kid" "the hint names the options"
[[ ! -e "$home/accounts" ]] || fail "a refused register wrote $(ls -R "$home/accounts")"

run_capture certcli domain add early.certcli.test
run_capture certcli issue early.certcli.test --agree-tos --http-listen "$listen"
assert_eq 2 "$LAST_STATUS" "issue creating an account without EAB exits 2"
assert_contains "$LAST_STDERR" "requires External Account Binding" "issue names EAB too"

run_capture certcli account register --agree-tos --email 'ops@certcli.test,evil@example.net' \
  --eab-kid kid-1 --eab-hmac-key '$ENV:EAB_KEY1'
assert_eq 3 "$LAST_STATUS" "a comma in a contact is refused"

export EAB_KEY1
run_capture certcli account register --agree-tos --email ops@certcli.test --eab-kid kid-1 \
  --eab-hmac-key '$ENV:EAB_KEY1' --json
assert_eq 0 "$LAST_STATUS" "register with EAB exits 0 (stderr: $LAST_STDERR)"
assert_eq true "$(json_field "$LAST_STDOUT" created)" "the account was created"
assert_eq kid-1 "$(json_field "$LAST_STDOUT" eab_kid)" "the record keeps the kid"
account_url=$(json_field "$LAST_STDOUT" url)
if grep -rq -e "$EAB_KEY1" "$home"; then fail "the EAB HMAC key was written to the state directory"; fi

run_capture certcli account update --email new@certcli.test --email second@certcli.test --json
assert_eq 0 "$LAST_STATUS" "update exits 0 (stderr: $LAST_STDERR)"
assert_eq "mailto:new@certcli.test"$'\n'"mailto:second@certcli.test" \
  "$(json_field "$(certcli account show --json)" contacts | sed 's/^/mailto:/; s/^mailto:mailto:/mailto:/')" \
  "contacts replaced"

# --- rollover, then an issuance signed with the new key --------------------------------------
certcli domain add roll.certcli.test >/dev/null
run_capture certcli account rollover --key-type ec384 --json
assert_eq 0 "$LAST_STATUS" "rollover exits 0 (stderr: $LAST_STDERR)"
assert_eq "$account_url" "$(json_field "$LAST_STDOUT" url)" "the account URL is unchanged"
assert_eq ec384 "$(json_field "$LAST_STDOUT" key_type)" "the new key is ec384"
old_key=$(json_field "$LAST_STDOUT" old_keys.0)
[[ -f "$old_key" ]] || fail "the old key was not archived ($old_key)"
grep -q "BEGIN" "$old_key" || fail "the archived old key is empty"
run_capture certcli issue roll.certcli.test --http-listen "$listen" --json
assert_eq 0 "$LAST_STATUS" "issue after rollover exits 0 (stderr: $LAST_STDERR)"
assert_eq "$account_url" "$(json_field "$LAST_STDOUT" account)" "issued on the same account"
assert_eq false "$(json_field "$LAST_STDOUT" account_created)" "no new account"
roll_serial=$(json_field "$LAST_STDOUT" certificate.serial)

# --- revocation with the account key -----------------------------------------------------------
run_capture certcli revoke roll.certcli.test --reason superseded --json
assert_eq 0 "$LAST_STATUS" "revoke exits 0 (stderr: $LAST_STDERR)"
assert_eq Revoked "$(pebble_cert_status "$roll_serial")" "Pebble reports the certificate revoked"
status_json=$(certcli status roll.certcli.test --json)
assert_eq revoked "$(json_field "$status_json" status)" "status --json says revoked"
assert_eq superseded "$(json_field "$status_json" revocation_reason)" "with the reason"
assert_contains "$(certcli status roll.certcli.test)" "revoked" "status says revoked"
run_capture certcli revoke roll.certcli.test
assert_eq 3 "$LAST_STATUS" "revoking it again is refused"
run_capture certcli renew roll.certcli.test --json
assert_eq 0 "$LAST_STATUS" "renew exits 0 (stderr: $LAST_STDERR)"
assert_eq renewed "$(json_field "$LAST_STDOUT" domains.0.action)" "renew replaces the revoked certificate"
status_json=$(certcli status roll.certcli.test --json)
assert_eq ready "$(json_field "$status_json" status)" "ready again"
[[ "$(json_field "$status_json" certificate.serial)" != "$roll_serial" ]] || fail "the serial did not change"

# --- revocation with the certificate's own key --------------------------------------------------
certcli domain add own.certcli.test >/dev/null
run_capture certcli issue own.certcli.test --http-listen "$listen" --json
assert_eq 0 "$LAST_STATUS" "issue exits 0 (stderr: $LAST_STDERR)"
own_serial=$(json_field "$LAST_STDOUT" certificate.serial)
run_capture certcli revoke own.certcli.test --with-cert-key --reason keyCompromise --json
assert_eq 0 "$LAST_STATUS" "revoke --with-cert-key exits 0 (stderr: $LAST_STDERR)"
assert_eq Revoked "$(pebble_cert_status "$own_serial")" "Pebble reports it revoked"
assert_eq keyCompromise "$(json_field "$(certcli status own.certcli.test --json)" revocation_reason)" "reason kept"

# --- a named account, deactivated -----------------------------------------------------------------
run_capture certcli account register --account team-b --agree-tos --eab-kid kid-2 --eab-hmac-key "$EAB_KEY2" --json
assert_eq 0 "$LAST_STATUS" "a named account registers (stderr: $LAST_STDERR)"
[[ "$(json_field "$LAST_STDOUT" url)" != "$account_url" ]] || fail "the named account is the default one"
[[ -f "$(find "$home/accounts" -path '*/team-b/account.toml' | head -1)" ]] || fail "no accounts/<ca>/team-b/"
# A domain issued with a named account remembers it: its renewals use that account.
certcli domain add team.certcli.test >/dev/null
run_capture certcli issue team.certcli.test --account team-b --http-listen "$listen"
assert_eq 0 "$LAST_STATUS" "issue with the named account exits 0 (stderr: $LAST_STDERR)"
grep -Eq "^account_name = ['\"]team-b['\"]" "$home/domains/team.certcli.test/domain.toml" || fail "domain.toml does not name team-b"
run_capture certcli account deactivate --account team-b
assert_eq 2 "$LAST_STATUS" "deactivate without --yes exits 2"
run_capture certcli account deactivate --account team-b --yes --json
assert_eq 0 "$LAST_STATUS" "deactivate exits 0 (stderr: $LAST_STDERR)"
assert_eq deactivated "$(json_field "$LAST_STDOUT" status)" "the record is marked"
run_capture certcli issue team.certcli.test --account team-b --http-listen "$listen"
assert_eq 3 "$LAST_STATUS" "issue with a deactivated account is refused"
assert_contains "$LAST_STDERR" "was deactivated" "the refusal says why"
assert_contains "$LAST_STDERR" "certcli account register" "and how to register a new one"
run_capture certcli renew team.certcli.test --force
assert_eq 11 "$LAST_STATUS" "renew of a domain whose account was deactivated fails"
assert_contains "$LAST_STDOUT $LAST_STDERR" "was deactivated" "renew used the domain's own account, not the default one"
run_capture certcli account update --account team-b --email x@certcli.test
assert_eq 3 "$LAST_STATUS" "account update on a deactivated account is refused"
assert_eq deactivated "$(json_field "$(certcli account show --account team-b --json)" status)" "show still shows it"

log=$(cat "$home/activity.jsonl")
for event in account.created account.updated account.rolled_over account.deactivated certificate.revoked; do
  assert_contains "$log" "\"event\":\"$event\"" "activity log has $event"
done
if grep -q -e "$EAB_KEY2" -e "$EAB_KEY1" "$home/activity.jsonl"; then fail "an EAB key reached the activity log"; fi
echo "ok: EAB, account update/rollover/deactivate, revocation by account and certificate key"
