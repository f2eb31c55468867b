#!/usr/bin/env bash
# Encrypted private keys at rest (issue #20): with CERTCLI_PASSPHRASE every key certcli keeps is
# scrypt-encrypted PKCS#8; keys.live_key = "plain" leaves only the current live key in clear; a
# wrong or missing passphrase is a clear error that changes no byte; resume after kill -9 works;
# `keys decrypt` then `keys encrypt` round-trips.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_start
use_certcli
listen="127.0.0.1:$CERTCLI_TEST_HTTP_PORT"
export CERTCLI_PASSPHRASE="correct horse battery staple"

clear_keys() { grep -rlE -- '-----BEGIN (PRIVATE|EC PRIVATE|RSA PRIVATE) KEY-----' "$home" | sort || true; }
tree_digest() { (cd "$home" && find . -printf '%y %m %s %p\n' | sort && find . -type f -exec sha256sum {} + | sort -k2); }

# 1. add + issue + renew --force: no key in clear anywhere.
name=enc.certcli.test
certcli domain add "$name" --http-listen "$listen" >/dev/null
run_capture certcli issue "$name" --email ops@certcli.test --agree-tos
assert_eq 0 "$LAST_STATUS" "issue with a passphrase (stderr: $LAST_STDERR)"
run_capture certcli renew "$name" --force --skip-preflight
assert_eq 0 "$LAST_STATUS" "renew --force with a passphrase (stderr: $LAST_STDERR)"
assert_eq 2 "$(ls "$home/domains/$name/archive" | wc -l)" "two certificates archived"
assert_eq "" "$(clear_keys)" "no private key in clear under the state directory"
keys=$(grep -rl -- '-----BEGIN ENCRYPTED PRIVATE KEY-----' "$home" | wc -l)
((keys >= 3)) || fail "expected the account key and two archive keys encrypted, found $keys"
structure=$(openssl asn1parse -in "$home/domains/$name/live/key.pem")
assert_contains "$structure" ":PBES2"
assert_contains "$structure" ":scrypt"
assert_contains "$structure" ":aes-256-cbc"
assert_contains "$structure" "INTEGER           :4000" "scrypt N = 2^14"
assert_eq "$(openssl x509 -in "$home/domains/$name/live/cert.pem" -noout -pubkey)" \
  "$(openssl pkey -in "$home/domains/$name/live/key.pem" -passin env:CERTCLI_PASSPHRASE -pubout)" \
  "the encrypted live key is the certificate's"
echo "ok: after issue and renew --force every key is encrypted (scrypt, AES-256-CBC)"

# 2. A wrong or missing passphrase: a clear error, every file byte-identical.
before=$(tree_digest)
run_expect_fail env CERTCLI_PASSPHRASE=wrong "$CERTCLI_BIN" --home "$home" --directory "$CERTCLI_TEST_DIRECTORY" \
  --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" renew "$name" --force --skip-preflight
assert_contains "$LAST_STDERR" "cannot open the private key $home/"
assert_contains "$LAST_STDERR" "CERTCLI_PASSPHRASE"
run_expect_fail env -u CERTCLI_PASSPHRASE "$CERTCLI_BIN" --home "$home" --directory "$CERTCLI_TEST_DIRECTORY" \
  --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" issue "$name" --http-listen "$listen"
assert_contains "$LAST_STDERR" "no passphrase was given"
echo wrong >"$HARNESS_DIR/wrong.pass"
run_expect_fail certcli --passphrase-file "$HARNESS_DIR/wrong.pass" keys decrypt
assert_contains "$LAST_STDERR" "--passphrase-file"
assert_eq "$before" "$(tree_digest)" "a wrong or missing passphrase changed no file"
run_capture env -u CERTCLI_PASSPHRASE "$CERTCLI_BIN" --home "$home" status "$name"
assert_eq 0 "$LAST_STATUS" "status needs no passphrase (stderr: $LAST_STDERR)"
echo "ok: a wrong or missing passphrase is a clear error and leaves every file byte-identical"

# 3. Resume after kill -9 with encrypted keys: the pending key is encrypted and reused.
progress="$HARNESS_DIR/progress.fifo"
mkfifo "$progress"
killed=""
for attempt in 1 2 3 4 5; do
  kname="kill$attempt.certcli.test"
  certcli domain add "$kname" >/dev/null
  "$CERTCLI_BIN" --home "$home" --directory "$CERTCLI_TEST_DIRECTORY" --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" \
    issue "$kname" --http-listen "$listen" 2>"$progress" >/dev/null &
  pid=$!
  while IFS= read -r line; do
    if [[ "$line" == *finalizing* ]]; then kill -KILL "$pid" 2>/dev/null || true; break; fi
  done <"$progress"
  wait "$pid" 2>/dev/null && continue
  if [[ "$(json_field "$(certcli status "$kname" --json)" status)" == issuing ]]; then killed=$kname; break; fi
done
[[ -n "$killed" ]] || fail "could not kill certcli while finalizing in five attempts"
grep -q -- '-----BEGIN ENCRYPTED PRIVATE KEY-----' "$home/domains/$killed/pending/key.pem" ||
  fail "the pending key is not encrypted"
