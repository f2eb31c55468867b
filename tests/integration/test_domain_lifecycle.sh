#!/usr/bin/env bash
# A domain's life after its first certificate, against real Pebble: a name added to a ready
# domain is "not covered" until renew issues a certificate with it; domain show --json lists
# the archive; remove then add again while the certificate is valid restores it as ready
# without a new order; domain restore; remove --purge refuses without a terminal or --yes and
# deletes with --yes; domain set changes the webroot and the next issue uses it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_start
use_certcli
listen="127.0.0.1:$CERTCLI_TEST_HTTP_PORT"
name=life.certcli.test
orders() { grep -c 'order-plz -> calling handler' "$HARNESS_DIR/pebble.log" || true; }
py() { "$HARNESS_PYTHON" -c "$@"; }

certcli domain add "$name" >/dev/null
run_capture certcli issue "$name" --email ops@certcli.test --agree-tos --http-listen "$listen"
assert_eq 0 "$LAST_STATUS" "first issue (stderr: $LAST_STDERR)"

# --- a new name on a ready domain ------------------------------------------------------------
run_capture certcli domain add "$name" --san "www.$name"
assert_eq 0 "$LAST_STATUS" "adding a name to an existing domain (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "Added to $name: www.$name"
run_capture certcli status "$name"
assert_contains "$LAST_STDOUT" "status:   ready"
assert_contains "$LAST_STDOUT" "names not covered: www.$name"
assert_eq "www.$name" "$(json_field "$(certcli status "$name" --json)" names_not_covered)" "status --json"
run_capture certcli domain show "$name"
assert_contains "$LAST_STDOUT" "names not covered: www.$name"
show=$(certcli domain show "$name" --json)
assert_eq false "$(json_field "$show" name_details.1.covered)" "www is not covered"
assert_eq true "$(json_field "$show" renewal.due)" "a domain with a name not covered is due"
grep -q '"event":"domain.changed"' "$home/activity.jsonl" || fail "no domain.changed event"
echo "ok: a name added to a ready domain shows as not covered, and the domain is due"

run_capture certcli renew "$name"
assert_eq 0 "$LAST_STATUS" "renew (stdout: $LAST_STDOUT stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT$LAST_STDERR" "names not covered: www.$name"
sans=$(openssl x509 -in "$home/domains/$name/live/cert.pem" -noout -ext subjectAltName | tail -n +2 | tr -d ' ')
assert_eq "DNS:$name,DNS:www.$name" "$sans" "SANs after renew"
assert_eq "" "$(json_field "$(certcli status "$name" --json)" names_not_covered)" "nothing uncovered after renew"
assert_not_contains "$(certcli status "$name")" "names not covered"
echo "ok: renew issues a certificate with the new name, which is then covered"

# --- domain show ---------------------------------------------------------------------------------
show=$(certcli domain show "$name" --json)
py 'import json,sys; json.loads(sys.argv[1])' "$show" || fail "domain show --json is not JSON"
assert_eq 2 "$(py 'import json,sys; print(len(json.loads(sys.argv[1])["archive"]))' "$show")" "archive versions"
live_serial=$(openssl x509 -in "$home/domains/$name/live/cert.pem" -noout -serial | cut -d= -f2)
assert_eq "$live_serial" "$(json_field "$show" archive.1.serial)" "the newer archive entry is the live certificate"
assert_eq true "$(json_field "$show" archive.1.live)"
assert_eq true "$(json_field "$show" name_details.1.covered)"
for key in created_at issued_at expires_at last_updated_at; do
  [[ "$(json_field "$show" "$key")" == 20??-??-??T??:??:??Z ]] || fail "$key is not RFC 3339: $show"
done
run_capture certcli domain show "$name"
assert_contains "$LAST_STDOUT" "serial $live_serial"
assert_contains "$LAST_STDOUT" "(live)"
echo "ok: domain show --json parses and lists the archive with serials"

