#!/usr/bin/env bash
# Builds a certcli state directory of N ready, managed domains that are not due, without a CA:
# each domains/<name>/domain.toml is written directly in the format certcli writes
# (src/store/records.cpp; checked against a record from a real issuance at Pebble), with the
# modes certcli uses (0700 directories, 0600 files). A 90-day certificate issued 10 days ago
# (80 days left). No live/ certificate is written: `renew` must decide from domain.toml alone
# and parse no certificate for a domain that is not due, so a run that tried would fail.
# Names are d00000.bench.test, d00001.bench.test, ... (each with a www. SAN).
#
# Usage: bench/generate_state.sh DIR N
#   BENCH_ARI=1   give every record a fresh ARI answer (RFC 9773: window ahead, next poll 6 h
#                 away), as a fleet at Let's Encrypt has between polls; such a record must still
#                 cost no request
#   BENCH_DIRECTORY_URL=URL   the CA each record names (default Let's Encrypt's production
#                 directory); bench/compare.sh points it at its Pebble, so that any request a
#                 run wrongly made would be counted in Pebble's log
# Needs python3. DIR may exist (records are added; an existing name is an error).
set -euo pipefail
[[ $# -eq 2 && "$2" =~ ^[0-9]+$ ]] || { echo "usage: bench/generate_state.sh DIR N" >&2; exit 2; }
PYTHON=${HARNESS_PYTHON:-/usr/bin/python3}
[[ -x "$PYTHON" ]] || PYTHON=python3
exec "$PYTHON" - "$1" "$2" "${BENCH_ARI:-0}" "${BENCH_DIRECTORY_URL:-https://acme-v02.api.letsencrypt.org/directory}" <<'PY'
import base64, datetime, hashlib, os, sys
home, count, ari, directory = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
not_before = now - datetime.timedelta(days=10)
expires = not_before + datetime.timedelta(days=90) - datetime.timedelta(seconds=1)
os.umask(0o077)
os.makedirs(os.path.join(home, "domains"), mode=0o700, exist_ok=True)
os.chmod(home, 0o700)
for i in range(count):
    name = f"d{i:05d}.bench.test"
    digest = hashlib.sha256(name.encode()).hexdigest().upper()
    fingerprint = ":".join(digest[j:j + 2] for j in range(0, 64, 2))
    # Keys in the order toml++ writes them: the top-level values, then the tables by name.
    record = f"""# Written by certcli 0.1.0. Safe to read; edit only while certcli is not running.
created_at = {fmt(not_before)}
key_type = 'ec256'
management = 'managed'
name = '{name}'
names = [ '{name}', 'www.{name}' ]

[certificate]
directory_url = '{directory}'
expires_at = {fmt(expires)}
fingerprint = '{fingerprint}'
issued_at = {fmt(not_before)}
last_updated_at = {fmt(not_before)}
live_version = '{not_before.strftime("%Y%m%dT%H%M%SZ")}'
not_before = {fmt(not_before)}
phase = 'completed'
serial = '{digest[:32]}'
status = 'ready'

[challenge]
type = 'http-01'
webroot = '/var/www/acme'
"""
    if ari:
        b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
        day = lambda n: fmt(not_before + datetime.timedelta(days=n))
        record += f"""
[renewal]
ari_cert_id = '{b64(hashlib.sha1(b"bench issuer").digest())}.{b64(bytes.fromhex(digest[:32]))}'
ari_fetch_after = {fmt(now + datetime.timedelta(hours=6))}
ari_renew_at = {day(61)}
ari_window_end = {day(62)}
ari_window_start = {day(60)}
"""
    domain_dir = os.path.join(home, "domains", name)
    os.mkdir(domain_dir, 0o700)
    fd = os.open(os.path.join(domain_dir, "domain.toml"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, record.encode())
    os.close(fd)
PY
