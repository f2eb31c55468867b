#!/usr/bin/env bash
# ACME Renewal Information (RFC 9773) in `certcli renew`, against the hostile test CA (whose
# certificates are valid 7 days and whose renewalInfo window a test sets through mode.json).
# Pins down:
#  - at install from a CA whose directory has renewalInfo, domain.toml's [renewal] ari_cert_id
#    is the certificate's CertID, exactly as the CA computes it (AKI keyid . serial octets);
#  - `renew` asks <renewalInfo>/<certID> (unauthenticated GET), stores the window and a point
#    chosen inside it, and does not ask again before the answer's Retry-After (default 6 h) has
#    passed: a second run right away makes no request at all;
#  - a window that has passed renews the certificate, and the newOrder names the certificate it
#    replaces ("replaces": the old CertID);
#  - the CA's window, not the lifetime rule, decides: a window ahead of the lifetime rule's
#    point renews earlier, a window beyond it keeps the certificate (the reason says "ARI"),
#    while a certificate without ARI in the same run follows the lifetime rule;
#  - a CA without renewalInfo: no ari_cert_id, and no renewalInfo request;
#  - a renewalInfo 404 (a certificate the CA does not know) makes certcli stop asking.
# Time moves through CERTCLI_TEST_NOW (test-only: shifts certcli's clock).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/hostile_acme.sh"
harness_start
use_certcli
start_hostile_acme
webroot="$HARNESS_DIR/webroot" # the hostile CA validates nothing: no web server is needed
mkdir -p "$webroot"

t0=$(date +%s)
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
hours() { echo $(($1 * 3600)); }
days() { echo $(($1 * 86400)); }

# toml_get NAME KEY — a value of domains/NAME/domain.toml (KEY dotted: renewal.ari_cert_id);
# a date-time prints as epoch seconds, a missing key as "absent".
toml_get() {
  "$HARNESS_PYTHON" - "$home/domains/$1/domain.toml" "$2" <<'PY'
import datetime, sys, tomllib
with open(sys.argv[1], "rb") as f:
    value = tomllib.load(f)
for key in sys.argv[2].split("."):
    if not isinstance(value, dict) or key not in value:
        print("absent")
        sys.exit(0)
    value = value[key]
if isinstance(value, datetime.datetime):
    if value.tzinfo is None:
        sys.exit(f"{sys.argv[2]} is a local date-time without an offset: {value}")
    print(int(value.timestamp()))
elif isinstance(value, str) and len(value) >= 20 and value[4] == "-" and value[10] == "T":
    print(int(datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()))
else:
    print(value)
PY
}

# outcome JSON DOMAIN FIELD — FIELD of DOMAIN's object in `renew --json` output.
outcome() {
  "$HARNESS_PYTHON" - "$1" "$2" "$3" <<'PY'
import json, sys
doc = json.loads(sys.argv[1])
found = [d for d in doc["domains"] if d["domain"] == sys.argv[2]]
if len(found) != 1:
    sys.exit(f"{len(found)} outcomes for {sys.argv[2]} in {sys.argv[1]}")
value = found[0][sys.argv[3]]
print("null" if value is None else value)
PY
}

# assert_near EXPECTED ACTUAL MSG — two epoch times at most 120 s apart.
assert_near() {
  [[ "$2" =~ ^[0-9]+$ ]] || fail "$3: expected a time near $(iso "$1"), got [$2]"
  (($2 - $1 <= 120 && $1 - $2 <= 120)) || fail "$3: expected about $(iso "$1"), got $(iso "$2")"
}

# renew_at EPOCH|now ARGS... — `renew --json ARGS` with certcli's clock at EPOCH (run_capture).
renew_at() {
  local when=$1
  shift
  if [[ "$when" == now ]]; then
    run_capture certcli_hostile renew --json --skip-preflight "$@"
  else
    run_capture env CERTCLI_TEST_NOW="$(iso "$when")" "$CERTCLI_BIN" --home "$home" \
      --ca-bundle "$CERTCLI_TEST_CA_BUNDLE" renew --json --skip-preflight "$@"
  fi
}

