#!/usr/bin/env bash
# certcli makes no request RFC 8555 does not need: with a stored account, one name, no nonce
# rejections and no authorization reuse, an issuance is exactly directory, newNonce, newOrder,
# authorization, challenge, authorization poll, finalize, order poll(s), certificate — over a
# single keep-alive connection.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
export PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0
harness_start
use_certcli
listen="127.0.0.1:$CERTCLI_TEST_HTTP_PORT"
# Register the account with another name, so no valid authorization exists for the measured one.
certcli domain add setup.certcli.test >/dev/null
certcli issue setup.certcli.test --agree-tos --http-listen "$listen" >/dev/null 2>&1
certcli domain add lean.certcli.test >/dev/null

run_capture certcli -v issue lean.certcli.test --http-listen "$listen" --json
assert_eq 0 "$LAST_STATUS" "issue exits 0 (stderr: $LAST_STDERR)"
trace=$(grep 'certcli: http: ' <<<"$LAST_STDERR")
count=$(wc -l <<<"$trace")
assert_eq "$count" "$(json_field "$LAST_STDOUT" acme_requests)" "traced requests vs the reported count"
assert_eq 1 "$(grep -c 'GET .*/dir ' <<<"$trace")" "directory fetches"
assert_eq 1 "$(grep -c '^certcli: http: HEAD ' <<<"$trace")" "newNonce requests"
assert_eq 1 "$(grep -c '(new connection)' <<<"$trace")" "connections opened"
assert_eq 0 "$(grep -c ' -> [45]' <<<"$trace")" "refused requests"
assert_not_contains "$trace" "sign-me-up" "a stored account needs no newAccount"
# 9 when each poll finds the work done; the authorization's or the order's first poll may come
# before Pebble is done (it is placed at the time learned from the setup issuance), one more each.
if ((count < 9 || count > 11)); then fail "expected 9 (up to 11) requests, made $count:"$'\n'"$trace"; fi
echo "ok: one issuance with a stored account took $count requests over one connection"

# The polls above were placed where this CA usually finishes, learned from the setup issuance and
# kept with the account; the measured issuance's waits were learned too.
timing=$(ls "$home"/accounts/*/timing.toml)
assert_eq 600 "$(stat -c %a "$timing")" "timing.toml mode"
python3 - "$timing" <<'PY' || fail "timing.toml does not hold two validation and two issuance waits: $(cat "$timing")"
import sys, tomllib
t = tomllib.load(open(sys.argv[1], "rb"))
for kind in ("validation", "issuance"):
    assert t[kind]["samples"] == 2, (kind, t[kind])
    assert 20 <= t[kind]["typical_ms"] <= 30000, (kind, t[kind])
PY
echo "ok: the CA's validation and issuance times were learned from both issuances ($(tr '\n' ' ' <"$timing"))"
