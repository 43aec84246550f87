"""Fault injection (issue 9, item 3): runguard under the real runc when something breaks.

Every test runs the full policy, so every kind of resource exists to leak: the container's own
user-namespace range and idmapped rootfs, seccomp with runguard-monitor, and a secret file on a
per-container tmpfs (the file backend; Vault where the fault is Vault's). After each fault
assertNoLeaks checks, from the host:

  - no mount left below the test's directory (stateDir, bundles: /proc/self/mountinfo), other
    than the test's own (a small tmpfs it mounted on purpose);
  - no user-namespace allocation naming the container (<libDir>/userns/ranges.json);
  - no <stateDir>/<id> (decision record, secrets record, monitor socket);
  - no runguard-monitor (nor any process whose command line names the test's directory) alive,
    and no process left in the container's cgroup;
  - config.json byte-identical to the original, or the complete hardened one (parseable, user
    namespace, idmapped root, monitor listener, runguard-hook's poststop);
  - no temporary file runguard's atomic write leaves (config.json.runguard-XXXXXX) in the bundle.

A failed create is expected to fail clearly: a runc-style JSON error line in --log and the same
message on stderr (assertRuncError), or the real runtime's own error when it is the runtime that
failed. Where the realistic recovery is "the engine runs `runguard delete` after a failed create"
(containerd's shim and podman both do) the test does exactly that, and says so.

No test-only failpoint exists in the product: faults are real mechanisms (a missing or failing
runtime, SIGKILL, a full tmpfs, a createRuntime hook that blocks or kills, a unix socket whose
backlog is full or that never answers, a Vault stand-in that misbehaves).
"""

import json
import os
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import RUNC, RUNGUARD, RUNGUARD_BIN, RunguardTestCase, agent_settings
from vault_standin import VaultStandin

SECRET_USER = "fault-db-user-3c9e"
KV_VALUE = "fault-kv-Secret-Value-90d1"
ANNOTATION = "secrets.runguard.dev/"


