// The agent core: internal ops reaching the store and ring, startup from disk (state dirs,
// monitors, the events file's tail), reconcile, and refusing to start.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "agent_fixture.h"
#include "runguard/nsutil/fs.h"
#include "unix_socket.h"

namespace {

using namespace runguard::agent;
using namespace rgagent_test;
using namespace std::chrono_literals;
using runguard::Json;
namespace frame = runguard::frame;

class AgentTest : public AgentFixture {
 protected:
  // Polls until `pred` holds (frames are handled on the loop thread).
  template <typename P>
  bool eventually(P pred, std::chrono::milliseconds within = 2s) {
    auto end = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < end) {
      if (pred()) return true;
      std::this_thread::sleep_for(5ms);
    }
    return pred();
  }

  // <stateDir>/<id>/decision.json (+ resources.json naming a monitor pid).
  void write_state(const std::string& id, int monitor_pid = 0, const std::string& ns = "default") {
    write_text(state_dir() + "/" + id + "/decision.json", runguard::dump_json(decision_record(id, true, ns), 2) + "\n");
    Json res = {{"runtimeRoot", ""}, {"bundle", "/b/" + id}};
    if (monitor_pid > 0) res["monitorPid"] = monitor_pid;
    write_text(state_dir() + "/" + id + "/resources.json", runguard::dump_json(res));
  }
  // A fake /proc/<pid>/cmdline under the test's proc root.
  void fake_process(int pid, const std::vector<std::string>& argv) {
    std::string cmdline;
    for (const auto& a : argv) cmdline += a + '\0';
    write_text(dir / ("proc/" + std::to_string(pid) + "/cmdline"), cmdline);
  }
};

TEST_F(AgentTest, PingAndUnknownOp) {
  start_agent();
  FrameClient c(internal_socket());
  ASSERT_TRUE(c.send(frame::message("ping")));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["ok"], true);
  EXPECT_EQ((*r)["agent"], RUNGUARD_VERSION);
  EXPECT_EQ((*r)["pid"], static_cast<int64_t>(::getpid()));
  ASSERT_TRUE(c.send(frame::message("frobnicate")));
  r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["ok"], false);
  EXPECT_NE((*r)["error"].get<std::string>().find("unknown op \"frobnicate\""), std::string::npos);
  EXPECT_EQ(agent->status().counters.at("frames_received"), 2u);
}

TEST_F(AgentTest, DecisionAndEventFramesReachStoreAndRing) {
  start_agent();
  write_state("web-1");  // the runtime writes decision.json before it sends the frame
  FrameClient c(internal_socket());
  ASSERT_TRUE(c.send(frame::message("decision", {{"record", decision_record("web-1", true)}, {"event", decision_event("web-1", true)}})));
  ASSERT_TRUE(c.send(frame::message("decision", {{"record", decision_record("bad-1", false)}, {"event", decision_event("bad-1", false)}})));
  ASSERT_TRUE(c.send(frame::message("event", {{"event", monitor_event("web-1", "Terminal shell in container", "Notice")}})));
  ASSERT_TRUE(c.send(frame::message("event", {{"event", monitor_event("web-1", "Ptrace", "Critical", "block")}})));
  ASSERT_TRUE(eventually([&] { return agent->ring().size() == 4; }));
  auto web = agent->store().get("web-1");
  ASSERT_TRUE(web);
  EXPECT_EQ(web->state, "created");
  EXPECT_EQ(web->monitor_events, 2u);
  EXPECT_FALSE(web->monitored);
  auto bad = agent->store().get("bad-1");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->state, "denied");
  auto st = agent->status();
  EXPECT_EQ(st.counters.at("containers_created"), 1u);
  EXPECT_EQ(st.counters.at("containers_denied"), 1u);
  EXPECT_EQ(st.counters.at("events_received"), 2u);
  EXPECT_EQ(st.containers.known(), 2u);

  std::string m = agent->metrics().render();
  EXPECT_NE(m.find("runguard_containers_created_total{engine=\"containerd-cri\"} 1"), std::string::npos) << m;
  EXPECT_NE(m.find("runguard_containers_denied_total{control=\"RG-PRIV-001\"} 1"), std::string::npos);
  EXPECT_NE(m.find("runguard_containers_denied_total{control=\"RG-HOSTNS-001\"} 1"), std::string::npos);
  EXPECT_NE(m.find("runguard_monitor_events_total{action=\"block\",rule=\"Ptrace\"} 1"), std::string::npos) << m;
  EXPECT_NE(m.find("runguard_internal_frames_total{op=\"decision\"} 2"), std::string::npos);

  auto events = agent->ring().replay({}, 10);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0]->kind, EventKind::kDecision);
  EXPECT_EQ(events[3]->rule, "Ptrace");
  EXPECT_EQ(events[3]->priority, "Critical");
}

