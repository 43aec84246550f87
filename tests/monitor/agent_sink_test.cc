// The monitor's connection to runguardd: events reach the agent after the file, an absent agent
// never blocks the notify loop (its frames are dropped and counted: the file has them), an agent
// that appears (or comes back) later gets what follows, a full buffer drops frames and counts
// them; the round-trip histogram's buckets and deltas; and the real runguard-monitor talking to a
// fake agent.
#include "agent_sink.h"
#include "config.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>

#include <chrono>
#include <numeric>
#include <thread>

#include "../pipeline/fake_agent.h"
#include "daemon_test_util.h"
#include "runguard/common/frame.h"

namespace runguard::monitord {
namespace {

using rgmond::TempDir;
using rgtest::FakeAgent;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

Json event_frame(int i, size_t pad = 0) {
  return frame::message("event", {{"event", {{"rule", "r"}, {"n", i}, {"pad", std::string(pad, 'x')}, {"runguard.kind", "monitor"}}}});
}

AgentSink::Options options(const std::string& path, milliseconds retry = milliseconds(2000)) {
  AgentSink::Options o;
  o.socket_path = path;
  o.retry_interval = retry;
  return o;
}

// Runs the sink's side of a poll loop for `ms`.
void pump(AgentSink& sink, int ms) {
  auto end = Clock::now() + milliseconds(ms);
  while (Clock::now() < end) {
    struct pollfd p = sink.poll_entry();
    ::poll(&p, 1, 10);
    sink.on_poll(p.revents);
  }
}

TEST(AgentSink, EventsReachTheAgent) {
  TempDir dir;
  FakeAgent agent(dir / "agent.sock", FakeAgent::silent());
  AgentSink sink(options(dir / "agent.sock"));
  for (int i = 0; i < 3; ++i) sink.offer(event_frame(i));
  ASSERT_TRUE(agent.wait_for_frames(3, milliseconds(2000)));
  auto frames = agent.frames();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(frames[static_cast<size_t>(i)]["op"], "event");
    EXPECT_EQ(frames[static_cast<size_t>(i)]["event"]["n"], i);
  }
  EXPECT_EQ(sink.stats().sent, 3u);
  EXPECT_EQ(sink.stats().connects, 1u);
  EXPECT_EQ(agent.connections(), 1u);  // one connection for everything
  EXPECT_EQ(sink.queued_frames(), 0u);
}

TEST(AgentSink, PollsForOutputOnlyWithQueuedFrames) {
  TempDir dir;
  AgentSink idle(options(dir / "agent.sock"));
  EXPECT_EQ(idle.poll_entry().fd, -1);  // never connected: nothing to poll, never a wake-up

  FakeAgent agent(dir / "agent.sock", FakeAgent::silent());
  AgentSink sink(options(dir / "agent.sock"));
  sink.offer(event_frame(1));
  ASSERT_TRUE(sink.connected());
  struct pollfd p = sink.poll_entry();
  EXPECT_GE(p.fd, 0);
  EXPECT_EQ(p.events, POLLIN);  // everything was sent: no POLLOUT
}

TEST(AgentSink, AbsentAgentNeverBlocks) {
  TempDir dir;
  AgentSink sink(options(dir / "absent.sock"));
  auto start = Clock::now();
  for (int i = 0; i < 2000; ++i) sink.offer(event_frame(i, 100));
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count(), 200);
  EXPECT_FALSE(sink.connected());
  EXPECT_EQ(sink.stats().failed_connects, 1u);  // paced: one attempt, the next in 2 s
  EXPECT_EQ(sink.stats().sent, 0u);
  EXPECT_EQ(sink.stats().dropped, 2000u);  // nothing piles up for an agent that is not there
  EXPECT_EQ(sink.queued_bytes(), 0u);
}