def _unescape(s):
    return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def mounts_below(path):
    """Mount points at or below `path` in this mount namespace."""
    out = []
    prefix = path.rstrip("/") + "/"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = _unescape(line.split()[4])
            if mp == path or mp.startswith(prefix):
                out.append(mp)
    return out


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def exe(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return ""


def pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def fill(path):
    """Fills the filesystem holding directory `path` with one file; returns its path."""
    filler = os.path.join(path, "filler")
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


class BacklogFullAgent:
    """A unix socket at `path` that listens but never accepts, its backlog filled: every connect
    gets EAGAIN, so a client waits out its deadline (a hung runguardd)."""

    def __init__(self, path):
        self.path = path
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(0)
        self.fillers = []
        for _ in range(64):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect(path)
            except BlockingIOError:
                c.close()
                break
            self.fillers.append(c)
        else:
            raise AssertionError("the backlog of %s never filled" % path)

    def close(self):
        for c in self.fillers:
            c.close()
        self.server.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class SilentAgent:
    """A unix socket server that accepts and reads but never answers (or, with `half`, answers
    the first 4 bytes of a frame header claiming 100 bytes and 10 bytes of it, then nothing)."""

    def __init__(self, path, half=False):
        self.path = path
        self.half = half
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(64)
        self.conns = []
        self.requests = 0
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopped:
            try:
                c, _ = self.server.accept()
            except OSError:
                return
            self.conns.append(c)
            self.requests += 1
            if self.half:
                try:
                    c.sendall((100).to_bytes(4, "big") + b'{"v":1,"ok"')
                except OSError:
                    pass

    def close(self):
        self.stopped = True
        try:
            self.server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.server.close()
        for c in self.conns:
            c.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def stale_socket(path):
    """A socket file nobody listens on (a runguardd that died without removing it)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()


class FaultTestBase(RunguardTestCase):
    """The full policy (defaults: user namespace, idmapped rootfs, seccomp + monitor) plus a
    secret file from the file backend; the leak checks."""

    def setUp(self):
        super().setUp()
        self.own_mounts = []  # tmpfs mounts the test made on purpose (unmounted at cleanup)
        self.monitor_pids = set()
        self.secrets_dir = os.path.join(self.tmp, "node-secrets")
        os.makedirs(os.path.join(self.secrets_dir, "app"), mode=0o700)
        with open(os.path.join(self.secrets_dir, "app", "db"), "w") as f:
            json.dump({"user": SECRET_USER, "password": "unused"}, f)
        self.internal_socket = os.path.join(self.tmp, "agent.internal.sock")
        self.full_policy()

    def full_policy(self, extra="", controls="", agent=None, secrets=None):
        if secrets is None:
            secrets = ("secrets:\n  file: { dir: %s }\n  attach:\n    - { match: {}, files: { db-user: 'file:app/db#user' } }\n"
                       % self.secrets_dir)
        self.write_policy(controls, extra=(agent or agent_settings(self.tmp)) + secrets + extra)

    def new_id(self, prefix="rgit"):
        # Released through runguard too (before the harness's runc delete): a failing test must
        # not leave mounts for the temporary directory's removal to walk into.
        cid = super().new_id(prefix)
        self.addCleanup(self._runguard_delete, cid)
        return cid

    def _runguard_delete(self, cid):
        subprocess.run([RUNGUARD, "--root", self.runc_root, "delete", "-f", cid], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.env(), timeout=60)

    def mount_tmpfs(self, path, size):
        os.makedirs(path, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % size, "rg-fault", path], check=True)
        self.own_mounts.append(path)
        self.addCleanup(subprocess.run, ["umount", "-l", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def new_bundle(self, name=None, parent=None):
        from harness import Bundle
        b = Bundle(parent or self.tmp, name or "b-%d" % time.monotonic_ns())
        b.set_args("sh", "-c", "cat /run/secrets/db-user")
        return b

    # -- what a create holds --
    def resources(self, cid):
        with open(os.path.join(self.container_state_dir(cid), "resources.json")) as f:
            return json.load(f)

    def allocations_of(self, cid):
        path = os.path.join(self.lib_dir, "userns", "ranges.json")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            data = json.load(f)
        return [a for a in data["allocations"] if any(m["id"] == cid for m in a["members"])]

    def assertHeld(self, cid):
        """A create got as far as holding everything: proves the leak checks are not vacuous."""
        d = self.container_state_dir(cid)
        self.assertTrue(os.path.isdir(d), "no state directory for " + cid)
        self.assertEqual(len(self.allocations_of(cid)), 1, "no user-namespace range held")
        res = self.resources(cid)
        self.assertGreater(res.get("monitorPid", 0), 0, res)
        self.monitor_pids.add(res["monitorPid"])
        mounts = mounts_below(d)
        self.assertIn(os.path.join(d, "secrets"), mounts)
        self.assertIn(os.path.join(d, "mnt", "rootfs"), mounts)
        return res

    def assertHardened(self, cfg, cid):
        self.assertTrue(cfg["linux"].get("uidMappings"), "no user namespace in the new config.json")
        self.assertEqual(cfg["root"]["path"], os.path.join(self.state_dir, cid, "mnt", "rootfs"))
        self.assertEqual(cfg["linux"]["seccomp"]["listenerPath"], os.path.join(self.state_dir, cid, "monitor.sock"))
        self.assertNotEqual(cfg["process"]["user"]["uid"], 0)
        self.assertTrue(any(h["path"].endswith("/runguard-hook") for h in cfg["hooks"]["poststop"]))
        self.assertTrue(any(m["destination"] == "/run/secrets" for m in cfg["mounts"]))

    def assertNoLeaks(self, cid, bundle=None, original=None, config_may_be_new=True):
        """Nothing of container `cid` is left anywhere (see the module docstring)."""
        left = [m for m in mounts_below(self.tmp) if not any(m == o for o in self.own_mounts)]
        self.assertEqual(left, [], "mounts left below the test directory")
        self.assertEqual(self.allocations_of(cid), [], "the user-namespace range of %s was not released" % cid)
        self.assertFalse(os.path.exists(self.container_state_dir(cid)),
                         "state left: %s" % (os.listdir(self.container_state_dir(cid))
                                             if os.path.isdir(self.container_state_dir(cid)) else "?"))
        deadline = time.monotonic() + 5  # a monitor told to stop gets a second to exit
        while True:
            procs = [(p, cmdline(p)) for p in pids() if p != os.getpid() and self.tmp in cmdline(p)]
            monitors = [p for p in self.monitor_pids if alive(p) and "runguard-monitor" in cmdline(p)]
            if (not procs and not monitors) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(procs, [], "processes naming the test directory are still running")
        self.assertEqual(monitors, [], "runguard-monitor outlived its container")
        self.assertEqual(self.cgroup_procs(cid), [], "processes left in the container's cgroup")
        if bundle is not None:
            temps = [n for n in os.listdir(bundle.path) if ".runguard-" in n]
            self.assertEqual(temps, [], "temporary files left in the bundle")
            if original is not None:
                now = bundle.config_bytes()
                if now != original:
                    self.assertTrue(config_may_be_new, "config.json changed")
                    self.assertHardened(json.loads(now), cid)

    def cgroup_procs(self, cid):
        """Live processes in a cgroup named after the container (zombies are only unreaped)."""
        out = []
        for p in pids():
            if not alive(p):
                continue
            try:
                with open("/proc/%d/cgroup" % p) as f:
                    text = f.read()
            except OSError:
                continue
            if any(line.split(":", 2)[-1].rstrip("/").endswith("/" + cid) for line in text.splitlines()):
                out.append(p)
        return out

    # -- a create held, or killed, before it exec'd runc (fault 3; reused by the lifecycle races) --
    def start_held_create(self, b, cid):
        # agent.requestTimeout long enough to kill runguard inside the wait.
        self.full_policy(extra="", agent=agent_settings(self.tmp) + "  requestTimeout: 5s\n")
        agent = BacklogFullAgent(self.internal_socket)
        self.addCleanup(agent.close)
        proc = subprocess.Popen([RUNGUARD, "--root", self.runc_root, "--log", b.log, "--log-format", "json", "create",
                                 "--bundle", b.path, cid], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=self.env())
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        return agent, proc

    def kill_after_config(self, b, cid, original):
        agent, proc = self.start_held_create(b, cid)
        record = os.path.join(self.container_state_dir(cid), "decision.json")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            if os.path.exists(record) and b.config_bytes() != original:
                break
            time.sleep(0.02)
        self.assertIsNone(proc.poll(), "runguard was not held: " + b.log_text())
        self.assertTrue(os.path.exists(record))
        time.sleep(0.2)  # well inside the agent wait now
        self.assertEqual(exe(proc.pid), os.path.realpath(RUNGUARD), "runguard must not have exec'd runc yet")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        agent.close()
        # The new config.json is complete: written atomically before the decision was published.
        self.assertHardened(json.loads(b.config_bytes()), cid)
        self.assertHeld(cid)

    def engine_delete(self, cid, bundle=None, force=False):
        """What containerd's shim and podman do after a failed create: `runtime delete`."""
        p = self.runguard(["delete"] + (["-f"] if force else []) + [cid], log=bundle.log if bundle else None)
        return p


class RuntimeFaultTest(FaultTestBase):
    """Fault 1: the real runtime missing, failing to start, failing, killed by a signal."""

    def runtime_script(self, body):
        path = os.path.join(self.tmp, "fake-runc")
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + body)
        os.chmod(path, 0o755)
        return path

    def use_runtime(self, path):
        self.full_policy(extra="")
        with open(self.policy_path) as f:
            text = f.read()
        text = text.replace("runtime:\n  path: %s\n" % RUNC, "runtime:\n  path: %s\n" % path)
        with open(self.policy_path, "w") as f:
            f.write(text)

    def test_missing_runtime_refuses_and_holds_nothing(self):
        self.use_runtime(os.path.join(self.tmp, "no-such-runc"))
        b = self.new_bundle()
        original = b.write()
        cid = self.new_id()
        p = self.runguard(["create", "--bundle", b.path, cid], log=b.log)
        self.assertRuncError(p, b, os.path.join(self.tmp, "no-such-runc"))
        self.assertNoLeaks(cid, b, original, config_may_be_new=False)
        self.assertEqual(b.config_bytes(), original)
        # The engine's delete after the failed create: the same clear error, nothing to release.
        self.assertRuncError(self.engine_delete(cid, b), b, os.path.join(self.tmp, "no-such-runc"))
        self.assertNoLeaks(cid, b, original, config_may_be_new=False)

    def test_runtime_that_cannot_be_executed_is_undone(self):
        # Found executable, but execve fails (ENOEXEC: no #! line, not ELF): the create is undone
        # after everything was set up, config.json restored.
        path = os.path.join(self.tmp, "fake-runc")
        with open(path, "wb") as f:
            f.write(b"\x7fELF-but-not-really\n")
        os.chmod(path, 0o755)
        self.use_runtime(path)
        b = self.new_bundle()
        original = b.write()
        cid = self.new_id()
        p = self.runguard(["create", "--bundle", b.path, cid], log=b.log)
        self.assertRuncError(p, b, path)
        self.assertNoLeaks(cid, b, original, config_may_be_new=False)
        self.assertEqual(b.config_bytes(), original)

    def check_failed_runtime(self, script, want_rc, needle):
        """The runtime runguard exec'd failed: the engine sees its status and error, then runs
        `runguard delete` (containerd's shim and podman do), which releases everything."""
        self.use_runtime(self.runtime_script(script))
        b = self.new_bundle()
        original = b.write()
        cid = self.new_id()
        p = self.runguard(["create", "--bundle", b.path, cid], log=b.log)
        self.assertEqual(p.returncode, want_rc, p.stderr + b.log_text())
        if needle:
            self.assertIn(needle, p.stderr)
        self.assertHeld(cid)  # runguard had handed over: everything is still held
        self.assertHardened(b.read_config(), cid)
        d = self.engine_delete(cid, b)
        self.assertIn(d.returncode, (0, 1), d.stderr)
        self.assertNoLeaks(cid, b, original)
        return b

    def test_runtime_failing_create_then_engine_delete(self):
        self.check_failed_runtime(
            'case " $* " in *" create "*) echo "fake-runc: injected failure creating the container" >&2; exit 1;; esac\n'
            'exec %s "$@"\n' % RUNC, 1, "fake-runc: injected failure")

    def test_runtime_killed_by_a_signal_then_engine_delete(self):
        self.check_failed_runtime('case " $* " in *" create "*) kill -KILL $$;; esac\nexec %s "$@"\n' % RUNC,
                                  -signal.SIGKILL, None)

    def test_runtime_gone_before_the_engines_delete(self):
        # The create failed in the runtime, then the runtime disappeared (an upgrade, a changed
        # runtime.path): the engine's delete reports the missing runtime and still releases what
        # runguard held, since runc has no state for the id.
        script = self.runtime_script('case " $* " in *" create "*) echo "fake-runc: injected failure" >&2; exit 1;; esac\n'
                                     'exec %s "$@"\n' % RUNC)
        self.use_runtime(script)
        b = self.new_bundle()
        original = b.write()
        cid = self.new_id()
        p = self.runguard(["create", "--bundle", b.path, cid], log=b.log)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertHeld(cid)
        os.unlink(script)
        d = self.engine_delete(cid, b)
        self.assertRuncError(d, b, script)
        self.assertNoLeaks(cid, b, original)

    def test_runtime_failing_every_command_then_delete_still_releases(self):
        # The runtime fails `delete` too (it knows no such container): runguard releases anyway,
        # since runc has no state for the id.
        self.check_failed_runtime('echo "fake-runc: broken" >&2; exit 1\n', 1, "fake-runc: broken")


