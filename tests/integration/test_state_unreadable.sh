#!/usr/bin/env bash
# A state directory certcli cannot read is an error, never "no domains": a monitoring script
# reads `certcli status` exiting 0 with "No domains yet" as healthy, so on a --home that is a
# regular file, or one that belongs to another user (root's /var/lib/certcli read by a
# non-root user), every command that reads state (status, status NAME, status --json, domain
# list) must exit 5 with the house two-line error naming the directory it looked in and a hint
# (whose it is; run as that user or choose another --home), and --json must carry it too.
# Controls prove the test can fail the other way: an empty readable directory and a missing one
# still say "No domains yet" and exit 0, and the unreadable state is valid for its owner.
# No CA needed. Needs root (CI runs as root): it runs certcli as user nobody.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
: "${CERTCLI_BIN:?set CERTCLI_BIN to the certcli binary (ctest does)}"
((EUID == 0)) || fail "this test needs root: it runs certcli as user nobody on root's state"
command -v setpriv >/dev/null || fail "setpriv (util-linux) not found"
nobody_uid=$(id -u nobody) || fail "no user nobody"
nobody_gid=$(id -g nobody) # Debian: nogroup

# Everything lives under one directory that nobody can traverse (mktemp -d makes it 0700; the
# test's own directory, e.g. a CI clone, may not be traversable at all).
work=$(mktemp -d /tmp/certcli-state-unreadable.XXXXXX)
trap 'rm -rf -- "$work"' EXIT
chmod 755 "$work"

# nobody must be able to execute certcli: the build directory may not be traversable, so run a
# copy (it links only system libraries). From /, with no usable HOME: --home is always given.
mkdir -m 755 "$work/bin"
cp -- "$CERTCLI_BIN" "$work/bin/certcli"
chmod 755 "$work/bin/certcli"
as_nobody() (
  cd /
  exec setpriv --reuid="$nobody_uid" --regid="$nobody_gid" --clear-groups --inh-caps=-all \
    env -u CERTCLI_HOME -u XDG_STATE_HOME HOME=/nonexistent "$work/bin/certcli" "$@"
)
run_capture as_nobody --help
assert_eq 0 "$LAST_STATUS" "certcli --help as nobody (stderr: $LAST_STDERR)"

# expect_state_error DIR CMD... — CMD exits 5, its error line names DIR, a hint line follows,
# and nothing on stdout says there are no domains.
expect_state_error() {
  local dir=$1 error_line
  shift
  run_capture "$@"
  assert_eq 5 "$LAST_STATUS" "exit status of [${*:2}] (stdout: $LAST_STDOUT; stderr: $LAST_STDERR)"
  error_line=$(grep '^certcli: error: ' <<<"$LAST_STDERR" || true)
  [[ -n "$error_line" ]] || fail "[${*:2}]: no 'certcli: error: ' line in: $LAST_STDERR"
  assert_contains "$error_line" "$dir" "[${*:2}]: the error names the directory"
  HINT_LINE=$(grep '^certcli: hint: ' <<<"$LAST_STDERR" || true)
  [[ -n "$HINT_LINE" ]] || fail "[${*:2}]: no 'certcli: hint: ' line in: $LAST_STDERR"
  assert_not_contains "$LAST_STDOUT" "No domains yet" "[${*:2}]"
}

# expect_json_state_error DIR CMD... — the same with --json: exit 5 and the error on stdout.
expect_json_state_error() {
  local dir=$1
  expect_state_error "$@"
  assert_eq 5 "$(json_field "$LAST_STDOUT" error.exit_code)" "[${*:3}]: JSON error.exit_code"
  assert_eq state "$(json_field "$LAST_STDOUT" error.kind)" "[${*:3}]: JSON error.kind"
  assert_contains "$(json_field "$LAST_STDOUT" error.message)" "$dir" "[${*:3}]: JSON error.message"
  [[ -n "$(json_field "$LAST_STDOUT" error.hint)" ]] || fail "[${*:3}]: empty JSON error.hint"
}

