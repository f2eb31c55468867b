#!/usr/bin/env bash
# certcli wait follows the record another certcli writes: 0 for a ready domain, the recorded
# error's code for a failed one, 14 on timeout, and a wait started before `issue` returns when
# the issue finishes. certcli activity lists what add, issue and remove did, with the uid and
# command of each event and no key material.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_start
use_certcli

# A pending domain that nothing issues: exit 14 at the timeout, having said why it waits.
certcli domain add waited.certcli.test >/dev/null
run_capture certcli wait waited.certcli.test --timeout 2
assert_eq 14 "$LAST_STATUS" "exit code of a wait that timed out (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "certcli: waiting for a certcli issue/renew to run for waited.certcli.test"
assert_contains "$LAST_STDERR" "certcli: error: waited.certcli.test is still pending"
[[ $(grep -c "waiting for a certcli issue/renew" <<<"$LAST_STDERR") == 1 ]] || fail "said more than once: $LAST_STDERR"
echo "ok: wait on a pending domain nothing issues exits 14 at its timeout"

"$CERTCLI_BIN" --home "$home" wait waited.certcli.test 2>/dev/null &
wait_pid=$!
sleep 1
kill -INT "$wait_pid"
wait_status=0
wait "$wait_pid" || wait_status=$?
assert_eq 130 "$wait_status" "exit code of a wait ended by Ctrl-C"
echo "ok: Ctrl-C ends a wait with 130"

# A wait started before the issue returns 0 as soon as the issue has finished.
"$CERTCLI_BIN" --home "$home" wait waited.certcli.test --timeout 120 >"$HARNESS_DIR/wait.out" 2>"$HARNESS_DIR/wait.err" &
wait_pid=$!
sleep 1
run_capture certcli issue waited.certcli.test --agree-tos --http-listen "127.0.0.1:$CERTCLI_TEST_HTTP_PORT"
assert_eq 0 "$LAST_STATUS" "issue (stderr: $LAST_STDERR)"
issued_at=$(date +%s)
wait_status=0
wait "$wait_pid" || wait_status=$?
returned_at=$(date +%s)
assert_eq 0 "$wait_status" "the background wait's exit code (stderr: $(cat "$HARNESS_DIR/wait.err"))"
((returned_at - issued_at <= 3)) || fail "the wait returned $((returned_at - issued_at)) s after the issue finished"
assert_contains "$(cat "$HARNESS_DIR/wait.out")" "waited.certcli.test is ready"
echo "ok: a wait started before issue returns 0 once the issue finishes"

# Ready already: at once, and --json says so.
run_capture certcli wait waited.certcli.test --json
assert_eq 0 "$LAST_STATUS" "wait on a ready domain (stderr: $LAST_STDERR)"
assert_eq ready "$(json_field "$LAST_STDOUT" outcome)"
echo "ok: wait on a ready domain exits 0"

# A failed domain: the recorded error, its fix and the validation failure's code (8).
certcli domain add broken.certcli.test >/dev/null
run_expect_fail certcli issue broken.certcli.test --agree-tos --http-listen "127.0.0.1:$CERTCLI_TEST_TLS_PORT" --skip-preflight
run_capture certcli wait broken.certcli.test --timeout 10
assert_eq 8 "$LAST_STATUS" "wait on a domain whose validation failed (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "certcli: error: broken.certcli.test failed:"
assert_contains "$LAST_STDERR" "certcli: hint: make sure http://broken.certcli.test/.well-known/acme-challenge/"
run_capture certcli wait broken.certcli.test --json
assert_eq 8 "$LAST_STATUS"
assert_eq failed "$(json_field "$LAST_STDOUT" outcome)"
assert_contains "$(json_field "$LAST_STDOUT" error.acme_type)" "urn:ietf:params:acme:error:"
echo "ok: wait on a failed domain exits with its error's code and shows the error and fix"

run_expect_fail certcli wait nosuch.certcli.test --timeout 1
assert_eq 4 "$LAST_STATUS" "wait on a domain never added"

# The activity log after add -> issue -> remove -> restore.
certcli domain remove waited.certcli.test >/dev/null
certcli domain restore waited.certcli.test >/dev/null
run_capture certcli activity --json
assert_eq 0 "$LAST_STATUS" "activity --json (stderr: $LAST_STDERR)"
log=$LAST_STDOUT
"$HARNESS_PYTHON" - "$log" "$(id -u)" <<'PY'
import json, sys
events = json.loads(sys.argv[1])["events"]
uid = int(sys.argv[2])
def find(event, domain="waited.certcli.test"):
    hits = [e for e in events if e["event"] == event and e.get("domain") == domain]
    assert hits, f"no {event} for {domain} in {json.dumps(events, indent=1)}"
    return hits[0]
# One line per documented event of the cycle, each exactly once for this domain.
cycle = [("domain.added", "domain add"), ("issue.started", "issue"), ("order.created", "issue"),
         ("challenge.answered", "issue"), ("certificate.issued", "issue"), ("domain.removed", "domain remove"),
         ("domain.restored", "domain restore")]
for event, command in cycle:
    e = find(event)
    assert e["command"] == command, (event, e)
    assert e["uid"] == uid, (event, e)
    count = sum(1 for x in events if x["event"] == event and x.get("domain") == "waited.certcli.test")
    assert count == 1, f"{event} logged {count} times"
assert "order" in find("order.created") and find("challenge.answered")["type"] == "http-01"
assert find("issue.failed", "broken.certcli.test")["command"] == "issue"
assert all("uid" in e and "command" in e for e in events), "an event without uid or command"
times = [e["time"] for e in events]
assert times == sorted(times), "not oldest first"
PY
assert_not_contains "$log" "PRIVATE KEY"
if grep -rl "PRIVATE KEY" "$home"/activity.jsonl*; then fail "key material in the activity log"; fi
echo "ok: activity --json lists add, issue (order, challenge, certificate), remove and restore with uid and command, and no key material"

# The table, a filter, a damaged line and a rotated file.
echo '{"time":"2020-01-01T00:00:00Z","event":"old.rotated","domain":"waited.certcli.test"}' >"$home/activity.jsonl.20200101T000000Z"
echo '{"time": "2026-01-0' >>"$home/activity.jsonl"
run_capture certcli activity --domain waited.certcli.test
assert_eq 0 "$LAST_STATUS" "activity with a damaged line (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "certcli: warning: skipped 1 damaged line of the activity log (activity.jsonl line"
assert_contains "$LAST_STDOUT" "domain.removed"
assert_not_contains "$LAST_STDOUT" "broken.certcli.test"
first_event=$(sed -n 2p <<<"$LAST_STDOUT")
assert_contains "$first_event" "old.rotated" "rotated files come first"
run_capture certcli activity --since 1d --json
assert_not_contains "$LAST_STDOUT" "old.rotated"
assert_contains "$LAST_STDOUT" "domain.removed"
echo "ok: activity reads rotated files first, filters by domain and time, and skips a damaged line"
