"""Self-test of vault_standin.py, the Vault HTTP API stand-in the secrets tests run against.

The C++ client tests trust the stand-in to answer as Vault's documentation says
(reference/hardening-and-vault.md PART B), so this pins those shapes: the full envelope, KV v2
versions and the 404-with-envelope of a deleted version, KV v1, dynamic leases and their renewal
and revocation, logins, the ACL's 403 bodies, faults and the request record.

Every case runs four ways: in-process over HTTP (control through the Python methods), in-process
over TLS, and as a subprocess (`--port-file`) over HTTP and over TLS (control through the
/__standin/ endpoints, spelled out here because the other tests depend on those names). Nothing
needs root; TLS cases skip when the openssl CLI is missing.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from vault_standin import VaultStandin

HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN = os.path.join(HERE, "vault_standin.py")

ENVELOPE_KEYS = {"request_id", "lease_id", "renewable", "lease_duration", "data", "wrap_info", "warnings",
                 "auth", "mount_type"}
AUTH_KEYS = {"client_token", "accessor", "policies", "token_policies", "identity_policies", "metadata",
             "lease_duration", "renewable", "entity_id", "token_type", "orphan", "mfa_requirement", "num_uses"}
DENIED = "1 error occurred:\n\t* permission denied\n\n"
UNSUPPORTED = "1 error occurred:\n\t* unsupported path\n\n"

# The control API as the other tests use it: VaultStandin method -> /__standin/ endpoint.
POST_ENDPOINTS = {"put_kv2": "kv2", "delete_kv2": "kv2/delete", "destroy_kv2": "kv2/destroy", "put_kv1": "kv1",
                  "add_dynamic_role": "dynamic", "add_token": "token", "add_approle": "approle",
                  "add_kubernetes": "kubernetes", "set_namespace": "namespace", "fault": "fault",
                  "clear_requests": "requests/clear", "reset": "reset"}
GET_ENDPOINTS = {"requests": "requests", "leases": "leases", "tokens": "tokens"}

_tls = {}  # "cert", "key" once setUpModule made them


def setUpModule():
    if not shutil.which("openssl"):
        return
    tmp = tempfile.mkdtemp(prefix="rg-vault-standin-")
    _tls["dir"] = tmp
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    _tls.update(cert=cert, key=key)


def tearDownModule():
    if "dir" in _tls:
        shutil.rmtree(_tls["dir"], ignore_errors=True)


class Client:
    """urllib against one stand-in; answers (status, parsed JSON | raw bytes, headers)."""

    def __init__(self, address, cafile=None):
        self.address = address
        self.context = ssl.create_default_context(cafile=cafile) if cafile else None

    def call(self, method, path, body=None, token=None, headers=None):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request(self.address + path, data=data, method=method)
        if token:
            req.add_header("X-Vault-Token", token)
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            resp = urllib.request.urlopen(req, timeout=10, context=self.context)
        except urllib.error.HTTPError as e:
            resp = e
        with resp:
            raw, status, hdrs = resp.read(), resp.status, resp.headers
        if raw and hdrs.get("Content-Type") == "application/json":
            return status, json.loads(raw), hdrs
        return status, raw, hdrs


class HttpControl:
    """The /__standin/ endpoints behind the same method names as VaultStandin's."""

    def __init__(self, client):
        self.client = client

    def __getattr__(self, name):
        def operation(**fields):
            if name in GET_ENDPOINTS:
                status, body, _ = self.client.call("GET", "/__standin/" + GET_ENDPOINTS[name])
            else:
                status, body, _ = self.client.call("POST", "/__standin/" + POST_ENDPOINTS[name], fields)
            if status != 200:
                raise AssertionError("control %s: %s %r" % (name, status, body))
            if name == "put_kv2":
                return body["version"]
            return None if body == {} else body
        return operation