class RuncKilledTest(FaultTestBase):
    """Fault 2: runc SIGKILLed in the middle of `create` (blocked in a createRuntime hook)."""

    def test_runc_killed_in_a_create_runtime_hook(self):
        b = self.new_bundle()
        marker = os.path.join(self.tmp, "hook-started")
        b.spec["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": [
            "sh", "-c", "echo $$ > %s.tmp && mv %s.tmp %s && exec sleep 60" % (marker, marker, marker)]}]}
        original = b.write()
        cid = self.new_id()
        proc = subprocess.Popen([RUNGUARD, "--root", self.runc_root, "--log", b.log, "--log-format", "json", "create",
                                 "--bundle", b.path, cid], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=self.env())
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        deadline = time.monotonic() + 20
        while not os.path.exists(marker) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        self.assertTrue(os.path.exists(marker), "the hook never ran: " + b.log_text())
        with open(marker) as f:
            hook_pid = int(f.read())
        self.addCleanup(lambda: alive(hook_pid) and os.kill(hook_pid, signal.SIGKILL))
        self.assertEqual(exe(proc.pid), os.path.realpath(RUNC), "runguard should have exec'd runc by now")
        self.assertHeld(cid)
        os.kill(proc.pid, signal.SIGKILL)  # runc, in the same pid runguard had
        proc.wait(timeout=10)
        os.kill(hook_pid, signal.SIGKILL)
        # The engine (containerd's shim, podman) deletes what its failed create left.
        d = self.engine_delete(cid, b, force=True)
        self.assertEqual(d.returncode, 0, d.stderr)
        self.assertNoLeaks(cid, b, original)
        self.assertNotIn(cid, self.runc_list_ids())