serial() { openssl x509 -in "$home/domains/$1/live/cert.pem" -noout -serial; }
# ari_window_mode START END [MEMBERS] — a mode offering ARI with the window START..END (epochs),
# plus MEMBERS (more JSON object members, e.g. '"ari_retry_after": "60"').
ari_window_mode() {
  printf '{"ari": true, "ari_window": {"start": "%s", "end": "%s"}%s}' "$(iso "$1")" "$(iso "$2")" "${3:+, $3}"
}
# renewal_info_requests — "METHOD PATH" of every renewalInfo request so far.
renewal_info_requests() { awk '$NF == "renewalInfo" { print $1, $2 }' "$HOSTILE_STATE/requests.log"; }

# 1. Issued from a CA with renewalInfo: the record keeps the certificate's CertID.
hostile_mode '{"ari": true}'
certcli_hostile domain add ari.example.com >/dev/null
run_capture certcli_hostile issue ari.example.com --email a@example.com --agree-tos --webroot "$webroot" --skip-preflight
assert_eq 0 "$LAST_STATUS" "issue ari.example.com (stderr: $LAST_STDERR)"
assert_eq 0 "$(hostile_count renewalInfo)" "renewalInfo requests made by issue"
cert_id1=$(hostile_cert_id "$(serial ari.example.com)")
[[ "$cert_id1" =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] || fail "the server's CertID is malformed: $cert_id1"
assert_eq "$cert_id1" "$(toml_get ari.example.com renewal.ari_cert_id)" "domain.toml's ari_cert_id"
echo "ok: issued from a CA with renewalInfo, domain.toml's ari_cert_id is the CA's CertID ($cert_id1)"

# 2. A window far ahead: skipped; the window and a point inside it stored; asked only once.
win_start=$((t0 + $(days 30))) win_end=$((t0 + $(days 32)))
hostile_mode "$(ari_window_mode "$win_start" "$win_end")"
renew_at now
assert_eq 0 "$LAST_STATUS" "renew with a window 30 days ahead (stderr: $LAST_STDERR)"
assert_eq skipped "$(outcome "$LAST_STDOUT" ari.example.com action)" "action with the window ahead"
assert_contains "$(outcome "$LAST_STDOUT" ari.example.com reason)" "ARI" "the reason names ARI"
assert_eq 1 "$(hostile_count renewalInfo)" "renewalInfo requests after the first renew"
assert_eq "GET /renewal-info/$cert_id1" "$(renewal_info_requests | tail -n 1)" \
  "renewalInfo is a plain GET of a URL naming the CertID"
assert_eq "$win_start" "$(toml_get ari.example.com renewal.ari_window_start)" "stored ari_window_start"
assert_eq "$win_end" "$(toml_get ari.example.com renewal.ari_window_end)" "stored ari_window_end"
renew_point=$(toml_get ari.example.com renewal.ari_renew_at)
[[ "$renew_point" =~ ^[0-9]+$ ]] || fail "ari_renew_at is not a date-time: $renew_point"
((renew_point >= win_start && renew_point < win_end)) ||
  fail "ari_renew_at $(iso "$renew_point") is outside the window $(iso "$win_start")..$(iso "$win_end")"
assert_eq "$(iso "$renew_point")" "$(outcome "$LAST_STDOUT" ari.example.com due_at)" "due_at is the chosen point"
# Without a Retry-After, the window is asked for again after 6 h.
assert_near $(($(date +%s) + $(hours 6))) "$(toml_get ari.example.com renewal.ari_fetch_after)" "ari_fetch_after"
echo "ok: a window 30 days ahead: skipped, window stored, renewal point $(iso "$renew_point") chosen inside it"

renew_at now
assert_eq 0 "$LAST_STATUS" "second renew (stderr: $LAST_STDERR)"
assert_eq skipped "$(outcome "$LAST_STDOUT" ari.example.com action)" "action of the second renew"
assert_eq 1 "$(hostile_count renewalInfo)" "renewalInfo requests after a second renew right away"
assert_eq 0 "$(json_field "$LAST_STDOUT" acme_requests)" "acme_requests of a renew with a fresh ARI answer"
assert_eq "$renew_point" "$(toml_get ari.example.com renewal.ari_renew_at)" "the chosen point is kept"
echo "ok: a second renew right away asks nothing (the answer is fresh for 6 h): acme_requests 0"

# 3. The window has passed and the 6 h are over: asked again, renewed, "replaces" the old one.
hostile_mode "$(ari_window_mode $((t0 - $(days 2))) $((t0 - $(days 1))))"
orders=$(hostile_count newOrder)
renew_at $((t0 + $(hours 7)))
assert_eq 0 "$LAST_STATUS" "renew 7 h later with the window passed (stdout: $LAST_STDOUT, stderr: $LAST_STDERR)"
assert_eq 2 "$(hostile_count renewalInfo)" "renewalInfo requests once the 6 h have passed"
assert_eq renewed "$(outcome "$LAST_STDOUT" ari.example.com action)" "action with the window passed"
assert_contains "$(outcome "$LAST_STDOUT" ari.example.com reason)" "ARI" "the reason names ARI"
assert_eq $((orders + 1)) "$(hostile_count newOrder)" "newOrders of the renewal"
assert_eq "$cert_id1" "$(json_field "$(hostile_last_new_order)" replaces)" "the newOrder's replaces"
cert_id2=$(hostile_cert_id "$(serial ari.example.com)")
[[ "$cert_id2" != "$cert_id1" ]] || fail "the renewed certificate was not installed (CertID unchanged)"
assert_eq "$cert_id2" "$(toml_get ari.example.com renewal.ari_cert_id)" "ari_cert_id after the renewal"
echo "ok: with the window passed the certificate was renewed; newOrder replaces $cert_id1; new CertID $cert_id2"

# 4. A CA without renewalInfo: no CertID kept, no renewalInfo request.
hostile_mode '{}'
certcli_hostile domain add noari.example.com >/dev/null
run_capture certcli_hostile issue noari.example.com --webroot "$webroot" --skip-preflight
assert_eq 0 "$LAST_STATUS" "issue noari.example.com (stderr: $LAST_STDERR)"
assert_eq absent "$(toml_get noari.example.com renewal.ari_cert_id)" "ari_cert_id from a CA without renewalInfo"
assert_not_contains "$(cat "$home/domains/noari.example.com/domain.toml")" "ari_" "ARI state without ARI"
infos=$(hostile_count renewalInfo)
renew_at now noari.example.com
assert_eq 0 "$LAST_STATUS" "renew noari.example.com (stderr: $LAST_STDERR)"
assert_eq skipped "$(outcome "$LAST_STDOUT" noari.example.com action)"
assert_not_contains "$(outcome "$LAST_STDOUT" noari.example.com reason)" "ARI" "reason without ARI"
assert_eq "$infos" "$(hostile_count renewalInfo)" "renewalInfo requests for a certificate without ARI"
assert_eq 0 "$(json_field "$LAST_STDOUT" acme_requests)" "acme_requests of a renew with nothing due"
echo "ok: from a CA without renewalInfo: no ari_cert_id, no renewalInfo request, the lifetime rule decides"

# 5. A window earlier than the lifetime rule renews earlier. Both certificates are brand new
# (7 days); at +1 d 2 h neither the half- nor the third-of-lifetime rule is due (3.5 d / 4.7 d),
# but ari.example.com's window (+1 d .. +1 d 1 h) has passed: it is renewed, noari is not.
nb=$(toml_get ari.example.com certificate.not_before) exp=$(toml_get ari.example.com certificate.expires_at)
at=$((t0 + $(days 1) + $(hours 2)))
((at < nb + (exp - nb) / 2)) || fail "test setup: the lifetime rule would already be due at $(iso "$at")"
hostile_mode "$(ari_window_mode $((t0 + $(days 1))) $((t0 + $(days 1) + $(hours 1))))"
infos=$(hostile_count renewalInfo)
before=$(serial ari.example.com)
renew_at "$at"
assert_eq 0 "$LAST_STATUS" "renew at +1 d 2 h (stdout: $LAST_STDOUT, stderr: $LAST_STDERR)"
assert_eq $((infos + 1)) "$(hostile_count renewalInfo)" "the new certificate's window is asked for"
assert_eq "GET /renewal-info/$cert_id2" "$(renewal_info_requests | tail -n 1)" "renewalInfo asked for the new CertID"
assert_eq renewed "$(outcome "$LAST_STDOUT" ari.example.com action)" "ARI window passed, lifetime rule not due"
assert_contains "$(outcome "$LAST_STDOUT" ari.example.com reason)" "ARI" "the reason names ARI"
assert_eq "$cert_id2" "$(json_field "$(hostile_last_new_order)" replaces)" "the newOrder's replaces"
[[ "$before" != "$(serial ari.example.com)" ]] || fail "the ARI renewal did not install a new certificate"
assert_eq skipped "$(outcome "$LAST_STDOUT" noari.example.com action)" "the lifetime rule alone at +1 d 2 h"
echo "ok: at +1 d 2 h the ARI window renews ari.example.com while the lifetime rule keeps noari.example.com"

# 6. A window beyond the lifetime rule keeps the certificate: at +5 d the lifetime rule renews
# noari.example.com (and its newOrder has no "replaces"), but ari.example.com waits for its window.
# The CA's Retry-After of 2 days is kept to the longest certcli waits between two asks: 24 h.
at=$((t0 + $(days 5)))
hostile_mode "$(ari_window_mode $((t0 + $(days 30))) $((t0 + $(days 32))) '"ari_retry_after": "172800"')"
before=$(serial ari.example.com)
renew_at "$at"
assert_eq 0 "$LAST_STATUS" "renew at +5 d (stdout: $LAST_STDOUT, stderr: $LAST_STDERR)"
assert_eq skipped "$(outcome "$LAST_STDOUT" ari.example.com action)" "a window ahead keeps a certificate at +5 d"
assert_contains "$(outcome "$LAST_STDOUT" ari.example.com reason)" "ARI" "the reason names ARI"
assert_eq "$before" "$(serial ari.example.com)" "ari.example.com's certificate was replaced"
assert_eq renewed "$(outcome "$LAST_STDOUT" noari.example.com action)" "the lifetime rule alone at +5 d"
assert_not_contains "$(hostile_last_new_order)" "replaces" "the newOrder of a certificate without ARI"
assert_near $((at + $(hours 24))) "$(toml_get ari.example.com renewal.ari_fetch_after)" \
  "ari_fetch_after after a Retry-After of 2 days (clamped to 24 h)"
echo "ok: at +5 d a window 30 days ahead keeps ari.example.com while the lifetime rule renews noari.example.com"

# 7. A renewalInfo 404 (a certificate the CA does not know): certcli stops asking for it. The
# record is pointed at a well-formed CertID the server never issued (as after a CA's reset).
hostile_mode '{"ari": true, "ari_strict": true}'
unknown_id="${cert_id2%%.*}.AQ"
"$HARNESS_PYTHON" - "$home/domains/ari.example.com/domain.toml" "$unknown_id" <<'PY'
import re, sys
path, cert_id = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8").read()
text, n = re.subn(r"(?m)^ari_cert_id = .*$", f"ari_cert_id = '{cert_id}'", text)
assert n == 1, "no ari_cert_id line"
text = re.sub(r"(?m)^ari_fetch_after = .*\n", "", text)
open(path, "w", encoding="utf-8").write(text)
PY
infos=$(hostile_count renewalInfo)
renew_at now ari.example.com
assert_eq 0 "$LAST_STATUS" "renew when the CA answers 404 (stdout: $LAST_STDOUT, stderr: $LAST_STDERR)"
assert_eq $((infos + 1)) "$(hostile_count renewalInfo)" "renewalInfo requests for the unknown CertID"
assert_eq "GET /renewal-info/$unknown_id" "$(renewal_info_requests | tail -n 1)" "the unknown CertID was asked for"
assert_eq absent "$(toml_get ari.example.com renewal.ari_cert_id)" "ari_cert_id after a renewalInfo 404"
assert_eq absent "$(toml_get ari.example.com renewal.ari_renew_at)" "ari_renew_at after a renewalInfo 404"
assert_eq skipped "$(outcome "$LAST_STDOUT" ari.example.com action)" "action after a renewalInfo 404"
renew_at $((t0 + $(days 1))) ari.example.com
assert_eq 0 "$LAST_STATUS" "renew a day later (stderr: $LAST_STDERR)"
assert_eq $((infos + 1)) "$(hostile_count renewalInfo)" "renewalInfo requests a day after a 404"
echo "ok: a renewalInfo 404 clears ari_cert_id and the CA is not asked again"
