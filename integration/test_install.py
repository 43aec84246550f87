"""`make install` into a DESTDIR: binaries, runguard-hook beside runguard, the default policy,
and an existing policy never overwritten. (Never the real /usr/local or /etc/runguard.)"""

import os
import shutil
import subprocess
import tempfile
import unittest

from harness import RUNGUARD_BIN

SOURCE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.dirname(os.path.abspath(RUNGUARD_BIN))


class InstallTest(unittest.TestCase):

    def setUp(self):
        if shutil.which("make") is None:
            self.skipTest("make is not installed")
        self.dest = tempfile.mkdtemp(prefix="rg-install-")
        self.addCleanup(shutil.rmtree, self.dest, True)

    def install(self):
        return subprocess.run(["make", "-C", SOURCE, "install-files", "DESTDIR=" + self.dest, "BUILD=" + BUILD],
                              capture_output=True, text=True, timeout=600)

    def test_installs_binaries_and_default_policy(self):
        p = self.install()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        bindir = os.path.join(self.dest, "usr", "local", "bin")
        for name in ("runguard", "runguard-hook", "runguard-monitor", "runguardctl", "runguardd"):
            path = os.path.join(bindir, name)
            self.assertTrue(os.access(path, os.X_OK), path)
        policy = os.path.join(self.dest, "etc", "runguard", "policy.yaml")
        with open(policy) as f, open(os.path.join(SOURCE, "profiles", "policies", "default.yaml")) as g:
            self.assertEqual(f.read(), g.read())
        v = subprocess.run([os.path.join(bindir, "runguardctl"), "validate", policy], capture_output=True, text=True)
        self.assertEqual(v.returncode, 0, v.stderr)

    def test_never_overwrites_a_policy(self):
        policy_dir = os.path.join(self.dest, "etc", "runguard")
        os.makedirs(policy_dir)
        mine = "mode: audit\n"
        with open(os.path.join(policy_dir, "policy.yaml"), "w") as f:
            f.write(mine)
        p = self.install()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("keeping existing", p.stdout)
        with open(os.path.join(policy_dir, "policy.yaml")) as f:
            self.assertEqual(f.read(), mine)


class ShippedPolicyTest(unittest.TestCase):
    """The policy in deploy/kubernetes/policy-configmap.yaml must load, or the installer would
    refuse it on every node."""

    def test_configmap_policy_is_valid(self):
        with open(os.path.join(SOURCE, "deploy", "kubernetes", "policy-configmap.yaml")) as f:
            text = f.read()
        block = text.split("policy.yaml: |\n", 1)[1]
        policy = "\n".join(l[4:] if l.startswith("    ") else l for l in block.splitlines()) + "\n"
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write(policy)
            f.flush()
            v = subprocess.run([os.path.join(RUNGUARD_BIN, "runguardctl"), "validate", f.name],
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(v.returncode, 0, v.stderr)
        self.assertIn("2 overrides", v.stdout)


class NodeInstallerTest(unittest.TestCase):
    """deploy/installer/install-node.sh, as the DaemonSet runs it, against temporary host dirs."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rg-installer-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.host_bin = os.path.join(self.tmp, "host-bin")
        self.host_etc = os.path.join(self.tmp, "host-etc")
        self.policy = os.path.join(self.tmp, "policy.yaml")

    def run_installer(self, policy_text):
        with open(self.policy, "w") as f:
            f.write(policy_text)
        env = dict(os.environ, SRC=RUNGUARD_BIN, HOST_BIN=self.host_bin, HOST_ETC=self.host_etc,
                   POLICY=self.policy, ONCE="1", READY=os.path.join(self.tmp, "ready"))
        return subprocess.run([os.path.join(SOURCE, "deploy", "installer", "install-node.sh")], env=env,
                              capture_output=True, text=True, timeout=60)

    def test_installs_and_refuses_an_invalid_policy(self):
        good = "mode: enforce\ncontrols:\n  readonlyRootfs: { action: enforce }\n"
        p = self.run_installer(good)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        for name in ("runguard", "runguard-hook", "runguard-monitor", "runguardctl", "runguardd"):
            self.assertTrue(os.access(os.path.join(self.host_bin, name), os.X_OK), name)
        with open(os.path.join(self.host_etc, "policy.yaml")) as f:
            self.assertEqual(f.read(), good)
        # An invalid policy: non-zero, the error named, the node keeps the previous policy.
        p = self.run_installer("controls:\n  capabilities: { allow: [CAP_SYS_ADMN] }\n")
        self.assertEqual(p.returncode, 1)
        self.assertIn("did you mean CAP_SYS_ADMIN?", p.stderr)
        self.assertIn("keeping the node's current policy", p.stderr)
        with open(os.path.join(self.host_etc, "policy.yaml")) as f:
            self.assertEqual(f.read(), good)
        self.assertEqual([n for n in os.listdir(self.host_etc) if "runguard-new" in n], [])


if __name__ == "__main__":
    unittest.main()