class RunguardKilledTest(FaultTestBase):
    """Fault 3: runguard SIGKILLed after writing the decision record and config.json, before it
    exec'd runc (held in publish_decision by an agent whose backlog is full)."""

    def test_killed_then_engine_delete_releases_everything(self):
        b = self.new_bundle()
        original = b.write()
        cid = self.new_id()
        self.kill_after_config(b, cid, original)
        d = self.engine_delete(cid, b)
        self.assertIn(d.returncode, (0, 1), d.stderr)
        self.assertNoLeaks(cid, b, original)
        # A fresh create of the same id works (the bundle as the dead create left it).
        self.full_policy()
        b.set_args("sh", "-c", "cat /run/secrets/db-user")
        p = self.run_again(b, cid)
        self.assertEqual(p.stdout, SECRET_USER)
        self.engine_delete(cid, b, force=True)
        self.assertNoLeaks(cid, b, original)

    def test_killed_then_create_again_reclaims_without_delete(self):
        # No delete in between: the dead create's state is reclaimed by the next create of the
        # id, at once (its creator is gone and runc has no such container).
        b = self.new_bundle()
        original = b.write()
        cid = self.new_id()
        self.kill_after_config(b, cid, original)
        self.full_policy()
        p = self.run_again(b, cid)
        self.assertEqual(p.stdout, SECRET_USER)
        self.engine_delete(cid, b, force=True)
        self.assertNoLeaks(cid, b, original)

    def run_again(self, b, cid):
        """`run` of the same id from the bundle as the dead create left it (hardened config.json)."""
        p = self.runguard(["run", "--keep", "--bundle", b.path, cid], log=b.log)
        self.assertEqual(p.returncode, 0, p.stderr + b.log_text())
        self.assertHardened(b.read_config(), cid)
        return p


class DiskFullTest(FaultTestBase):
    """Fault 4 (and 5): a full stateDir; a bundle whose filesystem cannot take the new
    config.json. failurePolicy decides whether the internal error refuses the container."""

    def full_state_dir(self):
        self.mount_tmpfs(self.state_dir, "64k")
        fill(self.state_dir)

    def test_full_state_dir_refuses_under_failure_policy_closed(self):
        self.full_state_dir()
        b = self.new_bundle()
        original = b.write()
        cid = self.new_id()
        p = self.runguard(["create", "--bundle", b.path, cid], log=b.log)
        msg = self.assertRuncError(p, b, "No space left on device")
        self.assertIn(self.state_dir, msg)
        self.assertEqual(b.config_bytes(), original)
        self.assertNoLeaks(cid, b, original, config_may_be_new=False)
        self.assertNotIn(cid, self.runc_list_ids())
        self.assertEqual(sorted(os.listdir(self.state_dir)), ["filler"])

    def test_full_state_dir_starts_unhardened_under_failure_policy_open(self):
        self.full_state_dir()
        self.full_policy(extra="failurePolicy: open\n")
        b = self.new_bundle()
        b.set_args("sh", "-c", "id -u; cat /proc/self/uid_map; echo ran-unhardened")
        original = b.write()
        cid = self.new_id()
        p = self.runguard(["run", "--keep", "--bundle", b.path, cid], log=b.log)
        self.assertEqual(p.returncode, 0, p.stderr + b.log_text())
        uid, uid_map, ran = p.stdout.splitlines()
        # From inside: it ran, as the spec's root on the host's ids (nothing was applied).
        self.assertEqual((uid, ran), ("0", "ran-unhardened"))
        self.assertEqual(uid_map.split(), ["0", "0", "4294967295"])
        errors = [json.loads(l) for l in b.log_lines() if json.loads(l)["level"] == "error"]
        self.assertTrue(errors, b.log_text())
        self.assertIn("No space left on device", errors[0]["msg"])
        self.assertIn("failurePolicy: open", errors[0]["msg"])
        self.assertEqual(b.config_bytes(), original)
        self.runc(["delete", "-f", cid])
        self.assertNoLeaks(cid, b, original, config_may_be_new=False)

    def test_bundle_that_cannot_take_the_new_config(self):
        # The bundle's filesystem has room for the original config.json but not the hardened one
        # (seccomp rules, mappings, hooks: several times larger). The rootfs lives elsewhere.
        rootfs_bundle = self.new_bundle("rootfs-holder")
        small = os.path.join(self.tmp, "small-bundle")
        self.mount_tmpfs(small, "32k")
        os.makedirs(os.path.join(small, "b"))
        from harness import Bundle
        b = Bundle.__new__(Bundle)  # only config.json on the small tmpfs: the rootfs and --log elsewhere
        b.path = os.path.join(small, "b")
        b.rootfs = rootfs_bundle.rootfs
        b.config_path = os.path.join(b.path, "config.json")
        b.log = os.path.join(self.tmp, "small-bundle.log.json")  # --log must stay writable
        b.spec = rootfs_bundle.spec
        b.spec["root"]["path"] = rootfs_bundle.rootfs
        b.set_args("sh", "-c", "cat /run/secrets/db-user")
        original = b.write()
        # Leave less room than the new config.json needs.
        filler = os.path.join(small, "filler")
        with open(filler, "wb", buffering=0) as f:
            while os.statvfs(small).f_bavail * os.statvfs(small).f_frsize > 8192:
                f.write(b"\0" * 4096)
        cid = self.new_id()
        p = self.runguard(["create", "--bundle", b.path, cid], log=b.log)
        msg = self.assertRuncError(p, b, "No space left on device")
        self.assertIn(b.config_path, msg)
        self.assertEqual(b.config_bytes(), original, "config.json must be byte-identical")
        self.assertEqual(sorted(os.listdir(b.path)), ["config.json"], "temporary files left in the bundle")
        self.assertNoLeaks(cid, b, original, config_may_be_new=False)


