#!/usr/bin/env bash
# certcli serve against real Pebble: /allowed answers 200 for a managed name, a SAN, a name a
# wildcard covers and a percent-encoded IDN, 400 for an unknown, removed, unverified (ownership
# required) or malformed name and a wildcard's apex; /status/NAME is exactly `certcli status NAME
# --json`; /healthz; an http-01 issuance whose validation Pebble fetches from `serve` while
# `issue --http-serve` runs in another process; SIGTERM stops it with exit 0; a non-loopback
# --listen without --allow-remote is refused.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

# Installed before harness_start, which chains it after harness_stop.
serve_pid=""
stop_serve() {
  if [[ -n "$serve_pid" ]]; then
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
  fi
}
trap stop_serve EXIT

harness_start
use_certcli
port="$CERTCLI_TEST_HTTP_PORT"
base="http://127.0.0.1:$port"
serve_log="$HARNESS_DIR/serve.log"

# http_get PATH — sets HTTP_STATUS and HTTP_BODY.
http_get() {
  local body_file
  body_file=$(mktemp "$HARNESS_DIR/body.XXXXXX")
  HTTP_STATUS=$(curl --noproxy '*' -s -o "$body_file" -w '%{http_code}' "$base$1") || HTTP_STATUS=000
  HTTP_BODY=$(<"$body_file")
  rm -f -- "$body_file"
}

# --- A non-loopback address is refused unless asked for --------------------------------------
# 192.0.2.1 (TEST-NET-1) is assigned nowhere: were the refusal broken, the bind would fail
# rather than listen beyond loopback.
run_expect_fail "$CERTCLI_BIN" --home "$home" serve --listen "192.0.2.1:$port"
assert_eq 2 "$LAST_STATUS" "a non-loopback --listen without --allow-remote"
assert_contains "$LAST_STDERR" "not a loopback address"
assert_contains "$LAST_STDERR" "--allow-remote"
run_expect_fail "$CERTCLI_BIN" --home "$home" serve --listen ":$port"
assert_eq 2 "$LAST_STATUS" "every address (:PORT) without --allow-remote"
echo "ok: a non-loopback --listen is refused without --allow-remote"

# --- The domains /allowed is asked about --------------------------------------------------------
certcli domain add shop.certcli.test --san www.shop.certcli.test --http-serve >/dev/null
certcli domain add '*.wild.certcli.test' --dns-manual >/dev/null
certcli domain add bücher.certcli.test --http-serve >/dev/null
certcli domain add owned.certcli.test --require-ownership --http-serve >/dev/null
certcli domain add gone.certcli.test --http-serve >/dev/null
certcli domain remove gone.certcli.test >/dev/null
assert_eq true "$(json_field "$(certcli domain show shop.certcli.test --json)" challenge_settings.http_serve)" \
  "domain show --json reports the serve mode"

"$CERTCLI_BIN" --home "$home" serve --listen "127.0.0.1:$port" 2>"$serve_log" &
serve_pid=$!
for _ in $(seq 50); do
  curl --noproxy '*' -s -o /dev/null "$base/healthz" && break
  kill -0 "$serve_pid" 2>/dev/null || fail "certcli serve exited: $(cat "$serve_log")"
  sleep 0.1
done
http_get /healthz
assert_eq 200 "$HTTP_STATUS" "/healthz"
assert_eq ok "$HTTP_BODY" "/healthz body"
assert_contains "$(cat "$serve_log")" "listening on http://127.0.0.1:$port"
echo "ok: serve listens on loopback and /healthz says ok"

expect_allowed() { # STATUS QUERY-VALUE [BODY-PART]
  http_get "/allowed?domain=$2"
  assert_eq "$1" "$HTTP_STATUS" "/allowed?domain=$2 (body: $HTTP_BODY)"
  [[ -z "${3:-}" ]] || assert_contains "$HTTP_BODY" "$3" "/allowed?domain=$2 body"
}
expect_allowed 200 shop.certcli.test "managed"
expect_allowed 200 www.shop.certcli.test                   # a SAN
expect_allowed 200 WWW.Shop.certcli.test.                  # normalised as certcli normalises names
expect_allowed 200 a.wild.certcli.test                     # covered by *.wild.certcli.test
expect_allowed 200 b%C3%BCcher.certcli.test                # percent-encoded UTF-8, an IDN
expect_allowed 200 xn--bcher-kva.certcli.test              # its A-label form
expect_allowed 200 shop%2Ecertcli%2Etest                   # percent-encoded dots
expect_allowed 400 unknown.certcli.test "not managed"
expect_allowed 400 gone.certcli.test "removed"
expect_allowed 400 owned.certcli.test "ownership"
expect_allowed 400 wild.certcli.test "not managed"          # a wildcard never covers its apex
expect_allowed 400 a.b.wild.certcli.test                    # nor two labels
expect_allowed 400 'bad%zz' "percent-encoding"
expect_allowed 400 'not_a..name' "not a valid name"
expect_allowed 400 ''
http_get "/allowed"
assert_eq 400 "$HTTP_STATUS" "/allowed without a domain"
echo "ok: /allowed: managed, SAN, wildcard-covered and encoded names 200; unknown, removed, unverified, apex, malformed 400"

