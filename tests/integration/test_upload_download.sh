#!/usr/bin/env bash
# Issue #21: `upload` (checked, self-managed), `download` in every format, and `covers`, with a
# private PKI made here with OpenSSL (root, intermediate, leaves good and bad), and downloads of
# Pebble-issued certificates, one with its key encrypted at rest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_start
use_certcli
listen="127.0.0.1:$CERTCLI_TEST_HTTP_PORT"

# --- A private PKI -------------------------------------------------------------------------
pki="$HARNESS_DIR/pki"
mkdir -p "$pki/ca"
cd "$pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key -out root.pem -days 3650 \
  -subj "/CN=certcli Test Root" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout int.key -out int.csr \
  -subj "/CN=certcli Test Intermediate" 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' >int.ext
openssl x509 -req -in int.csr -CA root.pem -CAkey root.key -CAcreateserial -days 3650 -extfile int.ext -out int.pem 2>/dev/null
touch ca/index.txt
echo 1000 >ca/serial
cat >ca.cnf <<CNF
[ca]
default_ca = test
[test]
database = $pki/ca/index.txt
serial = $pki/ca/serial
new_certs_dir = $pki/ca
default_md = sha256
policy = anything
unique_subject = no
[anything]
commonName = supplied
CNF
# leaf OUT KEY SANS START END — a leaf signed by the intermediate (dates as YYYYMMDDHHMMSSZ).
leaf() {
  local out=$1 key=$2 sans=$3 start=$4 end=$5
  [[ -f "$key" ]] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$key" 2>/dev/null
  openssl req -new -key "$key" -subj "/CN=${sans%%,*}" -out "$out.csr" 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    "$(sed 's/\([^,]*\)/DNS:\1/g' <<<"$sans")" >"$out.ext"
  openssl ca -batch -config ca.cnf -cert int.pem -keyfile int.key -in "$out.csr" -out "$out" -notext \
    -startdate "$start" -enddate "$end" -extfile "$out.ext" 2>/dev/null
}
now_start=$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)
end=$(date -u -d '+60 days' +%Y%m%d%H%M%SZ)
leaf good.pem good.key "up.certcli.test,www.up.certcli.test" "$now_start" "$end"
leaf more.pem more.key "up.certcli.test,www.up.certcli.test,api.up.certcli.test" "$now_start" "$end"
leaf partial.pem partial.key "up.certcli.test,other.certcli.test" "$now_start" "$end"
leaf expired.pem expired.key "up.certcli.test,www.up.certcli.test" 20200101000000Z 20200301000000Z
leaf future.pem future.key "soon.certcli.test" "$(date -u -d '+5 days' +%Y%m%d%H%M%SZ)" "$end"
leaf wild.pem wild.key "*.cov.certcli.test" "$now_start" "$end"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out wrong.key 2>/dev/null
head -c 600 /dev/urandom >garbage.bin
cat root.pem int.pem good.pem >reversed-fullchain.pem
cat int.pem root.pem >chain.pem
echo "ok: a private PKI (root, intermediate, leaves good, more names, partial, expired, not yet valid, wildcard)"
cd - >/dev/null

# --- upload: every refusal names what is wrong and changes no byte ---------------------------
certcli domain add up.certcli.test --san www.up.certcli.test >/dev/null
before=$(state_snapshot "$home")
refuse() {  # refuse EXIT_CODE EXPECTED_TEXT ARGS...
  local code=$1 text=$2
  shift 2
  run_capture certcli upload "$@" </dev/null
  assert_eq "$code" "$LAST_STATUS" "exit status of upload $* (stderr: $LAST_STDERR)"
  assert_contains "$LAST_STDERR" "$text"
  assert_eq "$before" "$(state_snapshot "$home")" "the state directory after refused upload $*"
}
refuse 3 "$pki/garbage.bin holds no certificate: it is neither PEM" up.certcli.test --cert "$pki/garbage.bin" --key "$pki/good.key"
printf -- '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n' | cat "$pki/good.pem" - >"$pki/bad-block.pem"
refuse 3 "$pki/bad-block.pem: block 2 (line" up.certcli.test --cert "$pki/bad-block.pem" --key "$pki/good.key"
refuse 3 "$pki/wrong.key does not match the certificate in $pki/good.pem" up.certcli.test --cert "$pki/good.pem" --key "$pki/wrong.key" --chain "$pki/chain.pem"
refuse 3 "expired on 2020-03-01T00:00:00Z" up.certcli.test --cert "$pki/expired.pem" --key "$pki/expired.key" --chain "$pki/chain.pem"
refuse 3 "does not cover 1 of up.certcli.test's names: www.up.certcli.test (no name of the certificate covers it)" \
  up.certcli.test --cert "$pki/partial.pem" --key "$pki/partial.key" --chain "$pki/chain.pem"
