// The internal socket's server: framing, protocol errors, limits, slow peers and async replies,
// on a real unix socket in a temp dir.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "agent_test_util.h"
#include "internal_server.h"
#include "runguard/nsutil/fs.h"
#include "unix_socket.h"

namespace {

using namespace runguard::agent;
using namespace std::chrono_literals;
using rgagent_test::be32;
using rgagent_test::FrameClient;
using rgagent_test::TempDir;
using runguard::Json;
namespace frame = runguard::frame;

std::string raw(const std::string& payload) { return be32(static_cast<uint32_t>(payload.size())) + payload; }

// Answers "ping" at once, "slow" from another thread after `slow_delay`, and records the rest.
class TestHandler : public InternalServer::Handler {
 public:
  bool on_frame(const std::string& op, const Json& msg, InternalServer::ReplyFn reply) override {
    {
      std::lock_guard<std::mutex> lock(mu);
      ops.push_back(op);
    }
    if (op == "ping") {
      reply(frame::ok_reply({{"n", msg.value("n", 0)}}));
      return true;
    }
    if (op == "slow") {
      std::lock_guard<std::mutex> lock(mu);
      threads.emplace_back([reply, this] {
        std::this_thread::sleep_for(slow_delay);
        reply(frame::ok_reply({{"slow", true}}));
      });
      return true;
    }
    return false;  // a notification
  }
  void on_bad_frame(const std::string& reason) override {
    std::lock_guard<std::mutex> lock(mu);
    bad.push_back(reason);
  }
  ~TestHandler() override {
    for (auto& t : threads) t.join();
  }
  size_t bad_count() {
    std::lock_guard<std::mutex> lock(mu);
    return bad.size();
  }
  size_t count(const std::string& op) {
    std::lock_guard<std::mutex> lock(mu);
    return static_cast<size_t>(std::count(ops.begin(), ops.end(), op));
  }

  std::mutex mu;
  std::vector<std::string> ops;
  std::vector<std::string> bad;
  std::vector<std::thread> threads;
  std::chrono::milliseconds slow_delay{300};
};

class InternalServerTest : public ::testing::Test {
 protected:
  void SetUp() override { start(); }
  void start(InternalServer::Options o = {}) {
    o.socket_path = dir / "run/internal.sock";
    if (o.partial_frame_timeout == std::chrono::milliseconds(10000)) o.partial_frame_timeout = 400ms;
    auto s = InternalServer::start(o, handler, log);
    ASSERT_TRUE(s.is_ok()) << s.status().message();
    server = std::move(s).value();
  }
  std::string path() const { return dir / "run/internal.sock"; }

  TempDir dir;
  Logger log{LogLevel::kError, -1};
  TestHandler handler;
  std::unique_ptr<InternalServer> server;
};

TEST_F(InternalServerTest, PingAndSocketMode) {
  struct stat st {};
  ASSERT_EQ(::stat(path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  FrameClient c(path());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send(frame::message("ping", {{"n", 7}})));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["ok"], true);
  EXPECT_EQ((*r)["v"], 1);
  EXPECT_EQ((*r)["n"], 7);
}

TEST_F(InternalServerTest, PipelinedFramesInOneWriteAreAnsweredInOrder) {
  FrameClient c(path());
  std::string bytes;
  for (int i = 0; i < 20; ++i) {
    bytes += *frame::encode(frame::message("ping", {{"n", i}}));
    bytes += *frame::encode(frame::message("event", {{"event", {{"rule", "r"}}}}));
  }
  ASSERT_TRUE(c.send_raw(bytes));
  for (int i = 0; i < 20; ++i) {
    auto r = c.read();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ((*r)["n"], i);
  }
  EXPECT_EQ(handler.count("event"), 20u);
}

TEST_F(InternalServerTest, GarbageClosesOnlyThatConnection) {
  FrameClient good(path());
  FrameClient bad(path());
  ASSERT_TRUE(bad.send_raw(raw("not json!")));
  EXPECT_TRUE(bad.closed_within(2s));
  EXPECT_EQ(handler.bad_count(), 1u);
  ASSERT_TRUE(good.send(frame::message("ping")));
  EXPECT_TRUE(good.read());
}

TEST_F(InternalServerTest, MalformedFramesAreCountedAndClosed) {
  std::vector<std::string> cases = {
      be32(0),                                   // length 0
      be32(0xffffffffu),                         // far over the limit: refused from the header alone
      be32(frame::kMaxFrameBytes + 1),           // just over
      raw("[]"),                                 // not an object
      raw("{\"op\":\"ping\"}"),                    // no v
      raw("{\"v\":1}"),                          // no op
      raw("{\"v\":1,\"op\":\"\"}"),               // empty op
      raw("{\"v\":\"1\",\"op\":\"x\"}"),          // v not an integer
  };
  size_t n = 0;
  for (const auto& bytes : cases) {
    FrameClient c(path());
    ASSERT_TRUE(c.send_raw(bytes));
    EXPECT_TRUE(c.closed_within(2s)) << n;
    ++n;
    // Counted before the close is observable? The loop counts, then closes: wait briefly.
    for (int i = 0; i < 100 && handler.bad_count() < n; ++i) std::this_thread::sleep_for(5ms);
    EXPECT_EQ(handler.bad_count(), n);
  }
  FrameClient c(path());
  ASSERT_TRUE(c.send(frame::message("ping")));
  EXPECT_TRUE(c.read());
}

TEST_F(InternalServerTest, TruncatedFrameThenClose) {
  FrameClient c(path());
  std::string f = *frame::encode(frame::message("ping"));
  ASSERT_TRUE(c.send_raw(f.substr(0, f.size() - 3)));
  c.shutdown_write();
  EXPECT_TRUE(c.closed_within(2s));
  for (int i = 0; i < 100 && handler.bad_count() < 1; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(handler.bad_count(), 1u);
  EXPECT_EQ(handler.count("ping"), 0u);
}

TEST_F(InternalServerTest, RequestThenHalfCloseStillGetsItsReply) {
  FrameClient c(path());
  ASSERT_TRUE(c.send(frame::message("slow")));
  c.shutdown_write();
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["slow"], true);
  EXPECT_TRUE(c.closed_within(2s));
}

TEST_F(InternalServerTest, OtherVersionGetsTheVersionErrorThenClose) {
  FrameClient c(path());
  ASSERT_TRUE(c.send(Json{{"v", 2}, {"op", "ping"}}));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["ok"], false);
  EXPECT_EQ((*r)["versions"], Json::array({1}));
  EXPECT_NE((*r)["error"].get<std::string>().find("protocol version 2 is not supported"), std::string::npos);
  EXPECT_TRUE(c.closed_within(2s));
  EXPECT_EQ(handler.count("ping"), 0u);
}

