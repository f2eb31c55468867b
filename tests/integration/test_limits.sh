#!/usr/bin/env bash
# The rate-limit budget against the real Pebble: `limits --json` counts real orders and
# issuances per registered domain (certcli.test: a.limits.certcli.test and b.limits.certcli.test
# are one) and per account; a refusal comes before any request to the CA and changes nothing;
# --ignore-limits orders anyway; a renewal of the same names is exempt from the per-domain limit.
# Pebble publishes no limits, so the test-only CERTCLI_TEST_LIMITS sets low ones.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_start
use_certcli
listen="127.0.0.1:$CERTCLI_TEST_HTTP_PORT"
export CERTCLI_TEST_LIMITS="certificates_per_domain=2,duplicates=5,orders=10"

# Nothing counted yet.
run_capture certcli limits --json
assert_eq 0 "$LAST_STATUS" "limits on a fresh state (stderr: $LAST_STDERR)"
# certcli() names the CA (--directory): that CA is shown, with nothing counted.
assert_eq 0 "$("$HARNESS_PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)["cas"][0]["budgets"]))' <<<"$LAST_STDOUT")" "budgets in an empty ledger"


for n in a b c; do certcli domain add "$n.limits.certcli.test" --http-listen "$listen" >/dev/null; done

run_capture certcli issue a.limits.certcli.test --agree-tos
assert_eq 0 "$LAST_STATUS" "first issuance (stderr: $LAST_STDERR)"
run_capture certcli limits --json
assert_eq 0 "$LAST_STATUS" "limits --json (stderr: $LAST_STDERR)"
json=$LAST_STDOUT
assert_eq "$CERTCLI_TEST_DIRECTORY" "$(json_field "$json" cas.0.directory)" "the CA counted"
assert_eq registered_domain "$(json_field "$json" cas.0.budgets.0.scope)" "first budget's scope"
assert_eq certcli.test "$(json_field "$json" cas.0.budgets.0.subject)" "registered domain of a.limits.certcli.test"
assert_eq 1 "$(json_field "$json" cas.0.budgets.0.used)" "certificates counted"
assert_eq 1 "$(json_field "$json" cas.0.budgets.0.left)" "certificates left"
echo "ok: limits --json counts the first issuance under certcli.test (1 used, 1 left)"

run_capture certcli issue b.limits.certcli.test
assert_eq 0 "$LAST_STATUS" "second issuance (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "close to the CA's rate limit" "the warning before the last one the budget allows"
json=$(certcli limits --json)
assert_eq 2 "$(json_field "$json" cas.0.budgets.0.used)" "certificates counted under certcli.test"
assert_eq 0 "$(json_field "$json" cas.0.budgets.0.left)" "certificates left under certcli.test"
first=$(json_field "$json" cas.0.budgets.0.frees_at)
[[ "$first" != null ]] || fail "no frees_at for a full budget: $json"
# The account budget counts orders: two so far.
account_row=$("$HARNESS_PYTHON" -c 'import json,sys; d=json.load(sys.stdin); print([b for b in d["cas"][0]["budgets"] if b["scope"]=="account"][0]["used"])' <<<"$json")
assert_eq 2 "$account_row" "orders counted for the account"
echo "ok: the second issuance warned and filled the budget (2 used, 0 left, frees at $first)"

# The third name under certcli.test is refused before any request to the CA: -v prints none, and
# nothing under the state directory changes.
before=$(state_snapshot "$home")
run_capture certcli -v issue c.limits.certcli.test
assert_eq 10 "$LAST_STATUS" "exit code of a refused issuance (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "rate limit" "the refusal names the rate limit"
assert_contains "$LAST_STDERR" "certcli.test" "the refusal names the registered domain"
assert_not_contains "$LAST_STDERR" "certcli: http: " "requests made by a refused issuance"
assert_eq "$before" "$(state_snapshot "$home")" "state after a refused issuance"
echo "ok: the third certificate under certcli.test is refused (exit 10) before any request, changing nothing"

run_capture certcli issue c.limits.certcli.test --ignore-limits
assert_eq 0 "$LAST_STATUS" "issue --ignore-limits (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "ordering anyway" "--ignore-limits says it passes the limit"
assert_eq 3 "$(json_field "$(certcli limits --json)" cas.0.budgets.0.used)" "certificates counted after --ignore-limits"
echo "ok: --ignore-limits orders anyway, and the ledger counts it (3 under certcli.test)"

# A renewal (the same exact names as the live certificate) is exempt from the registered-domain
# budget, though certcli.test is past it, and still counted.
run_capture certcli renew c.limits.certcli.test --force
assert_eq 0 "$LAST_STATUS" "renew --force of the same names past the budget (stderr: $LAST_STDERR)"
assert_not_contains "$LAST_STDERR" "past the CA's rate limit" "a renewal is exempt from the registered-domain limit"
assert_eq 4 "$(json_field "$(certcli limits --json)" cas.0.budgets.0.used)" "certificates counted after the renewal"
echo "ok: a renewal of the same names is exempt from the registered-domain budget and still counted"

# The human table says the same.
run_capture certcli limits
assert_eq 0 "$LAST_STATUS" "limits (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "certificates per registered domain certcli.test: 0 of 2 left" "limits table"
echo "ok: limits shows the budgets as a table"
