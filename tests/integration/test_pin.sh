#!/usr/bin/env bash
# Certificate pinning (issue #22): pins equal OpenSSL's pipeline; `pin add --host` and `pin check`
# against a local `openssl s_server` with a known chain (root -> intermediate -> leaf): the leaf
# is recommended, check passes for a pinned key and fails (exit 4) for an unpinned one; the pin
# table is 0600 and every change is logged; against Pebble, a renewal of a pinned domain keeps
# its SPKI, and after `pin backup-key` the next renewal serves the backup key, whose pin was
# printed; a renewal that would break a pin is refused unless --force.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_start
use_certcli
pin_cli() { "$CERTCLI_BIN" --home "$home" "$@"; }
openssl_pin() {  # FILE [x509 args]: the pin by OpenSSL alone, as README documents it
  openssl x509 -in "$1" "${@:2}" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64
}

# --- A known chain: root -> intermediate -> two leaves with different keys. ---
pki="$HARNESS_DIR/pki"
mkdir -p "$pki"
(
  cd "$pki"
  printf 'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n' >ca.ext
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:false\n' >leaf.ext
  openssl ecparam -name prime256v1 -genkey -noout -out root.key
  openssl req -x509 -new -key root.key -subj "/CN=Pin Test Root" -days 30 -addext basicConstraints=critical,CA:true \
    -addext keyUsage=critical,keyCertSign,cRLSign -out root.pem
  openssl ecparam -name prime256v1 -genkey -noout -out inter.key
  openssl req -new -key inter.key -subj "/CN=Pin Test Intermediate" -out inter.csr
  openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key -CAcreateserial -days 30 -extfile ca.ext -out inter.pem
  for leaf in pinned other; do
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$leaf.key"
    openssl req -new -key "$leaf.key" -subj "/CN=$leaf.pin.test" -out "$leaf.csr"
    openssl x509 -req -in "$leaf.csr" -CA inter.pem -CAkey inter.key -CAcreateserial -days 20 -extfile leaf.ext -out "$leaf.pem"
    openssl x509 -in "$leaf.pem" -outform der -out "$leaf.der"
  done
) >/dev/null 2>&1 || fail "making the test chain"
pinned_pin=$(openssl_pin "$pki/pinned.pem")
other_pin=$(openssl_pin "$pki/other.pem")
inter_pin=$(openssl_pin "$pki/inter.pem")

# --- pin generate: PEM and DER certificates, a private key, RSA and EC. ---
assert_eq "$pinned_pin" "$(pin_cli pin generate "$pki/pinned.pem")" "pin of a PEM RSA certificate"
assert_eq "$pinned_pin" "$(pin_cli pin generate "$pki/pinned.der")" "pin of a DER RSA certificate"
assert_eq "$(openssl_pin "$pki/pinned.der" -inform der)" "$(pin_cli pin generate "$pki/pinned.der")" "pin of DER by openssl"
assert_eq "$pinned_pin" "$(pin_cli pin generate "$pki/pinned.key")" "pin of the private key"
assert_eq "$inter_pin" "$(pin_cli pin generate "$pki/inter.pem")" "pin of a PEM EC certificate"
openssl x509 -in "$pki/inter.pem" -outform der -out "$pki/inter.der"
assert_eq "$inter_pin" "$(pin_cli pin generate "$pki/inter.der")" "pin of a DER EC certificate"
assert_contains "$(pin_cli pin generate --help)" "openssl dgst -sha256 -binary | base64"
echo "ok: pin generate equals the openssl pipeline for RSA and EC, PEM, DER and keys"

