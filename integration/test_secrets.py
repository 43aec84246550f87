"""Secrets as tmpfs files (issue 7), against the real runtime: runguard, runc, runguardd, containerd.

A container asks for a secret with `secrets.runguard.dev/<name>: <reference>` (granted only by
secrets.allow) or gets one from secrets.attach or from secretsInEnv's enforce action; runguard
mounts a per-container tmpfs, fills it before runc starts the process, and bind-mounts it
read-only at /run/secrets. Every test asserts from inside the container (the file as its non-root
user reads it, /proc/self/mounts) and from the host: the value is absent from config.json,
/proc/<pid>/environ, the decision record, runc's log, the events file and runguardd's log; after
delete the tmpfs is gone and Vault's leases are revoked; a refusal leaves config.json as it was and
nothing mounted or recorded.

Vault is integration/vault_standin.py (a stand-in written from Vault's API documentation: there is
no Vault binary here), in-process on 127.0.0.1, recording every request it gets.
"""

import base64
import json
import os
import re
import signal
import time
import unittest

from harness import RUNC, RunguardTestCase, agent_settings
from containerd import mounts_under
from test_agent import RUNGUARDD, Agent
from vault_standin import VaultStandin

ANNOTATION = "secrets.runguard.dev/"
KV_VALUE = "kv-v2-Secret-Value-7f3a9c"
FILE_VALUE = "file-Secret-Value-51b2"
ENV_VALUE = "ghp_EnvSecretValue0123456789abcdefXYZ"


class SecretsTestBase(RunguardTestCase):
    """A policy with a secrets section; helpers to check where a value must never appear."""

    def setUp(self):
        super().setUp()
        self.events = os.path.join(self.tmp, "events.jsonl")
        self.agent = None

    def secrets_policy(self, secrets, controls="secretsInEnv: { action: enforce }"):
        self.write_policy(controls, extra="secrets:\n" + "".join("  " + l + "\n" for l in secrets.strip("\n").splitlines()))

    def bundle_with(self, annotations=None, env=(), script="cat /run/secrets/*"):
        b = self.bundle("b-%d" % time.monotonic_ns())
        b.spec["annotations"] = dict(annotations or {})
        for e in env:
            b.add_env(e)
        b.set_args("sh", "-c", script)
        b.write()
        return b

    def assertNowhere(self, value, cid, bundle, pid=None):
        """`value` is in none of the places a secret must never go."""
        places = {"config.json": os.path.join(bundle.path, "config.json"), "runc --log": bundle.log, "events": self.events,
                  "decision record": os.path.join(self.container_state_dir(cid), "decision.json"),
                  "secrets record": os.path.join(self.container_state_dir(cid), "secrets.json")}
        if self.agent is not None:
            places["runguardd log"] = self.agent.log
        # Values travel base64-encoded between runguardd, the helper and the runtime.
        forms = [value, base64.b64encode(value.encode()).decode()]
        for what, path in places.items():
            if not os.path.exists(path):
                # These always exist for a created container; a moved path must not make this vacuous.
                self.assertNotIn(what, ("config.json", "runc --log", "decision record"), what + " is missing at " + path)
                continue
            with open(path, errors="replace") as f:
                text = f.read()
            for form in forms:
                self.assertNotIn(form, text, "the secret value leaked into " + what)
        if pid:
            with open("/proc/%d/environ" % pid, "rb") as f:
                self.assertNotIn(value.encode(), f.read(), "the secret value is in the process environment")

    def assertRefused(self, bundle, *needles):
        """create refused: non-zero, a clear message, config.json unchanged, nothing left."""
        before = bundle.config_bytes()
        cid = self.new_id()
        p = self.runguard(["create", "--bundle", bundle.path, cid], log=bundle.log, detached=True)
        self.assertNotEqual(p.returncode, 0, "create should have been refused")
        text = bundle.log_text()
        for n in needles:
            self.assertIn(n, text)
        self.assertEqual(bundle.config_bytes(), before, "a refused create changed config.json")
        self.assertEqual(mounts_under(self.state_dir), [], "a refused create left mounts")
        self.assertStateDirEmpty()
        self.assertNotIn(cid, self.runc_list_ids())
        return text

    def pid_of(self, cid):
        return self.state(cid)["pid"]

    def delete(self, cid):
        p = self.runguard(["delete", "-f", cid])
        self.assertEqual(p.returncode, 0, p.stderr)


