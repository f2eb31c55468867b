#!/usr/bin/env bash
# Names as people write them, through the binary and Pebble: a Unicode name is stored in its
# A-label form and shown in both, a certificate issued for it names the A-label, either form
# finds the domain, one trailing dot is dropped, and public suffixes and malformed xn-- labels
# are refused (exit 3) with the reason.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_start
use_certcli
listen="127.0.0.1:$CERTCLI_TEST_HTTP_PORT"
unicode="bücher.example.test"
alabel="xn--bcher-kva.example.test"

run_capture certcli domain add "$unicode" --http-listen "$listen"
assert_eq 0 "$LAST_STATUS" "domain add of a Unicode name (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "Added $unicode ($alabel)" "domain add shows both forms"
[[ -f "$home/domains/$alabel/domain.toml" ]] || fail "the domain is not stored under its A-label: $(ls "$home/domains")"
grep -Eq "^name = [\"']$alabel[\"']\$" "$home/domains/$alabel/domain.toml" || fail "domain.toml does not hold the A-label"
if grep -rq "bücher" "$home/domains"; then fail "the Unicode form reached the state directory"; fi
run_capture certcli domain add "$alabel" --http-listen "$listen"
assert_contains "$LAST_STDOUT" "Already added, unchanged" "the A-label form names the same domain"
echo "ok: $unicode is stored as $alabel and shown in both forms"

run_capture certcli issue "$unicode" --agree-tos
assert_eq 0 "$LAST_STATUS" "issue by the Unicode name (stderr: $LAST_STDERR)"
sans=$(openssl x509 -in "$home/domains/$alabel/live/cert.pem" -noout -ext subjectAltName | tail -n +2 | tr -d ' ')
assert_eq "DNS:$alabel" "$sans" "SAN of the issued certificate"
echo "ok: the certificate issued for $unicode names DNS:$alabel"

for form in "$unicode" "$alabel" "$alabel."; do
  run_capture certcli status "$form"
  assert_eq 0 "$LAST_STATUS" "status $form (stderr: $LAST_STDERR)"
  assert_contains "$LAST_STDOUT" "$unicode ($alabel)" "status $form shows both forms"
  assert_contains "$LAST_STDOUT" "ready" "status $form"
done
run_capture certcli status
assert_contains "$LAST_STDOUT" "$unicode ($alabel)" "the status table shows both forms"
echo "ok: status finds the domain by either form (and with a trailing dot) and shows both"

run_capture certcli domain add Shop.Example.Test.
assert_eq 0 "$LAST_STATUS" "domain add with one trailing dot (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "Added shop.example.test (shop.example.test)"
echo "ok: one trailing dot is dropped"

refused() {  # refused NAME REASON
  local before
  before=$(state_snapshot "$home")
  run_expect_fail certcli domain add "$1"
  assert_eq 3 "$LAST_STATUS" "domain add $1 (stderr: $LAST_STDERR)"
  assert_contains "$LAST_STDERR" "'$1'" "the error names $1"
  assert_contains "$LAST_STDERR" "$2" "the reason $1 is refused"
  assert_eq "$before" "$(state_snapshot "$home")" "a refused domain add $1 changed the state directory"
}
refused "co.uk" "is a public suffix"
assert_contains "$LAST_STDERR" "give the name as it is registered" "the hint for a public suffix"
refused "*.com" "wildcard over the public suffix 'com'"
refused "*.co.uk" "wildcard over the public suffix 'co.uk'"
refused "xn--zz.example.test" "'xn--zz' is not a valid A-label"
refused "shop.example.test.." "two dots"
run_capture certcli domain add "*.example.co.uk" --dns-manual
assert_eq 0 "$LAST_STATUS" "a wildcard under a registered domain is fine (stderr: $LAST_STDERR)"
echo "ok: co.uk, *.com, *.co.uk, xn--zz.example.test and two trailing dots are refused with exit 3 and the reason"
