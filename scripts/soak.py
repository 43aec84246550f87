#!/usr/bin/env python3
"""Soak: container lifecycles through a real containerd under runguard's full policy, for a fixed
time, sampling what a leak would grow.

    scripts/soak.py BIN_DIR [--seconds 600] [--sample-every 10] [--parallel 2] [--warmup 0.15]
                            [--id-pool 32] [--event-ring 256]
    make soak SOAK_SECONDS=600

One round starts --parallel containers at once (`ctr run -d`: runguard create, runc create and
start), checks each from inside (its init runs an interactive shell, which the monitor reports,
and prints /proc/self/uid_map and Seccomp/NoNewPrivs from /proc/self/status before it execs
`sleep`) and from the host (its uid is in its range, its monitor runs), then stops
(`ctr tasks kill -s SIGKILL`) and deletes them (`ctr tasks delete`, `ctr containers delete`) and
checks that runguard released everything. Every --sample-every rounds, with no container of ours
left, it samples:

  agent fds / ctrd fds   open fds of runguardd and of containerd (ls /proc/PID/fd)
  mounts                 lines of containerd's /proc/PID/mountinfo (runguard's idmapped rootfs
                         mounts are made in containerd's mount namespace, where its shims run)
  agent RSS              runguardd's VmRSS
  allocs                 user-namespace allocation records (<libDir>/userns/ranges.json)
  state dirs             entries of runguard's stateDir
  monitors               live runguard-monitor processes of this stateDir
  ns procs               processes left in containerd's mount namespace besides containerd
                         (shims and monitors: runguard starts the monitors from the shim)

Verdict: the counts that must return to zero (allocs, state dirs, monitors, ns procs) must be zero
in every sample; for fds, mounts and RSS the median of the last three samples is compared with
the median of the first three after the warm-up (--warmup, a fraction of the run: the agent's
bounded structures fill first, see below), with a small tolerance for each. Exit status: 0 no
growth, 1 growth or something left, 2 a round failed (a container did not start, was not
hardened, or was not released) or the rig could not start.

The policy is the node's default (profiles/policies/default.yaml: user namespace with an idmapped
rootfs, seccomp with the runtime monitor, the restricted controls) with paths moved into a
temporary directory and runguardd running (with containerd's address, so image digests are
looked up through it). Two things are sized so that the agent's bounded memory fills during the
warm-up and is not mistaken for a leak: the event ring (agent.eventRing: --event-ring events,
10000 by default; about 6 kB of runguardd's heap per decision event) and the deleted records
it keeps (at most 1000, by id): container ids are reused from a pool of --id-pool names, so
re-creating an id is exercised too.

Everything (containerd, its mount namespace, runguardd, the temporary directory) is this
process's own and is stopped by pid and removed on exit, also after a failure or SIGINT/SIGTERM.
integration/test_load.py runs the same code for a short duration.
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(ROOT, "integration"))
# The integration helpers find the binaries through RUNGUARD_BIN when they are imported (below);
# as a script, BIN_DIR (the first argument) is that directory.
if __name__ == "__main__" and len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
    os.environ["RUNGUARD_BIN"] = os.path.abspath(sys.argv[1])

from containerd import (IMAGE_REF, Containerd, cgroup_dirs, containerd_skip_reason,  # noqa: E402
                        mounts_under, pids_in_mnt_ns)
from harness import RUNC, agent_settings  # noqa: E402

DEFAULT_POLICY = os.path.join(ROOT, "profiles", "policies", "default.yaml")
EVENT_RING = 256
CTR_TIMEOUT = 120  # seconds for one ctr call: generous, 50 creates share 2 cores
END = "== end"

# The container's init: an interactive shell first (the default rules' "Interactive shell in
# container" alert: one monitor event per container, through the monitor's seccomp notifications
# to the events file and the agent), then what the kernel says about it, printed before it execs
# sleep (that execve goes through the monitor too).
PROBE = r"""
sh -i </dev/null >/dev/null 2>&1
echo "== uid_map"; cat /proc/self/uid_map
echo "== gid_map"; cat /proc/self/gid_map
echo "== status"
while read -r line; do
  case "$line" in Uid:*|Gid:*|NoNewPrivs:*|Seccomp:*) echo "$line" ;; esac