class FileBackendTest(SecretsTestBase):
    """The embedded default backend: a root-only directory on the node."""

    def setUp(self):
        super().setUp()
        self.dir = os.path.join(self.tmp, "node-secrets")
        os.makedirs(os.path.join(self.dir, "app"), mode=0o700)
        with open(os.path.join(self.dir, "app", "db"), "w") as f:
            json.dump({"password": FILE_VALUE, "user": "app"}, f)
        self.secrets_policy("file: { dir: %s }\nallow:\n  - { match: {}, paths: ['app/*'] }" % self.dir)

    def test_nonroot_reads_its_file_and_the_value_is_nowhere_else(self):
        b = self.bundle_with({ANNOTATION + "db-password": "file:app/db#password"}, env=["API_TOKEN=" + ENV_VALUE])
        cid = self.start_sleeper_script(b)
        pid = self.pid_of(cid)
        out = self.exec_out(cid, "cat /run/secrets/db-password; echo; cat $API_TOKEN_FILE; echo; id -u; "
                                 "stat -c '%u %a' /run/secrets/db-password; grep ' /run/secrets ' /proc/self/mounts; "
                                 "touch /run/secrets/x 2>&1 || echo readonly")
        lines = out.splitlines()
        self.assertEqual(lines[0], FILE_VALUE)
        self.assertEqual(lines[1], ENV_VALUE)
        self.assertNotEqual(lines[2], "0", "the container should run as non-root")
        self.assertEqual(lines[3], "%s 400" % lines[2], "the file must be 0400 and owned by the container's user")
        mount = lines[4].split()
        self.assertEqual(mount[2], "tmpfs")
        for opt in ("ro", "nosuid", "nodev", "noexec"):
            self.assertIn(opt, mount[3].split(","))
        self.assertIn("readonly", out)
        # The environment holds a pointer, not the value.
        with open("/proc/%d/environ" % pid, "rb") as f:
            env = f.read().split(b"\0")
        self.assertIn(b"API_TOKEN_FILE=/run/secrets/API_TOKEN", env)
        self.assertNowhere(FILE_VALUE, cid, b, pid)
        self.assertNowhere(ENV_VALUE, cid, b, pid)
        record, _ = self.decision(cid)
        files = {f["name"]: f for f in record["decision"]["secrets"]["files"]}
        self.assertEqual(files["db-password"], {"name": "db-password", "source": "annotation", "ref": "file:app/db#password"})
        self.assertEqual(files["API_TOKEN"]["source"], "env")
        tmpfs = os.path.join(self.container_state_dir(cid), "secrets")
        self.assertEqual(mounts_under(tmpfs), [tmpfs])
        self.delete(cid)
        self.assertEqual(mounts_under(tmpfs), [], "the secrets tmpfs survived delete")
        self.assertStateDirEmpty()

    def start_sleeper_script(self, b):
        b.set_args("sleep", "30")
        b.write()
        cid = self.new_id()
        p = self.runguard(["create", "--bundle", b.path, cid], log=b.log, detached=True)
        self.assertEqual(p.returncode, 0, "create failed: " + b.log_text())
        self.assertEqual(self.runguard(["start", cid], log=b.log).returncode, 0, b.log_text())
        self.wait_status(cid, "running")
        return cid

    def exec_out(self, cid, script):
        p = self.runguard(["exec", cid, "sh", "-c", script])
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_path_the_policy_does_not_allow_is_refused(self):
        with open(os.path.join(self.dir, "other"), "w") as f:
            f.write("not for you")
        b = self.bundle_with({ANNOTATION + "x": "file:other"})
        self.assertRefused(b, "no secrets.allow entry grants", "RG-SECRETS-002")

    def test_first_matching_allow_entry_decides(self):
        self.secrets_policy("file: { dir: %s }\nallow:\n  - { match: { image: 'nothing/*' }, paths: ['*'] }\n"
                            "  - { match: {}, paths: ['nothing-here/*'] }\n  - { match: {}, paths: ['app/*'] }" % self.dir)
        b = self.bundle_with({ANNOTATION + "db": "file:app/db#password"})
        self.assertRefused(b, "no secrets.allow entry grants")

    def test_hostile_names_and_references_are_refused(self):
        cases = {
            ANNOTATION + "..": "file:app/db",
            ANNOTATION + "a/../../etc": "file:app/db",
            ANNOTATION + ".hidden": "file:app/db",
            ANNOTATION + "ok1": "file:app/../../../etc/shadow",
            ANNOTATION + "ok2": "file:/etc/shadow",
            ANNOTATION + "ok3": "file:app/db\n#x",
            ANNOTATION + "ok4": "ftp:app/db",
        }
        for key, ref in cases.items():
            with self.subTest(key=key, ref=ref):
                b = self.bundle_with({key: ref})
                self.assertRefused(b, "RG-SECRETS-002")

    def test_symlink_out_of_the_secrets_dir_is_refused(self):
        os.symlink("/etc/shadow", os.path.join(self.dir, "app", "link"))
        b = self.bundle_with({ANNOTATION + "x": "file:app/link"})
        text = self.assertRefused(b, "symlink")
        self.assertNotIn("root:", text)

    def test_missing_file_refuses_cleanly(self):
        b = self.bundle_with({ANNOTATION + "x": "file:app/missing"})
        self.assertRefused(b, "app/missing does not exist")

    def test_file_bind_mount_below_the_secrets_directory(self):
        # podman --secret and compose bind a single file at /run/secrets/<name>: its mount point
        # is made as a file in the tmpfs, and both it and runguard's files are readable.
        single = os.path.join(self.tmp, "podman-secret")
        with open(single, "w") as f:
            f.write("from-the-engine")
        os.chmod(single, 0o644)
        b = self.bundle_with({ANNOTATION + "db": "file:app/db#password"},
                             script="cat /run/secrets/db; echo; cat /run/secrets/engine-secret")
        b.spec.setdefault("mounts", []).append({"destination": "/run/secrets/engine-secret", "type": "bind",
                                                "source": single, "options": ["rbind", "ro"]})
        b.write()
        cid, p = self.run_container(b)
        self.assertEqual(p.returncode, 0, b.log_text())
        self.assertEqual(p.stdout.splitlines(), [FILE_VALUE, "from-the-engine"])

    def test_secret_named_like_a_mount_below_it_is_refused(self):
        b = self.bundle_with({ANNOTATION + "engine-secret": "file:app/db#password"})
        b.spec.setdefault("mounts", []).append({"destination": "/run/secrets/engine-secret", "type": "bind",
                                                "source": "/etc/hostname", "options": ["rbind", "ro"]})
        b.write()
        self.assertRefused(b, "need the same name", "RG-SECRETS-003")

    def test_attach_gives_files_without_annotations(self):
        self.secrets_policy("file: { dir: %s }\nattach:\n  - { match: {}, files: { db-user: 'file:app/db#user' } }" % self.dir)
        b = self.bundle_with(script="cat /run/secrets/db-user")
        cid, p = self.run_container(b)
        self.assertEqual(p.returncode, 0, b.log_text())
        self.assertEqual(p.stdout, "app")