class StandinCases:
    """The cases; subclasses provide self.vault (Client) and self.ctl (control)."""

    def setUp(self):
        self.token = self.ctl.add_token(paths=["kv/data/app/*", "kv1/*", "database/creds/*", "sys/leases/*",
                                              "other/*"])["token"]

    def read(self, path, token=None, **kw):
        return self.vault.call("GET", "/v1/" + path, token=token or self.token, **kw)

    def assertEnvelope(self, body):
        self.assertEqual(set(body), ENVELOPE_KEYS)
        self.assertIsNone(body["wrap_info"])

    def test_kv2_versions(self):
        self.assertEqual(self.ctl.put_kv2(mount="kv", path="app/db", data={"password": "one"}), 1)
        self.assertEqual(self.ctl.put_kv2(mount="kv", path="app/db", data={"password": "two"}), 2)
        status, body, headers = self.read("kv/data/app/db")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertEnvelope(body)
        self.assertEqual((body["lease_id"], body["renewable"], body["lease_duration"], body["mount_type"]),
                         ("", False, 0, "kv"))
        self.assertIsNone(body["auth"])
        self.assertIsNone(body["warnings"])
        self.assertEqual(body["data"]["data"], {"password": "two"})
        meta = body["data"]["metadata"]
        self.assertEqual(set(meta), {"created_time", "custom_metadata", "deletion_time", "destroyed", "version"})
        self.assertEqual((meta["version"], meta["deletion_time"], meta["destroyed"]), (2, "", False))
        self.assertEqual(self.read("kv/data/app/db?version=1")[1]["data"]["data"], {"password": "one"})
        self.assertEqual(self.read("kv/data/app/db?version=0")[1]["data"]["metadata"]["version"], 2)
        self.assertEqual(self.read("kv/data/app/db?version=3")[:2], (404, {"errors": []}))
        self.assertEqual(self.read("kv/data/app/nothing")[:2], (404, {"errors": []}))
        self.assertEqual(self.read("kv/data/app/db/")[:2], (404, {"errors": [UNSUPPORTED]}))

    def test_kv2_deleted_and_destroyed_versions_are_404_with_envelope(self):
        for n in range(3):
            self.ctl.put_kv2(mount="kv", path="app/x", data={"n": n})
        self.ctl.delete_kv2(mount="kv", path="app/x", versions=[1])
        self.ctl.destroy_kv2(mount="kv", path="app/x", versions=[2])
        self.ctl.delete_kv2(mount="kv", path="app/x")  # the latest, 3
        for version, destroyed in ((1, False), (2, True), (3, False)):
            status, body, _ = self.read("kv/data/app/x?version=%d" % version)
            self.assertEqual(status, 404)
            self.assertEnvelope(body)
            self.assertIsNone(body["data"]["data"])
            self.assertEqual(body["data"]["metadata"]["destroyed"], destroyed)
            self.assertEqual(body["data"]["metadata"]["deletion_time"] != "", not destroyed)
        self.assertEqual(self.read("kv/data/app/x")[1]["data"]["metadata"]["version"], 3)

    def test_kv1(self):
        self.ctl.put_kv1(mount="kv1", path="team/api", data={"key": "v", "n": "1"})
        status, body, _ = self.read("kv1/team/api")
        self.assertEqual(status, 200)
        self.assertEnvelope(body)
        self.assertEqual(body["data"], {"key": "v", "n": "1"})
        self.assertEqual((body["lease_id"], body["renewable"], body["lease_duration"]), ("", False, 2764800))
        self.assertEqual(self.read("kv1/team/none")[:2], (404, {"errors": []}))

    def test_dynamic_lease_renew_lookup_revoke(self):
        self.ctl.add_dynamic_role(mount="database", role="ro", ttl=60, max_ttl=100)
        _, first, _ = self.read("database/creds/ro")
        _, second, _ = self.read("database/creds/ro")
        self.assertEnvelope(first)
        self.assertTrue(first["lease_id"].startswith("database/creds/ro/"))
        self.assertNotEqual(first["lease_id"], second["lease_id"])
        self.assertNotEqual(first["data"], second["data"])
        self.assertEqual((first["renewable"], first["lease_duration"], first["mount_type"]), (True, 60, "database"))
        self.assertTrue(first["data"]["username"].startswith("v-ro-"))
        self.assertGreaterEqual(len(first["data"]["password"]), 20)
        lease = first["lease_id"]
        status, body, _ = self.vault.call("PUT", "/v1/sys/leases/renew", {"lease_id": lease, "increment": 30},
                                          token=self.token)
        self.assertEqual(status, 200)
        self.assertEnvelope(body)
        self.assertEqual((body["lease_id"], body["renewable"], body["lease_duration"]), (lease, True, 30))
        status, body, _ = self.vault.call("POST", "/v1/sys/leases/renew", {"lease_id": lease, "increment": 3600},
                                          token=self.token)
        self.assertEqual(status, 200)
        self.assertIn(body["lease_duration"], (99, 100))  # capped at max_ttl
        self.assertIn("capped", body["warnings"][0])
        status, body, _ = self.vault.call("PUT", "/v1/sys/leases/lookup", {"lease_id": lease}, token=self.token)
        self.assertEqual(set(body["data"]), {"id", "issue_time", "expire_time", "last_renewal_time", "renewable",
                                             "ttl"})
        status, body, _ = self.vault.call("PUT", "/v1/sys/leases/revoke", {"lease_id": lease}, token=self.token)
        self.assertEqual((status, body), (204, b""))
        status, body, _ = self.vault.call("PUT", "/v1/sys/leases/renew", {"lease_id": lease}, token=self.token)
        self.assertEqual((status, body), (400, {"errors": ["lease not found"]}))
        self.assertEqual(self.vault.call("PUT", "/v1/sys/leases/revoke", {"lease_id": "database/creds/ro/nope"},
                                         token=self.token)[0], 204)
        leases = self.ctl.leases()
        self.assertEqual(leases["revoked"], [lease])
        self.assertEqual([l["lease_id"] for l in leases["active"]], [second["lease_id"]])
        self.assertEqual(leases["active"][0]["renewals"], 0)

    def test_revoke_self_revokes_the_tokens_leases(self):
        self.ctl.add_dynamic_role(mount="database", role="rw", ttl=60)
        token = self.ctl.add_token(paths=["database/creds/rw"], ttl=600)
        leases = [self.read("database/creds/rw", token=token["token"])[1]["lease_id"] for _ in range(2)]
        kept = self.read("database/creds/rw")[1]["lease_id"]  # another token's lease survives
        status, body, _ = self.vault.call("POST", "/v1/auth/token/revoke-self", token=token["token"])
        self.assertEqual((status, body), (204, b""))
        self.assertEqual(sorted(self.ctl.leases()["revoked"]), sorted(leases))
        self.assertEqual([l["lease_id"] for l in self.ctl.leases()["active"]], [kept])
        self.assertIn(token["accessor"], self.ctl.tokens()["revoked"])
        self.assertEqual(self.read("auth/token/lookup-self", token=token["token"])[:2],
                         (403, {"errors": ["permission denied", "invalid token"]}))

    def test_approle_login_and_token_self_endpoints(self):
        self.ctl.add_approle(role_id="r1", secret_id="s1", paths=["kv/data/app/*"], ttl=1200)
        self.ctl.put_kv2(mount="kv", path="app/a", data={"k": "v"})
        status, body, _ = self.vault.call("POST", "/v1/auth/approle/login", {"role_id": "r1", "secret_id": "no"})
        self.assertEqual((status, body), (400, {"errors": ["invalid role or secret ID"]}))
        status, body, _ = self.vault.call("PUT", "/v1/auth/approle/login", {"role_id": "r1", "secret_id": "s1"})
        self.assertEqual(status, 200)
        self.assertEnvelope(body)
        self.assertIsNone(body["data"])
        self.assertEqual(body["lease_id"], "")
        auth = body["auth"]
        self.assertEqual(set(auth), AUTH_KEYS)
        self.assertTrue(auth["client_token"].startswith("hvs."))
        self.assertEqual((auth["lease_duration"], auth["renewable"], auth["token_type"], auth["orphan"],
                          auth["num_uses"], auth["mfa_requirement"]), (1200, True, "service", True, 0, None))
        self.assertIn("default", auth["token_policies"])
        token = auth["client_token"]
        self.assertEqual(self.read("kv/data/app/a", token=token)[0], 200)
        status, body, _ = self.vault.call("GET", "/v1/auth/token/lookup-self",
                                          headers={"Authorization": "Bearer " + token})
        self.assertEqual((status, body["data"]["accessor"]), (200, auth["accessor"]))
        status, body, _ = self.vault.call("POST", "/v1/auth/token/renew-self", {"increment": "1h"}, token=token)
        self.assertEqual((status, body["auth"]["client_token"], body["auth"]["lease_duration"]), (200, token, 3600))

    def test_kubernetes_login(self):
        self.ctl.add_kubernetes(role="app", jwt="jwt-1", namespace="prod", service_account="web",
                                paths=["kv/data/app/*"], ttl=300)
        call = lambda body: self.vault.call("POST", "/v1/auth/kubernetes/login", body)[:2]  # noqa: E731
        self.assertEqual(call({"role": "x", "jwt": "jwt-1"}), (400, {"errors": ['invalid role name "x"']}))
        self.assertEqual(call({"role": "app", "jwt": "jwt-2"}), (403, {"errors": ["permission denied"]}))
        status, body = call({"role": "app", "jwt": "jwt-1"})
        self.assertEqual(status, 200)
        self.assertEqual(set(body["auth"]), AUTH_KEYS)
        meta = body["auth"]["metadata"]
        self.assertEqual((meta["role"], meta["service_account_name"], meta["service_account_namespace"],
                          meta["service_account_secret_name"]), ("app", "web", "prod", ""))
        self.assertTrue(meta["service_account_uid"])
        self.assertEqual(body["auth"]["lease_duration"], 300)

    def test_acl_and_routing_errors(self):
        self.ctl.put_kv2(mount="kv", path="app/a", data={"k": "v"})
        self.ctl.put_kv2(mount="kv", path="ops/a", data={"k": "v"})
        invalid = (403, {"errors": ["permission denied", "invalid token"]})
        self.assertEqual(self.vault.call("GET", "/v1/kv/data/app/a")[:2], invalid)
        self.assertEqual(self.read("kv/data/app/a", token="hvs.nonsense")[:2], invalid)
        self.assertEqual(self.read("kv/data/ops/a")[:2], (403, {"errors": [DENIED]}))
        self.assertEqual(self.read("other/thing")[:2], (404, {"errors": [UNSUPPORTED]}))
        status, body, _ = self.vault.call("DELETE", "/v1/kv/data/app/a", token=self.token)
        self.assertEqual(status, 405)
        self.assertIn("errors", body)

    def test_sealed(self):
        self.ctl.put_kv2(mount="kv", path="app/a", data={"k": "v"})
        self.ctl.fault(sealed=True)
        self.assertEqual(self.read("kv/data/app/a")[:2], (503, {"errors": ["Vault is sealed"]}))
        status, body, _ = self.vault.call("GET", "/v1/sys/health")
        self.assertEqual((status, body["sealed"], body["initialized"]), (503, True, True))
        status, body, _ = self.vault.call("GET", "/v1/sys/seal-status")
        self.assertEqual((status, body["sealed"]), (200, True))
        self.ctl.fault(clear=True)
        self.assertEqual(self.read("kv/data/app/a")[0], 200)
        status, body, _ = self.vault.call("GET", "/v1/sys/health")
        self.assertEqual((status, body["sealed"], body["standby"]), (200, False, False))

    def test_status_faults(self):
        self.ctl.put_kv2(mount="kv", path="app/a", data={"k": "v"})
        self.ctl.fault(status=429, path="kv/*", count=2)
        for _ in range(2):
            status, body, headers = self.read("kv/data/app/a")
            self.assertEqual((status, body), (429, {"errors": ['request path "kv/data/app/a": rate limit quota '
                                                               'exceeded']}))
        self.assertEqual(self.read("kv/data/app/a")[0], 200)
        self.ctl.fault(status=500, errors=["boom"])
        self.assertEqual(self.vault.call("GET", "/v1/sys/health")[:2], (500, {"errors": ["boom"]}))
        self.ctl.fault(clear=True)
        self.ctl.fault(status=502, count=1)
        self.assertEqual(self.read("kv/data/app/a")[0], 502)
        self.assertEqual(self.read("kv/data/app/a")[0], 200)

    def test_garbage_and_close(self):
        self.ctl.put_kv2(mount="kv", path="app/a", data={"k": "v"})
        self.ctl.fault(garbage=True, count=1)
        status, body, _ = self.read("kv/data/app/a")
        self.assertEqual(status, 200)
        self.assertRaises(ValueError, json.loads, body)
        self.ctl.fault(close=True, count=1)
        with self.assertRaises((http.client.RemoteDisconnected, urllib.error.URLError, ConnectionError)):
            self.read("kv/data/app/a")
        self.assertEqual(self.read("kv/data/app/a")[0], 200)
        self.assertEqual([r["status"] for r in self.ctl.requests()], [200, None, 200])

    def test_namespace(self):
        self.ctl.put_kv2(mount="kv", path="app/a", data={"k": "v"})
        self.assertEqual(self.read("kv/data/app/a", headers={"X-Vault-Namespace": "team-a"})[:2],
                         (404, {"errors": [UNSUPPORTED]}))
        self.ctl.set_namespace(require="team-a/")
        self.assertEqual(self.read("kv/data/app/a")[:2], (403, {"errors": [DENIED]}))
        self.assertEqual(self.read("kv/data/app/a", headers={"X-Vault-Namespace": "team-b/"})[0], 403)
        for ns in ("team-a", "team-a/"):
            self.assertEqual(self.read("kv/data/app/a", headers={"X-Vault-Namespace": ns})[0], 200)
        self.assertEqual(self.vault.call("GET", "/v1/sys/health")[0], 200)
        self.ctl.set_namespace(require=None)
        self.assertEqual(self.read("kv/data/app/a")[0], 200)

    def test_recording(self):
        self.ctl.put_kv2(mount="kv", path="app/a", data={"k": "v"})
        self.read("kv/data/app/a?version=1", headers={"X-Vault-Request": "true"})
        self.vault.call("PUT", "/v1/sys/leases/revoke", {"lease_id": "x"}, token=self.token)
        self.vault.call("POST", "/v1/sys/leases/revoke", b"not json", token=self.token)
        first, second, third = self.ctl.requests()
        self.assertEqual((first["method"], first["path"], first["query"], first["status"], first["body"]),
                         ("GET", "/v1/kv/data/app/a", "version=1", 200, None))
        self.assertEqual((first["headers"]["x-vault-token"], first["headers"]["x-vault-request"]),
                         (self.token, "true"))
        self.assertEqual((second["method"], second["body"], second["status"]), ("PUT", {"lease_id": "x"}, 204))
        self.assertEqual((third["body"], third["status"]), ("not json", 400))
        self.ctl.clear_requests()
        self.assertEqual(self.ctl.requests(), [])

    def test_keep_alive(self):
        self.ctl.put_kv2(mount="kv", path="app/a", data={"k": "v"})
        port = int(self.vault.address.rsplit(":", 1)[1])
        if self.vault.context:
            conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=self.vault.context)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            for _ in range(3):
                conn.request("GET", "/v1/kv/data/app/a", headers={"X-Vault-Token": self.token})
                resp = conn.getresponse()
                body = resp.read()
                self.assertEqual((resp.status, int(resp.headers["Content-Length"])), (200, len(body)))
            conn.request("PUT", "/v1/sys/leases/revoke", body=b'{"lease_id":"a"}',
                         headers={"X-Vault-Token": self.token})
            resp = conn.getresponse()
            self.assertEqual((resp.status, resp.read()), (204, b""))
            conn.request("GET", "/v1/sys/health")
            self.assertEqual(conn.getresponse().status, 200)
        finally:
            conn.close()


