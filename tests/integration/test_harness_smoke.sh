#!/usr/bin/env bash
# Smoke test for the integration harness itself (no certcli binary needed): Pebble's ACME
# directory and nonce endpoint answer over TLS with our throwaway CA, the issuing root
# was fetched, the mock DNS resolves everything to 127.0.0.1, and nothing listens on a
# non-loopback address.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

t0=$SECONDS
harness_start
echo "ok: harness started in $((SECONDS - t0))s, directory $CERTCLI_TEST_DIRECTORY"

curl_ca() { curl --noproxy '*' -sS --fail --max-time 10 --cacert "$CERTCLI_TEST_CA_BUNDLE" "$@"; }

# 1. Directory has the RFC 8555 resources certcli needs.
dir_json=$(curl_ca "$CERTCLI_TEST_DIRECTORY")
new_nonce=$("$HARNESS_PYTHON" -c '
import json, sys
d = json.loads(sys.argv[1])
missing = [k for k in ("newNonce", "newAccount", "newOrder") if not d.get(k)]
if missing:
    sys.exit("directory lacks " + ", ".join(missing))
print(d["newNonce"])' "$dir_json") || fail "bad directory JSON: $dir_json"
echo "ok: directory has newNonce/newAccount/newOrder"

# 2. HEAD newNonce returns a Replay-Nonce header (HTTP/2 header names are lower-case).
headers=$(curl_ca --head "$new_nonce")
nonce=$(tr -d '\r' <<<"$headers" | awk -F': *' 'tolower($1) == "replay-nonce" { print $2 }')
[[ -n "$nonce" ]] || fail "no Replay-Nonce in HEAD $new_nonce:"$'\n'"$headers"
echo "ok: HEAD newNonce -> Replay-Nonce $nonce"

# 3. Pebble's issuing root and intermediate parse as certificates.
root_subject=$(openssl x509 -in "$PEBBLE_ROOT_PEM" -noout -subject) ||
  fail "pebble-root.pem does not parse"
openssl x509 -in "$PEBBLE_INTERMEDIATE_PEM" -noout >/dev/null ||
  fail "pebble-intermediate.pem does not parse"
openssl verify -CAfile "$PEBBLE_ROOT_PEM" "$PEBBLE_INTERMEDIATE_PEM" >/dev/null ||
  fail "intermediate does not chain to root"
echo "ok: pebble-root.pem parses ($root_subject), intermediate chains to it"

# 4. The mock DNS (what Pebble's VA uses) answers A some.name.test -> 127.0.0.1 and has
#    no AAAA, so the VA can only ever dial loopback. Hand-built query: python3 stdlib only.
dns_query() { # NAME QTYPE -> prints the answers' IPs, one per line
  "$HARNESS_PYTHON" - "${CERTCLI_TEST_DNS_SERVER%:*}" "${CERTCLI_TEST_DNS_SERVER##*:}" "$1" "$2" <<'PY'
import random, socket, struct, sys
host, port, name, qtype = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
qid = random.randrange(65536)
q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)            # RD, 1 question
q += b"".join(bytes([len(l)]) + l.encode() for l in name.strip(".").split(".")) + b"\0"
q += struct.pack("!HH", qtype, 1)                                # QTYPE, class IN
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(q, (host, port))
r, _ = s.recvfrom(4096)
rid, flags, qd, an = struct.unpack("!HHHH", r[:8])
if rid != qid or flags & 0x000F:
    sys.exit(f"bad DNS response id={rid} rcode={flags & 0xF}")
def skip_name(b, i):
    while True:
        n = b[i]
        if n == 0: return i + 1
        if n & 0xC0 == 0xC0: return i + 2                        # compression pointer
        i += 1 + n
i = 12
for _ in range(qd):
    i = skip_name(r, i) + 4
for _ in range(an):
    i = skip_name(r, i)
    rtype, _, _, rdlen = struct.unpack("!HHIH", r[i:i + 10])
    rdata = r[i + 10:i + 10 + rdlen]
    i += 10 + rdlen
    if rtype == 1:
        print(socket.inet_ntop(socket.AF_INET, rdata))
    elif rtype == 28:
        print(socket.inet_ntop(socket.AF_INET6, rdata))
PY
}
a=$(dns_query some.name.test 1) || fail "DNS A query failed"
assert_eq "127.0.0.1" "$a" "A some.name.test"
aaaa=$(dns_query some.name.test 28) || fail "DNS AAAA query failed"
assert_eq "" "$aaaa" "AAAA some.name.test"
echo "ok: mock DNS: A some.name.test = 127.0.0.1, no AAAA"

# 5. Every socket of our servers is bound to 127.0.0.1, never to a wildcard address.
listeners=$(ss -Hlntup | grep -E "pid=($HARNESS_PEBBLE_PID|$HARNESS_CHALLTESTSRV_PID)," || true)
[[ -n "$listeners" ]] || fail "no listeners found for our pebble processes"
bad=$(awk '$5 !~ /^127\.0\.0\.1:/' <<<"$listeners")
[[ -z "$bad" ]] || fail "non-loopback listeners:"$'\n'"$bad"
echo "ok: all $(wc -l <<<"$listeners") listening sockets are on 127.0.0.1"

# 6. Helpers behave.
run_expect_fail sh -c 'echo out; echo err >&2; exit 3'
assert_eq 3 "$LAST_STATUS" "run_expect_fail status"
assert_eq out "$LAST_STDOUT" "run_expect_fail stdout"
assert_contains "$LAST_STDERR" err "run_expect_fail stderr"
assert_file_mode 700 "$HARNESS_DIR"
echo "ok: assertion helpers"

echo "ok: harness smoke test passed"