TEST(AgentSink, AgentAppearingLaterGetsWhatFollows) {
  TempDir dir;
  AgentSink sink(options(dir / "agent.sock", milliseconds(100)));
  sink.offer(event_frame(1));
  EXPECT_EQ(sink.stats().failed_connects, 1u);
  FakeAgent agent(dir / "agent.sock", FakeAgent::silent());
  sink.offer(event_frame(2));  // too early for another attempt: dropped
  EXPECT_EQ(sink.stats().failed_connects, 1u);
  EXPECT_FALSE(sink.connected());
  std::this_thread::sleep_for(milliseconds(110));
  sink.offer(event_frame(3));
  EXPECT_TRUE(sink.connected());
  ASSERT_TRUE(agent.wait_for_frames(1, milliseconds(2000)));
  std::this_thread::sleep_for(milliseconds(50));
  ASSERT_EQ(agent.frames().size(), 1u);
  EXPECT_EQ(agent.frames()[0]["event"]["n"], 3);
  EXPECT_EQ(sink.stats().dropped, 2u);
  EXPECT_EQ(sink.stats().sent, 1u);
}

TEST(AgentSink, AgentRestartReconnects) {
  TempDir dir;
  auto first = std::make_unique<FakeAgent>(dir / "agent.sock", FakeAgent::silent());
  AgentSink sink(options(dir / "agent.sock", milliseconds(50)));
  sink.offer(event_frame(1));
  ASSERT_TRUE(first->wait_for_frames(1, milliseconds(2000)));
  std::this_thread::sleep_for(milliseconds(60));  // the connection lasted: reconnect at once
  first->stop();
  pump(sink, 50);  // notices the closed connection
  EXPECT_FALSE(sink.connected());
  FakeAgent second(dir / "agent.sock", FakeAgent::silent());
  sink.offer(event_frame(2));
  ASSERT_TRUE(second.wait_for_frames(1, milliseconds(2000)));
  EXPECT_EQ(second.frames()[0]["event"]["n"], 2);
  EXPECT_EQ(sink.stats().connects, 2u);
  EXPECT_GE(sink.stats().disconnects, 1u);
}

// An agent that stops reading: the socket buffer fills, then the bounded queue, then frames are
// dropped and counted; the loop never waits.
TEST(AgentSink, FullBufferDropsAndCounts) {
  TempDir dir;
  // Listening, never accepting: the kernel completes the connection and buffers what is sent.
  int lfd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, (dir / "stuck.sock").c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(lfd, 4), 0);
  AgentSink::Options o = options(dir / "stuck.sock");
  o.max_queued_bytes = 64u << 10;
  AgentSink sink(o);
  constexpr int kFrames = 4000;
  auto start = Clock::now();
  for (int i = 0; i < kFrames; ++i) sink.offer(event_frame(i, 1000));
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count(), 500);
  EXPECT_TRUE(sink.connected());
  EXPECT_GT(sink.stats().dropped, 0u);
  EXPECT_GT(sink.stats().sent, 0u);
  EXPECT_EQ(sink.stats().sent + sink.stats().dropped + sink.queued_frames(), static_cast<uint64_t>(kFrames));
  EXPECT_LE(sink.queued_bytes(), o.max_queued_bytes);
  EXPECT_EQ(sink.poll_entry().events, POLLIN | POLLOUT);  // queued: wake when there is room
  ::close(lfd);
}

TEST(AgentSink, OversizedFrameIsDropped) {
  TempDir dir;
  FakeAgent agent(dir / "agent.sock", FakeAgent::silent());
  AgentSink sink(options(dir / "agent.sock"));
  sink.offer(event_frame(1, frame::kMaxFrameBytes));
  EXPECT_EQ(sink.stats().dropped, 1u);
  EXPECT_EQ(sink.queued_frames(), 0u);
}

// At exit the stats delta gets one more connect attempt, whatever the pacing says.
TEST(AgentSink, ConnectIgnoringPacing) {
  TempDir dir;
  AgentSink sink(options(dir / "agent.sock"));
  EXPECT_FALSE(sink.try_connect());
  FakeAgent agent(dir / "agent.sock", FakeAgent::silent());
  EXPECT_FALSE(sink.try_connect());  // paced
  EXPECT_TRUE(sink.try_connect(Clock::now(), true));
  sink.offer(event_frame(1));
  sink.flush(milliseconds(200));
  ASSERT_TRUE(agent.wait_for_frames(1, milliseconds(2000)));
  EXPECT_EQ(sink.queued_frames(), 0u);
}

