#!/bin/sh
# certcli deploy hook for nginx: check the configuration, then reload nginx so that it serves the
# certificate certcli has just installed.
#
#   certcli domain set example.com --deploy-hook /usr/local/lib/certcli/nginx.sh
#   # or for every domain, in config.toml:  [renewal]  deploy_hook = "/usr/local/lib/certcli/nginx.sh"
#
# nginx reads the files where certcli keeps them, so nothing is copied:
#
#   ssl_certificate     /var/lib/certcli/domains/example.com/live/fullchain.pem;
#   ssl_certificate_key /var/lib/certcli/domains/example.com/live/key.pem;
#
# live/ is a link that certcli switches in one rename, so nginx never reads a certificate of one
# version with the key of another. nginx opens them at reload, as root, before it drops its
# privileges: the 0700 state directory is fine as it is.
#
# certcli runs the hook after every certificate it installs (issue and renew), with
# CERTCLI_DOMAIN, CERTCLI_NAMES, CERTCLI_CERT, CERTCLI_KEY, CERTCLI_CHAIN, CERTCLI_FULLCHAIN
# and CERTCLI_LIVE_DIR set. A non-zero exit is reported as "deploy hook failed" (exit 12): the
# certificate stays installed, and the hook's stderr is shown.
#
# NGINX_RELOAD overrides how nginx is reloaded (default: systemctl when systemd runs, else
# `nginx -s reload`); NGINX_TEST how the configuration is checked (default `nginx -t -q`).
set -eu

: "${CERTCLI_DOMAIN:?run by certcli as a deploy hook (CERTCLI_DOMAIN is not set)}"
: "${CERTCLI_FULLCHAIN:?run by certcli as a deploy hook (CERTCLI_FULLCHAIN is not set)}"

if [ -z "${NGINX_RELOAD:-}" ]; then
  if [ -d /run/systemd/system ]; then NGINX_RELOAD="systemctl reload nginx.service"; else NGINX_RELOAD="nginx -s reload"; fi
fi

# A configuration that does not load (a typo made since the last reload) must not be reloaded
# into: nginx would keep the old certificate and say so only in its own log.
if ! ${NGINX_TEST:-nginx -t -q}; then
  echo "nginx.sh: nginx's configuration does not load (nginx -t): not reloading; $CERTCLI_DOMAIN's new certificate is installed but not served" >&2
  exit 1
fi
# Word splitting of the command is intended: it is a command line, not a path.
# shellcheck disable=SC2086
$NGINX_RELOAD
echo "nginx.sh: nginx reloaded for $CERTCLI_DOMAIN"
