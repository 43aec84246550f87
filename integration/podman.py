"""Podman for the runguard integration tests: a private store, a busybox image, runs, cleanup.

One store per test class (setUpClass), in its own temporary directory under /tmp:

  <tmp>/storage/  <tmp>/runroot/  <tmp>/podman-tmp/  <tmp>/networks/   podman's --root, --runroot,
                  --tmpdir and --network-config-dir: the host's /var/lib/containers/storage,
                  /run/containers/storage and /etc/containers/networks are never used
  <tmp>/containers.conf   CONTAINERS_CONF: podman reads this file and no other containers.conf
  <tmp>/policy.yaml       runguard's policy (stateDir <tmp>/state, runtime.path runc)
  <tmp>/state/            runguard's stateDir
  <tmp>/image.tar         the busybox image: scripts/mkimage.py's OCI archive (`podman load`), or
                          without that script a plain rootfs tar (`podman import`)

Every podman call also gets --cgroup-manager cgroupfs (no systemd here), --events-backend file
(events go to <tmp>/podman-tmp, not the journal) and --storage-driver vfs (a 2 MB image: copying
it is cheaper than making overlay work on whatever /tmp is). Containers use --network none (a
private network namespace with only loopback: no CNI/netavark network is needed).

How runguard gets its policy: podman does not pass its environment to conmon, and conmon's
environment is what the runtime (and a hook without `env`) inherits. containers.conf's
`conmon_env_vars` sets it: the test's containers.conf puts RUNGUARD_CONFIG=<tmp>/policy.yaml there.

What podman still writes outside the private store (podman 4.3 has no flag for either):
/run/containers/networks/ (netavark's empty run directory) and
/var/lib/containers/cache/blob-info-cache-v1.boltdb (containers/image's blob cache, written by
`podman load` / `podman import`). Cleanup removes them again if this run created them and they hold nothing else,
and runc's default root /run/runc (below) the same way.

runc's state for podman's containers lives in runc's default root (/run/runc), as in production:
podman's `--runtime-flag root=...` is not passed on to conmon's exit command (`podman container
cleanup`), which would then delete the wrong root. Containers are named by podman's 64-hex ids;
cleanup removes ours with `podman rm -f` and checks runc has none of them left.
"""

import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import unittest

import harness
from harness import APPLETS, BUSYBOX, PROBE, RUNC, RUNGUARD, RUNGUARD_BIN, Probe, agent_settings

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(HERE)
PODMAN = shutil.which("podman") or "/usr/bin/podman"
RUNGUARD_HOOK = os.path.join(RUNGUARD_BIN, "runguard-hook")
SHIPPED_CONTAINERS_CONF = os.path.join(SOURCE_DIR, "deploy", "podman", "containers.conf")
SHIPPED_HOOK = os.path.join(SOURCE_DIR, "deploy", "podman", "hooks.d", "runguard.json")
INSTALLED_RUNGUARD = "/usr/local/bin/runguard"  # the paths the shipped files name
INSTALLED_HOOK = "/usr/local/bin/runguard-hook"
INSTALLED_POLICY = "/etc/runguard/policy.yaml"

IMAGE = "localhost/runguard-it-busybox:latest"
TIMEOUT = 60  # one podman call; a first call sets up the store

# Podman 4.3's default rlimits (RLIMIT_NOFILE 1048576, RLIMIT_NPROC 4194304) are above this
# machine's hard limits, and runc (as root, but in a user's limits) fails with "error setting
# rlimit type 7: operation not permitted". Every run passes explicit values within them.
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]

# What podman needs to start a container the default policy accepts as it is (no change needed):
# the flags runguard-hook's refusal tells the user to add, plus RLIMIT_NOFILE (present, any value).
COMPLIANT = ["--user", "65532:65532", "--cap-drop", "all", "--cap-add", "NET_BIND_SERVICE",
             "--security-opt", "no-new-privileges", "--memory", "512m", "--pids-limit", "1024",
             "--cpu-shares", "1024", "--uidmap", "0:300000:65536", "--gidmap", "0:300000:65536"]