// A lost connection drops what was queued on it (the restarted agent reads the file) and the next
// frame reconnects at once.
TEST(AgentSink, LostConnectionDropsItsQueue) {
  TempDir dir;
  int lfd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, (dir / "agent.sock").c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(lfd, 4), 0);
  AgentSink sink(options(dir / "agent.sock", milliseconds(20)));
  for (int i = 0; i < 1000; ++i) sink.offer(event_frame(i, 1000));  // fills the socket, queues the rest
  ASSERT_GT(sink.queued_frames(), 0u);
  uint64_t queued = sink.queued_frames(), dropped = sink.stats().dropped;
  std::this_thread::sleep_for(milliseconds(30));
  ::close(lfd);  // the agent dies: the pending connection is reset
  ::unlink((dir / "agent.sock").c_str());
  pump(sink, 50);
  EXPECT_FALSE(sink.connected());
  EXPECT_EQ(sink.queued_frames(), 0u);
  EXPECT_EQ(sink.stats().dropped, dropped + queued);
  FakeAgent agent(dir / "agent.sock", FakeAgent::silent());
  sink.offer(event_frame(5000));
  ASSERT_TRUE(agent.wait_for_frames(1, milliseconds(2000)));
  EXPECT_EQ(agent.frames()[0]["event"]["n"], 5000);
}

// monitor.json's "agentSocket": optional, absolute, fits sun_path.
TEST(AgentSinkConfig, AgentSocketField) {
  const std::string base = R"({"version":1,"socket":"/run/runguard/c1/monitor.sock","events":"/var/log/e.jsonl",)"
                           R"("log":"/run/runguard/c1/monitor.log","container":{"id":"c1"})";
  auto none = parse_monitor_config(base + "}", "monitor.json");
  ASSERT_TRUE(none.is_ok()) << none.status().to_string();
  EXPECT_EQ(none->agent_socket, "");
  auto set = parse_monitor_config(base + R"(,"agentSocket":"/run/runguard/runguardd.internal.sock"})", "monitor.json");
  ASSERT_TRUE(set.is_ok()) << set.status().to_string();
  EXPECT_EQ(set->agent_socket, "/run/runguard/runguardd.internal.sock");
  auto relative = parse_monitor_config(base + R"(,"agentSocket":"agent.sock"})", "monitor.json");
  ASSERT_FALSE(relative.is_ok());
  EXPECT_NE(relative.status().message().find("field \"agentSocket\": must be an absolute path"), std::string::npos);
  auto long_path = parse_monitor_config(base + R"(,"agentSocket":"/)" + std::string(120, 'a') + R"("})", "monitor.json");
  ASSERT_FALSE(long_path.is_ok());
  EXPECT_NE(long_path.status().message().find("sun_path"), std::string::npos);
}

TEST(RoundTripHistogram, BucketsAreTheAgents) {
  EXPECT_EQ(std::vector<double>(RoundTripHistogram::kBounds.begin(), RoundTripHistogram::kBounds.end()),
            std::vector<double>({0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.1}));
  EXPECT_EQ(RoundTripHistogram::kBuckets, 12u);
}

TEST(RoundTripHistogram, DeltasAreNotCumulative) {
  RoundTripHistogram h;
  EXPECT_TRUE(h.empty());
  h.observe(0.000001);  // bucket 0
  h.observe(0.000005);  // bucket 0 (le)
  h.observe(0.00003);   // bucket 3 (the first bound >= it is 0.00005)
  h.observe(0.05);      // bucket 10
  h.observe(2.0);       // +Inf
  Json m = h.take_stats_message("c1");
  EXPECT_EQ(m["v"], 1);
  EXPECT_EQ(m["op"], "monitor.stats");
  EXPECT_EQ(m["container"], "c1");
  EXPECT_EQ(m["counts"], Json({2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1}));
  EXPECT_NEAR(m["sum"].get<double>(), 2.050036, 1e-9);
  EXPECT_TRUE(h.empty());
  h.observe(0.0002);
  Json next = h.take_stats_message("c1");
  EXPECT_EQ(next["counts"], Json({0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}));
}

