"""containerd 1.6 CRI with a `runguard` runtime handler: Kubernetes-shaped pods through runguard.

There is no kubelet or crictl on Debian 12, so the test speaks the CRI API itself (cri/client.py,
runtime.v1 over containerd's socket) the way the kubelet does: RunPodSandbox with
runtime_handler "runguard" (what a RuntimeClass selects), CreateContainer / StartContainer with a
container config like the kubelet's, ExecSync for exec probes and `kubectl exec`, then
StopContainer / RemoveContainer / StopPodSandbox / RemovePodSandbox.

containerd is integration/containerd.py's (deploy/containerd/config.toml with its paths
rewritten, a private root, state, socket and /run), with the node additions of cri/node.py
(runc handler, local pause image as sandbox_image, CNI). The handler's `options.BinaryName` is
build/bin/runguard and RUNGUARD_CONFIG is in containerd's environment (the shim, runc's caller,
inherits it); the policy file is rewritten per test, runguard reads it on every call. Pods get a
network namespace of their own (cri/rg-podnet).

What is asserted, from inside the containers and from runguard's decision records:
  - the `runguard` handler resolves to runguard's binary; the default handler (runc) leaves the
    same pod as the CRI made it (root, 14 capabilities, no seccomp, no limits, no record);
  - the pod's container under the CRI's default spec runs as 65532 with only
    CAP_NET_BIND_SERVICE, NoNewPrivs, seccomp filter mode, 512 MiB and 1024 pids, while
    containerd's stored spec still says root; an ExecSync in it is hardened the same way (the
    exec path: runguard rewrites runc exec's --process);
  - the pause (sandbox) process is hardened too; the records say engine "containerd-cri",
    containerType "sandbox"/"container", namespace "payments";
  - a policy override `match: {namespace: payments}` changes what a payments pod sees (uid 4242,
    256 MiB) and leaves namespace "shop" alone;
  - a container bind-mounting the host's /etc, and a hostNetwork pod, are refused, and the gRPC
    error the kubelet gets carries runguard's message;
  - afterwards nothing is left: no shim, no pause process, no mount, no runc state, no record,
    no CNI cache entry, no cgroup.
"""

import json
import os
import shutil
import signal
import tempfile
import time
import unittest
import uuid

from harness import BUSYBOX, MEM_UNLIMITED_V1, NET_BIND_SERVICE_MASK, PROBE, RUNC, RUNGUARD, Probe, skip_reason, agent_settings
from cri import client as cri_client
from cri import node as cri_node
from cri import images as cri_images
import containerd as ctrd

TIMEOUT = 30           # seconds for any one CRI call
LOG_WAIT = 15          # seconds for a container's probe output to appear in its log
MEM_512MI = 536870912
MEM_256MI = 268435456

# The probe as a pod container's command: print, then stay up for ExecSync.
PROBE_AND_WAIT = PROBE + "\nexec sleep 3600\n"


def cri_log_text(path):
    """The text of a CRI container log (`<time> <stream> <P|F> <content>` lines; P is a partial
    line continued by the next)."""
    out, partial = [], ""
    with open(path, errors="replace") as f:
        for line in f.read().splitlines():
            parts = line.split(" ", 3)
            if len(parts) < 3:
                continue
            content = parts[3] if len(parts) == 4 else ""
            if parts[2] == "P":
                partial += content
            else:
                out.append(partial + content)
                partial = ""
    return "\n".join(out) + ("\n" if out else "")


# containerd 1.6 puts its shims' sockets in /run/containerd/s/ whatever its state dir is;
# containerd.py gives containerd a private overlay on /run for that. The test only reads the
# host's directory, to check that the isolation held.
SHIM_SOCKET_DIR = "/run/containerd/s"
# libcni's result cache: containerd 1.6's CRI plugin leaves go-cni's default (/var/lib/cni), so a
# pod's network results are written there on setup and removed on teardown (StopPodSandbox).
CNI_CACHE_DIR = "/var/lib/cni/results"