# Created by podman whatever its flags say: (path, entries podman puts there relative to it).
HOST_LEFTOVERS = [
    ("/run/runc", set()),  # runc's default root, which podman uses (see above)
    ("/run/containers", {"networks"}),
    ("/var/lib/containers", {"cache", os.path.join("cache", "blob-info-cache-v1.boltdb")}),
]

_ID_RE = re.compile(r"^[0-9a-f]{64}$")


def podman_skip_reason():
    reason = harness.skip_reason()
    if reason:
        return reason
    if not os.access(PODMAN, os.X_OK):
        return "podman not installed (apt-get install podman)"
    if shutil.which("conmon") is None and not os.path.exists("/usr/libexec/podman/conmon"):
        return "conmon not installed (podman's dependency)"
    if not os.access(RUNGUARD_HOOK, os.X_OK):
        return "runguard-hook binary not found at %s" % RUNGUARD_HOOK
    return None


def load_busybox_image(store, tmp):
    """Puts IMAGE into the store, built offline from the host's static busybox."""
    path = os.path.join(tmp, "image.tar")
    mkimage = os.path.join(SOURCE_DIR, "scripts", "mkimage.py")
    if os.path.exists(mkimage):
        spec = importlib.util.spec_from_file_location("rg_mkimage", mkimage)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.build_image(path, IMAGE, BUSYBOX)
        store.podman(["load", "-i", path], check=True)
    else:
        busybox_rootfs_tar(path)
        store.podman(["import", path, IMAGE], check=True)


def busybox_rootfs_tar(path):
    """A static busybox rootfs as a tar file: /bin/busybox, its applets, /etc/passwd, /etc/group."""
    def add_dir(tar, name):
        info = tarfile.TarInfo(name)
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)

    def add_text(tar, name, text):
        data = text.encode()
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))

    with tarfile.open(path, "w") as tar:
        for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "run"):
            add_dir(tar, d)
        tar.add(BUSYBOX, arcname="bin/busybox")
        for applet in APPLETS:
            info = tarfile.TarInfo("bin/" + applet)
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            tar.addfile(info)
        add_text(tar, "etc/passwd", "root:x:0:0:root:/:/bin/sh\nnonroot:x:65532:65532:nonroot:/:/bin/sh\n")
        add_text(tar, "etc/group", "root:x:0:\nnonroot:x:65532:\n")


def shipped_hook(hook_path=RUNGUARD_HOOK, policy_path=None):
    """deploy/podman/hooks.d/runguard.json with only its paths rewritten: the hook binary, and
    the --policy value when policy_path is given. Returns (original, rewritten) as dicts."""
    with open(SHIPPED_HOOK) as f:
        original = json.load(f)
    hook = json.loads(json.dumps(original))
    assert hook["hook"]["path"] == INSTALLED_HOOK, hook
    hook["hook"]["path"] = hook_path
    if policy_path is not None:
        args = hook["hook"]["args"]
        i = args.index("--policy")
        assert args[i + 1] == INSTALLED_POLICY, args
        args[i + 1] = policy_path
    return original, hook


def shipped_containers_conf(runguard_path, conmon_env):
    """deploy/podman/containers.conf with the runtime's path rewritten and `conmon_env_vars`
    (a list of "K=V") added to its [engine] table."""
    with open(SHIPPED_CONTAINERS_CONF) as f:
        text = f.read()
    assert text.count('"%s"' % INSTALLED_RUNGUARD) == 1, "the shipped containers.conf must name %s once" % INSTALLED_RUNGUARD
    text = text.replace('"%s"' % INSTALLED_RUNGUARD, json.dumps(runguard_path))
    lines = text.splitlines()
    engine = lines.index("[engine]")
    lines.insert(engine + 1, "conmon_env_vars = %s" % json.dumps(list(conmon_env)))
    return "\n".join(lines) + "\n"