class VaultTestBase(SecretsTestBase):
    """The Vault stand-in with a token for kv/ and database/, on 127.0.0.1."""

    def setUp(self):
        super().setUp()
        self.vault = VaultStandin().start()
        self.addCleanup(self.vault.stop)
        self.token = self.vault.add_token(paths=["kv/data/app/*", "database/creds/*", "sys/leases/*"])["token"]
        self.token_file = os.path.join(self.tmp, "vault-token")
        with open(self.token_file, "w") as f:
            f.write(self.token + "\n")
        os.chmod(self.token_file, 0o600)
        self.vault.put_kv2("kv", "app/db", {"password": KV_VALUE, "user": "app"})
        self.vault.add_dynamic_role("database", "ro", ttl=3600)
        self.write_vault_policy()

    def write_vault_policy(self, address=None, extra=""):
        self.secrets_policy(
            "backend: vault\nvault:\n  address: %s\n  timeout: 2s\n  retries: 1\n  auth: { method: token, tokenFile: %s }\n"
            "allow:\n  - { match: {}, paths: ['kv/data/app/*', 'database/creds/ro'] }\n%s"
            % (address or self.vault.address, self.token_file, extra))

    def assertNoSecretLeaks(self, cid, bundle, pid=None):
        self.assertNowhere(KV_VALUE, cid, bundle, pid)
        self.assertNowhere(self.token, cid, bundle, pid)


