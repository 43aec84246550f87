"""Helpers for the runguard integration tests.

Every test gets its own temporary directory under /tmp holding:

  <tmp>/policy.yaml    the policy, passed to runguard through RUNGUARD_CONFIG
  <tmp>/state/         runguard's stateDir (decision records)
  <tmp>/runc-root/     runc's --root (container state)
  <tmp>/<bundle>/      OCI bundles: config.json, rootfs/ (static busybox), log.json (--log)

Nothing here touches /run/runguard, /etc/runguard or /run/containerd. Every container id is
registered for `runc delete -f` and the temporary directory for removal with addCleanup, so both
happen even when a test fails.

Environment: RUNGUARD_BIN is the directory holding the runguard binary (CTest sets it to
${CMAKE_BINARY_DIR}/bin); without it ../build/bin relative to this file is used.
"""

import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
RUNGUARD_BIN = os.environ.get("RUNGUARD_BIN") or os.path.join(HERE, "..", "build", "bin")
RUNGUARD = os.path.join(RUNGUARD_BIN, "runguard")
RUNC = shutil.which("runc") or "/usr/sbin/runc"
BUSYBOX = "/bin/busybox"

TIMEOUT = 30  # seconds for any one runguard/runc call: nothing may hang the suite

# Applets linked into the rootfs (ulimit, read, echo, ... are shell builtins).
APPLETS = ["sh", "cat", "grep", "id", "ls", "sleep", "touch", "env", "echo", "true", "false", "ps", "head", "rm"]

# Every capability runc 1.1 knows, CAP_CHOWN (0) .. CAP_CHECKPOINT_RESTORE (40).
ALL_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
]
assert len(ALL_CAPS) == 41
CAP_BIT = {name: i for i, name in enumerate(ALL_CAPS)}
NET_BIND_SERVICE_MASK = 1 << CAP_BIT["CAP_NET_BIND_SERVICE"]  # 0x400

MEM_UNLIMITED_V1 = 9223372036854771712  # memory.limit_in_bytes of an unlimited cgroup v1

_ids = itertools.count(1)


def agent_settings(tmp, metrics='""', containerd=None):
    """The policy's `agent:` block with every path under `tmp`: runguard never talks to (or even
    looks for) the host's runguardd or containerd from a test unless the test starts its own."""
    return ("agent:\n  socket: %s/agent.sock\n  internalSocket: %s/agent.internal.sock\n  metrics: %s\n"
            "  containerd: %s\n" % (tmp, tmp, metrics, containerd or os.path.join(tmp, "no-containerd.sock")))