class MonitorKilledTest(FaultTestBase):
    """Fault 6: runguard-monitor killed. test_monitor.py's test_killed_monitor_fails_closed covers
    `runc exec` failing; these assert ENOSYS from inside the running container and the cleanup."""

    def test_killed_mid_life_fails_monitored_calls_inside_and_delete_cleans_up(self):
        b = self.new_bundle()
        # The container's own loop: one exec (monitored) per second, its result on stdout.
        fifo = os.path.join(b.rootfs, "tmp", "tick")
        os.mkfifo(fifo)
        b.set_args("sh", "-c", "while :; do /bin/true; echo \"rc=$?\"; read -t 1 x <>/tmp/tick; done 2>&1")
        original = b.write()
        cid = self.new_id()
        out_path = os.path.join(self.tmp, "container.out")
        with open(out_path, "wb") as out:
            p = subprocess.run([RUNGUARD, "--root", self.runc_root, "--log", b.log, "--log-format", "json", "create",
                                "--bundle", b.path, cid], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                               env=self.env(), timeout=30)
        self.assertEqual(p.returncode, 0, b.log_text())
        res = self.assertHeld(cid)
        self.assertEqual(self.runguard(["start", cid], log=b.log).returncode, 0, b.log_text())

        def read():
            with open(out_path, errors="replace") as f:
                return f.read()
        self.wait_until(lambda: "rc=0" in read(), "the container's first exec")
        os.kill(res["monitorPid"], signal.SIGKILL)
        mark = len(read())
        self.wait_until(lambda: "Function not implemented" in read()[mark:], "a failed exec inside", timeout=10)
        after = read()[mark:]
        self.assertIn("Function not implemented", after)  # ENOSYS: no listener, the kernel refuses
        self.assertEqual(self.state(cid)["status"], "running")
        d = self.engine_delete(cid, b, force=True)
        self.assertEqual(d.returncode, 0, d.stderr)
        self.assertNoLeaks(cid, b, original)

    def wait_until(self, predicate, what, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        self.fail("timed out waiting for " + what)

    def test_killed_before_runc_connects_fails_the_create(self):
        # A createRuntime hook (runc runs it before the container's seccomp filter is loaded and
        # its listener fd is sent) kills the monitor: runc cannot hand the fd over, the create
        # fails, and the engine's delete releases everything.
        b = self.new_bundle()
        res = os.path.join(self.state_dir, "%s", "resources.json")
        cid = self.new_id()
        kill = ("pid=$(sed -n 's/.*\"monitorPid\": *\\([0-9]*\\).*/\\1/p' %s); echo $pid > %s/killed-monitor; "
                "kill -KILL $pid" % (res % cid, self.tmp))
        b.spec["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", kill]}]}
        original = b.write()
        p = self.runguard(["create", "--bundle", b.path, cid], log=b.log)
        with open(os.path.join(self.tmp, "killed-monitor")) as f:
            killed = int(f.read())
        self.monitor_pids.add(killed)
        self.assertNotEqual(p.returncode, 0, "runc started a container whose monitor is dead")
        self.assertIn("seccomp", p.stderr + b.log_text())
        self.assertNotIn(cid, [c for c in self.runc_list_ids() if self.state(c) and self.state(c)["status"] != "stopped"])
        d = self.engine_delete(cid, b, force=True)
        self.assertEqual(d.returncode, 0, d.stderr)
        self.assertNoLeaks(cid, b, original)


