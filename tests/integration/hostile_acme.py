#!/usr/bin/env python3
"""A small, deliberately hostile ACME (RFC 8555) server for certcli's integration tests.

It speaks just enough ACME for a full issuance (directory, nonces, account, order,
authorizations, challenges, finalize, order polls, certificate download) and lets a test make
it misbehave through STATE_DIR/mode.json, which is re-read on every request:

    {"token": "TEXT"}               every authorization's challenges carry TEXT as their token
                                    (default: a fresh, well-formed 43-character base64url token)
    {"order_retry_after": "VALUE"}  order polls of a "processing" order answer "processing" with
                                    the header `Retry-After: VALUE` until the time VALUE names has
                                    passed (delta-seconds counted from the first such poll, or an
                                    IMF-fixdate); a value that is neither keeps the order
                                    processing for as long as the mode stays. Without the key,
                                    a processing order becomes valid at its first poll.
    {"ari": true}                   the directory offers ACME Renewal Information (RFC 9773):
                                    "renewalInfo": https://127.0.0.1:PORT/renewal-info (off by
                                    default, so a client sees a CA without ARI)
    {"ari_window": {"start": T, "end": T}}
                                    the suggestedWindow GET /renewal-info/<certID> answers (RFC 3339
                                    strings, sent as given; default: now+30 days to now+32 days)
    {"ari_retry_after": "VALUE"}    the renewalInfo answer carries `Retry-After: VALUE`
    {"ari_strict": true}            renewalInfo answers 404 (a problem document) for a certID this
                                    server did not issue (default: any certID gets the window)
    {"new_order_status": N}         newOrder answers HTTP N (e.g. 429, 503) with the problem
                                    urn:ietf:params:acme:error:rateLimited instead of an order ...
    {"new_order_retry_after": "V"}  ... and the header `Retry-After: V` ...
    {"new_order_fail_count": K}     ... for the first K newOrder requests only (default: every one).
                                    The count is kept in memory across client runs and starts
                                    again whenever the three new_order_* settings change.
    {"new_order_detail": "TEXT"}    ... with TEXT as the problem's detail (control characters too)
    {"new_order_raw_body": "TEXT"}  ... with TEXT as a text/plain body instead of a problem document
    {"extra_authzs": N}             every order links N more authorization URLs than it has names
                                    (/authz/extra-<order>-<i>, which answer 404 if fetched)
    {"foreign_authz": "NAME"}       the first authorization of each new order is for the dns name
                                    NAME instead of the name ordered
    {"cert_extra_san": "NAME"}      finalize issues a certificate whose SANs are the CSR's names
                                    plus the dns name NAME
    {"cert_other_key": true}        finalize issues a certificate for the CSR's names but for a
                                    key of the server's own (openssl x509 -force_pubkey)

It verifies no JWS signature and validates no challenge: a POSTed challenge makes its
authorization valid. Finalize signs the CSR with --issuer-cert/--issuer-key through the
openssl CLI (OpenSSL 3: -copy_extensions copy keeps the CSR's subjectAltName).

Every request appends "METHOD PATH KIND" to STATE_DIR/requests.log, KIND being one of
directory newNonce newAccount newOrder authz challenge finalize order cert renewalInfo unknown
(a renewalInfo line's PATH names the certID asked for: "GET /renewal-info/<certID> renewalInfo").
Every newOrder's decoded JWS payload is appended, one JSON object per line, to
STATE_DIR/neworders.jsonl (so a test can see its "replaces"), whatever the answer.
Each issued certificate is kept as orders/<id>/cert.pem with orders/<id>/certid.txt, its RFC 9773
CertID (base64url of the Authority Key Identifier's keyIdentifier, ".", base64url of the serial's
DER content octets), computed here from the openssl CLI's output, independently of the client.
Files are written only under STATE_DIR: requests.log, server.log, neworders.jsonl, ready,
orders/<id>/.
Listens on 127.0.0.1 only. Python 3 standard library only.
"""

import argparse
import base64
import binascii
import email.utils
import re
import http.server
import json
import os
import secrets
import ssl
import subprocess
import sys
import threading
import time
import traceback

def b64url_decode(text):
    if not isinstance(text, str):
        raise ValueError("not a string")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def random_token():
    return secrets.token_urlsafe(32)  # 32 bytes -> 43 base64url characters


