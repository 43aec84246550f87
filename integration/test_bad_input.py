"""Broken input: a broken bundle, a broken policy, a missing runtime.

Each must fail cleanly: exit status 1 (2 tolerated for usage errors), one clear line on stderr
naming the file at fault (and the JSON pointer for a type error), the same message as the last
runc-style JSON error line of --log, config.json unchanged, nothing in stateDir and no container.
"""

import json
import os
import unittest

from harness import RunguardTestCase


class BadInputTest(RunguardTestCase):

    def setUp(self):
        super().setUp()
        self.b = self.bundle()
        self.b.set_args("sh", "-c", "echo started")
        self.b.write()

    def write_config_text(self, text):
        with open(self.b.config_path, "w") as f:
            f.write(text)

    def assertFails(self, *needles, command="run", env=None):
        """Runs `runguard <command> --bundle B id` and checks the failure contract."""
        before = self.b.config_bytes() if os.path.isfile(self.b.config_path) else None
        cid = self.new_id()
        p = self.runguard([command, "--bundle", self.b.path, cid], log=self.b.log, env=env)
        self.assertIn(p.returncode, (1, 2), "exit status; stderr: %s" % p.stderr)
        err = [l for l in p.stderr.splitlines() if l.strip()]
        self.assertEqual(len(err), 1, "expected one line on stderr, got %r" % err)
        for n in needles:
            self.assertIn(n, err[0])
        self.assertNotIn("started", p.stdout)
        # The same message as runc-style JSON, last in --log.
        lines = self.b.log_lines()
        self.assertTrue(lines, "nothing in --log")
        last = json.loads(lines[-1])
        self.assertEqual(last["level"], "error")
        self.assertEqual(last["msg"], err[0])
        self.assertIn("time", last)
        if before is not None:
            self.assertEqual(self.b.config_bytes(), before, "config.json changed")
        self.assertStateDirEmpty()
        self.assertNotIn(cid, self.runc_list_ids())
        return err[0]

    # -- the bundle --
    def test_missing_config(self):
        os.unlink(self.b.config_path)
        self.assertFails(self.b.config_path)
        self.assertFalse(os.path.exists(self.b.config_path))

    def test_missing_bundle(self):
        missing = os.path.join(self.tmp, "no-such-bundle")
        cid = self.new_id()
        p = self.runguard(["create", "--bundle", missing, cid], log=self.b.log)
        self.assertRuncError(p, self.b, missing)
        self.assertStateDirEmpty()

    def test_config_is_a_directory(self):
        os.unlink(self.b.config_path)
        os.mkdir(self.b.config_path)
        self.assertFails(self.b.config_path)
        self.assertTrue(os.path.isdir(self.b.config_path))
        self.assertEqual(os.listdir(self.b.config_path), [])

    def test_invalid_json(self):
        self.write_config_text('{"ociVersion": "1.0.2", "process": {')
        self.assertFails(self.b.config_path)

    def test_json_array(self):
        self.write_config_text("[1, 2, 3]\n")
        msg = self.assertFails(self.b.config_path)
        self.assertIn("object", msg)

    def test_wrong_type_uid(self):
        self.b.process["user"]["uid"] = "0"
        self.b.write()
        msg = self.assertFails(self.b.config_path, "/process/user/uid")
        self.assertIn("string", msg)

    def test_wrong_type_capabilities(self):
        self.b.process["capabilities"]["bounding"] = "CAP_SYS_ADMIN"
        self.b.write()
        self.assertFails(self.b.config_path, "/process/capabilities/bounding")

    def test_wrong_type_memory_limit(self):
        self.b.spec["linux"]["resources"]["memory"] = {"limit": "1g"}
        self.b.write()
        self.assertFails(self.b.config_path, "/linux/resources/memory/limit")

    def test_wrong_type_create(self):
        self.b.spec["mounts"][0]["source"] = 42
        self.b.write()
        self.assertFails(self.b.config_path, "/mounts/0/source", command="create")

    # -- the policy --
    def test_policy_unknown_capability(self):
        self.write_policy("capabilities: {action: enforce, allow: [CAP_NET_BIND_SERVICE, CAP_FLY]}")
        msg = self.assertFails(self.policy_path, "CAP_FLY")
        self.assertIn("controls.capabilities.allow[1]", msg)

    def test_policy_bad_yaml(self):
        self.write_policy(raw="stateDir: %s\ncontrols: {user: [\n" % self.state_dir)
        msg = self.assertFails(self.policy_path)
        self.assertIn("YAML", msg)

    def test_policy_unknown_key(self):
        self.write_policy("usr: {action: enforce}")
        self.assertFails(self.policy_path, "controls.usr")

    def test_policy_bad_action(self):
        self.write_policy("seccomp: {action: sometimes}")
        self.assertFails(self.policy_path, "controls.seccomp.action", "sometimes")

    def test_policy_missing_file(self):
        missing = os.path.join(self.tmp, "missing-policy.yaml")
        self.assertFails(missing, "RUNGUARD_CONFIG", env=self.env(RUNGUARD_CONFIG=missing))

    # Regression: exec and update once read the named-policy flag before it was set and ran on
    # the embedded defaults when RUNGUARD_CONFIG named a missing file.
    def test_policy_missing_file_on_exec(self):
        # exec and update load the full policy too: a missing named policy is an error.
        missing = os.path.join(self.tmp, "missing-policy.yaml")
        p = self.runguard(["exec", "no-such-container", "true"], log=self.b.log,
                          env=self.env(RUNGUARD_CONFIG=missing))
        self.assertRuncError(p, self.b, missing)

    def test_policy_missing_file_on_update(self):
        missing = os.path.join(self.tmp, "missing-policy.yaml")
        p = self.runguard(["update", "--memory", "1g", "no-such-container"], log=self.b.log,
                          env=self.env(RUNGUARD_CONFIG=missing))
        self.assertRuncError(p, self.b, missing)

    def test_policy_invalid_on_exec(self):
        # A policy that exists but is broken is reported by exec (the path through load_policy
        # that does not depend on explicit_path).
        self.write_policy("capabilities: {allow: [CAP_FLY]}")
        p = self.runguard(["exec", "no-such-container", "true"], log=self.b.log)
        self.assertRuncError(p, self.b, self.policy_path, "CAP_FLY")

    # -- the real runtime --
    def test_missing_runtime(self):
        self.write_policy(raw="stateDir: %s\nruntime:\n  path: /nonexistent/runc\n" % self.state_dir)
        self.assertFails("/nonexistent/runc")

    def test_missing_runtime_passthrough(self):
        self.write_policy(raw="stateDir: %s\nruntime:\n  path: /nonexistent/runc\n" % self.state_dir)
        p = self.runguard(["state", "whatever"], log=self.b.log)
        self.assertRuncError(p, self.b, "/nonexistent/runc")

    def test_bad_container_id(self):
        p = self.runguard(["run", "--bundle", self.b.path, "../escape"], log=self.b.log)
        self.assertRuncError(p, self.b, "../escape")
        self.assertStateDirEmpty()
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "escape")))


if __name__ == "__main__":
    unittest.main()
