#!/usr/bin/env bash
# A CA is outside input (issue #16, item 1): a challenge token that is not 22-256 base64url
# characters is refused where the authorization is parsed, before any solver sees it. For a
# token with slashes, a path traversal, a shell command substitution, spaces, or 4096
# characters, and for both the webroot and the standalone solver: `issue` exits 7 naming the CA
# (its directory URL) and the token, writes nothing outside the webroot's challenge directory
# (no traversal, nothing executed, no core dump, never an abort), records the domain as failed
# and drops the order, so the next run orders anew. A well-behaved answer from the same server
# then issues normally, which shows the refusals came from the tokens and not from the server.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/hostile_acme.sh"
harness_start
use_certcli
start_hostile_acme

marker="$HARNESS_DIR/marker-must-never-exist"
# shellcheck disable=SC2016  # the command substitution is the token's text, never to be run
tokens=(
  "abc/def/ghi/jkl/mno/pqr/stu"
  "../../../../../../../../tmp/x"
  '$(touch '"$marker"')'
  "has a space in it and is long enough"
  "$(head -c 4096 /dev/zero | tr '\0' a)"
)
# The traversal token aims at /tmp/x: it must not appear if it was not there before.
tmp_x_existed=0
[[ -e /tmp/x ]] && tmp_x_existed=1

# token_mode TOKEN — the mode.json that makes every challenge carry TOKEN (JSON-escaped).
token_mode() { "$HARNESS_PYTHON" -c 'import json, sys; print(json.dumps({"token": sys.argv[1]}))' "$1"; }

# check_sandbox DIR TOKEN — nothing was written under DIR (the run's cwd and the webroot's parent)
# but the empty webroot/.well-known/acme-challenge/, no core dump, the marker was never created.
check_sandbox() {
  local cores written
  cores=$(find "$1" -maxdepth 1 -name 'core*')
  assert_eq "" "$cores" "core files in the cwd of certcli (token ${2:0:20})"
  written=$(cd "$1" && find . -mindepth 1 ! -path ./webroot ! -path ./webroot/.well-known \
    ! -path ./webroot/.well-known/acme-challenge | sort)
  assert_eq "" "$written" "paths written in the sandbox (token ${2:0:20})"
  [[ ! -e "$marker" ]] || fail "the token ${2:0:20}... made something run: $marker exists"
  ((tmp_x_existed)) || [[ ! -e /tmp/x ]] || fail "the token ${2:0:20}... wrote /tmp/x"
}

# issue_in SANDBOX NAME SOLVER — `issue NAME` run from SANDBOX with the SOLVER's flags.
issue_in() {
  local -a flags
  if [[ "$3" == webroot ]]; then
    flags=(--webroot "$1/webroot")
  else
    flags=(--http-listen "127.0.0.1:$CERTCLI_TEST_HTTP_PORT")
  fi
  cd "$1"
  run_capture certcli_hostile issue "$2" --email a@example.com --agree-tos --skip-preflight "${flags[@]}"
  cd "$OLDPWD"
}

# expect_refused TOKEN — the last run was refused as a hostile token must be.
expect_refused() {
  ((LAST_STATUS != 134)) || fail "certcli aborted (exit 134) on token ${1:0:20}...: $LAST_STDERR"
  assert_eq 7 "$LAST_STATUS" "exit code for the token ${1:0:20}... (stderr: $LAST_STDERR)"
  assert_contains "$LAST_STDERR" "$HOSTILE_DIRECTORY" "the message names the CA"
  assert_contains "$LAST_STDERR" "${1:0:20}" "the message shows the token"
}

i=0
for token in "${tokens[@]}"; do
  i=$((i + 1))
  for solver in webroot standalone; do
    name="tok$i-$solver.example.com"
    sandbox="$HARNESS_DIR/sandbox-tok$i-$solver"
    mkdir -p "$sandbox/webroot"
    hostile_mode "$(token_mode "$token")"
    certcli_hostile domain add "$name" >/dev/null

    issue_in "$sandbox" "$name" "$solver"
    expect_refused "$token"
    check_sandbox "$sandbox" "$token"
    state=$(certcli_hostile status "$name" --json)
    assert_eq failed "$(json_field "$state" status)" "status of $name after a hostile token"
    assert_eq null "$(json_field "$state" order_url)" "the order with a hostile token is dropped ($name)"

    orders=$(hostile_count newOrder)
    issue_in "$sandbox" "$name" "$solver"
    expect_refused "$token"
    check_sandbox "$sandbox" "$token"
    assert_eq $((orders + 1)) "$(hostile_count newOrder)" "the run after a hostile token orders anew ($name)"
    echo "ok: token $i (${token:0:20}...) refused with the $solver solver: exit 7, CA and token named, nothing written, new order next run"
  done
done

# The same server with well-formed tokens issues normally.
hostile_mode '{}'
sandbox="$HARNESS_DIR/sandbox-good"
mkdir -p "$sandbox/webroot"
certcli_hostile domain add good.example.com >/dev/null
issue_in "$sandbox" good.example.com webroot
assert_eq 0 "$LAST_STATUS" "issue with well-formed tokens exits 0 (stderr: $LAST_STDERR)"
assert_eq ready "$(json_field "$(certcli_hostile status good.example.com --json)" status)"
assert_contains "$(openssl x509 -in "$home/domains/good.example.com/live/cert.pem" -noout -ext subjectAltName)" \
  "DNS:good.example.com"
echo "ok: with well-formed tokens the hostile server issues a certificate (the refusals were the tokens')"
