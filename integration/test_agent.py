"""runguardd, the node agent, against the real runtime: gRPC API, event stream, reload, metrics,
runguardctl, loss rules when the agent dies, hostile clients on both sockets, and the containerd
image-digest lookup against a real containerd.

Every test starts its own runguardd (by pid; stopped by that pid) with sockets, events file and
state under the test's temporary directory; metrics on a free loopback port. Nothing here talks to
the host's /run/runguard or /run/containerd.
"""

import hashlib
import json
import os
import signal
import socket
import struct
import subprocess
import threading
import time
import unittest
import urllib.request

import agent_client
from agent_client import AgentClient, encode, read_frame
from harness import RUNGUARD_BIN, TIMEOUT, RunguardTestCase, agent_settings

RUNGUARDD = os.path.join(RUNGUARD_BIN, "runguardd")
RUNGUARDCTL = os.path.join(RUNGUARD_BIN, "runguardctl")

ID_RULE = """
- rule: Id run in container
  desc: test rule, an alert on every exec of id
  condition: evt.type = execve and proc.name = id
  output: id run by %proc.pname
  priority: NOTICE
"""


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Agent:
    """One runguardd process started by a test, stopped by its pid."""

    def __init__(self, test, config):
        self.test = test
        self.config = config
        self.proc = None
        self.log = os.path.join(test.tmp, "runguardd.log")

    def start(self, timeout=15):
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([RUNGUARDD, "--config", self.config], stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=logf, env=self.test.env())
        logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.test.fail("runguardd exited with %d:\n%s" % (self.proc.returncode, self.log_text()))
            if os.path.exists(self.test.agent_socket) and os.path.exists(self.test.internal_socket):
                try:
                    reply = agent_client.request(self.test.internal_socket, {"v": 1, "op": "ping"}, timeout=2)
                    if reply and reply.get("ok"):
                        return self
                except OSError:
                    pass
            time.sleep(0.05)
        self.test.fail("runguardd did not become ready in %ds:\n%s" % (timeout, self.log_text()))

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


