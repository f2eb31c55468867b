#!/usr/bin/env bash
# Pebble told to reject half of all nonces: every issuance still succeeds, because certcli
# retries badNonce with the fresh nonce that comes with the rejection.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
export PEBBLE_WFE_NONCEREJECT=50
harness_start
use_certcli
certcli domain add nonce.certcli.test --san www.nonce.certcli.test >/dev/null
rejected=0
for i in 1 2 3 4 5; do
  run_capture certcli -v issue nonce.certcli.test --agree-tos --http-listen "127.0.0.1:$CERTCLI_TEST_HTTP_PORT"
  assert_eq 0 "$LAST_STATUS" "issuance $i with 50% nonce rejection (stderr: $LAST_STDERR)"
  rejected=$((rejected + $(grep -c ' -> 400' <<<"$LAST_STDERR" || true)))
done
((rejected > 0)) || fail "Pebble rejected no nonce at 50%: the test proved nothing"
echo "ok: five issuances succeeded while Pebble rejected $rejected nonces"