def remove_empty_dirs(paths):
    for d in paths:
        try:
            os.rmdir(d)  # only if empty: anything else there is not ours to remove
        except OSError:
            pass


def shim_sockets():
    try:
        return set(os.listdir(SHIM_SOCKET_DIR))
    except OSError:
        return set()


def pids_in(cgroup_dir):
    pids = []
    for root, _dirs, files in os.walk(cgroup_dir):
        if "cgroup.procs" in files:
            with open(os.path.join(root, "cgroup.procs")) as f:
                pids += [int(x) for x in f.read().split()]
    return pids


def remove_cgroup_tree(name):
    """rmdir (bottom-up) /sys/fs/cgroup/*/<name> in every hierarchy; returns what could not go."""
    left = []
    for hierarchy in sorted(os.listdir("/sys/fs/cgroup")):
        top = os.path.join("/sys/fs/cgroup", hierarchy, name.lstrip("/"))
        if not os.path.isdir(top):
            continue
        for root, _dirs, _files in os.walk(top, topdown=False):
            try:
                os.rmdir(root)
            except OSError:
                left.append(root)
    return left


class CriNode:
    """The module's node: a CriContainerd, a CRI client, the images, the policy; stop() tears it
    all down and raises if anything was left behind."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="rg-cri-", dir="/tmp")
        os.chmod(self.tmp, 0o755)
        self.policy_path = os.path.join(self.tmp, "policy.yaml")
        self.state_dir = os.path.join(self.tmp, "rgstate")
        self.cgroup_parent = "/runguard-cri-it-%d" % os.getpid()
        self.sandboxes = []  # every sandbox id ever run, for the final sweep
        self.containerd = cri_node.CriContainerd(env={"RUNGUARD_CONFIG": self.policy_path})
        self.cri = None
        self.version = None
        self.shim_sockets_before = shim_sockets()

    def start(self):
        self.write_policy()
        self.containerd.start()
        self.cri = cri_client.RuntimeClient(self.containerd.address, timeout=TIMEOUT)
        self.version = self.cri.wait_ready(deadline=TIMEOUT)
        images = os.path.join(self.tmp, "images")
        os.makedirs(images)
        pause = os.path.join(images, "pause.tar")
        cri_images.build_pause(pause, cri_node.PAUSE_IMAGE, BUSYBOX)
        self.containerd.import_archive(pause, cri_node.PAUSE_IMAGE)
        app = os.path.join(images, "busybox.tar")
        cri_images.build_app(app, cri_node.BUSYBOX_IMAGE, BUSYBOX)
        self.containerd.import_archive(app, cri_node.BUSYBOX_IMAGE)

    def write_policy(self, extra=""):
        text = "stateDir: %s\nlibDir: %s-lib\nevents: { path: %s-events.jsonl }\nruntime:\n  path: %s\n%s" % (
            self.state_dir, self.state_dir, self.state_dir, RUNC, extra)
        if "\nagent:" not in "\n" + extra:
            text += agent_settings(os.path.dirname(self.state_dir))
        with open(self.policy_path, "w") as f:
            f.write(text)

    # -- teardown --
    def _sweep(self):
        if self.cri is None:
            return
        for sb in self.sandboxes:
            for rpc in ("StopPodSandbox", "RemovePodSandbox"):
                try:
                    self.cri.call(rpc, pod_sandbox_id=sb)
                except Exception:
                    pass

    def leftovers(self):
        """What the node left on the host (after containerd stopped)."""
        found = []
        dirs = [d for d in (self.tmp, self.containerd.dir) if d]
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if any(d in cmd for d in dirs):
                found.append("process %s: %s" % (pid, cmd.strip()))
        for hierarchy in ("memory", "pids"):
            top = os.path.join("/sys/fs/cgroup", hierarchy, self.cgroup_parent.lstrip("/"))
            if os.path.isdir(top):
                found += ["process %d in %s" % (p, top) for p in pids_in(top)]
        for d in dirs:
            found += ["mount " + m for m in ctrd.mounts_under(d)]
        runc_state = self.containerd.runc_state_dir if self.containerd.dir else ""
        if runc_state and os.path.isdir(runc_state) and os.listdir(runc_state):
            found.append("runc state in %s: %s" % (runc_state, os.listdir(runc_state)))
        new_sockets = shim_sockets() - self.shim_sockets_before
        if new_sockets:
            found.append("shim sockets in %s: %s" % (SHIM_SOCKET_DIR, sorted(new_sockets)))
        if os.path.isdir(self.state_dir) and os.listdir(self.state_dir):
            found.append("runguard records: %s" % os.listdir(self.state_dir))
        for name in os.listdir(CNI_CACHE_DIR) if os.path.isdir(CNI_CACHE_DIR) else []:
            if any(sb in name for sb in self.sandboxes):
                found.append("CNI cache entry %s/%s (removed)" % (CNI_CACHE_DIR, name))
                os.unlink(os.path.join(CNI_CACHE_DIR, name))
        return found

    def stop(self):
        """Removes every pod, stops containerd, then checks and cleans the host."""
        problems = []
        try:
            self._sweep()
            if self.cri is not None:
                self.cri.close()
        finally:
            problems += ["containerd.py: " + p for p in self.containerd.stop()]
        problems += self.leftovers()
        for pid in pids_in(os.path.join("/sys/fs/cgroup/memory", self.cgroup_parent.lstrip("/"))):
            try:
                os.kill(pid, signal.SIGKILL)  # a pod process of ours that outlived its shim
            except ProcessLookupError:
                pass
        problems += ["cgroup left: " + d for d in remove_cgroup_tree(self.cgroup_parent)]
        if problems:
            raise AssertionError("the CRI test left behind (kept %s and %s):\n  %s"
                                 % (self.tmp, self.containerd.dir, "\n  ".join(problems)))
        self.containerd.remove_dir()
        shutil.rmtree(self.tmp, ignore_errors=True)


class CriTest(unittest.TestCase):
    maxDiff = None
    node = None

    @classmethod
    def setUpClass(cls):
        reason = skip_reason() or cri_node.unavailable_reason() or cri_client.unavailable_reason()
        if reason:
            raise unittest.SkipTest(reason)
        # libcni creates /var/lib/cni/results on the first pod; remove what this run created.
        created = [d for d in ("/var/lib/cni", CNI_CACHE_DIR) if not os.path.exists(d)]
        cls.addClassCleanup(remove_empty_dirs, list(reversed(created)))
        cls.node = CriNode()
        cls.addClassCleanup(cls.node.stop)
        cls.node.start()
        cls.cri = cls.node.cri

    def setUp(self):
        self.node.write_policy()

    # -- pods and containers (every one is removed by cleanup, even when the test fails) --
    def run_pod(self, name, namespace="payments", network="POD", handler="runguard"):
        uid = str(uuid.uuid4())
        logdir = os.path.join(self.node.tmp, "pods", "%s_%s_%s" % (namespace, name, uid))
        os.makedirs(logdir)
        config = {
            "metadata": {"name": name, "namespace": namespace, "uid": uid, "attempt": 0},
            "hostname": name,
            "log_directory": logdir,
            "labels": {"io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": namespace,
                       "io.kubernetes.pod.uid": uid},
            "linux": {
                "cgroup_parent": "%s/pod%s" % (self.node.cgroup_parent, uid),
                # What the kubelet sends for a plain v1 Pod: pod network and IPC, container PID.
                "security_context": {"namespace_options": {"network": network, "pid": "CONTAINER", "ipc": "POD"}},
            },
        }
        sb = self.cri.RunPodSandbox(config=config, runtime_handler=handler).pod_sandbox_id
        self.node.sandboxes.append(sb)
        self.addCleanup(self.cri.RemovePodSandbox, pod_sandbox_id=sb)
        self.addCleanup(self.cri.StopPodSandbox, pod_sandbox_id=sb)
        return sb, config

    def create_container(self, sb, sb_config, name, command, mounts=()):
        config = {
            "metadata": {"name": name, "attempt": 0},
            "image": {"image": cri_node.BUSYBOX_IMAGE},
            "command": list(command),
            "log_path": "%s/0.log" % name,
            "labels": {"io.kubernetes.container.name": name},
            "mounts": [dict(m) for m in mounts],
            # The kubelet's default for a container with no securityContext: namespaces as the pod,
            # no seccomp field (Unconfined), no capabilities change, no limits.
            "linux": {"resources": {}, "security_context": {"namespace_options": {"pid": "CONTAINER"}}},
        }
        cid = self.cri.CreateContainer(pod_sandbox_id=sb, config=config, sandbox_config=sb_config).container_id
        self.addCleanup(self.cri.RemoveContainer, container_id=cid)
        self.addCleanup(self.cri.StopContainer, container_id=cid, timeout=0)
        return cid, os.path.join(sb_config["log_directory"], config["log_path"])

    def start_probe(self, sb, sb_config, name="app"):
        """A container running the probe then sleeping; returns (id, Probe of its init process)."""
        cid, log = self.create_container(sb, sb_config, name, ["/bin/sh", "-c", PROBE_AND_WAIT])
        self.cri.StartContainer(container_id=cid)
        deadline = time.monotonic() + LOG_WAIT
        text = ""
        while time.monotonic() < deadline:
            text = cri_log_text(log) if os.path.exists(log) else ""
            if "== end" in text:
                return cid, Probe(text)
            time.sleep(0.1)
        status = self.cri.ContainerStatus(container_id=cid).status
        self.fail("no probe output in %s after %ds (state %s, reason %r, message %r):\n%s"
                  % (log, LOG_WAIT, status.state, status.reason, status.message, text))

    def exec_probe(self, cid):
        r = self.cri.ExecSync(container_id=cid, cmd=["/bin/sh", "-c", PROBE], timeout=20)
        self.assertEqual(r.exit_code, 0, "ExecSync failed: %r %r" % (r.stdout, r.stderr))
        return Probe(r.stdout.decode())

    def record(self, cid):
        path = os.path.join(self.node.state_dir, cid, "decision.json")
        self.assertTrue(os.path.isfile(path), "runguard wrote no decision record for %s (%s)" % (cid, path))
        with open(path) as f:
            return json.load(f)

    def sandbox_pid(self, sb):
        info = json.loads(self.cri.PodSandboxStatus(pod_sandbox_id=sb, verbose=True).info["info"])
        return info, int(info["pid"])

    # -- assertions --
    def assertHardened(self, probe, what, uid=65532, memory=MEM_512MI):
        self.assertEqual(probe.uids(), [uid] * 4, what + ": Uid")
        self.assertEqual(probe.gids(), [uid] * 4, what + ": Gid")
        self.assertEqual(probe.cap("CapBnd"), NET_BIND_SERVICE_MASK, what + ": CapBnd")
        for s in ("CapPrm", "CapEff", "CapInh", "CapAmb"):
            self.assertEqual(probe.cap(s) & ~NET_BIND_SERVICE_MASK, 0, "%s: %s" % (what, s))
        self.assertEqual(probe.status["NoNewPrivs"], "1", what + ": NoNewPrivs")
        self.assertEqual(probe.status["Seccomp"], "2", what + ": Seccomp (filter mode)")
        self.assertEqual(probe.memory_limit, memory, what + ": memory.limit_in_bytes")
        self.assertEqual(probe.pids_max, "1024", what + ": pids.max")

    def assertContext(self, record, cid, container_type, namespace, pod):
        ctx = record["context"]
        self.assertEqual(ctx["id"], cid)
        self.assertEqual(ctx["engine"], "containerd-cri")
        self.assertEqual(ctx["containerType"], container_type)
        self.assertEqual(ctx["namespace"], namespace)
        self.assertEqual(ctx["pod"], pod)
        self.assertEqual(record["command"], "create")

    # -- tests --
    def test_handler_runs_runguard(self):
        """containerd serves CRI v1 and resolves the `runguard` handler to runguard's binary."""
        self.assertEqual(self.node.version.runtime_name, "containerd")
        self.assertEqual(self.node.version.runtime_api_version, "v1")
        sb, _ = self.run_pod("handler")
        info, pid = self.sandbox_pid(sb)
        self.assertEqual(info["runtimeHandler"], "runguard")
        self.assertEqual(info["runtimeType"], "io.containerd.runc.v2")
        self.assertEqual(os.path.realpath(info["runtimeOptions"]["binary_name"]), os.path.realpath(RUNGUARD))
        self.assertGreater(pid, 0)
        self.record(sb)  # runguard (not only runc) created it

    def test_default_handler_is_plain_runc(self):
        """The same pod on the node's default handler (runc): what runguard changes, unchanged.
        Selecting the handler (a RuntimeClass) is what hardens a pod."""
        sb, sb_config = self.run_pod("plain", handler="")
        cid, init = self.start_probe(sb, sb_config)
        self.assertEqual(init.uids(), [0] * 4)
        self.assertEqual(bin(init.cap("CapBnd")).count("1"), 14, "containerd's 14 default capabilities")
        self.assertEqual(init.status["Seccomp"], "0")
        self.assertEqual(init.memory_limit, MEM_UNLIMITED_V1)
        self.assertEqual(init.pids_max, "max")
        for i in (sb, cid):
            self.assertFalse(os.path.exists(os.path.join(self.node.state_dir, i)), "runguard saw " + i)

    def test_pod_under_cri_default_spec(self):
        sb, sb_config = self.run_pod("probe")
        cid, init = self.start_probe(sb, sb_config)
        self.assertHardened(init, "pod container init")

        # It was runguard, not the CRI: containerd's own (stored) spec still asks for root, the
        # 14 default capabilities, no seccomp and no memory limit.
        info = json.loads(self.cri.ContainerStatus(container_id=cid, verbose=True).info["info"])
        spec = info["runtimeSpec"]
        self.assertEqual(spec["process"]["user"]["uid"], 0)
        self.assertEqual(len(spec["process"]["capabilities"]["bounding"]), 14)
        self.assertNotIn("seccomp", spec["linux"])
        self.assertNotIn("limit", spec["linux"].get("resources", {}).get("memory", {}))
        self.assertNotIn("pids", spec["linux"].get("resources", {}))

        # ExecSync: containerd builds the exec process from its stored, original spec (root, 14
        # caps); runguard rewrites runc exec's --process.
        self.assertHardened(self.exec_probe(cid), "ExecSync process")

        rec = self.record(cid)
        self.assertContext(rec, cid, "container", "payments", "probe")
        self.assertEqual(rec["policy"]["source"], self.node.policy_path)
        self.assertIsNone(rec["decision"]["override"])
        self.assertEqual(rec["context"]["sandboxId"], sb)
        self.assertEqual(rec["context"]["containerName"], "app")
        self.assertIn(cri_node.BUSYBOX_IMAGE, rec["context"]["image"])
        ids = {f["id"] for f in rec["decision"]["findings"]}
        for finding in ("RG-USER-001", "RG-CAPS-001", "RG-SECCOMP-001", "RG-RES-001", "RG-RES-003"):
            self.assertIn(finding, ids)
        # containerd 1.6 owns the pod's network namespace in the host's user namespace: runc could
        # not exec into a container with one of its own, so the pod keeps the host's, reported.
        userns = [f for f in rec["decision"]["findings"] if f["id"] == "RG-USERNS-003"]
        self.assertEqual([f["action"] for f in userns], ["audit"], rec["decision"]["findings"])
        self.assertNotIn("userNamespace", rec["context"])

        # The sandbox (pause) went through runguard as well.
        srec = self.record(sb)
        self.assertContext(srec, sb, "sandbox", "payments", "probe")
        _info, pid = self.sandbox_pid(sb)
        with open("/proc/%d/status" % pid) as f:
            status = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        self.assertEqual(status["Uid"].split(), ["65532"] * 4, "pause process")
        self.assertEqual(int(status["CapBnd"], 16), NET_BIND_SERVICE_MASK, "pause process")
        self.assertEqual(status["Seccomp"].strip(), "2", "pause process")

        # The pod has its own network namespace (lo + eth0 from the pod network), not the host's.
        self.assertNotEqual(os.readlink("/proc/%d/ns/net" % pid), os.readlink("/proc/self/ns/net"))
        ip = self.cri.PodSandboxStatus(pod_sandbox_id=sb).status.network.ip
        self.assertTrue(ip.startswith("192.0.2."), ip)
        r = self.cri.ExecSync(container_id=cid, cmd=["/bin/cat", "/proc/net/dev"], timeout=10)
        self.assertIn("eth0:", r.stdout.decode())

    def test_namespace_override(self):
        self.node.write_policy(
            "overrides:\n"
            "  - name: payments-tight\n"
            "    match: { namespace: payments }\n"
            "    controls:\n"
            "      user: { action: enforce, uid: 4242, gid: 4242 }\n"
            "      resources: { action: enforce, memory: { default: 256Mi, max: 1Gi }, pids: { default: 1024, max: 4096 } }\n")
        sb, sb_config = self.run_pod("tight", namespace="payments")
        cid, init = self.start_probe(sb, sb_config)
        self.assertHardened(init, "payments container", uid=4242, memory=MEM_256MI)
        self.assertHardened(self.exec_probe(cid), "payments ExecSync", uid=4242, memory=MEM_256MI)
        self.assertEqual(self.record(cid)["decision"]["override"], "payments-tight")
        self.assertEqual(self.record(sb)["decision"]["override"], "payments-tight")

        other_sb, other_config = self.run_pod("loose", namespace="shop")
        other_cid, other = self.start_probe(other_sb, other_config)
        self.assertHardened(other, "container in namespace shop (override must not match)")
        self.assertIsNone(self.record(other_cid)["decision"]["override"])
        self.assertEqual(self.record(other_cid)["context"]["namespace"], "shop")

    def test_denied_host_etc_mount(self):
        sb, sb_config = self.run_pod("denied")
        cid, _log = self.create_container(sb, sb_config, "etc", ["/bin/sleep", "3600"],
                                          mounts=[{"container_path": "/host-etc", "host_path": "/etc", "readonly": True}])
        # containerd's CreateContainer only records the container; runc create (and so runguard's
        # check) runs when StartContainer creates the task.
        with self.assertRaises(cri_client.grpc_error()) as cm:
            self.cri.StartContainer(container_id=cid)
        details = cm.exception.details()
        self.assertIn("OCI runtime create failed: runguard: container %s denied by policy %s"
                      % (cid, self.node.policy_path), details)
        self.assertIn("bind mount of /etc at /host-etc", details)
        self.assertIn("[RG-MOUNT-001]", details)
        status = self.cri.ContainerStatus(container_id=cid).status
        self.assertEqual(status.state, cri_client.messages().CONTAINER_EXITED)
        self.assertEqual(status.reason, "StartError")
        self.assertIn("[RG-MOUNT-001]", status.message)
        self.assertFalse(os.path.exists(os.path.join(self.node.state_dir, cid)), "a denied container has no record")

    def test_denied_host_network_pod(self):
        """A hostNetwork pod: the sandbox itself is refused, so RunPodSandbox fails."""
        with self.assertRaises(cri_client.grpc_error()) as cm:
            self.run_pod("hostnet", network="NODE")
        details = cm.exception.details()
        self.assertIn("OCI runtime create failed: runguard: container ", details)
        self.assertIn("[RG-HOSTNS-001]", details)


if __name__ == "__main__":
    unittest.main()
