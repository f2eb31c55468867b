#!/usr/bin/env bash
# Orders beyond one DNS name, against real Pebble: an IP address identifier (RFC 8738) validated
# over http-01 at the address itself; alternate chains (PEBBLE_ALTERNATE_ROOTS=2) with
# --preferred-chain picking the one that ends at a given root; --reuse-key keeping the public
# key; an operator's CSR (issue --csr) whose key certcli never holds, sent again on renewal;
# and --profile / --preferred-profile against a CA whose directory lists no profiles.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
export PEBBLE_ALTERNATE_ROOTS=2
harness_start
use_certcli
listen="127.0.0.1:$CERTCLI_TEST_HTTP_PORT"
pubkey() { openssl pkey -pubin -in <(openssl x509 -in "$1" -noout -pubkey) -pubout; }

# --- IP address identifiers -------------------------------------------------------------------
run_capture certcli domain add 127.0.0.1 --http-listen "$listen"
assert_eq 0 "$LAST_STATUS" "domain add 127.0.0.1 (stderr: $LAST_STDERR)"
[[ -f "$home/domains/ip-127.0.0.1/domain.toml" ]] || fail "the IP domain is not stored under domains/ip-127.0.0.1/"
run_capture certcli issue 127.0.0.1 --agree-tos --email ops@certcli.test --json
assert_eq 0 "$LAST_STATUS" "issue for 127.0.0.1 (stderr: $LAST_STDERR)"
live="$home/domains/ip-127.0.0.1/live"
sans=$(openssl x509 -in "$live/cert.pem" -noout -ext subjectAltName | tail -n +2 | tr -d ' ')
assert_eq "IPAddress:127.0.0.1" "$sans" "SANs of the IP certificate"
openssl verify -CAfile "$PEBBLE_ROOT_PEM" -untrusted "$live/chain.pem" "$live/cert.pem" >/dev/null ||
  fail "the IP certificate does not verify to Pebble's root"
assert_eq ready "$(json_field "$(certcli status 127.0.0.1 --json)" status)" "status of the IP domain"
echo "ok: a certificate for the IP address 127.0.0.1, its SAN an iPAddress"

run_capture certcli domain add 127.0.0.2 --dns-manual
assert_eq 3 "$LAST_STATUS" "dns-01 for an IP address is refused"
assert_contains "$LAST_STDERR" "only http-01 can validate"
run_capture certcli domain add 127.0.0.3 --wildcard --http-listen "$listen"
assert_eq 3 "$LAST_STATUS" "a wildcard over an IP address is refused"
[[ ! -e "$home/domains/ip-127.0.0.2/domain.toml" && ! -e "$home/domains/ip-127.0.0.3/domain.toml" ]] ||
  fail "a refused IP domain was stored"
run_capture certcli domain add ::1 --http-listen "$listen"
assert_eq 0 "$LAST_STATUS" "domain add ::1 (stderr: $LAST_STDERR)"
[[ -f "$home/domains/ip---1/domain.toml" ]] || fail "::1 is not stored under domains/ip---1/"
echo "ok: dns-01 and wildcards are refused for IP addresses; IPv6 is stored path-safe"