class VaultHelperTest(VaultTestBase):
    """No agent: the runtime runs `runguardctl helper secrets` for Vault I/O."""

    def test_kv_secret_read_by_nonroot_and_never_leaked(self):
        b = self.bundle_with({ANNOTATION + "db-password": "vault:kv/data/app/db#password"},
                             script="id -u; stat -c '%u %a' /run/secrets/db-password; cat /run/secrets/db-password")
        cid, p = self.run_container(b)
        self.assertEqual(p.returncode, 0, b.log_text())
        uid, stat, value = p.stdout.splitlines()
        self.assertNotEqual(uid, "0")
        self.assertEqual(stat, uid + " 400")
        self.assertEqual(value, KV_VALUE)
        self.assertNoSecretLeaks(cid, b)
        reads = [r for r in self.vault.requests() if r["path"] == "/v1/kv/data/app/db"]
        self.assertEqual(len(reads), 1)
        self.assertEqual(reads[0]["headers"].get("x-vault-request"), "true")
        self.assertEqual(reads[0]["headers"].get("x-vault-token"), self.token)

    def test_kv_version_and_whole_object(self):
        self.vault.put_kv2("kv", "app/db", {"password": "second"})
        b = self.bundle_with({ANNOTATION + "v1": "vault:kv/data/app/db?version=1#password",
                              ANNOTATION + "all": "vault:kv/data/app/db"},
                             script="cat /run/secrets/v1; echo; cat /run/secrets/all")
        cid, p = self.run_container(b)
        self.assertEqual(p.returncode, 0, b.log_text())
        first, whole = p.stdout.splitlines()
        self.assertEqual(first, KV_VALUE)
        self.assertEqual(json.loads(whole), {"password": "second"})

    def test_dynamic_secret_lease_is_revoked_on_delete(self):
        b = self.bundle_with({ANNOTATION + "db-creds": "vault:database/creds/ro"}, script="cat /run/secrets/db-creds")
        cid, p = self.run_container(b)
        self.assertEqual(p.returncode, 0, b.log_text())
        creds = json.loads(p.stdout)
        self.assertTrue(creds["username"].startswith("v-ro-"))
        leases = self.vault.leases()
        self.assertEqual(len(leases["active"]), 1)
        lease = leases["active"][0]["lease_id"]
        with open(os.path.join(self.container_state_dir(cid), "secrets.json")) as f:
            self.assertEqual(json.load(f)["files"][0]["leaseId"], lease)
        self.assertNowhere(creds["password"], cid, b)
        self.delete(cid)
        self.assertIn(lease, self.vault.leases()["revoked"])
        self.assertStateDirEmpty()

    def test_disallowed_path_is_refused_before_vault_is_asked(self):
        b = self.bundle_with({ANNOTATION + "x": "vault:kv/data/other/db#password"})
        self.assertRefused(b, "no secrets.allow entry grants")
        self.assertEqual([r for r in self.vault.requests() if r["path"].startswith("/v1/kv")], [])

    def check_vault_failure(self, *needles, ref="vault:kv/data/app/db#password"):
        b = self.bundle_with({ANNOTATION + "db": ref})
        text = self.assertRefused(b, *needles)
        self.assertNotIn(self.token, text)
        return text

    def test_vault_down_refuses_cleanly(self):
        self.vault.stop()
        self.check_vault_failure("secrets from Vault")

    def test_vault_down_refuses_even_with_failure_policy_open(self):
        # failurePolicy: open starts containers unhardened on internal errors, but one whose
        # secrets cannot be delivered would start with its credentials back in its environment.
        self.write_vault_policy()
        with open(self.policy_path, "a") as f:
            f.write("failurePolicy: open\n")
        self.vault.stop()
        b = self.bundle_with({ANNOTATION + "db": "vault:kv/data/app/db#password"}, env=["API_TOKEN=" + ENV_VALUE])
        self.assertRefused(b, "its secrets could not be delivered")

    def test_permission_denied_refuses_cleanly(self):
        self.vault.put_kv2("kv", "app/forbidden", {"password": "x"})
        self.vault.add_token(token=self.token + "-narrow", paths=["kv/data/app/db"])
        with open(self.token_file, "w") as f:
            f.write(self.token + "-narrow")
        self.check_vault_failure("permission denied", ref="vault:kv/data/app/forbidden#password")

    def test_not_found_refuses_cleanly(self):
        self.check_vault_failure("not found", ref="vault:kv/data/app/missing#password")

    def test_sealed_refuses_cleanly(self):
        self.vault.fault(sealed=True)
        self.check_vault_failure("sealed")

    def test_rate_limited_refuses_after_bounded_retries(self):
        self.vault.fault(status=429, path="kv/*")
        self.check_vault_failure("rate limit")
        reads = [r for r in self.vault.requests() if r["path"] == "/v1/kv/data/app/db"]
        self.assertEqual(len(reads), 2, "retries: 1 means two attempts")

    def test_failure_after_a_lease_was_taken_revokes_it(self):
        b = self.bundle_with({ANNOTATION + "a-creds": "vault:database/creds/ro",
                              ANNOTATION + "b-missing": "vault:kv/data/app/missing#password"})
        self.assertRefused(b, "not found")
        leases = self.vault.leases()
        self.assertEqual(leases["active"], [], "a refused create left a Vault lease behind")


