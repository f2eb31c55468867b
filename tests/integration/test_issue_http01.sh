#!/usr/bin/env bash
# End to end over http-01 against real Pebble: a certificate for two names through the certcli
# binary, checked with OpenSSL (chain to Pebble's root, SANs, key match), file modes in the
# state directory, a second issuance that reuses the stored account, and the webroot solver
# behind a real web server.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_start
use_certcli
listen="127.0.0.1:$CERTCLI_TEST_HTTP_PORT"

certcli domain add shop.certcli.test --san www.shop.certcli.test >/dev/null
run_capture certcli issue shop.certcli.test --email ops@certcli.test --agree-tos --http-listen "$listen" --json
assert_eq 0 "$LAST_STATUS" "first issue exits 0 (stderr: $LAST_STDERR)"
first="$LAST_STDOUT"
assert_eq true "$(json_field "$first" account_created)" "the first issuance registers an account"
assert_eq ready "$(json_field "$first" status)"
echo "ok: issued a certificate over http-01 ($(json_field "$first" acme_requests) ACME requests)"

live="$home/domains/shop.certcli.test/live"
openssl verify -CAfile "$PEBBLE_ROOT_PEM" -untrusted "$live/chain.pem" "$live/cert.pem" >/dev/null ||
  fail "the chain does not verify to Pebble's root"
openssl verify -CAfile "$PEBBLE_ROOT_PEM" -untrusted "$live/fullchain.pem" "$live/cert.pem" >/dev/null ||
  fail "fullchain.pem does not carry the chain"
echo "ok: the chain verifies to Pebble's root"

sans=$(openssl x509 -in "$live/cert.pem" -noout -ext subjectAltName | tail -n +2 | tr -d ' ')
assert_eq "DNS:shop.certcli.test,DNS:www.shop.certcli.test" "$sans" "SANs of the issued certificate"
echo "ok: the SANs are the two names"

cert_pub=$(openssl x509 -in "$live/cert.pem" -noout -pubkey)
key_pub=$(openssl pkey -in "$live/key.pem" -pubout)
assert_eq "$cert_pub" "$key_pub" "the stored key is the certificate's key"
echo "ok: the stored key matches the certificate"

bad_dirs=$(find "$home" -type d ! -perm 700)
assert_eq "" "$bad_dirs" "directories that are not 0700"
for key in "$live/key.pem" "$home"/accounts/*/account.key; do assert_file_mode 600 "$key"; done
world_readable=$(find "$home" -type f -perm /077)
assert_eq "" "$world_readable" "files readable by group or others"
echo "ok: directories 0700, keys 0600, nothing readable by others"

status=$(certcli status shop.certcli.test --json)
assert_eq ready "$(json_field "$status" status)"
assert_eq completed "$(json_field "$status" phase)"
assert_eq null "$(json_field "$status" error)"
assert_eq false "$(json_field "$status" interrupted)"
assert_eq "$(openssl x509 -in "$live/cert.pem" -noout -serial | cut -d= -f2)" "$(json_field "$status" certificate.serial)"
[[ "$(json_field "$status" issued_at)" == 20??-??-??T??:??:??Z ]] || fail "issued_at is not RFC 3339: $status"
echo "ok: status --json reports ready with the live certificate"

# A second issuance: same account (no newAccount registration), a new certificate, the old one
# archived. No --directory this time: the domain remembers its CA.
accounts_before=$(ls "$home/accounts")
assert_eq "$CERTCLI_TEST_DIRECTORY" "$(json_field "$status" ca)" "the CA recorded with the domain"
run_capture "$CERTCLI_BIN" --home "$home" --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" issue shop.certcli.test --http-listen "$listen" --json
assert_eq 0 "$LAST_STATUS" "second issue exits 0 (stderr: $LAST_STDERR)"
second="$LAST_STDOUT"
assert_eq false "$(json_field "$second" account_created)" "the second issuance creates no account"
assert_eq "$(json_field "$first" account)" "$(json_field "$second" account)" "the account URL is reused"
assert_not_contains "$LAST_STDERR" "registering" "the second run must not register"
assert_contains "$LAST_STDERR" "contacting $CERTCLI_TEST_DIRECTORY" "the second run uses the remembered CA"
assert_eq "$accounts_before" "$(ls "$home/accounts")" "account directories"
assert_eq 1 "$(grep -c '"event":"account.created"' "$home/activity.jsonl")" "account.created events"
[[ "$(json_field "$first" certificate.serial)" != "$(json_field "$second" certificate.serial)" ]] || fail "the second issuance returned the same certificate"
assert_eq 2 "$(ls "$home/domains/shop.certcli.test/archive" | wc -l)" "archived certificates"
echo "ok: a second issue reuses the stored account and archives the previous certificate"

# RS256: a new account with an RSA key in another state directory, and an RSA certificate key.
rsa() { "$CERTCLI_BIN" --home "$HARNESS_DIR/rsa-home" --directory "$CERTCLI_TEST_DIRECTORY" --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" "$@"; }
rsa domain add rsa.certcli.test --key-type rsa2048 >/dev/null
run_capture rsa issue rsa.certcli.test --agree-tos --account-key-type rsa2048 --http-listen "$listen" --json
assert_eq 0 "$LAST_STATUS" "RSA issue exits 0 (stderr: $LAST_STDERR)"
assert_contains "$(openssl pkey -in "$HARNESS_DIR"/rsa-home/accounts/*/account.key -noout -text)" "Private-Key: (2048 bit" "RSA account key"
assert_contains "$(openssl x509 -in "$HARNESS_DIR/rsa-home/domains/rsa.certcli.test/live/cert.pem" -noout -text)" \
  "Public-Key: (2048 bit)" "RSA certificate key"
assert_contains "$(openssl x509 -in "$HARNESS_DIR/rsa-home/domains/rsa.certcli.test/live/cert.pem" -noout -text)" "rsaEncryption"
echo "ok: an RS256 account issues a certificate with an RSA key"

# The webroot solver, with a real web server serving the webroot on the port Pebble checks.
webroot="$HARNESS_DIR/webroot"
start_webroot_server "$webroot"
certcli domain add static.certcli.test --webroot "$webroot" >/dev/null
run_capture certcli issue static.certcli.test --json
assert_eq 0 "$LAST_STATUS" "webroot issue exits 0 (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "via webroot $webroot"
assert_eq "static.certcli.test" "$(json_field "$LAST_STDOUT" names)"
assert_eq "" "$(find "$webroot/.well-known/acme-challenge" -type f)" "challenge files are cleaned up"
echo "ok: the webroot solver issues through an existing web server and cleans up"
