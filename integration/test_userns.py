"""User-namespace remapping with idmapped root filesystems, under the real runc.

Every container gets its own user namespace on a private range of host ids (the userNamespace
control, enforce by default), its rootfs mounted idmapped at <stateDir>/<id>/rootfs. Asserted from
inside the container (uid_map, id, ownership of the image's files) and from the host (the
container's processes' uids, ownership on disk of files it wrote, the allocator's ranges, the
mount table) — and that delete, the poststop hook and failed creates give everything back.
"""

import json
import os
import subprocess
import threading
import unittest

from harness import RUNC, RUNGUARD as RUNGUARD_PATH, RunguardTestCase

POOL_BASE = 1073741824  # the default userNamespace.firstHostId

PROBE = r"""#!/bin/sh
echo "== uid_map"; cat /proc/self/uid_map
echo "== gid_map"; cat /proc/self/gid_map
echo "== id"; id -u; id -g
echo "== ls"; ls -ln /bin/busybox /etc/passwd
echo "== write"; if echo hi > /written 2>/dev/null; then echo ok; else echo failed; fi
echo "== end"
"""


def sections(text):
    out, cur = {}, None
    for line in text.splitlines():
        if line.startswith("== "):
            cur = line[3:].strip()
            out[cur] = []
        elif cur:
            out[cur].append(line)
    return out


def mount_lines():
    with open("/proc/self/mountinfo") as f:
        return f.read().splitlines()


