"""A Kubernetes node's containerd for the CRI test: integration/containerd.py's containerd
(started from deploy/containerd/config.toml, in a private mount namespace and temp dir) plus what
a real node's config.toml and /etc/cni hold around that snippet, and what an offline, kubelet-less
machine needs:

  - the stock `runc` handler, when the deploy snippet does not define it: a node's config always
    has one (`containerd config default`), and without it containerd 1.6 does not load the CRI
    plugin at all (`no corresponding runtime configured in containerd.runtimes for containerd
    default_runtime_name = "runc"`, a warning only). It also lets the test show that a pod on
    the default handler is *not* hardened;
  - sandbox_image: a pause image imported locally into namespace k8s.io (cri/images.py), so
    nothing is pulled;
  - restrict_oom_score_adj = true: the CRI gives sandboxes oom_score_adj -998, which a root
    without CAP_SYS_RESOURCE (this VM's bounding set) may not set; runc init then dies with
    "failed to update /proc/self/oom_score_adj: Permission denied";
  - pod networking (CNI) in the harness's <dir>/cni/{bin,net.d}: Debian's loopback plugin
    (containernetworking-plugins; the CRI plugin always runs it for `lo`) and cri/rg-podnet for
    eth0 (why not a loopback-only network: see rg-podnet).

The additions go in without changing containerd.py: CriContainerd.start() wraps its
generate_config for the duration of the call, appends the TOML below to what it returns and fills
the CNI directories it has just created (before containerd reads them).
"""

import os
import shutil
import sys
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import containerd as ctrd  # noqa: E402  integration/containerd.py

PODNET_PLUGIN = os.path.join(HERE, "rg-podnet")
DEBIAN_CNI_DIR = "/usr/lib/cni"
CRI_NAMESPACE = "k8s.io"

PAUSE_IMAGE = "localhost/runguard-it/pause:1"
BUSYBOX_IMAGE = "localhost/runguard-it/busybox:1"
POD_NETWORK = "rg-pod"


def unavailable_reason():
    """Why a CRI node cannot be set up here, or None."""
    reason = ctrd.containerd_skip_reason()
    if reason:
        return reason
    if not os.access(os.path.join(DEBIAN_CNI_DIR, "loopback"), os.X_OK):
        return "CNI loopback plugin not found in %s (Debian package containernetworking-plugins)" % DEBIAN_CNI_DIR
    for tool in ("nsenter", "ip"):
        if not shutil.which(tool):
            return "%s not found (needed by the rg-podnet CNI plugin)" % tool
    return None


def node_toml(config_text):
    """What the node's config.toml adds around the deploy snippet (TOML, config version 2), given
    the config generated from the snippet (the runc handler only when the snippet lacks it)."""
    cri = ctrd.toml_string(ctrd.CRI_PLUGIN)
    lines = [
        "",
        "# Added by integration/cri/node.py: the rest of a node's config around the deploy snippet.",
        "[plugins.%s]" % cri,
        "  sandbox_image = " + ctrd.toml_string(PAUSE_IMAGE),
        "  restrict_oom_score_adj = true",
    ]
    runtimes = tomllib.loads(config_text)["plugins"][ctrd.CRI_PLUGIN]["containerd"]["runtimes"]
    if "runc" not in runtimes:
        lines += ["[plugins.%s.containerd.runtimes.runc]" % cri, '  runtime_type = "io.containerd.runc.v2"']
    return "\n".join(lines + [""])


def fill_cni(cni_dir):
    """<cni_dir>/bin: loopback (Debian's) and rg-podnet; <cni_dir>/net.d: the pod network."""
    bin_dir = os.path.join(cni_dir, "bin")
    conf_dir = os.path.join(cni_dir, "net.d")
    os.makedirs(bin_dir, exist_ok=True)
    os.makedirs(conf_dir, exist_ok=True)
    os.symlink(os.path.join(DEBIAN_CNI_DIR, "loopback"), os.path.join(bin_dir, "loopback"))
    shutil.copy(PODNET_PLUGIN, os.path.join(bin_dir, "rg-podnet"))
    os.chmod(os.path.join(bin_dir, "rg-podnet"), 0o755)
    with open(os.path.join(conf_dir, "10-%s.conflist" % POD_NETWORK), "w") as f:
        f.write('{"cniVersion": "1.0.0", "name": "%s", "plugins": [{"type": "rg-podnet"}]}\n' % POD_NETWORK)


class CriContainerd(ctrd.Containerd):
    """containerd.Containerd with the node additions above; the CRI socket is .address.

    Two guards around containerd.py's stop(), which finds leftover processes by comparing mount
    namespace ids (/proc/PID/ns/mnt) with containerd's:
      - containerd's mount namespace is pinned (an open fd) from start() until stop() has
        returned. Otherwise, once containerd and its shims have exited the namespace is freed,
        the kernel hands its inode number to the next new namespace (proc_inum is an IDA: lowest
        free number first), and stop() SIGKILLs whatever process now has it: seen here as another
        test's `runc:[2:INIT]`.
      - no ctr namespaces are passed (namespaces=()), so stop() kills nothing by cgroup path
        (/k8s.io/... is not ours: the CRI's pods use the test's own cgroup_parent).
    """

    def __init__(self, env):
        super().__init__(env=env, namespaces=())
        self._ns_pin = None

    def start(self, timeout=ctrd.START_TIMEOUT):
        original = ctrd.generate_config

        def generate_config(snippet, **kw):
            text = original(snippet, **kw)
            text += node_toml(text)
            tomllib.loads(text)  # still one valid document
            fill_cni(kw["cni_dir"])
            return text

        ctrd.generate_config = generate_config
        try:
            super().start(timeout)
        finally:
            ctrd.generate_config = original
        self._ns_pin = os.open("/proc/%d/ns/mnt" % self.proc.pid, os.O_RDONLY | os.O_CLOEXEC)
        if ctrd.mnt_ns(self.proc.pid) != self.ns:
            raise ctrd.ContainerdError("containerd's mount namespace changed while pinning it")
        status = self.plugins().get(("io.containerd.grpc.v1", "cri"))
        if status != "ok":
            raise ctrd.ContainerdError("containerd's CRI plugin did not load (%s); log tail:\n%s"
                                       % (status, self.log_tail()))
        return self

    def stop(self):
        try:
            return super().stop()
        finally:
            if self._ns_pin is not None:
                os.close(self._ns_pin)
                self._ns_pin = None

    def import_archive(self, tar, ref):
        """ctr images import of an OCI archive into the CRI's namespace; the archive's
        org.opencontainers.image.ref.name annotation (set to ref by scripts/mkimage.py) names it.
        No --index-name: equal to that name, ctr 1.6 overwrites the index record and GC can drop
        the index blob mid-import ("content digest ...: not found", scripts/mkimage.py)."""
        p = self.ctr(["images", "import", tar], ns=CRI_NAMESPACE, timeout=60)
        if p.returncode != 0:
            raise ctrd.ContainerdError("ctr images import %s as %s failed: %s\ncontainerd log tail:\n%s"
                                       % (tar, ref, p.stderr.strip(), self.log_tail(60)))

    @property
    def runc_state_dir(self):
        """runc's --root for the CRI's containers: the runc handler's default Root
        (/run/containerd/runc/<ns>), which is in the overlay upper dir of containerd's private /run."""
        return self.path("run-upper", "containerd", "runc", CRI_NAMESPACE)
