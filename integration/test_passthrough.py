"""The rest of the runc command line through runguard: the detached lifecycle (create, state,
start, ps, pause/resume, events, kill, list, delete), pass-through commands that must behave
exactly like runc, and the commands runguard hardens after create: exec and update.
"""

import json
import os
import subprocess
import threading
import time
import unittest

from harness import ALL_CAPS, CAP_BIT, NET_BIND_SERVICE_MASK, RUNGUARD, TIMEOUT, RunguardTestCase, agent_settings

SYS_ADMIN = 1 << CAP_BIT["CAP_SYS_ADMIN"]
STATUS_SCRIPT = ('id -u; while read -r l; do case "$l" in Uid:*|Gid:*|Cap*|NoNewPrivs:*) echo "$l";; esac; '
                 'done < /proc/self/status')

# A stand-in runtime: records its argv, one word a line, and the content of any /proc/self/fd/N
# it was handed.
FAKE_RUNC = """#!/bin/sh
for a in "$@"; do printf '%%s\\n' "$a"; done > %(out)s
rm -f %(out)s.content
for a in "$@"; do
  case "$a" in */proc/self/fd/*) cat "${a#--process=}" > %(out)s.content;; esac
done
"""


def parse_status(text):
    out = {}
    for line in text.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            out[k.strip()] = v.strip()
    return out


