#!/usr/bin/env bash
# Challenge settings are checked before anything is asked of the CA (issue #16, section 4): a
# webroot that does not exist, a listen address without a port, a port another program holds.
# Such a run sends no request at all (-v traces every one), exits non-zero with the cause, and
# leaves a ready domain byte for byte as it was: the bad value is not saved, the status stays
# ready. `domain add` refuses a missing webroot too. And when a run that did reach the CA fails,
# the domain's valid certificate is still shown as serving, with its end date.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/hostile_acme.sh"
harness_start
use_certcli

webroot="$HARNESS_DIR/webroot"
start_webroot_server "$webroot"
name=preflight.certcli.test
certcli domain add "$name" --webroot "$webroot" >/dev/null
run_capture certcli issue "$name" --agree-tos
assert_eq 0 "$LAST_STATUS" "the first issuance (stderr: $LAST_STDERR)"
record="$home/domains/$name/domain.toml"
before=$(sha256sum "$record")

# expect_refused_before_the_ca EXIT WORDS... — the last run_capture exited EXIT, said WORDS,
# sent no request, and left the record and the status as they were.
expect_refused_before_the_ca() {
  local code=$1 words
  shift
  assert_eq "$code" "$LAST_STATUS" "exit code (stderr: $LAST_STDERR)"
  for words in "$@"; do assert_contains "$LAST_STDERR" "$words"; done
  assert_contains "$LAST_STDERR" "certcli: hint: "
  assert_not_contains "$LAST_STDERR" "certcli: http: " "a request was sent to the CA"
  assert_eq "$before" "$(sha256sum "$record")" "domain.toml changed"
  assert_eq ready "$(json_field "$(certcli status "$name" --json)" status)"
}

run_capture certcli -v issue "$name" --webroot /nonexistent/webroot
expect_refused_before_the_ca 3 "webroot /nonexistent/webroot is not a directory"
echo "ok: a missing webroot is refused before any request; the ready domain is untouched"

run_capture certcli -v issue "$name" --http-listen 80
expect_refused_before_the_ca 3 "listen address '80' has no port"
echo "ok: a listen address without a port is refused before any request"

# A program holding the port: certcli must say so (exit 8: the challenge cannot be presented),
# not blame the CA (exit 6).
busy_port=$("$HARNESS_PYTHON" - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
)
"$HARNESS_PYTHON" -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
time.sleep(120)' "$busy_port" &
holder=$!
_HARNESS_WEB_PIDS="${_HARNESS_WEB_PIDS:-} $holder"  # harness_stop ends it if the test fails
for _ in $(seq 50); do
  "$HARNESS_PYTHON" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$busy_port" \
    2>/dev/null && break
  sleep 0.1
done
run_capture certcli -v issue "$name" --http-listen "127.0.0.1:$busy_port"
expect_refused_before_the_ca 8 "cannot listen on 127.0.0.1:$busy_port" "already listening on port $busy_port"
kill "$holder" 2>/dev/null || true
echo "ok: a busy port exits 8 before any request, naming the port"

run_capture certcli domain add other.certcli.test --webroot /nonexistent/webroot
assert_eq 3 "$LAST_STATUS" "domain add with a missing webroot (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "/nonexistent/webroot"
[[ ! -e "$home/domains/other.certcli.test" ]] || fail "the refused domain was recorded"
echo "ok: domain add refuses a missing webroot"

# A run that reaches a CA and fails records failed, and still says the installed certificate
# serves until its end. (A CA that sends a poisoned token is a sure way to fail there: Pebble
# would reuse the valid authorization and succeed.)
start_hostile_acme
hostile_mode '{"token": "not/base64url/at/all/xxxxxxxx"}'
run_capture certcli_hostile issue "$name" --agree-tos
assert_eq 7 "$LAST_STATUS" "the failing renewal (stderr: $LAST_STDERR)"
state=$(certcli status "$name" --json)
assert_eq failed "$(json_field "$state" status)"
assert_eq true "$(json_field "$state" certificate.valid_now)"
not_after=$(json_field "$state" certificate.not_after)
assert_contains "$(certcli status "$name")" "serving:  the installed certificate is still valid until $not_after"
echo "ok: a failed renewal still shows the valid certificate it left in place"