class InProcessHttpTest(StandinCases, unittest.TestCase):
    """Control through the Python methods; also the cases that need real time to pass."""

    def setUp(self):
        self.standin = VaultStandin().start()
        self.addCleanup(self.standin.stop)
        self.vault, self.ctl = Client(self.standin.address), self.standin
        super().setUp()

    def test_leases_and_tokens_expire(self):
        self.ctl.add_dynamic_role(mount="database", role="short", ttl=1)
        token = self.ctl.add_token(paths=["database/creds/*"], ttl=2)
        lease = self.read("database/creds/short", token=token["token"])[1]["lease_id"]
        kept = self.read("database/creds/short", token=token["token"])[1]["lease_id"]
        self.vault.call("PUT", "/v1/sys/leases/renew", {"lease_id": kept, "increment": 5}, token=token["token"])
        time.sleep(1.2)
        self.assertEqual(self.vault.call("PUT", "/v1/sys/leases/renew", {"lease_id": lease}, token=self.token)[:2],
                         (400, {"errors": ["lease not found"]}))
        self.assertEqual(self.ctl.leases()["expired"], [lease])
        time.sleep(1.0)  # the token expires, and its remaining lease with it
        self.assertEqual(self.read("auth/token/lookup-self", token=token["token"])[0], 403)
        self.assertEqual(self.ctl.leases()["expired"], [lease, kept])
        self.assertEqual(self.ctl.tokens()["expired"], [token["accessor"]])

    def test_delay_and_a_silent_client(self):
        """A delayed answer and a client that never sends anything hold up nobody else."""
        with socket.create_connection(("127.0.0.1", self.standin.port)):
            self.ctl.fault(delay_ms=300, path="sys/health", count=1)
            started = time.monotonic()
            self.assertEqual(self.vault.call("GET", "/v1/sys/health")[0], 200)
            self.assertGreaterEqual(time.monotonic() - started, 0.3)

    def test_control_errors(self):
        self.assertRaises(ValueError, self.ctl.fault, status=200)
        self.assertRaises(TypeError, self.ctl.fault, nonsense=1)
        status, body, _ = self.vault.call("POST", "/__standin/fault", {"nonsense": 1})
        self.assertEqual(status, 400)
        self.assertEqual(self.vault.call("GET", "/__standin/nothing")[0], 404)
        self.assertEqual(self.ctl.requests(), [])  # control requests are not recorded