done < /proc/self/status
echo "== end"
exec sleep 100000
"""


class SoakError(Exception):
    """A round failed: what happened, with enough context to act on."""


def read_int_status(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def count_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def cmdline(pid):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def parse_probe(text):
    """{section: [lines]} of the probe's output; raises SoakError when it is incomplete."""
    out, cur = {}, None
    for line in text.splitlines():
        if line.startswith("== "):
            cur = line[3:].strip()
            out[cur] = []
        elif cur is not None:
            out[cur].append(line.strip())
    if "end" not in out:
        raise SoakError("probe output is incomplete: %r" % text)
    status = {}
    for line in out.get("status", []):
        k, _, v = line.partition(":")
        status[k.strip()] = v.split()
    out["status"] = status
    return out


def ranges_overlap(a, b):
    return a[0] < b[0] + b[1] and b[0] < a[0] + a[1]


class Rig:
    """containerd (runguard as its runtime) + runguardd + the default policy, all under one
    temporary directory. start() / stop(); the container operations raise SoakError."""

    def __init__(self, bin_dir, namespace=None, event_ring=EVENT_RING, parent="/tmp"):
        """event_ring: the agent's agent.eventRing (bounded memory that fills first)."""
        self.bin_dir = os.path.realpath(bin_dir)
        self.runguard = os.path.join(self.bin_dir, "runguard")
        self.runguardd = os.path.join(self.bin_dir, "runguardd")
        self.ns = namespace or "rgload-%d" % os.getpid()
        self.event_ring = event_ring
        self.parent = parent
        self.tmp = None
        self.ctrd = None
        self.agent = None

    # -- paths --
    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    @property
    def state_dir(self):
        return self.path("state")

    @property
    def lib_dir(self):
        return self.path("lib")

    @property
    def policy_path(self):
        return self.path("policy.yaml")

    @property
    def internal_socket(self):
        return self.path("agent.internal.sock")

    @property
    def agent_socket(self):
        return self.path("agent.sock")

    def log_path(self, cid):
        return self.path("logs", cid + ".log")

    def skip_reason(self):
        reason = containerd_skip_reason()
        if reason:
            return reason
        for b in ("runguard", "runguardd", "runguard-monitor", "runguard-hook"):
            if not os.access(os.path.join(self.bin_dir, b), os.X_OK):
                return "%s not built in %s" % (b, self.bin_dir)
        return None

    # -- lifecycle --
    def start(self):
        self.tmp = tempfile.mkdtemp(prefix="rg-load-", dir=self.parent)
        os.chmod(self.tmp, 0o755)
        os.makedirs(self.path("logs"))
        self.ctrd = Containerd(env={"RUNGUARD_CONFIG": self.policy_path}, namespaces=[self.ns],
                               binary=self.runguard, parent=self.tmp)
        # runguard reads the policy on every call; the first call is the first create, so the
        # policy can name containerd's socket, which exists only once containerd runs.
        self.ctrd.start()
        self.write_policy()
        self.ctrd.import_image(self.ns)
        self.start_agent()
        return self

    def write_policy(self):
        """profiles/policies/default.yaml with its paths in the temporary directory."""
        with open(DEFAULT_POLICY) as f:
            body = f.read()
        body, n = re.subn(r"(?m)^(stateDir|libDir|events):.*\n", "", body)
        if n != 3:
            raise SoakError("%s: expected stateDir, libDir and events lines, found %d" % (DEFAULT_POLICY, n))
        head = "stateDir: %s\nlibDir: %s\nevents: { path: %s }\nruntime: { path: %s }\n" % (
            self.state_dir, self.lib_dir, self.path("events.jsonl"), RUNC)
        agent = agent_settings(self.tmp, containerd=self.ctrd.address) + "  eventRing: %d\n" % self.event_ring
        with open(self.policy_path, "w") as f:
            f.write(head + agent + body)

    def start_agent(self, timeout=30):
        log = open(self.path("runguardd.log"), "ab")
        env = dict(os.environ, RUNGUARD_CONFIG=self.policy_path)
        env.pop("NOTIFY_SOCKET", None)
        try:
            self.agent = subprocess.Popen([self.runguardd, "--config", self.policy_path], stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=log, env=env)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.agent.poll() is not None:
                raise SoakError("runguardd exited with %d:\n%s" % (self.agent.returncode, self.agent_log()))
            if self.ping_agent():
                return
            time.sleep(0.05)
        raise SoakError("runguardd did not answer a ping within %ds:\n%s" % (timeout, self.agent_log()))

    def ping_agent(self):
        import agent_client
        if not os.path.exists(self.internal_socket):
            return False
        try:
            reply = agent_client.request(self.internal_socket, {"v": 1, "op": "ping"}, timeout=5)
        except (OSError, ValueError):
            return False
        return bool(reply and reply.get("ok"))

    def agent_log(self, limit=4000):
        try:
            with open(self.path("runguardd.log"), errors="replace") as f:
                return f.read()[-limit:]
        except (OSError, TypeError):
            return ""

    def stop(self):
        """Stops runguardd (SIGTERM by pid), containerd and everything left in its namespace;
        returns what had to be cleaned up by force (containerd.py's list, plus ours)."""
        problems = []
        if self.agent is not None and self.agent.poll() is None:
            self.agent.send_signal(signal.SIGTERM)
            try:
                self.agent.wait(timeout=15)
            except subprocess.TimeoutExpired:
                problems.append("runguardd ignored SIGTERM for 15s")
                self.agent.kill()
                self.agent.wait(timeout=10)
            if self.agent.returncode != 0:
                problems.append("runguardd exited with %s on SIGTERM" % self.agent.returncode)
        if self.ctrd is not None:
            problems += self.ctrd.stop()
            self.ctrd.remove_dir()
        if self.tmp:
            left = mounts_under(self.tmp)
            if left:
                problems.append("mounts left under %s: %s" % (self.tmp, left))
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
        return problems

    # -- containers --
    def ctr(self, args, timeout=CTR_TIMEOUT):
        return self.ctrd.ctr(args, ns=self.ns, timeout=timeout)

    def run_detached(self, cid, script=PROBE):
        """`ctr run -d` (create + start through runguard); the init's stdout goes to
        log_path(cid)."""
        log = self.log_path(cid)
        if os.path.exists(log):
            os.unlink(log)
        args = ["run", "-d", "--log-uri", "file://" + log] + self.ctrd.run_flags()
        args += [IMAGE_REF, cid, "sh", "-c", script]
        p = self.ctr(args)
        if p.returncode != 0:
            raise SoakError("ctr run -d %s failed (%d): %s" % (cid, p.returncode, p.stderr.strip()))

    def probe_output(self, cid, timeout=60):
        """The init's probe output once complete (it is written before `sleep` runs)."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            try:
                with open(self.log_path(cid), errors="replace") as f:
                    text = f.read()
            except FileNotFoundError:
                text = ""
            if END in text:
                return parse_probe(text)
            time.sleep(0.05)
        raise SoakError("container %s: no complete probe output within %ds: %r" % (cid, timeout, text))

    def runtime_log(self, cid):
        """The messages runguard (and runc) wrote to the shim's --log (<bundle>/log.json)."""
        out = []
        try:
            with open(os.path.join(self.ctrd.bundle(self.ns, cid), "log.json"), errors="replace") as f:
                for line in f:
                    try:
                        out.append(json.loads(line).get("msg", ""))
                    except ValueError:
                        out.append(line.strip())
        except FileNotFoundError:
            pass
        return out

    def tasks(self):
        """{id: (pid, status)} from `ctr tasks ls`."""
        p = self.ctr(["tasks", "ls"])
        if p.returncode != 0:
            raise SoakError("ctr tasks ls failed: " + p.stderr.strip())
        out = {}
        for line in p.stdout.splitlines()[1:]:
            f = line.split()
            if len(f) >= 3:
                out[f[0]] = (int(f[1]), f[2])
        return out

    def resources(self, cid):
        try:
            with open(os.path.join(self.state_dir, cid, "resources.json")) as f:
                return json.load(f)
        except (OSError, ValueError) as e:
            raise SoakError("container %s: no readable resources.json: %s" % (cid, e))

    def monitor_of(self, cid):
        """The pid of cid's runguard-monitor when it runs (resources.json's monitorPid whose
        command line is runguard-monitor --config <stateDir>/<cid>/monitor.json), else None."""
        pid = self.resources(cid).get("monitorPid")
        if not pid:
            return None
        argv = cmdline(pid)
        want = os.path.join(self.state_dir, cid, "monitor.json").encode()
        if len(argv) >= 3 and argv[0].endswith(b"runguard-monitor") and argv[1] == b"--config" and argv[2] == want:
            return pid
        return None

    def check_hardened(self, cid, probe, task_pid):
        """From inside (the probe) and from the host: a non-root range, seccomp filter mode,
        no_new_privs, the monitor running. Returns (uid range start, size)."""
        uid_map = [l.split() for l in probe.get("uid_map", []) if l]
        gid_map = [l.split() for l in probe.get("gid_map", []) if l]
        if len(uid_map) != 1 or len(uid_map[0]) != 3 or uid_map[0][0] != "0":
            raise SoakError("container %s: uid_map inside is %r, expected one range from 0" % (cid, uid_map))
        start, size = int(uid_map[0][1]), int(uid_map[0][2])
        if start == 0 or size > 1 << 20:
            raise SoakError("container %s: uid_map %r maps host root or the whole id space" % (cid, uid_map))
        if gid_map != uid_map:
            raise SoakError("container %s: gid_map %r differs from uid_map %r" % (cid, gid_map, uid_map))
        st = probe["status"]
        if st.get("Seccomp") != ["2"] or st.get("NoNewPrivs") != ["1"]:
            raise SoakError("container %s: Seccomp %s NoNewPrivs %s inside, expected 2 and 1"
                            % (cid, st.get("Seccomp"), st.get("NoNewPrivs")))
        if st.get("Uid", [None])[0] == "0":
            raise SoakError("container %s: the init runs as root inside: %r" % (cid, st.get("Uid")))
        # The host's view of the same process: the mapped id, not root.
        host_uid = read_int_status(task_pid, "Uid")
        if host_uid is None or not start <= host_uid < start + size:
            raise SoakError("container %s: host uid %s of pid %d is outside its range %d+%d"
                            % (cid, host_uid, task_pid, start, size))
        if self.monitor_of(cid) is None:
            raise SoakError("container %s: its runguard-monitor is not running (resources.json: %s)"
                            % (cid, self.resources(cid)))
        return start, size

    def remove(self, cid):
        """Stop (SIGKILL) and delete the task, then the container; raises unless both are gone
        and runguard released the container's state directory."""
        p = self.ctr(["tasks", "kill", "--signal", "SIGKILL", cid])
        if p.returncode != 0:
            raise SoakError("ctr tasks kill %s failed: %s" % (cid, p.stderr.strip()))
        # --force: containerd waits for the killed task's exit before deleting it.
        p = self.ctr(["tasks", "delete", "--force", cid])
        if p.returncode != 0:
            raise SoakError("ctr tasks delete %s failed: %s" % (cid, p.stderr.strip()))
        p = self.ctr(["containers", "delete", cid])
        if p.returncode != 0:
            raise SoakError("ctr containers delete %s failed: %s" % (cid, p.stderr.strip()))
        if os.path.exists(os.path.join(self.state_dir, cid)):
            raise SoakError("container %s: runguard kept %s after containerd deleted it"
                            % (cid, os.path.join(self.state_dir, cid)))

    # -- what is held --
    def allocations(self):
        path = os.path.join(self.lib_dir, "userns", "ranges.json")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return json.load(f)["allocations"]

    def events(self):
        """The events file's lines (decisions and monitor events), parsed."""
        try:
            with open(self.path("events.jsonl")) as f:
                return [json.loads(l) for l in f if l.strip()]
        except FileNotFoundError:
            return []

    def monitors(self):
        """Pids of runguard-monitor processes serving this stateDir."""
        prefix = (self.state_dir + "/").encode()
        out = []
        for name in os.listdir("/proc"):
            if name.isdigit():
                argv = cmdline(name)
                if len(argv) >= 3 and argv[0].endswith(b"runguard-monitor") and argv[2].startswith(prefix):
                    out.append(int(name))
        return out

    def ns_procs(self):
        """Processes in containerd's mount namespace besides containerd: its shims, and the
        monitors runguard starts from them."""
        return [p for p in pids_in_mnt_ns(self.ctrd.ns) if p != self.ctrd.proc.pid]

    def mounts(self):
        """Mount points under our temporary directory, in containerd's mount namespace (where
        runguard, run by the shims, mounts the idmapped rootfs and containerd its snapshots) and
        in ours."""
        return mounts_under(self.tmp, "/proc/%d/mountinfo" % self.ctrd.proc.pid) + mounts_under(self.tmp)

    def container_cgroups(self):
        """Cgroup directories left below /sys/fs/cgroup/<controller>/<namespace>/."""
        out = []
        for d in cgroup_dirs(self.ns):
            out += [os.path.join(d, n) for n in sorted(os.listdir(d)) if os.path.isdir(os.path.join(d, n))]
        return out

    def leftovers(self):
        """Everything runguard or containerd still holds for containers that are all deleted:
        {what: [items]} with only the non-empty entries."""
        state = sorted(os.listdir(self.state_dir)) if os.path.isdir(self.state_dir) else []
        found = {
            "mounts": self.mounts(),
            "allocation records": self.allocations(),
            "state dirs": state,
            "monitor processes": self.monitors(),
            "processes in containerd's mount namespace": self.ns_procs(),
            "cgroups": self.container_cgroups(),
            "tasks": sorted(self.tasks()),
            "containers": self.ctrd.ids("containers", self.ns),
        }
        return {k: v for k, v in found.items() if v}

    def sample(self):
        """One row of the table; raises SoakError when runguardd or containerd has exited."""
        for name, proc in (("runguardd", self.agent), ("containerd", self.ctrd.proc)):
            if proc.poll() is not None:
                raise SoakError("%s exited with %s during the soak:\n%s"
                                % (name, proc.returncode, self.agent_log() if proc is self.agent else self.ctrd.log_tail()))
        with open("/proc/%d/mountinfo" % self.ctrd.proc.pid) as f:
            mounts = sum(1 for _ in f)
        return {
            "agent_fds": count_fds(self.agent.pid),
            "ctrd_fds": count_fds(self.ctrd.proc.pid),
            "mounts": mounts,
            "agent_rss_kb": read_int_status(self.agent.pid, "VmRSS"),
            "allocs": len(self.allocations()),
            "state_dirs": len(os.listdir(self.state_dir)) if os.path.isdir(self.state_dir) else 0,
            "monitors": len(self.monitors()),
            "ns_procs": len(self.ns_procs()),
        }