class PodmanStore:
    """A private podman store in `tmp` and the podman command line that uses it."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.storage = os.path.join(tmp, "storage")
        self.runroot = os.path.join(tmp, "runroot")
        self.tmpdir = os.path.join(tmp, "podman-tmp")
        self.networks = os.path.join(tmp, "networks")
        self.containers_conf = os.path.join(tmp, "containers.conf")
        self.created_ids = set()

    def base(self):
        return [PODMAN, "--root", self.storage, "--runroot", self.runroot, "--tmpdir", self.tmpdir,
                "--network-config-dir", self.networks, "--cgroup-manager", "cgroupfs",
                "--events-backend", "file", "--storage-driver", "vfs"]

    def env(self):
        e = dict(os.environ)
        e["CONTAINERS_CONF"] = self.containers_conf
        e.pop("RUNGUARD_CONFIG", None)  # what reaches the runtime is conmon_env_vars alone
        e.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        return e

    def write_containers_conf(self, text):
        with open(self.containers_conf, "w") as f:
            f.write(text)

    def podman(self, args, timeout=TIMEOUT, check=False):
        p = subprocess.run(self.base() + list(args), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           env=self.env(), timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("podman %s failed (rc %d): %s" % (" ".join(args), p.returncode, p.stderr))
        return p

    def container_id(self, name):
        p = self.podman(["inspect", "--format", "{{.Id}}", name])
        cid = p.stdout.strip()
        if p.returncode == 0 and _ID_RE.match(cid):
            self.created_ids.add(cid)
            return cid
        return None

    def bundle_config(self, cid):
        with open(os.path.join(self.storage, "vfs-containers", cid, "userdata", "config.json")) as f:
            return json.load(f)

    # -- cleanup --
    def cleanup(self):
        """Removes every container and image of this store, waits for their conmon and cleanup
        processes, unmounts what podman left under tmp, and checks runc keeps none of them."""
        p = self.podman(["ps", "-a", "-q", "--no-trunc"])
        self.created_ids.update(l.strip() for l in p.stdout.splitlines() if _ID_RE.match(l.strip()))
        self.podman(["rm", "-a", "-f", "-t", "0"])
        self.podman(["rmi", "-a", "-f"])
        self._wait_for_processes()
        unmount_below(self.tmp)
        leftovers = [cid for cid in self.created_ids if os.path.exists(os.path.join("/run/runc", cid))]
        for cid in leftovers:  # only ids this store created
            subprocess.run([RUNC, "delete", "-f", cid], stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=harness.TIMEOUT)
        return leftovers

    def _wait_for_processes(self, timeout=15):
        """conmon and its exit command (`podman container cleanup`) outlive `podman rm`; they
        name this store's paths on their command lines. Waiting keeps them from recreating the
        store after it is removed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not processes_mentioning(self.tmp):
                return
            time.sleep(0.1)


