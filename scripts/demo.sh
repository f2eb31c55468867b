#!/usr/bin/env bash
# The demo of certcli's main job: installs what is missing, builds, starts a local Pebble CA on
# 127.0.0.1 and issues a real certificate for two names over http-01, then shows it.
# Everything runs in a temporary directory that is removed at the end
# (CERTCLI_KEEP_TEST_DIR=1 keeps it).
set -euo pipefail
cd "$(dirname "$0")/.."
CERTCLI_BUILD_DIR=build CERTCLI_BUILD_TARGET=certcli scripts/build.sh
certcli="$PWD/build/certcli"

source tests/integration/harness.sh
echo "demo: starting a local Pebble ACME CA on 127.0.0.1"
harness_start
home="$HARNESS_DIR/certcli-home"
ca=(--home "$home" --directory "$CERTCLI_TEST_DIRECTORY" --ca-bundle "$CERTCLI_TEST_CA_BUNDLE")

set -x
"$certcli" "${ca[@]}" domain add demo.certcli.test --san www.demo.certcli.test
"$certcli" "${ca[@]}" issue demo.certcli.test --email demo@certcli.test --agree-tos \
  --http-listen "127.0.0.1:$CERTCLI_TEST_HTTP_PORT"
"$certcli" "${ca[@]}" status demo.certcli.test
{ set +x; } 2>/dev/null

echo
echo "demo: the issued certificate, as OpenSSL reads it:"
live="$home/domains/demo.certcli.test/live"
openssl x509 -in "$live/cert.pem" -noout -subject -ext subjectAltName -enddate
openssl verify -CAfile "$PEBBLE_ROOT_PEM" -untrusted "$live/chain.pem" "$live/cert.pem"
echo "demo: done — certcli issued a real certificate from a real ACME CA."