class VaultKubernetesAuthTest(VaultTestBase):
    """Kubernetes auth with the pod's own service-account token, found through the spec's mounts."""

    JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6cGF5bWVudHM6YXBwIn0.c2lnbmF0dXJl"

    def setUp(self):
        super().setUp()
        self.vault.add_kubernetes(role="app", jwt=self.JWT, namespace="payments", service_account="app",
                                  paths=["kv/data/app/*", "sys/leases/*"])
        self.secrets_policy(
            "backend: vault\nvault:\n  address: %s\n  timeout: 2s\n  auth: { method: kubernetes, role: app }\n"
            "allow:\n  - { match: {}, paths: ['kv/data/app/*'] }" % self.vault.address)
        self.sa_dir = os.path.join(self.tmp, "kubelet-sa")
        os.makedirs(self.sa_dir)
        with open(os.path.join(self.sa_dir, "token"), "w") as f:
            f.write(self.JWT)
        os.chmod(self.sa_dir, 0o755)
        os.chmod(os.path.join(self.sa_dir, "token"), 0o644)

    def bundle_with_sa(self, destination, script):
        b = self.bundle_with({ANNOTATION + "db": "vault:kv/data/app/db#password"}, script=script)
        b.spec.setdefault("mounts", []).append({"destination": destination, "type": "bind", "source": self.sa_dir,
                                                "options": ["rbind", "ro"]})
        b.write()
        return b

    def test_logs_in_with_the_pods_token(self):
        b = self.bundle_with_sa("/var/run/secrets/kubernetes.io/serviceaccount", "cat /run/secrets/db")
        cid, p = self.run_container(b)
        self.assertEqual(p.returncode, 0, b.log_text())
        self.assertEqual(p.stdout, KV_VALUE)
        logins = [r for r in self.vault.requests() if r["path"] == "/v1/auth/kubernetes/login"]
        self.assertEqual(len(logins), 1)
        self.assertEqual(logins[0]["body"], {"role": "app", "jwt": self.JWT})
        self.assertNowhere(self.JWT, cid, b)

    def test_token_mounted_below_the_secrets_directory(self):
        # Images where /var/run links to /run see kubelet's mount at /run/secrets/...: it must land
        # inside the secrets tmpfs, not be hidden by it.
        b = self.bundle_with_sa("/run/secrets/kubernetes.io/serviceaccount",
                                "cat /run/secrets/db; echo; cat /run/secrets/kubernetes.io/serviceaccount/token")
        cid, p = self.run_container(b)
        self.assertEqual(p.returncode, 0, b.log_text())
        self.assertEqual(p.stdout.splitlines(), [KV_VALUE, self.JWT])

    def test_no_service_account_token_is_refused(self):
        b = self.bundle_with({ANNOTATION + "db": "vault:kv/data/app/db#password"})
        self.assertRefused(b, "no service-account token", "RG-SECRETS-003")
        self.assertEqual(self.vault.requests(), [])