TEST_F(AgentTest, InvalidNotificationsAreIgnoredNotFatal) {
  start_agent();
  FrameClient c(internal_socket());
  ASSERT_TRUE(c.send(frame::message("decision", {{"record", 5}})));
  ASSERT_TRUE(c.send(frame::message("decision", {{"record", decision_record("../etc", true)}})));
  ASSERT_TRUE(c.send(frame::message("event", {{"event", "nope"}})));
  ASSERT_TRUE(c.send(frame::message("monitor.stats", {{"counts", {1, -2}}, {"sum", 0.1}})));
  ASSERT_TRUE(c.send(frame::message("monitor.stats", {{"counts", {1, 2}}, {"sum", 0.1}})));  // wrong bucket count
  ASSERT_TRUE(c.send(frame::message("deleted", {{"container", "/"}})));
  ASSERT_TRUE(c.send(frame::message("ping")));
  ASSERT_TRUE(c.read());  // still served
  EXPECT_EQ(agent->status().counters.at("invalid_notifications"), 6u);
  EXPECT_EQ(agent->store().counts().known(), 0u);
}

TEST_F(AgentTest, MonitorStatsMergeIntoTheHistogram) {
  start_agent();
  std::vector<uint64_t> counts(notify_round_trip_buckets().size() + 1, 0);
  counts[0] = 3;
  counts.back() = 1;
  FrameClient c(internal_socket());
  ASSERT_TRUE(c.send(frame::message("monitor.stats", {{"container", "x"}, {"counts", counts}, {"sum", 0.5}})));
  ASSERT_TRUE(c.send(frame::message("ping")));
  ASSERT_TRUE(c.read());
  std::string m = agent->metrics().render();
  EXPECT_NE(m.find("runguard_monitor_notify_round_trip_seconds_count 4"), std::string::npos) << m;
}

TEST_F(AgentTest, DeletedFramePublishesALifecycleEvent) {
  start_agent();
  write_state("web-1");
  FrameClient c(internal_socket());
  ASSERT_TRUE(c.send(frame::message("decision", {{"record", decision_record("web-1", true)}})));
  ASSERT_TRUE(c.send(frame::message("deleted", {{"container", "web-1"}})));
  ASSERT_TRUE(eventually([&] { return agent->ring().size() == 1; }));
  auto e = agent->ring().replay({}, 1);
  EXPECT_EQ(e[0]->kind, EventKind::kLifecycle);
  EXPECT_EQ(e[0]->action, "deleted");
  EXPECT_EQ(e[0]->container, "web-1");
  EXPECT_NE(e[0]->json.find("\"kind\":\"lifecycle\""), std::string::npos);
  EXPECT_EQ(agent->store().get("web-1")->state, "deleted");
  // Lifecycle events are the agent's: the events file is not written.
  EXPECT_FALSE(runguard::nsutil::path_exists(events_path()));
}

TEST_F(AgentTest, ImageDigestErrorsCarryACode) {
  start_agent();
  FrameClient c(internal_socket());
  ASSERT_TRUE(c.send(frame::message("image.digest", {{"namespace", "k8s.io"}})));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["code"], "invalid");
  ASSERT_TRUE(c.send(frame::message("image.digest", {{"namespace", 3}, {"image", "x"}})));
  r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["code"], "invalid");
  // No containerd at agent.containerd: unavailable, quickly.
  ASSERT_TRUE(c.send(frame::message("image.digest", {{"namespace", "k8s.io"}, {"image", "nginx"}})));
  r = c.read(3s);
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["ok"], false);
  EXPECT_EQ((*r)["code"], "unavailable");
  EXPECT_NE((*r)["error"].get<std::string>().find("containerd"), std::string::npos);
  EXPECT_NE(agent->metrics().render().find("runguard_digest_lookups_total{result=\"error\"} 1"), std::string::npos);
}