class PassthroughTest(RunguardTestCase):

    def setUp(self):
        super().setUp()
        self.b = self.bundle()

    def create(self):
        self.b.set_args("sleep", "30")
        self.b.write()
        cid = self.new_id()
        p = self.runguard(["create", "--bundle", self.b.path, cid], log=self.b.log, detached=True)
        self.assertEqual(p.returncode, 0, "create failed: " + self.b.log_text())
        return cid

    def rg_json(self, args):
        p = self.runguard(args, log=self.b.log)
        self.assertEqual(p.returncode, 0, "%s: %s %s" % (args, p.stderr, self.b.log_text()))
        return json.loads(p.stdout)

    def rg_state(self, cid):
        return self.rg_json(["state", cid])

    def exec_out(self, cid, *args, flags=()):
        p = self.runguard(["exec"] + list(flags) + [cid] + list(args), log=self.b.log)
        self.assertEqual(p.returncode, 0, "exec %s: %s %s" % (args, p.stderr, self.b.log_text()))
        return p.stdout

    # -- lifecycle --
    def test_create_start_state(self):
        cid = self.create()
        st = self.rg_state(cid)
        self.assertEqual(st["id"], cid)
        self.assertEqual(st["status"], "created")
        self.assertEqual(st["bundle"], self.b.path)
        self.assertTrue(os.path.isfile(os.path.join(self.container_state_dir(cid), "decision.json")))
        # The container was created from the hardened config.
        self.assertEqual(self.b.read_config()["process"]["user"]["uid"], 65532)
        p = self.runguard(["start", cid], log=self.b.log)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.wait_status(cid, "running")
        self.assertEqual(self.rg_state(cid)["status"], "running")

    def test_ps(self):
        cid = self.start_sleeper(self.b)
        pid = self.rg_state(cid)["pid"]
        p = self.runguard(["ps", cid], log=self.b.log)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("sleep", p.stdout)
        self.assertIn("PID", p.stdout.splitlines()[0])
        self.assertEqual(self.rg_json(["ps", "--format", "json", cid]), [pid])
        self.assertEqual(self.rg_json(["ps", "-f", "json", cid]), [pid])

    def test_pause_resume(self):
        cid = self.start_sleeper(self.b)
        self.assertEqual(self.runguard(["pause", cid], log=self.b.log).returncode, 0)
        self.assertEqual(self.rg_state(cid)["status"], "paused")
        self.assertEqual(self.runguard(["resume", cid], log=self.b.log).returncode, 0)
        self.assertEqual(self.rg_state(cid)["status"], "running")

    def test_events_stats(self):
        cid = self.start_sleeper(self.b)
        ev = self.rg_json(["events", "--stats", cid])
        self.assertEqual(ev["type"], "stats")
        self.assertEqual(ev["id"], cid)
        self.assertEqual(ev["data"]["memory"]["usage"]["limit"], 536870912)  # the hardened limit
        self.assertEqual(ev["data"]["pids"]["limit"], 1024)

    def test_kill_and_list(self):
        cid = self.start_sleeper(self.b)
        p = self.runguard(["list"], log=self.b.log)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(cid, p.stdout)
        listed = self.rg_json(["list", "--format", "json"])
        self.assertEqual([c["status"] for c in listed if c["id"] == cid], ["running"])
        p = self.runguard(["list", "-q"], log=self.b.log)
        self.assertEqual(p.stdout.split(), [cid])
        self.assertEqual(self.runguard(["kill", cid, "KILL"], log=self.b.log).returncode, 0)
        self.wait_status(cid, "stopped")

    def test_delete_releases_state_and_is_idempotent(self):
        cid = self.start_sleeper(self.b)
        state = self.container_state_dir(cid)
        self.assertTrue(os.path.isdir(state))
        self.assertEqual(self.runguard(["kill", cid, "KILL"], log=self.b.log).returncode, 0)
        self.wait_status(cid, "stopped")
        p = self.runguard(["delete", cid], log=self.b.log)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse(os.path.exists(state))
        self.assertNotIn(cid, self.runc_list_ids())
        # Again: runc's error and status, no crash, still nothing of ours.
        want = self.runc(["delete", cid])
        p = self.runguard(["delete", cid], log=self.b.log)
        self.assertNotEqual(want.returncode, 0)
        self.assertEqual(p.returncode, want.returncode)
        self.assertIn("does not exist", p.stderr)
        self.assertFalse(os.path.exists(state))
        self.assertTrue(os.path.isdir(self.state_dir))  # only the container's directory goes

    def test_delete_force_running(self):
        cid = self.start_sleeper(self.b)
        p = self.runguard(["delete", "-f", cid], log=self.b.log)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse(os.path.exists(self.container_state_dir(cid)))
        self.assertNotIn(cid, self.runc_list_ids())

    def test_broken_policy_never_blocks_kill_and_delete(self):
        cid = self.start_sleeper(self.b)
        self.write_policy("capabilities: {allow: [CAP_FLY]}")  # create/exec would refuse this policy
        self.assertEqual(self.runguard(["kill", cid, "KILL"], log=self.b.log).returncode, 0)
        self.wait_status(cid, "stopped")
        p = self.runguard(["delete", cid], log=self.b.log)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse(os.path.exists(self.container_state_dir(cid)))

    # -- pure pass-through --
    def test_features_same_as_runc(self):
        want = self.runc(["features"])
        got = self.runguard(["features"])
        self.assertEqual(got.returncode, want.returncode)
        self.assertEqual(got.stdout, want.stdout)

    def test_unknown_command_same_as_runc(self):
        want = self.runc(["no-such-command"])
        got = self.runguard(["no-such-command"])
        self.assertNotEqual(want.returncode, 0)
        self.assertEqual(got.returncode, want.returncode)

    def test_run_with_bundle_from_cwd(self):
        # No --bundle: runc takes the current directory, and so must runguard.
        self.b.set_args("id", "-u")
        self.b.write()
        cid = self.new_id()
        p = subprocess.run([RUNGUARD, "--root", self.runc_root, "run", "--keep", cid], cwd=self.b.path, env=self.env(),
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), "65532")
        self.assertTrue(os.path.isfile(os.path.join(self.container_state_dir(cid), "decision.json")))

    def test_foreground_run_releases_state(self):
        # runc deletes a foreground container itself, never calling runguard delete: the poststop
        # hook runguard adds must release the state, and a probe proves the container ran.
        self.b.set_args("id", "-u")
        self.b.write()
        cid, p = self.run_container(self.b, keep=False)
        self.assertEqual(p.returncode, 0, p.stderr + self.b.log_text())
        self.assertEqual(p.stdout.strip(), "65532")
        self.assertFalse(os.path.exists(self.container_state_dir(cid)), "state left behind after run")
        with open(os.path.join(self.b.path, "config.json")) as f:
            hooks = json.load(f)["hooks"]["poststop"]
        self.assertTrue(any(h["path"].endswith("/runguard-hook") for h in hooks), hooks)

    def test_state_of_missing_container_same_as_runc(self):
        want = self.runc(["state", "no-such-container"])
        got = self.runguard(["state", "no-such-container"])
        self.assertNotEqual(want.returncode, 0)
        self.assertEqual(got.returncode, want.returncode)
        self.assertEqual(got.stdout, want.stdout)

    def test_version_same_as_runc(self):
        want = self.runc(["--version"])
        got = self.runguard(["--version"])
        self.assertEqual(got.returncode, 0)
        self.assertEqual(got.stdout, want.stdout)
        self.assertIn("runc version", got.stdout)

    # -- exec --
    def test_exec_process_file_hardened(self):
        cid = self.start_sleeper(self.b)
        proc_file = os.path.join(self.tmp, "process.json")
        caps = list(ALL_CAPS)
        with open(proc_file, "w") as f:
            json.dump({"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["sh", "-c", STATUS_SCRIPT],
                       "env": ["PATH=/bin"], "cwd": "/", "noNewPrivileges": False,
                       "capabilities": {s: caps for s in ("bounding", "effective", "permitted", "inheritable",
                                                          "ambient")}}, f)
        p = self.runguard(["exec", "--process", proc_file, cid], log=self.b.log)
        self.assertEqual(p.returncode, 0, p.stderr + self.b.log_text())
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0], "65532")
        st = parse_status(p.stdout)
        self.assertEqual(st["Uid"].split(), ["65532"] * 4)
        for name in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"):
            self.assertCapsAtMost(int(st[name], 16), NET_BIND_SERVICE_MASK, name)
        self.assertEqual(st["NoNewPrivs"], "1")

    def test_exec_flags_hardened(self):
        cid = self.start_sleeper(self.b)
        out = self.exec_out(cid, "sh", "-c", "grep ^Uid /proc/self/status; grep CapBnd /proc/self/status",
                            flags=["-u", "0:0", "--cap", "CAP_SYS_ADMIN"])
        st = parse_status(out)
        self.assertEqual(st["Uid"].split(), ["65532"] * 4)
        self.assertEqual(int(st["CapBnd"], 16) & SYS_ADMIN, 0)
        self.assertCapsAtMost(int(st["CapBnd"], 16), NET_BIND_SERVICE_MASK, "CapBnd")

    def test_exec_flags_inline_values(self):
        cid = self.start_sleeper(self.b)
        out = self.exec_out(cid, "sh", "-c", STATUS_SCRIPT, flags=["--user=0", "--cap=CAP_SYS_ADMIN"])
        st = parse_status(out)
        self.assertEqual(out.splitlines()[0], "65532")
        self.assertEqual(int(st["CapBnd"], 16) & SYS_ADMIN, 0)

    def test_exec_plain_runs_as_container_user(self):
        cid = self.start_sleeper(self.b)
        self.assertEqual(self.exec_out(cid, "id", "-u").strip(), "65532")

    def test_exec_process_file_root_group_removed(self):
        cid = self.start_sleeper(self.b)
        proc_file = os.path.join(self.tmp, "process.json")
        with open(proc_file, "w") as f:
            json.dump({"terminal": False, "user": {"uid": 1000, "gid": 0, "additionalGids": [0, 20]},
                       "args": ["sh", "-c", "grep -E '^(Gid|Groups)' /proc/self/status"], "env": ["PATH=/bin"],
                       "cwd": "/"}, f)
        p = self.runguard(["exec", "--process", proc_file, cid], log=self.b.log)
        self.assertEqual(p.returncode, 0, p.stderr + self.b.log_text())
        st = parse_status(p.stdout)
        self.assertEqual(st["Gid"].split(), ["65532"] * 4)
        self.assertEqual(st["Groups"].split(), ["20"])

    # Regression: exec -g 0 once passed supplementary group root through untouched.
    def test_exec_flags_root_group_removed(self):
        cid = self.start_sleeper(self.b)
        out = self.exec_out(cid, "grep", "^Groups", "/proc/self/status", flags=["--additional-gids", "0"])
        self.assertNotIn("0", parse_status(out)["Groups"].split())

    def test_exec_secret_env_denied(self):
        cid = self.start_sleeper(self.b)
        p = self.runguard(["exec", "-e", "DB_PASSWORD=hunter2-xyz", cid, "env"], log=self.b.log)
        msg = self.assertRuncError(p, self.b, "RG-ENV-001", "DB_PASSWORD")
        self.assertNotIn("hunter2-xyz", msg)

    # -- update --
    def memory_limit(self, cid):
        return int(self.exec_out(cid, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes").strip())

    def pids_max(self, cid):
        return self.exec_out(cid, "cat", "/sys/fs/cgroup/pids/pids.max").strip()

    def test_update_memory_flag_clamped(self):
        cid = self.start_sleeper(self.b)
        self.assertEqual(self.memory_limit(cid), 512 << 20)
        p = self.runguard(["update", "--memory", "100g", cid], log=self.b.log)
        self.assertEqual(p.returncode, 0, p.stderr + self.b.log_text())
        self.assertEqual(self.memory_limit(cid), 8589934592)

    def test_update_resources_stdin_clamped(self):
        cid = self.start_sleeper(self.b)
        p = self.runguard(["update", "--resources", "-", cid], log=self.b.log,
                          input='{"memory":{"limit":-1},"pids":{"limit":100000}}')
        self.assertEqual(p.returncode, 0, p.stderr + self.b.log_text())
        self.assertEqual(self.memory_limit(cid), 8589934592)
        self.assertEqual(self.pids_max(cid), "32768")

    def test_update_resources_file_clamped(self):
        cid = self.start_sleeper(self.b)
        res = os.path.join(self.tmp, "resources.json")
        doc = '{"pids":{"limit":-1}}'
        with open(res, "w") as f:
            f.write(doc)
        p = self.runguard(["update", "-r", res, cid], log=self.b.log)
        self.assertEqual(p.returncode, 0, p.stderr + self.b.log_text())
        self.assertEqual(self.pids_max(cid), "32768")
        with open(res) as f:
            self.assertEqual(f.read(), doc, "the caller's resources file must not be rewritten")

    def test_update_below_max_applied(self):
        cid = self.start_sleeper(self.b)
        p = self.runguard(["update", "--memory", "256m", "--pids-limit", "500", cid], log=self.b.log)
        self.assertEqual(p.returncode, 0, p.stderr + self.b.log_text())
        self.assertEqual(self.memory_limit(cid), 256 << 20)
        self.assertEqual(self.pids_max(cid), "500")
        p = self.runguard(["update", "--resources", "-", cid], log=self.b.log,
                          input='{"memory":{"limit":314572800},"pids":{"limit":700}}')
        self.assertEqual(p.returncode, 0, p.stderr + self.b.log_text())
        self.assertEqual(self.memory_limit(cid), 300 << 20)
        self.assertEqual(self.pids_max(cid), "700")

    def test_update_inline_flags_clamped(self):
        cid = self.start_sleeper(self.b)
        p = self.runguard(["update", "--memory=100g", "--pids-limit=-1", cid], log=self.b.log)
        self.assertEqual(p.returncode, 0, p.stderr + self.b.log_text())
        self.assertEqual(self.memory_limit(cid), 8589934592)
        self.assertEqual(self.pids_max(cid), "32768")

    # Regression: a limit of 0 means "leave unchanged" to runc update; it was once raised to the
    # policy maximum.
    def test_update_zero_means_unchanged(self):
        cid = self.start_sleeper(self.b)
        direct = self.runc(["update", "--pids-limit", "0", "--memory", "0", cid])
        self.assertEqual(direct.returncode, 0, direct.stderr)
        self.assertEqual((self.memory_limit(cid), self.pids_max(cid)), (512 << 20, "1024"))  # runc: no change
        p = self.runguard(["update", "--resources", "-", cid], log=self.b.log,
                          input='{"memory":{"limit":0},"pids":{"limit":0}}')
        self.assertEqual(p.returncode, 0, p.stderr + self.b.log_text())
        self.assertEqual((self.memory_limit(cid), self.pids_max(cid)), (512 << 20, "1024"))

    def test_update_invalid_resources(self):
        cid = self.start_sleeper(self.b)
        p = self.runguard(["update", "--resources", "-", cid], log=self.b.log, input='{"memory":{"limit":"lots"}}')
        self.assertRuncError(p, self.b, "/memory/limit")
        self.assertEqual(self.memory_limit(cid), 512 << 20)

    # -- exec/update: parsing like runc, and handing runc exactly what was checked --
    def fake_runtime(self, extra=""):
        """Points runtime.path at a script that records its argv (one word a line) and, for every
        /proc/self/fd/N word, that file's content; returns a function reading the record.
        `extra` is appended to the policy."""
        out = os.path.join(self.tmp, "argv.txt")
        script = os.path.join(self.tmp, "fake-runc")
        with open(script, "w") as f:
            f.write(FAKE_RUNC % {"out": out})
        os.chmod(script, 0o755)
        self.write_policy(raw="stateDir: %s\nlibDir: %s\nevents: { path: %s/events.jsonl }\nruntime:\n  path: %s\n%s" % (
            self.state_dir, self.lib_dir, self.tmp, script, extra) + agent_settings(self.tmp))

        def record():
            with open(out) as f:
                argv = f.read().splitlines()
            self.assertEqual(argv[:2], ["--root", self.runc_root])
            argv = argv[2:]
            content = None
            if os.path.exists(out + ".content"):
                with open(out + ".content") as f:
                    content = f.read()
            return argv, content
        return record

    def exec_status(self, cid, flags, script="grep -E '^(Uid|Gid|Groups|NoNewPrivs)' /proc/self/status"):
        return parse_status(self.exec_out(cid, "sh", "-c", script, flags=flags))

    # Regression: runc casts -u and -g values with uint32(...): 4294967296 ran as uid 0 / group 0.
    def test_exec_ids_that_runc_wraps_refused(self):
        # Ids far outside a user namespace's range: the container shares the host's here.
        self.write_policy("userNamespace: {action: off}")
        cid = self.start_sleeper(self.b)
        for flags, needle in ((["-u", "4294967296"], 'exec --user "4294967296"'),
                              (["-u", "1000:4294967296"], 'exec --user "1000:4294967296"'),
                              (["--user=4294967295"], 'exec --user "4294967295"'),
                              (["-u", "-1"], 'exec --user "-1"'),
                              (["-g", "4294967296"], 'exec --additional-gids "4294967296"'),
                              (["--additional-gids=-4294967296"], 'exec --additional-gids "-4294967296"')):
            p = self.runguard(["exec"] + flags + [cid, "id"], log=self.b.log)
            self.assertRuncError(p, self.b, needle, "0..4294967294")
        st = self.exec_status(cid, ["-u", "2147483647:2147483647", "-g", "2147483646"])
        self.assertEqual(st["Uid"].split(), ["2147483647"] * 4)
        self.assertEqual(st["Groups"].split(), ["2147483646"])

    # Regression: runc keeps config.json's gid when -u names only a uid; runguard once wrote
    # "UID:UID" whenever it touched the user (here: removing -g 0).
    def test_exec_user_without_gid_keeps_config_gid(self):
        self.b.process["user"] = {"uid": 1000, "gid": 2000}
        cid = self.start_sleeper(self.b)
        st = self.exec_status(cid, ["-u", "1001", "-g", "0"])
        self.assertEqual((st["Uid"].split()[0], st["Gid"].split()[0]), ("1001", "2000"))
        self.assertNotIn("0", st["Groups"].split())
        st = self.exec_status(cid, ["--user=0"])
        self.assertEqual((st["Uid"].split()[0], st["Gid"].split()[0]), ("65532", "2000"))
        st = self.exec_status(cid, ["-u", "0:0"])
        self.assertEqual((st["Uid"].split()[0], st["Gid"].split()[0]), ("65532", "65532"))

    def test_exec_user_rewrite_argv(self):
        record = self.fake_runtime()
        for flags, want in ((["-u", "0"], ["-u", "65532"]), (["--user=0"], ["--user=65532"]),
                            (["-u", "1000", "-g", "0"], ["-u", "1000"]), (["-u", "0:0"], ["-u", "65532:65532"]),
                            (["-u", "1000:0"], ["-u", "1000:65532"]), (["-u", ""], ["-u", ""])):
            p = self.runguard(["exec"] + flags + ["ctr", "true"])
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(record()[0], ["exec"] + want + ["ctr", "true"], flags)

    # Regression: `exec --no-new-privs=false` explicitly clears NoNewPrivileges in runc.
    def test_exec_no_new_privs_false(self):
        cid = self.start_sleeper(self.b)
        self.assertEqual(self.exec_status(cid, ["--no-new-privs=false"])["NoNewPrivs"], "1")
        self.assertEqual(self.exec_status(cid, ["--no-new-privs=0", "--no-new-privs"])["NoNewPrivs"], "1")
        self.write_policy("noNewPrivileges: {action: deny}")
        p = self.runguard(["exec", "--no-new-privs=False", cid, "true"], log=self.b.log)
        self.assertRuncError(p, self.b, "RG-NNP-001")
        self.assertEqual(self.exec_status(cid, ["--no-new-privs=true"])["NoNewPrivs"], "1")
        self.write_policy("noNewPrivileges: {action: audit}")
        self.assertEqual(self.exec_status(cid, ["--no-new-privs=f"])["NoNewPrivs"], "0")
        self.write_policy("noNewPrivileges: {action: off}")
        self.assertEqual(self.exec_status(cid, ["--no-new-privs=false"])["NoNewPrivs"], "0")

    def fifo(self, name):
        path = os.path.join(self.tmp, name)
        os.mkfifo(path)
        return path

    def feed_fifo(self, path, first, second, proc):
        """Writes `first` into the FIFO and keeps it open while `proc` runs; after that, whenever
        someone opens the FIFO for reading, writes `second` (a swapped document)."""
        first_written = threading.Event()

        def writer():
            with open(path, "w") as f:
                f.write(first)
                f.flush()
                first_written.set()
                while proc.poll() is None:
                    time.sleep(0.05)

        def swapper():
            first_written.wait(TIMEOUT)
            while proc.poll() is None:
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
                except OSError:
                    time.sleep(0.01)
                    continue
                try:
                    with os.fdopen(fd, "w") as f:
                        f.write(second)
                except OSError:
                    pass
        threads = [threading.Thread(target=t, daemon=True) for t in (writer, swapper)]
        for t in threads:
            t.start()
        return threads

    def popen_runguard(self, args, stdin=subprocess.DEVNULL):
        cmd = [RUNGUARD, "--root", self.runc_root, "--log", self.b.log, "--log-format", "json"] + args
        proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env())
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        return proc

    def wait_popen(self, proc):
        """Waits for `proc` without closing its stdin (communicate() would); its output is small."""
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self.fail("runguard hung: " + self.b.log_text())
        with proc.stdout, proc.stderr:
            return proc.stdout.read(), proc.stderr.read()

    # Regression: runc stops reading after the first JSON value; runguard read stdin to EOF and hung.
    def test_update_resources_stdin_held_open(self):
        cid = self.start_sleeper(self.b)
        proc = self.popen_runguard(["update", "-r", "-", cid], stdin=subprocess.PIPE)
        proc.stdin.write('{"pids": {"limit": 600}, "x": "}{"}\n')
        proc.stdin.flush()
        out, err = self.wait_popen(proc)
        proc.stdin.close()
        self.assertEqual(proc.returncode, 0, err + self.b.log_text())
        self.assertEqual(self.pids_max(cid), "600")

    # Regression: a -r FIFO was read to EOF by runguard (hang), then opened again by runc, which
    # could read a second, unchecked document.
    def test_update_resources_fifo_read_once(self):
        cid = self.start_sleeper(self.b)
        fifo = self.fifo("res.fifo")
        proc = self.popen_runguard(["update", "--resources=" + fifo, cid])
        threads = self.feed_fifo(fifo, '{"pids": {"limit": 500}}', '{"pids": {"limit": -1}}', proc)
        out, err = self.wait_popen(proc)
        for t in threads:
            t.join(5)
        self.assertEqual(proc.returncode, 0, err + self.b.log_text())
        self.assertEqual(self.pids_max(cid), "500")

    def test_exec_process_fifo_read_once(self):
        cid = self.start_sleeper(self.b)
        fifo = self.fifo("proc.fifo")
        good = {"user": {"uid": 65532, "gid": 65532}, "args": ["sh", "-c", STATUS_SCRIPT], "env": ["PATH=/bin"],
                "cwd": "/", "noNewPrivileges": True, "capabilities": {"bounding": ["CAP_NET_BIND_SERVICE"]}}
        evil = dict(good, user={"uid": 0, "gid": 0}, noNewPrivileges=False)
        proc = self.popen_runguard(["exec", "-p", fifo, cid])
        threads = self.feed_fifo(fifo, json.dumps(good), json.dumps(evil), proc)
        out, err = self.wait_popen(proc)
        for t in threads:
            t.join(5)
        self.assertEqual(proc.returncode, 0, err + self.b.log_text())
        self.assertEqual(out.splitlines()[0], "65532")
        self.assertEqual(parse_status(out)["NoNewPrivs"], "1")

    # Regression: the hardened document was written back over the caller's --process path,
    # replacing a symlink (or /proc/self/fd/0) with a file.
    def test_exec_process_path_never_written(self):
        cid = self.start_sleeper(self.b)
        real = os.path.join(self.tmp, "real.json")
        link = os.path.join(self.tmp, "link.json")
        doc = json.dumps({"user": {"uid": 0, "gid": 0}, "args": ["sh", "-c", STATUS_SCRIPT], "env": ["PATH=/bin"],
                          "cwd": "/"})
        with open(real, "w") as f:
            f.write(doc)
        os.symlink(real, link)
        p = self.runguard(["exec", "--process", link, cid], log=self.b.log)
        self.assertEqual(p.returncode, 0, p.stderr + self.b.log_text())
        self.assertEqual(p.stdout.splitlines()[0], "65532")
        self.assertTrue(os.path.islink(link), "the --process symlink was replaced")
        with open(real) as f:
            self.assertEqual(f.read(), doc)
        self.assertEqual([n for n in os.listdir(self.tmp) if ".runguard-" in n], [])
        p = self.runguard(["exec", "--process=/proc/self/fd/0", cid], log=self.b.log, input=doc)
        self.assertEqual(p.returncode, 0, p.stderr + self.b.log_text())
        self.assertEqual(p.stdout.splitlines()[0], "65532")

    def test_process_and_resources_passed_as_checked(self):
        record = self.fake_runtime()
        proc_file = os.path.join(self.tmp, "process.json")
        doc = ('{"user": {"uid": 1000, "gid": 1000}, "args": ["true"], "cwd": "/", "noNewPrivileges": true,'
               ' "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]}')
        with open(proc_file, "w") as f:
            f.write(doc + "\n{trailing")
        for flags in (["--process", proc_file], ["--process=" + proc_file], ["-p", proc_file]):
            p = self.runguard(["exec"] + flags + ["ctr"])
            self.assertEqual(p.returncode, 0, p.stderr)
            argv, content = record()
            if len(flags) == 1:
                self.assertRegex(argv[1], r"^--process=/proc/self/fd/\d+$")
            else:
                self.assertEqual(argv[1], flags[0])
                self.assertRegex(argv[2], r"^/proc/self/fd/\d+$")
            self.assertEqual(content, doc)
        p = self.runguard(["update", "-r", proc_file.replace("process", "res"), "ctr"])
        self.assertNotEqual(p.returncode, 0)  # missing file: runguard's error, runc not run
        with open(proc_file.replace("process", "res"), "w") as f:
            f.write('{"pids": {"limit": 700}}')
        p = self.runguard(["update", "-r", proc_file.replace("process", "res"), "ctr"])
        self.assertEqual(p.returncode, 0, p.stderr)
        argv, content = record()
        self.assertEqual((argv[:2], content), (["update", "-r"], '{"pids": {"limit": 700}}'))
        self.assertRegex(argv[2], r"^/proc/self/fd/\d+$")

    # Regression: --pids-limit is a Go int flag (strconv.ParseInt(s, 0, 64)); runguard parsed it
    # in base 10 and ignored trailing garbage; --memory '' (unchanged in runc) was an error; a
    # huge --memory overflowed.
    def test_update_flags_parsed_like_runc(self):
        cid = self.start_sleeper(self.b)
        for value, want in (("0x100", "256"), ("0100", "64"), ("1_000", "1000")):
            p = self.runguard(["update", "--pids-limit", value, cid], log=self.b.log)
            self.assertEqual(p.returncode, 0, p.stderr + self.b.log_text())
            self.assertEqual(self.pids_max(cid), want, value)
        for flags, needle in ((["--pids-limit", "100abc"], 'update --pids-limit "100abc"'),
                              (["--pids-limit=9223372036854775808"], 'update --pids-limit "9223372036854775808"'),
                              (["--memory", "99999999999p"], 'update --memory "99999999999p"'),
                              (["--memory=1.2.3m"], 'update --memory "1.2.3m"')):
            p = self.runguard(["update"] + flags + [cid], log=self.b.log)
            self.assertRuncError(p, self.b, needle)
        self.assertEqual(self.pids_max(cid), "1000")
        p = self.runguard(["update", "--memory", "", "--pids-limit", "300", cid], log=self.b.log)
        self.assertEqual(p.returncode, 0, p.stderr + self.b.log_text())
        self.assertEqual((self.memory_limit(cid), self.pids_max(cid)), (512 << 20, "300"))

    # memory+swap beyond the memory maximum (or -1, unlimited) would be swap no limit bounds.
    def test_update_memory_swap_clamped(self):
        record = self.fake_runtime()
        p = self.runguard(["update", "--memory-swap", "-1", "ctr"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(record()[0], ["update", "--memory-swap", str(8 << 30), "ctr"])
        p = self.runguard(["update", "--memory", "1g", "--memory-swap=100g", "ctr"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(record()[0], ["update", "--memory", str(1 << 30), "--memory-swap=%d" % (8 << 30), "ctr"])

    # runc >= 1.2 update flags take values and are not runguard's to change; their values must
    # not be taken for the container id (which selects the override below).
    def test_update_cpu_idle_burst_pass_through(self):
        record = self.fake_runtime(extra="overrides:\n  - match: { namespace: payments }\n"
                                         "    controls: { resources: { memory: { max: 1Gi } } }\n")
        os.makedirs(self.container_state_dir("ctr"))
        with open(os.path.join(self.container_state_dir("ctr"), "decision.json"), "w") as f:
            json.dump({"context": {"id": "ctr", "namespace": "payments"}}, f)
        args = ["update", "--cpu-idle", "1", "--cpu-burst=100", "--memory", "100g", "--cpu-burst", "5", "ctr"]
        p = self.runguard(args)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(record()[0], ["update", "--cpu-idle", "1", "--cpu-burst=100", "--memory", "1073741824",
                                       "--cpu-burst", "5", "ctr"])


if __name__ == "__main__":
    unittest.main()
