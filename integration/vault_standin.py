#!/usr/bin/env python3
"""A stand-in for HashiCorp Vault's HTTP API, for runguard's tests. It is NOT Vault.

There is no Vault binary where the tests run, so this file answers the small part of Vault's HTTP
API the runguard Vault client uses, written from Vault's API documentation as summarised (with
sources) in reference/hardening-and-vault.md PART B: the general rules and the response envelope
(api-docs/index.mdx; sdk/logical/translate_response.go, response_util.go), B6 KV v2 read
(kv-v2.mdx, vault-plugin-secrets-kv path_data.go), B7 KV v1 and dynamic database credentials
(kv-v1.mdx, databases/index.mdx), B8 token/AppRole/Kubernetes auth (auth/token.mdx,
auth/approle.mdx, auth/kubernetes.mdx) and B9 leases (system/leases.mdx). Where the docs are
silent the choices below are ours, and a real Vault may differ in detail.

Vault endpoints (all under /v1/; PUT and POST are synonyms):
  GET  <kv2 mount>/data/<path>[?version=N]     KV v2 read; deleted/destroyed version -> 404 + envelope
  GET  <kv1 mount>/<path>                      KV v1 read (lease_duration 2764800, advisory)
  GET  <dynamic mount>/creds/<role>            new credentials + a renewable lease each read
  PUT  sys/leases/renew | revoke | lookup      body {"lease_id", "increment"}; revoke -> 204
  POST auth/<approle mount>/login              {"role_id","secret_id"}  (no token needed)
  POST auth/<kubernetes mount>/login           {"role","jwt"}           (no token needed)
  GET  auth/token/lookup-self, POST auth/token/renew-self, POST auth/token/revoke-self (-> 204,
       revokes every lease the token created, as Vault revokes a token's child leases)
  GET  sys/health, sys/seal-status             no token, no namespace
Anything else: 404 "unsupported path" (Vault's wrapped "1 error occurred" form); a known path with
the wrong method: 405. Success bodies are the full envelope {request_id, lease_id, renewable,
lease_duration, data, wrap_info, warnings, auth, mount_type}; errors are {"errors": [...]}.

Authorisation: every token carries path globs (fnmatch against the path after /v1/, e.g.
"kv/data/app/*"); no match -> 403 "permission denied". Like Vault's built-in "default" policy,
every token may also use auth/token/{lookup,renew,revoke}-self, sys/leases/renew and
sys/leases/lookup. A missing, unknown, revoked or expired token -> 403 ["permission denied",
"invalid token"]. Tokens (X-Vault-Token or Authorization: Bearer) are "hvs." + random. Times are
real: tokens and leases expire at their TTL; an expiring token takes its leases with it.

Control API (not Vault's: under /__standin/, no auth, JSON in and out, PUT = POST, errors 400
{"errors": [...]}). Each endpoint is also a VaultStandin method taking the JSON fields as keyword
arguments (in brackets):
  POST kv2 {"mount","path","data"} -> {"version": N}                                 [put_kv2]
  POST kv2/delete, kv2/destroy {"mount","path","versions":[N]} (latest when absent)
                                                                          [delete_kv2, destroy_kv2]
  POST kv1 {"mount","path","data"}                                                   [put_kv1]
  POST dynamic {"mount","role","ttl","max_ttl"} (seconds; max_ttl default 768h) [add_dynamic_role]
  POST token {"token","paths","policies","ttl" (0 = never expires),"renewable"}
       -> {"token","accessor"} (token generated when absent)                       [add_token]
  POST approle {"mount":"approle","role_id","secret_id","paths","ttl","policies"}  [add_approle]
  POST kubernetes {"mount":"kubernetes","role","jwt","namespace","service_account","paths","ttl",
       "policies"}: login succeeds only with exactly this jwt                   [add_kubernetes]
  POST namespace {"require": "team-a/" | null}: when set, a /v1 request whose X-Vault-Namespace
       differs gets 403 (a path prefixed with the namespace is accepted too); when unset, any
       namespace header gets 404                                                 [set_namespace]
  POST fault {"sealed": bool} | {"status": N, "errors": [..]} | {"delay_ms": N} | {"garbage": true}
       | {"close": true} | {"clear": true} (drops every fault, unseals). "path" (glob against the
       path after /v1/, default *, so sys/health too) and "count" (default unlimited) apply to
       each kind. Sealed: 503 {"errors":["Vault is sealed"]} except sys/health (503 + its body)
       and sys/seal-status. Default status messages: 429 'request path "<path>": rate limit
       quota exceeded' (+ Retry-After: 1), 500 "internal error", 503 "Vault is sealed", others
       the HTTP reason phrase in lower case. Rules run in order before anything else: delays
       add up, the first status/garbage/close/body rule answers                         [fault]
  POST fault/body {"body": "<text>", "status": 200, "content_type": "application/json",
       "repeat": 1, "path", "count"}: answer with exactly this body (repeated `repeat` times:
       a huge body without a huge request) — truncated or wrong-shaped JSON, an HTML error
       page, anything                                                            [fault_body]
  GET  requests -> [{"method","path" (as sent: "/v1/kv/data/a"),"query" (raw, no "?"),"headers"
       (lowercased names),"body" (JSON, else text, else null),"status" (null: closed)}] [requests]
  POST requests/clear                                                          [clear_requests]
  GET  leases -> {"active":[{"lease_id","token_accessor","renewals","expire_time","ttl"}],
       "revoked":[ids],"expired":[ids]}                                                [leases]
  GET  tokens -> {"active":[accessors],"revoked":[..],"expired":[..]}                  [tokens]
  POST reset: forget every secret, token, lease, fault and request                      [reset]

Usage: `vault_standin.py --port-file FILE [--tls-cert CERT --tls-key KEY]` binds 127.0.0.1 on an
ephemeral port, writes "PORT\\n" to FILE atomically once listening and serves until SIGTERM or
SIGINT (exit 0). In-process: `s = VaultStandin().start(); s.address; ...; s.stop()`.
"""

