#!/usr/bin/env bash
# `-v` shows every request and response of a full issuance (a new account with External
# Account Binding, the order, the challenge, finalize, the certificate) and no secret: no JWS
# signature, no EAB MAC or key, no key authorization (token.thumbprint), no private key.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
EAB_KEY=zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W
export HARNESS_PEBBLE_EAB_KEYS="kid-1=$EAB_KEY"
harness_start
use_certcli
export EAB_KEY

certcli domain add trace.certcli.test >/dev/null
# shellcheck disable=SC2016  # '$ENV:EAB_KEY' is certcli's reference syntax, not the shell's
run_capture certcli -v issue trace.certcli.test --agree-tos --email ops@certcli.test \
  --http-listen "127.0.0.1:$CERTCLI_TEST_HTTP_PORT" --eab-kid kid-1 --eab-hmac-key '$ENV:EAB_KEY'
assert_eq 0 "$LAST_STATUS" "issue -v exits 0 (stderr: $LAST_STDERR)"
trace=$LAST_STDERR

# What is there: the request lines, the decoded JWS, the responses.
for kind in "http> HEAD " "http> POST " "http> GET " "http< HTTP 201" "http< HTTP 200" "http< replay-nonce: "; do
  assert_contains "$trace" "certcli: $kind" "the trace shows '$kind'"
done
assert_contains "$trace" '"protected":{' "the JWS protected header, decoded"
assert_contains "$trace" '"externalAccountBinding":{' "the EAB, decoded"
assert_contains "$trace" '"kid":"kid-1"' "the EAB key id (not a secret)"
assert_contains "$trace" '"identifiers":[{"type":"dns","value":"trace.certcli.test"}]' "the newOrder payload"
requests=$(grep -c '^certcli: http: ' <<<"$trace")
((requests >= 9)) || fail "expected at least 9 requests in a full issuance, traced $requests"
assert_eq "$requests" "$(grep -c '^certcli: http> [A-Z]* http' <<<"$trace")" "one request line per request"

# What is not: every signature member is "(redacted)", the EAB MAC key appears in no form.
signatures=$(grep -o '"signature":"[^"]*"' <<<"$trace" | sort | uniq -c)
[[ -n $signatures ]] || fail "no signature member in the trace (is the JWS shown at all?)"
assert_eq '"signature":"(redacted)"' "$(grep -o '"signature":"[^"]*"' <<<"$trace" | sort -u)" "signatures in the trace"
assert_not_contains "$trace" "$EAB_KEY" "the EAB MAC key"
# A signature as certcli sent it: base64url of 64 bytes (ES256) or the HS256 MAC (32 bytes) after
# a '"signature":"' of the raw JSON, which the trace must never show undecoded.
if grep -Eq '"(protected|payload)":"[A-Za-z0-9_-]{20,}"' <<<"$trace"; then
  fail "a JWS part is shown still encoded (and its signature may be next to it)"
fi
if grep -q 'BEGIN .*PRIVATE KEY' <<<"$trace"; then fail "a private key is in the trace"; fi

# The key authorization: each challenge token of the trace, with the account key's thumbprint.
account_key=$(find "$home/accounts" -name account.key | head -n 1)
[[ -f $account_key ]] || fail "no account key under $home/accounts"
thumbprint=$(openssl pkey -in "$account_key" -pubout -outform DER | "$HARNESS_PYTHON" -c '
import base64, hashlib, json, sys
point = sys.stdin.buffer.read()[-64:]   # P-256 public point X || Y (ES256 account key)
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
jwk = json.dumps({"crv": "P-256", "kty": "EC", "x": b64(point[:32]), "y": b64(point[32:])}, separators=(",", ":"), sort_keys=True)
print(b64(hashlib.sha256(jwk.encode()).digest()))')
tokens=$(grep -o '"token":"[A-Za-z0-9_-]*"' <<<"$trace" | cut -d'"' -f4 | sort -u)
[[ -n $tokens ]] || fail "no challenge token in the trace"
for token in $tokens; do
  assert_not_contains "$trace" "$token.$thumbprint" "the key authorization of token $token"
done
assert_not_contains "$trace" "$thumbprint" "the account key's thumbprint (the second half of every key authorization)"
echo "ok: -v traced $requests requests of an issuance with EAB, with no signature, MAC key, key authorization or private key"
