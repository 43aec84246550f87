"""Symlinks and path traversal against the real runtime (issue 9, docs/security.md).

Every path runguard touches that someone else shapes — the bundle (the engine), the image's files
(its author), a container-writable directory (the process inside), annotations and mounts (the
pod's author) — must resolve where runc resolves it or be refused, and never lead runguard onto
the host's files. Each test plants a link or a FIFO where runguard looks, and asserts that the
host file it points at is untouched, that the error (if any) names the path, and that nothing is
left behind (state directory, mounts, config.json as it was).
"""

import json
import os
import subprocess
import time
import unittest

from harness import RUNC, RUNGUARD_BIN, TIMEOUT, RunguardTestCase
from containerd import mounts_under

RUNGUARD_HOOK = os.path.join(RUNGUARD_BIN, "runguard-hook")
ENV_VALUE = "ghp_PathsTestSecretValue0123456789abcdef"

ID_RULE = """
- rule: Id run
  desc: test rule
  condition: evt.type = execve and proc.name = id
  output: id run by user=%user.name
  priority: WARNING
"""


class PathsTest(RunguardTestCase):

    def assertNothingLeft(self, bundle, config_before=None):
        self.assertStateDirEmpty()
        self.assertEqual(mounts_under(self.tmp), [], "mounts left under " + self.tmp)
        if config_before is not None:
            self.assertEqual(bundle.config_bytes(), config_before, "config.json must be left as it was")

    # -- the bundle --------------------------------------------------------------------------

    def test_symlinked_config_json_is_refused_and_its_target_untouched(self):
        b = self.bundle()
        b.set_args("true")
        target = os.path.join(self.tmp, "elsewhere.json")
        with open(target, "w") as f:
            json.dump(b.spec, f)
        with open(target, "rb") as f:
            before = f.read()
        os.symlink(target, b.config_path)
        cid = self.new_id()
        p = self.runguard(["create", "--bundle", b.path, cid], log=b.log)
        self.assertRuncError(p, b, b.config_path + " is a symlink", "bundle's own config.json")
        self.assertTrue(os.path.islink(b.config_path), "the link must not be replaced by a file")
        with open(target, "rb") as f:
            self.assertEqual(f.read(), before, "the link's target must not be rewritten")
        self.assertNotIn(cid, self.runc_list_ids())
        self.assertNothingLeft(b)

    def test_fifo_config_json_is_refused_without_hanging(self):
        b = self.bundle()
        os.mkfifo(b.config_path)
        start = time.monotonic()
        p = self.runguard(["create", "--bundle", b.path, self.new_id()], log=b.log, timeout=10)
        self.assertLess(time.monotonic() - start, 5)
        self.assertRuncError(p, b, "config.json is a FIFO")
        self.assertNothingLeft(b)

    def test_bundle_path_with_dotdot_resolves_physically_like_runc(self):
        # runc chdir()s into --bundle, so "link/.." is the link target's parent, not "." as a
        # lexical clean would make it. A decoy bundle sits where the lexical reading would land.
        real_parent = os.path.join(self.tmp, "real")
        os.makedirs(os.path.join(real_parent, "inner"))
        os.symlink(os.path.join(real_parent, "inner"), os.path.join(self.tmp, "link"))
        decoy = self.bundle("bundle")  # <tmp>/bundle: the lexical reading of <tmp>/link/../bundle
        decoy.set_args("sh", "-c", "echo decoy")
        decoy_bytes = decoy.write()
        from harness import Bundle
        real = Bundle(real_parent, "bundle")
        real.set_args("sh", "-c", "echo real-bundle")
        real.write()
        cid = self.new_id()
        p = self.runguard(["run", "--keep", "--bundle", os.path.join(self.tmp, "link", "..", "bundle"), cid], log=real.log)
        self.assertEqual(p.returncode, 0, p.stderr + real.log_text())
        self.assertIn("real-bundle", p.stdout)
        self.assertEqual(decoy.config_bytes(), decoy_bytes, "the decoy bundle must not be read or rewritten")
        record, _ = self.decision(cid)
        self.assertEqual(record["context"]["bundle"], real.path)

    def test_symlinked_rootfs_is_refused_as_runc_refuses_it(self):
        # With a user namespace runguard hands runc its own idmapped mount point, so runc's
        # "invalid rootfs: not an absolute path, or a symlink" check would see a clean path:
        # runguard must refuse the same bundles runc refuses.
        self.write_policy()
        b = self.bundle()
        os.symlink("rootfs", os.path.join(b.path, "rootfs-link"))
        b.spec["root"]["path"] = "rootfs-link"
        b.set_args("true")
        before = b.write()
        plain = self.runc(["create", "--bundle", b.path, self.new_id("plain")])
        self.assertNotEqual(plain.returncode, 0)
        self.assertIn("invalid rootfs", plain.stderr)
        p = self.runguard(["create", "--bundle", b.path, self.new_id()], log=b.log)
        self.assertRuncError(p, b, os.path.join(b.path, "rootfs-link") + " is a symlink", "point root.path at the real directory")
        self.assertNothingLeft(b, before)

    def test_original_root_annotation_cannot_make_the_host_root_the_containers(self):
        # dev.runguard.userns.original-root is runguard's record of a root.path it replaced; set by
        # a pod's author or `podman --annotation` beside the engine's own root.path it must not be
        # believed, or "/" would become the container's root filesystem.
        canary = os.path.join(self.tmp, "host-canary")
        with open(canary, "w") as f:
            f.write("host file\n")
        for controls in ("", "userNamespace: { action: off }"):
            with self.subTest(controls=controls or "defaults"):
                self.write_policy(controls)
                b = self.bundle("b-%d" % time.monotonic_ns())
                b.spec["annotations"] = {"dev.runguard.userns.original-root": "/"}
                b.set_args("cat", canary)
                before = b.write()
                cid = self.new_id()
                p = self.runguard(["run", "--bundle", b.path, cid], log=b.log)
                self.assertNotIn("host file", p.stdout, "the container saw the host's root filesystem")
                self.assertRuncError(p, b, "dev.runguard.userns.original-root", "may not choose the container's root filesystem")
                self.assertNothingLeft(b, before)

    def test_re_created_bundle_still_restores_its_root(self):
        # The annotation runguard wrote itself keeps working (a bundle run twice).
        self.write_policy()
        b = self.bundle()
        b.set_args("sh", "-c", "echo ran")
        b.write()
        for _ in range(2):
            cid, p = self.run_container(b, keep=False)
            self.assertEqual(p.returncode, 0, p.stderr + b.log_text())
            self.assertIn("ran", p.stdout)

    # -- runguard's own state ----------------------------------------------------------------

    def test_bind_of_runguards_state_dir_is_refused(self):
        # A hostPath of stateDir would hand the container every other container's secrets tmpfs,
        # monitor socket and decision record (and the agent's socket under the default /run/runguard).
        victim = self.start_sleeper(self.bundle("victim"))
        for source in (self.state_dir, os.path.join(self.state_dir, victim), self.tmp):
            with self.subTest(source=source):
                b = self.bundle("b-%d" % time.monotonic_ns())
                b.spec["mounts"].append({"destination": "/x", "type": "bind", "source": source, "options": ["rbind"]})
                b.set_args("ls", "/x")
                before = b.write()
                p = self.runguard(["run", "--bundle", b.path, self.new_id()], log=b.log)
                self.assertRuncError(p, b, "RG-MOUNT-001", "runguard's stateDir")
                self.assertEqual(b.config_bytes(), before)
        self.assertEqual(os.listdir(self.state_dir), [victim])

    # -- the image's files, read by the monitor ----------------------------------------------

    def monitor_policy(self):
        rules = os.path.join(self.tmp, "id.yaml")
        with open(rules, "w") as f:
            f.write(ID_RULE)
        # No user namespace: the monitor looks the container's own uid up in its /etc/passwd.
        self.write_policy("monitor: {action: enforce, rules: [%s]}\nuserNamespace: { action: off }" % rules)

    def events(self, wait_for=1, timeout=10):
        path = os.path.join(self.tmp, "events.jsonl")
        deadline = time.monotonic() + timeout
        while True:
            out = []
            if os.path.exists(path):
                with open(path) as f:
                    out = [json.loads(l) for l in f if l.strip()]
                out = [e for e in out if e.get("runguard.kind") != "decision"]
            if len(out) >= wait_for or time.monotonic() > deadline:
                return out

    def test_monitor_reads_a_symlinked_passwd_inside_the_container_not_on_the_host(self):
        self.monitor_policy()
        host_passwd = os.path.join(self.tmp, "host-passwd")
        with open(host_passwd, "w") as f:
            f.write("hostleak:x:0:0::/:/bin/sh\nhostleak2:x:65532:65532::/:/bin/sh\n")
        b = self.bundle()
        os.remove(os.path.join(b.rootfs, "etc", "passwd"))
        os.symlink(host_passwd, os.path.join(b.rootfs, "etc", "passwd"))  # absolute: means the image's own path
        inside = os.path.join(b.rootfs, host_passwd.lstrip("/"))
        os.makedirs(os.path.dirname(inside))
        with open(inside, "w") as f:
            f.write("inroot:x:0:0::/:/bin/sh\ninroot2:x:65532:65532::/:/bin/sh\n")
        b.set_args("sh", "-c", "/bin/id >/dev/null; echo done")
        b.write()
        cid, p = self.run_container(b)
        self.assertIn("done", p.stdout, p.stderr + b.log_text())
        events = self.events()
        self.assertEqual([e["rule"] for e in events], ["Id run"], events)
        name = events[0]["output_fields"]["user.name"]
        self.assertIn(name, ("inroot", "inroot2"), "user.name must come from the container's own file: %r" % name)
        self.assertNotIn("hostleak", json.dumps(events))

    def test_monitor_is_not_stalled_by_a_passwd_link_to_a_host_fifo(self):
        # Inside the container the link leads to an ordinary passwd file (runc, which reads it
        # in the container's root, starts fine); followed on the host it would be a FIFO with no
        # writer, and a blocking open would stall the monitor and every watched syscall with it.
        # (A FIFO inside the image is refused the same way: ProcReaderPaths.FifoPasswdIsNotOpened;
        # runc itself blocks on one before the process starts.)
        self.monitor_policy()
        host_fifo = os.path.join(self.tmp, "host-fifo")
        os.mkfifo(host_fifo)
        b = self.bundle()
        os.remove(os.path.join(b.rootfs, "etc", "passwd"))
        os.symlink(host_fifo, os.path.join(b.rootfs, "etc", "passwd"))
        inside = os.path.join(b.rootfs, host_fifo.lstrip("/"))
        os.makedirs(os.path.dirname(inside))
        with open(inside, "w") as f:
            f.write("inroot:x:0:0::/:/bin/sh\ninroot2:x:65532:65532::/:/bin/sh\n")
        b.set_args("sh", "-c", "/bin/id >/dev/null; echo done")
        b.write()
        start = time.monotonic()
        cid, p = self.run_container(b)
        self.assertIn("done", p.stdout, p.stderr + b.log_text())
        self.assertLess(time.monotonic() - start, TIMEOUT / 2)
        events = self.events()
        self.assertEqual([e["rule"] for e in events], ["Id run"])
        self.assertIn(events[0]["output_fields"]["user.name"], ("inroot", "inroot2"))

    # -- mount destinations, resolved by runc inside the rootfs ------------------------------

    def test_secrets_mount_through_a_symlinked_directory_stays_in_the_rootfs(self):
        # The image's /run is an absolute link to a host directory: runc resolves the secrets
        # mount's destination inside the rootfs, so the host directory gets nothing.
        self.write_policy("secretsInEnv: { action: enforce }")
        host_run = os.path.join(self.tmp, "host-run")
        os.makedirs(host_run)
        with open(os.path.join(host_run, "canary"), "w") as f:
            f.write("untouched")
        b = self.bundle()
        os.symlink(host_run, os.path.join(b.rootfs, "run"))
        b.add_env("GITHUB_TOKEN=" + ENV_VALUE)
        b.set_args("sh", "-c", 'cat "$GITHUB_TOKEN_FILE"; echo; echo done')
        b.write()
        cid, p = self.run_container(b)
        self.assertEqual(p.returncode, 0, p.stderr + b.log_text())
        self.assertIn(ENV_VALUE, p.stdout)
        self.assertEqual(sorted(os.listdir(host_run)), ["canary"])
        with open(os.path.join(host_run, "canary")) as f:
            self.assertEqual(f.read(), "untouched")
        self.assertEqual(mounts_under(host_run), [])
        self.assertNotIn(ENV_VALUE, b.config_bytes().decode())

    # -- the deny-only hook ------------------------------------------------------------------

    def test_hook_refuses_a_symlinked_config_json_whatever_failure_policy_says(self):
        if not os.access(RUNGUARD_HOOK, os.X_OK):
            self.skipTest("runguard-hook not built at " + RUNGUARD_HOOK)
        self.write_policy(extra="failurePolicy: open\n")
        b = self.bundle()
        target = os.path.join(self.tmp, "elsewhere.json")
        with open(target, "w") as f:
            json.dump(b.spec, f)
        os.symlink(target, b.config_path)
        state = json.dumps({"ociVersion": "1.0.2", "id": "hookpaths", "status": "creating", "pid": 1, "bundle": b.path})
        p = subprocess.run([RUNGUARD_HOOK, "check", "--policy", self.policy_path], input=state, capture_output=True,
                           text=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b.config_path + " is a symlink", p.stderr)


if __name__ == "__main__":
    unittest.main()