# serve --require-ownership asks it of every domain: a second instance on a free port.
serve2_port=$("$HARNESS_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$CERTCLI_BIN" --home "$home" serve --listen "127.0.0.1:$serve2_port" --require-ownership 2>"$HARNESS_DIR/serve2.log" &
serve2_pid=$!
for _ in $(seq 50); do
  curl --noproxy '*' -s -o /dev/null "http://127.0.0.1:$serve2_port/healthz" && break
  kill -0 "$serve2_pid" 2>/dev/null || fail "the second serve exited: $(cat "$HARNESS_DIR/serve2.log")"
  sleep 0.1
done
code=$(curl --noproxy '*' -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$serve2_port/allowed?domain=shop.certcli.test")
assert_eq 400 "$code" "serve --require-ownership refuses a domain never verified"
kill -TERM "$serve2_pid"
wait "$serve2_pid" || fail "the second serve did not exit 0 on SIGTERM"
echo "ok: serve --require-ownership refuses a name whose ownership was never verified"

# --- http-01 through serve: issue runs in another process ---------------------------------------
run_capture certcli issue shop.certcli.test --email ops@certcli.test --agree-tos --http-serve --json
assert_eq 0 "$LAST_STATUS" "issue --http-serve exits 0 (stderr: $LAST_STDERR; serve log: $(cat "$serve_log"))"
assert_eq ready "$(json_field "$LAST_STDOUT" status)"
live="$home/domains/shop.certcli.test/live"
openssl verify -CAfile "$PEBBLE_ROOT_PEM" -untrusted "$live/chain.pem" "$live/cert.pem" >/dev/null ||
  fail "the chain does not verify to Pebble's root"
sans=$(openssl x509 -in "$live/cert.pem" -noout -ext subjectAltName | tail -n +2 | tr -d ' ')
assert_eq "DNS:shop.certcli.test,DNS:www.shop.certcli.test" "$sans" "SANs of the certificate issued through serve"
# Nothing but serve listens on the port Pebble's VA fetches http-01 from, so the issuance itself
# proves serve answered; its log shows the fetches (the preflight's probes and Pebble's, at least
# one per name).
challenge_hits=$(grep -c ' GET /.well-known/acme-challenge/[A-Za-z0-9_-]* 200 ' "$serve_log" || true)
((challenge_hits >= 2)) || fail "serve answered $challenge_hits http-01 requests; log: $(cat "$serve_log")"
assert_eq "" "$(ls -A "$home/http-01")" "published answers left behind after issue"
echo "ok: Pebble validated http-01 through certcli serve while issue ran in another process ($challenge_hits answers)"

# An unknown token, and one that tries to leave the directory.
http_get "/.well-known/acme-challenge/nosuchtoken"
assert_eq 404 "$HTTP_STATUS" "an unknown token"
printf 'secret' >"$home/outside"
http_get "/.well-known/acme-challenge/..%2Foutside"
assert_eq 404 "$HTTP_STATUS" "an encoded path traversal"
ln -s "$home/outside" "$home/http-01/linked"
http_get "/.well-known/acme-challenge/linked"
assert_eq 404 "$HTTP_STATUS" "a link in http-01/ is not followed"
rm -f -- "$home/http-01/linked" "$home/outside"
echo "ok: unknown tokens, traversal and links get 404"

# --- /status/NAME is `certcli status NAME --json` ------------------------------------------------
http_get /status/shop.certcli.test
assert_eq 200 "$HTTP_STATUS" "/status/shop.certcli.test"
served="$HTTP_BODY"
printed=$(certcli status shop.certcli.test --json)
"$HARNESS_PYTHON" - "$served" "$printed" <<'PY' || fail "/status differs from status --json"$'\n'"$served"$'\n'"$printed"
import json, sys
assert json.loads(sys.argv[1]) == json.loads(sys.argv[2])
PY
assert_eq ready "$(json_field "$served" status)"
http_get /status/b%C3%BCcher.certcli.test
assert_eq 200 "$HTTP_STATUS" "/status of a percent-encoded IDN"
assert_eq xn--bcher-kva.certcli.test "$(json_field "$HTTP_BODY" domain)"
http_get /status/unknown.certcli.test
assert_eq 404 "$HTTP_STATUS" "/status of an unknown name"
http_get /nothing-here
assert_eq 404 "$HTTP_STATUS" "an unknown path"
echo "ok: /status/NAME equals certcli status NAME --json; unknown names and paths 404"

# --- The access log and a clean stop --------------------------------------------------------------
code=$(curl --noproxy '*' -s -o /dev/null -w '%{http_code}' -X POST "$base/healthz")
assert_eq 405 "$code" "POST is refused by the server itself"
log=$(cat "$serve_log")
assert_contains "$log" "127.0.0.1 POST /healthz 405"
assert_contains "$log" "127.0.0.1 GET /healthz 200 3"
assert_contains "$log" "127.0.0.1 GET /allowed?domain=unknown.certcli.test 400"
[[ "$log" =~ [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z\ 127\.0\.0\.1\ GET\ /status/shop\.certcli\.test\ 200\ [0-9]+ ]] ||
  fail "no access-log line with time, peer, method, path, status and bytes: $log"
kill -TERM "$serve_pid"
rc=0
wait "$serve_pid" || rc=$?
serve_pid=""
assert_eq 0 "$rc" "serve exits 0 on SIGTERM"
assert_contains "$(cat "$serve_log")" "stopped"
echo "ok: one access-log line per request; SIGTERM stops serve with exit 0"