import argparse
import copy
import datetime
import fnmatch
import http
import http.server
import json
import os
import random
import re
import signal
import socketserver
import ssl
import string
import sys
import threading
import time
import urllib.parse
import uuid

VERSION = "1.15.6"
SOCKET_TIMEOUT = 10  # seconds; a silent client never holds a thread longer than this
MAX_BODY = 32 << 20  # Vault's default max_request_size
KV1_TTL = 2764800  # 768h, the advisory lease_duration of KV v1 reads
UNSUPPORTED_PATH = "1 error occurred:\n\t* unsupported path\n\n"
UNSUPPORTED_OP = "1 error occurred:\n\t* unsupported operation\n\n"
DENIED = "1 error occurred:\n\t* permission denied\n\n"
# Paths Vault's built-in "default" policy grants every token.
DEFAULT_POLICY_PATHS = ("auth/token/lookup-self", "auth/token/renew-self", "auth/token/revoke-self",
                        "sys/leases/renew", "sys/leases/lookup")
GARBAGE = b"<html><body><h1>502 Bad Gateway</h1>this is not Vault</body></html>\n"
CLOSE = "close"  # a reply meaning: drop the connection without answering

_rng = random.SystemRandom()


def _rand(n, alphabet=string.ascii_letters + string.digits):
    return "".join(_rng.choice(alphabet) for _ in range(n))


def rfc3339(t):
    """RFC 3339 UTC with fractional seconds, as Vault prints times."""
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?)(ns|us|µs|ms|s|m|h|d)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(value):
    """A TTL or increment as Vault accepts it (3600, "3600", "1h30m") in whole seconds."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise ValueError("invalid duration %r" % (value,))
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("negative duration %r" % (value,))
        return int(value)
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise ValueError("invalid duration %r" % (value,))
    return int(sum(float(a) * _UNIT[b] for a, b in parts))


def _go_duration(s):
    """Go's time.Duration.String() for whole seconds, as Vault's warnings print TTLs."""
    h, rest = divmod(int(s), 3600)
    m, sec = divmod(rest, 60)
    return "%dh%dm%ds" % (h, m, sec) if h else ("%dm%ds" % (m, sec) if m else "%ds" % sec)


def _json(status, obj, headers=None):
    return (status, (json.dumps(obj) + "\n").encode(), "application/json", headers or {})


def _errors(status, *messages, headers=None):
    """Vault's error body (sdk/logical/response_util.go RespondError)."""
    return _json(status, {"errors": list(messages)}, headers)


_NO_CONTENT = (204, None, None, {})


def envelope(data=None, *, auth=None, lease_id="", renewable=False, lease_duration=0, mount_type="",
             warnings=None):
    """logical.HTTPResponse: no field is omitempty, so every key is always present."""
    return {"request_id": str(uuid.uuid4()), "lease_id": lease_id, "renewable": renewable,
            "lease_duration": lease_duration, "data": data, "wrap_info": None, "warnings": warnings,
            "auth": auth, "mount_type": mount_type}


def _mount(mount):
    mount = str(mount or "").strip("/")
    if not mount:
        raise ValueError("mount must not be empty")
    return mount


def _paths(paths):
    if isinstance(paths, str) or not all(isinstance(p, str) for p in paths):
        raise ValueError("paths must be a list of globs")
    return list(paths)