# -- rounds ----------------------------------------------------------------------------------

def _failed(rig, what, total, errors):
    """One SoakError for many failed containers: the first few in full, then containerd's log."""
    shown = errors[:5] + (["... and %d more" % (len(errors) - 5)] if len(errors) > 5 else [])
    return SoakError("%d of %d containers %s:\n%s\ncontainerd log tail:\n%s"
                     % (len(errors), total, what, "\n".join(shown), rig.ctrd.log_tail(15)))


def start_and_check(rig, ids, workers=None):
    """Starts ids concurrently, probes each; returns {id: (start, size)} of their uid ranges.
    Raises SoakError naming every container that failed."""
    errors = []
    with ThreadPoolExecutor(max_workers=workers or len(ids)) as pool:
        for cid, fut in [(cid, pool.submit(rig.run_detached, cid)) for cid in ids]:
            try:
                fut.result()
            except (SoakError, subprocess.TimeoutExpired) as e:
                errors.append(str(e))
    if errors:
        raise _failed(rig, "did not start", len(ids), errors)
    tasks = rig.tasks()
    ranges = {}
    for cid in ids:
        pid, status = tasks.get(cid, (0, None))
        if status != "RUNNING":
            errors.append("container %s: task status %r, expected RUNNING" % (cid, status))
            continue
        try:
            ranges[cid] = rig.check_hardened(cid, rig.probe_output(cid), pid)
        except SoakError as e:
            errors.append(str(e))
    if errors:
        raise _failed(rig, "were not hardened as expected", len(ids), errors)
    return ranges


