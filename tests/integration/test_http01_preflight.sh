#!/usr/bin/env bash
# The HTTP-01 preflight (issue #18): before ordering, certcli fetches a probe of its own from
# http://NAME/.well-known/acme-challenge/ the way the CA will, and names what it found. A 404
# (the webroot is not what the web server serves), wrong content (another server answers) and a
# refused connection (nothing listens) are three different, named errors, each with its fix, and
# each stops `issue` with exit 13 before Pebble sees a single newOrder. `verify` reports the same.
# With the setup repaired, the same domain is issued, and --skip-preflight skips the check.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_start
use_certcli

new_orders() { grep -c 'order-plz -> calling handler' "$HARNESS_DIR/pebble.log" || true; }

# 1. Connection refused: a webroot, and no web server on the port the CA uses.
webroot="$HARNESS_DIR/webroot"
mkdir -p "$webroot"
certcli domain add pre.certcli.test --webroot "$webroot" >/dev/null
run_expect_fail certcli issue pre.certcli.test --agree-tos
assert_eq 13 "$LAST_STATUS" "exit status when nothing listens (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "connection refused"
assert_contains "$LAST_STDERR" "pre.certcli.test:$CERTCLI_TEST_HTTP_PORT"
assert_contains "$LAST_STDERR" "certcli: hint: nothing listens"
refused_message=$LAST_STDERR

# 2. 404: a web server answers, but serves another directory than the webroot certcli writes to.
other_root="$HARNESS_DIR/other-docroot"
start_webroot_server "$other_root"
run_expect_fail certcli issue pre.certcli.test --agree-tos
assert_eq 13 "$LAST_STATUS" "exit status for a 404 (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "404"
assert_contains "$LAST_STDERR" "document root"
assert_not_contains "$LAST_STDERR" "connection refused"
[[ -z "$(ls -A "$webroot/.well-known/acme-challenge" 2>/dev/null)" ]] || fail "the probe file was left in the webroot"
run_capture certcli verify pre.certcli.test --json
assert_eq 13 "$LAST_STATUS" "verify exit status for a 404"
assert_contains "$LAST_STDOUT" '"not-found"'

# 3. Wrong content: every path of the web server answers the same text (another site, a
# catch-all page).
mkdir -p "$other_root/.well-known/acme-challenge"
cat >"$HARNESS_DIR/catch_all.py" <<'EOF'
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<html>Welcome to nginx!</html>\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
EOF
harness_stop_web_servers() { for pid in ${_HARNESS_WEB_PIDS:-}; do kill "$pid" 2>/dev/null || true; done; _HARNESS_WEB_PIDS=""; }
harness_stop_web_servers
sleep 0.3
"$HARNESS_PYTHON" "$HARNESS_DIR/catch_all.py" "$CERTCLI_TEST_HTTP_PORT" >/dev/null 2>&1 &
_HARNESS_WEB_PIDS="$!"
for _ in $(seq 50); do curl --noproxy '*' -s -o /dev/null "http://127.0.0.1:$CERTCLI_TEST_HTTP_PORT/" && break; sleep 0.1; done
run_expect_fail certcli issue pre.certcli.test --agree-tos
assert_eq 13 "$LAST_STATUS" "exit status for wrong content (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDERR" "Welcome to nginx"
assert_not_contains "$LAST_STDERR" "404"
[[ "$LAST_STDERR" != "$refused_message" ]] || fail "wrong content and refused read the same"

assert_eq 0 "$(new_orders)" "newOrder requests while the preflight failed"
assert_eq pending "$(json_field "$(certcli status pre.certcli.test --json)" status)" "a refused run changes no status"

# 4. Repaired: the web server serves the webroot. The preflight passes and the certificate is issued.
harness_stop_web_servers
sleep 0.3
start_webroot_server "$webroot"
run_capture certcli issue pre.certcli.test --agree-tos
assert_eq 0 "$LAST_STATUS" "issue once the web server serves the webroot (stderr: $LAST_STDERR)"
run_capture certcli verify pre.certcli.test
assert_eq 0 "$LAST_STATUS" "verify once everything holds (stdout: $LAST_STDOUT)"

# 5. renew runs the same checks: with the web server gone, the renewal fails before any order,
# is recorded with the fix and backs off; the installed certificate stays.
harness_stop_web_servers
sleep 0.3
orders_before=$(new_orders)
run_capture certcli renew pre.certcli.test --force --json
assert_eq 11 "$LAST_STATUS" "renew exit status when the preflight fails (stderr: $LAST_STDERR)"
assert_contains "$LAST_STDOUT" "connection refused"
assert_eq "$orders_before" "$(new_orders)" "newOrder requests by a renewal whose preflight failed"
[[ -f "$home/domains/pre.certcli.test/live/cert.pem" ]] || fail "the installed certificate was lost"

# 6. The standalone listener is probed through itself: it passes with nothing else running.
certcli domain add solo.certcli.test --http-listen "127.0.0.1:$CERTCLI_TEST_HTTP_PORT" >/dev/null
run_capture certcli issue solo.certcli.test
assert_eq 0 "$LAST_STATUS" "issue with the standalone listener (stderr: $LAST_STDERR)"
echo "PASS: test_http01_preflight"
