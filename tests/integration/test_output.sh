#!/usr/bin/env bash
# Output for people and for scripts (docs/json.md): every command's --json is one document with
# schema_version 1; a JSON error has all five fields; --quiet prints nothing on success;
# NO_COLOR (and a pipe) gives no escape bytes; progress reaches stderr only when asked for (a
# pipe is not a terminal); the stored error of a failed domain has the shape of a failure's.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_start
use_certcli
listen="127.0.0.1:$CERTCLI_TEST_HTTP_PORT"
acme_hostport=${CERTCLI_TEST_DIRECTORY#https://}
acme_hostport=${acme_hostport%%/*}

certcli domain add out.certcli.test --san www.out.certcli.test --http-listen "$listen" >/dev/null
run_capture certcli issue out.certcli.test --email ops@certcli.test --agree-tos --json
assert_eq 0 "$LAST_STATUS" "issue --json (stderr: $LAST_STDERR)"
issued=$LAST_STDOUT
# One shape per thing: issue prints the domain as status does, plus what only the run knows.
assert_eq 1 "$(json_field "$issued" schema_version)" "issue --json schema_version"
assert_eq ready "$(json_field "$issued" status)" "issue --json status"
status_serial=$(json_field "$(certcli status out.certcli.test --json)" certificate.serial)
assert_eq "$status_serial" "$(json_field "$issued" certificate.serial)" "issue and status share the certificate object"
[[ -n "$(json_field "$issued" acme_requests)" && -n "$(json_field "$issued" elapsed_seconds)" ]] ||
  fail "issue --json lacks what only issue knows: $issued"
echo "ok: issue --json is the status shape with acme_requests and elapsed_seconds"

# schema_version 1 at the top of every command's --json (exit status aside: pin check fails
# on a host without pins, and still prints its document).
check_schema() {
  local what=$1
  shift
  run_capture "$@" --json
  local version
  version=$("$HARNESS_PYTHON" -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["schema_version"] if isinstance(d, dict) else "not an object")' \
    "$LAST_STDOUT" 2>&1) || fail "$what --json is not one JSON document: $LAST_STDOUT (stderr: $LAST_STDERR)"
  assert_eq 1 "$version" "$what --json: schema_version"
}
check_schema "status" certcli status
check_schema "status NAME" certcli status out.certcli.test
check_schema "domain list" certcli domain list
check_schema "domain show" certcli domain show out.certcli.test
check_schema "verify" certcli verify out.certcli.test
check_schema "renew" certcli renew
check_schema "check" certcli check
check_schema "pin list" certcli pin list
check_schema "pin check" certcli pin check "$acme_hostport"
check_schema "activity" certcli activity
check_schema "covers" certcli covers www.out.certcli.test
check_schema "ca list" certcli ca list
check_schema "ca show" certcli ca show
check_schema "limits" certcli limits
check_schema "config show" certcli config show
check_schema "wait" certcli wait out.certcli.test
assert_eq out.certcli.test "$(json_field "$(certcli domain list --json)" domains.0.domain)" "domain list --json"
assert_eq null "$(json_field "$(certcli renew --json)" domains.0.state)" "renew --json: no state for a domain not renewed"
renewed=$(certcli renew out.certcli.test --force --json)
assert_eq "$(json_field "$(certcli status out.certcli.test --json)" certificate.serial)" \
  "$(json_field "$renewed" domains.0.state.certificate.serial)" "renew --json: a renewed domain's state is the status object"
echo "ok: every command's --json has schema_version 1"

# A JSON error: kind, message, hint, exit_code and subject (null when the error names nothing).
for args in "status nosuch.certcli.test" "issue nosuch.certcli.test" "status --bogus"; do
  # shellcheck disable=SC2086
  run_expect_fail certcli $args --json
  "$HARNESS_PYTHON" - "$LAST_STDOUT" "$args" <<'PY' || fail "JSON error of '$args': $LAST_STDOUT"
import json, sys
doc = json.loads(sys.argv[1])
assert doc["schema_version"] == 1, doc
error = doc["error"]
for field in ("kind", "message", "hint", "exit_code", "subject"):
    assert field in error, (field, error)
assert isinstance(error["exit_code"], int)
PY
done
echo "ok: JSON errors carry kind, message, hint, exit_code and subject"

# --quiet: nothing at all on success, on stdout or stderr.
for args in "status" "status out.certcli.test" "renew" "renew --quiet" "domain list"; do
  # shellcheck disable=SC2086
  run_capture certcli --quiet $args
  assert_eq 0 "$LAST_STATUS" "--quiet $args (stderr: $LAST_STDERR)"
  assert_eq "" "$LAST_STDOUT$LAST_STDERR" "--quiet $args prints nothing"
done
run_capture certcli issue out.certcli.test -q
assert_eq 0 "$LAST_STATUS" "issue -q (stderr: $LAST_STDERR)"
assert_eq "" "$LAST_STDOUT$LAST_STDERR" "issue -q prints nothing, progress included"
run_expect_fail certcli -q status nosuch.certcli.test
assert_eq "" "$LAST_STDOUT" "--quiet: nothing on stdout for an error"
assert_contains "$LAST_STDERR" "certcli: error: " "--quiet still prints the error"
echo "ok: --quiet prints nothing on success for status, issue, renew and domain list; errors still show"

# Progress only when asked for or on a terminal: a pipe gets none by default.
run_capture env -u CERTCLI_PROGRESS "$CERTCLI_BIN" --home "$home" --directory "$CERTCLI_TEST_DIRECTORY" \
  --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" issue out.certcli.test
assert_eq 0 "$LAST_STATUS" "issue with stderr not a terminal (stderr: $LAST_STDERR)"
assert_not_contains "$LAST_STDERR" "finalizing" "no progress on a pipe"
run_capture certcli issue out.certcli.test --progress always
assert_contains "$LAST_STDERR" "finalizing" "--progress always shows the phases"
[[ "$LAST_STDERR" =~ finalizing\ \([0-9]+\.[0-9]\ s\) ]] || fail "progress lines carry the elapsed time: $LAST_STDERR"
echo "ok: progress on stderr only when it is a terminal or --progress always, with elapsed time"

# Colour: never in a pipe, never with NO_COLOR even when forced by a terminal-less --color auto;
# --color always colours, NO_COLOR or not only for auto.
esc=$'\033'
for args in "status" "status --timeline" "status out.certcli.test"; do
  # shellcheck disable=SC2086
  out=$(NO_COLOR=1 certcli $args)
  assert_not_contains "$out" "$esc" "NO_COLOR: $args"
  # shellcheck disable=SC2086
  out=$(certcli $args)
  assert_not_contains "$out" "$esc" "a pipe: $args"
done
assert_contains "$(certcli status --timeline --color always)" "$esc[32m" "--color always colours a healthy bar green"
echo "ok: no escape bytes with NO_COLOR or in a pipe; --color always colours"

# The timeline: one line per certificate within 80 columns, and a legend.
timeline=$(certcli status --timeline)
line=$(grep '^out.certcli.test ' <<<"$timeline") || fail "no timeline line: $timeline"
((${#line} <= 80)) || fail "timeline line wider than 80 columns: $line"
[[ "$line" == *"^"* && "$line" == *"R"* && "$line" == *"|]"* ]] || fail "today, renewal or expiry not marked: $line"
assert_contains "$timeline" "R renewal" "the legend"
echo "ok: status --timeline draws the lifetime in 80 columns with today, renewal and expiry"

# A failed domain's stored error has the failure's field names, and the CA's type as acme_type.
certcli domain add broken.certcli.test >/dev/null
# certcli listens where Pebble does not look (as in test_issue_failure.sh): the validation fails.
run_expect_fail certcli issue broken.certcli.test --http-listen "127.0.0.1:$CERTCLI_TEST_TLS_PORT" --skip-preflight
state=$(certcli status broken.certcli.test --json)
"$HARNESS_PYTHON" - "$state" <<'PY' || fail "stored error shape: $state"
import json, sys
error = json.loads(sys.argv[1])["error"]
for field in ("kind", "message", "hint", "subject", "acme_type"):
    assert field in error, (field, error)
assert error["subject"] == "broken.certcli.test", error
assert error["acme_type"].startswith("urn:ietf:params:acme:error:"), error
assert error["kind"] == "challenge", error
assert "type" not in error and "detail" not in error, error
PY
echo "ok: a stored error renders as {kind, message, hint, subject, acme_type}"

# status --json over several domains is written one domain at a time: it must still be one JSON
# document, with every domain (as domain list names them) and each one the object status NAME gives.
all=$(certcli status --json)
"$HARNESS_PYTHON" - "$all" "$(certcli domain list)" "$(certcli status broken.certcli.test --json)" <<'PY' ||
import json, sys
doc = json.loads(sys.argv[1])
names = [line.split("\t")[0] for line in sys.argv[2].splitlines() if line.strip()]
assert doc["schema_version"] == 1, doc.keys()
assert [d["domain"] for d in doc["domains"]] == names, ([d["domain"] for d in doc["domains"]], names)
one = json.loads(sys.argv[3]); del one["schema_version"]
assert [d for d in doc["domains"] if d["domain"] == "broken.certcli.test"] == [one]
assert len(names) >= 2, names
PY
  fail "status --json over every domain: $all"
echo "ok: status --json over several domains is one document holding each domain's object"