# 1. --home is a regular file.
file="$work/not-a-directory"
echo "not a state directory" >"$file"
for args in "status" "domain list" "status some.example.com"; do
  # shellcheck disable=SC2086  # split the subcommand on purpose
  expect_state_error "$file" "$CERTCLI_BIN" --home "$file" $args
  assert_contains "$LAST_STDERR" "not a directory" "[$args] on a file"
done
expect_json_state_error "$file" "$CERTCLI_BIN" --home "$file" status --json
assert_eq "not a state directory" "$(<"$file")" "the file given as --home"
echo "ok: --home naming a regular file: status, status NAME, status --json and domain list exit 5 and name it"

# 2. Root's state directory, read by nobody.
state="$work/state"
run_capture "$CERTCLI_BIN" --home "$state" domain add a.example.com
assert_eq 0 "$LAST_STATUS" "domain add as root (stderr: $LAST_STDERR)"
assert_file_mode 700 "$state"
assert_eq 0 "$(stat -c %u "$state")" "owner of the state directory"
run_capture "$CERTCLI_BIN" --home "$state" status
assert_eq 0 "$LAST_STATUS" "status as root, the owner (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "a.example.com" "status as root"
if setpriv --reuid="$nobody_uid" --regid="$nobody_gid" --clear-groups --inh-caps=-all ls -- "$state" >/dev/null 2>&1; then
  fail "premise: nobody can list $state"
fi
before=$(state_snapshot "$state")
for args in "status" "domain list" "status a.example.com"; do
  # shellcheck disable=SC2086
  expect_state_error "$state" as_nobody --home "$state" $args
  assert_contains "$HINT_LINE" "belongs to root" "[$args]: the hint says whose the directory is"
done
expect_json_state_error "$state" as_nobody --home "$state" status --json
assert_contains "$(json_field "$LAST_STDOUT" error.hint)" "belongs to root" "JSON error.hint"
assert_eq "$before" "$(state_snapshot "$state")" "root's state after nobody's attempts"
echo "ok: root's state read by nobody: every reading command exits 5, names it and says it belongs to root"

# 3. nobody's own state with a domains/ directory nobody cannot read: the same, one level down.
own="$work/own-state"
"$CERTCLI_BIN" --home "$own" domain add b.example.com >/dev/null
chown -R "$nobody_uid:$nobody_gid" "$own"
chmod 000 "$own/domains"
for args in "status" "domain list" "status b.example.com"; do
  # shellcheck disable=SC2086
  expect_state_error "$own/domains" as_nobody --home "$own" $args
done
expect_json_state_error "$own/domains" as_nobody --home "$own" status --json
chmod 700 "$own/domains"
echo "ok: an unreadable domains/ inside a readable state directory: exit 5, naming it"

# Controls: an empty directory nobody owns and a directory that does not exist yet are simply
# "no domains" (exit 0), so the cases above fail for the right reason.
empty="$work/empty"
mkdir -m 700 "$empty"
chown "$nobody_uid:$nobody_gid" "$empty"
fresh="$work/fresh"
for dir in "$empty" "$fresh"; do
  run_capture as_nobody --home "$dir" status
  assert_eq 0 "$LAST_STATUS" "status as nobody on $dir (stderr: $LAST_STDERR)"
  assert_contains "$LAST_STDOUT" "No domains yet" "status as nobody on $dir"
  run_capture as_nobody --home "$dir" status --json
  assert_eq 0 "$LAST_STATUS" "status --json as nobody on $dir (stderr: $LAST_STDERR)"
  assert_eq "" "$(json_field "$LAST_STDOUT" domains)" "status --json as nobody on $dir"
  run_capture as_nobody --home "$dir" domain list
  assert_eq 0 "$LAST_STATUS" "domain list as nobody on $dir (stderr: $LAST_STDERR)"
  assert_eq "" "$LAST_STDOUT" "domain list as nobody on $dir"
done
[[ ! -e "$fresh" ]] || fail "status created the state directory $fresh"
echo "ok: controls: an empty or missing state directory is 'No domains yet', exit 0"