// The real daemon: events go to the file and to the agent (with runguard.kind "monitor"); at
// exit a monitor.stats delta covers every notification.
TEST(AgentSinkE2E, MonitorSendsEventsAndStats) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (reads target memory of a no_new_privs child)";
  TempDir dir;
  FakeAgent agent(dir / "agent.sock", FakeAgent::silent());
  rgmond::write_text(dir / "rules.yaml",
                     "- rule: Any unshare\n  desc: d\n  condition: evt.type = unshare\n  output: 'unshare %evt.arg.flags'\n  priority: NOTICE\n");
  std::string cfg = rgmond::monitor_config(dir, true, dir / "rules.yaml");
  cfg.insert(cfg.size() - 1, ",\"agentSocket\":\"" + dir / "agent.sock" + "\"");
  rgmond::write_text(dir / "monitor.json", cfg);
  int status = 0;
  std::string ready = rgmond::start_monitor(RUNGUARD_MONITOR_BIN, dir / "monitor.json", &status);
  ASSERT_FALSE(ready.empty());
  ASSERT_NE(ready.rfind("error", 0), 0u) << ready;
  pid_t monitor = std::stoi(ready);

  constexpr int kCalls = 50;
  pid_t target = ::fork();
  if (target == 0) {
    int listener = rgmond::install_notify_filter({SYS_unshare});
    if (listener < 0) ::_exit(100);
    if (rgmond::send_listener_fd(dir / "monitor.sock", listener, "0123456789abcdef") < 0) ::_exit(101);
    ::close(listener);
    for (int i = 0; i < kCalls; ++i) {
      if (::syscall(SYS_unshare, 0) != 0) ::_exit(102);
    }
    ::_exit(0);
  }
  int tstatus = 0;
  ::waitpid(target, &tstatus, 0);
  ASSERT_TRUE(WIFEXITED(tstatus) && WEXITSTATUS(tstatus) == 0) << rgmond::read_text(dir / "monitor.log");
  ASSERT_TRUE(rgmond::wait_gone(monitor, 5000)) << rgmond::read_text(dir / "monitor.log");
  ASSERT_TRUE(agent.wait_for_frames(kCalls + 1, milliseconds(2000))) << rgmond::read_text(dir / "monitor.log");

  auto file = rgmond::lines_of(rgmond::read_text(dir / "events/events.jsonl"));
  ASSERT_EQ(file.size(), static_cast<size_t>(kCalls));
  size_t events = 0;
  uint64_t observed = 0;
  for (const auto& f : agent.frames()) {
    if (f["op"] == "event") {
      EXPECT_EQ(f["event"], parse_json(file[events], "line").value());  // the same object as the file's line
      EXPECT_EQ(f["event"]["runguard.kind"], "monitor");
      EXPECT_EQ(f["event"]["runguard.container"]["id"], "0123456789abcdef");
      ++events;
    } else {
      EXPECT_EQ(f["op"], "monitor.stats");
      EXPECT_EQ(f["container"], "0123456789abcdef");
      ASSERT_EQ(f["counts"].size(), 12u);
      for (const auto& c : f["counts"]) observed += c.get<uint64_t>();
      EXPECT_GT(f["sum"].get<double>(), 0.0);
    }
  }
  EXPECT_EQ(events, static_cast<size_t>(kCalls));
  EXPECT_EQ(observed, static_cast<uint64_t>(kCalls));
  std::string log = rgmond::read_text(dir / "monitor.log");
  EXPECT_NE(log.find("agent_sent=" + std::to_string(kCalls + 1) + " agent_dropped=0"), std::string::npos) << log;
}

}  // namespace
}  // namespace runguard::monitord