class InProcessTlsTest(StandinCases, unittest.TestCase):
    def setUp(self):
        if "cert" not in _tls:
            self.skipTest("openssl CLI not found")
        self.standin = VaultStandin(tls_cert=_tls["cert"], tls_key=_tls["key"]).start()
        self.addCleanup(self.standin.stop)
        self.assertTrue(self.standin.address.startswith("https://127.0.0.1:"))
        self.vault = Client(self.standin.address, cafile=_tls["cert"])
        self.ctl = HttpControl(self.vault)
        super().setUp()


class SubprocessTest(StandinCases, unittest.TestCase):
    """`vault_standin.py --port-file`, started once for the class and reset before each case."""

    tls = False

    @classmethod
    def setUpClass(cls):
        if cls.tls and "cert" not in _tls:
            raise unittest.SkipTest("openssl CLI not found")
        cls.tmp = tempfile.mkdtemp(prefix="rg-vault-standin-")
        cls.port_file = os.path.join(cls.tmp, "port")
        argv = [sys.executable, STANDIN, "--port-file", cls.port_file]
        if cls.tls:
            argv += ["--tls-cert", _tls["cert"], "--tls-key", _tls["key"]]
        cls.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not os.path.exists(cls.port_file):
            if cls.proc.poll() is not None or time.monotonic() > deadline:
                cls.tearDownClass()
                raise AssertionError("the stand-in did not write its port file")
            time.sleep(0.02)
        with open(cls.port_file) as f:
            cls.port_text = f.read()
        scheme = "https" if cls.tls else "http"
        cls.vault = Client("%s://127.0.0.1:%d" % (scheme, int(cls.port_text)), _tls.get("cert") if cls.tls else None)
        cls.ctl = HttpControl(cls.vault)

    @classmethod
    def tearDownClass(cls):
        if cls.proc.poll() is None:
            cls.proc.send_signal(signal.SIGTERM)
        try:
            cls.rc = cls.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            cls.proc.kill()
            cls.proc.wait()
            raise
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)
        if cls.rc != 0:
            raise AssertionError("the stand-in exited %s after SIGTERM" % cls.rc)

    def setUp(self):
        self.ctl.reset()
        super().setUp()

    def test_port_file(self):
        self.assertRegex(self.port_text, r"^[0-9]+\n$")


class SubprocessTlsTest(SubprocessTest):
    tls = True


if __name__ == "__main__":
    unittest.main()