class AgentTestBase(RunguardTestCase):

    def setUp(self):
        super().setUp()
        if not os.access(RUNGUARDD, os.X_OK):
            self.skipTest("runguardd not built at " + RUNGUARDD)
        reason = agent_client.unavailable_reason()
        if reason:
            self.skipTest(reason)
        self.agent_socket = os.path.join(self.tmp, "agent.sock")
        self.internal_socket = os.path.join(self.tmp, "agent.internal.sock")
        self.events = os.path.join(self.tmp, "events.jsonl")
        self.port = free_port()
        self.rules = os.path.join(self.tmp, "id-rule.yaml")
        with open(self.rules, "w") as f:
            f.write(ID_RULE)
        self.write_agent_policy()
        self.agent = None
        self.client = None

    def write_agent_policy(self, controls=None, containerd=None):
        if controls is None:
            controls = "monitor: {action: enforce, rules: [%s]}" % self.rules
        return self.write_policy(controls, extra=agent_settings(
            self.tmp, metrics="127.0.0.1:%d" % self.port, containerd=containerd))

    def start_agent(self):
        self.agent = Agent(self, self.policy_path).start()
        self.addCleanup(self.agent.kill, signal.SIGTERM)
        self.client = AgentClient(self.agent_socket)
        self.addCleanup(self.client.close)
        return self.agent

    def ctl(self, *args, agent=True):
        cmd = [RUNGUARDCTL] + list(args)
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=self.env(),
                              timeout=TIMEOUT)

    def read_events_file(self):
        if not os.path.exists(self.events):
            return []
        with open(self.events) as f:
            return [json.loads(l) for l in f if l.strip()]

    def wait_for(self, predicate, timeout=10, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        self.fail("timed out waiting for " + what)

    def run_id_container(self):
        """A foreground container whose process runs `id` once (one monitor event)."""
        b = self.bundle("b-%d" % time.monotonic_ns())
        b.set_args("sh", "-c", "/bin/id >/dev/null; echo ran")
        b.write()
        cid, p = self.run_container(b, keep=False)
        self.assertEqual(p.returncode, 0, p.stderr + b.log_text())
        return cid


class AgentApiTest(AgentTestBase):

    def test_status_list_get_and_explain_of_a_running_container(self):
        self.start_agent()
        cid = self.start_sleeper(self.bundle())
        record, text = self.decision(cid)

        st = self.client.Status()
        self.assertEqual(st.policy_source, self.policy_path)
        with open(self.policy_path, "rb") as f:
            self.assertEqual(st.policy_digest, "sha256:" + hashlib.sha256(f.read()).hexdigest())
        self.assertGreaterEqual(st.containers_known, 1)
        self.assertGreaterEqual(st.containers_monitored, 1)
        self.assertEqual(st.ring_capacity, 10000)

        ids = [c.id for c in self.client.ListContainers().containers]
        self.assertIn(cid, ids)
        c = self.client.GetContainer(id=cid).container
        self.assertEqual(c.state, "created")
        self.assertTrue(c.allowed)
        self.assertTrue(c.monitored)
        self.assertEqual(json.loads(c.record_json), record)
        controls = {f.id for f in c.findings}
        self.assertEqual(controls, {f["id"] for f in record["decision"]["findings"]})
        self.assertTrue(any(m.control == "capabilities" for m in c.mutations), c.mutations)

        with self.assertRaises(agent_client.rpc_error()) as err:
            self.client.GetContainer(id="no-such-container")
        self.assertEqual(err.exception.code(), agent_client.status_code().NOT_FOUND)

        p = self.ctl("status", "--format", "json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["source"], "agent")
        p = self.ctl("ps")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(cid, p.stdout)
        p = self.ctl("explain", cid)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("RG-CAPS-001", p.stdout)
        p = self.ctl("explain", cid, "--format", "json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["source"], "agent")

        # Deleted: the record leaves the live list and a lifecycle event says so.
        self.assertEqual(self.runguard(["delete", "-f", cid]).returncode, 0)
        self.wait_for(lambda: cid not in [c.id for c in self.client.ListContainers().containers],
                      what="the deleted container to leave ListContainers")
        deleted = [c for c in self.client.ListContainers(include_deleted=True).containers if c.id == cid]
        self.assertEqual([c.state for c in deleted], ["deleted"])

    def test_watch_events_while_containers_run(self):
        self.start_agent()
        got = []
        stream = self.client.watch()  # follow, every container

        def reader():
            try:
                for ev in stream:
                    got.append(ev)
            except agent_client.rpc_error():
                pass

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        cid = self.run_id_container()
        self.wait_for(lambda: any(e.kind == "monitor" and e.container_id == cid for e in got), what="a monitor event")
        self.wait_for(lambda: any(e.kind == "decision" and e.container_id == cid for e in got), what="a decision event")
        stream.cancel()
        t.join(5)
        self.assertFalse(t.is_alive(), "a cancelled WatchEvents stream must end")

        mon = next(e for e in got if e.kind == "monitor" and e.container_id == cid)
        self.assertEqual(mon.rule, "Id run in container")
        self.assertEqual(mon.action, "alert")
        line = json.loads(mon.json)
        self.assertIn(line, self.read_events_file(), "the streamed event must be the line in the events file")
        dec = next(e for e in got if e.kind == "decision" and e.container_id == cid)
        self.assertEqual(dec.action, "allowed")
        self.assertEqual(dec.priority, "Notice")

        # Replay with filters, no follow.
        replay = list(self.client.watch(deadline=10, last=10, no_follow=True, container_id=cid, rule="Id run in container"))
        self.assertEqual([e.rule for e in replay], ["Id run in container"])
        self.assertEqual(list(self.client.watch(deadline=10, last=10, no_follow=True, container_id="nobody")), [])
        warn = list(self.client.watch(deadline=10, last=100, no_follow=True, min_priority="Warning"))
        self.assertFalse(any(e.container_id == cid for e in warn), "Notice events are below Warning")

        p = self.ctl("events", "--container", cid, "--format", "json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(any(json.loads(l).get("rule") == "Id run in container" for l in p.stdout.splitlines()), p.stdout)

    def test_denied_container_is_explained(self):
        self.start_agent()
        b = self.bundle()
        b.set_args("true")
        b.spec["linux"]["namespaces"] = [n for n in b.spec["linux"]["namespaces"] if n["type"] != "network"]
        b.write()
        cid = self.new_id()
        p = self.runguard(["run", "--bundle", b.path, cid], log=b.log)
        self.assertNotEqual(p.returncode, 0, "a container in the host's network namespace must be denied")
        ev = self.wait_for(lambda: [e for e in self.read_events_file() if e.get("runguard.kind") == "decision"
                                    and e["runguard.container"]["id"] == cid], what="the denial event in the file")
        self.assertEqual(ev[0]["runguard.action"], "denied")
        self.assertEqual(ev[0]["priority"], "Warning")
        c = self.wait_for(lambda: self._get(cid), what="the denied container's record")
        self.assertEqual(c.state, "denied")
        self.assertFalse(c.allowed)
        self.assertTrue(any(f.action == "deny" for f in c.findings))
        p = self.ctl("explain", cid)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("denied", p.stdout.lower())

    def _get(self, cid):
        try:
            return self.client.GetContainer(id=cid).container
        except agent_client.rpc_error():
            return None

    def test_reload_policy_good_and_bad(self):
        self.start_agent()
        before = self.client.Status()
        with open(self.policy_path) as f:
            original = f.read()
        self.assertIn("\ncontrols:\n", original)
        bad = original.replace("\ncontrols:\n", "\ncontrols:\n  capabilitiez: {action: enforce}\n", 1)
        with self.assertRaises(agent_client.rpc_error()) as err:
            self.client.ReloadPolicy(policy_yaml=bad)
        self.assertEqual(err.exception.code(), agent_client.status_code().INVALID_ARGUMENT)
        self.assertIn("capabilitiez", err.exception.details())
        with open(self.policy_path) as f:
            self.assertEqual(f.read(), original, "a rejected policy must leave the file as it was")
        self.assertEqual(self.client.Status().policy_digest, before.policy_digest)
        self.assertEqual(os.listdir(self.tmp).count("policy.yaml"), 1)
        self.assertFalse([n for n in os.listdir(self.tmp) if n.startswith("policy.yaml.") or n.startswith(".policy")],
                         "no temporary policy file may be left behind")

        new = original.replace("monitor: {action: enforce", "monitor: {action: off")
        self.assertNotEqual(new, original)
        r = self.client.ReloadPolicy(policy_yaml=new)
        self.assertTrue(r.changed)
        self.assertEqual(r.policy_digest, "sha256:" + hashlib.sha256(new.encode()).hexdigest())
        self.assertEqual(self.client.Status().policy_digest, r.policy_digest)
        with open(self.policy_path) as f:
            self.assertEqual(f.read(), new)
        # The runtime uses it from the next create: no monitor for this one.
        b = self.bundle()
        cid = self.start_sleeper(b)
        self.assertNotIn("listenerPath", json.dumps(b.read_config().get("linux", {}).get("seccomp", {})))
        self.assertFalse(os.path.exists(os.path.join(self.state_dir, cid, "monitor.sock")))

        # SIGHUP re-reads the file; a broken file keeps the old policy.
        with open(self.policy_path, "a") as f:
            f.write("mode: [\n")
        self.agent.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        self.assertTrue(self.agent.alive(), self.agent.log_text())
        self.assertEqual(self.client.Status().policy_digest, r.policy_digest)

    def test_metrics(self):
        self.start_agent()
        self.run_id_container()
        b = self.bundle("denied")
        b.add_env("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        b.write()
        p = self.runguard(["run", "--bundle", b.path, self.new_id()], log=b.log)
        self.assertNotEqual(p.returncode, 0, "a secret in the environment is denied by default")

        def scrape():
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port, timeout=5) as r:
                self.assertEqual(r.status, 200)
                self.assertIn("text/plain", r.headers["Content-Type"])
                return r.read().decode()

        text = self.wait_for(lambda: (lambda t: t if 'runguard_monitor_events_total{action="alert",rule="Id run in container"}' in t
                                      and "runguard_containers_denied_total{" in t else None)(scrape()),
                             what="metrics for the events and the denial")
        self.assertIn("runguard_agent_up 1", text)
        self.assertRegex(text, r'runguard_containers_created_total\{engine="[^"]*"\} [1-9]')
        self.assertRegex(text, r'runguard_containers_denied_total\{control="RG-ENV-001"\} 1')
        self.assertIn("# TYPE runguard_monitor_notify_round_trip_seconds histogram", text)
        self.assertNotIn("wJalrXUtnFEMI", text, "a secret value must never reach the metrics")
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port, timeout=5):
            pass
        with self.assertRaises(urllib.error.HTTPError) as err:
            urllib.request.urlopen("http://127.0.0.1:%d/nope" % self.port, timeout=5)
        self.assertEqual(err.exception.code, 404)
        for path in (self.events, self.agent.log):
            with open(path, errors="replace") as f:
                self.assertNotIn("wJalrXUtnFEMI", f.read(), path)

    def test_sockets_are_root_only(self):
        self.start_agent()
        for path in (self.agent_socket, self.internal_socket):
            st = os.stat(path)
            self.assertEqual(st.st_mode & 0o777, 0o600, path)
            self.assertEqual(st.st_uid, 0, path)

    def test_second_agent_on_the_same_sockets_refuses_to_start(self):
        self.start_agent()
        p = subprocess.run([RUNGUARDD, "--config", self.policy_path], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, env=self.env(), timeout=TIMEOUT)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("already", p.stderr)
        self.assertEqual(self.client.Status().version != "", True, "the first agent keeps serving")


class AgentResilienceTest(AgentTestBase):

    def test_agent_killed_mid_run_loses_no_event_and_resumes(self):
        self.start_agent()
        first = self.run_id_container()
        self.wait_for(lambda: self._seen(first), what="the first container's monitor event at the agent")
        # A long-running container whose monitor stays connected across the agent's restart.
        b = self.bundle("looper")
        b.set_args("sh", "-c", "while true; do /bin/id >/dev/null; sleep 0.3; done")
        b.write()
        looper = self.new_id()
        p = self.runguard(["create", "--bundle", b.path, looper], log=b.log, detached=True)
        self.assertEqual(p.returncode, 0, b.log_text())
        self.assertEqual(self.runguard(["start", looper], log=b.log).returncode, 0)

        self.agent.kill(signal.SIGKILL)
        down = []
        for _ in range(3):
            t0 = time.monotonic()
            down.append(self.run_id_container())
            self.assertLess(time.monotonic() - t0, 10, "a dead agent must not slow creates down to a crawl")
        file_events = self.read_events_file()
        for cid in [first] + down:
            self.assertTrue(any(e.get("runguard.container", {}).get("id") == cid and e.get("rule") == "Id run in container"
                                for e in file_events), "event of %s missing from the file" % cid)
            self.assertTrue(any(e.get("runguard.kind") == "decision" and e["runguard.container"]["id"] == cid
                                for e in file_events), "decision of %s missing from the file" % cid)

        # Restarted: the ring is refilled from the file, and the running monitor reconnects.
        self.agent = Agent(self, self.policy_path).start()
        self.addCleanup(self.agent.kill, signal.SIGTERM)
        self.client = AgentClient(self.agent_socket)  # a new connection to the new agent
        self.addCleanup(self.client.close)
        replay = list(self.client.watch(deadline=10, last=1000, no_follow=True))
        for cid in [first] + down:
            self.assertTrue(any(e.container_id == cid and e.kind == "monitor" for e in replay), "replay lacks " + cid)
        start_seq = max(e.seq for e in replay)
        self.wait_for(lambda: any(e.container_id == looper and e.seq > start_seq
                                  for e in self.client.watch(deadline=10, last=1000, no_follow=True)),
                      timeout=15, what="events from the running container's monitor after the restart")
        self.assertIn(looper, [c.id for c in self.client.ListContainers().containers])
        self.runguard(["delete", "-f", looper])

    def _seen(self, cid):
        return any(e.container_id == cid for e in self.client.watch(deadline=10, last=1000, no_follow=True))

    def test_runguardctl_falls_back_to_disk_without_agent(self):
        cid = self.start_sleeper(self.bundle())
        self.run_id_container()
        p = self.ctl("ps")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(cid, p.stdout)
        self.assertIn("not running", p.stdout + p.stderr)
        p = self.ctl("ps", "--format", "json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["source"], "disk")
        p = self.ctl("explain", cid)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("RG-CAPS-001", p.stdout)
        p = self.ctl("events", "--rule", "Id run in container", "--format", "json")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
        self.assertTrue(lines and all(l["rule"] == "Id run in container" for l in lines), p.stdout)
        p = self.ctl("status")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("not running", p.stdout + p.stderr)
        p = self.ctl("explain", "no-such-container")
        self.assertEqual(p.returncode, 1)


class AgentHostileClientTest(AgentTestBase):

    def ping(self):
        reply = agent_client.request(self.internal_socket, {"v": 1, "op": "ping"}, timeout=5)
        self.assertTrue(reply and reply["ok"], reply)

    def test_bad_frames_on_the_internal_socket(self):
        self.start_agent()
        # A slow client holding half a frame, opened first, kept open throughout.
        slow = agent_client.connect(self.internal_socket)
        slow.sendall(struct.pack(">I", 100) + b'{"v":1,')
        cases = [
            b"garbage that is not a frame at all",
            struct.pack(">I", 0),
            struct.pack(">I", 0xFFFFFFFF) + b"x" * 100,
            struct.pack(">I", (1 << 20) + 1),
            struct.pack(">I", 5) + b"{nope",
            struct.pack(">I", 2) + b"[]",
            struct.pack(">I", 50) + b'{"v":1,"op":"ping"',  # truncated, then the peer closes
        ]
        for data in cases:
            with agent_client.connect(self.internal_socket) as s:
                s.sendall(data)
            self.ping()
        # Another protocol version: an error naming the versions, then the connection is closed.
        with agent_client.connect(self.internal_socket) as s:
            s.sendall(encode({"v": 2, "op": "ping"}))
            reply = read_frame(s)
            self.assertFalse(reply["ok"])
            self.assertEqual(reply["versions"], [1])
            self.assertIsNone(read_frame(s))
        reply = agent_client.request(self.internal_socket, {"v": 1, "op": "no-such-op"})
        self.assertFalse(reply["ok"])
        self.assertIn("unknown op", reply["error"])
        # Many connections at once.
        many = [agent_client.connect(self.internal_socket) for _ in range(300)]
        for s in many:
            s.close()
        self.ping()
        self.assertTrue(self.client.Status().version)
        slow.close()
        self.assertTrue(self.agent.alive(), self.agent.log_text())

    def test_garbage_on_the_grpc_socket(self):
        self.start_agent()
        for data in (b"GET / HTTP/1.1\r\n\r\n", b"\x00" * 1000, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\xff" * 64):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(self.agent_socket)
            s.sendall(data)
            s.close()
        half_open = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        half_open.connect(self.agent_socket)
        self.addCleanup(half_open.close)
        self.assertTrue(self.client.Status().version)
        self.assertTrue(self.agent.alive())


class AgentContainerdTest(AgentTestBase):
    """The digest the agent returns for an image equals `ctr images ls`'s; creates through
    containerd record it, through the agent and (agent down) through the one-shot helper."""

    NS = "rgagent"

    def setUp(self):
        super().setUp()
        from containerd import IMAGE_REF, Containerd, containerd_skip_reason
        reason = containerd_skip_reason()
        if reason:
            self.skipTest(reason)
        self.image_ref = IMAGE_REF
        self.ctrd = Containerd(env={"RUNGUARD_CONFIG": self.policy_path}, namespaces=[self.NS])
        self.addCleanup(self._stop_containerd)
        self.ctrd.start()
        self.ctrd.import_image(self.NS)
        self.write_agent_policy(controls="monitor: {action: off}", containerd=self.ctrd.address)

    def _stop_containerd(self):
        problems = self.ctrd.stop()
        self.ctrd.remove_dir()
        if problems:
            raise AssertionError("containerd teardown: " + "; ".join(problems))

    def ctr_digest(self):
        p = self.ctrd.ctr(["images", "ls"], ns=self.NS, check=True)
        for line in p.stdout.splitlines()[1:]:
            cols = line.split()
            if cols and cols[0] == self.image_ref:
                return next(c for c in cols if c.startswith("sha256:"))
        self.fail("ctr images ls does not list %s:\n%s" % (self.image_ref, p.stdout))

    def run_ctr(self, cid):
        self.addCleanup(self.ctrd.remove_container, self.NS, cid)
        p = self.ctrd.ctr(["run", "--rm"] + self.ctrd.run_flags() + [self.image_ref, cid, "true"], ns=self.NS)
        self.assertEqual(p.returncode, 0, p.stderr + self.ctrd.log_tail(15))
        events = [e for e in self.read_events_file() if e.get("runguard.kind") == "decision"
                  and e["runguard.container"]["id"] == cid]
        self.assertTrue(events, "no decision event for " + cid)
        return events[-1]

    def test_digest_lookup_matches_ctr(self):
        self.start_agent()
        want = self.ctr_digest()
        r1 = agent_client.request(self.internal_socket, {"v": 1, "op": "image.digest", "namespace": self.NS,
                                                         "container": "", "image": self.image_ref})
        self.assertTrue(r1["ok"], r1)
        self.assertEqual(r1["digest"], want)
        self.assertFalse(r1["cached"])
        r2 = agent_client.request(self.internal_socket, {"v": 1, "op": "image.digest", "namespace": self.NS,
                                                         "container": "", "image": self.image_ref})
        self.assertTrue(r2["cached"])
        r3 = agent_client.request(self.internal_socket, {"v": 1, "op": "image.digest", "namespace": self.NS,
                                                         "container": "", "image": "docker.io/library/nope:1"})
        self.assertFalse(r3["ok"])
        self.assertEqual(r3["code"], "not_found")

        # Through containerd: the agent answers the runtime's lookup.
        ev = self.run_ctr("dig-agent-%d" % os.getpid())
        self.assertEqual(ev["runguard.container"]["imageDigest"], want)
        # Agent down: the one-shot helper answers.
        self.agent.kill(signal.SIGKILL)
        ev = self.run_ctr("dig-helper-%d" % os.getpid())
        self.assertEqual(ev["runguard.container"]["imageDigest"], want)

        p = subprocess.run([RUNGUARDCTL, "helper", "image-digest", "--containerd", self.ctrd.address, "--namespace",
                            self.NS, "--container", "", "--image", self.image_ref], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr + p.stdout)
        self.assertEqual(json.loads(p.stdout)["digest"], want)


if __name__ == "__main__":
    unittest.main()