class UsernsTest(RunguardTestCase):

    def setUp(self):
        super().setUp()
        self.addCleanup(self.assertNoMountsLeft)

    def assertNoMountsLeft(self):
        # Only the test's own directory: other processes mount and unmount concurrently.
        leftover = [l for l in mount_lines() if self.tmp in l]
        self.assertEqual(leftover, [], "mounts left under the test directory")

    # -- helpers --
    def allocations(self):
        path = os.path.join(self.lib_dir, "userns", "ranges.json")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return json.load(f)["allocations"]

    def probe(self, controls="", bundle=None):
        self.write_policy(controls)
        b = bundle or self.bundle()
        b.use_probe(PROBE)
        b.write()
        cid, p = self.run_container(b)
        self.assertEqual(p.returncode, 0, "run failed: %s %s" % (p.stderr, b.log_text()))
        return cid, b, sections(p.stdout)

    def host_status(self, cid):
        pid = self.state(cid)["pid"]
        with open("/proc/%d/status" % pid) as f:
            return {l.split(":")[0]: l.split(":")[1].split() for l in f if ":" in l}

    def delete(self, cid, b=None):
        p = self.runguard(["delete", "-f", cid], log=b.log if b else None)
        self.assertEqual(p.returncode, 0, p.stderr)

    # -- inside and outside --
    def test_root_inside_is_an_unprivileged_range_outside(self):
        cid, b, s = self.probe("user: {action: enforce, allowRootInUserNamespace: true}")
        (alloc,) = self.allocations()
        start, size = alloc["ranges"][0]["start"], alloc["ranges"][0]["size"]
        self.assertGreaterEqual(start, POOL_BASE)
        self.assertEqual(size, 65536)
        self.assertEqual(s["uid_map"][0].split(), ["0", str(start), "65536"])
        self.assertEqual(s["gid_map"][0].split(), ["0", str(start), "65536"])
        self.assertEqual(s["id"], ["0", "0"])
        for line in s["ls"]:  # the image's root-owned files are root's inside
            self.assertEqual(line.split()[2:4], ["0", "0"], line)
        self.assertEqual(s["write"], ["ok"])
        self.assertEqual(self.b_config_root(b), os.path.join(self.state_dir, cid, "mnt", "rootfs"))
        self.delete(cid, b)
        # Written by container root through the idmapped mount: owned by 0 on disk.
        st = os.stat(os.path.join(b.rootfs, "written"))
        self.assertEqual((st.st_uid, st.st_gid), (0, 0))
        self.assertEqual(self.allocations(), [])
        self.assertStateDirEmpty()
        self.assertNoMountsLeft()

    def b_config_root(self, b):
        return b.read_config()["root"]["path"]

    def test_host_sees_the_mapped_uid(self):
        self.write_policy()
        b = self.bundle()
        cid = self.start_sleeper(b)
        start = self.allocations()[0]["ranges"][0]["start"]
        st = self.host_status(cid)
        self.assertEqual(st["Uid"], [str(start + 65532)] * 4)  # the user control's 65532, mapped
        self.assertEqual(st["Gid"], [str(start + 65532)] * 4)
        ps = subprocess.run(["ps", "-o", "uid=", "-p", str(self.state(cid)["pid"])], capture_output=True, text=True)
        self.assertEqual(ps.stdout.strip(), str(start + 65532))
        self.delete(cid, b)
        self.assertEqual(self.allocations(), [])

    def test_without_root_allowed_the_user_control_still_applies(self):
        cid, b, s = self.probe()
        self.assertEqual(s["id"], ["65532", "65532"])
        self.assertEqual(s["write"], ["failed"])  # / belongs to root (0) inside

    def test_off_shares_the_hosts(self):
        cid, b, s = self.probe("userNamespace: {action: off}\nuser: {action: off}")
        self.assertEqual(s["uid_map"][0].split(), ["0", "0", "4294967295"])
        self.assertEqual(self.allocations(), [])
        self.assertNotEqual(self.b_config_root(b), os.path.join(self.state_dir, cid, "mnt", "rootfs"))

    def test_rootfs_stays_usable_without_a_mapping(self):
        cid, b, s = self.probe("user: {action: enforce, allowRootInUserNamespace: true}")
        self.delete(cid, b)
        # The same rootfs, no user namespace: the remapped container's file is root's.
        b.spec = __import__("harness").default_spec()
        b.set_args("sh", "-c", "ls -ln /written && cat /written")
        b.write()
        self.write_policy("userNamespace: {action: off}\nuser: {action: off}")
        _, p = self.run_container(b)
        self.assertEqual(p.returncode, 0, p.stderr + b.log_text())
        self.assertEqual(p.stdout.split()[2:4], ["0", "0"], p.stdout)
        self.assertIn("hi", p.stdout)

    # -- release --
    def test_runc_delete_releases_through_the_poststop_hook(self):
        self.write_policy()
        b = self.bundle()
        cid = self.start_sleeper(b)
        self.assertEqual(len(self.allocations()), 1)
        p = self.runc(["delete", "-f", cid])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.allocations(), [])
        self.assertStateDirEmpty()
        self.assertNoMountsLeft()

    def test_failed_create_releases_everything(self):
        self.write_policy()
        b = self.bundle()
        b.set_args("/no/such/program")
        b.write()
        cid = self.new_id()
        p = self.runguard(["create", "--bundle", b.path, cid], log=b.log, detached=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("/no/such/program", b.log_text())
        self.assertEqual(self.allocations(), [])
        self.assertStateDirEmpty()
        self.assertNoMountsLeft()

    def test_denied_create_takes_nothing(self):
        self.write_policy()
        b = self.bundle()
        b.spec["mounts"].append({"destination": "/h", "type": "bind", "source": "/etc", "options": ["rbind"]})
        before = b.write()
        cid = self.new_id()
        p = self.runguard(["run", "--bundle", b.path, cid], log=b.log)
        self.assertRuncError(p, b, "[RG-MOUNT-001]")
        self.assertEqual(b.config_bytes(), before)
        self.assertEqual(self.allocations(), [])
        self.assertStateDirEmpty()
        self.assertNoMountsLeft()

    # -- review findings --
    def test_bundle_can_be_run_again(self):
        # runguard rewrote config.json (root.path, mappings); a second create starts from the
        # engine's spec again, on a fresh range and a fresh idmapped mount.
        self.write_policy()
        b = self.bundle()
        b.set_args("sh", "-c", "cat /proc/self/uid_map; ls -ln /bin/busybox")
        b.write()
        outs = []
        for _ in range(2):
            cid, p = self.run_container(b, keep=False)
            self.assertEqual(p.returncode, 0, p.stderr + b.log_text())
            outs.append(p.stdout)
            self.assertEqual(self.allocations(), [])
        for out in outs:
            self.assertEqual(out.splitlines()[1].split()[2:4], ["0", "0"], out)
        self.assertIn("dev.runguard.userns.original-root", b.read_config()["annotations"])

    def test_rootfs_mount_is_private_to_the_container(self):
        self.write_policy()
        b = self.bundle()
        cid = self.start_sleeper(b)
        start = self.allocations()[0]["ranges"][0]["start"]
        mnt = os.path.join(self.state_dir, cid, "mnt")
        st = os.stat(mnt)
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777), (start, start, 0o700))
        p = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "ls", mnt + "/rootfs"],
                           capture_output=True, text=True)
        self.assertNotEqual(p.returncode, 0, "another host user can read the container's rootfs: " + p.stdout)

    def test_delete_under_another_root_leaves_the_container_alone(self):
        self.write_policy()
        b = self.bundle()
        cid = self.start_sleeper(b)
        other = os.path.join(self.tmp, "other-root")
        p = subprocess.run([RUNGUARD_PATH, "--root", other, "delete", "-f", cid], capture_output=True, text=True,
                           env=self.env(), timeout=30)
        self.assertEqual(len(self.allocations()), 1, "a delete under another --root released the container")
        self.assertTrue(os.path.isdir(os.path.join(self.state_dir, cid, "mnt", "rootfs", "bin")))
        self.assertEqual(self.state(cid)["status"], "running")
        # A create of the same id under another root is refused, not given the live one's state.
        b2 = self.bundle("two")
        b2.set_args("true")
        b2.write()
        p = subprocess.run([RUNGUARD_PATH, "--root", other, "create", "--bundle", b2.path, cid], capture_output=True,
                           text=True, env=self.env(), timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("already exists", p.stderr)
        self.assertEqual(len(self.allocations()), 1)
        self.delete(cid, b)

    def test_concurrent_creates_of_one_id(self):
        self.write_policy()
        bundles = [self.bundle("c%d" % i) for i in range(4)]
        for b in bundles:
            b.set_args("sleep", "60")
            b.write()
        cid = self.new_id()
        results = [None] * len(bundles)

        def create(i):
            results[i] = self.runguard(["create", "--bundle", bundles[i].path, cid], log=bundles[i].log,
                                       detached=True, timeout=60)

        threads = [threading.Thread(target=create, args=(i,)) for i in range(len(bundles))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ok = [i for i, r in enumerate(results) if r.returncode == 0]
        self.assertEqual(len(ok), 1, [bundles[i].log_text() for i in range(len(bundles))])
        self.assertEqual(len(self.allocations()), 1)
        self.assertEqual(self.runguard(["start", cid]).returncode, 0)
        self.wait_status(cid, "running")
        self.delete(cid)
        self.assertEqual(self.allocations(), [])
        self.assertStateDirEmpty()

    # -- the pool --
    def test_exhausted_pool_is_a_clear_error_and_recovers(self):
        self.write_policy("userNamespace: {action: enforce, count: 1}")
        first = self.start_sleeper(self.bundle("one"))
        b = self.bundle("two")
        b.set_args("true")
        before = b.write()
        cid = self.new_id()
        p = self.runguard(["create", "--bundle", b.path, cid], log=b.log)
        self.assertRuncError(p, b, "all 1 ranges", "userNamespace.count")
        self.assertEqual(b.config_bytes(), before)
        self.delete(first)
        p = self.runguard(["create", "--bundle", b.path, cid], log=b.log, detached=True)
        self.assertEqual(p.returncode, 0, b.log_text())

    def test_concurrent_creates_get_disjoint_ranges(self):
        self.write_policy()
        n = 20
        bundles = [self.bundle("b%d" % i) for i in range(n)]
        ids = [self.new_id() for _ in range(n)]
        for b in bundles:
            b.set_args("sleep", "60")
            b.write()
        results = [None] * n

        def create(i):
            results[i] = self.runguard(["create", "--bundle", bundles[i].path, ids[i]], log=bundles[i].log,
                                       detached=True, timeout=120)

        threads = [threading.Thread(target=create, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, r in enumerate(results):
            self.assertEqual(r.returncode, 0, bundles[i].log_text())
        starts = set()
        for i, cid in enumerate(ids):
            self.assertEqual(self.runguard(["start", cid]).returncode, 0)
            self.wait_status(cid, "running")
            with open("/proc/%d/uid_map" % self.state(cid)["pid"]) as f:
                inside, outside, size = f.read().split()
            self.assertEqual((inside, size), ("0", "65536"))
            starts.add(int(outside))
        self.assertEqual(len(starts), n, "ranges shared between containers")
        for a, b in zip(sorted(starts), sorted(starts)[1:]):
            self.assertGreaterEqual(b - a, 65536)
        for cid in ids:
            self.delete(cid)
        self.assertEqual(self.allocations(), [])
        self.assertStateDirEmpty()
        self.assertNoMountsLeft()

    # -- specs with their own mappings --
    def own_mapping_bundle(self, name, host):
        b = self.bundle(name)
        b.spec["linux"]["namespaces"].append({"type": "user"})
        b.spec["linux"]["uidMappings"] = [{"containerID": 0, "hostID": host, "size": 65536}]
        b.spec["linux"]["gidMappings"] = [{"containerID": 0, "hostID": host, "size": 65536}]
        b.spec["mounts"] = [m for m in b.spec["mounts"] if m["type"] not in ("sysfs", "cgroup")]
        return b

    def test_own_mappings_are_kept_and_reserved(self):
        self.write_policy()
        b = self.own_mapping_bundle("own", 300000)
        b.set_args("sleep", "60")
        b.write()
        cid = self.new_id()
        self.assertEqual(self.runguard(["create", "--bundle", b.path, cid], log=b.log, detached=True).returncode, 0,
                         b.log_text())
        with open("/proc/%d/uid_map" % self.state(cid)["pid"]) as f:
            self.assertEqual(f.read().split(), ["0", "300000", "65536"])
        (alloc,) = self.allocations()
        self.assertTrue(alloc["fixed"])
        # A second spec overlapping it is refused, naming the first.
        b2 = self.own_mapping_bundle("own2", 300000 + 1000)
        b2.set_args("true")
        before = b2.write()
        cid2 = self.new_id()
        p = self.runguard(["create", "--bundle", b2.path, cid2], log=b2.log)
        self.assertRuncError(p, b2, cid)
        self.assertEqual(b2.config_bytes(), before)
        self.delete(cid, b)
        self.assertEqual(self.allocations(), [])

    def test_own_mapping_onto_host_root_is_denied(self):
        self.write_policy()
        b = self.own_mapping_bundle("zero", 0)
        b.set_args("true")
        before = b.write()
        cid = self.new_id()
        p = self.runguard(["run", "--bundle", b.path, cid], log=b.log)
        self.assertRuncError(p, b, "[RG-USERNS-002]", "minHostId")
        self.assertEqual(b.config_bytes(), before)
        self.assertEqual(self.allocations(), [])

    # -- filesystems that cannot be idmapped --
    def ramfs_bundle(self):
        b = self.bundle("ram")
        # The rootfs on a ramfs, which has no idmapped-mount support.
        staging = os.path.join(self.tmp, "staging")
        os.rename(b.rootfs, staging)
        os.makedirs(b.rootfs)
        subprocess.run(["mount", "-t", "ramfs", "ramfs", b.rootfs], check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", b.rootfs])
        subprocess.run(["cp", "-a", staging + "/.", b.rootfs], check=True)
        os.chmod(b.rootfs, 0o755)
        return b

    def test_unidmappable_filesystem_names_it(self):
        self.write_policy()
        b = self.ramfs_bundle()
        b.set_args("true")
        before = b.write()
        cid = self.new_id()
        p = self.runguard(["run", "--bundle", b.path, cid], log=b.log)
        self.assertRuncError(p, b, "ramfs", "fallback: chown")
        self.assertEqual(b.config_bytes(), before)
        self.assertEqual(self.allocations(), [])
        self.assertStateDirEmpty()

    def test_chown_fallback_copies_privately(self):
        self.write_policy("userNamespace: {action: enforce, fallback: chown}\n"
                          "user: {action: enforce, allowRootInUserNamespace: true}")
        b = self.ramfs_bundle()
        b.use_probe(PROBE)
        b.write()
        cid, p = self.run_container(b)
        self.assertEqual(p.returncode, 0, p.stderr + b.log_text())
        s = sections(p.stdout)
        self.assertEqual(s["id"], ["0", "0"])
        self.assertEqual(s["write"], ["ok"])
        copies = os.path.join(self.lib_dir, "rootfs-copies")
        self.assertEqual(os.listdir(copies), [cid])
        self.delete(cid, b)
        self.assertEqual(os.listdir(copies), [])
        self.assertFalse(os.path.exists(os.path.join(b.rootfs, "written")), "the original rootfs was written")

    # -- exec --
    def test_exec_as_root_inside(self):
        self.write_policy("user: {action: enforce, allowRootInUserNamespace: true}")
        b = self.bundle()
        cid = self.start_sleeper(b)
        p = self.runguard(["exec", "-u", "0", cid, "id", "-u"], log=b.log)
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "0"), p.stderr)
        self.write_policy()  # not allowed: -u 0 becomes the policy's uid
        p = self.runguard(["exec", "-u", "0", cid, "id", "-u"], log=b.log)
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "65532"), p.stderr)


if __name__ == "__main__":
    unittest.main()


class UsernsCtlTest(RunguardTestCase):
    """`runguardctl userns`: what the allocator holds, and garbage collection on demand."""

    def ctl(self, *args):
        ctl = os.path.join(os.path.dirname(RUNGUARD_PATH), "runguardctl")
        return subprocess.run([ctl, "userns"] + list(args), capture_output=True, text=True, env=self.env(), timeout=30)

    def test_list_and_gc(self):
        self.write_policy()
        b = self.bundle()
        cid = self.start_sleeper(b)
        p = self.ctl("--format", "json")
        self.assertEqual(p.returncode, 0, p.stderr)
        (alloc,) = json.loads(p.stdout)["allocations"]
        self.assertEqual([(m["id"], m["alive"]) for m in alloc["members"]], [(cid, True)])
        p = self.ctl()
        self.assertIn(cid, p.stdout)
        self.assertNotIn("(dead)", p.stdout)
        # A container that vanished without a delete (runguard killed, a reboot): its record stays
        # until the next allocation or an explicit gc.
        path = os.path.join(self.lib_dir, "userns", "ranges.json")
        with open(path) as f:
            state = json.load(f)
        state["allocations"].append({"group": "gone", "fixed": False, "ranges": [{"start": 1073741824 + 65536 * 9, "size": 65536}],
                                     "members": [{"id": "gone", "runtimeRoot": self.runc_root,
                                                  "stateDir": os.path.join(self.state_dir, "gone"), "created": 1}]})
        with open(path, "w") as f:
            json.dump(state, f)
        self.assertIn("gone (dead)", self.ctl().stdout)
        p = self.ctl("gc")
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "released 1 dead container(s)"), p.stderr)
        self.assertEqual([a["group"] for a in json.loads(self.ctl("--format=json").stdout)["allocations"]], [cid])
        p = self.ctl("--lib-dir", self.lib_dir, "bogus")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unexpected argument", p.stderr)
