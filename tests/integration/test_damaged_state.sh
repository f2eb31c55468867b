#!/usr/bin/env bash
# A hand-edited or damaged domain.toml (issue #20): the error names the file and the line; every
# other domain keeps working in status, domain list, check and renew (which reports the broken
# one and exits non-zero); nothing rewrites the broken file until the user fixes it; and once it
# is fixed, everything works again. Also: bytes toml++ 3.3.0 must never see (a character outside
# ASCII outside quotes) are refused with file and line, the same way.
# (An unreadable state *directory* is test_state_unreadable.sh.)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_start
use_certcli

webroot="$HARNESS_DIR/webroot"
start_webroot_server "$webroot"
for name in good broken; do
  certcli domain add "$name.damaged.test" --webroot "$webroot" >/dev/null
  certcli issue "$name.damaged.test" --agree-tos >/dev/null 2>&1 || fail "issuing $name.damaged.test"
done
file="$home/domains/broken.damaged.test/domain.toml"
cp -- "$file" "$HARNESS_DIR/domain.toml.good"
# The line to damage: the first plain `key = value` from line 7 on.
line=$(awk 'NR >= 7 && /^[a-z_]+ = /{print NR; exit}' "$file")
[[ -n "$line" ]] || fail "premise: no key = value line from line 7 on in $file: $(cat "$file")"
serial() { openssl x509 -noout -serial -in "$home/domains/$1/live/cert.pem"; }

# expect_damage_named WHAT LINE — the last command exited 5, named the file and LINE on a
# 'certcli: error:' line with a hint, and still showed the good domain on stdout.
expect_damage_named() {
  local what=$1 line=$2 error_line
  assert_eq 5 "$LAST_STATUS" "$what: exit status (stdout: $LAST_STDOUT; stderr: $LAST_STDERR)"
  error_line=$(grep '^certcli: error: ' <<<"$LAST_STDERR" || true)
  assert_contains "$error_line" "$file:$line: " "$what: the error names the file and line"
  grep -q '^certcli: hint: ' <<<"$LAST_STDERR" || fail "$what: no hint in: $LAST_STDERR"
  assert_contains "$LAST_STDOUT" "good.damaged.test" "$what: the other domain is shown"
  assert_not_contains "$LAST_STDOUT" "broken.damaged.test" "$what: the broken domain is not shown as if read"
}

# 1. A syntax error on line 7 or so, as a hand edit leaves it.
sed -i "${line}s/=.*/= = \"ready/" "$file"
sum=$(sha256sum "$file")

run_capture certcli status
expect_damage_named "status" "$line"
assert_contains "$LAST_STDERR" "the other domains are shown" "status"
run_capture certcli status --json
expect_damage_named "status --json" "$line"
assert_eq good.damaged.test "$(json_field "$LAST_STDOUT" domains.0.domain)" "status --json lists the good domain"
run_capture certcli domain list
expect_damage_named "domain list" "$line"
run_capture certcli check
expect_damage_named "check" "$line"
echo "ok: status, status --json, domain list and check show the other domain, name $file:$line and exit 5"

run_capture certcli status broken.damaged.test
assert_eq 5 "$LAST_STATUS" "status of the broken domain (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "$file:$line: " "status of the broken domain"

# renew --force: the good one is renewed, the broken one reported with file and line.
before_good=$(serial good.damaged.test) before_broken=$(serial broken.damaged.test)
run_capture certcli renew --force
[[ $LAST_STATUS -ne 0 ]] || fail "renew exited 0 with a damaged record: $LAST_STDOUT"
assert_eq 5 "$LAST_STATUS" "renew exit status (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "$file:$line: " "renew names the file and line"
assert_contains "$(grep '^broken.damaged.test' <<<"$LAST_STDOUT")" "FAILED" "renew reports the broken one as failed"
[[ "$before_good" != "$(serial good.damaged.test)" ]] || fail "renew --force did not renew the good domain"
assert_eq "$before_broken" "$(serial broken.damaged.test)" "the broken domain's certificate"
run_capture certcli renew --force --json
assert_eq failed "$(json_field "$LAST_STDOUT" domains.0.action)" "renew --json: the broken one"
assert_eq state "$(json_field "$LAST_STDOUT" domains.0.error.kind)" "renew --json: its error kind"
assert_contains "$(json_field "$LAST_STDOUT" domains.0.error.message)" "$file:$line: " "renew --json: its error"
assert_eq renewed "$(json_field "$LAST_STDOUT" domains.1.action)" "renew --json: the good one"
run_capture certcli renew broken.damaged.test --force
assert_eq 5 "$LAST_STATUS" "renew of the broken domain by name (stderr: $LAST_STDERR)"
echo "ok: renew --force renews the other domain and reports the broken one with file and line (exit 5)"

# Nothing rewrites the broken file: commands that would save it refuse.
run_capture certcli issue broken.damaged.test
assert_eq 5 "$LAST_STATUS" "issue of the broken domain (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "$file:$line: " "issue names the file and line"
run_capture certcli domain add broken.damaged.test --san www.broken.damaged.test
assert_eq 5 "$LAST_STATUS" "domain add --san to the broken domain (stderr: $LAST_STDERR)"
run_capture certcli domain set broken.damaged.test --key-type ec384
assert_eq 5 "$LAST_STATUS" "domain set on the broken domain (stderr: $LAST_STDERR)"
assert_eq "$sum" "$(sha256sum "$file")" "the damaged file after every command"
echo "ok: issue, domain add and domain set refuse the broken domain; the file is byte-identical"

# 2. Bytes toml++ 3.3.0 must not see: U+040B where a value starts (the fuzz reproducer's shape).
cp -- "$HARNESS_DIR/domain.toml.good" "$file"
sed -i "${line}s/=.*/= \xd0\x8best/" "$file"
sum=$(sha256sum "$file")
run_capture certcli status
expect_damage_named "status on non-ASCII outside quotes" "$line"
assert_contains "$LAST_STDERR" "U+040B" "the refused character is named"
run_capture certcli renew --force
assert_eq 5 "$LAST_STATUS" "renew with a refused record (stderr: $LAST_STDERR)"
assert_eq "$sum" "$(sha256sum "$file")" "the refused file after status and renew"
echo "ok: a character outside ASCII outside quotes is refused with file and line, before the parser"

# 3. Fixed by hand: everything works again, the broken domain included.
cp -- "$HARNESS_DIR/domain.toml.good" "$file"
run_capture certcli status
assert_eq 0 "$LAST_STATUS" "status after the fix (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "broken.damaged.test" "status after the fix"
assert_contains "$LAST_STDOUT" "good.damaged.test" "status after the fix"
run_capture certcli domain list
assert_eq 0 "$LAST_STATUS" "domain list after the fix (stderr: $LAST_STDERR)"
run_capture certcli check
assert_eq 0 "$LAST_STATUS" "check after the fix (stderr: $LAST_STDERR)"
run_capture certcli renew broken.damaged.test --force
assert_eq 0 "$LAST_STATUS" "renew after the fix (stderr: $LAST_STDERR)"
[[ "$before_broken" != "$(serial broken.damaged.test)" ]] || fail "the fixed domain was not renewed"
echo "ok: after the fix, status, domain list, check and renew work for both domains"