def rfc3339(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def cert_id_from_openssl(text):
    """The RFC 9773 CertID from `openssl x509 -noout -serial -ext authorityKeyIdentifier` output.

    The serial line is the INTEGER's value in hex; its DER content octets are its big-endian
    bytes, minimal, with a 0x00 in front when the high bit is set (the value is positive).
    The keyIdentifier is the AKI line of colon-separated hex bytes ("keyid:" before them on
    some OpenSSL versions; DirName/serial lines of the other AKI forms are ignored)."""
    serial_hex, keyid_hex, in_aki = None, None, False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("serial="):
            serial_hex = stripped[len("serial="):]
        elif stripped.startswith("X509v3 Authority Key Identifier"):
            in_aki = True
        elif in_aki and keyid_hex is None:
            candidate = stripped[len("keyid:"):] if stripped.startswith("keyid:") else stripped
            if re.fullmatch(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2})*", candidate):
                keyid_hex = candidate.replace(":", "")
    if not serial_hex or not re.fullmatch(r"[0-9A-Fa-f]+", serial_hex):
        raise ValueError(f"no serial in the openssl output: {text!r}")
    if not keyid_hex:
        raise ValueError(f"no Authority Key Identifier keyid in the openssl output: {text!r}")
    serial = bytes.fromhex(serial_hex if len(serial_hex) % 2 == 0 else "0" + serial_hex).lstrip(b"\0") or b"\0"
    if serial[0] & 0x80:
        serial = b"\0" + serial
    return b64url(bytes.fromhex(keyid_hex)) + "." + b64url(serial)


class State:
    """Accounts, orders and authorizations, in memory for the life of the server."""

    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.log_lock = threading.Lock()
        self.accounts = {}
        self.orders = {}  # id -> dict
        self.authzs = {}  # id -> dict
        self.cert_ids = set()  # RFC 9773 CertIDs of the certificates issued
        self.new_order_failures = (None, 0)  # (the new_order_* settings, newOrder refusals under them)
        self.base = f"https://127.0.0.1:{args.port}"
        self.requests_log = open(os.path.join(args.state_dir, "requests.log"), "a", encoding="utf-8")
        self.server_log = open(os.path.join(args.state_dir, "server.log"), "a", encoding="utf-8")
        self.new_orders_log = open(os.path.join(args.state_dir, "neworders.jsonl"), "a", encoding="utf-8")

    def url(self, path):
        return self.base + path

    def log_request(self, method, path, kind):
        with self.log_lock:
            self.requests_log.write(f"{method} {path} {kind}\n")
            self.requests_log.flush()

    def log_new_order(self, payload):
        with self.log_lock:
            self.new_orders_log.write(json.dumps(payload, sort_keys=True) + "\n")
            self.new_orders_log.flush()

    def log(self, text):
        with self.log_lock:
            self.server_log.write(f"{time.strftime('%H:%M:%S')} {text}\n")
            self.server_log.flush()

    def mode(self):
        path = os.path.join(self.args.state_dir, "mode.json")
        try:
            with open(path, encoding="utf-8") as f:
                mode = json.load(f)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            self.log(f"mode.json unreadable, using defaults: {e}")
            return {}
        if not isinstance(mode, dict):
            self.log("mode.json is not an object, using defaults")
            return {}
        return mode


class Answered(Exception):
    """The response has been sent already: nothing more to do for this request."""