refuse 3 "the intermediate certificate 'CN=certcli Test Intermediate' that issued 'CN=up.certcli.test' is missing" \
  up.certcli.test --cert "$pki/good.pem" --key "$pki/good.key" --chain "$pki/root.pem"
refuse 2 "soon.certcli.test is not managed yet" soon.certcli.test --cert "$pki/future.pem" --key "$pki/future.key" --chain "$pki/chain.pem"
refuse 3 "does not cover new.certcli.test: new.certcli.test (no name of the certificate covers it)" new.certcli.test --cert "$pki/good.pem" --key "$pki/good.key" --chain "$pki/chain.pem" --yes
refuse 3 "is a PRIVATE KEY, not a CERTIFICATE" up.certcli.test --cert "$pki/good.key" --key "$pki/good.key"
echo "ok: garbage, a bad PEM block, a wrong key, expired, uncovered names, a missing intermediate and a new name without --yes are refused; no byte changed"

# A good upload: the full chain in one file, reversed: reordered, the root dropped.
run_capture certcli upload up.certcli.test --cert "$pki/reversed-fullchain.pem" --key "$pki/good.key" --json
assert_eq 0 "$LAST_STATUS" "upload (stderr: $LAST_STDERR)"
assert_eq true "$(json_field "$LAST_STDOUT" chain_reordered)"
assert_contains "$LAST_STDERR" "dropped the root 'CN=certcli Test Root'"
assert_eq self-managed "$(json_field "$LAST_STDOUT" management)"
live="$home/domains/up.certcli.test/live"
assert_eq "$(openssl x509 -in "$pki/int.pem")" "$(openssl x509 -in "$live/chain.pem")" "chain.pem holds the intermediate"
openssl verify -CAfile "$pki/root.pem" -untrusted "$live/chain.pem" "$live/cert.pem" >/dev/null || fail "the uploaded chain does not verify"
assert_eq "$(openssl x509 -in "$live/cert.pem" -noout -pubkey)" "$(openssl pkey -in "$live/key.pem" -pubout)" "live key matches"
assert_contains "$(tail -n 1 "$home/activity.jsonl")" '"event":"certificate.uploaded"'
echo "ok: a reversed full chain is reordered, its root dropped, and installed as self-managed"

status=$(certcli status up.certcli.test --json)
assert_eq self-managed "$(json_field "$status" management)"
assert_eq ready "$(json_field "$status" status)"
assert_contains "$(certcli status up.certcli.test)" "managed:  no: self-managed"
run_capture certcli renew up.certcli.test --json
assert_eq 0 "$LAST_STATUS" "renew (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "self-managed: certcli does not renew it"
assert_eq "$(openssl x509 -in "$pki/good.pem" -noout -serial)" "$(openssl x509 -in "$live/cert.pem" -noout -serial)" "renew left it alone"
echo "ok: status shows it self-managed; renew skips it, saying so"

# A change of names: refused without --yes and a terminal, byte-identical; then with --yes.
before=$(state_snapshot "$home")
refuse 2 "names differ from the live certificate's (added: api.up.certcli.test; removed: none) and there is no terminal" \
  up.certcli.test --cert "$pki/more.pem" --key "$pki/more.key" --chain "$pki/chain.pem"
run_capture certcli upload up.certcli.test --cert "$pki/more.pem" --key "$pki/more.key" --chain "$pki/chain.pem" --yes --json
assert_eq 0 "$LAST_STATUS" "upload --yes (stderr: $LAST_STDERR)"
assert_eq api.up.certcli.test "$(json_field "$LAST_STDOUT" names_added)"
first_version=$(json_field "$LAST_STDOUT" previous_version)
assert_eq 2 "$(ls "$home/domains/up.certcli.test/archive" | wc -l)" "the previous certificate stays in the archive"
echo "ok: a change of names needs --yes (or a terminal); the previous certificate stays archived"

