"""podman end to end with runguard as its OCI runtime.

podman -> conmon -> runguard -> runc, from a private podman store (podman.py) and the shipped
deploy/podman/containers.conf (runtime path rewritten, RUNGUARD_CONFIG added through
conmon_env_vars). A probe inside the container asserts what runguard's default policy gives every
container; a denied container makes podman fail with runguard's exact message.
"""

import json
import os
import re
import unittest

import podman
from podman import COMPLIANT, RUNGUARD, PodmanTestCase, shipped_containers_conf


class PodmanRuntimeTest(PodmanTestCase):

    @classmethod
    def containers_conf(cls):
        return shipped_containers_conf(RUNGUARD, [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "RUNGUARD_CONFIG=" + cls.policy_path])

    def runtime_flag(self):
        return ["--runtime", RUNGUARD]

    def assertStateDirEmpty(self):
        entries = os.listdir(self.state_dir) if os.path.isdir(self.state_dir) else []
        self.assertEqual(entries, [], "runguard left state behind in " + self.state_dir)

    def test_default_container_is_hardened(self):
        # podman's defaults: root, 11 capabilities, no NNP, no memory limit, pids 2048 (allowed:
        # below the policy's maximum of 32768). --pids-limit -1 asks for none, so the policy's
        # default 1024 applies, as in the runtime's own tests.
        p, probe = self.run_probe(["--pids-limit", "-1"], global_flags=self.runtime_flag())
        self.assertHardened(probe)
        self.assertEqual(probe.env.get("container"), "podman", "podman's own spec settings are kept")
        # --rm: podman deleted the container through runguard, which released its state.
        self.assertStateDirEmpty()

    def test_limits_podman_sets_are_clamped_or_kept(self):
        # 100000 pids is above the policy's maximum (32768): clamped. podman's nofile is kept
        # (the policy sets a default only when it is absent).
        p, probe = self.run_probe(["--pids-limit", "100000", "--memory", "16g"], global_flags=self.runtime_flag())
        self.assertEqual(probe.pids_max, "32768")
        self.assertEqual(probe.memory_limit, 8 << 30)
        self.assertEqual(probe.nofile, "1024")

    def test_default_runtime_from_shipped_containers_conf(self):
        # No --runtime: the shipped containers.conf makes runguard podman's default runtime.
        info = self.podman(["info", "--format", "{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Path}}"])
        self.assertEqual(info.returncode, 0, info.stderr)
        self.assertEqual(info.stdout.split(), ["runguard", RUNGUARD])
        p, probe = self.run_probe(["--pids-limit", "-1"])
        self.assertHardened(probe)

    def test_decision_record_while_running(self):
        # A detached container: its decision record says podman, the changes runguard made, and
        # the poststop hook runguard added; `podman rm -f` (kill + delete through runguard)
        # releases the record.
        name = self.new_name()
        p = self.podman(["--runtime", RUNGUARD, "run", "-d", "--name", name, "--network", "none"] + podman.ULIMITS +
                        [podman.IMAGE, "sleep", "60"])
        self.assertEqual(p.returncode, 0, p.stderr)
        cid = self.store.container_id(name)
        self.assertIsNotNone(cid)
        path = os.path.join(self.state_dir, cid, "decision.json")
        self.assertTrue(os.path.isfile(path), "no decision record at " + path)
        with open(path) as f:
            record = json.load(f)
        self.assertEqual(record["context"]["engine"], "podman")
        self.assertTrue(record["decision"]["allowed"])
        ids = {f["id"] for f in record["decision"]["findings"] if f["action"] == "enforce"}
        self.assertLessEqual({"RG-USER-001", "RG-CAPS-001", "RG-NNP-001", "RG-RES-001"}, ids)
        config = self.store.bundle_config(cid)
        self.assertEqual(config["process"]["user"]["uid"], 65532)
        hooks = config.get("hooks", {}).get("poststop", [])
        self.assertIn(os.path.join(os.path.dirname(RUNGUARD), "runguard-hook"), [h["path"] for h in hooks])
        p = self.podman(["rm", "-f", "-t", "0", name])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.state_dir, cid)), "state not released by podman rm")
        self.assertNoRuncState(cid)

    def test_compliant_container_needs_no_change(self):
        # The flags runguard-hook's refusals ask for: runguard finds nothing to enforce.
        name = self.new_name()
        p = self.podman(["--runtime", RUNGUARD, "run", "-d", "--name", name, "--network", "none",
                         "--ulimit", "nofile=16384:16384", "--ulimit", "nproc=1024:1024"] + COMPLIANT +
                        [podman.IMAGE, "sleep", "60"])
        self.assertEqual(p.returncode, 0, p.stderr)
        cid = self.store.container_id(name)
        with open(os.path.join(self.state_dir, cid, "decision.json")) as f:
            record = json.load(f)
        # The monitor is runguard's own addition, not something the spec failed to do.
        enforced = [f for f in record["decision"]["findings"] if f["action"] != "audit" and f["control"] != "monitor"]
        self.assertEqual(enforced, [])

    def test_denied_container(self):
        # -v /etc:/host-etc: podman fails, and its error carries runguard's message verbatim.
        cid, p = self.run_container(["-v", "/etc:/host-etc"], ["sh", "-c", "echo started"],
                                    global_flags=self.runtime_flag())
        self.assertIsNotNone(cid, "podman should have created the container: " + p.stderr)
        self.assertNotEqual(p.returncode, 0)
        self.assertNotIn("started", p.stdout)
        expected = ("runguard: container %s denied by policy %s: bind mount of /etc at /host-etc: "
                    "a sensitive host directory [RG-MOUNT-001]" % (cid, self.policy_path))
        self.assertIn(expected, p.stderr)
        self.assertTrue(p.stderr.startswith("Error: OCI runtime error: "), p.stderr)
        self.assertStateDirEmpty()
        self.assertNoRuncState(cid)
        # runguard wrote the same message as the last JSON error line of podman's runtime log.
        log = os.path.join(self.store.runroot, "vfs-containers", cid, "userdata", "oci-log")
        with open(log) as f:
            lines = [l for l in f.read().splitlines() if l.strip()]
        last = json.loads(lines[-1])
        self.assertEqual((last["level"], last["msg"]), ("error", expected))

    def test_denied_container_without_json_log(self):
        # A runtime podman does not ask for JSON logs (any name outside runtime_supports_json):
        # runguard's stderr line is what podman shows.
        link = os.path.join(self.tmp, "rg-runtime")
        if not os.path.exists(link):
            os.symlink(RUNGUARD, link)
        cid, p = self.run_container(["-v", "/etc:/host-etc"], ["true"], global_flags=["--runtime", link])
        self.assertNotEqual(p.returncode, 0)
        self.assertRegex(p.stderr, re.escape("runguard: container %s denied by policy %s: bind mount of /etc at "
                                             "/host-etc" % (cid, self.policy_path)))


if __name__ == "__main__":
    unittest.main()