class VaultAgentTest(VaultTestBase):
    """runguardd does the Vault I/O, renews leases while the container runs, revokes on delete."""

    def setUp(self):
        super().setUp()
        if not os.access(RUNGUARDD, os.X_OK):
            self.skipTest("runguardd not built at " + RUNGUARDD)
        self.agent_socket = os.path.join(self.tmp, "agent.sock")
        self.internal_socket = os.path.join(self.tmp, "agent.internal.sock")

    def start_agent(self):
        self.agent = Agent(self, self.policy_path).start()
        self.addCleanup(self.agent.kill, signal.SIGTERM)
        return self.agent

    def test_fetch_renew_and_revoke_through_the_agent(self):
        self.vault.add_dynamic_role("database", "short", ttl=3, max_ttl=600)
        self.write_vault_policy(extra="")
        self.secrets_policy(
            "backend: vault\nvault:\n  address: %s\n  timeout: 2s\n  auth: { method: token, tokenFile: %s }\n"
            "allow:\n  - { match: {}, paths: ['kv/data/app/*', 'database/creds/*'] }" % (self.vault.address, self.token_file))
        self.start_agent()
        b = self.bundle_with({ANNOTATION + "db-password": "vault:kv/data/app/db#password",
                              ANNOTATION + "db-creds": "vault:database/creds/short"})
        b.set_args("sleep", "30")
        b.write()
        cid = self.new_id()
        p = self.runguard(["create", "--bundle", b.path, cid], log=b.log, detached=True)
        self.assertEqual(p.returncode, 0, b.log_text() + self.agent.log_text())
        self.assertEqual(self.runguard(["start", cid], log=b.log).returncode, 0)
        self.wait_status(cid, "running")
        p = self.runguard(["exec", cid, "cat", "/run/secrets/db-password"])
        self.assertEqual(p.stdout, KV_VALUE)
        # Renewed at 2/3 of its 3 s TTL while the container runs.
        deadline = time.monotonic() + 10
        renewed = False
        while time.monotonic() < deadline and not renewed:
            renewed = any(l["renewals"] > 0 for l in self.vault.leases()["active"])
            time.sleep(0.2)
        self.assertTrue(renewed, "runguardd did not renew the lease:\n" + self.agent.log_text())
        lease = self.vault.leases()["active"][0]["lease_id"]
        self.assertNoSecretLeaks(cid, b, self.pid_of(cid))
        self.delete(cid)
        self.assertIn(lease, self.vault.leases()["revoked"])
        self.assertStateDirEmpty()
        self.assertNotIn(KV_VALUE, self.agent.log_text())

    def test_refresh_rewrites_the_file_in_place(self):
        self.write_vault_policy(extra="refresh: 10s\n")
        self.start_agent()
        b = self.bundle_with({ANNOTATION + "db-password": "vault:kv/data/app/db#password"})
        b.set_args("sleep", "60")
        b.write()
        cid = self.new_id()
        self.assertEqual(self.runguard(["create", "--bundle", b.path, cid], log=b.log, detached=True).returncode, 0,
                         b.log_text() + self.agent.log_text())
        self.assertEqual(self.runguard(["start", cid], log=b.log).returncode, 0)
        self.vault.put_kv2("kv", "app/db", {"password": "rotated-" + KV_VALUE})
        deadline = time.monotonic() + 25
        value = None
        while time.monotonic() < deadline:
            value = self.runguard(["exec", cid, "cat", "/run/secrets/db-password"]).stdout
            if value != KV_VALUE:
                break
            time.sleep(0.5)
        self.assertEqual(value, "rotated-" + KV_VALUE, "runguardd did not refresh the file:\n" + self.agent.log_text())
        self.delete(cid)
        self.assertStateDirEmpty()