class VaultStandin:
    """The stand-in: state, Vault semantics and the control operations, behind one lock.

    The HTTP handler only moves bytes; everything it answers comes from handle(), so the Python
    methods and the /__standin/ endpoints are the same code."""

    def __init__(self, tls_cert=None, tls_key=None, verbose=False):
        if bool(tls_cert) != bool(tls_key):
            raise ValueError("tls_cert and tls_key go together")
        self.tls_cert, self.tls_key, self.verbose = tls_cert, tls_key, verbose
        self.port = None
        self._server = self._thread = None
        self._lock = threading.RLock()
        self.reset()

    # ---- lifecycle -------------------------------------------------------------------------

    @property
    def address(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls_cert else "http", self.port)

    def start(self):
        """Listen on 127.0.0.1:<ephemeral> and serve from a background thread; returns self."""
        ctx = None
        if self.tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.tls_cert, self.tls_key)
        self._server = _Server(self, ctx)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="vault-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- control operations (also /__standin/) ------------------------------------------------

    def reset(self):
        """Forget every secret, token, lease, fault and recorded request."""
        with self._lock:
            self._mounts = {}  # mount -> "kv2" | "kv1" | "dynamic"
            self._auth_mounts = {}  # auth mount -> "approle" | "kubernetes"
            self._kv2 = {}  # (mount, path) -> [version dicts]; version N at index N-1
            self._kv1 = {}  # (mount, path) -> data
            self._roles = {}  # (mount, role) -> {"ttl", "max_ttl"}
            self._approles = {}  # (mount, role_id) -> config
            self._k8s = {}  # (mount, role) -> config
            self._tokens = {}  # token -> token dict
            self._leases = {}  # lease id -> lease dict
            self._ended = {"tokens": {"revoked": [], "expired": []}, "leases": {"revoked": [], "expired": []}}
            self._namespace = None
            self._sealed = False
            self._faults = []
            self._requests = []

    def _claim(self, mount, kind):
        mount = _mount(mount)
        if self._mounts.setdefault(mount, kind) != kind:
            raise ValueError("mount %r is already a %s mount" % (mount, self._mounts[mount]))
        return mount

    def put_kv2(self, mount, path, data):
        """Write a new version of a KV v2 secret; returns its version number."""
        if not isinstance(data, dict):
            raise ValueError("data must be an object")
        with self._lock:
            versions = self._kv2.setdefault((self._claim(mount, "kv2"), str(path).strip("/")), [])
            versions.append({"data": copy.deepcopy(data), "created": time.time(), "deleted": None,
                             "destroyed": False})
            return len(versions)

    def _kv2_versions(self, mount, path, versions):
        entries = self._kv2.get((_mount(mount), str(path).strip("/")))
        if not entries:
            raise ValueError("no such KV v2 secret %s/%s" % (mount, path))
        wanted = versions if versions else [len(entries)]
        if not all(isinstance(v, int) and 1 <= v <= len(entries) for v in wanted):
            raise ValueError("no such version in %r" % (wanted,))
        return [entries[v - 1] for v in wanted]

    def delete_kv2(self, mount, path, versions=None):
        """Soft-delete versions (the latest when none are given): reads answer 404 + metadata."""
        with self._lock:
            for entry in self._kv2_versions(mount, path, versions):
                entry["deleted"] = entry["deleted"] or time.time()

    def destroy_kv2(self, mount, path, versions=None):
        """Destroy versions: the data is gone, reads answer 404 with destroyed: true."""
        with self._lock:
            for entry in self._kv2_versions(mount, path, versions):
                entry["destroyed"], entry["data"] = True, None

    def put_kv1(self, mount, path, data):
        if not isinstance(data, dict):
            raise ValueError("data must be an object")
        with self._lock:
            self._kv1[(self._claim(mount, "kv1"), str(path).strip("/"))] = copy.deepcopy(data)

    def add_dynamic_role(self, mount, role, ttl, max_ttl=None):
        """A database-style role: each read of <mount>/creds/<role> makes new credentials."""
        ttl, max_ttl = seconds(ttl), seconds(max_ttl) or KV1_TTL
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        with self._lock:
            self._roles[(self._claim(mount, "dynamic"), str(role))] = {"ttl": min(ttl, max_ttl), "max_ttl": max_ttl}

    def add_token(self, token=None, paths=(), policies=None, ttl=0, renewable=True):
        """A token allowed the given path globs; ttl 0 never expires. Returns {"token","accessor"}."""
        with self._lock:
            if token in self._tokens:
                raise ValueError("token already exists")
            tok = self._new_token(_paths(paths), policies, seconds(ttl), bool(renewable), token=token)
            return {"token": tok["id"], "accessor": tok["accessor"]}

    def add_approle(self, role_id, secret_id, paths=(), ttl=3600, mount="approle", policies=None):
        with self._lock:
            self._auth(mount, "approle")
            self._approles[(_mount(mount), str(role_id))] = {
                "secret_id": secret_id, "paths": _paths(paths), "ttl": seconds(ttl), "policies": policies,
                "entity_id": str(uuid.uuid4())}

    def add_kubernetes(self, role, jwt, namespace="default", service_account="default", paths=(), ttl=3600,
                       mount="kubernetes", policies=None):
        with self._lock:
            self._auth(mount, "kubernetes")
            self._k8s[(_mount(mount), str(role))] = {
                "jwt": jwt, "namespace": namespace, "service_account": service_account, "paths": _paths(paths),
                "ttl": seconds(ttl), "policies": policies, "uid": str(uuid.uuid4()), "entity_id": str(uuid.uuid4())}

    def _auth(self, mount, kind):
        mount = _mount(mount)
        if mount == "token" or self._auth_mounts.setdefault(mount, kind) != kind:
            raise ValueError("auth mount %r is already in use" % mount)

    def set_namespace(self, require=None):
        with self._lock:
            self._namespace = str(require).strip("/") if require else None

    def fault(self, sealed=None, status=None, path="*", count=None, errors=None, delay_ms=0, garbage=False,
              close=False, clear=False):
        """Inject faults into /v1 answers; see the module docstring."""
        if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
            raise ValueError("status must be an HTTP error status")
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError("count must be a positive integer")
        if errors is not None and (isinstance(errors, str) or not all(isinstance(e, str) for e in errors)):
            raise ValueError("errors must be a list of strings")
        delay_ms = delay_ms or 0
        if isinstance(delay_ms, bool) or not isinstance(delay_ms, (int, float)) or delay_ms < 0:
            raise ValueError("delay_ms must be a non-negative number")
        with self._lock:
            if clear:
                self._faults, self._sealed = [], False
            if sealed is not None:
                self._sealed = bool(sealed)
            if status or delay_ms or garbage or close:
                self._faults.append({"status": status, "path": str(path), "count": count, "errors": errors,
                                     "delay_ms": delay_ms, "garbage": bool(garbage), "close": bool(close)})

    def fault_body(self, body, status=200, content_type="application/json", repeat=1, path="*", count=None):
        """Inject a raw answer: `body` (str or bytes, repeated `repeat` times) with `status`."""
        if not isinstance(status, int) or not 200 <= status <= 599:
            raise ValueError("status must be an HTTP status")
        if not isinstance(repeat, int) or repeat < 1 or repeat * len(body) > 64 << 20:
            raise ValueError("repeat must be a positive integer, the body at most 64 MiB")
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError("count must be a positive integer")
        data = (body.encode() if isinstance(body, str) else bytes(body)) * repeat
        with self._lock:
            self._faults.append({"status": None, "path": str(path), "count": count, "errors": None, "delay_ms": 0,
                                 "garbage": False, "close": False, "body": (status, data, str(content_type))})

    def requests(self):
        with self._lock:
            return copy.deepcopy(self._requests)

    def clear_requests(self):
        with self._lock:
            self._requests = []

    def leases(self):
        with self._lock:
            now = time.time()
            self._sweep(now)
            active = [{"lease_id": l["id"], "token_accessor": l["token_accessor"], "renewals": l["renewals"],
                       "expire_time": rfc3339(l["expire"]), "ttl": max(0, int(l["expire"] - now))}
                      for l in self._leases.values() if l["state"] == "active"]
            return dict(active=active, **copy.deepcopy(self._ended["leases"]))

    def tokens(self):
        with self._lock:
            self._sweep(time.time())
            active = [t["accessor"] for t in self._tokens.values() if t["state"] == "active"]
            return dict(active=active, **copy.deepcopy(self._ended["tokens"]))

    # ---- tokens and leases (lock held) -----------------------------------------------------------

    def _new_token(self, paths, policies, ttl, renewable, token=None, metadata=None, entity_id="",
                   display_name="token", path="auth/token/create"):
        now = time.time()
        tok = {"id": token or "hvs." + _rand(24), "accessor": _rand(24), "paths": paths,
               "policies": sorted(set(policies or []) | {"default"}), "ttl": ttl, "renewable": renewable,
               "issue": now, "expire": now + ttl if ttl else None, "state": "active", "metadata": metadata,
               "entity_id": entity_id, "display_name": display_name, "path": path}
        self._tokens[tok["id"]] = tok
        return tok

    def _end_token(self, tok, state):
        tok["state"] = state
        self._ended["tokens"][state].append(tok["accessor"])
        for lease in self._leases.values():  # Vault revokes a token's leases with it
            if lease["token_accessor"] == tok["accessor"] and lease["state"] == "active":
                self._end_lease(lease, state)

    def _end_lease(self, lease, state):
        lease["state"] = state
        self._ended["leases"][state].append(lease["id"])

    def _sweep(self, now):
        """Expire tokens (and their leases) and leases whose time has come."""
        for tok in self._tokens.values():
            if tok["state"] == "active" and tok["expire"] is not None and now >= tok["expire"]:
                self._end_token(tok, "expired")
        for lease in self._leases.values():
            if lease["state"] == "active" and now >= lease["expire"]:
                self._end_lease(lease, "expired")

    def _allowed(self, tok, vpath):
        return vpath in DEFAULT_POLICY_PATHS or any(fnmatch.fnmatchcase(vpath, g) for g in tok["paths"])

    @staticmethod
    def _auth_block(tok, lease_duration):
        return {"client_token": tok["id"], "accessor": tok["accessor"], "policies": list(tok["policies"]),
                "token_policies": list(tok["policies"]), "identity_policies": None, "metadata": tok["metadata"],
                "lease_duration": lease_duration, "renewable": tok["renewable"], "entity_id": tok["entity_id"],
                "token_type": "service", "orphan": True, "mfa_requirement": None, "num_uses": 0}

    # ---- request handling ---------------------------------------------------------------------------

    def handle(self, method, target, headers, body):
        """Answer one request: (status, body bytes | None, content type, extra headers) or CLOSE.
        `headers` has lowercased names; `body` is bytes."""
        path, _, query = target.partition("?")
        if path.startswith("/__standin/"):
            return self._control(method, path[len("/__standin/"):], body)
        record = {"method": method, "path": path, "query": query, "headers": dict(headers),
                  "body": _record_body(body), "status": None}
        with self._lock:
            self._requests.append(record)
        reply = self._v1(method, path, query, headers, body)
        with self._lock:
            record["status"] = None if reply is CLOSE else reply[0]
        return reply

    def _take_fault(self, vpath):
        """The total delay and the first answering fault (close/garbage/status) for this path."""
        delay, action = 0.0, None
        with self._lock:
            for rule in list(self._faults):
                if not fnmatch.fnmatchcase(vpath, rule["path"]):
                    continue
                if rule["count"] is not None:
                    rule["count"] -= 1
                    if rule["count"] <= 0:
                        self._faults.remove(rule)
                delay += rule["delay_ms"] / 1000.0
                if rule["close"] or rule["garbage"] or rule["status"] or rule.get("body"):
                    action = rule
                    break
        return delay, action

    @staticmethod
    def _fault_reply(rule, vpath):
        if rule["close"]:
            return CLOSE
        if rule.get("body"):
            status, data, ctype = rule["body"]
            return (status, data, ctype, {})
        if rule["garbage"]:
            return (200, GARBAGE, "text/html", {})
        status = rule["status"]
        default = {429: 'request path "%s": rate limit quota exceeded' % vpath, 500: "internal error",
                   503: "Vault is sealed"}.get(status)
        if default is None:
            try:
                default = http.HTTPStatus(status).phrase.lower()
            except ValueError:
                default = "error"
        return _errors(status, *(rule["errors"] or [default]), headers={"Retry-After": "1"} if status == 429 else None)

    def _v1(self, method, path, query, headers, body):
        if not path.startswith("/v1/"):
            return _errors(404, UNSUPPORTED_PATH)
        vpath = urllib.parse.unquote(path[len("/v1/"):])
        delay, rule = self._take_fault(vpath)
        if delay:
            time.sleep(delay)  # outside the lock: other requests go on
        if rule is not None:
            return self._fault_reply(rule, vpath)
        with self._lock:
            now = time.time()
            self._sweep(now)
            if vpath in ("sys/health", "sys/seal-status"):
                return self._health(vpath, method, urllib.parse.parse_qs(query))
            if self._sealed:
                return _errors(503, "Vault is sealed")
            namespace = headers.get("x-vault-namespace", "").strip("/")
            if self._namespace is not None:
                if not namespace and vpath.startswith(self._namespace + "/"):
                    vpath = vpath[len(self._namespace) + 1:]  # namespace as a path prefix
                elif namespace != self._namespace:
                    return _errors(403, DENIED)
            elif namespace:
                return _errors(404, UNSUPPORTED_PATH)  # no such namespace
            data = {}
            if method in ("PUT", "POST") and body.strip():
                try:
                    data = json.loads(body)
                except ValueError:
                    return _errors(400, "error parsing JSON")
                if not isinstance(data, dict):
                    return _errors(400, "error parsing JSON")
            login = re.fullmatch(r"auth/(.+)/login", vpath)
            if login and login.group(1) in self._auth_mounts:
                if method not in ("PUT", "POST"):
                    return _errors(405, UNSUPPORTED_OP)
                mount = login.group(1)
                if self._auth_mounts[mount] == "approle":
                    return self._login_approle(mount, data)
                return self._login_kubernetes(mount, data)
            token = headers.get("x-vault-token", "")
            if not token and headers.get("authorization", "").lower().startswith("bearer "):
                token = headers["authorization"][len("bearer "):].strip()
            tok = self._tokens.get(token) if token else None
            if tok is None or tok["state"] != "active":
                return _errors(403, "permission denied", "invalid token")
            if not self._allowed(tok, vpath):
                return _errors(403, DENIED)
            target = self._resolve(vpath)
            if target is None:
                return _errors(404, UNSUPPORTED_PATH)
            op, handler, args = target
            got = {"GET": "list" if "list=true" in query.split("&") else "read", "PUT": "update",
                   "POST": "update", "LIST": "list", "DELETE": "delete"}.get(method)
            if got != op:
                return _errors(405, UNSUPPORTED_OP)
            return handler(*args, query=urllib.parse.parse_qs(query), data=data, tok=tok, now=now)

    def _resolve(self, vpath):
        """(operation, handler, args) for a path, or None when nothing serves it."""
        fixed = {"auth/token/lookup-self": ("read", self._lookup_self),
                 "auth/token/renew-self": ("update", self._renew_self),
                 "auth/token/revoke-self": ("update", self._revoke_self),
                 "sys/leases/lookup": ("update", self._lease_lookup)}
        if vpath in fixed:
            return fixed[vpath] + ((),)
        m = re.fullmatch(r"sys/leases/(renew|revoke)(?:/(.+))?", vpath)
        if m:
            return ("update", self._lease_renew if m.group(1) == "renew" else self._lease_revoke, (m.group(2),))
        mounts = [mt for mt in self._mounts if vpath.startswith(mt + "/")]
        if not mounts:
            return None
        mount = max(mounts, key=len)
        rest, kind = vpath[len(mount) + 1:], self._mounts[mount]
        if kind == "kv2" and re.fullmatch(r"data/.*[^/]", rest):
            return ("read", self._kv2_read, (mount, rest[len("data/"):]))
        if kind == "kv1" and rest and not rest.endswith("/"):
            return ("read", self._kv1_read, (mount, rest))
        if kind == "dynamic" and re.fullmatch(r"creds/[^/]+", rest):
            return ("read", self._creds, (mount, rest[len("creds/"):]))
        return None

    # ---- Vault handlers (lock held) ----------------------------------------------------------------

    def _health(self, vpath, method, query):
        if method not in ("GET", "HEAD"):
            return _errors(405, UNSUPPORTED_OP)
        sealed = self._sealed
        if vpath == "sys/seal-status":
            return _json(200, {"type": "shamir", "initialized": True, "sealed": sealed, "t": 1, "n": 1,
                               "progress": 0, "nonce": "", "version": VERSION, "build_date": "2024-01-01T00:00:00Z",
                               "migration": False, "recovery_seal": False, "storage_type": "inmem",
                               **({} if sealed else {"cluster_name": "vault-standin", "cluster_id": _CLUSTER_ID})})
        body = {"initialized": True, "sealed": sealed, "standby": sealed, "performance_standby": False,
                "replication_performance_mode": "unknown" if sealed else "disabled",
                "replication_dr_mode": "unknown" if sealed else "disabled",
                "server_time_utc": int(time.time()), "version": VERSION, "enterprise": False}
        if not sealed:
            body.update(cluster_name="vault-standin", cluster_id=_CLUSTER_ID)
        code = query.get("sealedcode" if sealed else "activecode", ["503" if sealed else "200"])[-1]
        return _json(int(code) if code.isdigit() else (503 if sealed else 200), body)

    def _kv2_read(self, mount, path, query, **_):
        raw = query.get("version", ["0"])[-1]
        try:
            version = int(raw)
        except ValueError:
            return _errors(400, 'error converting input %s for field "version"' % raw)
        versions = self._kv2.get((mount, path))
        if not versions or version < 0 or version > len(versions):
            return _errors(404)
        version = version or len(versions)
        entry = versions[version - 1]
        metadata = {"created_time": rfc3339(entry["created"]), "custom_metadata": None,
                    "deletion_time": rfc3339(entry["deleted"]) if entry["deleted"] else "",
                    "destroyed": entry["destroyed"], "version": version}
        if entry["deleted"] or entry["destroyed"]:  # path_data.go: 404 carrying the metadata
            return _json(404, envelope({"data": None, "metadata": metadata}, mount_type="kv"))
        return _json(200, envelope({"data": copy.deepcopy(entry["data"]), "metadata": metadata}, mount_type="kv"))

    def _kv1_read(self, mount, path, **_):
        data = self._kv1.get((mount, path))
        if data is None:
            return _errors(404)
        try:
            ttl = seconds(data.get("ttl")) or KV1_TTL
        except ValueError:
            ttl = KV1_TTL
        return _json(200, envelope(copy.deepcopy(data), lease_duration=ttl, mount_type="kv"))

    def _creds(self, mount, role, tok, now, **_):
        cfg = self._roles.get((mount, role))
        if cfg is None:
            return _errors(400, "unknown role: %s" % role)
        lease = {"id": "%s/creds/%s/%s" % (mount, role, uuid.uuid4()), "token_accessor": tok["accessor"],
                 "issue": now, "expire": now + cfg["ttl"], "last_renewal": None, "ttl": cfg["ttl"],
                 "max_ttl": cfg["max_ttl"], "renewals": 0, "state": "active"}
        self._leases[lease["id"]] = lease
        data = {"username": "v-%s-%s" % (role, _rand(20, string.ascii_lowercase + string.digits)),
                "password": "A1a-" + _rand(20)}
        return _json(200, envelope(data, lease_id=lease["id"], renewable=True, lease_duration=cfg["ttl"],
                                   mount_type="database"))

    def _active_lease(self, lease_id):
        lease = self._leases.get(lease_id)
        return lease if lease is not None and lease["state"] == "active" else None

    def _lease_renew(self, suffix, data, now, **_):
        lease_id = data.get("lease_id") or suffix
        if not lease_id:
            return _errors(400, "lease_id must be specified")
        lease = self._active_lease(lease_id)
        if lease is None:
            return _errors(400, "lease not found")
        try:
            wanted = seconds(data.get("increment")) or lease["ttl"]
        except ValueError as e:
            return _errors(400, str(e))
        room = round(lease["issue"] + lease["max_ttl"] - now)
        warnings = None
        if wanted > room:
            warnings = ['TTL of "%s" exceeded the effective max_ttl of "%s"; TTL value is capped accordingly'
                        % (_go_duration(wanted), _go_duration(max(room, 0)))]
        duration = max(0, min(wanted, room))
        lease.update(expire=now + duration, last_renewal=now, renewals=lease["renewals"] + 1)
        return _json(200, envelope(None, lease_id=lease_id, renewable=True, lease_duration=duration,
                                   mount_type="system", warnings=warnings))

    def _lease_revoke(self, suffix, data, **_):
        lease_id = data.get("lease_id") or suffix
        if not lease_id:
            return _errors(400, "lease_id must be specified")
        lease = self._active_lease(lease_id)
        if lease is not None:
            self._end_lease(lease, "revoked")
        return _NO_CONTENT  # unknown leases too, as Vault does

    def _lease_lookup(self, data, now, **_):
        lease = self._active_lease(data.get("lease_id") or "")
        if lease is None:
            return _errors(400, "invalid lease")
        return _json(200, envelope({
            "id": lease["id"], "issue_time": rfc3339(lease["issue"]), "expire_time": rfc3339(lease["expire"]),
            "last_renewal_time": rfc3339(lease["last_renewal"]) if lease["last_renewal"] else None,
            "renewable": True, "ttl": max(0, int(lease["expire"] - now))}, mount_type="system"))

    def _lookup_self(self, tok, now, **_):
        return _json(200, envelope({
            "accessor": tok["accessor"], "creation_time": int(tok["issue"]), "creation_ttl": tok["ttl"],
            "display_name": tok["display_name"], "entity_id": tok["entity_id"],
            "expire_time": rfc3339(tok["expire"]) if tok["expire"] else None, "explicit_max_ttl": 0,
            "id": tok["id"], "identity_policies": None, "issue_time": rfc3339(tok["issue"]),
            "meta": tok["metadata"], "num_uses": 0, "orphan": True, "path": tok["path"],
            "policies": list(tok["policies"]), "renewable": tok["renewable"],
            "ttl": max(0, int(tok["expire"] - now)) if tok["expire"] else 0, "type": "service"}, mount_type="token"))

    def _renew_self(self, tok, data, now, **_):
        if not tok["renewable"]:
            return _errors(400, "lease is not renewable")
        try:
            ttl = seconds(data.get("increment")) or tok["ttl"]
        except ValueError as e:
            return _errors(400, str(e))
        if tok["expire"] is not None:
            tok["expire"] = now + ttl
        return _json(200, envelope(None, auth=self._auth_block(tok, ttl if tok["expire"] else 0), mount_type="token"))

    def _revoke_self(self, tok, **_):
        self._end_token(tok, "revoked")
        return _NO_CONTENT

    def _login_approle(self, mount, data):
        role_id = data.get("role_id")
        if not role_id:
            return _errors(400, "missing role_id")
        cfg = self._approles.get((mount, str(role_id)))
        if cfg is None or data.get("secret_id") != cfg["secret_id"]:
            return _errors(400, "invalid role or secret ID")
        tok = self._new_token(cfg["paths"], cfg["policies"], cfg["ttl"], True, entity_id=cfg["entity_id"],
                              display_name=mount, path="auth/%s/login" % mount)
        return _json(200, envelope(None, auth=self._auth_block(tok, cfg["ttl"]), mount_type="approle"))

    def _login_kubernetes(self, mount, data):
        role = data.get("role")
        if not role:
            return _errors(400, "missing role")
        cfg = self._k8s.get((mount, str(role)))
        if cfg is None:
            return _errors(400, 'invalid role name "%s"' % role)
        if not data.get("jwt"):
            return _errors(400, "missing jwt")
        if data["jwt"] != cfg["jwt"]:
            return _errors(403, "permission denied")
        metadata = {"role": role, "service_account_name": cfg["service_account"],
                    "service_account_namespace": cfg["namespace"], "service_account_secret_name": "",
                    "service_account_uid": cfg["uid"]}
        tok = self._new_token(cfg["paths"], cfg["policies"], cfg["ttl"], True, metadata=metadata,
                              entity_id=cfg["entity_id"], path="auth/%s/login" % mount,
                              display_name="%s-%s-%s" % (mount, cfg["namespace"], cfg["service_account"]))
        return _json(200, envelope(None, auth=self._auth_block(tok, cfg["ttl"]), mount_type="kubernetes"))

    # ---- the control endpoints -------------------------------------------------------------------

    def _control(self, method, name, body):
        method = "POST" if method == "PUT" else method
        route = CONTROL_ROUTES.get(name)
        if route is None:
            return _errors(404, "unknown control endpoint /__standin/%s" % name)
        want, attr, wrap = route
        if method != want:
            return _errors(405, "use %s for /__standin/%s" % (want, name))
        try:
            args = json.loads(body) if body.strip() else {}
            if not isinstance(args, dict):
                raise ValueError("the body must be a JSON object")
            result = getattr(self, attr)(**args)
        except Exception as e:  # noqa: BLE001 - a bad control call is the caller's to see
            return _errors(400, "%s: %s" % (type(e).__name__, e))
        return _json(200, {} if wrap is None else wrap(result))


