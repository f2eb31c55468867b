#!/usr/bin/env bash
# The deploy hooks in examples/deploy-hooks/, run by certcli itself on real certificates from
# Pebble (issue #23):
#  * haproxy.sh writes <dir>/<domain>.pem = the full chain, then the key, 0600 whatever the
#    umask, that OpenSSL reads as a certificate chaining to Pebble's root and the key of that
#    certificate; a renewal replaces it (new serial) and reloads again; a CSR-issued domain, with
#    no key at certcli, is refused by the hook and reported by certcli as exit 12.
#  * nginx.sh reloads only when the configuration check passes; when it fails, certcli exits 12
#    with the hook's reason and the certificate stays installed.
# The reload and check commands are the hooks' documented settings (HAPROXY_RELOAD, NGINX_TEST,
# NGINX_RELOAD), pointed here at commands that leave a mark, since the container runs neither
# server nor systemd. When haproxy is installed, `haproxy -c` also loads the combined file.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_start
use_certcli
source_dir=${CERTCLI_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
hooks="$source_dir/examples/deploy-hooks"
work=$(mktemp -d "$HARNESS_DIR/hooks.XXXXXX")
home="$work/home"  # fresh, also when CERTCLI_TEST_ENV reuses a harness
listen="127.0.0.1:$CERTCLI_TEST_HTTP_PORT"

# --- HAProxy ------------------------------------------------------------------------------
export HAPROXY_CERT_DIR="$work/haproxy-certs" HAPROXY_RELOAD="$work/reload-haproxy"
printf '#!/bin/sh\necho reload >>"%s"\n' "$work/haproxy-reloads" >"$HAPROXY_RELOAD"
chmod 755 "$HAPROXY_RELOAD"
certcli domain add hap.hooks.test --san www.hap.hooks.test --http-listen "$listen" \
  --deploy-hook "$hooks/haproxy.sh" >/dev/null
saved_umask=$(umask)
umask 000  # the hook must make its file 0600 whatever the umask it inherits
run_capture certcli issue hap.hooks.test --email ops@hooks.test --agree-tos
umask "$saved_umask"
assert_eq 0 "$LAST_STATUS" "issue with the HAProxy hook (stderr: $LAST_STDERR)"
combined="$HAPROXY_CERT_DIR/hap.hooks.test.pem"
[[ -f "$combined" ]] || fail "haproxy.sh wrote no $combined (stdout: $LAST_STDOUT; stderr: $LAST_STDERR)"
assert_file_mode 600 "$combined"
assert_eq 1 "$(wc -l <"$work/haproxy-reloads")" "HAProxy reloaded once"
assert_eq "" "$(find "$HAPROXY_CERT_DIR" -name '.*')" "no temporary file left beside it"

live="$home/domains/hap.hooks.test/live"
assert_eq "$(openssl x509 -in "$live/cert.pem" -noout -fingerprint -sha256)" \
  "$(openssl x509 -in "$combined" -noout -fingerprint -sha256)" "the combined file starts with the leaf"
assert_eq "$(openssl x509 -in "$combined" -noout -pubkey)" "$(openssl pkey -in "$combined" -pubout)" \
  "the combined file's key is the leaf's"
openssl verify -CAfile "$PEBBLE_ROOT_PEM" -untrusted "$combined" "$combined" >/dev/null ||
  fail "the chain in the combined file does not verify to Pebble's root"
assert_eq 2 "$(grep -c 'BEGIN CERTIFICATE' "$combined")" "leaf and intermediate in the combined file"
assert_eq 1 "$(grep -c 'BEGIN .*PRIVATE KEY' "$combined")" "one private key"
tail -n 1 "$combined" | grep -q 'END .*PRIVATE KEY' || fail "the key is not last in $combined"
echo "ok: haproxy.sh wrote chain + key in one 0600 file (under umask 000), OpenSSL reads and verifies it, reloaded"

if command -v haproxy >/dev/null; then
  cat >"$work/haproxy.cfg" <<EOF
frontend https
    mode http
    bind 127.0.0.1:0 ssl crt $HAPROXY_CERT_DIR/
EOF
  haproxy -c -q -f "$work/haproxy.cfg" || fail "haproxy -c does not load $combined"
  echo "ok: haproxy -c loads the combined file"
fi

serial_before=$(openssl x509 -in "$combined" -noout -serial)
run_capture certcli renew hap.hooks.test --force
assert_eq 0 "$LAST_STATUS" "renew with the HAProxy hook (stderr: $LAST_STDERR)"
assert_eq 2 "$(wc -l <"$work/haproxy-reloads")" "HAProxy reloaded again after the renewal"
[[ "$(openssl x509 -in "$combined" -noout -serial)" != "$serial_before" ]] ||
  fail "the renewal did not replace the combined file"
assert_eq "$(openssl x509 -in "$live/cert.pem" -noout -serial)" "$(openssl x509 -in "$combined" -noout -serial)"
echo "ok: a renewal replaces the combined file with the new certificate and reloads"

# A domain issued from the operator's CSR: certcli holds no key, the hook says so, exit 12.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/csr.key" \
  -subj "/CN=csr.hooks.test" -addext "subjectAltName=DNS:csr.hooks.test" -out "$work/csr.pem" 2>/dev/null
certcli domain add csr.hooks.test --http-listen "$listen" --deploy-hook "$hooks/haproxy.sh" >/dev/null
run_capture certcli issue csr.hooks.test --csr "$work/csr.pem"
assert_eq 12 "$LAST_STATUS" "a CSR-issued domain: the hook fails, certcli exits 12 (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "certcli holds no key to give HAProxy"
[[ ! -e "$HAPROXY_CERT_DIR/csr.hooks.test.pem" ]] || fail "haproxy.sh wrote a file without a key"
echo "ok: a domain issued from a CSR (no key at certcli) is refused by haproxy.sh and reported as exit 12"

# --- nginx --------------------------------------------------------------------------------
printf '#!/bin/sh\necho reload >>"%s"\n' "$work/nginx-reloads" >"$work/reload-nginx"
chmod 755 "$work/reload-nginx"
certcli domain add ngx.hooks.test --http-listen "$listen" --deploy-hook "$hooks/nginx.sh" >/dev/null
run_capture env NGINX_TEST=false NGINX_RELOAD="$work/reload-nginx" \
  "$CERTCLI_BIN" --home "$home" --directory "$CERTCLI_TEST_DIRECTORY" --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" \
  issue ngx.hooks.test
assert_eq 12 "$LAST_STATUS" "nginx.sh with a configuration that does not load: exit 12 (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "nginx's configuration does not load"
[[ ! -e "$work/nginx-reloads" ]] || fail "nginx.sh reloaded although the configuration check failed"
assert_eq ready "$(json_field "$(certcli status ngx.hooks.test --json)" status)" "the certificate stays installed"
run_capture env NGINX_TEST=true NGINX_RELOAD="$work/reload-nginx" \
  "$CERTCLI_BIN" --home "$home" --directory "$CERTCLI_TEST_DIRECTORY" --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" \
  renew ngx.hooks.test --force
assert_eq 0 "$LAST_STATUS" "nginx.sh with a good configuration (stderr: $LAST_STDERR)"
assert_eq 1 "$(wc -l <"$work/nginx-reloads")" "nginx reloaded once"
echo "ok: nginx.sh reloads only after the configuration check passes; a failed check is exit 12, certificate kept"