class ContainerdSecretsTest(unittest.TestCase):
    """The same through a real containerd: its shim runs runguard, runguard runs the helper."""

    @classmethod
    def setUpClass(cls):
        from containerd import Containerd, containerd_skip_reason
        reason = containerd_skip_reason()
        if reason:
            raise unittest.SkipTest(reason)
        import shutil
        import tempfile
        cls.tmp = tempfile.mkdtemp(prefix="rg-ctrd-secrets-", dir="/tmp")
        os.chmod(cls.tmp, 0o755)
        cls.state_dir = os.path.join(cls.tmp, "state")
        cls.policy_path = os.path.join(cls.tmp, "policy.yaml")
        cls.vault = VaultStandin().start()
        cls.token = cls.vault.add_token(paths=["kv/data/app/*", "database/creds/*", "sys/leases/*"])["token"]
        cls.token_file = os.path.join(cls.tmp, "vault-token")
        with open(cls.token_file, "w") as f:
            f.write(cls.token)
        cls.vault.put_kv2("kv", "app/db", {"password": KV_VALUE})
        cls.vault.add_dynamic_role("database", "ro", ttl=3600)
        with open(cls.policy_path, "w") as f:
            f.write("stateDir: %s\nlibDir: %s-lib\nevents: { path: %s/events.jsonl }\nruntime:\n  path: %s\n%s"
                    "secrets:\n  backend: vault\n  vault: { address: %s, timeout: 2s, auth: { method: token, tokenFile: %s } }\n"
                    "  allow: [ { match: {}, paths: ['kv/data/app/*', 'database/creds/ro'] } ]\n"
                    % (cls.state_dir, cls.state_dir, cls.tmp, RUNC, agent_settings(cls.tmp), cls.vault.address, cls.token_file))
        cls.ctrd = Containerd(env={"RUNGUARD_CONFIG": cls.policy_path}, namespaces=["rgsec"])
        try:
            cls.ctrd.start()
            cls.ctrd.import_image("rgsec")
        except BaseException:
            cls.ctrd.stop()
            cls.ctrd.remove_dir()
            cls.vault.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        import shutil
        problems = cls.ctrd.stop()
        state = sorted(os.listdir(cls.state_dir)) if os.path.isdir(cls.state_dir) else []
        cls.ctrd.remove_dir()
        cls.vault.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        msgs = list(problems) + (["runguard state left: %s" % state] if state else [])
        if msgs:
            raise AssertionError("containerd teardown: " + "; ".join(msgs))

    def run_ctr(self, name, annotations, script):
        from containerd import IMAGE_REF
        cid = "%s-%d" % (name, os.getpid())
        self.addCleanup(self.ctrd.remove_container, "rgsec", cid)
        args = ["run", "--rm"]
        for k, v in annotations.items():
            args += ["--annotation", "%s=%s" % (k, v)]
        args += self.ctrd.run_flags() + [IMAGE_REF, cid, "sh", "-c", script]
        return cid, self.ctrd.ctr(args, ns="rgsec")

    def containerd_mounts(self):
        with open("/proc/%d/mountinfo" % self.ctrd.proc.pid) as f:
            return [l.split()[4] for l in f if self.state_dir in l]

    def test_container_reads_its_secrets_and_the_lease_is_revoked(self):
        cid, p = self.run_ctr("sec", {ANNOTATION + "db": "vault:kv/data/app/db#password",
                                      ANNOTATION + "creds": "vault:database/creds/ro"},
                              "id -u; cat /run/secrets/db; echo; cat /run/secrets/creds")
        self.assertEqual(p.returncode, 0, p.stderr + self.ctrd.log_tail(20))
        uid, value, creds = p.stdout.splitlines()
        self.assertNotEqual(uid, "0")
        self.assertEqual(value, KV_VALUE)
        self.assertIn("username", json.loads(creds))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.vault.leases()["active"]:
            time.sleep(0.1)
        self.assertEqual(self.vault.leases()["active"], [], "the lease outlived the container")
        self.assertEqual(self.containerd_mounts(), [], "the secrets tmpfs outlived the container")
        self.assertFalse(os.path.exists(os.path.join(self.state_dir, cid)))
        with open(self.ctrd.log_path, errors="replace") as f:
            self.assertNotIn(KV_VALUE, f.read())

    def test_sealed_vault_refuses_the_container(self):
        self.vault.fault(sealed=True)
        self.addCleanup(self.vault.fault, clear=True)
        cid, p = self.run_ctr("sealed", {ANNOTATION + "db": "vault:kv/data/app/db#password"}, "true")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("sealed", p.stderr)
        self.assertEqual(self.containerd_mounts(), [])
        self.assertFalse(os.path.exists(os.path.join(self.state_dir, cid)))


if __name__ == "__main__":
    unittest.main()