class AgentFaultTest(FaultTestBase):
    """Fault 7: runguardd down (a stale socket file) or hung (never accepts, accepts and never
    answers, answers half a frame). The create is bounded by agent.requestTimeout; the image
    digest falls back (helper, or unknown with a warning); Vault secrets through a hung agent are
    refused with a clear error."""

    TIMEOUT_MS = 1000

    def setUp(self):
        super().setUp()
        # A containerd-style bundle path makes create look the image digest up.
        self.task_dir = os.path.join(self.tmp, "io.containerd.runtime.v2.task", "rgfault")
        os.makedirs(self.task_dir)
        self.containerd_sock = os.path.join(self.tmp, "containerd.sock")
        stale_socket(self.containerd_sock)
        self.full_policy(agent=agent_settings(self.tmp, containerd=self.containerd_sock) +
                         "  requestTimeout: %dms\n  helperTimeout: 2s\n" % self.TIMEOUT_MS)

    def timed_run(self, b, cid):
        start = time.monotonic()
        p = self.runguard(["run", "--keep", "--bundle", b.path, cid], log=b.log)
        return p, time.monotonic() - start

    def check_bounded(self, fault_name):
        cid = self.new_id()
        b = self.new_bundle(parent=self.task_dir, name=cid)
        original = b.write()
        p, took = self.timed_run(b, cid)
        self.assertEqual(p.returncode, 0, p.stderr + b.log_text())
        self.assertEqual(p.stdout, SECRET_USER)  # it ran, hardened, with its secret
        self.assertLess(took, self.TIMEOUT_MS / 1000 + 10, "create was held by the %s agent" % fault_name)
        warnings = [json.loads(l)["msg"] for l in b.log_lines() if json.loads(l)["level"] == "warning"]
        self.assertTrue(any("image digest unknown" in w for w in warnings), b.log_text())
        record, _ = self.decision(cid)
        self.assertEqual(record["context"].get("imageDigest", ""), "")
        self.engine_delete(cid, b, force=True)
        self.assertNoLeaks(cid, b, original)
        return warnings, took

    def test_agent_down_stale_socket(self):
        stale_socket(self.internal_socket)
        warnings, _ = self.check_bounded("stale")
        # Nobody listening: the one-shot helper was tried (and found no containerd either).
        self.assertTrue(any("runguardctl helper" in w or "containerd" in w for w in warnings), warnings)

    def test_agent_hung_accepts_never_answers(self):
        agent = SilentAgent(self.internal_socket)
        self.addCleanup(agent.close)
        warnings, _ = self.check_bounded("silent")
        self.assertTrue(any("did not answer" in w and "image.digest" in w for w in warnings), warnings)
        self.assertGreaterEqual(agent.requests, 1)

    def test_agent_hung_half_a_frame(self):
        agent = SilentAgent(self.internal_socket, half=True)
        self.addCleanup(agent.close)
        warnings, _ = self.check_bounded("half-answering")
        self.assertTrue(any("did not answer" in w for w in warnings), warnings)

    def test_agent_hung_backlog_full(self):
        agent = BacklogFullAgent(self.internal_socket)
        self.addCleanup(agent.close)
        warnings, took = self.check_bounded("never-accepting")
        self.assertTrue(any("backlog" in w for w in warnings), warnings)

    def vault_policy(self):
        vault = VaultStandin().start()
        self.addCleanup(vault.stop)
        token = vault.add_token(paths=["kv/data/app/*"])["token"]
        token_file = os.path.join(self.tmp, "vault-token")
        with open(token_file, "w") as f:
            f.write(token)
        vault.put_kv2("kv", "app/db", {"password": KV_VALUE})
        self.full_policy(agent=agent_settings(self.tmp) + "  requestTimeout: %dms\n" % self.TIMEOUT_MS, secrets=(
            "secrets:\n  backend: vault\n  vault: { address: %s, timeout: 2s, auth: { method: token, tokenFile: %s } }\n"
            "  allow: [ { match: {}, paths: ['kv/data/app/*'] } ]\n" % (vault.address, token_file)))
        return vault, token

    def test_vault_secrets_with_the_agent_down_fall_back_to_the_helper(self):
        vault, token = self.vault_policy()
        stale_socket(self.internal_socket)
        b = self.new_bundle()
        b.spec["annotations"] = {ANNOTATION + "db": "vault:kv/data/app/db#password"}
        b.set_args("sh", "-c", "cat /run/secrets/db")
        original = b.write()
        cid = self.new_id()
        start = time.monotonic()
        p = self.runguard(["run", "--keep", "--bundle", b.path, cid], log=b.log)
        self.assertEqual(p.returncode, 0, p.stderr + b.log_text())
        self.assertEqual(p.stdout, KV_VALUE)
        self.assertLess(time.monotonic() - start, 10)
        self.assertNotIn(KV_VALUE, b.log_text())
        self.engine_delete(cid, b, force=True)
        self.assertNoLeaks(cid, b, original)

    def test_vault_secrets_through_a_hung_agent_are_refused(self):
        vault, token = self.vault_policy()
        agent = SilentAgent(self.internal_socket)
        self.addCleanup(agent.close)
        b = self.new_bundle()
        b.spec["annotations"] = {ANNOTATION + "db": "vault:kv/data/app/db#password"}
        original = b.write()
        cid = self.new_id()
        start = time.monotonic()
        p = self.runguard(["create", "--bundle", b.path, cid], log=b.log)
        took = time.monotonic() - start
        msg = self.assertRuncError(p, b, "secrets from Vault", "did not answer", "secrets.fetch")
        self.assertLess(took, 2.5 + 10)
        self.assertNotIn(token, msg)
        self.assertNoLeaks(cid, b, original, config_may_be_new=False)
        self.assertEqual(b.config_bytes(), original)


class VaultFaultTest(FaultTestBase):
    """Fault 8: Vault slow, down or answering garbage, through the one-shot helper (no agent).
    test_secrets.py covers down, sealed, 429, 403 and 404; here: slow, a dropped connection and
    garbage bodies, each with a dynamic lease taken first (it must be revoked) and the leak checks."""

    def setUp(self):
        super().setUp()
        self.vault = VaultStandin().start()
        self.addCleanup(self.vault.stop)
        self.token = self.vault.add_token(paths=["kv/data/app/*", "database/creds/*", "sys/leases/*"])["token"]
        self.token_file = os.path.join(self.tmp, "vault-token")
        with open(self.token_file, "w") as f:
            f.write(self.token)
        self.vault.put_kv2("kv", "app/db", {"password": KV_VALUE})
        self.vault.add_dynamic_role("database", "ro", ttl=3600)
        self.full_policy(secrets=(
            "secrets:\n  backend: vault\n  vault: { address: %s, timeout: 2s, retries: 0, auth: { method: token, tokenFile: %s } }\n"
            "  allow: [ { match: {}, paths: ['kv/data/app/*', 'database/creds/ro'] } ]\n" % (self.vault.address, self.token_file)))

    def check_refused(self, *needles, limit=15):
        b = self.new_bundle()
        # a-creds (a lease) is fetched before b-db, which the fault breaks.
        b.spec["annotations"] = {ANNOTATION + "a-creds": "vault:database/creds/ro", ANNOTATION + "b-db": "vault:kv/data/app/db#password"}
        original = b.write()
        cid = self.new_id()
        revoked_before = len(self.vault.leases()["revoked"])
        start = time.monotonic()
        p = self.runguard(["create", "--bundle", b.path, cid], log=b.log, timeout=60)
        took = time.monotonic() - start
        msg = self.assertRuncError(p, b, "secrets from Vault", *needles)
        self.assertLess(took, limit, "refusal took too long")
        for leaked in (self.token, KV_VALUE):
            self.assertNotIn(leaked, msg)
            self.assertNotIn(leaked, b.log_text())
        self.assertNoLeaks(cid, b, original, config_may_be_new=False)
        self.assertEqual(b.config_bytes(), original)
        leases = self.vault.leases()
        self.assertEqual(leases["active"], [], "a refused create left a Vault lease behind")
        self.assertEqual(len(leases["revoked"]), revoked_before + 1, "the dynamic lease taken before the fault was not revoked: %s" % leases)
        return msg

    def test_slow_vault_answers_after_the_timeout(self):
        self.vault.fault(delay_ms=6000, path="kv/*")
        self.check_refused()

    def test_connection_dropped(self):
        self.vault.fault(close=True, path="kv/*")
        self.check_refused()

    def test_html_200(self):
        self.vault.fault(garbage=True, path="kv/*")
        self.check_refused()

    def test_html_error_page(self):
        self.vault.fault_body("<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
                              status=502, content_type="text/html", path="kv/*")
        self.check_refused("502")

    def test_non_json_200(self):
        self.vault.fault_body("this is not json", path="kv/*")
        self.check_refused()

    def test_truncated_json(self):
        self.vault.fault_body('{"request_id":"x","data":{"data":{"password":"abc', path="kv/*")
        self.check_refused()

    def test_wrong_shape(self):
        for body in ('{"data": "not an object"}', '[1, 2, 3]', '{"data": {"data": {"password": 42}}}', "null"):
            with self.subTest(body=body):
                self.vault.fault(clear=True)
                self.vault.fault_body(body, path="kv/*")
                self.check_refused()

    def test_huge_body(self):
        self.vault.fault_body('{"data": {"data": {"password": "' + "A" * 1024, repeat=8 * 1024, path="kv/*")
        self.check_refused()

    def test_vault_down(self):
        self.vault.stop()
        b = self.new_bundle()
        b.spec["annotations"] = {ANNOTATION + "b-db": "vault:kv/data/app/db#password"}
        original = b.write()
        cid = self.new_id()
        p = self.runguard(["create", "--bundle", b.path, cid], log=b.log)
        self.assertRuncError(p, b, "secrets from Vault")
        self.assertNoLeaks(cid, b, original, config_may_be_new=False)