# A new name is added from the certificate with --yes; keys as PKCS#1, SEC1, encrypted PKCS#8, DER.
openssl genrsa -traditional -out "$pki/rsa1.key" 2048 2>/dev/null
grep -q 'BEGIN RSA PRIVATE KEY' "$pki/rsa1.key" || fail "expected a PKCS#1 key"
cd "$pki" && leaf rsa.pem rsa1.key "rsa.certcli.test" "$now_start" "$end" && cd - >/dev/null
run_capture certcli upload rsa.certcli.test --cert "$pki/rsa.pem" --key "$pki/rsa1.key" --chain "$pki/chain.pem" --yes --json
assert_eq 0 "$LAST_STATUS" "PKCS#1 upload (stderr: $LAST_STDERR)"
assert_eq true "$(json_field "$LAST_STDOUT" created)"
openssl ecparam -name prime256v1 -genkey -noout -out "$pki/sec1.key"
grep -q 'BEGIN EC PRIVATE KEY' "$pki/sec1.key" || fail "expected a SEC1 key"
cd "$pki" && leaf sec1.pem sec1.key "sec1.certcli.test" "$now_start" "$end" && cd - >/dev/null
openssl x509 -in "$pki/sec1.pem" -outform DER -out "$pki/sec1.der"
openssl pkcs8 -topk8 -in "$pki/sec1.key" -passout pass:keypass -v2 aes-256-cbc -out "$pki/sec1-enc.key"
echo keypass >"$pki/keypass"
run_capture certcli upload sec1.certcli.test --cert "$pki/sec1.der" --key "$pki/sec1-enc.key" --chain "$pki/chain.pem" --yes
assert_eq 3 "$LAST_STATUS" "an encrypted key without its passphrase (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "--key-passphrase-file"
run_capture certcli upload sec1.certcli.test --cert "$pki/sec1.der" --key "$pki/sec1-enc.key" --key-passphrase-file "$pki/keypass" \
  --chain "$pki/chain.pem" --yes
assert_eq 0 "$LAST_STATUS" "DER certificate, encrypted PKCS#8 key (stderr: $LAST_STDERR)"
openssl pkey -in "$pki/sec1.key" -outform DER -out "$pki/sec1-key.der"
run_capture certcli upload sec1.certcli.test --cert "$pki/sec1.pem" --key "$pki/sec1-key.der" --chain "$pki/chain.pem"
assert_eq 0 "$LAST_STATUS" "SEC1 key as DER (stderr: $LAST_STDERR)"
run_capture certcli upload soon.certcli.test --cert "$pki/future.pem" --key "$pki/future.key" --chain "$pki/chain.pem" --yes
assert_eq 0 "$LAST_STATUS" "a not-yet-valid certificate is accepted (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "warning: the certificate is not valid before"
echo "ok: PKCS#1, SEC1 (PEM and DER), encrypted PKCS#8 keys and DER certificates upload; not yet valid warns"

# --- covers ----------------------------------------------------------------------------------
run_capture certcli upload '*.cov.certcli.test' --cert "$pki/wild.pem" --key "$pki/wild.key" --chain "$pki/chain.pem" --yes
assert_eq 0 "$LAST_STATUS" "wildcard upload (stderr: $LAST_STDERR)"
run_capture certcli covers a.cov.certcli.test --json
assert_eq 0 "$LAST_STATUS" "one label under the wildcard is covered"
assert_eq "*.cov.certcli.test" "$(json_field "$LAST_STDOUT" certificates.0.name)"
assert_eq true "$(json_field "$LAST_STDOUT" certificates.0.valid_now)"
for host in cov.certcli.test a.b.cov.certcli.test unrelated.example.org; do
  run_capture certcli covers "$host" --json
  assert_eq 4 "$LAST_STATUS" "covers $host"
  assert_eq false "$(json_field "$LAST_STDOUT" covered)" "covers $host"