class AcmeError(Exception):
    def __init__(self, status, kind, detail):
        super().__init__(detail)
        self.status, self.kind, self.detail = status, kind, detail


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as certcli uses one connection
    server_version = "hostile-acme/1"
    timeout = 30  # a stalled client never holds a thread for long

    # ------------------------------------------------------------------ plumbing

    @property
    def st(self):
        return self.server.state

    def log_message(self, fmt, *args):
        self.st.log(f"{self.address_string()} {fmt % args}")

    def send(self, status, body=b"", content_type="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Replay-Nonce", random_token())
        self.send_header("Cache-Control", "no-store")
        self.send_header("Link", f'<{self.st.url("/dir")}>;rel="index"')
        if body:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def problem(self, status, kind, detail):
        self.send(status, {"type": f"urn:ietf:params:acme:error:{kind}", "detail": detail, "status": status},
                  content_type="application/problem+json")

    def read_jws(self):
        """The flattened JWS of a POST: (payload, where payload is None for POST-as-GET, header)."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            jws = json.loads(raw)
            header = json.loads(b64url_decode(jws["protected"]))
            payload_b64 = jws["payload"]
            payload = None if payload_b64 == "" else json.loads(b64url_decode(payload_b64))
        except (ValueError, KeyError, TypeError, binascii.Error) as e:
            raise AcmeError(400, "malformed", f"not a flattened JWS with JSON payload: {e}")
        if not isinstance(header, dict):
            raise AcmeError(400, "malformed", "the protected header is not an object")
        url = header.get("url")
        if url != self.st.url(self.path):
            self.st.log(f"note: JWS url {url!r} differs from request URL {self.st.url(self.path)!r}")
        return payload, header

    def route(self):
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        head = parts[0] if parts else ""
        n = len(parts)
        if self.path == "/dir":
            return "directory", ()
        if self.path == "/nonce":
            return "newNonce", ()
        if self.path == "/new-account":
            return "newAccount", ()
        if self.path == "/new-order":
            return "newOrder", ()
        if head == "authz" and n == 2:
            return "authz", (parts[1],)
        if head == "chall" and n == 3:
            return "challenge", (parts[1], parts[2])
        if head == "finalize" and n == 2:
            return "finalize", (parts[1],)
        if head == "order" and n == 2:
            return "order", (parts[1],)
        if head == "cert" and n == 2:
            return "cert", (parts[1],)
        if head == "renewal-info" and n == 2:
            return "renewalInfo", (parts[1],)
        return "unknown", ()

    def dispatch(self):
        kind, params = self.route()
        self.st.log_request(self.command, self.path, kind)
        try:
            handler = getattr(self, f"{self.command.lower()}_{kind}", None)
            if handler is None:
                if kind == "unknown":
                    raise AcmeError(404, "malformed", f"no such resource: {self.path}")
                raise AcmeError(405, "malformed", f"{self.command} is not allowed on {self.path}")
            handler(*params)
        except Answered:
            pass
        except AcmeError as e:
            self.problem(e.status, e.kind, e.detail)
        except Exception:  # never let a bug here drop the connection silently
            self.st.log(traceback.format_exc())
            self.problem(500, "serverInternal", "the hostile test server had an internal error")

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = dispatch

    # ------------------------------------------------------------------ resources

    def get_directory(self):
        u = self.st.url
        body = {
            "newNonce": u("/nonce"),
            "newAccount": u("/new-account"),
            "newOrder": u("/new-order"),
            "revokeCert": u("/revoke-cert"),
            "keyChange": u("/key-change"),
            "meta": {"termsOfService": u("/terms")},
        }
        if self.st.mode().get("ari") is True:
            body["renewalInfo"] = u("/renewal-info")
        self.send(200, body)

    def get_renewalInfo(self, cert_id):
        """RFC 9773 4.2: an unauthenticated GET; the window from mode.json (see the docstring)."""
        mode = self.st.mode()
        with self.st.lock:
            known = cert_id in self.st.cert_ids
        if mode.get("ari_strict") is True and not known:
            raise AcmeError(404, "malformed", f"no certificate with CertID {cert_id} was issued here")
        window = mode.get("ari_window")
        if isinstance(window, dict) and "start" in window and "end" in window:
            suggested = {"start": window["start"], "end": window["end"]}
        else:
            now = time.time()
            suggested = {"start": rfc3339(now + 30 * 86400), "end": rfc3339(now + 32 * 86400)}
        headers = {}
        if mode.get("ari_retry_after") is not None:
            headers["Retry-After"] = str(mode["ari_retry_after"])
        self.send(200, {"suggestedWindow": suggested}, headers=headers)

    def head_newNonce(self):
        self.send(200)

    def get_newNonce(self):
        self.send(204)

    def post_newAccount(self):
        payload, header = self.read_jws()
        payload = payload if isinstance(payload, dict) else {}
        with self.st.lock:
            acct_id = secrets.token_hex(8)
            contact = payload.get("contact", [])
            self.st.accounts[acct_id] = {"status": "valid", "contact": contact}
        self.send(201, {"status": "valid", "contact": contact, "orders": self.st.url(f"/orders/{acct_id}")},
                  headers={"Location": self.st.url(f"/acct/{acct_id}")})

    def post_newOrder(self):
        payload, _ = self.read_jws()
        self.st.log_new_order(payload)
        self.refuse_new_order(self.st.mode())
        if not isinstance(payload, dict) or not isinstance(payload.get("identifiers"), list) \
                or not payload["identifiers"]:
            raise AcmeError(400, "malformed", "newOrder needs a non-empty identifiers list")
        mode = self.st.mode()
        with self.st.lock:
            order_id = secrets.token_hex(8)
            authz_ids = []
            for ident in payload["identifiers"]:
                if not isinstance(ident, dict) or ident.get("type") != "dns" or not isinstance(ident.get("value"), str):
                    raise AcmeError(400, "malformed", f"unsupported identifier {ident!r}")
                authz_id = secrets.token_hex(8)
                value = ident["value"]
                if not authz_ids and isinstance(mode.get("foreign_authz"), str):
                    value = mode["foreign_authz"]
                wildcard = value.startswith("*.")
                authz = {"identifier": {"type": "dns", "value": value[2:] if wildcard else value},
                         "status": "pending", "token": random_token(), "answered": None}
                if wildcard:
                    authz["wildcard"] = True
                self.st.authzs[authz_id] = authz
                authz_ids.append(authz_id)
            extra = mode.get("extra_authzs")
            if isinstance(extra, int) and extra > 0:
                authz_ids += [f"extra-{order_id}-{i}" for i in range(extra)]
            self.st.orders[order_id] = {"status": "pending", "identifiers": payload["identifiers"],
                                        "authz_ids": authz_ids, "expires": time.time() + 7 * 86400,
                                        "chain": None, "ready_at": None}
            body = self.order_json(order_id)
        self.send(201, body, headers={"Location": self.st.url(f"/order/{order_id}")})

    def refuse_new_order(self, mode):
        """mode new_order_status: answer a rate limit (with its Retry-After) instead of an order."""
        status = mode.get("new_order_status")
        if status is None:
            return
        retry = mode.get("new_order_retry_after")
        limit = mode.get("new_order_fail_count")
        settings = json.dumps([status, retry, limit, mode.get("new_order_detail"), mode.get("new_order_raw_body")])
        with self.st.lock:
            seen, refused = self.st.new_order_failures
            if seen != settings:
                refused = 0
            if limit is not None and refused >= int(limit):
                self.st.new_order_failures = (settings, refused)
                return
            self.st.new_order_failures = (settings, refused + 1)
        status = int(status)
        headers = {} if retry is None else {"Retry-After": str(retry)}
        if isinstance(mode.get("new_order_raw_body"), str):
            self.send(status, mode["new_order_raw_body"], content_type="text/plain", headers=headers)
            raise Answered()
        detail = mode.get("new_order_detail", f"hostile test CA: too many new orders (refusal {refused + 1})")
        self.send(status, {"type": "urn:ietf:params:acme:error:rateLimited", "status": status, "detail": detail},
                  content_type="application/problem+json", headers=headers)
        raise Answered()

    def order_json(self, order_id):
        order = self.st.orders[order_id]
        if order["status"] == "pending" and all(self.st.authzs.get(a, {}).get("status") == "valid" for a in order["authz_ids"]):
            order["status"] = "ready"
        body = {
            "status": order["status"],
            "expires": rfc3339(order["expires"]),
            "identifiers": order["identifiers"],
            "authorizations": [self.st.url(f"/authz/{a}") for a in order["authz_ids"]],
            "finalize": self.st.url(f"/finalize/{order_id}"),
        }
        if order["status"] == "valid":
            body["certificate"] = self.st.url(f"/cert/{order_id}")
        return body

    def post_authz(self, authz_id):
        payload, _ = self.read_jws()
        if payload is not None:
            raise AcmeError(400, "malformed", "authorizations are read with POST-as-GET")
        mode = self.st.mode()
        with self.st.lock:
            authz = self.st.authzs.get(authz_id)
            if authz is None:
                raise AcmeError(404, "malformed", f"no authorization {authz_id}")
            token = mode.get("token", authz["token"])
            challenges = []
            for ctype in ("http-01", "dns-01"):
                cstatus = "valid" if authz["answered"] == ctype else "pending"
                challenges.append({"type": ctype, "url": self.st.url(f"/chall/{authz_id}/{ctype}"),
                                   "token": token, "status": cstatus})
            body = {"status": authz["status"], "expires": rfc3339(time.time() + 7 * 86400),
                    "identifier": authz["identifier"], "challenges": challenges}
            if authz.get("wildcard"):
                body["wildcard"] = True
        self.send(200, body)

    def post_challenge(self, authz_id, ctype):
        payload, _ = self.read_jws()
        mode = self.st.mode()
        with self.st.lock:
            authz = self.st.authzs.get(authz_id)
            if authz is None or ctype not in ("http-01", "dns-01"):
                raise AcmeError(404, "malformed", f"no challenge {authz_id}/{ctype}")
            if payload is not None:  # {} answers it; POST-as-GET only reads it
                authz["status"] = "valid"
                authz["answered"] = ctype
            body = {"type": ctype, "url": self.st.url(f"/chall/{authz_id}/{ctype}"),
                    "token": mode.get("token", authz["token"]),
                    "status": "processing" if payload is not None else
                    ("valid" if authz["answered"] == ctype else "pending")}
        self.send(200, body, headers={"Link": f'<{self.st.url(f"/authz/{authz_id}")}>;rel="up"'})

    def post_finalize(self, order_id):
        payload, _ = self.read_jws()
        with self.st.lock:
            order = self.st.orders.get(order_id)
            if order is None:
                raise AcmeError(404, "malformed", f"no order {order_id}")
            self.order_json(order_id)  # brings pending -> ready when every authorization is valid
            if order["status"] != "ready":
                raise AcmeError(403, "orderNotReady", f"the order is {order['status']}, not ready")
            if not isinstance(payload, dict) or not isinstance(payload.get("csr"), str):
                raise AcmeError(400, "malformed", "finalize needs {\"csr\": base64url DER}")
            try:
                der = b64url_decode(payload["csr"])
            except (ValueError, binascii.Error) as e:
                raise AcmeError(400, "badCSR", f"the CSR is not base64url: {e}")
            order["chain"] = self.sign_csr(order_id, der, self.st.mode())
            order["status"] = "processing"
            body = self.order_json(order_id)
        self.send(200, body, headers={"Location": self.st.url(f"/order/{order_id}")})

    def sign_csr(self, order_id, der, mode):
        work = os.path.join(self.st.args.state_dir, "orders", order_id)
        os.makedirs(work, exist_ok=True)
        csr_der, csr_pem, cert_pem = (os.path.join(work, n) for n in ("csr.der", "csr.pem", "cert.pem"))
        with open(csr_der, "wb") as f:
            f.write(der)
        args = self.st.args
        sign = ["openssl", "x509", "-req", "-in", csr_pem, "-CA", args.issuer_cert, "-CAkey", args.issuer_key,
                "-set_serial", "0x" + secrets.token_hex(12), "-days", "7", "-out", cert_pem]
        commands = [["openssl", "req", "-inform", "DER", "-in", csr_der, "-out", csr_pem]]
        if isinstance(mode.get("cert_extra_san"), str):
            # The CSR's names plus one: an extension file replaces -copy_extensions.
            order = self.st.orders[order_id]
            names = [i["value"] for i in order["identifiers"]] + [mode["cert_extra_san"]]
            ext = os.path.join(work, "san.ext")
            with open(ext, "w", encoding="utf-8") as f:
                f.write("subjectAltName=" + ",".join("DNS:" + n for n in names) + "\n")
            sign += ["-extfile", ext]
        else:
            sign += ["-copy_extensions", "copy"]
        if mode.get("cert_other_key") is True:
            other_key, other_pub = os.path.join(work, "other.key"), os.path.join(work, "other.pub")
            commands += [["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                          "-out", other_key],
                         ["openssl", "pkey", "-in", other_key, "-pubout", "-out", other_pub]]
            sign += ["-force_pubkey", other_pub]
        commands.append(sign)
        for cmd in commands:
            run = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=work)
            if run.returncode != 0:
                self.st.log(f"{' '.join(cmd)} failed: {run.stderr.strip()}")
                raise AcmeError(400, "badCSR", f"the CSR could not be signed: {run.stderr.strip()[:300]}")
        run = subprocess.run(["openssl", "x509", "-in", cert_pem, "-noout", "-serial", "-ext", "authorityKeyIdentifier"],
                             stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=work)
        try:
            if run.returncode != 0:
                raise ValueError(run.stderr.strip())
            cert_id = cert_id_from_openssl(run.stdout)
        except ValueError as e:
            # Not fatal: tests that do not look at ARI still get their certificate; one that does
            # finds no certid.txt (hostile_cert_id says so) and server.log says why.
            self.st.log(f"no CertID for order {order_id}: {e}")
        else:
            with open(os.path.join(work, "certid.txt"), "w", encoding="ascii") as f:
                f.write(cert_id + "\n")
            self.st.cert_ids.add(cert_id)  # the caller holds st.lock
        with open(cert_pem, encoding="ascii") as f:
            leaf = f.read()
        with open(args.issuer_cert, encoding="ascii") as f:
            issuer = f.read()
        chain = leaf if leaf.endswith("\n") else leaf + "\n"
        chain += issuer
        with open(os.path.join(work, "chain.pem"), "w", encoding="ascii") as f:
            f.write(chain)
        return chain

    def post_order(self, order_id):
        payload, _ = self.read_jws()
        if payload is not None:
            raise AcmeError(400, "malformed", "orders are read with POST-as-GET")
        mode = self.st.mode()
        headers = {}
        with self.st.lock:
            order = self.st.orders.get(order_id)
            if order is None:
                raise AcmeError(404, "malformed", f"no order {order_id}")
            if order["status"] == "processing":
                retry = mode.get("order_retry_after")
                if retry is None:
                    order["status"] = "valid"
                else:
                    retry = str(retry)
                    now = time.time()
                    if order["ready_at"] is None or order["ready_at"][0] != retry:
                        order["ready_at"] = (retry, self.ready_time(retry, now))
                    ready_at = order["ready_at"][1]
                    if ready_at is not None and now >= ready_at:
                        order["status"] = "valid"
                    else:
                        headers["Retry-After"] = retry
            body = self.order_json(order_id)
        self.send(200, body, headers=headers)

    @staticmethod
    def ready_time(value, now):
        """When an order polled with `Retry-After: value` is done; None for never (unparseable)."""
        if value.isdigit():
            return now + int(value)
        try:
            return email.utils.parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None

    def post_cert(self, order_id):
        self.read_jws()
        with self.st.lock:
            order = self.st.orders.get(order_id)
            chain = order["chain"] if order and order["status"] == "valid" else None
        if chain is None:
            raise AcmeError(404, "malformed", f"no certificate {order_id}")
        self.send(200, chain, content_type="application/pem-certificate-chain")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, state, tls):
        self.state, self.tls = state, tls
        super().__init__(("127.0.0.1", state.args.port), Handler)

    def finish_request(self, request, client_address):
        # The TLS handshake happens here, in the connection's own thread, so a client that
        # stalls it cannot block accept() for everyone else.
        request.settimeout(30)
        try:
            conn = self.tls.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as e:
            self.state.log(f"{client_address[0]}:{client_address[1]} TLS handshake failed: {e}")
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        self.state.log(f"{client_address}: {traceback.format_exc()}")


def watch_owner(pid, server):
    """Exit when the test shell that started us is gone (it may die without cleaning up)."""
    while True:
        time.sleep(1)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            server.state.log(f"owner {pid} is gone; exiting")
            os._exit(0)
        except PermissionError:
            pass


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert", required=True, help="TLS certificate for 127.0.0.1 (PEM)")
    p.add_argument("--key", required=True, help="its key (PEM)")
    p.add_argument("--issuer-cert", required=True, help="CA certificate that signs issued certificates")
    p.add_argument("--issuer-key", required=True)
    p.add_argument("--state-dir", required=True, help="request log, server log, mode.json, orders/")
    p.add_argument("--owner-pid", type=int, help="exit once this process is gone")
    args = p.parse_args()
    args.state_dir = os.path.abspath(args.state_dir)
    args.issuer_cert = os.path.abspath(args.issuer_cert)
    args.issuer_key = os.path.abspath(args.issuer_key)
    os.makedirs(args.state_dir, exist_ok=True)

    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(args.cert, args.key)
    state = State(args)
    server = Server(state, tls)
    if args.owner_pid:
        threading.Thread(target=watch_owner, args=(args.owner_pid, server), daemon=True).start()
    state.log(f"listening on {state.base}")
    with open(os.path.join(args.state_dir, "ready"), "w", encoding="utf-8") as f:
        f.write(f"{state.base}/dir\n")
    print("ready", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