def remove_all(rig, ids, workers=None):
    errors = []
    with ThreadPoolExecutor(max_workers=workers or len(ids)) as pool:
        for cid, fut in [(cid, pool.submit(rig.remove, cid)) for cid in ids]:
            try:
                fut.result()
            except (SoakError, subprocess.TimeoutExpired) as e:
                errors.append(str(e))
    if errors:
        raise _failed(rig, "were not removed cleanly", len(ids), errors)


def check_disjoint(ranges):
    """Raises SoakError when two containers' host id ranges overlap."""
    items = sorted(ranges.items(), key=lambda kv: kv[1][0])
    for (a, ra), (b, rb) in zip(items, items[1:]):
        if ranges_overlap(ra, rb):
            raise SoakError("containers %s %s and %s %s have overlapping host id ranges" % (a, ra, b, rb))


class Soak:
    """Rounds of --parallel lifecycles for `seconds`, a sample every `every` rounds."""

    # fds and mounts may differ by this much between the start and the end of the run (a
    # containerd connection in flight, a gRPC housekeeping fd); RSS by the larger of these (once
    # the event ring is full runguardd's RSS stays within a few kB over hundreds of rounds).
    FD_TOLERANCE = 3
    MOUNT_TOLERANCE = 0
    RSS_TOLERANCE_KB = 1024
    RSS_TOLERANCE_FRACTION = 0.03
    ZERO = ("allocs", "state_dirs", "monitors", "ns_procs")

    COLUMNS = [("round", "round"), ("cycles", "cycles"), ("elapsed", "s"), ("agent_fds", "agent fds"),
               ("ctrd_fds", "ctrd fds"), ("mounts", "mounts"), ("agent_rss_kb", "agent RSS kB"),
               ("allocs", "allocs"), ("state_dirs", "state dirs"), ("monitors", "monitors"), ("ns_procs", "ns procs")]

    def __init__(self, rig, seconds, every=10, parallel=2, warmup=0.15, id_pool=32, on_sample=None, fill_cycles=None):
        """on_sample(sample) is called with each sample as it is taken (progress output).
        fill_cycles: lifecycles after which the agent's event ring is full (each publishes at
        least a decision and the probe's monitor event); the warm-up lasts at least that long.
        Default: from rig.event_ring."""
        self.on_sample = on_sample
        if fill_cycles is None:
            fill_cycles = (rig.event_ring + 1) // 2 if rig is not None else 0
        self.fill_cycles = fill_cycles
        self.rig, self.seconds, self.every, self.parallel, self.warmup = rig, seconds, every, parallel, warmup
        # Ids come round again after id_pool / parallel rounds: long enough for the agent to have
        # marked the previous container of that name deleted (2-7 s, docs/agent.md), so its
        # deleted records stay bounded by the pool while the deletion path is exercised.
        self.pool = ["soak-%d" % i for i in range(max(id_pool, parallel))]
        self.samples = []  # dicts: the sample plus round, cycles, elapsed
        self.rounds = 0
        self.cycles = 0
        self.round_seconds = []
        self.stop_requested = threading.Event()

    def one_round(self):
        first = (self.rounds * self.parallel) % len(self.pool)
        ids = [self.pool[(first + i) % len(self.pool)] for i in range(self.parallel)]
        t0 = time.monotonic()
        try:
            ranges = start_and_check(self.rig, ids)
            check_disjoint(ranges)
        finally:
            remove_all(self.rig, [c for c in ids if c in self.rig.ctrd.ids("containers", self.rig.ns)])
        self.round_seconds.append(time.monotonic() - t0)
        self.rounds += 1
        self.cycles += len(ids)

    def take_sample(self, t_start):
        s = self.rig.sample()
        s.update(round=self.rounds, cycles=self.cycles, elapsed=time.monotonic() - t_start)
        self.samples.append(s)
        if self.on_sample:
            self.on_sample(s)
        return s

    def run(self):
        t_start = time.monotonic()
        self.take_sample(t_start)
        while time.monotonic() - t_start < self.seconds and not self.stop_requested.is_set():
            self.one_round()
            if self.rounds % self.every == 0:
                self.take_sample(t_start)
        if not self.samples or self.samples[-1]["round"] != self.rounds:
            self.take_sample(t_start)
        return self.verdict()

    def post_warmup(self):
        """The samples after the warm-up: past the --warmup fraction of the run and past
        fill_cycles lifecycles."""
        if not self.samples:
            return []
        cut = self.samples[-1]["elapsed"] * self.warmup
        return [s for s in self.samples
                if s["elapsed"] >= cut and s["cycles"] >= self.fill_cycles and s["round"] > 0]

    def verdict(self):
        """(ok, [problems])."""
        problems = []
        for s in self.samples:
            for k in self.ZERO:
                if s[k]:
                    problems.append("%s = %d after round %d (expected 0: nothing of ours is running)"
                                    % (k, s[k], s["round"]))
        after = self.post_warmup()
        if len(after) < 3:
            return False, problems + ["too few samples after the warm-up (%d of %d; the event ring fills in %d "
                                      "lifecycles) to judge growth: run longer or sample more often"
                                      % (len(after), len(self.samples), self.fill_cycles)]
        k = min(3, len(after) // 2) or 1
        first, last = after[:k], after[-k:]
        for key, tol in (("agent_fds", self.FD_TOLERANCE), ("ctrd_fds", self.FD_TOLERANCE),
                         ("mounts", self.MOUNT_TOLERANCE), ("agent_rss_kb", None)):
            a = statistics.median(s[key] for s in first)
            b = statistics.median(s[key] for s in last)
            if tol is None:
                tol = max(self.RSS_TOLERANCE_KB, a * self.RSS_TOLERANCE_FRACTION)
            if b - a > tol:
                problems.append("%s grew from %s to %s (tolerance %s) between rounds %d and %d"
                                % (key, a, b, int(tol), first[0]["round"], last[-1]["round"]))
        return not problems, problems

    @classmethod
    def header(cls):
        return "| " + " | ".join(h for _, h in cls.COLUMNS) + " |\n|" + "---|" * len(cls.COLUMNS)

    @classmethod
    def row(cls, s):
        return "| " + " | ".join(("%.0f" % s[k]) if k == "elapsed" else str(s[k]) for k, _ in cls.COLUMNS) + " |"

    def table(self):
        return "\n".join([self.header()] + [self.row(s) for s in self.samples])

    def rss_slope(self):
        """runguardd's RSS trend after the warm-up, kB per 100 container lifecycles (least
        squares), or None with fewer than three samples."""
        after = self.post_warmup()
        if len(after) < 3 or after[-1]["cycles"] == after[0]["cycles"]:
            return None
        xs = [s["cycles"] for s in after]
        ys = [s["agent_rss_kb"] for s in after]
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        sxx = sum((x - mx) ** 2 for x in xs)
        return 100 * sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else None

    def summary(self):
        after = self.post_warmup()
        first, last = (after[0], after[-1]) if after else (None, None)
        med = statistics.median(self.round_seconds) if self.round_seconds else 0
        text = ("%d rounds, %d container lifecycles in %.0f s (median round %.2f s, %d at once)"
                % (self.rounds, self.cycles, self.samples[-1]["elapsed"] if self.samples else 0, med, self.parallel))
        if first:
            text += ("; after warm-up (round %d -> %d): agent fds %d -> %d, containerd fds %d -> %d, "
                     "mountinfo lines %d -> %d, agent RSS %d -> %d kB"
                     % (first["round"], last["round"], first["agent_fds"], last["agent_fds"], first["ctrd_fds"],
                        last["ctrd_fds"], first["mounts"], last["mounts"], first["agent_rss_kb"], last["agent_rss_kb"]))
            slope = self.rss_slope()
            if slope is not None:
                text += " (trend %+.1f kB per 100 lifecycles)" % slope
        return text


def main(argv=None):
    ap = argparse.ArgumentParser(description="runguard soak through containerd (see the module docstring)")
    ap.add_argument("bin_dir", help="directory with runguard, runguardd, runguard-monitor, runguard-hook")
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--sample-every", type=int, default=10, help="rounds between samples")
    ap.add_argument("--parallel", type=int, default=2, help="containers per round, started at once")
    ap.add_argument("--warmup", type=float, default=0.15, help="fraction of the run before the baseline")
    ap.add_argument("--id-pool", type=int, default=32, help="container names, reused in turn")
    ap.add_argument("--event-ring", type=int, default=EVENT_RING, help="the agent's agent.eventRing")
    a = ap.parse_args(argv)
    if (a.seconds <= 0 or a.sample_every < 1 or a.parallel < 1 or not 0 <= a.warmup < 1 or a.id_pool < 1
            or a.event_ring < 1):
        ap.error("--seconds > 0, --sample-every >= 1, --parallel >= 1, 0 <= --warmup < 1, --id-pool >= 1, "
                 "--event-ring >= 1")
    if os.geteuid() != 0:
        print("soak: run as root (containerd, runc and runguard's mounts need it)", file=sys.stderr)
        return 2
    rig = Rig(a.bin_dir, event_ring=a.event_ring)
    reason = rig.skip_reason()
    if reason:
        print("soak: cannot run here: " + reason, file=sys.stderr)
        return 2
    soak = Soak(rig, a.seconds, every=a.sample_every, parallel=a.parallel, warmup=a.warmup, id_pool=a.id_pool,
                on_sample=lambda s: print(Soak.row(s), flush=True))

    def on_signal(signum, _frame):
        soak.stop_requested.set()
        print("soak: %s: stopping after this round" % signal.Signals(signum).name, file=sys.stderr)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    status = 0
    try:
        rig.start()
        print("# runguard soak: %s, %d cores, containerd %s, runc %s, policy %s (+ runguardd)\n"
              % (time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()), os.cpu_count(),
                 _version(["containerd", "--version"], 2), _version([RUNC, "--version"], 2), DEFAULT_POLICY))
        print(Soak.header(), flush=True)
        ok, problems = soak.run()
        print()
        print(soak.summary())
        left = rig.leftovers()
        if left:
            ok = False
            problems.append("left after the last delete: %s" % left)
        print("verdict: %s" % ("PASS, no growth" if ok else "FAIL"))
        for p in problems:
            print("  - " + p)
        status = 0 if ok else 1
    except (SoakError, subprocess.TimeoutExpired) as e:
        print("soak: round %d failed: %s" % (soak.rounds + 1, e), file=sys.stderr)
        status = 2
    finally:
        for p in rig.stop():
            print("soak: cleanup: " + p, file=sys.stderr)
            status = status or 1
    return status


def _version(cmd, field):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
        return p.stdout.splitlines()[0].split()[field]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


if __name__ == "__main__":
    sys.exit(main())