def processes_mentioning(text):
    """Pids (other than this one) whose command line contains `text`."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            out.append(int(entry))
    return out


def unmount_below(directory):
    """Unmounts every mount point at or below `directory`, deepest first (from mountinfo)."""
    directory = os.path.realpath(directory)
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            point = fields[4].replace("\\040", " ")
            if point == directory or point.startswith(directory + "/"):
                points.append(point)
    for point in sorted(set(points), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], stdin=subprocess.DEVNULL, capture_output=True, timeout=harness.TIMEOUT)
    return points


def snapshot_host_leftovers():
    return {path: os.path.exists(path) for path, _ in HOST_LEFTOVERS}


def remove_host_leftovers(before):
    """Removes the paths podman creates outside its store if they did not exist before this
    run and hold exactly what podman puts there; anything else is left alone."""
    for path, expected in HOST_LEFTOVERS:
        if before.get(path) or not os.path.isdir(path):
            continue
        found = set()
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                found.add(os.path.relpath(os.path.join(root, name), path))
        if found <= expected:
            shutil.rmtree(path, ignore_errors=True)


class PodmanTestCase(unittest.TestCase):
    """Base class: one private store and image per class; per-class policy; helpers to run.

    Subclasses set `containers_conf(cls)` to what CONTAINERS_CONF should say."""

    maxDiff = None
    store = None

    @classmethod
    def setUpClass(cls):
        reason = podman_skip_reason()
        if reason:
            raise unittest.SkipTest(reason)
        cls.host_before = snapshot_host_leftovers()
        cls.tmp = tempfile.mkdtemp(prefix="rg-podman-", dir="/tmp")
        os.chmod(cls.tmp, 0o755)
        cls.state_dir = os.path.join(cls.tmp, "state")
        cls.policy_path = os.path.join(cls.tmp, "policy.yaml")
        cls.write_policy()
        cls.store = PodmanStore(cls.tmp)
        cls.store.write_containers_conf(cls.containers_conf())
        try:
            load_busybox_image(cls.store, cls.tmp)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.store is not None:
            cls.leftover_runc = cls.store.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        remove_host_leftovers(cls.host_before)

    @classmethod
    def containers_conf(cls):
        return ""

    @classmethod
    def write_policy(cls, text=None, path=None):
        """Writes the policy (default: stateDir and runtime.path only, every control at its
        default) to `path` (default: the class's policy.yaml); returns the path."""
        if text is None:
            text = "stateDir: %s\nlibDir: %s-lib\nevents: { path: %s-events.jsonl }\nruntime:\n  path: %s\n" % (
                cls.state_dir, cls.state_dir, cls.state_dir, RUNC) + agent_settings(os.path.dirname(cls.state_dir))
        path = path or cls.policy_path
        with open(path, "w") as f:
            f.write(text)
        return path

    # -- running --
    def podman(self, args, timeout=TIMEOUT):
        return self.store.podman(args, timeout=timeout)

    def new_name(self):
        name = "rgit-%d-%s" % (os.getpid(), next(harness._ids))
        self.addCleanup(self.store.podman, ["rm", "-f", "-t", "0", name])
        return name

    def run_container(self, run_flags, command, global_flags=(), name=None):
        """`podman [global_flags] run --name N --network none ULIMITS run_flags IMAGE command`,
        kept after it exits (no --rm) so its id and bundle can be inspected; returns
        (id or None, CompletedProcess)."""
        name = name or self.new_name()
        p = self.podman(list(global_flags) + ["run", "--name", name, "--network", "none"] + ULIMITS +
                        list(run_flags) + [IMAGE] + list(command))
        return self.store.container_id(name), p

    def run_probe(self, run_flags=(), global_flags=(), rm=True):
        """Runs the probe (harness.PROBE) as `sh -c`; returns (CompletedProcess, Probe)."""
        flags = (["--rm"] if rm else []) + ["--name", self.new_name(), "--network", "none"] + ULIMITS + list(run_flags)
        p = self.podman(list(global_flags) + ["run"] + flags + [IMAGE, "sh", "-c", PROBE])
        self.assertEqual(p.returncode, 0, "podman run failed (rc %d)\nstderr: %s\nstdout: %s"
                         % (p.returncode, p.stderr, p.stdout))
        self.assertTrue(p.stdout.startswith("== status\n"), "stdout must be the probe's alone:\n" + p.stdout[:500])
        return p, Probe(p.stdout)

    # -- assertions --
    def assertHardened(self, probe, nofile="1024"):
        """What runguard's default policy gives every container (the same values as the
        runtime's own integration tests)."""
        self.assertEqual(probe.uids(), [65532] * 4, probe.status)
        self.assertEqual(probe.gids(), [65532] * 4, probe.status)
        self.assertEqual(probe.cap("CapBnd"), harness.NET_BIND_SERVICE_MASK, probe.status)
        for s in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
            self.assertEqual(probe.cap(s) & ~harness.NET_BIND_SERVICE_MASK, 0, "%s %s" % (s, probe.status))
        self.assertEqual(probe.status["NoNewPrivs"], "1")
        self.assertEqual(probe.status["Seccomp"], "2")
        self.assertEqual(probe.memory_limit, 512 << 20)
        self.assertEqual(probe.pids_max, "1024")
        self.assertEqual(probe.cpu_shares, 1024)
        self.assertEqual(probe.nofile, nofile)

    def assertNoRuncState(self, cid):
        self.assertFalse(os.path.exists(os.path.join("/run/runc", cid)), "runc still has container " + cid)