# --- A TLS server on loopback serving leaf + intermediate. ---
port=$("$HARNESS_PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
server_pid=""
serve() {  # LEAF: (re)start s_server with that leaf and the intermediate
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  openssl s_server -quiet -accept "127.0.0.1:$port" -cert "$pki/$1.pem" -key "$pki/$1.key" -cert_chain "$pki/inter.pem" \
    -www </dev/null >"$HARNESS_DIR/s_server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  fail "openssl s_server did not start (see $HARNESS_DIR/s_server.log)"
}
trap 'kill "$server_pid" 2>/dev/null || true; harness_stop' EXIT
serve pinned

# An empty table: nothing on stdout for a script, how to add a pin on stderr for a person.
run_capture pin_cli pin list
assert_eq 0 "$LAST_STATUS" "pin list of an empty table"
assert_eq "" "$LAST_STDOUT" "pin list of an empty table prints no line"
assert_contains "$LAST_STDERR" "No pins yet. Add one: certcli pin add"
echo "ok: an empty pin table says how to add a pin"

run_capture pin_cli pin add --host "127.0.0.1:$port"
assert_eq 0 "$LAST_STATUS" "pin add --host (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "[0] CN=pinned.pin.test (recommended"
assert_contains "$LAST_STDOUT" "[1] CN=Pin Test Intermediate"
assert_contains "$LAST_STDOUT" "issuer: Pin Test Root"
assert_contains "$LAST_STDOUT" "pin: $pinned_pin"
assert_contains "$LAST_STDOUT" "does NOT validate"
assert_contains "$LAST_STDOUT" "added pin $pinned_pin as '127.0.0.1'"

run_capture pin_cli --ca-bundle "$pki/root.pem" pin add --host "127.0.0.1:$port" --chain-index 1 --json
assert_eq 0 "$LAST_STATUS" "pin add --host --chain-index 1 (stderr: $LAST_STDERR)"
assert_eq true "$(json_field "$LAST_STDOUT" chain.0.recommended)"
assert_eq false "$(json_field "$LAST_STDOUT" chain.1.recommended)"
assert_eq "$pinned_pin" "$(json_field "$LAST_STDOUT" chain.0.pin)"
assert_eq "$inter_pin" "$(json_field "$LAST_STDOUT" pins.0.pin)"
assert_eq true "$(json_field "$LAST_STDOUT" trust.trusted)" "the chain validates against --ca-bundle"
echo "ok: pin add --host shows the chain leaf first, recommends the leaf, pins the chosen one, judges trust"

# The intermediate's pin would let any leaf of that CA pass: drop it, keep the leaf's.
pin_cli pin remove '127.0.0.1#1' >/dev/null
run_capture pin_cli pin check "127.0.0.1:$port"
assert_eq 0 "$LAST_STATUS" "pin check on the pinned key (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "matches '127.0.0.1'"
serve other
run_capture pin_cli pin check "127.0.0.1:$port" --json
assert_eq 4 "$LAST_STATUS" "pin check on an unpinned key"
assert_eq false "$(json_field "$LAST_STDOUT" passed)"
assert_eq "$other_pin" "$(json_field "$LAST_STDOUT" chain.0.pin)"
assert_contains "$LAST_STDERR" "matches any of the 1 pin for 127.0.0.1"
run_capture pin_cli pin check "127.0.0.1:1" --timeout 2
assert_eq 6 "$LAST_STATUS" "pin check on a closed port is a network error"
echo "ok: pin check passes for the pinned key, fails with exit 4 for an unpinned one"

# --- The table: list, 0600, activity, import, trust. ---
assert_file_mode 600 "$home/pins.toml"
list=$(pin_cli pin list --json)
assert_eq "$pinned_pin" "$(json_field "$list" pins.0.pin)"
assert_eq valid "$(json_field "$list" pins.0.status)"
assert_eq "CN=pinned.pin.test" "CN=$(json_field "$list" pins.0.cn)"
assert_contains "$(cat "$home/activity.jsonl")" '"event":"pin.added"'
assert_contains "$(cat "$home/activity.jsonl")" '"event":"pin.removed"'
printf '# app pins\nPublic-Key-Pins: pin-sha256="%s"; pin-sha256="%s"; max-age=600\n' "$other_pin" "$inter_pin" >"$HARNESS_DIR/hpkp.txt"
run_capture pin_cli pin import "$HARNESS_DIR/hpkp.txt" --for 127.0.0.1 --json
assert_eq 0 "$LAST_STATUS" "pin import (stderr: $LAST_STDERR)"
assert_eq unknown "$(json_field "$LAST_STDOUT" pins.0.status)"
run_capture pin_cli pin refresh --json
assert_eq 0 "$LAST_STATUS" "pin refresh (stderr: $LAST_STDERR)"
assert_eq valid "$(json_field "$(pin_cli pin list --json)" pins.1.status)" "the imported pin after refresh"
echo "ok: pins.toml is 0600; changes are logged; imported HPKP pins become valid once refresh finds them served"

run_capture pin_cli pin trust "$pki/other.pem"
assert_eq 4 "$LAST_STATUS" "a chain to an unknown root is not trusted"
cat "$pki/other.pem" "$pki/inter.pem" "$pki/root.pem" >"$pki/bundle.pem"
run_capture pin_cli pin trust "$pki/bundle.pem" --add
assert_eq 0 "$LAST_STATUS" "pin trust --add (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "added its root"
run_capture pin_cli pin trust "$pki/other.pem" --json
assert_eq 4 "$LAST_STATUS" "a leaf alone cannot reach the root"
cat "$pki/other.pem" "$pki/inter.pem" >"$pki/chain-only.pem"
run_capture pin_cli pin trust "$pki/chain-only.pem" --json
assert_eq 0 "$LAST_STATUS" "after --add the chain validates (stderr: $LAST_STDERR)"
assert_eq "certcli's trusted roots" "$(json_field "$LAST_STDOUT" anchor)"
echo "ok: pin trust says whether a chain is trusted; --add keeps its root in certcli's bundle"

# --- Pin-safe renewal against Pebble. ---
listen="127.0.0.1:$CERTCLI_TEST_HTTP_PORT"
name=shop.pin.test
live="$home/domains/$name/live"
certcli domain add "$name" --http-listen "$listen" >/dev/null
run_capture certcli issue "$name" --agree-tos --email ops@pin.test
assert_eq 0 "$LAST_STATUS" "issue (stderr: $LAST_STDERR)"
first_pin=$(openssl_pin "$live/cert.pem")
pin_cli pin add --cert "$live/cert.pem" >/dev/null
serial() { openssl x509 -in "$live/cert.pem" -noout -serial; }
before=$(serial)
run_capture certcli renew "$name" --force
assert_eq 0 "$LAST_STATUS" "renewal of a pinned domain (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "the live key matches a pin"
[[ "$(serial)" != "$before" ]] || fail "the domain was not renewed"
assert_eq "$first_pin" "$(openssl_pin "$live/cert.pem")" "the renewed certificate's SPKI"
echo "ok: a renewal of a pinned domain keeps the same SPKI"

run_capture certcli pin backup-key "$name"
assert_eq 0 "$LAST_STATUS" "pin backup-key (stderr: $LAST_STDERR)"
backup_pin=$LAST_STDOUT
[[ "$backup_pin" != "$first_pin" ]] || fail "the backup key is the live key"
assert_file_mode 600 "$home/domains/$name/backup-key.pem"
assert_eq "$backup_pin" "$(pin_cli pin generate "$home/domains/$name/backup-key.pem")"
run_capture certcli renew "$name" --force
assert_eq 0 "$LAST_STATUS" "renewal after backup-key (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "using the backup key"
assert_eq "$backup_pin" "$(openssl_pin "$live/cert.pem")" "the certificate after the rotation carries the backup key"
[[ ! -e "$home/domains/$name/backup-key.pem" ]] || fail "the used backup key was left behind"
assert_contains "$(cat "$home/activity.jsonl")" '"event":"pin.backup_key_used"'
run_capture certcli renew "$name" --force
assert_eq "$backup_pin" "$(openssl_pin "$live/cert.pem")" "the rotated key is kept afterwards"
echo "ok: after pin backup-key the next renewal serves the backup key, whose pin was printed"

# A domain pinned by name, to a key it does not have: refused, and --force goes ahead.
other=refuse.pin.test
certcli domain add "$other" --http-listen "$listen" >/dev/null
pin_cli pin add --pin "$other_pin" --for "$other" >/dev/null
snapshot=$(state_snapshot "$home/domains/$other")
run_capture certcli issue "$other" --agree-tos
assert_eq 2 "$LAST_STATUS" "issue that would break a pin"
assert_contains "$LAST_STDERR" "would carry a key that matches no pin"
assert_contains "$LAST_STDERR" "--force"
assert_eq "$snapshot" "$(state_snapshot "$home/domains/$other")" "the refused issue changed the domain"
run_capture certcli issue "$other" --agree-tos --force
assert_eq 0 "$LAST_STATUS" "issue --force (stderr: $LAST_STDERR)"
echo "ok: a certificate that would match no pin is refused unless --force"
