"""Each control's effect, observed from inside a real container run through runguard.

The bundle asks for everything the policy forbids but does not deny by default: root, extra
capabilities (SYS_ADMIN, NET_RAW, ...) in every set, no_new_privs off, no seccomp, no memory/pids/
cpu limits, no RLIMIT_NOFILE, a writable root and a credential in the environment. The policy is
the embedded defaults (only stateDir and runtime.path set) plus `secretsInEnv: {action: enforce}`
so the credential does not get the container denied. Each control is then also switched off to
show the container gets what the spec asked: every assertion can fail.
"""

import json
import os
import resource
import secrets
import unittest

from harness import (MEM_UNLIMITED_V1, NET_BIND_SERVICE_MASK, CAP_BIT, RunguardTestCase)

ASKED_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_SETUID", "CAP_SETGID", "CAP_NET_RAW", "CAP_SYS_ADMIN",
              "CAP_KILL", "CAP_AUDIT_WRITE", "CAP_NET_BIND_SERVICE"]
SYS_ADMIN = 1 << CAP_BIT["CAP_SYS_ADMIN"]
NET_RAW = 1 << CAP_BIT["CAP_NET_RAW"]

DEFAULT_CONTROLS = "secretsInEnv: {action: enforce}"


class ControlsTest(RunguardTestCase):

    def setUp(self):
        super().setUp()
        self.secret = "s3cr3t-" + secrets.token_hex(12)
        self.b = self.bundle()
        p = self.b.process
        caps = list(ASKED_CAPS)
        p["capabilities"] = {s: list(caps) for s in ("bounding", "effective", "permitted", "inheritable", "ambient")}
        p["noNewPrivileges"] = False
        self.b.remove_rlimit("RLIMIT_NOFILE")
        self.b.add_env("DB_PASSWORD=" + self.secret)
        self.b.spec["root"]["readonly"] = False
        # Fields runguard knows nothing about must survive the rewrite.
        self.b.spec["x-runguard-it"] = {"keep": [1, "two"]}
        self.b.process["x-unknown"] = "kept"
        os.chmod(self.b.rootfs, 0o777)  # so only a read-only mount can stop `touch /x`
        self.write_policy(DEFAULT_CONTROLS)

    def probe(self, controls=None, preexec_fn=None):
        if controls is not None:
            # The test's controls replace the default line for the same control (a policy with a
            # key twice is an error).
            base = "" if controls.lstrip().startswith("secretsInEnv:") else DEFAULT_CONTROLS + "\n"
            self.write_policy(base + controls)
        cid, pr = self.run_probe(self.b, preexec_fn=preexec_fn)
        return cid, pr

    def assertFinding(self, cid, finding_id, action="enforce", pointer=None):
        found = self.findings(cid, finding_id)
        self.assertTrue(found, "no %s finding in decision.json" % finding_id)
        self.assertIn(action, [f["action"] for f in found])
        if pointer:
            self.assertIn(pointer, [f["pointer"] for f in found])

    def assertNoFinding(self, cid, finding_id):
        self.assertEqual(self.findings(cid, finding_id), [])

    # -- user --
    def test_user_enforced(self):
        cid, pr = self.probe()
        self.assertEqual(pr.uids(), [65532] * 4)
        self.assertEqual(pr.gids(), [65532] * 4)
        self.assertFinding(cid, "RG-USER-001", pointer="/process/user/uid")
        self.assertEqual(self.b.read_config()["process"]["user"], {"uid": 65532, "gid": 65532})
        # In the user namespace runguard added (the default): 0-65535 inside, a private range outside.
        (inside, outside, size), = [l.split() for l in pr.sections["uid_map"]]
        self.assertEqual((inside, size), ("0", "65536"))
        self.assertGreaterEqual(int(outside), 1073741824)

    def test_user_custom_uid(self):
        cid, pr = self.probe("user: {action: enforce, uid: 1234, gid: 4321}")
        self.assertEqual(pr.uids(), [1234] * 4)
        self.assertEqual(pr.gids(), [4321] * 4)

    def test_user_off(self):
        cid, pr = self.probe("user: {action: off}")
        self.assertEqual(pr.uids(), [0] * 4)
        self.assertNoFinding(cid, "RG-USER-001")

    # -- capabilities --
    def test_capabilities_enforced(self):
        cid, pr = self.probe()
        for name in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"):
            self.assertCapsAtMost(pr.cap(name), NET_BIND_SERVICE_MASK, name)
        self.assertEqual(pr.cap("CapBnd"), NET_BIND_SERVICE_MASK)
        self.assertFinding(cid, "RG-CAPS-001", pointer="/process/capabilities/bounding")
        caps = self.b.read_config()["process"]["capabilities"]
        for s in ("bounding", "effective", "permitted", "inheritable", "ambient"):
            self.assertEqual(caps[s], ["CAP_NET_BIND_SERVICE"], s)

    def test_capabilities_allow_list(self):
        cid, pr = self.probe("capabilities: {action: enforce, allow: [NET_RAW, cap_net_bind_service]}")
        self.assertEqual(pr.cap("CapBnd"), NET_BIND_SERVICE_MASK | NET_RAW)

    def test_capabilities_off(self):
        # Root (user off) keeps its capabilities across exec, so CapEff shows them too.
        cid, pr = self.probe("capabilities: {action: off}\nuser: {action: off}")
        self.assertTrue(pr.cap("CapBnd") & SYS_ADMIN, "CapBnd %#x lacks SYS_ADMIN" % pr.cap("CapBnd"))
        self.assertTrue(pr.cap("CapEff") & SYS_ADMIN, "CapEff %#x lacks SYS_ADMIN" % pr.cap("CapEff"))
        self.assertNoFinding(cid, "RG-CAPS-001")

    # -- noNewPrivileges --
    def test_no_new_privileges_enforced(self):
        cid, pr = self.probe()
        self.assertEqual(pr.status["NoNewPrivs"], "1")
        self.assertFinding(cid, "RG-NNP-001")

    def test_no_new_privileges_off(self):
        cid, pr = self.probe("noNewPrivileges: {action: off}")
        self.assertEqual(pr.status["NoNewPrivs"], "0")

    # -- seccomp --
    def test_seccomp_enforced(self):
        cid, pr = self.probe()
        self.assertEqual(pr.status["Seccomp"], "2")
        self.assertFinding(cid, "RG-SECCOMP-001", pointer="/linux/seccomp")
        self.assertIn("syscalls", self.b.read_config()["linux"]["seccomp"])

    def test_seccomp_off(self):
        # The monitor's notify-only filter is a seccomp filter too: off here as well.
        cid, pr = self.probe("seccomp: {action: off}\nmonitor: {action: off}")
        self.assertEqual(pr.status["Seccomp"], "0")
        self.assertNotIn("seccomp", self.b.read_config()["linux"])

    def test_seccomp_off_monitor_on_installs_only_the_notify_filter(self):
        cid, pr = self.probe("seccomp: {action: off}")
        self.assertEqual(pr.status["Seccomp"], "2")
        s = self.b.read_config()["linux"]["seccomp"]
        self.assertEqual(s["defaultAction"], "SCMP_ACT_ALLOW")
        self.assertEqual([r["action"] for r in s["syscalls"]], ["SCMP_ACT_NOTIFY"])

    # -- resources --
    def test_memory_default(self):
        cid, pr = self.probe()
        self.assertEqual(pr.memory_limit, 536870912)
        self.assertFinding(cid, "RG-RES-001", pointer="/linux/resources/memory/limit")

    def test_memory_clamped_to_max(self):
        self.b.spec["linux"]["resources"]["memory"] = {"limit": 64 << 30}
        cid, pr = self.probe()
        self.assertEqual(pr.memory_limit, 8 << 30)

    def test_memory_below_max_kept(self):
        self.b.spec["linux"]["resources"]["memory"] = {"limit": 300 << 20}
        cid, pr = self.probe()
        self.assertEqual(pr.memory_limit, 300 << 20)
        self.assertNoFinding(cid, "RG-RES-001")

    def test_pids_default(self):
        cid, pr = self.probe()
        self.assertEqual(pr.pids_max, "1024")
        self.assertFinding(cid, "RG-RES-003", pointer="/linux/resources/pids/limit")

    def test_cpu_shares_default(self):
        cid, pr = self.probe()
        self.assertEqual(pr.cpu_shares, 1024)
        self.assertEqual(self.b.read_config()["linux"]["resources"]["cpu"]["shares"], 1024)
        self.assertFinding(cid, "RG-RES-002", pointer="/linux/resources/cpu/shares")

    def test_cpu_shares_configured(self):
        # 1024 is also the kernel's default; a different value proves the control reaches the cgroup.
        cid, pr = self.probe("resources: {cpu: {defaultShares: 512}}")
        self.assertEqual(pr.cpu_shares, 512)

    def test_nofile_default(self):
        cid, pr = self.probe()
        self.assertEqual(pr.nofile, "16384")
        self.assertFinding(cid, "RG-RES-004", pointer="/process/rlimits")

    def test_nofile_from_spec_kept(self):
        self.b.process["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 2000, "soft": 1500}]
        cid, pr = self.probe()
        self.assertEqual(pr.nofile, "1500")

    def test_resources_off(self):
        def low_nofile():
            resource.setrlimit(resource.RLIMIT_NOFILE, (2048, 2048))
        cid, pr = self.probe("resources: {action: off}", preexec_fn=low_nofile)
        self.assertEqual(pr.memory_limit, MEM_UNLIMITED_V1)
        self.assertEqual(pr.pids_max, "max")
        self.assertEqual(pr.nofile, "2048")  # inherited from runc, not the 16384 default
        resources = self.b.read_config()["linux"]["resources"]
        self.assertNotIn("memory", resources)
        self.assertNotIn("pids", resources)
        self.assertNotIn("cpu", resources)
        self.assertEqual([f for f in self.findings(cid) if f["control"] == "resources"], [])

    # -- readonlyRootfs --
    def test_readonly_rootfs_default_audits(self):
        cid, pr = self.probe()
        self.assertTrue(pr.writable)
        self.assertFinding(cid, "RG-ROFS-001", action="audit")
        self.assertFalse(self.b.read_config()["root"]["readonly"])

    def test_readonly_rootfs_enforced(self):
        cid, pr = self.probe("readonlyRootfs: {action: enforce}")
        self.assertFalse(pr.writable)
        self.assertIn("ro", pr.root_mount_options())
        self.assertFinding(cid, "RG-ROFS-001")
        self.assertTrue(self.b.read_config()["root"]["readonly"])

    def test_readonly_rootfs_off(self):
        cid, pr = self.probe("readonlyRootfs: {action: off}")
        self.assertTrue(pr.writable)
        self.assertNoFinding(cid, "RG-ROFS-001")

    # -- secretsInEnv --
    def test_secret_removed_from_env(self):
        cid, pr = self.probe()
        self.assertNotIn("DB_PASSWORD", pr.env)
        self.assertNotIn(self.secret, pr.text)
        self.assertEqual(pr.env.get("TERM"), "xterm")  # the rest of the environment is intact
        self.assertFinding(cid, "RG-ENV-001")
        _, record_text = self.decision(cid)
        self.assertIn("DB_PASSWORD", record_text)
        for what, text in (("decision.json", record_text), ("log.json", self.b.log_text()),
                           ("config.json", self.b.config_bytes().decode())):
            self.assertNotIn(self.secret, text, "the secret's value leaked into " + what)

    def test_secret_kept_when_off(self):
        cid, pr = self.probe("secretsInEnv: {action: off}")
        self.assertEqual(pr.env.get("DB_PASSWORD"), self.secret)
        self.assertNoFinding(cid, "RG-ENV-001")

    # -- the record and the rewritten spec --
    def test_decision_record(self):
        cid, pr = self.probe()
        record, text = self.decision(cid)
        self.assertEqual(record["id"], cid)
        self.assertEqual(record["command"], "run")
        self.assertEqual(record["policy"]["source"], self.policy_path)
        self.assertTrue(record["decision"]["allowed"])
        self.assertEqual(record["decision"]["mode"], "enforce")
        ids = {f["id"] for f in record["decision"]["findings"]}
        for want in ("RG-USER-001", "RG-CAPS-001", "RG-NNP-001", "RG-SECCOMP-001", "RG-RES-001", "RG-RES-003",
                     "RG-ENV-001", "RG-ROFS-001"):
            self.assertIn(want, ids)
        self.assertTrue(all(m["applied"] for m in record["decision"]["mutations"]))
        self.assertEqual(os.stat(os.path.join(self.container_state_dir(cid), "decision.json")).st_mode & 0o777, 0o600)
        # The info line in --log points at the record.
        info = [json.loads(l) for l in self.b.log_lines()]
        self.assertTrue(any(l["level"] == "info" and "decision.json" in l["msg"] for l in info), info)

    def test_unknown_fields_preserved(self):
        self.probe()
        cfg = self.b.read_config()
        self.assertEqual(cfg["x-runguard-it"], {"keep": [1, "two"]})
        self.assertEqual(cfg["process"]["x-unknown"], "kept")
        self.assertEqual(cfg["hostname"], "runguard-it")
        self.assertEqual(cfg["linux"]["maskedPaths"], self.b.spec["linux"]["maskedPaths"])

    def test_audit_mode_changes_nothing(self):
        self.b.use_probe()
        before = self.b.write()
        self.write_policy(DEFAULT_CONTROLS, extra="mode: audit\n")
        cid, pr = self.run_probe(self.b)  # writes the same bytes again
        self.assertEqual(self.b.config_bytes(), before)
        self.assertEqual(pr.uid(), 0)
        self.assertEqual(pr.status["Seccomp"], "0")
        record, _ = self.decision(cid)
        self.assertTrue(record["decision"]["findings"])
        self.assertTrue(all(f["action"] == "audit" for f in record["decision"]["findings"]))


if __name__ == "__main__":
    unittest.main()
