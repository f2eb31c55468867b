#!/usr/bin/env bash
# Issue #24: clients that hold connections to the standalone http-01 listener open, sending one
# byte a second, must not keep the CA's validation from being answered. Five such clients hang
# on the listener for the whole issuance while Pebble's VA, slowed by PEBBLE_VA_SLEEPTIME,
# validates two names (three requests each) in the middle of them; the certificate is still
# issued and verifies. A listener that served one connection at a time let the five queue
# ahead of the CA for 5 s each, past Pebble's 15 s validation timeout.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
# This test needs a Pebble of its own: the sleep is set when Pebble starts.
unset CERTCLI_TEST_ENV
export PEBBLE_VA_SLEEPTIME=5
harness_start
use_certcli
listen="127.0.0.1:$CERTCLI_TEST_HTTP_PORT"

# Five connections, each sending one byte of a request head that never ends every second, and
# reconnecting as soon as the listener drops one (at its head deadline, with 408). Every 50 ms it
# samples how many are open; it reports when it stops.
slow_script="$HARNESS_DIR/slow_clients.py"
cat >"$slow_script" <<'PY'
import json, os, socket, sys, time

port, count, stop_file, report_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
head = b"GET /.well-known/acme-challenge/slow HTTP/1.1\r\nHost: slow.certcli.test\r\nX-Slow: " + b"s" * 100000
conns = [None] * count
sent = [0] * count
next_byte = [0.0] * count
stats = {"connects": 0, "answers": [], "samples": 0, "samples_all_open": 0, "max_open": 0, "bytes_sent": 0}
started_all_open = False
parent, give_up = os.getppid(), time.monotonic() + 300
# Ends on the stop file, and also when the test's shell is gone or after 5 minutes, so a failed
# test cannot leave it running.
while not os.path.exists(stop_file) and os.getppid() == parent and time.monotonic() < give_up:
    now = time.monotonic()
    for i in range(count):
        if conns[i] is None:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=0.5)
            except OSError:
                continue  # the listener is not up (yet, or between preflight and order)
            s.setblocking(False)
            conns[i], sent[i], next_byte[i] = s, 0, now
            stats["connects"] += 1
        s = conns[i]
        try:
            data = s.recv(4096)
            # The listener answered (408 at its head deadline) or closed: start over.
            if data:
                stats["answers"].append(data.split(b"\r\n", 1)[0].decode("latin-1"))
            s.close()
            conns[i] = None
            continue
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            conns[i] = None
            continue
        if now >= next_byte[i]:
            try:
                s.send(head[sent[i]:sent[i] + 1])
                sent[i] += 1
                stats["bytes_sent"] += 1
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                conns[i] = None
                continue
            next_byte[i] = now + 1.0
    open_now = sum(c is not None for c in conns)
    stats["max_open"] = max(stats["max_open"], open_now)
    started_all_open = started_all_open or open_now == count
    if started_all_open:
        stats["samples"] += 1
        stats["samples_all_open"] += open_now == count
    time.sleep(0.05)
for s in conns:
    if s is not None:
        s.close()
with open(report_file, "w") as f:
    json.dump(stats, f)
PY

stop_file="$HARNESS_DIR/slow_clients.stop"
report="$HARNESS_DIR/slow_clients.json"
"$HARNESS_PYTHON" "$slow_script" "$CERTCLI_TEST_HTTP_PORT" 5 "$stop_file" "$report" &
slow_pid=$!
stop_slow_clients() {
  touch "$stop_file"
  wait "$slow_pid" || fail "the slow clients ended with an error"
}

certcli domain add slow.certcli.test --san www.slow.certcli.test >/dev/null
start=$SECONDS
run_capture certcli issue slow.certcli.test --email ops@certcli.test --agree-tos --http-listen "$listen" --json
took=$((SECONDS - start))
stop_slow_clients
stats=$(<"$report")
echo "slow clients: $stats"
assert_eq 0 "$LAST_STATUS" "issue exits 0 while five slow clients hold the listener (stderr: $LAST_STDERR)"
assert_eq ready "$(json_field "$LAST_STDOUT" status)"
echo "ok: issued over http-01 in ${took}s with five slow clients on the listener"

# The five really were there, connected and trickling, for nearly all of the run.
assert_eq 5 "$(json_field "$stats" max_open)" "slow connections open at once"
all_open=$(json_field "$stats" samples_all_open)
samples=$(json_field "$stats" samples)
((samples > 0 && all_open * 10 >= samples * 8)) ||
  fail "the five slow connections were all open for only $all_open of $samples samples"
grep -q "Sleeping for" "$HARNESS_DIR/pebble.log" || fail "Pebble's VA did not sleep: PEBBLE_VA_SLEEPTIME did not reach it"
echo "ok: five slow connections were held open during the run ($all_open of $samples samples); Pebble validated late"

live="$home/domains/slow.certcli.test/live"
openssl verify -CAfile "$PEBBLE_ROOT_PEM" -untrusted "$live/chain.pem" "$live/cert.pem" >/dev/null ||
  fail "the chain does not verify to Pebble's root"
sans=$(openssl x509 -in "$live/cert.pem" -noout -ext subjectAltName | tail -n +2 | tr -d ' ')
assert_eq "DNS:slow.certcli.test,DNS:www.slow.certcli.test" "$sans" "SANs of the issued certificate"
assert_eq "$(openssl x509 -in "$live/cert.pem" -noout -pubkey)" "$(openssl pkey -in "$live/key.pem" -pubout)" \
  "the stored key is the certificate's key"
echo "ok: the certificate verifies to Pebble's root with both names and the stored key"
