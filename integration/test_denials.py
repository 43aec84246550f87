"""Containers the default policy refuses.

Every denial must: exit 1; write a runc-style JSON error line {"level":"error","msg":"runguard:
...","time":...} as the last line of --log naming the problem and the control id; print the same
message on stderr; leave config.json byte-for-byte unchanged; create nothing in stateDir; and never
reach runc (no container in `runc list`).
"""

import os
import unittest

from harness import ALL_CAPS, RunguardTestCase


class DenialsTest(RunguardTestCase):

    def setUp(self):
        super().setUp()
        self.b = self.bundle()
        self.b.set_args("sh", "-c", "echo started")

    def assertDenied(self, *needles):
        before = self.b.write()
        cid = self.new_id()
        p = self.runguard(["run", "--bundle", self.b.path, cid], log=self.b.log)
        msg = self.assertRuncError(p, self.b, "container " + cid + " denied by policy", self.policy_path, *needles)
        self.assertNotIn("started", p.stdout)
        self.assertEqual(self.b.config_bytes(), before, "config.json changed by a denied create")
        self.assertFalse(os.path.exists(self.container_state_dir(cid)), "state left for a denied container")
        self.assertStateDirEmpty()
        self.assertNotIn(cid, self.runc_list_ids())
        self.assertFalse(os.path.exists(os.path.join(self.runc_root, cid)))
        return msg

    def test_bind_mount_host_etc(self):
        self.b.spec["mounts"].append({"destination": "/host-etc", "type": "bind", "source": "/etc",
                                      "options": ["rbind", "ro"]})
        self.assertDenied("bind mount of /etc at /host-etc", "sensitive host directory", "[RG-MOUNT-001]")

    def test_bind_mount_by_options_only(self):
        # No type, just the bind option (how some engines write it).
        self.b.spec["mounts"].append({"destination": "/shadow", "source": "/etc/shadow", "options": ["bind", "ro"]})
        self.assertDenied("/etc/shadow", "[RG-MOUNT-001]")

    def test_bind_mount_symlink_to_etc(self):
        # The policy check resolves sources that exist: a harmless-looking link to /etc is caught.
        link = os.path.join(self.tmp, "innocent")
        os.symlink("/etc", link)
        self.b.spec["mounts"].append({"destination": "/data", "type": "bind", "source": link,
                                      "options": ["rbind"]})
        self.assertDenied(link + " (-> /etc)", "[RG-MOUNT-001]")

    def test_bind_mount_containerd_socket(self):
        # Checked lexically (the socket need not exist here): runguard refuses before runc runs.
        self.b.spec["mounts"].append({"destination": "/run/containerd/containerd.sock", "type": "bind",
                                      "source": "/run/containerd/containerd.sock", "options": ["rbind"]})
        self.assertDenied("/run/containerd/containerd.sock", "[RG-MOUNT-001]")

    def test_bind_mount_docker_socket_via_var_run(self):
        self.b.spec["mounts"].append({"destination": "/var/run/docker.sock", "type": "bind",
                                      "source": "/var/run/docker.sock", "options": ["rbind"]})
        self.assertDenied("docker.sock", "[RG-MOUNT-001]")

    def test_host_network_namespace(self):
        ns = self.b.spec["linux"]["namespaces"]
        self.b.spec["linux"]["namespaces"] = [n for n in ns if n["type"] != "network"]
        self.assertDenied("network namespace", "[RG-HOSTNS-001]")

    def test_host_pid_namespace_by_path(self):
        for n in self.b.spec["linux"]["namespaces"]:
            if n["type"] == "pid":
                n["path"] = "/proc/1/ns/pid"
        self.assertDenied("pid namespace", "/proc/1/ns/pid", "[RG-HOSTNS-001]")

    def test_host_network_namespace_via_symlink(self):
        # A path that is not lexically /proc/<1|self>/ns/... but is the host's namespace: runguard
        # stats it and compares with pid 1's namespace, or its own where /proc/1 is hidden (as in
        # some sandboxes); the test runs in the host's network namespace, so its own is the host's.
        link = os.path.join(self.tmp, "netns")
        os.symlink("/proc/%d/ns/net" % os.getpid(), link)
        for n in self.b.spec["linux"]["namespaces"]:
            if n["type"] == "network":
                n["path"] = link
        self.assertDenied("network namespace", link, "[RG-HOSTNS-001]")

    def test_denied_without_log_flag(self):
        # No --log (runc's default is stderr only): the message still reaches stderr, exit 1.
        self.b.spec["mounts"].append({"destination": "/host-etc", "type": "bind", "source": "/etc",
                                      "options": ["rbind"]})
        before = self.b.write()
        cid = self.new_id()
        p = self.runguard(["run", "--bundle", self.b.path, cid])
        self.assertEqual(p.returncode, 1)
        self.assertIn("[RG-MOUNT-001]", p.stderr)
        self.assertEqual(self.b.config_bytes(), before)
        self.assertStateDirEmpty()

    def test_secret_in_env(self):
        value = "pa55-w0rd-never-logged"
        self.b.add_env("PASSWORD=" + value)
        msg = self.assertDenied("PASSWORD", "[RG-ENV-001]")
        self.assertNotIn(value, msg)
        self.assertNotIn(value, self.b.log_text())

    def test_credential_shaped_value_in_env(self):
        value = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
        self.b.add_env("GIT_CONFIG=" + value)
        msg = self.assertDenied("GIT_CONFIG", "[RG-ENV-001]")
        self.assertNotIn(value, self.b.log_text())

    def test_privileged(self):
        caps = list(ALL_CAPS)
        self.b.process["capabilities"] = {s: list(caps) for s in
                                          ("bounding", "effective", "permitted", "inheritable", "ambient")}
        del self.b.spec["linux"]["maskedPaths"]
        del self.b.spec["linux"]["readonlyPaths"]
        self.b.spec["linux"].pop("seccomp", None)
        self.assertDenied("privileged", "[RG-PRIV-001]")

    def test_several_denials_reported_together(self):
        self.b.spec["mounts"].append({"destination": "/host-etc", "type": "bind", "source": "/etc",
                                      "options": ["rbind", "ro"]})
        self.b.add_env("API_TOKEN=xyzzy-plugh")
        msg = self.assertDenied("[RG-MOUNT-001]", "[RG-ENV-001]")
        self.assertNotIn("xyzzy-plugh", msg)

    def test_create_denied_too(self):
        # The detached create path (what containerd uses) is refused the same way.
        self.b.spec["mounts"].append({"destination": "/host-etc", "type": "bind", "source": "/etc",
                                      "options": ["rbind"]})
        before = self.b.write()
        cid = self.new_id()
        p = self.runguard(["create", "--bundle", self.b.path, cid], log=self.b.log)
        self.assertRuncError(p, self.b, "[RG-MOUNT-001]")
        self.assertEqual(self.b.config_bytes(), before)
        self.assertStateDirEmpty()
        self.assertNotIn(cid, self.runc_list_ids())

    def test_allowed_mount_is_not_denied(self):
        # Control: the same machinery lets an ordinary bind mount through.
        data = os.path.join(self.tmp, "data")
        os.mkdir(data)
        self.b.spec["mounts"].append({"destination": "/data", "type": "bind", "source": data,
                                      "options": ["rbind", "ro"]})
        self.b.write()
        cid, p = self.run_container(self.b)
        self.assertEqual(p.returncode, 0, p.stderr + self.b.log_text())
        self.assertEqual(p.stdout.strip(), "started")

    def test_sensitive_mount_allowed_by_admin(self):
        self.write_policy("sensitiveMounts: {action: deny, allow: [/etc]}")
        self.b.spec["mounts"].append({"destination": "/host-etc", "type": "bind", "source": "/etc",
                                      "options": ["rbind", "ro"]})
        self.b.write()
        cid, p = self.run_container(self.b)
        self.assertEqual(p.returncode, 0, p.stderr + self.b.log_text())


if __name__ == "__main__":
    unittest.main()
