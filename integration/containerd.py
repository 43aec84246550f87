"""A real containerd (Debian's 1.6 package) for the runguard integration tests.

    ctrd = Containerd(env={"RUNGUARD_CONFIG": policy})
    ctrd.start()                       # or fails with the tail of containerd's log
    ctrd.import_image("rgtest")        # scripts/mkimage.py's busybox image
    p = ctrd.ctr(["run", "--rm", *ctrd.run_flags(), IMAGE_REF, "c1", "true"], ns="rgtest")
    ctrd.stop()                        # containers, containerd, mounts, cgroups, files: all gone

containerd is started from deploy/containerd/config.toml itself (generate_config): only paths
are rewritten (root, state, temp, socket, BinaryName -> the build tree's runguard, the CRI
plugin's CNI directories) and plugins this machine cannot use are disabled, so the snippet that
docs/engines.md tells operators to install is the one under test.

Isolation. Everything lives in one temporary directory:

  <dir>/config.toml  containerd.log  containerd.sock[.ttrpc]
  <dir>/root/        containerd --root (content, metadata, snapshots)
  <dir>/state/       containerd --state (task bundles: state/io.containerd.runtime.v2.task/<ns>/<id>)
  <dir>/runc/        runc's --root for the tasks ctr starts (ctr --runc-root)
  <dir>/fifo/        ctr's stdio FIFOs (ctr --fifo-dir; its default is /run/containerd/fifo)
  <dir>/run-upper/   what containerd and its shims write below /run (see below)

containerd 1.6 puts every shim's socket in the hard-coded /run/containerd/s/ whatever --state
says, so containerd runs in a mount namespace of its own (unshare --mount, private propagation)
where /run is an overlay of the host's /run with <dir>/run-upper on top: the host's
/run/containerd is never written, and nothing containerd or a shim mounts (overlay rootfs
snapshots) is visible outside. The namespace, and with it every mount in it, disappears when
its last process (containerd, a shim) has exited and the harness's pin (an fd held from start()
to the end of stop(), so that its identity cannot be reused meanwhile) is closed; stop() makes
sure they all do and checks that.

The environment of `ctr` never reaches runguard: containerd starts the shim, the shim runs
runguard, each with its parent's environment. So RUNGUARD_CONFIG is given to containerd here.

Running this file starts one for scripts/bench_containerd.sh:
    python3 containerd.py serve --namespace NS --env K=V... --info FILE
writes {"address", "fifo_dir", "runc_root", "image", ...} to FILE once ready, then serves
until SIGTERM/SIGINT and cleans up. `python3 containerd.py task-update ...` is the Tasks.Update
client (below) as a command, for interpreters without grpc.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "scripts"))

from harness import RUNC, RUNGUARD, TIMEOUT, skip_reason  # noqa: E402
import mkimage  # noqa: E402

CONTAINERD = shutil.which("containerd") or "/usr/bin/containerd"
CTR = shutil.which("ctr") or "/usr/bin/ctr"
SHIM = shutil.which("containerd-shim-runc-v2") or "/usr/bin/containerd-shim-runc-v2"
UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"
DEPLOY_CONFIG = os.path.normpath(os.path.join(HERE, "..", "deploy", "containerd", "config.toml"))
INSTALLED_BINARY = "/usr/local/bin/runguard"  # what the deploy snippet names
RUNTIME_HANDLER = "runguard"
IMAGE_REF = "runguard.test/busybox:latest"
START_TIMEOUT = 20  # seconds for containerd to answer `ctr version`

# Plugins disabled in the generated config: the snapshotters that probe for a kernel module or a
# filesystem this machine does not have (aufs runs modprobe), and "opt", which creates
# /opt/containerd on the host whatever --root says. Nothing runguard needs.
DISABLED_PLUGINS = [
    "io.containerd.internal.v1.opt",
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.snapshotter.v1.zfs",
]
CRI_PLUGIN = "io.containerd.grpc.v1.cri"


def containerd_skip_reason():
    """Why a containerd test cannot run here, or None."""
    reason = skip_reason()
    if reason:
        return reason
    for path, pkg in ((CONTAINERD, "containerd"), (CTR, "containerd"), (SHIM, "containerd"), (UNSHARE, "util-linux")):
        if not os.access(path, os.X_OK):
            return "%s is not installed (Debian package %s)" % (os.path.basename(path), pkg)
    if not os.path.exists("/proc/self/ns/mnt"):
        return "no mount namespaces"
    return None


# -- the config --------------------------------------------------------------------------------

def toml_string(s):
    return json.dumps(s)  # a TOML basic string is a JSON string for what we write (paths)


def generate_config(snippet, root, state, temp, address, binary, cni_dir):
    """The containerd config the tests start: deploy/containerd/config.toml with its paths
    pointed at the test's directories. Raises ValueError when the snippet no longer has the
    shape the deployment docs describe (so a broken snippet fails the suite)."""
    import tomllib

    parsed = tomllib.loads(snippet)
    if parsed.get("version") != 2:
        raise ValueError("deploy config: expected `version = 2` (containerd 1.6 config format)")
    runtimes = parsed.get("plugins", {}).get(CRI_PLUGIN, {}).get("containerd", {}).get("runtimes", {})
    rt = runtimes.get(RUNTIME_HANDLER)
    if not rt:
        raise ValueError("deploy config: no CRI runtime handler %r" % RUNTIME_HANDLER)
    if rt.get("runtime_type") != "io.containerd.runc.v2":
        raise ValueError("deploy config: runtime_type is %r, expected io.containerd.runc.v2" % rt.get("runtime_type"))
    if rt.get("options", {}).get("BinaryName") != INSTALLED_BINARY:
        raise ValueError("deploy config: options.BinaryName is %r, expected %s"
                         % (rt.get("options", {}).get("BinaryName"), INSTALLED_BINARY))
    for key in ("root", "state", "temp", "grpc", "disabled_plugins"):
        if key in parsed:
            raise ValueError("deploy config: sets %r, which is the node's business, not runguard's" % key)

    body, n = re.subn(r'(?m)^(\s*BinaryName\s*=\s*)"[^"\n]*"', lambda m: m.group(1) + toml_string(binary), snippet)
    if n != 1:
        raise ValueError("deploy config: expected exactly one BinaryName line, found %d" % n)
    body = re.sub(r"(?m)^version\s*=\s*2\s*$", "", body)
    head = "\n".join([
        "# Generated by integration/containerd.py from %s: paths rewritten, plugins disabled." % DEPLOY_CONFIG,
        "version = 2",
        "root = " + toml_string(root),
        "state = " + toml_string(state),
        "temp = " + toml_string(temp),
        "disabled_plugins = [%s]" % ", ".join(toml_string(p) for p in DISABLED_PLUGINS),
        "",
    ])
    tail = "\n".join([
        "",
        "[grpc]",
        "  address = " + toml_string(address),
        "",
        "[plugins.%s.cni]" % toml_string(CRI_PLUGIN),
        "  bin_dir = " + toml_string(os.path.join(cni_dir, "bin")),
        "  conf_dir = " + toml_string(os.path.join(cni_dir, "net.d")),
        "",
    ])
    text = head + "\n" + body + "\n" + tail
    check = tomllib.loads(text)  # what we wrote must still parse, with our values
    got = check["plugins"][CRI_PLUGIN]["containerd"]["runtimes"][RUNTIME_HANDLER]["options"]["BinaryName"]
    assert got == binary, got
    return text


# -- mounts and processes ----------------------------------------------------------------------

def _unescape_mountinfo(s):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), s)


def mounts_under(prefix, mountinfo="/proc/self/mountinfo"):
    """Mount points at or below prefix, deepest first."""
    prefix = os.path.realpath(prefix)
    out = []
    try:
        with open(mountinfo) as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    for line in lines:
        fields = line.split()
        if len(fields) < 5:
            continue
        mp = _unescape_mountinfo(fields[4])
        if mp == prefix or mp.startswith(prefix + "/"):
            out.append(mp)
    return sorted(out, key=len, reverse=True)


def mnt_ns(pid):
    try:
        return os.readlink("/proc/%s/ns/mnt" % pid)
    except OSError:
        return None


def pids_in_mnt_ns(ns):
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid() and mnt_ns(name) == ns:
            out.append(int(name))
    return out


CGROUP_V1 = "/sys/fs/cgroup"


def cgroup_dirs(name):
    """/sys/fs/cgroup/<controller>/<name> for every v1 hierarchy (what ctr's default
    cgroupsPath /<namespace>/<id> creates under)."""
    out = []
    try:
        ctrls = sorted(os.listdir(CGROUP_V1))
    except OSError:
        return out
    for c in ctrls:
        d = os.path.join(CGROUP_V1, c, name)
        if os.path.isdir(d) and not os.path.islink(os.path.join(CGROUP_V1, c)):
            out.append(d)
    return out


# -- containerd --------------------------------------------------------------------------------

class ContainerdError(Exception):
    pass


class Containerd:
    """One containerd, started from the deploy snippet, in its own temp dir and mount namespace."""

    def __init__(self, env=None, namespaces=("rgtest",), binary=None, parent="/tmp"):
        self.env_extra = dict(env or {})
        self.namespaces = list(namespaces)
        self.binary = os.path.realpath(binary or RUNGUARD)
        self.parent = parent
        self.dir = None
        self.proc = None
        self.ns = None
        self.image = None
        self.problems = []  # what stop() had to clean up by force (reported by tests)
        self._cgroups_before = {}
        self._ns_fd = None

    # paths
    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    @property
    def address(self):
        return self.path("containerd.sock")

    @property
    def log_path(self):
        return self.path("containerd.log")

    @property
    def runc_root(self):
        return self.path("runc")

    @property
    def fifo_dir(self):
        return self.path("fifo")

    @property
    def state_dir(self):
        return self.path("state")

    def bundle(self, ns, cid):
        return self.path("state", "io.containerd.runtime.v2.task", ns, cid)

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no containerd log)"

    # lifecycle
    def start(self, timeout=START_TIMEOUT):
        self.dir = tempfile.mkdtemp(prefix="rg-ctrd-", dir=self.parent)
        os.chmod(self.dir, 0o755)
        for d in ("root", "state", "tmp", "runc", "fifo", "cni/bin", "cni/net.d", "run-upper", "run-work"):
            os.makedirs(self.path(d), exist_ok=True)
        for n in self.namespaces:
            self._cgroups_before[n] = set(cgroup_dirs(n))
        with open(DEPLOY_CONFIG) as f:
            snippet = f.read()
        text = generate_config(snippet, root=self.path("root"), state=self.path("state"), temp=self.path("tmp"),
                               address=self.address, binary=self.binary, cni_dir=self.path("cni"))
        with open(self.path("config.toml"), "w") as f:
            f.write(text)
        env = dict(os.environ)
        env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        env.pop("CONTAINERD_ADDRESS", None)
        env.pop("NOTIFY_SOCKET", None)
        env["TMPDIR"] = self.path("tmp")
        env.update(self.env_extra)
        # /run becomes an overlay in containerd's private mount namespace; then exec containerd,
        # so self.proc.pid is containerd's pid.
        script = ('mount -t overlay runguard-it-run -o "lowerdir=/run,upperdir=$1,workdir=$2" /run || exit 125; '
                  'shift 2; exec "$@"')
        cmd = [UNSHARE, "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sh",
               self.path("run-upper"), self.path("run-work"),
               CONTAINERD, "--config", self.path("config.toml"), "--log-level", "info"]
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                         cwd=self.dir, start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        last = None
        while True:
            if self.proc.poll() is not None:
                raise ContainerdError("containerd exited with status %s before answering; log tail:\n%s"
                                      % (self.proc.returncode, self.log_tail()))
            if os.path.exists(self.address):
                last = self.ctr(["version"], timeout=5, check=False)
                if last.returncode == 0:
                    break
            if time.monotonic() > deadline:
                raise ContainerdError("containerd did not answer `ctr version` within %ss (%s); log tail:\n%s"
                                      % (timeout, last and last.stderr.strip(), self.log_tail()))
            time.sleep(0.05)
        # Pin the namespace (an open fd) until stop() is done with it: once its last process
        # exits a namespace is freed and the kernel gives its inode number to the next new one
        # (lowest free first), so without the pin "in containerd's namespace" could match some
        # other test's fresh container and stop() would kill it.
        self._ns_fd = os.open("/proc/%d/ns/mnt" % self.proc.pid, os.O_RDONLY | os.O_CLOEXEC)
        self.ns = mnt_ns(self.proc.pid)
        if self.ns is None or self.ns == mnt_ns("self") or self.ns != _fd_ns(self._ns_fd):
            raise ContainerdError("containerd is not in a mount namespace of its own")
        return self

    def import_image(self, ns, ref=IMAGE_REF):
        """Builds scripts/mkimage.py's image (once per containerd) and imports it into ns."""
        tar = self.path("busybox-oci.tar")
        if self.image is None or self.image["ref"] != ref:
            self.image = mkimage.build_image(tar, ref)
        # No --index-name: the manifest's org.opencontainers.image.ref.name (a full reference)
        # already names the image. ctr 1.6 creates the --index-name record first and the
        # annotated manifest's second, so with the same name the second overwrites the first,
        # the index blob loses its last reference once import's lease ends, and the unpack of
        # the index record that ctr then runs fails when GC got there first ("content digest
        # sha256:<index>: not found"): a race, seen here in most runs.
        p = self.ctr(["images", "import", tar], ns=ns, timeout=60)
        if p.returncode != 0:
            raise ContainerdError("ctr images import failed: %s\nlog tail:\n%s" % (p.stderr.strip(), self.log_tail()))
        return ref

    def ctr(self, args, ns=None, timeout=TIMEOUT, input=None, check=False):
        cmd = [CTR, "--address", self.address]
        if ns:
            cmd += ["--namespace", ns]
        cmd += list(args)
        env = dict(os.environ)
        env.pop("CONTAINERD_ADDRESS", None)
        env.pop("CONTAINERD_NAMESPACE", None)
        p = subprocess.run(cmd, input=input, stdin=None if input is not None else subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout, env=env)
        if check and p.returncode != 0:
            raise ContainerdError("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))
        return p

    def run_flags(self, binary=None):
        """The ctr run flags that make a container use runguard and keep to our temp dir."""
        return ["--runc-binary", binary or self.binary, "--runc-root", self.runc_root, "--fifo-dir", self.fifo_dir]

    def plugins(self):
        """{(type, id): status} from `ctr plugins ls`."""
        p = self.ctr(["plugins", "ls"], check=True)
        out = {}
        for line in p.stdout.splitlines()[1:]:
            f = line.split()
            if len(f) >= 4:
                out[(f[0], f[1])] = f[-1]
        return out

    def ids(self, what, ns):
        """Ids from `ctr <what> ls -q` (tasks: first column of `ctr tasks ls`)."""
        if what == "tasks":
            p = self.ctr(["tasks", "ls"], ns=ns)
            return [l.split()[0] for l in p.stdout.splitlines()[1:] if l.strip()]
        p = self.ctr([what, "ls", "-q"], ns=ns)
        return [l.strip() for l in p.stdout.splitlines() if l.strip()]

    def remove_container(self, ns, cid):
        """Kills and deletes the task, deletes the container and its snapshot; quiet when absent.
        Returns True when something was there."""
        found = False
        if cid in self.ids("tasks", ns):
            found = True
            self.ctr(["tasks", "kill", "--all", "--signal", "SIGKILL", cid], ns=ns)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                p = self.ctr(["tasks", "delete", "--force", cid], ns=ns)
                if p.returncode == 0 or cid not in self.ids("tasks", ns):
                    break
                time.sleep(0.1)
        if cid in self.ids("containers", ns):
            found = True
            self.ctr(["containers", "delete", cid], ns=ns)
        return found

    def stop(self):
        """Removes every task and container left, stops containerd (SIGTERM by pid, then
        SIGKILL), kills any process still in its mount namespace, unmounts anything under the
        temp dir, removes empty cgroups it created and the temp dir. Returns a list of what had
        to be cleaned up by force (empty when the tests cleaned up after themselves)."""
        problems = []
        if self.proc is None:
            if self._ns_fd is not None:
                os.close(self._ns_fd)
                self._ns_fd = None
            return problems
        if self.proc.poll() is None:
            try:
                for ns in self.ids("namespaces", None) if self.proc.poll() is None else []:
                    for cid in self.ids("tasks", ns) + self.ids("containers", ns):
                        if self.remove_container(ns, cid):
                            problems.append("left behind: %s/%s" % (ns, cid))
            except (subprocess.TimeoutExpired, OSError) as e:
                problems.append("cleanup through ctr failed: %s" % e)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                problems.append("containerd ignored SIGTERM for 10s")
                self.proc.kill()
                self.proc.wait(timeout=10)
        # Containers whose task containerd could not remove: runc's own state (ctr --runc-root,
        # or the shim's default /run/containerd/runc, which is in our /run overlay) names them;
        # `runc delete --force` kills their processes and removes their cgroups.
        for root in self._runc_roots():
            for cid in sorted(os.listdir(root)):
                if os.path.isfile(os.path.join(root, cid, "state.json")):
                    problems.append("runc container %s left in %s" % (cid, root))
                    subprocess.run([RUNC, "--root", root, "delete", "--force", cid], stdin=subprocess.DEVNULL,
                                   capture_output=True, timeout=TIMEOUT)
        # Shims outlive containerd by design; ours are the processes left in its mount namespace.
        for pid in pids_in_mnt_ns(self.ns) if self.ns else []:
            problems.append("process %d (%s) still in containerd's mount namespace" % (pid, _comm(pid)))
            _kill(pid)
        deadline = time.monotonic() + 5
        while self.ns and pids_in_mnt_ns(self.ns) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in pids_in_mnt_ns(self.ns) if self.ns else []:
            problems.append("process %d (%s) survived SIGKILL in containerd's mount namespace" % (pid, _comm(pid)))
        # Unpinned with no process left in it, the namespace is freed and every mount in it
        # (overlay rootfs snapshots, the /run overlay) goes with it.
        if self._ns_fd is not None:
            os.close(self._ns_fd)
            self._ns_fd = None
        for mp in mounts_under(self.dir):
            problems.append("mount left at %s" % mp)
            subprocess.run(["umount", "-l", mp], stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
        for ns in self.namespaces:
            for d in cgroup_dirs(ns):
                if d not in self._cgroups_before.get(ns, set()):
                    _rmdir_tree(d)
        self.proc = None
        self.problems = problems
        return problems

    def _runc_roots(self):
        out = []
        for base in (self.runc_root, self.path("run-upper", "containerd", "runc")):
            if os.path.isdir(base):
                out += [os.path.join(base, n) for n in sorted(os.listdir(base)) if os.path.isdir(os.path.join(base, n))]
        return out

    def remove_dir(self):
        if self.dir and not mounts_under(self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)


def _fd_ns(fd):
    try:
        return os.readlink("/proc/self/fd/%d" % fd)
    except OSError:
        return None


def _comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return "?"


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _rmdir_tree(d):
    """rmdir of an (empty) cgroup directory tree, deepest first; cgroupfs refuses non-empty."""
    for dirpath, dirnames, _ in sorted(os.walk(d), key=lambda t: -len(t[0])):
        try:
            os.rmdir(dirpath)
        except OSError:
            pass


# -- Tasks.Update ------------------------------------------------------------------------------
# ctr 1.6 has no `tasks update` (`ctr tasks update --help`: "No help topic for 'update'"), so
# the tests call containerd's Tasks API the way kubelet's resize reaches it through CRI:
# /containerd.services.tasks.v1.Tasks/Update with UpdateTaskRequest{container_id = 1,
# resources = 2 (google.protobuf.Any)} (api/services/tasks/v1/tasks.proto). The Any carries
# LinuxResources as JSON under containerd's type URL for it (typeurl registration in
# containerd's runtime package); the shim turns it into `runc update --resources -`.

LINUX_RESOURCES_TYPE_URL = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources"
UPDATE_METHOD = "/containerd.services.tasks.v1.Tasks/Update"


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _len_field(number, data):
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def update_task_request(cid, resources):
    any_msg = _len_field(1, LINUX_RESOURCES_TYPE_URL.encode()) + _len_field(2, json.dumps(resources).encode())
    return _len_field(1, cid.encode()) + _len_field(2, any_msg)


def grpc_python():
    """An interpreter that can `import grpc` (Debian's python3-grpcio is built for /usr/bin/python3,
    which need not be the one running the tests), or None."""
    for py in dict.fromkeys([sys.executable, "/usr/bin/python3"]):
        if py and os.access(py, os.X_OK):
            p = subprocess.run([py, "-c", "import grpc"], capture_output=True, timeout=30)
            if p.returncode == 0:
                return py
    return None


def task_update_inprocess(address, ns, cid, resources, timeout=TIMEOUT):
    import grpc
    with grpc.insecure_channel("unix:" + address) as ch:
        call = ch.unary_unary(UPDATE_METHOD)  # bytes in, bytes out
        call(update_task_request(cid, resources), metadata=[("containerd-namespace", ns)], timeout=timeout)


def task_update(address, ns, cid, resources, python=None, timeout=TIMEOUT):
    """Tasks.Update; returns (ok, error text)."""
    py = python or grpc_python()
    if py is None:
        raise RuntimeError("no python3 with grpc (Debian package python3-grpcio)")
    p = subprocess.run([py, os.path.abspath(__file__), "task-update", "--address", address, "--namespace", ns,
                        "--id", cid, "--resources", json.dumps(resources)],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout + 10)
    return p.returncode == 0, p.stderr.strip()


# -- command line ------------------------------------------------------------------------------

def _serve(a):
    env = dict(kv.split("=", 1) for kv in a.env)
    c = Containerd(env=env, namespaces=[a.namespace], binary=a.binary or None)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    try:
        c.start()
        c.import_image(a.namespace)
        info = {"address": c.address, "namespace": a.namespace, "image": IMAGE_REF, "fifo_dir": c.fifo_dir,
                "runc_root": c.runc_root, "dir": c.dir, "pid": c.proc.pid}
        tmp = a.info + ".tmp"
        with open(tmp, "w") as f:
            json.dump(info, f)
        os.replace(tmp, a.info)
        while not stop and c.proc.poll() is None:
            time.sleep(0.2)
        return 0 if not stop or c.proc.poll() is None else 1
    finally:
        problems = c.stop()
        for p in problems:
            print("containerd.py: " + p, file=sys.stderr)
        c.remove_dir()


def _task_update_main(a):
    try:
        task_update_inprocess(a.address, a.namespace, a.id, json.loads(a.resources))
    except Exception as e:  # grpc.RpcError and friends: report, exit 1
        details = getattr(e, "details", None)
        print(details() if callable(details) else str(e), file=sys.stderr)
        return 1
    return 0


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description="containerd for runguard tests and benchmarks")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="start containerd, import the image, serve until SIGTERM")
    s.add_argument("--namespace", default="bench")
    s.add_argument("--env", action="append", default=[], help="K=V for containerd's (and so runguard's) env")
    s.add_argument("--binary", default="", help="BinaryName for the CRI handler (default: the build's runguard)")
    s.add_argument("--info", required=True, help="where to write the JSON description once ready")
    u = sub.add_parser("task-update", help="containerd Tasks.Update with LinuxResources JSON")
    u.add_argument("--address", required=True)
    u.add_argument("--namespace", required=True)
    u.add_argument("--id", required=True)
    u.add_argument("--resources", required=True)
    a = ap.parse_args(argv)
    return _serve(a) if a.cmd == "serve" else _task_update_main(a)


if __name__ == "__main__":
    sys.exit(main())