def skip_reason():
    """Why the suite cannot run here, or None."""
    if os.geteuid() != 0:
        return "integration tests need root (runc creates namespaces and cgroups)"
    if not os.access(RUNC, os.X_OK):
        return "runc not found"
    if not os.access(RUNGUARD, os.X_OK):
        return "runguard binary not found at %s (set RUNGUARD_BIN)" % RUNGUARD
    if not os.access(BUSYBOX, os.X_OK):
        return "static busybox not found at %s" % BUSYBOX
    if not os.path.exists("/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        return "cgroup v1 memory controller not mounted at /sys/fs/cgroup/memory"
    return None


def default_spec():
    """What `runc spec` (1.1) writes, with terminal off and the rootfs writable."""
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    return {
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": list(caps),
                "effective": list(caps),
                "permitted": list(caps),
                "ambient": list(caps),
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": "runguard-it",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
                           {"type": "mount"}],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                            "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }


# The probe: runs as the container's init (pid 1). /proc/self/status is read by the shell itself
# (a builtin loop, no fork/exec), so it shows exactly the credentials runc gave the process.
PROBE = r"""#!/bin/sh
echo "== status"
while read -r line; do
  case "$line" in
    Uid:*|Gid:*|CapInh:*|CapPrm:*|CapEff:*|CapBnd:*|CapAmb:*|NoNewPrivs:*|Seccomp:*) echo "$line" ;;
  esac
done < /proc/self/status
echo "== memory"
cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>&1
echo "== pids"
cat /sys/fs/cgroup/pids/pids.max 2>&1
echo "== cpushares"
cat /sys/fs/cgroup/cpu/cpu.shares 2>&1
echo "== nofile"
ulimit -n
echo "== env"
env
echo "== write"
if touch /x 2>/dev/null; then echo writable; else echo readonly; fi
echo "== uid_map"
cat /proc/self/uid_map
echo "== mountinfo"
cat /proc/self/mountinfo
echo "== end"
"""


class Probe:
    """Parsed probe output."""

    def __init__(self, text):
        self.text = text
        self.sections = {}
        current = None
        for line in text.splitlines():
            if line.startswith("== "):
                current = line[3:].strip()
                self.sections[current] = []
            elif current is not None:
                self.sections[current].append(line)
        if "end" not in self.sections:
            raise AssertionError("probe output is incomplete:\n" + text)
        self.status = {}
        for line in self.sections["status"]:
            key, _, value = line.partition(":")
            self.status[key.strip()] = value.strip()
        self.env = {}
        for line in self.sections["env"]:
            key, sep, value = line.partition("=")
            if sep:
                self.env[key] = value

    def one(self, section):
        lines = [l for l in self.sections[section] if l.strip()]
        if len(lines) != 1:
            raise AssertionError("section %s: expected one line, got %r" % (section, lines))
        return lines[0].strip()

    def uid(self):  # real uid (Uid: real effective saved fs)
        return int(self.status["Uid"].split()[0])

    def uids(self):
        return [int(x) for x in self.status["Uid"].split()]

    def gids(self):
        return [int(x) for x in self.status["Gid"].split()]

    def cap(self, name):  # "CapEff" -> int
        return int(self.status[name], 16)

    @property
    def memory_limit(self):
        return int(self.one("memory"))

    @property
    def pids_max(self):
        return self.one("pids")

    @property
    def cpu_shares(self):
        return int(self.one("cpushares"))

    @property
    def nofile(self):
        return self.one("nofile")

    @property
    def writable(self):
        return self.one("write") == "writable"

    def root_mount_options(self):
        """Mount options of the container's / from mountinfo."""
        for line in self.sections["mountinfo"]:
            fields = line.split()
            if len(fields) > 5 and fields[4] == "/":
                return fields[5].split(",")
        raise AssertionError("no / in mountinfo:\n" + "\n".join(self.sections["mountinfo"]))


class Bundle:
    """An OCI bundle: <dir>/config.json and <dir>/rootfs with a static busybox."""

    def __init__(self, parent, name="bundle"):
        self.path = os.path.join(parent, name)
        self.rootfs = os.path.join(self.path, "rootfs")
        self.config_path = os.path.join(self.path, "config.json")
        self.log = os.path.join(self.path, "log.json")
        os.makedirs(os.path.join(self.rootfs, "bin"))
        os.chmod(self.path, 0o755)
        os.chmod(self.rootfs, 0o755)
        shutil.copy2(BUSYBOX, os.path.join(self.rootfs, "bin", "busybox"))
        for applet in APPLETS:
            os.symlink("busybox", os.path.join(self.rootfs, "bin", applet))
        for d in ("proc", "sys", "dev", "tmp", "etc"):
            os.makedirs(os.path.join(self.rootfs, d), exist_ok=True)
        with open(os.path.join(self.rootfs, "etc", "passwd"), "w") as f:
            f.write("root:x:0:0:root:/:/bin/sh\nnonroot:x:65532:65532:nonroot:/:/bin/sh\n")
        with open(os.path.join(self.rootfs, "etc", "group"), "w") as f:
            f.write("root:x:0:\nnonroot:x:65532:\n")
        self.spec = default_spec()

    # -- the spec --
    @property
    def process(self):
        return self.spec["process"]

    def set_args(self, *args):
        self.process["args"] = list(args)

    def use_probe(self, script=PROBE):
        """Makes the container's process the probe script (written into the rootfs)."""
        with open(os.path.join(self.rootfs, "probe.sh"), "w") as f:
            f.write(script)
        os.chmod(os.path.join(self.rootfs, "probe.sh"), 0o755)
        self.set_args("/bin/sh", "/probe.sh")

    def remove_rlimit(self, kind):
        self.process["rlimits"] = [r for r in self.process.get("rlimits", []) if r["type"] != kind]

    def add_env(self, entry):
        self.process.setdefault("env", []).append(entry)

    def write(self):
        """Writes config.json; returns its bytes."""
        data = json.dumps(self.spec, indent=2).encode()
        with open(self.config_path, "wb") as f:
            f.write(data)
        return data

    def config_bytes(self):
        with open(self.config_path, "rb") as f:
            return f.read()

    def read_config(self):
        with open(self.config_path) as f:
            return json.load(f)

    def log_lines(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [l for l in f.read().splitlines() if l.strip()]

    def log_text(self):
        if not os.path.exists(self.log):
            return ""
        with open(self.log) as f:
            return f.read()


class RunguardTestCase(unittest.TestCase):
    """Base class: skips without root/runc; per-test temp dir, runc root, stateDir and policy."""

    maxDiff = None

    def setUp(self):
        reason = skip_reason()
        if reason:
            self.skipTest(reason)
        self.tmp = tempfile.mkdtemp(prefix="rg-it-", dir="/tmp")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        os.chmod(self.tmp, 0o755)
        self.runc_root = os.path.join(self.tmp, "runc-root")
        self.state_dir = os.path.join(self.tmp, "state")
        self.lib_dir = os.path.join(self.tmp, "lib")  # user-namespace allocations
        self.policy_path = os.path.join(self.tmp, "policy.yaml")
        self.write_policy()

    # -- policy --
    def write_policy(self, controls="", extra="", raw=None):
        """Writes the policy: stateDir, runtime.path, then `controls` (YAML, indented under
        `controls:`) and `extra` top-level YAML. `raw` replaces the whole file."""
        if raw is None:
            text = "stateDir: %s\nlibDir: %s\nevents: { path: %s/events.jsonl }\nruntime:\n  path: %s\n" % (
                self.state_dir, self.lib_dir, self.tmp, RUNC)
            if "\nagent:" not in "\n" + extra:
                text += agent_settings(self.tmp)
            if controls.strip():
                text += "controls:\n" + "".join("  " + l + "\n" for l in controls.strip("\n").splitlines())
            text += extra
        else:
            text = raw
        with open(self.policy_path, "w") as f:
            f.write(text)
        return text

    def env(self, **overrides):
        e = dict(os.environ)
        e["RUNGUARD_CONFIG"] = self.policy_path
        e.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        for k, v in overrides.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        return e

    # -- containers --
    def new_id(self, prefix="rgit"):
        cid = "%s-%d-%d" % (prefix, os.getpid(), next(_ids))
        self.addCleanup(self._force_delete, cid)
        return cid

    def _force_delete(self, cid):
        subprocess.run([RUNC, "--root", self.runc_root, "delete", "-f", cid],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=TIMEOUT)

    def bundle(self, name="bundle"):
        return Bundle(self.tmp, name)

    def runguard(self, args, log=None, input=None, env=None, timeout=TIMEOUT, detached=False, preexec_fn=None):
        """Runs `runguard --root <runc-root> [--log L --log-format json] args...`.

        detached: stdio to /dev/null (for create/exec -d: the container keeps inherited fds open,
        so pipes would never reach EOF); returns a CompletedProcess with empty output."""
        cmd = [RUNGUARD, "--root", self.runc_root]
        if log:
            cmd += ["--log", log, "--log-format", "json"]
        cmd += list(args)
        return self._run(cmd, input, env or self.env(), timeout, detached, preexec_fn)

    def runc(self, args, input=None, timeout=TIMEOUT, detached=False):
        """The real runc with the same --root, for comparison and inspection."""
        return self._run([RUNC, "--root", self.runc_root] + list(args), input, os.environ.copy(), timeout,
                         detached, None)

    def _run(self, cmd, input, env, timeout, detached, preexec_fn):
        if detached:
            rc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=env, timeout=timeout,
                                preexec_fn=preexec_fn).returncode
            return subprocess.CompletedProcess(cmd, rc, "", "")
        return subprocess.run(cmd, input=input, stdin=None if input is not None else subprocess.DEVNULL,
                              capture_output=True, text=True, env=env, timeout=timeout, preexec_fn=preexec_fn)

    def run_container(self, bundle, cid=None, preexec_fn=None, keep=True):
        """`runguard run` in the foreground; returns (id, CompletedProcess).

        With keep (the default) runc keeps the stopped container, so its decision record stays
        readable until cleanup deletes it; without, runc deletes it at exit and runguard-hook's
        poststop releases the record."""
        cid = cid or self.new_id()
        p = self.runguard(["run"] + (["--keep"] if keep else []) + ["--bundle", bundle.path, cid],
                          log=bundle.log, preexec_fn=preexec_fn)
        return cid, p

    def run_probe(self, bundle, preexec_fn=None):
        """Writes the bundle with the probe as its process, runs it, returns (id, Probe)."""
        bundle.use_probe()
        bundle.write()
        cid, p = self.run_container(bundle, preexec_fn=preexec_fn)
        self.assertEqual(p.returncode, 0, "runguard run failed (rc %d)\nstderr: %s\nlog: %s\nstdout: %s"
                         % (p.returncode, p.stderr, bundle.log_text(), p.stdout))
        self.assertTrue(p.stdout.startswith("== status\n"),
                        "the container's stdout must be the probe's alone:\n" + p.stdout[:500])
        return cid, Probe(p.stdout)

    def start_sleeper(self, bundle, seconds=30):
        """create + start a detached `sleep` container through runguard; returns its id."""
        bundle.set_args("sleep", str(seconds))
        bundle.write()
        cid = self.new_id()
        p = self.runguard(["create", "--bundle", bundle.path, cid], log=bundle.log, detached=True)
        self.assertEqual(p.returncode, 0, "create failed: " + bundle.log_text())
        p = self.runguard(["start", cid], log=bundle.log)
        self.assertEqual(p.returncode, 0, "start failed: %s %s" % (p.stderr, bundle.log_text()))
        self.wait_status(cid, "running")
        return cid

    def state(self, cid):
        p = self.runc(["state", cid])
        if p.returncode != 0:
            return None
        return json.loads(p.stdout)

    def wait_status(self, cid, status, timeout=10):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            st = self.state(cid)
            last = st and st.get("status")
            if last == status:
                return
            time.sleep(0.05)
        self.fail("container %s: status %r, wanted %r" % (cid, last, status))

    def runc_list_ids(self):
        p = self.runc(["list", "--format", "json"])
        self.assertEqual(p.returncode, 0, p.stderr)
        data = json.loads(p.stdout or "null") or []
        return [c["id"] for c in data]

    # -- runguard's state --
    def container_state_dir(self, cid):
        return os.path.join(self.state_dir, cid)

    def decision(self, cid):
        path = os.path.join(self.container_state_dir(cid), "decision.json")
        self.assertTrue(os.path.isfile(path), "no decision record at " + path)
        with open(path) as f:
            text = f.read()
        return json.loads(text), text

    def findings(self, cid, finding_id=None):
        record, _ = self.decision(cid)
        out = record["decision"]["findings"]
        if finding_id:
            out = [f for f in out if f["id"] == finding_id]
        return out

    def assertStateDirEmpty(self):
        entries = os.listdir(self.state_dir) if os.path.isdir(self.state_dir) else []
        self.assertEqual(entries, [], "runguard left state behind in " + self.state_dir)

    def assertCapsAtMost(self, value, allowed_mask, what=""):
        self.assertEqual(value & ~allowed_mask, 0,
                         "%s %#x has capabilities outside %#x" % (what, value, allowed_mask))

    def assertRuncError(self, p, bundle, *needles):
        """A runguard failure: exit 1, the last --log line a runc-style JSON error naming every
        needle, and the same message (one line) on stderr."""
        self.assertEqual(p.returncode, 1, "exit status; stderr: %s" % p.stderr)
        lines = bundle.log_lines()
        self.assertTrue(lines, "nothing written to --log " + bundle.log)
        last = json.loads(lines[-1])
        self.assertEqual(last.get("level"), "error", lines[-1])
        self.assertIn("time", last)
        msg = last.get("msg", "")
        self.assertTrue(msg.startswith("runguard: "), msg)
        for n in needles:
            self.assertIn(n, msg)
        err_lines = [l for l in p.stderr.splitlines() if l.strip()]
        self.assertEqual(err_lines, [msg], "stderr should be the same single message")
        self.assertEqual(p.stdout, "", "runguard must never write to stdout on failure")
        return msg