_CLUSTER_ID = str(uuid.uuid4())

# control endpoint -> (method, VaultStandin method, how its result becomes the JSON answer)
CONTROL_ROUTES = {
    "kv2": ("POST", "put_kv2", lambda version: {"version": version}),
    "kv2/delete": ("POST", "delete_kv2", None),
    "kv2/destroy": ("POST", "destroy_kv2", None),
    "kv1": ("POST", "put_kv1", None),
    "dynamic": ("POST", "add_dynamic_role", None),
    "token": ("POST", "add_token", lambda r: r),
    "approle": ("POST", "add_approle", None),
    "kubernetes": ("POST", "add_kubernetes", None),
    "namespace": ("POST", "set_namespace", None),
    "fault": ("POST", "fault", None),
    "fault/body": ("POST", "fault_body", None),
    "requests": ("GET", "requests", lambda r: r),
    "requests/clear": ("POST", "clear_requests", None),
    "leases": ("GET", "leases", lambda r: r),
    "tokens": ("GET", "tokens", lambda r: r),
    "reset": ("POST", "reset", None),
}


def _record_body(body):
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


class _BodyError(Exception):
    pass


class _Handler(http.server.BaseHTTPRequestHandler):
    """Moves bytes between the socket and VaultStandin.handle(); HTTP/1.1 with keep-alive."""

    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT
    disable_nagle_algorithm = True  # headers and body go out in two writes: no delayed-ACK stalls
    server_version = "vault-standin"
    sys_version = ""

    def log_message(self, fmt, *args):
        if self.server.standin.verbose:
            sys.stderr.write("vault-standin: %s\n" % (fmt % args))

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024).strip():  # trailers
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise _BodyError()
                chunks.append(self.rfile.read(size))
                self.rfile.readline(8)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            raise _BodyError()
        return self.rfile.read(length) if length else b""

    def _dispatch(self):
        try:
            body = self._read_body()
        except (_BodyError, ValueError):
            self.close_connection = True
            return self._send(_errors(413, "request body too large or malformed"))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            reply = self.server.standin.handle(self.command, self.path, headers, body)
        except Exception as e:  # noqa: BLE001 - answer, never leave the client waiting
            reply = _errors(500, "vault stand-in bug: %s: %s" % (type(e).__name__, e))
        if reply is CLOSE:
            self.close_connection = True
            return None
        return self._send(reply)

    def _send(self, reply):
        status, body, ctype, extra = reply
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        elif status != 204:
            self.send_header("Content-Length", "0")
        self.send_header("Cache-Control", "no-store")
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = do_LIST = do_HEAD = do_PATCH = _dispatch


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() never waits for an idle keep-alive client

    def __init__(self, standin, ssl_context):
        self.standin, self.ssl_context = standin, ssl_context
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self):  # HTTPServer's would resolve a host name; loopback needs none
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request, client_address):
        """TLS handshakes happen here, in the connection's own thread, under the socket timeout,
        so a client that never finishes one holds up nobody else."""
        if self.ssl_context is None:
            return super().finish_request(request, client_address)
        request.settimeout(SOCKET_TIMEOUT)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return None
        try:
            return super().finish_request(tls, client_address)
        finally:
            tls.close()

    def handle_error(self, request, client_address):
        pass  # resets and timeouts are part of the fault tests


def main(argv=None):
    ap = argparse.ArgumentParser(description="Vault HTTP API stand-in for the runguard tests (not Vault).")
    ap.add_argument("--port-file", required=True, help="written with the port number once listening")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = ap.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    standin = VaultStandin(args.tls_cert, args.tls_key, verbose=args.verbose).start()
    tmp = "%s.tmp.%d" % (args.port_file, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % standin.port)
    os.replace(tmp, args.port_file)
    while not stop.is_set():
        stop.wait(0.5)
    standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
