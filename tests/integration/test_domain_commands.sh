#!/usr/bin/env bash
# domain add/list/remove through the binary, no CA needed: adding is idempotent whatever the
# order of names, a conflicting add says how to change names, remove keeps every file under
# removed/, and command-line mistakes get the same two-line error shape as everything else.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
: "${CERTCLI_BIN:?set CERTCLI_BIN to the certcli binary (ctest does)}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
home="$work/home"
certcli() { "$CERTCLI_BIN" --home "$home" "$@"; }

run_capture certcli domain add Example.COM --san b.example.com --san a.example.com
assert_eq 0 "$LAST_STATUS" "domain add (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "Added example.com (example.com, b.example.com, a.example.com)"
run_capture certcli domain add example.com --san a.example.com --san b.example.com
assert_eq 0 "$LAST_STATUS" "adding the same names in another order"
assert_contains "$LAST_STDOUT" "Already added, unchanged"
echo "ok: domain add normalizes names and is idempotent whatever their order"

run_capture certcli domain add example.com --san c.example.com
assert_eq 0 "$LAST_STATUS" "adding a name to an existing domain (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "Added to example.com: c.example.com"
echo "ok: adding another name to an existing domain adds it (tests/integration/test_domain_lifecycle.sh goes on)"

assert_eq $'example.com\tpending\texample.com,b.example.com,a.example.com,c.example.com' "$(certcli domain list)" "domain list"
run_capture certcli domain remove example.com
assert_eq 0 "$LAST_STATUS" "domain remove (stderr: $LAST_STDERR)"
moved=$(ls -d "$home"/removed/example.com.*)
[[ -f "$moved/domain.toml" ]] || fail "the removed domain's record was not kept: $moved"
assert_file_mode 700 "$home/removed"
run_expect_fail certcli status example.com
assert_eq 4 "$LAST_STATUS" "status of a removed domain"
assert_eq "" "$(certcli domain list 2>/dev/null)" "domain list after remove"
grep -q '"event":"domain.removed"' "$home/activity.jsonl" || fail "no domain.removed event in the activity log"
certcli domain add example.com --san c.example.com >/dev/null
echo "ok: domain remove keeps the files under removed/ and the name can be added anew"

run_expect_fail certcli domain add a.example.com --http-listen :80 --webroot /tmp
assert_eq 2 "$LAST_STATUS" "--http-listen with --webroot"
assert_contains "$LAST_STDERR" "certcli: error:"
assert_contains "$LAST_STDERR" "certcli: hint:"
run_expect_fail "$CERTCLI_BIN"
assert_eq 2 "$LAST_STATUS" "bare certcli"
assert_contains "$LAST_STDERR" "Subcommands:"
run_capture "$CERTCLI_BIN" issue --help
assert_eq 0 "$LAST_STATUS" "issue --help"
assert_contains "$LAST_STDOUT" "--agree-tos"
echo "ok: usage mistakes exit 2 in the house error format; --help exits 0"