done
run_capture certcli covers www.up.certcli.test
assert_eq 0 "$LAST_STATUS" "an exact name is covered"
assert_contains "$LAST_STDOUT" "up.certcli.test"$'\t'"www.up.certcli.test"
run_capture certcli covers soon.certcli.test --json
assert_eq 4 "$LAST_STATUS" "a certificate not yet valid covers, but not validly"
assert_eq false "$(json_field "$LAST_STDOUT" certificates.0.valid_now)"
echo "ok: covers answers for the apex, one label, two labels, an unrelated name and a not-yet-valid certificate"

# --- download: every format round-trips ------------------------------------------------------
out="$HARNESS_DIR/out"
(umask 000 && certcli download up.certcli.test --out "$out" >/dev/null)
assert_file_mode 600 "$out/private.key"
assert_file_mode 644 "$out/certificate.crt"
openssl x509 -in "$out/certificate.crt" -noout || fail "certificate.crt"
openssl pkey -in "$out/private.key" -noout || fail "private.key"
openssl verify -CAfile "$pki/root.pem" -untrusted "$out/ca_bundle.crt" "$out/certificate.crt" >/dev/null || fail "verify files"
openssl verify -CAfile "$pki/root.pem" -untrusted "$out/fullchain.pem" "$out/certificate.crt" >/dev/null || fail "verify fullchain"
before_files=$(state_snapshot "$out")
run_capture certcli download up.certcli.test --out "$out"
assert_eq 3 "$LAST_STATUS" "an existing file is not overwritten (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "exists already; nothing was written"
assert_eq "$before_files" "$(state_snapshot "$out")" "a refused download wrote nothing"
run_capture certcli download up.certcli.test --out "$out" --force
assert_eq 0 "$LAST_STATUS" "--force replaces (stderr: $LAST_STDERR)"
assert_contains "$(tail -n 1 "$home/activity.jsonl")" '"event":"certificate.downloaded"'
echo "ok: files: 0600 key under umask 000, verify with the bundle, no overwrite without --force"

(umask 000 && certcli download up.certcli.test --out "$out" --format tar >/dev/null)
assert_file_mode 600 "$out/up.certcli.test.tar.gz"
mkdir "$out/untar" && tar -xzf "$out/up.certcli.test.tar.gz" -C "$out/untar"
assert_eq "ca_bundle.crt certificate.crt fullchain.pem private.key" "$(ls "$out/untar" | sort | tr '\n' ' ' | sed 's/ $//')"
openssl verify -CAfile "$pki/root.pem" -untrusted "$out/untar/ca_bundle.crt" "$out/untar/certificate.crt" >/dev/null || fail "verify tar"
openssl pkey -in "$out/untar/private.key" -noout || fail "tar private.key"
echo "ok: tar holds the four files"

echo 'p12 secret' >"$pki/p12pass"
(umask 000 && certcli download up.certcli.test --out "$out" --format p12 --p12-password-file "$pki/p12pass" >/dev/null)
assert_file_mode 600 "$out/up.certcli.test.p12"
info=$(openssl pkcs12 -info -in "$out/up.certcli.test.p12" -passin "file:$pki/p12pass" -nokeys 2>&1) || fail "pkcs12 -info: $info"
assert_contains "$info" "AES-256-CBC"
assert_contains "$info" "MAC: sha256"
openssl pkcs12 -in "$out/up.certcli.test.p12" -passin "file:$pki/p12pass" -nodes 2>/dev/null | openssl pkey -noout || fail "p12 key"
certcli download up.certcli.test --out "$out/legacy" --format p12 --p12-legacy --p12-password-file "$pki/p12pass" >/dev/null
info=$(openssl pkcs12 -info -legacy -in "$out/legacy/up.certcli.test.p12" -passin "file:$pki/p12pass" -nokeys 2>&1) ||
  fail "pkcs12 -legacy -info: $info"
assert_contains "$info" "pbeWithSHA1And3-KeyTripleDES-CBC"
run_capture certcli download up.certcli.test --out "$out/nopass" --format p12 </dev/null
assert_eq 2 "$LAST_STATUS" "p12 without a password file or a terminal"
assert_contains "$LAST_STDERR" "no terminal to ask for one"
if command -v keytool >/dev/null; then
  keytool -list -keystore "$out/up.certcli.test.p12" -storetype PKCS12 -storepass "p12 secret" >/dev/null ||
    fail "keytool cannot read the PKCS#12"
  keytool -list -keystore "$out/legacy/up.certcli.test.p12" -storetype PKCS12 -storepass "p12 secret" >/dev/null ||
    fail "keytool cannot read the legacy PKCS#12"
  echo "ok: keytool reads both PKCS#12 files"
