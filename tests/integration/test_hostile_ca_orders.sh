#!/usr/bin/env bash
# A CA is outside input (issue #24, hostile CAs): what it hands back is held to what certcli
# asked for. On the suite's own hostile server (hostile_acme.py):
#   - an order linking 3,000 more authorizations than it has names is refused before any
#     authorization is fetched;
#   - an authorization for a name that was not ordered is refused before any challenge is answered;
#   - a certificate whose names differ from the order, or whose key is not the CSR's, is refused
#     before anything is installed;
# each with a clear error (exit 7) within a bounded time, the domain failed with that error, no
# live/ certificate, and the order dropped so the next run orders anew. A problem detail (and a
# body that is not a problem document) carrying ESC[2J reaches stderr escaped, never as the
# byte. A plain-http directory URL is refused unless --insecure-http is given. Last, the same
# server in its well-behaved mode issues, which shows the refusals came from the modes.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/hostile_acme.sh"
harness_start
use_certcli
start_hostile_acme

webroot="$HARNESS_DIR/webroot-orders"
mkdir -p "$webroot"

# hostile_issue NAME — `issue NAME` at the hostile server, killed after 60 s: a refusal must
# come long before that (a loop over 3,000 authorizations would not).
hostile_issue() {
  run_capture timeout 60 "$CERTCLI_BIN" --home "$home" --directory "$HOSTILE_DIRECTORY" \
    --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" issue "$1" --email a@example.com --agree-tos --skip-preflight \
    --webroot "$webroot"
  ((LAST_STATUS != 124)) || fail "issue $1 did not end within 60 s"
}

# expect_refused NAME TEXT — the last run was refused with exit 7 and TEXT in its message, the
# domain is failed with that error, nothing is live and the order is dropped.
expect_refused() {
  local state
  assert_eq 7 "$LAST_STATUS" "exit code for $1 (stderr: $LAST_STDERR)"
  assert_contains "$LAST_STDERR" "$2" "the refusal of $1 says why"
  state=$(certcli_hostile status "$1" --json)
  assert_eq failed "$(json_field "$state" status)" "status of $1"
  assert_contains "$(json_field "$state" error.message)" "$2" "the recorded error of $1"
  assert_eq null "$(json_field "$state" order_url)" "the order of $1 is dropped"
  [[ ! -e "$home/domains/$1/live" ]] || fail "a certificate went live for $1: $(ls -l "$home/domains/$1/live")"
  [[ -z "$(ls -A "$home/domains/$1/archive" 2>/dev/null)" ]] || fail "a certificate was archived for $1"
}

# 1. 3,000 authorizations too many: refused before any is fetched.
hostile_mode '{"extra_authzs": 3000}'
certcli_hostile domain add many-authz.example.com >/dev/null
authz_before=$(hostile_count authz)
started=$SECONDS
hostile_issue many-authz.example.com
expect_refused many-authz.example.com "3001 authorizations for 1 name"
assert_eq "$authz_before" "$(hostile_count authz)" "authorizations fetched for an order with 3,001"
echo "ok: an order with 3,001 authorizations for 1 name is refused before any is fetched ($((SECONDS - started)) s)"

# 2. An authorization for a name not ordered: refused before any challenge is answered.
hostile_mode '{"foreign_authz": "victim.example.net"}'
certcli_hostile domain add foreign-authz.example.com --san www.foreign-authz.example.com >/dev/null
challenges_before=$(hostile_count challenge)
hostile_issue foreign-authz.example.com
expect_refused foreign-authz.example.com "an authorization for 'victim.example.net', a name certcli did not order"
assert_eq "$challenges_before" "$(hostile_count challenge)" "challenges answered for a foreign authorization"
[[ -z "$(ls -A "$webroot/.well-known/acme-challenge" 2>/dev/null)" ]] || fail "a challenge file was left in the webroot"
echo "ok: an authorization for a name not ordered is refused, no challenge answered"

