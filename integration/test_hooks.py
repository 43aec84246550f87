"""runguard-hook check as a deny-only OCI hook, registered through podman's hooks.d.

podman runs plain runc here (`--runtime /usr/sbin/runc`), so only the hook protects: it is the
shipped deploy/podman/hooks.d/runguard.json with its paths rewritten (the hook binary and the
--policy file), so the shipped file cannot rot. The policy is runguard's default: podman 4.3 can
satisfy every default control with flags (podman.COMPLIANT), so no hook-mode exceptions are needed.
"""

import json
import os
import unittest

import podman
from podman import COMPLIANT, RUNC, RUNGUARD_HOOK, PodmanTestCase, shipped_hook


class HooksTest(PodmanTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.hooks_dir = os.path.join(cls.tmp, "hooks.d")
        os.makedirs(cls.hooks_dir)
        cls.shipped, hook = shipped_hook(RUNGUARD_HOOK, cls.policy_path)
        with open(os.path.join(cls.hooks_dir, "runguard.json"), "w") as f:
            json.dump(hook, f)
        # A permissive policy handed to runc's environment (which a hook without `env` inherits):
        # --policy in the hooks.d file must win over it.
        cls.audit_policy = cls.write_policy("mode: audit\n", os.path.join(cls.tmp, "audit.yaml"))
        cls.store.write_containers_conf(
            '[engine]\nconmon_env_vars = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", '
            '"RUNGUARD_CONFIG=%s"]\n' % cls.audit_policy)

    def setUp(self):
        self.write_policy()  # every control at its default; tests may change it

    def flags(self):
        return ["--runtime", RUNC, "--hooks-dir", self.hooks_dir]

    def run_refused(self, run_flags):
        cid, p = self.run_container(run_flags, ["sh", "-c", "echo started"], global_flags=self.flags())
        self.assertIsNotNone(cid, "podman should have created the container: " + p.stderr)
        self.assertNotEqual(p.returncode, 0, "the hook should have refused the container:\n" + p.stdout)
        self.assertNotIn("started", p.stdout)
        self.assertIn("error running hook", p.stderr)
        self.assertNoRuncState(cid)
        return cid, p.stderr

    def test_shipped_hook_file(self):
        # OCI hooks.d 1.0.0 (podman, CRI-O): createRuntime runs in runc create, before the
        # container's process, in the runtime's namespaces, and its failure stops the container.
        self.assertEqual(self.shipped["version"], "1.0.0")
        self.assertEqual(self.shipped["hook"]["path"], podman.INSTALLED_HOOK)
        self.assertEqual(self.shipped["hook"]["args"],
                         ["runguard-hook", "check", "--policy", podman.INSTALLED_POLICY])
        self.assertGreater(self.shipped["hook"]["timeout"], 0)
        self.assertNotIn("env", self.shipped["hook"])
        self.assertEqual(self.shipped["when"], {"always": True})
        self.assertEqual(self.shipped["stages"], ["createRuntime"])

    def test_compliant_container_runs(self):
        p, probe = self.run_probe(COMPLIANT + ["--ulimit", "nofile=16384:16384"], global_flags=self.flags(), rm=False)
        self.assertHardened(probe, nofile="16384")

    def test_hook_is_in_the_spec(self):
        # podman wrote the hook from the hooks.d file into config.json, for runc to run.
        cid, p = self.run_container(COMPLIANT, ["true"], global_flags=self.flags())
        self.assertEqual(p.returncode, 0, p.stderr)
        hooks = self.store.bundle_config(cid)["hooks"]["createRuntime"]
        self.assertEqual([h["path"] for h in hooks], [RUNGUARD_HOOK])
        self.assertEqual(hooks[0]["args"], ["runguard-hook", "check", "--policy", self.policy_path])

    def test_root_container_is_refused(self):
        # podman's defaults: every enforce control would have had to change the spec. Each is
        # named, with what to set instead.
        cid, err = self.run_refused([])
        prefix = "runguard: container %s denied by policy %s: " % (cid, self.policy_path)
        self.assertIn(prefix + "the container shares the host's user namespace; mapping container ids 0-65535 to "
                      "host ids 1073741824-1073807359 [RG-USERNS-001] (deny-only hook: run the container in a user "
                      "namespace of its own", err)
        self.assertIn("process runs as root (uid 0); run it as uid 65532 [RG-USER-001] (deny-only hook: "
                      "set /process/user/uid to a non-root uid such as 65532: podman run --user 65532:65532, "
                      "Kubernetes securityContext.runAsUser: 65532)", err)
        for needle in ["[RG-CAPS-001] (deny-only hook: keep every set in /process/capabilities within "
                       "[CAP_NET_BIND_SERVICE]: podman run --cap-drop all --cap-add NET_BIND_SERVICE",
                       "[RG-NNP-001] (deny-only hook: set /process/noNewPrivileges to true: podman run "
                       "--security-opt no-new-privileges",
                       "[RG-RES-001] (deny-only hook: set /linux/resources/memory/limit (runguard's default is "
                       "512Mi, at most 8Gi): podman run --memory 512m",
                       "[RG-RES-002] (deny-only hook: set /linux/resources/cpu/shares"]:
            self.assertIn(needle, err)
        self.assertEqual(err.count("--cap-drop all"), 1, "one remedy for the three capability sets")

    def test_one_missing_flag_is_named_alone(self):
        cid, err = self.run_refused([f for f in COMPLIANT if f not in ("--security-opt", "no-new-privileges")])
        self.assertIn("denied by policy %s: noNewPrivileges is not set: setuid binaries and file capabilities can "
                      "raise privileges [RG-NNP-001] (deny-only hook: " % self.policy_path, err)
        self.assertNotIn("RG-USER", err)

    def test_denied_mount_has_the_runtimes_message(self):
        # A deny control: the same words runguard the runtime uses, nothing added.
        cid, err = self.run_refused(COMPLIANT + ["-v", "/etc:/host-etc"])
        self.assertIn("runguard: container %s denied by policy %s: bind mount of /etc at /host-etc: a sensitive "
                      "host directory [RG-MOUNT-001]\n" % (cid, self.policy_path), err)

    def test_policy_flag_beats_runc_environment(self):
        # RUNGUARD_CONFIG (audit mode) reaches the hook through conmon and runc; the hooks.d
        # file's --policy is what counts, so root is still refused.
        cid, err = self.run_refused([])
        self.assertIn("denied by policy %s:" % self.policy_path, err)
        self.assertNotIn(self.audit_policy, err)

    def test_without_policy_flag_the_hook_inherits_runc_environment(self):
        # runc 1.1 runs a hook without `env` in runc's own environment (conmon's, from
        # conmon_env_vars): without --policy, RUNGUARD_CONFIG there (the audit policy) decides.
        # This is why the shipped file names the policy.
        hooks_dir = os.path.join(self.tmp, "hooks-env.d")
        os.makedirs(hooks_dir, exist_ok=True)
        _, hook = shipped_hook(RUNGUARD_HOOK)
        hook["hook"]["args"] = ["runguard-hook", "check"]
        with open(os.path.join(hooks_dir, "runguard.json"), "w") as f:
            json.dump(hook, f)
        cid, p = self.run_container([], ["sh", "-c", "echo started"],
                                    global_flags=["--runtime", RUNC, "--hooks-dir", hooks_dir])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), "started")

    def test_audit_mode_policy_refuses_nothing(self):
        self.write_policy("mode: audit\n")
        cid, p = self.run_container([], ["sh", "-c", "echo started"], global_flags=self.flags())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), "started")

    def test_broken_policy_refuses(self):
        # Fail closed: a policy mistake never lets containers through unchecked.
        self.write_policy("controls:\n  capabilities:\n    allow: [CAP_SYS_ADMN]\n")
        cid, err = self.run_refused(COMPLIANT)
        self.assertIn("runguard: " + self.policy_path, err)
        self.assertIn("did you mean CAP_SYS_ADMIN?", err)


if __name__ == "__main__":
    unittest.main()
