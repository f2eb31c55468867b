#!/usr/bin/env bash
# Refused runs say what to do, exit with the documented code, and leave the state directory
# exactly as it was: an unreachable CA, a domain never added, a missing --agree-tos, a bad name.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
: "${CERTCLI_BIN:?set CERTCLI_BIN to the certcli binary (ctest does)}"
harness_start

home="$HARNESS_DIR/home"
certcli() { "$CERTCLI_BIN" --home "$home" --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" "$@"; }
"$CERTCLI_BIN" --home "$home" domain add quiet.certcli.test >/dev/null

# A directory URL where nothing answers: a port reserved for the harness that nobody listens on.
dead_url="https://127.0.0.1:$CERTCLI_TEST_TLS_PORT/dir"
before=$(state_snapshot "$home")
run_expect_fail certcli --directory "$dead_url" issue quiet.certcli.test --agree-tos --http-listen "127.0.0.1:$CERTCLI_TEST_HTTP_PORT"
assert_eq 6 "$LAST_STATUS" "exit code for an unreachable CA"
assert_contains "$LAST_STDERR" "$dead_url"
assert_contains "$LAST_STDERR" "hint:"
assert_eq "$before" "$(state_snapshot "$home")" "state after an unreachable CA"
echo "ok: an unreachable directory exits 6, names the URL, gives a hint, changes nothing"

run_expect_fail certcli --directory "$CERTCLI_TEST_DIRECTORY" issue never.certcli.test --agree-tos
assert_eq 4 "$LAST_STATUS" "exit code for a domain never added"
assert_contains "$LAST_STDERR" "never.certcli.test has not been added"
assert_contains "$LAST_STDERR" "certcli domain add never.certcli.test"
assert_eq "$before" "$(state_snapshot "$home")" "state after a domain never added"
run_expect_fail certcli --directory "$CERTCLI_TEST_DIRECTORY" issue never.certcli.test --json
assert_eq 4 "$LAST_STATUS" "exit code for a domain never added, with --json"
assert_eq not_found "$(json_field "$LAST_STDOUT" error.kind)" "JSON error kind"
assert_eq 4 "$(json_field "$LAST_STDOUT" error.exit_code)" "JSON error exit code"
assert_contains "$(json_field "$LAST_STDOUT" error.hint)" "certcli domain add never.certcli.test"
echo "ok: a domain never added exits 4 with the command that fixes it (also as JSON), changes nothing"

run_expect_fail certcli --directory "$CERTCLI_TEST_DIRECTORY" issue quiet.certcli.test --http-listen "127.0.0.1:$CERTCLI_TEST_HTTP_PORT"
assert_eq 2 "$LAST_STATUS" "exit code without --agree-tos"
assert_contains "$LAST_STDERR" "--agree-tos"
assert_eq "$before" "$(state_snapshot "$home")" "state after a missing --agree-tos"
echo "ok: a new account without --agree-tos exits 2 with the fix, changes nothing"

run_expect_fail certcli domain add "bad_name.certcli.test"
assert_eq 3 "$LAST_STATUS" "exit code for a malformed name"
assert_contains "$LAST_STDERR" "bad_name.certcli.test"
run_expect_fail certcli bogus-subcommand
assert_eq 2 "$LAST_STATUS" "exit code for an unknown subcommand"
assert_eq "$before" "$(state_snapshot "$home")" "state after malformed input"
echo "ok: malformed input exits 3 or 2 and changes nothing"

# Nothing ever existed: a refused command must not even create the state directory.
run_expect_fail "$CERTCLI_BIN" --home "$HARNESS_DIR/fresh" --directory "$dead_url" issue quiet.certcli.test
[[ ! -e "$HARNESS_DIR/fresh" ]] || fail "a refused command created the state directory"
echo "ok: a refused command on a fresh machine creates no state directory"
