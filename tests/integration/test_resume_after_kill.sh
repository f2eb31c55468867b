#!/usr/bin/env bash
# A crash mid-order leaves a state the next run resumes from. certcli is SIGKILLed (1) as it
# finalizes: status shows the in-flight order honestly and the next `issue` resumes that same
# order with the same key; (2) while it validates: the next `issue` resumes the order or, when
# the CA has marked it invalid (its listener died mid-validation), says so and orders anew.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_start
use_certcli
listen="127.0.0.1:$CERTCLI_TEST_HTTP_PORT"
progress="$HARNESS_DIR/progress.fifo"
mkfifo "$progress"

# kill_during PROGRESS_TEXT NAME_PREFIX — adds a domain, runs `issue` and SIGKILLs it as soon as
# it prints PROGRESS_TEXT. A fast machine may finish first, so it tries up to five names.
# Prints the name whose run was killed with the state left at "issuing".
kill_during() {
  local attempt name pid line
  for attempt in 1 2 3 4 5; do
    name="$2$attempt.certcli.test"
    certcli domain add "$name" --san "www.$name" >/dev/null
    # The binary itself, not the certcli() function: $! must be the process that gets killed.
    "$CERTCLI_BIN" --home "$home" --directory "$CERTCLI_TEST_DIRECTORY" --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" \
      issue "$name" --email ops@certcli.test --agree-tos --http-listen "$listen" 2>"$progress" >/dev/null &
    pid=$!
    while IFS= read -r line; do
      if [[ "$line" == *"$1"* ]]; then kill -KILL "$pid" 2>/dev/null || true; break; fi
    done <"$progress"
    wait "$pid" 2>/dev/null && continue
    if [[ "$(json_field "$(certcli status "$name" --json)" status)" == issuing ]]; then echo "$name"; return 0; fi
  done
  fail "could not kill certcli during '$1' in five attempts"
}

check_live() {
  local live="$home/domains/$1/live"
  openssl verify -CAfile "$PEBBLE_ROOT_PEM" -untrusted "$live/chain.pem" "$live/cert.pem" >/dev/null ||
    fail "the certificate of $1 does not verify"
  assert_eq "$(openssl x509 -in "$live/cert.pem" -noout -pubkey)" "$(openssl pkey -in "$live/key.pem" -pubout)" \
    "the certificate of $1 carries the stored key"
  local state
  state=$(certcli status "$1" --json)
  assert_eq ready "$(json_field "$state" status)"
  assert_eq null "$(json_field "$state" order_url)" "the finished order is no longer in flight"
  [[ ! -e "$home/domains/$1/pending" ]] || fail "the pending key of $1 was left behind"
}

# 1. Killed as it finalizes: the order is ready or valid, and the key is on disk.
name=$(kill_during "finalizing" final)
echo "ok: killed certcli while it was finalizing $name"
state=$(certcli status "$name" --json)
order_url=$(json_field "$state" order_url)
assert_eq issuing "$(json_field "$state" status)" "status after the kill"
assert_eq finalizing "$(json_field "$state" phase)" "phase after the kill"
[[ "$order_url" == https://127.0.0.1:* ]] || fail "no in-flight order was recorded: $state"
assert_eq null "$(json_field "$state" certificate)" "no certificate is live yet"
assert_eq true "$(json_field "$state" interrupted)" "no certcli runs, so the run shows as interrupted"
assert_contains "$(certcli status "$name")" "interrupted; \`certcli issue $name\` resumes it"
assert_file_mode 600 "$home/domains/$name/pending/key.pem"
pending_pub=$(openssl pkey -in "$home/domains/$name/pending/key.pem" -pubout)
echo "ok: status shows the interrupted run honestly (issuing, finalizing, order and key kept)"

run_capture certcli issue "$name" --http-listen "$listen" --json
assert_eq 0 "$LAST_STATUS" "the resumed issue exits 0 (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "resuming order $order_url"
assert_not_contains "$LAST_STDERR" "ordering a certificate" "the resumed run must not create a new order"
assert_eq true "$(json_field "$LAST_STDOUT" order_resumed)"
check_live "$name"
assert_eq "$pending_pub" "$(openssl pkey -in "$home/domains/$name/live/key.pem" -pubout)" "the key kept across the crash"
echo "ok: the next issue resumed the same order with the same key"

# 2. Killed while validating: the CA may have failed the challenge once the listener died.
name=$(kill_during "validating " valid)
echo "ok: killed certcli while it was validating $name"
assert_eq validating "$(json_field "$(certcli status "$name" --json)" phase)" "phase after the kill"
run_capture certcli issue "$name" --http-listen "$listen"
assert_eq 0 "$LAST_STATUS" "the issue after a kill while validating exits 0 (stderr: $LAST_STDERR)"
if [[ "$LAST_STDERR" != *"resuming order"* ]]; then
  assert_contains "$LAST_STDERR" "cannot be resumed" "an order not resumed is explained"
fi
check_live "$name"
echo "ok: after a kill while validating, the next issue finishes ($(grep -o 'resuming order\|cannot be resumed' <<<"$LAST_STDERR"))"

# 3. Killed as it finalizes, then the kept key is lost (deleted by hand): the next run either
#    finalizes with a new key, or finds the certificate does not match, says so and drops the
#    order; the run after that orders anew. Never a loop of the same mismatch.
name=$(kill_during "finalizing" lost)
rm -f "$home/domains/$name/pending/key.pem"
run_capture certcli issue "$name" --http-listen "$listen"
outcome="finalized with a new key"
if ((LAST_STATUS != 0)); then
  outcome="mismatch reported, then ordered anew"
  assert_eq 7 "$LAST_STATUS" "exit code when the kept key is gone (stderr: $LAST_STDERR)"
  assert_contains "$LAST_STDERR" "does not match the key certcli kept"
  assert_eq null "$(json_field "$(certcli status "$name" --json)" order_url)" "the unusable order is dropped"
  run_capture certcli issue "$name" --http-listen "$listen"
  assert_eq 0 "$LAST_STATUS" "the run after a key mismatch exits 0 (stderr: $LAST_STDERR)"
  assert_contains "$LAST_STDERR" "ordering a certificate for $name"
fi
check_live "$name"
echo "ok: a lost order key costs at most one failed run, never a loop ($outcome)"