// Regression: the namespace went into gRPC metadata unchecked, and a byte outside 0x20..0x7E
// made grpc++ abort: one frame killed runguardd.
TEST_F(AgentTest, ImageDigestRefusesHostileNamesBeforeGrpc) {
  start_agent();
  FrameClient c(internal_socket());
  std::vector<Json> bad = {
      {{"namespace", "k8s.io\n"}, {"container", "c1"}},
      {{"namespace", std::string("k8s\0io", 7)}, {"container", "c1"}},
      {{"namespace", "k8s\x7f"}, {"image", "nginx"}},
      {{"namespace", "caf\xc3\xa9"}, {"image", "nginx"}},
      {{"namespace", std::string(77, 'a')}, {"image", "nginx"}},
      {{"namespace", "-k8s"}, {"image", "nginx"}},
      {{"namespace", "k8s."}, {"image", "nginx"}},
      {{"namespace", "k8s io"}, {"image", "nginx"}},
      {{"namespace", "k8s.io"}, {"container", "c\r1"}},
      {{"namespace", "k8s.io"}, {"image", "nginx\x01"}},
      {{"namespace", "k8s.io"}, {"image", std::string(4097, 'n')}},
  };
  for (const Json& fields : bad) {
    ASSERT_TRUE(c.send(frame::message("image.digest", fields)));
    auto r = c.read();
    ASSERT_TRUE(r) << fields.dump();
    EXPECT_EQ((*r)["ok"], false);
    EXPECT_EQ((*r)["code"], "invalid") << fields.dump() << " -> " << r->dump();
  }
  ASSERT_TRUE(c.send(frame::message("ping")));
  EXPECT_TRUE(c.read());  // still alive
  EXPECT_EQ(agent->status().counters.at("digest_lookups"), 0u);  // nothing reached containerd
}

TEST(ContainerdClient, ChecksItsInputsBeforeTouchingGrpc) {
  EXPECT_TRUE(check_containerd_namespace("k8s.io").is_ok());
  EXPECT_TRUE(check_containerd_namespace("a").is_ok());
  EXPECT_TRUE(check_containerd_namespace("moby_1-x.y").is_ok());
  EXPECT_TRUE(check_containerd_namespace(std::string(76, 'a')).is_ok());
  for (const std::string& ns : {std::string(), std::string(77, 'a'), std::string("a\n"), std::string("a b"), std::string("_a"),
                                std::string("a-"), std::string("a/b"), std::string("caf\xc3\xa9")}) {
    auto s = check_containerd_namespace(ns);
    EXPECT_EQ(s.code(), runguard::Code::kInvalidArgument) << ns;
    EXPECT_EQ(s.message().find('\n'), std::string::npos);  // the bytes checked are never echoed
  }
  EXPECT_TRUE(check_lookup_name("image name", "docker.io/library/nginx:1.27@sha256:" + std::string(64, 'a')).is_ok());
  EXPECT_FALSE(check_lookup_name("image name", "nginx\t").is_ok());
  EXPECT_FALSE(check_lookup_name("image name", std::string(4097, 'x')).is_ok());
  EXPECT_TRUE(check_lookup_name("image name", std::string(4096, 'x')).is_ok());
  // runguardctl's helper calls ContainerdClient directly: it refuses too, without connecting.
  TempDir dir;
  ContainerdClient client(dir / "none.sock");
  auto img = client.image("k8s.io\n", "nginx", 100ms);
  ASSERT_FALSE(img.is_ok());
  EXPECT_EQ(img.status().code(), runguard::Code::kInvalidArgument);
  auto ctr = client.container_image("k8s.io", "c\x01", 100ms);
  ASSERT_FALSE(ctr.is_ok());
  EXPECT_EQ(ctr.status().code(), runguard::Code::kInvalidArgument);
  DigestResolver resolver(std::make_shared<ContainerdClient>(dir / "none.sock"), 1s);
  EXPECT_EQ(resolver.resolve("\x80", "c1", "", 100ms).status().code(), runguard::Code::kInvalidArgument);
}