fi
echo "ok: p12 (AES-256-CBC, SHA-256 MAC) and --p12-legacy (3DES) read back with openssl pkcs12"

certcli download up.certcli.test --out "$out" --format der >/dev/null
openssl x509 -inform DER -in "$out/up.certcli.test.der" -noout || fail "der"
assert_eq "$(openssl x509 -in "$out/certificate.crt" -noout -serial)" "$(openssl x509 -inform DER -in "$out/up.certcli.test.der" -noout -serial)"
certcli download up.certcli.test --stdout key | openssl pkey -noout || fail "--stdout key"
certcli download up.certcli.test --stdout fullchain | openssl x509 -noout || fail "--stdout fullchain"
certcli download up.certcli.test --version "$first_version" --stdout cert >"$out/old.crt"
assert_eq "$(openssl x509 -in "$pki/good.pem" -noout -serial)" "$(openssl x509 -in "$out/old.crt" -noout -serial)" "--version"
run_capture certcli download up.certcli.test --version 20990101T000000Z --stdout cert
assert_eq 4 "$LAST_STATUS" "an unknown version"
assert_contains "$LAST_STDERR" "the archived versions are"
certcli domain add pend.certcli.test >/dev/null
run_capture certcli download pend.certcli.test --out "$out/pend"
assert_eq 4 "$LAST_STATUS" "a pending domain"
assert_contains "$LAST_STDERR" "pend.certcli.test is pending: no certificate has been issued for it yet"
echo "ok: der, --stdout, --version and the refusal of a pending domain"

# --- download from Pebble, with and without a key encrypted at rest --------------------------
certcli domain add dl.certcli.test --http-listen "$listen" >/dev/null
run_capture certcli issue dl.certcli.test --email ops@certcli.test --agree-tos
assert_eq 0 "$LAST_STATUS" "issue (stderr: $LAST_STDERR)"
certcli download dl.certcli.test --out "$out/pebble" >/dev/null
openssl verify -CAfile "$PEBBLE_ROOT_PEM" -untrusted "$out/pebble/ca_bundle.crt" "$out/pebble/certificate.crt" >/dev/null ||
  fail "the Pebble certificate does not verify with its bundle"
echo "ok: a Pebble-issued certificate downloads and verifies"

enc_home="$HARNESS_DIR/enc-home"
enc() { CERTCLI_PASSPHRASE="at rest" "$CERTCLI_BIN" --home "$enc_home" --directory "$CERTCLI_TEST_DIRECTORY" --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" "$@"; }
enc domain add enc.certcli.test --http-listen "$listen" >/dev/null
run_capture enc issue enc.certcli.test --email ops@certcli.test --agree-tos
assert_eq 0 "$LAST_STATUS" "issue with encrypted keys (stderr: $LAST_STDERR)"
grep -q 'BEGIN ENCRYPTED PRIVATE KEY' "$enc_home/domains/enc.certcli.test/live/key.pem" || fail "the key is not encrypted at rest"
run_capture "$CERTCLI_BIN" --home "$enc_home" download enc.certcli.test --out "$out/enc"
assert_eq 5 "$LAST_STATUS" "download without the passphrase (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "no passphrase was given"
enc download enc.certcli.test --out "$out/enc" --format files >/dev/null
grep -q 'BEGIN PRIVATE KEY' "$out/enc/private.key" || fail "the downloaded key is not in clear"
assert_eq "$(openssl x509 -in "$out/enc/certificate.crt" -noout -pubkey)" "$(openssl pkey -in "$out/enc/private.key" -pubout)" \
  "the decrypted key is the certificate's"
openssl verify -CAfile "$PEBBLE_ROOT_PEM" -untrusted "$out/enc/ca_bundle.crt" "$out/enc/certificate.crt" >/dev/null || fail "enc verify"
echo "ok: a key encrypted at rest downloads decrypted with the passphrase, and is refused without it"
