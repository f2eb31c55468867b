#!/usr/bin/env bash
# Ctrl-C (SIGINT) while certcli validates: it stops within a moment with exit 130, removes the
# challenge files it wrote into the webroot, leaves the domain "issuing" (shown as interrupted)
# with its order kept, and the next run finishes the job.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_start
use_certcli

webroot="$HARNESS_DIR/webroot"
start_webroot_server "$webroot"
progress="$HARNESS_DIR/progress.fifo"
mkfifo "$progress"

stopped=""
for attempt in 1 2 3 4 5; do
  name="sigint$attempt.certcli.test"
  certcli domain add "$name" --san "www.$name" --webroot "$webroot" >/dev/null
  # The binary itself, so that $! is the process that receives the signal.
  "$CERTCLI_BIN" --home "$home" --directory "$CERTCLI_TEST_DIRECTORY" --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" \
    issue "$name" --agree-tos 2>"$progress" >/dev/null &
  pid=$!
  : >"$HARNESS_DIR/stderr.txt"
  while IFS= read -r line; do
    echo "$line" >>"$HARNESS_DIR/stderr.txt"
    [[ "$line" == *"validating "* ]] && kill -INT "$pid" 2>/dev/null || true
  done <"$progress"
  status=0
  wait "$pid" || status=$?
  if ((status == 130)); then stopped=$name; break; fi
  assert_eq 0 "$status" "a run that finished before the signal (stderr: $(cat "$HARNESS_DIR/stderr.txt"))"
done
[[ -n "$stopped" ]] || fail "certcli finished before SIGINT in five attempts"
assert_contains "$(cat "$HARNESS_DIR/stderr.txt")" "certcli: error: interrupted by a signal"
assert_contains "$(cat "$HARNESS_DIR/stderr.txt")" "certcli: hint: run the same command again"
echo "ok: SIGINT while validating $stopped stops certcli with exit 130 and a hint"

assert_eq "" "$(find "$webroot/.well-known/acme-challenge" -type f 2>/dev/null)" "challenge files left in the webroot"
state=$(certcli status "$stopped" --json)
assert_eq issuing "$(json_field "$state" status)"
assert_eq true "$(json_field "$state" interrupted)"
assert_eq null "$(json_field "$state" error)" "an interruption is not recorded as a failure"
[[ "$(json_field "$state" order_url)" == https://* ]] || fail "the order in flight was not kept: $state"
grep -q '"event":"issue.interrupted"' "$home/activity.jsonl" || fail "no issue.interrupted event"
echo "ok: the webroot is clean, the domain shows as interrupted with its order kept"

run_capture certcli issue "$stopped"
assert_eq 0 "$LAST_STATUS" "the run after SIGINT exits 0 (stderr: $LAST_STDERR)"
live="$home/domains/$stopped/live"
openssl verify -CAfile "$PEBBLE_ROOT_PEM" -untrusted "$live/chain.pem" "$live/cert.pem" >/dev/null ||
  fail "the certificate issued after SIGINT does not verify"
assert_eq ready "$(json_field "$(certcli status "$stopped" --json)" status)"
echo "ok: the next run finishes and installs a certificate that verifies"
