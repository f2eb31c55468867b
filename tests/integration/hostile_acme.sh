# shellcheck shell=bash
# tests/integration/hostile_acme.sh — a misbehaving ACME CA (hostile_acme.py) for tests that
# need a CA Pebble will not imitate: bad challenge tokens, huge Retry-After values, ...
#
# Source it after harness.sh, harness_start and use_certcli:
#
#     source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
#     source "$(dirname "${BASH_SOURCE[0]}")/hostile_acme.sh"
#     harness_start
#     use_certcli
#     start_hostile_acme
#     hostile_mode '{"token": "not/base64url/at/all/xxxxxxxx"}'
#     certcli_hostile issue NAME --agree-tos --webroot DIR
#     hostile_count newOrder
#
# start_hostile_acme exports:
#   HOSTILE_DIRECTORY  https://127.0.0.1:P/dir (TLS cert signed by $CERTCLI_TEST_CA_BUNDLE)
#   HOSTILE_STATE      its state dir: requests.log ("METHOD PATH KIND" per request),
#                      server.log, mode.json (see hostile_mode), neworders.jsonl (each newOrder's
#                      payload), orders/<id>/ (CSRs, certificates, certid.txt: the RFC 9773 CertID)
#   HOSTILE_PID        the server's pid
# The server validates nothing (a POSTed challenge makes its authorization valid) and signs
# certificates with the harness's test CA ($HARNESS_DIR/test-ca.pem). No web server answers for
# its names either, so tests give `issue` --skip-preflight: what they test is the CA's side. It is stopped by
# harness_stop, and stops itself once the shell that started it is gone.

# start_hostile_acme — start the server on a free loopback port and wait until it answers.
start_hostile_acme() {
  local port dir _
  port=$(_harness_pick_ports 1) || fail "start_hostile_acme: no free port"
  _HARNESS_PORTS="${_HARNESS_PORTS:-} $port" # released by harness_stop
  dir="$HARNESS_DIR/hostile"
  # A harness reused through CERTCLI_TEST_ENV may already hold another test's server state.
  if [[ -e "$dir" ]]; then dir=$(mktemp -d "$HARNESS_DIR/hostile.XXXXXX") || fail "mktemp failed"; fi
  mkdir -p "$dir"
  "$HARNESS_PYTHON" "$(dirname "${BASH_SOURCE[0]}")/hostile_acme.py" --port "$port" \
    --cert "$HARNESS_DIR/pebble-https.pem" --key "$HARNESS_DIR/pebble-https.key" \
    --issuer-cert "$HARNESS_DIR/test-ca.pem" --issuer-key "$HARNESS_DIR/test-ca.key" \
    --state-dir "$dir" --owner-pid "$$" </dev/null >"$dir/server.out" 2>&1 &
  HOSTILE_PID=$!
  _HARNESS_WEB_PIDS="${_HARNESS_WEB_PIDS:-} $HOSTILE_PID" # killed by harness_stop
  export HOSTILE_DIRECTORY="https://127.0.0.1:$port/dir" HOSTILE_STATE="$dir" HOSTILE_PID
  for _ in $(seq 100); do
    if ! kill -0 "$HOSTILE_PID" 2>/dev/null; then
      fail "the hostile ACME server exited during startup:"$'\n'"$(cat "$dir/server.out" "$dir/server.log" 2>/dev/null)"
    fi
    if _harness_curl -f -o /dev/null --cacert "$CERTCLI_TEST_CA_BUNDLE" "$HOSTILE_DIRECTORY" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  fail "the hostile ACME server did not answer at $HOSTILE_DIRECTORY (see $dir/server.log)"
}

# hostile_count KIND — how many requests of KIND (directory, newNonce, newAccount, newOrder,
# authz, challenge, finalize, order, cert, renewalInfo, unknown) the server has received so far.
hostile_count() {
  awk -v kind="$1" '$NF == kind { n++ } END { print n + 0 }' "$HOSTILE_STATE/requests.log"
}

# hostile_mode JSON — replace the server's mode (read on every request) atomically.
# Keys (hostile_acme.py's docstring has the details): "token" (the token of every challenge),
# "order_retry_after" (Retry-After header value for polls of a processing order), "ari" (true:
# the directory offers renewalInfo), "ari_window" ({"start", "end"}: the suggested window),
# "ari_retry_after", "ari_strict" (404 for a certID not issued here), "new_order_status" (e.g.
# 429: newOrder answers rateLimited), "new_order_retry_after", "new_order_fail_count",
# "new_order_detail" / "new_order_raw_body" (the refusal's detail, or a text/plain body instead),
# "extra_authzs" (N more authorization URLs than names), "foreign_authz" (the first authorization
# is for another name), "cert_extra_san" (the certificate names one more), "cert_other_key"
# (the certificate is for another key than the CSR's).
# '{}' is a well-behaved CA without ARI.
hostile_mode() {
  "$HARNESS_PYTHON" -c 'import json, sys; assert isinstance(json.loads(sys.argv[1]), dict)' "$1" 2>/dev/null ||
    fail "hostile_mode: not a JSON object: $1"
  printf '%s\n' "$1" >"$HOSTILE_STATE/mode.json.tmp"
  mv -f -- "$HOSTILE_STATE/mode.json.tmp" "$HOSTILE_STATE/mode.json"
}

# hostile_cert_id SERIAL — the CertID the server recorded for the certificate it issued with
# SERIAL (hex, as `openssl x509 -noout -serial` prints it, with or without "serial="); fails
# the test when it issued no such certificate.
hostile_cert_id() {
  local serial=${1#serial=} pem
  for pem in "$HOSTILE_STATE"/orders/*/cert.pem; do
    [[ -f "$pem" ]] || continue
    if [[ "$(openssl x509 -in "$pem" -noout -serial)" == "serial=$serial" ]]; then
      [[ -f "${pem%/cert.pem}/certid.txt" ]] || fail "hostile_cert_id: no certid.txt beside $pem"
      cat -- "${pem%/cert.pem}/certid.txt"
      return 0
    fi
  done
  fail "hostile_cert_id: the hostile server issued no certificate with serial $serial"
}

# hostile_last_new_order — the payload of the last newOrder the server received (JSON).
hostile_last_new_order() {
  [[ -s "$HOSTILE_STATE/neworders.jsonl" ]] || fail "hostile_last_new_order: no newOrder received yet"
  tail -n 1 -- "$HOSTILE_STATE/neworders.jsonl"
}

# certcli_hostile ARGS... — certcli aimed at the hostile server (state in $home, as certcli()).
# shellcheck disable=SC2154  # $home is set by use_certcli
certcli_hostile() { "$CERTCLI_BIN" --home "$home" --directory "$HOSTILE_DIRECTORY" --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" "$@"; }
