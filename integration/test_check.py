"""`runguardctl check`: the policy engine offline, as a CI gate.

It must give the verdict the runtime gives on the node (same findings, same ids), print the JSON,
SARIF and text forms the issue names, exit 0 / 1 / 2 for allowed / denied / usage or input
errors, never write to the bundle, and never print a secret's value.
"""

import json
import os
import subprocess
import unittest

from harness import RUNGUARD_BIN, RunguardTestCase

RUNGUARDCTL = os.path.join(RUNGUARD_BIN, "runguardctl")
SECRET = "hunter2-correct-horse"


class CheckTest(RunguardTestCase):

    def setUp(self):
        super().setUp()
        self.b = self.bundle()
        self.b.set_args("sh", "-c", "id -u")
        self.b.add_env("DB_PASSWORD=" + SECRET)
        self.write_policy("secretsInEnv: { action: enforce }")

    def check(self, *args, env=None):
        return subprocess.run([RUNGUARDCTL, "check"] + list(args), capture_output=True, text=True,
                              env=env or self.env(), stdin=subprocess.DEVNULL, timeout=30)

    def deny_etc(self):
        self.b.spec["mounts"].append({"destination": "/host-etc", "type": "bind", "source": "/etc",
                                      "options": ["rbind", "ro"]})

    def test_json_output_for_an_allowed_bundle(self):
        before = self.b.write()
        p = self.check("--format", "json", self.b.path)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertIs(out["allowed"], True)
        self.assertTrue(out["findings"] and out["mutations"])
        for f in out["findings"]:
            self.assertLessEqual({"id", "control", "severity", "action", "message", "pointer"}, set(f))
        ids = {f["id"] for f in out["findings"]}
        self.assertLessEqual({"RG-USER-001", "RG-SECCOMP-001", "RG-ENV-001", "RG-RES-001"}, ids)
        self.assertEqual(self.b.config_bytes(), before, "check must not write the bundle")
        self.assertNotIn(SECRET, p.stdout + p.stderr)

    def test_denied_bundle_exits_1_in_every_format(self):
        self.deny_etc()
        self.b.write()
        for fmt in ("text", "json", "sarif"):
            p = self.check("--format", fmt, os.path.join(self.b.path, "config.json"))
            self.assertEqual(p.returncode, 1, fmt + ": " + p.stderr)
            self.assertIn("RG-MOUNT-001", p.stdout)
            self.assertNotIn(SECRET, p.stdout)
        text = self.check(self.b.path).stdout
        self.assertIn("DENIED", text)
        self.assertIn("bind mount of /etc at /host-etc", text)

    def test_sarif_shape(self):
        self.deny_etc()
        self.b.write()
        sarif = json.loads(self.check("--format", "sarif", self.b.path).stdout)
        self.assertEqual(sarif["version"], "2.1.0")
        run = sarif["runs"][0]
        self.assertEqual(run["tool"]["driver"]["name"], "runguard")
        rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
        self.assertIn("CIS-Docker-1.6.0-5.6", rules["RG-MOUNT-001"]["properties"]["tags"])
        levels = {r["ruleId"]: r["level"] for r in run["results"]}
        self.assertEqual(levels["RG-MOUNT-001"], "error")    # deny
        self.assertEqual(levels["RG-USER-001"], "warning")   # enforce
        self.assertEqual(levels["RG-ROFS-001"], "note")      # audit
        loc = run["results"][0]["locations"][0]
        self.assertTrue(loc["physicalLocation"]["artifactLocation"]["uri"].endswith("config.json"))

    def test_same_verdict_as_the_runtime(self):
        # Allowed: the findings check reports are the ones runguard records at create.
        self.b.write()
        offline = json.loads(self.check("--format", "json", self.b.path).stdout)
        cid, p = self.run_container(self.b)
        self.assertEqual(p.returncode, 0, p.stderr + self.b.log_text())
        record = self.decision(cid)[0]["decision"]
        self.assertEqual(sorted((f["id"], f["pointer"], f["action"]) for f in offline["findings"]),
                         sorted((f["id"], f["pointer"], f["action"]) for f in record["findings"]))
        # Denied: the runtime refuses with the findings check marks deny.
        b2 = self.bundle("denied")
        b2.set_args("true")
        b2.spec["mounts"].append({"destination": "/s", "type": "bind", "source": "/run/containerd/containerd.sock"})
        b2.write()
        offline = json.loads(self.check("--format", "json", b2.path).stdout)
        self.assertIs(offline["allowed"], False)
        denied = [f["id"] for f in offline["findings"] if f["action"] == "deny"]
        p = self.runguard(["run", "--bundle", b2.path, self.new_id()], log=b2.log)
        self.assertEqual(p.returncode, 1)
        for finding_id in denied:
            self.assertIn("[" + finding_id + "]", p.stderr)

    def test_policy_flag_and_presets(self):
        self.b.write()
        presets = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "profiles", "policies")
        baseline = self.check("--policy", os.path.join(presets, "baseline.yaml"), "--format", "json", self.b.path)
        restricted = self.check("--policy", os.path.join(presets, "restricted.yaml"), "--format", "json", self.b.path)
        # baseline audits root and the password; restricted enforces non-root and refuses the password.
        self.assertEqual(baseline.returncode, 0, baseline.stderr)
        self.assertEqual(restricted.returncode, 1, restricted.stderr)
        user = [f for f in json.loads(baseline.stdout)["findings"] if f["id"] == "RG-USER-001"]
        self.assertEqual(user[0]["action"], "audit")

    def test_usage_and_input_errors_exit_2(self):
        self.b.write()
        bad_json = os.path.join(self.tmp, "bad.json")
        with open(bad_json, "w") as f:
            f.write('{"process": ')
        bad_policy = os.path.join(self.tmp, "bad-policy.yaml")
        with open(bad_policy, "w") as f:
            f.write("controls:\n  capabilities: { allow: [CAP_SYS_ADMN] }\n")
        cases = [
            ([], "no bundle"),
            (["--format", "xml", self.b.path], "--format"),
            (["--frobnicate", self.b.path], "unknown flag"),
            ([os.path.join(self.tmp, "missing")], os.path.join(self.tmp, "missing")),
            ([bad_json], bad_json),
            (["--policy", bad_policy, self.b.path], "did you mean CAP_SYS_ADMIN?"),
            (["--policy", os.path.join(self.tmp, "nope.yaml"), self.b.path], "nope.yaml"),
        ]
        for args, needle in cases:
            p = self.check(*args)
            self.assertEqual(p.returncode, 2, "%s: %s" % (args, p.stderr))
            self.assertIn(needle, p.stderr, args)
            self.assertEqual(p.stdout, "", args)


if __name__ == "__main__":
    unittest.main()