TEST_F(AgentTest, SlowContainerdDoesNotStallFrames) {
  // A "containerd" that accepts connections and never answers.
  auto fake = listen_unix(dir / "containerd.sock", "fake containerd");
  ASSERT_TRUE(fake.is_ok());
  start_agent("  helperTimeout: 1500ms\n");
  FrameClient lookup(internal_socket());
  ASSERT_TRUE(lookup.send(frame::message("image.digest", {{"namespace", "k8s.io"}, {"image", "nginx"}})));
  std::this_thread::sleep_for(50ms);
  auto start = std::chrono::steady_clock::now();
  FrameClient other(internal_socket());
  ASSERT_TRUE(other.send(frame::message("event", {{"event", monitor_event("c", "r", "Notice")}})));
  ASSERT_TRUE(other.send(frame::message("ping")));
  ASSERT_TRUE(other.read(1s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 300ms);
  EXPECT_EQ(agent->ring().size(), 1u);
  auto r = lookup.read(3s);
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["code"], "unavailable");
}

TEST_F(AgentTest, StartupLoadsStateDirsMonitorsAndTheEventsTail) {
  write_state("live-1", 4242);
  fake_process(4242, {"/usr/local/bin/runguard-monitor", "--config", state_dir() + "/live-1/monitor.json", "--ready-fd", "3"});
  write_state("live-2", 4343);
  fake_process(4343, {"/usr/bin/sleep", "100"});  // a recycled pid: not the monitor
  write_state("live-3");
  write_text(state_dir() + "/in-progress/resources.json", "{}");  // no decision yet
  write_text(state_dir() + "/not_a_dir", "x");
  std::string lines;
  lines += runguard::dump_json(decision_event("gone-1", false)) + "\n";
  lines += "this is not json\n";
  lines += runguard::dump_json(monitor_event("live-1", "Terminal shell in container", "Notice")) + "\n";
  lines += "{\"runguard.kind\":\"weird\"}\n";
  lines += runguard::dump_json(decision_event("denied-then-ok", false)) + "\n";
  lines += runguard::dump_json(decision_event("denied-then-ok", true)) + "\n";
  lines += "{\"partial\":";  // being written
  write_text(events_path(), lines);
  start_agent();

  auto s = agent->store().counts();
  EXPECT_EQ(s.created, 3u);
  EXPECT_EQ(s.monitored, 1u);
  EXPECT_TRUE(agent->store().get("live-1")->monitored);
  EXPECT_EQ(agent->store().get("live-1")->monitor_pid, 4242);
  EXPECT_FALSE(agent->store().get("live-2")->monitored);
  EXPECT_FALSE(agent->store().get("in-progress"));
  EXPECT_EQ(agent->store().get("gone-1")->state, "denied");  // refusals come back from the events file
  EXPECT_FALSE(agent->store().get("denied-then-ok"));
  EXPECT_NE(agent->store().get("live-1")->record_json.find("\n  \"context\""), std::string::npos);  // as written

  auto events = agent->ring().replay({}, 100);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0]->container, "gone-1");
  EXPECT_EQ(events[1]->rule, "Terminal shell in container");
  EXPECT_EQ(events[1]->json, runguard::dump_json(monitor_event("live-1", "Terminal shell in container", "Notice")));
  EXPECT_EQ(agent->status().counters.at("events_replayed"), 4u);
}

// Regression: an allowed decision frame alone made a live (uncapped) record, kept until
// reconcile; the runtime writes decision.json before it sends the frame.
TEST_F(AgentTest, AllowedDecisionWithoutItsDecisionFileIsNotLive) {
  start_agent();
  FrameClient c(internal_socket());
  for (int i = 0; i < 50; ++i) {
    std::string id = "bogus-" + std::to_string(i);
    ASSERT_TRUE(c.send(frame::message("decision", {{"record", decision_record(id, true)}, {"event", decision_event(id, true)}})));
  }
  write_state("real-1");
  ASSERT_TRUE(c.send(frame::message("decision", {{"record", decision_record("real-1", true)}, {"event", decision_event("real-1", true)}})));
  ASSERT_TRUE(c.send(frame::message("decision", {{"record", decision_record("refused-1", false)}, {"event", decision_event("refused-1", false)}})));
  ASSERT_TRUE(c.send(frame::message("ping")));
  ASSERT_TRUE(c.read());
  EXPECT_FALSE(agent->store().get("bogus-0"));
  EXPECT_EQ(agent->store().counts().created, 1u);
  EXPECT_EQ(agent->store().get("real-1")->state, "created");
  EXPECT_EQ(agent->store().get("refused-1")->state, "denied");  // refusals have no state directory
  EXPECT_EQ(agent->ring().size(), 52u);  // every event still reaches the ring
  EXPECT_EQ(agent->status().counters.at("containers_created"), 1u);
  EXPECT_EQ(agent->status().counters.at("invalid_notifications"), 50u);
}