# --- remove, then add again while the certificate is valid ---------------------------------------
certcli domain remove "$name" >/dev/null
before=$(orders)
run_capture certcli domain add "$name" --san "www.$name"
assert_eq 0 "$LAST_STATUS" "add of a removed name (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "Restored $name"
assert_contains "$LAST_STDOUT" "nothing was ordered"
assert_eq ready "$(json_field "$(certcli status "$name" --json)" status)" "status after the re-add"
assert_eq "$live_serial" "$(openssl x509 -in "$home/domains/$name/live/cert.pem" -noout -serial | cut -d= -f2)"
assert_eq "$before" "$(orders)" "newOrder calls at Pebble"
grep -q '"event":"domain.restored"' "$home/activity.jsonl" || fail "no domain.restored event"
echo "ok: adding a removed name whose certificate is valid restores it as ready, with no new order"

# --- domain restore -------------------------------------------------------------------------------
certcli domain remove "$name" >/dev/null
run_capture certcli domain restore "$name"
assert_eq 0 "$LAST_STATUS" "domain restore (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "status ready"
run_expect_fail certcli domain restore "$name"
assert_eq 3 "$LAST_STATUS" "restore over a managed name"
assert_contains "$LAST_STDERR" "managed again"
run_expect_fail certcli domain restore never.certcli.test
assert_eq 4 "$LAST_STATUS" "restore of a name never removed"
echo "ok: domain restore brings the removed copy back and refuses clearly otherwise"

# --- purge ----------------------------------------------------------------------------------------
certcli domain remove "$name" >/dev/null
certcli domain add "$name" >/dev/null  # other names: a fresh pending domain; the removed copy stays
certcli domain add other.certcli.test >/dev/null
run_expect_fail certcli domain remove "$name" --purge </dev/null
assert_eq 2 "$LAST_STATUS" "--purge without a terminal and without --yes"
assert_contains "$LAST_STDERR" "--yes"
[[ -f "$home/domains/$name/domain.toml" ]] || fail "a refused purge deleted the record"
run_capture certcli domain remove "$name" --purge --yes </dev/null
assert_eq 0 "$LAST_STATUS" "--purge --yes (stderr: $LAST_STDERR)"
[[ ! -e "$home/domains/$name" ]] || fail "the domain's directory is still there"
assert_eq "" "$(ls "$home/removed" | grep "^$name\." || true)" "removed copies after the purge"
[[ -f "$home/domains/other.certcli.test/domain.toml" ]] || fail "the purge touched another domain"
grep -q '"event":"domain.purged"' "$home/activity.jsonl" || fail "no domain.purged event"
run_expect_fail certcli domain restore "$name"
assert_eq 4 "$LAST_STATUS" "nothing to restore after a purge"
echo "ok: --purge refuses without a terminal or --yes, and with --yes deletes for good"

# --- domain set: the webroot ------------------------------------------------------------------------
wrong="$HARNESS_DIR/wrong-root"
right="$HARNESS_DIR/right-root"
mkdir -p "$wrong"
start_webroot_server "$right"
certcli domain add web.certcli.test --webroot "$wrong" >/dev/null
before=$(orders)
run_expect_fail certcli issue web.certcli.test
assert_eq 13 "$LAST_STATUS" "issue through a webroot no server serves (stderr: $LAST_STDERR)"
assert_eq "$before" "$(orders)" "a preflight failure orders nothing"
run_capture certcli domain set web.certcli.test --webroot "$right"
assert_eq 0 "$LAST_STATUS" "domain set (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "challenge http-01 via webroot $wrong -> http-01 via webroot $right"
grep '"event":"domain.changed"' "$home/activity.jsonl" | grep -q '"setting":"challenge"' || fail "no domain.changed event for the webroot"
assert_eq "$right" "$(json_field "$(certcli domain show web.certcli.test --json)" challenge_settings.webroot)"
run_capture certcli issue web.certcli.test
assert_eq 0 "$LAST_STATUS" "issue after domain set (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "via webroot $right"
run_capture certcli domain set web.certcli.test --webroot "$right"
assert_contains "$LAST_STDOUT" "unchanged"
run_expect_fail certcli domain set web.certcli.test
assert_eq 2 "$LAST_STATUS" "domain set with nothing to set"
run_expect_fail certcli domain set web.certcli.test --key-type ec999
assert_eq 3 "$LAST_STATUS" "domain set with an unknown key type"
echo "ok: domain set changes the webroot, and the next issue uses it"