TEST_F(InternalServerTest, SlowPartialFrameDoesNotBlockOthersAndTimesOut) {
  FrameClient slow(path());
  std::string f = *frame::encode(frame::message("ping"));
  ASSERT_TRUE(slow.send_raw(f.substr(0, 6)));
  auto start = std::chrono::steady_clock::now();
  FrameClient other(path());
  ASSERT_TRUE(other.send(frame::message("ping")));
  ASSERT_TRUE(other.read(1s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
  // Trickling bytes does not reset the clock: the frame must complete within the timeout.
  ASSERT_TRUE(slow.send_raw(f.substr(6, 1)));
  EXPECT_TRUE(slow.closed_within(2s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 350ms);
}

TEST_F(InternalServerTest, IdleConnectionsAreClosed) {
  server->stop();
  InternalServer::Options o;
  o.idle_timeout = 300ms;
  start(o);
  FrameClient c(path());
  ASSERT_TRUE(c.send(frame::message("ping")));
  ASSERT_TRUE(c.read());
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_within(2s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
}

// Regression: a monitor's long-lived connection was closed after the idle timeout; a frame it
// sent at that moment was lost.
TEST_F(InternalServerTest, SendersOfNotificationsAreNotClosedWhenIdle) {
  server->stop();
  InternalServer::Options o;
  o.idle_timeout = 300ms;
  start(o);
  FrameClient monitor(path());
  ASSERT_TRUE(monitor.send(frame::message("event", {{"n", 1}})));
  FrameClient pinger(path());
  ASSERT_TRUE(pinger.send(frame::message("ping")));
  ASSERT_TRUE(pinger.read());
  EXPECT_TRUE(pinger.closed_within(2s));        // a request-only peer: closed as before
  EXPECT_FALSE(monitor.closed_within(1200ms));  // quiet for four idle timeouts: still open
  ASSERT_TRUE(monitor.send(frame::message("event", {{"n", 2}})));
  ASSERT_TRUE(monitor.send(frame::message("ping")));
  EXPECT_TRUE(monitor.read());
  EXPECT_EQ(handler.count("event"), 2u);
  // The partial-frame timeout still applies to it.
  std::string f = *frame::encode(frame::message("event"));
  ASSERT_TRUE(monitor.send_raw(f.substr(0, 6)));
  EXPECT_TRUE(monitor.closed_within(2s));
}

TEST_F(InternalServerTest, QuietSendersMakeRoomWhenEveryConnectionIsTaken) {
  server->stop();
  InternalServer::Options o;
  o.idle_timeout = 200ms;
  o.max_connections = 4;
  start(o);
  std::vector<std::unique_ptr<FrameClient>> monitors;
  for (int i = 0; i < 4; ++i) {
    monitors.push_back(std::make_unique<FrameClient>(path()));
    ASSERT_TRUE(monitors.back()->send(frame::message("event")));
    ASSERT_TRUE(monitors.back()->send(frame::message("ping")));
    ASSERT_TRUE(monitors.back()->read());
  }
  FrameClient early(path());  // the monitors are not quiet for long enough yet: refused
  ASSERT_TRUE(early.closed_within(1s));
  std::this_thread::sleep_for(400ms);
  FrameClient late(path());  // now the longest quiet one makes room
  ASSERT_TRUE(late.send(frame::message("ping")));
  EXPECT_TRUE(late.read());
  size_t closed = 0;
  for (auto& m : monitors) closed += m->closed_within(100ms) ? 1 : 0;
  EXPECT_EQ(closed, 1u);
}

TEST_F(InternalServerTest, AsyncReplyDoesNotStallTheLoop) {
  FrameClient waiting(path());
  ASSERT_TRUE(waiting.send(frame::message("slow")));
  FrameClient quick(path());
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(quick.send(frame::message("ping")));
  ASSERT_TRUE(quick.read(1s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 200ms);
  auto r = waiting.read(2s);
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["slow"], true);
}

TEST_F(InternalServerTest, ConnectionCap) {
  server->stop();
  InternalServer::Options o;
  o.max_connections = 256;
  start(o);
  std::vector<std::unique_ptr<FrameClient>> clients;
  for (int i = 0; i < 300; ++i) {
    clients.push_back(std::make_unique<FrameClient>(path()));
    ASSERT_TRUE(clients.back()->connected()) << i;
  }
  // Every connection that got in still works; the ones past the cap are closed at once.
  size_t served = 0, closed = 0;
  for (auto& c : clients) {
    if (!c->send(frame::message("ping"))) {
      ++closed;
      continue;
    }
    if (c->read(1s)) ++served;
    else ++closed;
  }
  EXPECT_EQ(served, 256u);
  EXPECT_EQ(closed, 44u);
  // Closed all at once and a new client right away: the dead ones are reaped, it gets in.
  clients.clear();
  FrameClient after(path());
  ASSERT_TRUE(after.send(frame::message("ping")));
  EXPECT_TRUE(after.read());
}

TEST_F(InternalServerTest, BurstOfConnectAndCloseDoesNotLockOutTheNextClient) {
  for (int round = 0; round < 3; ++round) {
    {
      std::vector<std::unique_ptr<FrameClient>> burst;
      for (int i = 0; i < 300; ++i) burst.push_back(std::make_unique<FrameClient>(path()));
    }
    FrameClient c(path());
    ASSERT_TRUE(c.send(frame::message("ping")));
    EXPECT_TRUE(c.read()) << "round " << round;
  }
}

TEST_F(InternalServerTest, StopRemovesTheSocketAndDropsLateReplies) {
  FrameClient c(path());
  ASSERT_TRUE(c.send(frame::message("slow")));
  std::this_thread::sleep_for(50ms);
  server->stop();
  EXPECT_FALSE(runguard::nsutil::path_exists(path()));
  EXPECT_TRUE(c.closed_within(1s));
  server->stop();  // idempotent
}

TEST(UnixSocket, StaleSocketRule) {
  TempDir dir;
  Logger log{LogLevel::kError, -1};
  TestHandler handler;
  std::string p = dir / "a/b/internal.sock";
  // A socket file nobody listens on (a crashed agent's) is replaced.
  {
    auto s = listen_unix(p, "test");
    ASSERT_TRUE(s.is_ok()) << s.status().message();
  }
  EXPECT_TRUE(runguard::nsutil::path_exists(p));
  InternalServer::Options o;
  o.socket_path = p;
  auto first = InternalServer::start(o, handler, log);
  ASSERT_TRUE(first.is_ok()) << first.status().message();
  // Someone answering there is never touched.
  auto second = InternalServer::start(o, handler, log);
  ASSERT_FALSE(second.is_ok());
  EXPECT_EQ(second.status().code(), runguard::Code::kUnavailable);
  EXPECT_NE(second.status().message().find(p), std::string::npos);
  FrameClient c(p);
  ASSERT_TRUE(c.send(frame::message("ping")));
  EXPECT_TRUE(c.read());
  (*first)->stop();
  // Not a socket: refused, left alone.
  rgagent_test::write_text(p, "precious");
  auto third = InternalServer::start(o, handler, log);
  ASSERT_FALSE(third.is_ok());
  EXPECT_EQ(third.status().code(), runguard::Code::kInvalidArgument);
  EXPECT_EQ(rgagent_test::read_text(p), "precious");
}

TEST(UnixSocket, LockIsExclusive) {
  TempDir dir;
  auto a = lock_file(dir / "x.lock");
  ASSERT_TRUE(a.is_ok());
  auto b = lock_file(dir / "x.lock");
  ASSERT_FALSE(b.is_ok());
  EXPECT_EQ(b.status().code(), runguard::Code::kUnavailable);
  a->reset();
  EXPECT_TRUE(lock_file(dir / "x.lock").is_ok());
}

}  // namespace