class ConcurrentCreateTest(FaultTestBase):
    """Fault 9: two creates of one id at the same moment, many rounds: exactly one wins, the other
    fails with a clear error and changes nothing; the winner runs; delete leaves nothing."""

    ROUNDS = 10

    def test_two_creates_of_one_id(self):
        outcomes = {}
        for n in range(self.ROUNDS):
            cid = self.new_id("race")
            bundles = [self.new_bundle("race-%d-%d" % (n, i)) for i in range(2)]
            originals = []
            for b in bundles:
                b.set_args("sleep", "30")
                originals.append(b.write())
            # stderr to files: the winner's container inherits it (a pipe would never see EOF).
            errs = [os.path.join(self.tmp, "race-%d-%d.err" % (n, i)) for i in range(2)]
            procs = []
            for b, err in zip(bundles, errs):
                with open(err, "wb") as f:
                    procs.append(subprocess.Popen([RUNGUARD, "--root", self.runc_root, "--log", b.log, "--log-format", "json",
                                                   "create", "--bundle", b.path, cid], stdin=subprocess.DEVNULL,
                                                  stdout=subprocess.DEVNULL, stderr=f, env=self.env()))
            codes = [pr.wait(timeout=60) for pr in procs]
            results = []
            for code, err in zip(codes, errs):
                with open(err) as f:
                    results.append((code, f.read()))
            self.assertEqual(sorted(codes), [0, 1], "round %d: %s" % (n, results))
            win = codes.index(0)
            lose = 1 - win
            err = results[lose][1]
            self.assertTrue("already exists" in err or "being created" in err, err)
            outcomes[err.split(cid)[1][:20].strip()] = outcomes.get(err.split(cid)[1][:20].strip(), 0) + 1
            self.assertEqual(bundles[lose].config_bytes(), originals[lose], "the loser changed its config.json")
            self.assertHardened(bundles[win].read_config(), cid)
            record, _ = self.decision(cid)
            self.assertEqual(record["context"]["bundle"], bundles[win].path, "the record is the winner's")
            self.assertHeld(cid)
            self.assertEqual(self.runguard(["start", cid], log=bundles[win].log).returncode, 0)
            self.wait_status(cid, "running")
            out = self.runguard(["exec", cid, "cat", "/run/secrets/db-user"])
            self.assertEqual(out.stdout, SECRET_USER, out.stderr)
            d = self.engine_delete(cid, bundles[win], force=True)
            self.assertEqual(d.returncode, 0, d.stderr)
            self.assertNoLeaks(cid, bundles[lose], originals[lose], config_may_be_new=False)
            self.assertNoLeaks(cid, bundles[win], originals[win])
        print("\n  two creates of one id, %d rounds: the loser's error %s" % (self.ROUNDS, outcomes))