# --- preferred chains -------------------------------------------------------------------------
root_cn() { openssl x509 -in "$1" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= //p'; }
for n in 0 1 2; do
  curl -sf --cacert "$CERTCLI_TEST_CA_BUNDLE" -o "$HARNESS_DIR/root$n.pem" "$PEBBLE_MANAGEMENT_URL/roots/$n" ||
    fail "Pebble has no root $n (PEBBLE_ALTERNATE_ROOTS did not reach it)"
done
cn2=$(root_cn "$HARNESS_DIR/root2.pem")
[[ -n "$cn2" && "$cn2" != "$(root_cn "$HARNESS_DIR/root0.pem")" ]] || fail "the alternate root has no distinct CN"
certcli domain add chain.certcli.test --http-listen "$listen" --preferred-chain "$cn2" >/dev/null
run_capture certcli -v issue chain.certcli.test --json
assert_eq 0 "$LAST_STATUS" "issue with a preferred chain (stderr: $LAST_STDERR)"
live="$home/domains/chain.certcli.test/live"
openssl verify -CAfile "$HARNESS_DIR/root2.pem" -untrusted "$live/chain.pem" "$live/cert.pem" >/dev/null ||
  fail "the kept chain does not verify to the preferred root ($cn2)"
if openssl verify -CAfile "$HARNESS_DIR/root0.pem" -untrusted "$live/chain.pem" "$live/cert.pem" >/dev/null 2>&1; then
  fail "the kept chain is still the default one"
fi
openssl verify -CAfile "$HARNESS_DIR/root2.pem" -untrusted "$live/fullchain.pem" "$live/cert.pem" >/dev/null ||
  fail "fullchain.pem does not carry the preferred chain"
# Distinct URLs, not POST lines: Pebble refuses 5% of good nonces, and the retry repeats a POST.
assert_eq 3 "$(grep -o 'certcli: http: POST [^ ]*/cert[^ ]*' <<<"$LAST_STDERR" | sort -u | wc -l)" \
  "distinct certificate URLs fetched (the default chain and its 2 alternates)"
assert_contains "$(cat "$home/domains/chain.certcli.test/domain.toml")" "preferred_chain = '$cn2'" "remembered"
echo "ok: --preferred-chain keeps the chain ending at $cn2 (openssl verify against that root)"

certcli domain set chain.certcli.test --preferred-chain "No Such Root" >/dev/null
run_capture certcli issue chain.certcli.test
assert_eq 0 "$LAST_STATUS" "issue with an unmatched preferred chain (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "keeping its default chain"
openssl verify -CAfile "$HARNESS_DIR/root0.pem" -untrusted "$live/chain.pem" "$live/cert.pem" >/dev/null ||
  fail "without a match the default chain is not kept"
echo "ok: a preferred chain no chain matches keeps the default with a note"

# --- --reuse-key --------------------------------------------------------------------------------
certcli domain add reuse.certcli.test --http-listen "$listen" >/dev/null
certcli issue reuse.certcli.test >/dev/null 2>&1 || fail "first issue of reuse.certcli.test"
live="$home/domains/reuse.certcli.test/live"
first_key=$(pubkey "$live/cert.pem")
first_serial=$(openssl x509 -in "$live/cert.pem" -noout -serial)
run_capture certcli issue reuse.certcli.test --reuse-key
assert_eq 0 "$LAST_STATUS" "issue --reuse-key (stderr: $LAST_STDERR)"
[[ "$first_serial" != "$(openssl x509 -in "$live/cert.pem" -noout -serial)" ]] || fail "no new certificate"
assert_eq "$first_key" "$(pubkey "$live/cert.pem")" "the public key after --reuse-key"
assert_eq "$first_key" "$(openssl pkey -in "$live/key.pem" -pubout)" "the stored key after --reuse-key"
certcli issue reuse.certcli.test >/dev/null 2>&1 || fail "third issue of reuse.certcli.test"
[[ "$first_key" != "$(pubkey "$live/cert.pem")" ]] || fail "without --reuse-key the key was kept"
certcli domain set reuse.certcli.test --reuse-key >/dev/null
second_key=$(pubkey "$live/cert.pem")
run_capture certcli renew reuse.certcli.test --force
assert_eq 0 "$LAST_STATUS" "renew with the domain's reuse_key (stderr: $LAST_STDERR)"
assert_eq "$second_key" "$(pubkey "$live/cert.pem")" "the public key after a renewal with reuse_key"
echo "ok: --reuse-key (issue, and domain set for renewals) keeps the public key"

# --- issue --csr --------------------------------------------------------------------------------
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$HARNESS_DIR/csr.key" \
  -subj /CN=csr.certcli.test -addext "subjectAltName=DNS:csr.certcli.test,DNS:www.csr.certcli.test" \
  -out "$HARNESS_DIR/csr.pem" 2>/dev/null
openssl req -in "$HARNESS_DIR/csr.pem" -outform DER -out "$HARNESS_DIR/csr.der"
openssl req -new -key "$HARNESS_DIR/csr.key" -subj /CN=csr.certcli.test -addext "subjectAltName=DNS:other.certcli.test" \
  -out "$HARNESS_DIR/other.pem" 2>/dev/null
certcli domain add csr.certcli.test --san www.csr.certcli.test --http-listen "$listen" >/dev/null
run_capture certcli issue csr.certcli.test --csr "$HARNESS_DIR/other.pem"
assert_eq 3 "$LAST_STATUS" "a CSR for other names is refused"
assert_contains "$LAST_STDERR" "other.certcli.test, which csr.certcli.test does not"
assert_contains "$LAST_STDERR" "www.csr.certcli.test, which the CSR lacks"
run_capture certcli issue csr.certcli.test --csr "$HARNESS_DIR/csr.pem"
assert_eq 0 "$LAST_STATUS" "issue --csr (stderr: $LAST_STDERR)"
live="$home/domains/csr.certcli.test/live"
[[ ! -e "$live/key.pem" ]] || fail "live/ holds a key.pem for a CSR certcli did not make"
csr_key=$(openssl pkey -in "$HARNESS_DIR/csr.key" -pubout)
assert_eq "$csr_key" "$(pubkey "$live/cert.pem")" "the certificate carries the CSR's key"
sans=$(openssl x509 -in "$live/cert.pem" -noout -ext subjectAltName | tail -n +2 | tr -d ' ')
assert_eq "DNS:csr.certcli.test,DNS:www.csr.certcli.test" "$sans" "SANs of the CSR certificate"
assert_eq ready "$(json_field "$(certcli status csr.certcli.test --json)" status)" "status of the CSR domain"
run_capture certcli renew csr.certcli.test --force
assert_eq 0 "$LAST_STATUS" "renew of a CSR domain (stderr: $LAST_STDERR)"
assert_eq "$csr_key" "$(pubkey "$live/cert.pem")" "a renewal sends the stored CSR again"
run_capture certcli issue csr.certcli.test --csr "$HARNESS_DIR/csr.der"
assert_eq 0 "$LAST_STATUS" "issue --csr with a DER request (stderr: $LAST_STDERR)"
echo "ok: issue --csr (PEM and DER) keeps the operator's key, checks the names, renews with the stored CSR"

# --- profiles (this Pebble lists none) ----------------------------------------------------------
profiles=$(curl -sf --cacert "$CERTCLI_TEST_CA_BUNDLE" "$CERTCLI_TEST_DIRECTORY" | "$HARNESS_PYTHON" -c \
  'import json,sys; print(len(json.load(sys.stdin).get("meta", {}).get("profiles", {})))')
assert_eq 0 "$profiles" "profiles in Pebble's directory (this test assumes none)"
certcli domain add profile.certcli.test --http-listen "$listen" >/dev/null
run_capture certcli issue profile.certcli.test --profile shortlived
assert_eq 3 "$LAST_STATUS" "--profile the CA lacks is refused"
assert_contains "$LAST_STDERR" "offers no certificate profile 'shortlived' (its profiles: none)"
assert_not_contains "$(cat "$home/domains/profile.certcli.test/domain.toml")" "shortlived" "a refused run saves nothing"
run_capture certcli issue profile.certcli.test --preferred-profile shortlived
assert_eq 0 "$LAST_STATUS" "--preferred-profile falls back (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "ordering with its default profile"
echo "ok: --profile is refused naming the CA's profiles; --preferred-profile falls back with a note"
