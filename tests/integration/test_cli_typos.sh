#!/usr/bin/env bash
# A mistyped command or option is named, with the nearest one that exists ("did you mean"),
# exits 2 in the house two-line error format (and in JSON with --json), and changes nothing.
# Needs no CA: every command line here is refused before certcli touches the network or state.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
: "${CERTCLI_BIN:?set CERTCLI_BIN to the certcli binary (ctest does)}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
home="$work/home"
certcli() { "$CERTCLI_BIN" --home "$home" "$@"; }

run_expect_fail certcli isue example.com
assert_eq 2 "$LAST_STATUS" "exit code for a mistyped command"
assert_contains "$LAST_STDERR" "certcli: error: unknown command 'isue'"
assert_contains "$LAST_STDERR" "certcli: hint: did you mean 'certcli issue'? (certcli --help lists the commands)"
assert_not_contains "$LAST_STDERR" "A subcommand is required"
echo "ok: 'certcli isue' suggests 'certcli issue'"

run_expect_fail certcli domain ad example.com
assert_eq 2 "$LAST_STATUS" "exit code for a mistyped subcommand"
assert_contains "$LAST_STDERR" "certcli: error: unknown command 'ad' for 'certcli domain'"
assert_contains "$LAST_STDERR" "certcli: hint: did you mean 'certcli domain add'?"
echo "ok: 'certcli domain ad' suggests 'certcli domain add'"

run_expect_fail certcli issue example.com --timout 5
assert_eq 2 "$LAST_STATUS" "exit code for a mistyped option"
assert_contains "$LAST_STDERR" "certcli: error: unknown option '--timout' for 'certcli issue'"
assert_contains "$LAST_STDERR" "certcli: hint: did you mean '--timeout'?"
assert_not_contains "$LAST_STDERR" "were not expected"
run_expect_fail certcli issue example.com --timout=5
assert_eq 2 "$LAST_STATUS" "exit code for a mistyped --option=value"
assert_contains "$LAST_STDERR" "certcli: error: unknown option '--timout' for 'certcli issue'"
assert_contains "$LAST_STDERR" "did you mean '--timeout'?"
echo "ok: '--timout' and '--timout=5' suggest '--timeout'"

# Global options are known after the subcommand too, and their values are not unknown words.
run_expect_fail "$CERTCLI_BIN" issue example.com --home "$home" --ca letsencrypt --email a@example.com --timout 5
assert_contains "$LAST_STDERR" "certcli: error: unknown option '--timout' for 'certcli issue'"
run_expect_fail "$CERTCLI_BIN" --hme "$home" status
assert_eq 2 "$LAST_STATUS" "exit code for a mistyped global option"
assert_contains "$LAST_STDERR" "certcli: error: unknown option '--hme'"
assert_contains "$LAST_STDERR" "did you mean '--home'?"
run_expect_fail certcli domain add example.com --sna www.example.com
assert_contains "$LAST_STDERR" "certcli: error: unknown option '--sna' for 'certcli domain add'"
assert_contains "$LAST_STDERR" "did you mean '--san'?"
echo "ok: global options count everywhere; option values are skipped"

run_expect_fail certcli frobnicate
assert_eq 2 "$LAST_STATUS" "exit code for an unknown command with no near match"
assert_contains "$LAST_STDERR" "certcli: error: unknown command 'frobnicate'"
assert_contains "$LAST_STDERR" "certcli: hint: certcli --help lists the commands"
assert_not_contains "$LAST_STDERR" "did you mean"
run_expect_fail certcli issue example.com --frobnicate
assert_eq 2 "$LAST_STATUS" "exit code for an unknown option with no near match"
assert_contains "$LAST_STDERR" "certcli: error: unknown option '--frobnicate' for 'certcli issue'"
assert_contains "$LAST_STDERR" "certcli: hint: certcli issue --help lists the options"
assert_not_contains "$LAST_STDERR" "did you mean"
echo "ok: a word with no near match is still named, and --help is pointed at"

run_expect_fail certcli issue example.com --timout 5 --json
assert_eq 2 "$LAST_STATUS" "exit code with --json"
assert_eq usage "$(json_field "$LAST_STDOUT" error.kind)" "error.kind"
assert_eq 2 "$(json_field "$LAST_STDOUT" error.exit_code)" "error.exit_code"
assert_eq "unknown option '--timout' for 'certcli issue'" "$(json_field "$LAST_STDOUT" error.message)" "error.message"
assert_contains "$(json_field "$LAST_STDOUT" error.hint)" "did you mean '--timeout'?"
assert_contains "$LAST_STDERR" "certcli: error: unknown option '--timout' for 'certcli issue'"
echo "ok: with --json the same error is on stdout as JSON"

# Other command-line mistakes keep CLI11's own words; a domain name is not an unknown command.
run_expect_fail certcli domain add a.example.com --http-listen :80 --webroot /tmp
assert_eq 2 "$LAST_STATUS" "--http-listen with --webroot"
assert_contains "$LAST_STDERR" "excludes"
assert_not_contains "$LAST_STDERR" "unknown"
run_expect_fail certcli status example.com extra
assert_eq 2 "$LAST_STATUS" "an extra positional"
assert_not_contains "$LAST_STDERR" "unknown command"
echo "ok: mistakes that are not unknown words keep their own message"

[[ ! -e "$home" ]] || fail "a refused command line created the state directory $home"
echo "ok: refused command lines changed nothing"