class LifecycleRaceTest(FaultTestBase):
    """The lifecycle around a create that is killed or still running: reclaim of a killed
    create's state by two racing creates, delete while a create is in progress, and the
    poststop hook for a runtime whose state names no bundle."""

    ROUNDS = 3

    def race(self, cid, bundles, tag):
        """Both bundles' creates of `cid` at once; returns (codes, [(code, stderr)])."""
        errs = [os.path.join(self.tmp, "%s-%d.err" % (tag, i)) for i in range(len(bundles))]
        procs = []
        for b, err in zip(bundles, errs):
            with open(err, "wb") as f:
                procs.append(subprocess.Popen([RUNGUARD, "--root", self.runc_root, "--log", b.log, "--log-format", "json",
                                               "create", "--bundle", b.path, cid], stdin=subprocess.DEVNULL,
                                              stdout=subprocess.DEVNULL, stderr=f, env=self.env()))
        codes = [pr.wait(timeout=60) for pr in procs]
        results = []
        for code, err in zip(codes, errs):
            with open(err) as f:
                results.append((code, f.read()))
        return codes, results

    def assertRangeIsTheWinners(self, cid, cfg):
        """The one allocation held for `cid` is the range the winner's config.json maps."""
        allocs = self.allocations_of(cid)
        self.assertEqual(len(allocs), 1, allocs)
        host = cfg["linux"]["uidMappings"][0]["hostID"]
        self.assertTrue(any(r["start"] <= host < r["start"] + r["size"] for r in allocs[0]["ranges"]),
                        "the winner maps uid %d, outside the range held: %s" % (host, allocs[0]))

    def test_killed_create_raced_by_two_creates(self):
        # A killed create leaves a reclaimable directory; two new creates race for it. Exactly
        # one reclaims it; the other must not release the winner's fresh directory and range.
        outcomes = {}
        for n in range(self.ROUNDS):
            dead = self.new_bundle("dead-%d" % n)
            dead_original = dead.write()
            cid = self.new_id("reclaim")
            self.kill_after_config(dead, cid, dead_original)
            dead_creator = self.resources(cid)["creator"]
            self.full_policy()
            bundles = [self.new_bundle("reclaim-%d-%d" % (n, i)) for i in range(2)]
            originals = []
            for b in bundles:
                b.set_args("sleep", "30")
                originals.append(b.write())
            codes, results = self.race(cid, bundles, "reclaim-%d" % n)
            self.assertEqual(sorted(codes), [0, 1], "round %d: %s" % (n, results))
            win = codes.index(0)
            lose = 1 - win
            err = results[lose][1]
            self.assertTrue("already exists" in err or "being created" in err, err)
            key = "already exists" if "already exists" in err else "being created"
            outcomes[key] = outcomes.get(key, 0) + 1
            self.assertEqual(bundles[lose].config_bytes(), originals[lose], "the loser changed its config.json")
            cfg = bundles[win].read_config()
            self.assertHardened(cfg, cid)
            record, _ = self.decision(cid)
            self.assertEqual(record["context"]["bundle"], bundles[win].path, "the record is the winner's")
            # After the loser exited: the winner still holds everything, its own range included.
            res = self.assertHeld(cid)
            self.assertNotEqual(res.get("creator"), dead_creator, "the dead create's record survived")
            self.assertRangeIsTheWinners(cid, cfg)
            self.assertEqual(self.runguard(["start", cid], log=bundles[win].log).returncode, 0)
            self.wait_status(cid, "running")
            out = self.runguard(["exec", cid, "cat", "/run/secrets/db-user"])
            self.assertEqual(out.stdout, SECRET_USER, out.stderr)
            d = self.engine_delete(cid, bundles[win], force=True)
            self.assertEqual(d.returncode, 0, d.stderr)
            self.assertNoLeaks(cid, bundles[lose], originals[lose], config_may_be_new=False)
            self.assertNoLeaks(cid, bundles[win], originals[win])
            self.assertNoLeaks(cid, dead, dead_original)
        print("\n  killed create raced by two creates, %d rounds: the loser's error %s" % (self.ROUNDS, outcomes))

    def test_delete_while_the_create_runs_keeps_its_state(self):
        # The engine's delete of an id runc does not know yet, while runguard's create of it is
        # still running (held in publish_decision): runguard must not release the create's range,
        # rootfs and secrets from under it; the create then completes and the container works.
        b = self.new_bundle()
        b.set_args("sleep", "30")
        original = b.write()
        cid = self.new_id()
        agent, proc = self.start_held_create(b, cid)
        record = os.path.join(self.container_state_dir(cid), "decision.json")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None and not os.path.exists(record):
            time.sleep(0.02)
        self.assertIsNone(proc.poll(), "runguard was not held: " + b.log_text())
        self.assertHeld(cid)
        d = self.engine_delete(cid, b)
        self.assertEqual(d.returncode, 1, "runc's delete of a container it does not know: " + d.stderr)
        self.assertIn("create in progress", b.log_text())
        self.assertHeld(cid)
        agent.close()  # the create goes on (the agent is gone: no more waiting)
        self.assertEqual(proc.wait(timeout=60), 0, b.log_text())
        self.assertHeld(cid)
        self.assertEqual(self.runguard(["start", cid], log=b.log).returncode, 0, b.log_text())
        self.wait_status(cid, "running")
        out = self.runguard(["exec", cid, "cat", "/run/secrets/db-user"])
        self.assertEqual(out.stdout, SECRET_USER, out.stderr)
        d = self.engine_delete(cid, b, force=True)
        self.assertEqual(d.returncode, 0, d.stderr)
        self.assertNoLeaks(cid, b, original)

    def test_delete_after_the_create_died_releases(self):
        # The same delete once the create is gone (killed before runc): released at once.
        b = self.new_bundle()
        original = b.write()
        cid = self.new_id()
        self.kill_after_config(b, cid, original)
        d = self.engine_delete(cid, b)
        self.assertEqual(d.returncode, 1, d.stderr)
        self.assertNotIn("create in progress", b.log_text())
        self.assertNoLeaks(cid, b, original)

    def test_poststop_state_without_bundle_releases_by_id(self):
        # A runtime's poststop state may carry no bundle: runguard-hook releases by id then (it
        # did before bundles were compared); a state naming another bundle is not this container.
        b = self.new_bundle()
        b.set_args("sleep", "30")
        original = b.write()
        cid = self.new_id()
        p = self.runguard(["create", "--bundle", b.path, cid], log=b.log, detached=True)
        self.assertEqual(p.returncode, 0, b.log_text())
        self.assertHeld(cid)
        hook = os.path.join(RUNGUARD_BIN, "runguard-hook")
        state = {"ociVersion": "1.0.2", "id": cid, "status": "stopped"}

        def poststop(st):
            return subprocess.run([hook, "poststop", "--state-dir", self.state_dir], input=json.dumps(st),
                                  capture_output=True, text=True, env=self.env(), timeout=60)

        other = poststop(dict(state, bundle=self.tmp))
        self.assertEqual(other.returncode, 0, other.stderr)
        self.assertHeld(cid)  # another bundle's container of the same id: left alone
        bare = poststop(state)
        self.assertEqual(bare.returncode, 0, bare.stderr)
        self.assertFalse(os.path.exists(self.container_state_dir(cid)), "poststop without a bundle released nothing")
        self.assertEqual(self.allocations_of(cid), [], "the range was not released")
        d = self.engine_delete(cid, b, force=True)
        self.assertEqual(d.returncode, 0, d.stderr)
        self.assertNoLeaks(cid, b, original)


if __name__ == "__main__":
    unittest.main()