pending_pub=$(openssl pkey -in "$home/domains/$killed/pending/key.pem" -passin env:CERTCLI_PASSPHRASE -pubout)
run_capture certcli issue "$killed" --http-listen "$listen"
assert_eq 0 "$LAST_STATUS" "the resumed issue exits 0 (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "resuming order"
assert_eq "$pending_pub" "$(openssl pkey -in "$home/domains/$killed/live/key.pem" -passin env:CERTCLI_PASSPHRASE -pubout)" \
  "the encrypted pending key was kept across the crash"
assert_eq "" "$(clear_keys)" "still no key in clear after the resume"
echo "ok: a run killed with -9 resumes with its encrypted key"

# 4. keys decrypt, then keys encrypt: a round trip of every key file.
run_capture certcli keys decrypt
assert_eq 0 "$LAST_STATUS" "keys decrypt (stderr: $LAST_STDERR)"
assert_eq "" "$(grep -rl -- '-----BEGIN ENCRYPTED PRIVATE KEY-----' "$home" || true)" "no key left encrypted"
assert_file_mode 600 "$home/domains/$name/live/key.pem"
run_capture env -u CERTCLI_PASSPHRASE "$CERTCLI_BIN" --home "$home" --directory "$CERTCLI_TEST_DIRECTORY" \
  --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" renew "$name" --force --skip-preflight
assert_eq 0 "$LAST_STATUS" "after keys decrypt no passphrase is needed (stderr: $LAST_STDERR)"
run_capture certcli keys encrypt
assert_eq 0 "$LAST_STATUS" "keys encrypt (stderr: $LAST_STDERR)"
assert_eq "" "$(clear_keys)" "keys encrypt left no key in clear"
run_capture certcli keys encrypt --json
assert_eq "" "$(json_field "$LAST_STDOUT" rewritten)" "a second keys encrypt has nothing to do"
echo "ok: keys decrypt then keys encrypt round-trips every key file"

# 5. live_key = "plain": only the current live key in clear; the previous one encrypts on renewal.
certcli config set keys.live_key plain >/dev/null
run_capture certcli keys encrypt
assert_eq 0 "$LAST_STATUS" "keys encrypt under live_key plain (stderr: $LAST_STDERR)"
live_key=$(readlink -f "$home/domains/$name/live/key.pem")
live_key_killed=$(readlink -f "$home/domains/$killed/live/key.pem")
assert_eq "$(printf '%s\n' "$live_key" "$live_key_killed" | sort)" "$(clear_keys)" "only the live keys are in clear"
run_capture certcli renew "$name" --force --skip-preflight
assert_eq 0 "$LAST_STATUS" "renew under live_key plain (stderr: $LAST_STDERR)"
new_live=$(readlink -f "$home/domains/$name/live/key.pem")
[[ "$new_live" != "$live_key" ]] || fail "renew did not install a new key"
assert_eq "$(printf '%s\n' "$new_live" "$live_key_killed" | sort)" "$(clear_keys)" \
  "the key that left live/ is encrypted; only the current live keys are in clear"
openssl pkey -in "$new_live" -noout || fail "the plain live key does not parse"
# A removed domain's key is nobody's live key: it encrypts; restored, it is in clear again.
run_capture certcli domain remove "$killed"
assert_eq 0 "$LAST_STATUS" "domain remove under live_key plain (stderr: $LAST_STDERR)"
assert_eq "$new_live" "$(clear_keys)" "the removed domain's key is encrypted in removed/"
run_capture certcli domain restore "$killed"
assert_eq 0 "$LAST_STATUS" "domain restore under live_key plain (stderr: $LAST_STDERR)"
assert_eq "$(printf '%s
' "$new_live" "$(readlink -f "$home/domains/$killed/live/key.pem")" | sort)" "$(clear_keys)" \
  "the restored domain's live key is in clear again"
echo "ok: live_key = plain keeps only the current live key in clear, through remove and restore"

# 6. Per domain: domain set --live-key overrides config.toml for one domain, applied at once.
killed_live=$(readlink -f "$home/domains/$killed/live/key.pem")
run_capture certcli domain set "$name" --live-key encrypted
assert_eq 0 "$LAST_STATUS" "domain set --live-key encrypted (stderr: $LAST_STDERR)"
assert_eq "$killed_live" "$(clear_keys)" "the domain set to encrypted has its live key encrypted; the other stays in clear"
assert_contains "$(certcli domain show "$name")" "live key:   encrypted" "domain show names the domain's setting"
run_capture certcli renew "$name" --force --skip-preflight
assert_eq 0 "$LAST_STATUS" "renew of the domain set to encrypted (stderr: $LAST_STDERR)"
assert_eq "$killed_live" "$(clear_keys)" "its renewed live key is written encrypted"
run_capture certcli domain set "$name" --live-key default
assert_eq 0 "$LAST_STATUS" "domain set --live-key default (stderr: $LAST_STDERR)"
assert_eq "$(printf '%s\n' "$(readlink -f "$home/domains/$name/live/key.pem")" "$killed_live" | sort)" "$(clear_keys)" \
  "back to config.toml's plain: its live key is in clear again"
run_capture certcli domain set "$name" --live-key sometimes
assert_eq 3 "$LAST_STATUS" "an unknown --live-key value is refused"
echo "ok: domain set --live-key overrides keys.live_key for one domain, at once and for its renewals"