# 3. A certificate with a name more than ordered: refused, nothing installed, the key kept.
hostile_mode '{"cert_extra_san": "victim.example.net"}'
certcli_hostile domain add extra-san.example.com >/dev/null
hostile_issue extra-san.example.com
expect_refused extra-san.example.com "the certificate from the CA is not for the names ordered: it adds 'victim.example.net'"
[[ -f "$home/domains/extra-san.example.com/pending/key.pem" ]] || fail "the order's key was not kept"
echo "ok: a certificate naming victim.example.net too is refused, nothing installed, the key kept"

# 4. A certificate for another key than the CSR's: refused, nothing installed.
hostile_mode '{"cert_other_key": true}'
certcli_hostile domain add other-key.example.com >/dev/null
hostile_issue other-key.example.com
expect_refused other-key.example.com "does not match the key certcli kept for this order"
echo "ok: a certificate for a key that is not the CSR's is refused, nothing installed"

# 5. ESC[2J in a problem detail, and in a body that is not a problem document: escaped on stderr.
esc=$'\e'
hostile_mode '{"new_order_status": 400, "new_order_detail": "clear \u001b[2Jthe screen\r\nforged: line"}'
certcli_hostile domain add escape.example.com >/dev/null
hostile_issue escape.example.com
assert_eq 7 "$LAST_STATUS" "exit code for a refused newOrder (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" 'clear \x1b[2Jthe screen\x0d\x0aforged: line' "the detail, escaped"
assert_not_contains "$LAST_STDERR" "$esc" "a raw ESC on stderr"
assert_not_contains "$(certcli_hostile status escape.example.com 2>&1)" "$esc" "a raw ESC in status"
hostile_mode '{"new_order_status": 500, "new_order_raw_body": "<html>\u001b]0;owned\u0007\u001b[2J</html>"}'
hostile_issue escape.example.com
assert_eq 7 "$LAST_STATUS" "exit code for a newOrder answered with text (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" '<html>\x1b]0;owned\x07\x1b[2J</html>' "the body, escaped"
assert_not_contains "$LAST_STDERR" "$esc" "a raw ESC on stderr"
echo "ok: ESC in a problem detail and in a plain-text error body reach stderr as \\x1b"

# 6. A plain-http directory URL: refused before any request, unless --insecure-http.
port=9  # discard: nothing answers there, so a request that is made fails to connect
run_capture timeout 30 "$CERTCLI_BIN" --home "$home" --directory "http://127.0.0.1:$port/dir" ca show
assert_eq 2 "$LAST_STATUS" "exit code for a plain-http directory (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "is not an https URL"
assert_contains "$LAST_STDERR" "--insecure-http"
run_capture timeout 30 "$CERTCLI_BIN" --home "$home" --directory "http://127.0.0.1:$port/dir" --insecure-http ca show
assert_not_contains "$LAST_STDERR" "is not an https URL" "--insecure-http lets a plain-http directory through"
assert_contains "$LAST_STDERR" "127.0.0.1:$port" "the request went to the plain-http directory"
echo "ok: a plain-http directory is refused (exit 2) unless --insecure-http is given"

# 7. The same server behaving: the refused domains issue, each through a new order.
hostile_mode '{}'
for name in many-authz.example.com foreign-authz.example.com extra-san.example.com other-key.example.com; do
  hostile_issue "$name"
  assert_eq 0 "$LAST_STATUS" "issue $name from the well-behaved server (stderr: $LAST_STDERR)"
  assert_eq ready "$(json_field "$(certcli_hostile status "$name" --json)" status)"
done
assert_contains "$(openssl x509 -in "$home/domains/foreign-authz.example.com/live/cert.pem" -noout -ext subjectAltName)" \
  "DNS:www.foreign-authz.example.com"
echo "ok: the well-behaved server issues for every refused domain (the refusals were the modes')"
