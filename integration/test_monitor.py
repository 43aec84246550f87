"""The runtime monitor under the real runc: seccomp user notification to runguard-monitor.

The monitor control sends the watched syscalls of each container to its own runguard-monitor,
which evaluates Falco-style rules and answers CONTINUE or EPERM. Asserted: events for the default
rules (and none for an ordinary `sh -c` entrypoint), a block rule failing the exec with EPERM
inside while the container keeps running, `runc exec` attributed, the monitor exiting with the
container, a killed monitor failing monitored syscalls with ENOSYS (fail closed), no lost
decisions under load.
"""

import json
import os
import signal
import subprocess
import time
import unittest

from harness import RunguardTestCase

BLOCK_RULES = """
- rule: No id in containers
  desc: test rule
  condition: evt.type = execve and proc.name = id
  output: id run by %proc.pname
  priority: WARNING
  runguard.action: block
"""


class MonitorTest(RunguardTestCase):

    def setUp(self):
        super().setUp()
        self.events = os.path.join(self.tmp, "events.jsonl")  # the harness's events.path

    def policy(self, monitor="monitor: {action: enforce, block: true}"):
        self.write_policy(monitor)

    def read_events(self, wait_for=0, timeout=5):
        """The monitors' events (the runtime's decision events share the file)."""
        deadline = time.monotonic() + timeout
        while True:
            out = []
            if os.path.exists(self.events):
                with open(self.events) as f:
                    out = [json.loads(l) for l in f if l.strip()]
                out = [e for e in out if e.get("runguard.kind") != "decision"]
            if len(out) >= wait_for or time.monotonic() > deadline:
                return out
            time.sleep(0.05)

    def monitor_pid(self, cid):
        with open(os.path.join(self.state_dir, cid, "resources.json")) as f:
            return json.load(f)["monitorPid"]

    def test_interactive_shell_alerts_and_entrypoint_does_not(self):
        self.policy()
        b = self.bundle()
        b.set_args("sh", "-c", "sh -i </dev/null; echo done")
        b.write()
        cid, p = self.run_container(b)
        self.assertEqual(p.returncode, 0, p.stderr + b.log_text())
        self.assertIn("done", p.stdout)
        events = self.read_events(wait_for=1)
        rules = [e["rule"] for e in events]
        self.assertIn("Interactive shell in container", rules, events)
        e = next(e for e in events if e["rule"] == "Interactive shell in container")
        self.assertEqual(e["runguard.container"]["id"], cid)
        self.assertEqual(e["source"], "syscall")
        self.assertEqual(len(rules), 1, "the sh -c entrypoint must not raise anything: %s" % rules)
        cfg = b.read_config()["linux"]["seccomp"]
        self.assertEqual(cfg["listenerPath"], os.path.join(self.state_dir, cid, "monitor.sock"))

    def test_block_rule_fails_the_call_and_the_container_keeps_running(self):
        rules = os.path.join(self.tmp, "block.yaml")
        with open(rules, "w") as f:
            f.write(BLOCK_RULES)
        self.policy("monitor: {action: enforce, block: true, rules: [%s]}" % rules)
        b = self.bundle()
        b.set_args("sh", "-c", "/bin/id 2>&1; echo rc=$?; echo alive")
        b.write()
        cid, p = self.run_container(b)
        self.assertIn("alive", p.stdout, p.stderr + b.log_text())
        self.assertIn("Operation not permitted", p.stdout)
        self.assertNotIn("rc=0", p.stdout)
        self.assertNotIn("uid=", p.stdout)
        events = self.read_events(wait_for=1)
        self.assertEqual([(e["rule"], e["runguard.action"]) for e in events], [("No id in containers", "block")])
        # Audit: the same rule only alerts, and id runs.
        os.remove(self.events)
        self.policy("monitor: {action: audit, rules: [%s]}" % rules)
        b.spec = json.loads(json.dumps(b.spec))
        b.write()
        cid, p = self.run_container(b)
        self.assertIn("uid=", p.stdout, p.stderr + b.log_text())
        self.assertEqual([e["runguard.action"] for e in self.read_events(wait_for=1)], ["would-block"])

    def test_exec_is_attributed_and_monitor_exits_with_the_container(self):
        self.policy()
        b = self.bundle()
        cid = self.start_sleeper(b)
        pid = self.monitor_pid(cid)
        self.assertTrue(os.path.exists("/proc/%d" % pid))
        p = self.runguard(["exec", cid, "sh", "-c", "sh -i </dev/null; echo ok"], log=b.log)
        self.assertEqual(p.returncode, 0, p.stderr + b.log_text())
        events = self.read_events(wait_for=1)
        self.assertTrue(any(e["rule"] == "Interactive shell in container" for e in events), events)
        self.runc(["kill", cid, "KILL"])
        deadline = time.monotonic() + 10
        while os.path.exists("/proc/%d" % pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(os.path.exists("/proc/%d" % pid), "the monitor outlived its container")
        self.assertFalse(os.path.exists(os.path.join(self.state_dir, cid, "monitor.sock")))

    def test_killed_monitor_fails_closed(self):
        self.policy()
        b = self.bundle()
        cid = self.start_sleeper(b)
        os.kill(self.monitor_pid(cid), signal.SIGKILL)
        time.sleep(0.2)
        # runc exec needs execve, which now fails: nothing runs unmonitored.
        p = self.runguard(["exec", cid, "true"], log=b.log)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(self.state(cid)["status"], "running")

    def test_no_decision_lost_under_load(self):
        self.policy()
        b = self.bundle()
        n = 2000
        b.set_args("sh", "-c", "i=0; while [ $i -lt %d ]; do /bin/true; i=$((i+1)); done; echo finished" % n)
        b.write()
        cid, p = self.run_container(b)
        self.assertIn("finished", p.stdout, p.stderr + b.log_text())
        # The monitor logs its counters when it exits with the container.
        log = os.path.join(self.state_dir, cid, "monitor.log")
        deadline = time.monotonic() + 10
        text = ""
        while time.monotonic() < deadline:
            text = open(log).read() if os.path.exists(log) else ""
            if "notifications" in text:
                break
            time.sleep(0.1)
        summary = [l for l in text.splitlines() if "summary:" in l][-1]
        counts = dict(kv.split("=") for kv in summary.split("summary:")[1].split())
        # Every /bin/true exec was notified and answered: none lost, none left unanswered.
        self.assertGreaterEqual(int(counts["notifications"]), n)
        self.assertEqual(int(counts["continues"]) + int(counts["blocks"]) + int(counts["gone"]),
                         int(counts["notifications"]), summary)


if __name__ == "__main__":
    unittest.main()