// Regression: lines appended to the events file after the start-up replay read it and before
// the internal socket was bound (their frames found no agent) never reached the ring.
TEST_F(AgentTest, EventsAppendedWhileStartingAreCaughtUpOnce) {
  write_text(events_path(), runguard::dump_json(monitor_event("c", "before", "Notice")) + "\n");
  make_agent();
  agent.reset();
  auto o = options();
  Json twice = monitor_event("c", "appended and sent", "Notice");
  o.before_sockets = [&] {
    std::ofstream out(events_path(), std::ios::app);
    out << runguard::dump_json(monitor_event("c", "appended", "Notice")) << "\n";
    out << runguard::dump_json(decision_event("refused-while-starting", false)) << "\n";
    out << runguard::dump_json(twice) << "\n";
    out << "{\"partial\":";  // still being written: not read
  };
  agent = std::move(Agent::create(o, log)).value();
  ASSERT_TRUE(agent->start().is_ok());
  auto rules = [&] {
    std::vector<std::string> out;
    for (const auto& e : agent->ring().replay({}, 100)) out.push_back(e->rule);
    return out;
  };
  EXPECT_EQ(rules(), (std::vector<std::string>{"before", "appended", "runguard decision", "appended and sent"}));
  EXPECT_EQ(agent->store().get("refused-while-starting")->state, "denied");
  // The producer's frame for a line the catch-up published arrives late: not published again.
  FrameClient c(internal_socket());
  ASSERT_TRUE(c.send(frame::message("event", {{"event", twice}})));
  ASSERT_TRUE(c.send(frame::message("event", {{"event", monitor_event("c", "new", "Notice")}})));
  ASSERT_TRUE(c.send(frame::message("ping")));
  ASSERT_TRUE(c.read());
  EXPECT_EQ(rules(), (std::vector<std::string>{"before", "appended", "runguard decision", "appended and sent", "new"}));
  // ... but the same line sent again later is a new event.
  ASSERT_TRUE(c.send(frame::message("event", {{"event", twice}})));
  ASSERT_TRUE(c.send(frame::message("ping")));
  ASSERT_TRUE(c.read());
  EXPECT_EQ(agent->ring().size(), 6u);
}

TEST_F(AgentTest, RefusalReplayedThenAllowedWhileStartingIsHistory) {
  write_text(events_path(), runguard::dump_json(decision_event("flip", false)) + "\n");
  make_agent();
  agent.reset();
  auto o = options();
  o.before_sockets = [&] {
    std::ofstream(events_path(), std::ios::app) << runguard::dump_json(decision_event("flip", true)) << "\n";
  };
  agent = std::move(Agent::create(o, log)).value();
  ASSERT_TRUE(agent->start().is_ok());
  EXPECT_EQ(agent->ring().size(), 2u);
  EXPECT_FALSE(agent->store().get("flip"));
}

TEST_F(AgentTest, EventsFileCreatedWhileStartingIsCaughtUp) {
  make_agent();
  agent.reset();
  auto o = options();
  o.before_sockets = [&] { write_text(events_path(), runguard::dump_json(monitor_event("c", "first", "Notice")) + "\n"); };
  agent = std::move(Agent::create(o, log)).value();
  ASSERT_TRUE(agent->start().is_ok());
  ASSERT_EQ(agent->ring().size(), 1u);
  EXPECT_EQ(agent->ring().replay({}, 1)[0]->rule, "first");
}

TEST_F(AgentTest, OnlyTheTailOfAHugeEventsFileIsReplayed) {
  std::string lines;
  for (int i = 0; i < 2000; ++i) lines += runguard::dump_json(monitor_event("c" + std::to_string(i), "r", "Notice")) + "\n";
  write_text(events_path(), lines);
  make_agent();
  agent.reset();
  auto o = options();
  o.events_tail_bytes = 10000;
  auto a = Agent::create(o, log);
  ASSERT_TRUE(a.is_ok());
  agent = std::move(a).value();
  ASSERT_TRUE(agent->start().is_ok());
  auto events = agent->ring().replay({}, 100000);
  ASSERT_FALSE(events.empty());
  EXPECT_LT(events.size(), 60u);
  EXPECT_EQ(events.back()->container, "c1999");
  for (const auto& e : events) EXPECT_EQ(e->rule, "r");  // no cut first line
}

