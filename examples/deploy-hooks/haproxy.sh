#!/bin/sh
# certcli deploy hook for HAProxy, which wants the certificate chain and its private key in one
# PEM file: writes <HAPROXY_CERT_DIR>/<domain>.pem (fullchain, then the key), mode 0600,
# replaced in one rename so HAProxy never reads half a file, then reloads HAProxy.
#
#   certcli domain set example.com --deploy-hook /usr/local/lib/certcli/haproxy.sh
#
# and in haproxy.cfg, one directory for every domain:
#
#   frontend https
#       bind :443 ssl crt /etc/haproxy/certs/ alpn h2,http/1.1
#
# certcli runs the hook after every certificate it installs (issue and renew), with
# CERTCLI_DOMAIN, CERTCLI_FULLCHAIN and CERTCLI_KEY (and CERTCLI_NAMES, CERTCLI_CERT,
# CERTCLI_CHAIN, CERTCLI_LIVE_DIR) set. A non-zero exit is reported as "deploy hook failed"
# (exit 12): certcli's own copy stays installed, and the hook's stderr is shown.
#
# HAPROXY_CERT_DIR   where the combined files go (default /etc/haproxy/certs)
# HAPROXY_RELOAD     how HAProxy is reloaded (default: systemctl when systemd runs; else nothing,
#                    with a note: reload it yourself, or set this)
# A domain issued from your own CSR (issue --csr) has no key at certcli: CERTCLI_KEY is empty,
# and this hook refuses, since HAProxy cannot use a certificate without its key.
set -eu

: "${CERTCLI_DOMAIN:?run by certcli as a deploy hook (CERTCLI_DOMAIN is not set)}"
: "${CERTCLI_FULLCHAIN:?run by certcli as a deploy hook (CERTCLI_FULLCHAIN is not set)}"
if [ -z "${CERTCLI_KEY:-}" ]; then
  echo "haproxy.sh: $CERTCLI_DOMAIN was issued from your own CSR, so certcli holds no key to give HAProxy" >&2
  exit 1
fi
dir=${HAPROXY_CERT_DIR:-/etc/haproxy/certs}
target="$dir/$CERTCLI_DOMAIN.pem"

umask 077  # the combined file holds the private key
mkdir -p "$dir"
tmp=$(mktemp "$dir/.$CERTCLI_DOMAIN.pem.XXXXXX")
trap 'rm -f "$tmp"' EXIT
# The chain first, the key last: HAProxy's order. A PEM file that lacks its final newline would
# glue the key's BEGIN line onto the last certificate's END line, so each part ends in one.
{ cat "$CERTCLI_FULLCHAIN"; echo; cat "$CERTCLI_KEY"; } | sed '/^$/d' >"$tmp"
chmod 600 "$tmp"
# Durable before it is visible: a crash after the rename must not leave an empty file in place.
sync "$tmp" 2>/dev/null || sync
mv -f "$tmp" "$target"
trap - EXIT

if [ -z "${HAPROXY_RELOAD:-}" ] && [ -d /run/systemd/system ]; then HAPROXY_RELOAD="systemctl reload haproxy.service"; fi
if [ -n "${HAPROXY_RELOAD:-}" ]; then
  # shellcheck disable=SC2086
  $HAPROXY_RELOAD
  echo "haproxy.sh: wrote $target and reloaded HAProxy"
else
  echo "haproxy.sh: wrote $target; HAProxy was not reloaded (no systemd: set HAPROXY_RELOAD)" >&2
fi