TEST_F(AgentTest, ReconcileFindsNewAndDeletedContainers) {
  write_state("a");
  start_agent();
  EXPECT_EQ(agent->store().counts().created, 1u);
  write_state("b");  // created while the agent missed its frame
  std::filesystem::remove_all(state_dir() + "/a");
  agent->reconcile();
  EXPECT_EQ(agent->store().get("a")->state, "deleted");
  EXPECT_EQ(agent->store().get("b")->state, "created");
  auto events = agent->ring().replay({}, 10);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]->kind, EventKind::kLifecycle);
  EXPECT_EQ(events[0]->container, "a");
  agent->reconcile();  // nothing new
  EXPECT_EQ(agent->ring().size(), 1u);
  EXPECT_EQ(agent->status().counters.at("containers_deleted"), 1u);
}

TEST_F(AgentTest, ReconcileGraceForFreshRecords) {
  make_agent();
  agent.reset();
  auto o = options();
  o.deleted_grace = std::chrono::hours(1);
  agent = std::move(Agent::create(o, log)).value();
  ASSERT_TRUE(agent->start().is_ok());
  write_state("fresh");
  FrameClient c(internal_socket());
  ASSERT_TRUE(c.send(frame::message("decision", {{"record", decision_record("fresh", true)}})));
  ASSERT_TRUE(eventually([&] { return agent->store().get("fresh").has_value(); }));
  std::filesystem::remove_all(state_dir() + "/fresh");
  agent->reconcile();  // its state directory is not visible: not deleted within the grace
  EXPECT_EQ(agent->store().get("fresh")->state, "created");
}

TEST_F(AgentTest, ReconcileThreadRuns) {
  make_agent();
  agent.reset();
  auto o = options();
  o.reconcile_interval = 50ms;
  agent = std::move(Agent::create(o, log)).value();
  ASSERT_TRUE(agent->start().is_ok());
  write_state("late");
  EXPECT_TRUE(eventually([&] { return agent->store().get("late").has_value(); }));
}

TEST_F(AgentTest, SecondAgentRefusesToStart) {
  start_agent();
  auto second = Agent::create(options(), log);
  ASSERT_TRUE(second.is_ok());
  runguard::Status s = (*second)->start();
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), runguard::Code::kUnavailable);
  EXPECT_NE(s.message().find("another runguardd"), std::string::npos) << s.message();
  // The first one is untouched.
  FrameClient c(internal_socket());
  ASSERT_TRUE(c.send(frame::message("ping")));
  EXPECT_TRUE(c.read());
  EXPECT_TRUE(runguard::nsutil::path_exists(grpc_socket()));
}

TEST_F(AgentTest, StaleSocketsFromACrashAreReplacedAndStopRemovesThem) {
  { auto stale = listen_unix(grpc_socket(), "stale"); }
  { auto stale = listen_unix(internal_socket(), "stale"); }
  start_agent();
  FrameClient c(internal_socket());
  ASSERT_TRUE(c.send(frame::message("ping")));
  EXPECT_TRUE(c.read());
  agent->stop();
  EXPECT_FALSE(runguard::nsutil::path_exists(internal_socket()));
  EXPECT_FALSE(runguard::nsutil::path_exists(grpc_socket()));
}

TEST_F(AgentTest, UncreatableSocketDirectoryIsAClearError) {
  write_text(dir / "blocker", "a file where a directory should be");
  make_agent("", "");
  agent.reset();
  write_text(policy_path(), "stateDir: " + state_dir() + "\nevents:\n  path: " + events_path() +
                                "\nagent:\n  socket: " + (dir / "blocker/agent.sock") + "\n  internalSocket: " +
                                (dir / "blocker/internal.sock") + "\n  metrics: \"\"\n");
  agent = std::move(Agent::create(options(), log)).value();
  runguard::Status s = agent->start();
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("cannot create the directory of agent.internalSocket"), std::string::npos) << s.message();
}

TEST_F(AgentTest, BadPolicyIsRefusedAtCreate) {
  write_text(policy_path(), "agent:\n  eventRing: -3\n");
  auto a = Agent::create(options(), log);
  ASSERT_FALSE(a.is_ok());
  EXPECT_NE(a.status().message().find("agent.eventRing"), std::string::npos) << a.status().message();
}

}  // namespace
