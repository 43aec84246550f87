// The runtime's client of runguardd's internal socket: one frame out, one frame back, error codes
// mapped, and never a wait past the timeout whether the agent is absent, mute or broken.
#include "../../pipeline/src/agent_client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "fake_agent.h"
#include "runguard/common/frame.h"
#include "runguard/nsutil/unix_socket.h"

namespace runguard::pipeline::internal {
namespace {

using rgtest::FakeAgent;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/rgagent.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

int64_t ms_since(Clock::time_point start) { return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count(); }

Json digest_request() {
  return frame::message("image.digest", {{"namespace", "k8s.io"}, {"container", "c1"}, {"image", ""}});
}

TEST(AgentClient, RequestGetsTheReply) {
  TempDir dir;
  FakeAgent agent(dir / "agent.sock", FakeAgent::replying(frame::ok_reply(
                                           {{"image", "docker.io/library/nginx:1.27"}, {"digest", "sha256:" + std::string(64, 'a')}})));
  ASSERT_TRUE(agent.ok());
  AgentClient client(dir / "agent.sock");
  auto reply = client.request(digest_request(), milliseconds(1000));
  ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
  EXPECT_EQ((*reply)["image"], "docker.io/library/nginx:1.27");
  EXPECT_EQ((*reply)["ok"], true);
  ASSERT_EQ(agent.frames().size(), 1u);
  Json got = agent.frames()[0];
  EXPECT_EQ(got["v"], 1);
  EXPECT_EQ(got["op"], "image.digest");
  EXPECT_EQ(got["namespace"], "k8s.io");
  EXPECT_EQ(got["container"], "c1");
}

struct CodeCase {
  const char* code;  // nullptr: no "code" in the reply
  Code want;
};

class AgentErrorCodes : public ::testing::TestWithParam<CodeCase> {};

TEST_P(AgentErrorCodes, MapToStatusCodes) {
  TempDir dir;
  Json reply = frame::error_reply("image \"x\" not found in namespace k8s.io");
  if (GetParam().code) reply["code"] = GetParam().code;
  FakeAgent agent(dir / "agent.sock", FakeAgent::replying(reply));
  auto r = AgentClient(dir / "agent.sock").request(digest_request(), milliseconds(1000));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), GetParam().want) << r.status().to_string();
  EXPECT_EQ(r.status().message(), "agent: image \"x\" not found in namespace k8s.io");
  EXPECT_FALSE(agent_not_running(r.status()));
}

INSTANTIATE_TEST_SUITE_P(All, AgentErrorCodes,
                         ::testing::Values(CodeCase{"not_found", Code::kNotFound}, CodeCase{"invalid", Code::kInvalidArgument},
                                           CodeCase{"unavailable", Code::kUnavailable}, CodeCase{"surprise", Code::kUnavailable},
                                           CodeCase{nullptr, Code::kUnavailable}));

TEST(AgentClient, AgentNotRunningIsUnavailableAtOnce) {
  TempDir dir;
  auto start = Clock::now();
  auto r = AgentClient(dir / "absent.sock").request(digest_request(), milliseconds(250));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_TRUE(agent_not_running(r.status()));
  EXPECT_NE(r.status().message().find("agent not running at " + dir / "absent.sock"), std::string::npos) << r.status().message();
  EXPECT_LT(ms_since(start), 25);  // well under requestTimeout
  // A notification to no agent is the same single failed connect.
  start = Clock::now();
  Status n = AgentClient(dir / "absent.sock").notify(frame::message("decision"), milliseconds(250));
  EXPECT_TRUE(agent_not_running(n));
  EXPECT_LT(ms_since(start), 25);
}

TEST(AgentClient, StaleSocketIsNotRunning) {
  TempDir dir;
  {
    FakeAgent agent(dir / "agent.sock", FakeAgent::silent());
    agent.stop();
  }
  // Recreate a socket file nobody listens on.
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, (dir / "agent.sock").c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);
  auto r = AgentClient(dir / "agent.sock").request(digest_request(), milliseconds(250));
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(agent_not_running(r.status())) << r.status().to_string();
}

TEST(AgentClient, AgentThatNeverAnswersTimesOut) {
  TempDir dir;
  FakeAgent agent(dir / "agent.sock", FakeAgent::silent());
  auto start = Clock::now();
  auto r = AgentClient(dir / "agent.sock").request(digest_request(), milliseconds(150));
  auto ms = ms_since(start);
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(nsutil::is_timeout(r.status())) << r.status().to_string();
  EXPECT_FALSE(agent_not_running(r.status()));
  EXPECT_NE(r.status().message().find("did not answer \"image.digest\" within 150 ms"), std::string::npos) << r.status().message();
  EXPECT_GE(ms, 140);
  EXPECT_LT(ms, 600);
}

// A listener that never even accepts (a hung agent): the connect completes in the backlog, the
// reply never comes.
TEST(AgentClient, ListenerThatNeverAcceptsTimesOut) {
  TempDir dir;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, (dir / "hung.sock").c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  auto start = Clock::now();
  auto r = AgentClient(dir / "hung.sock").request(digest_request(), milliseconds(100));
  EXPECT_TRUE(!r.is_ok() && nsutil::is_timeout(r.status()));
  EXPECT_LT(ms_since(start), 500);
  // A notification does not wait for a reply: it is sent into the backlog at once.
  start = Clock::now();
  EXPECT_TRUE(AgentClient(dir / "hung.sock").notify(frame::message("decision"), milliseconds(100)).is_ok());
  EXPECT_LT(ms_since(start), 50);
  ::close(fd);
}

TEST(AgentClient, ClosedWithoutAnswer) {
  TempDir dir;
  FakeAgent agent(dir / "agent.sock", [](const Json&) -> std::optional<std::string> { return FakeAgent::kClose; });
  auto r = AgentClient(dir / "agent.sock").request(digest_request(), milliseconds(1000));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("closed the connection without answering"), std::string::npos) << r.status().message();
}

TEST(AgentClient, MalformedAndForeignReplies) {
  TempDir dir;
  {
    FakeAgent agent(dir / "a.sock", [](const Json&) -> std::optional<std::string> { return std::string("\0\0\0\0", 4); });
    auto r = AgentClient(dir / "a.sock").request(digest_request(), milliseconds(1000));
    ASSERT_FALSE(r.is_ok());
    EXPECT_NE(r.status().message().find("malformed reply"), std::string::npos) << r.status().message();
  }
  {
    FakeAgent agent(dir / "b.sock", FakeAgent::replying(Json{{"v", 2}, {"ok", true}}));
    auto r = AgentClient(dir / "b.sock").request(digest_request(), milliseconds(1000));
    ASSERT_FALSE(r.is_ok());
    EXPECT_NE(r.status().message().find("another protocol version"), std::string::npos) << r.status().message();
  }
  {
    FakeAgent agent(dir / "c.sock", FakeAgent::replying(Json{{"v", 1}}));
    auto r = AgentClient(dir / "c.sock").request(digest_request(), milliseconds(1000));
    ASSERT_FALSE(r.is_ok());
    EXPECT_NE(r.status().message().find("malformed reply: no boolean \"ok\""), std::string::npos) << r.status().message();
  }
}

// Regression: {"v":1,"ok":false,"error":null} threw nlohmann::type_error out of request() (and
// aborted `runguard create` half way). Every wrong-typed member is a malformed reply, never a throw.
TEST(AgentClient, WrongTypedReplyMembersAreMalformedNotThrown) {
  TempDir dir;
  const std::vector<Json> replies = {
      {{"v", 1}, {"ok", false}, {"error", nullptr}},
      {{"v", 1}, {"ok", false}, {"error", 42}},
      {{"v", 1}, {"ok", false}, {"error", Json::array({"x"})}},
      {{"v", 1}, {"ok", false}, {"error", "boom"}, {"code", 7}},
      {{"v", 1}, {"ok", false}, {"error", "boom"}, {"code", nullptr}},
      {{"v", 1}, {"ok", "false"}},
      {{"v", 1}, {"ok", nullptr}},
      {{"v", "1"}, {"ok", true}},
      {{"v", 1.5}, {"ok", true}},
  };
  int n = 0;
  for (const Json& reply : replies) {
    std::string sock = dir / ("m" + std::to_string(n++) + ".sock");
    FakeAgent agent(sock, FakeAgent::replying(reply));
    ASSERT_TRUE(agent.ok());
    Result<Json> r = Status(Code::kInternal, "not run");
    EXPECT_NO_THROW(r = AgentClient(sock).request(digest_request(), milliseconds(1000))) << dump_json(reply);
    ASSERT_FALSE(r.is_ok()) << dump_json(reply);
    EXPECT_EQ(r.status().code(), Code::kUnavailable) << dump_json(reply) << ": " << r.status().to_string();
    EXPECT_FALSE(agent_not_running(r.status())) << dump_json(reply);
    const std::string& m = r.status().message();
    EXPECT_TRUE(m.find("malformed reply") != std::string::npos || m.find("another protocol version") != std::string::npos)
        << dump_json(reply) << ": " << m;
  }
  // A missing "error" is not malformed: the agent just gave no reason.
  FakeAgent agent(dir / "plain.sock", FakeAgent::replying(Json{{"v", 1}, {"ok", false}}));
  auto r = AgentClient(dir / "plain.sock").request(digest_request(), milliseconds(1000));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message(), "agent: no reason given");
}

// A request whose "op" is not a string (only the runtime builds requests, but the client must not
// throw on it either).
TEST(AgentClient, RequestWithOddOpDoesNotThrow) {
  TempDir dir;
  FakeAgent agent(dir / "agent.sock", FakeAgent::silent());
  Json m = {{"v", 1}, {"op", 5}};
  EXPECT_NO_THROW((void)AgentClient(dir / "agent.sock").request(m, milliseconds(50)));
}

// A reply that arrives in pieces is put together.
TEST(AgentClient, ReplyInPieces) {
  TempDir dir;
  std::string bytes = frame::encode(frame::ok_reply({{"agent", "test"}})).value();
  FakeAgent agent(dir / "agent.sock", [bytes](const Json&) -> std::optional<std::string> { return bytes.substr(0, 3); });
  // The handler above sends only 3 bytes: the request must then time out, not misparse.
  auto r = AgentClient(dir / "agent.sock").request(frame::message("ping"), milliseconds(100));
  EXPECT_TRUE(!r.is_ok() && nsutil::is_timeout(r.status()));
}

TEST(AgentClient, NotifyDeliversOneFrame) {
  TempDir dir;
  FakeAgent agent(dir / "agent.sock", FakeAgent::silent());
  Json m = frame::message("decision", {{"record", {{"id", "c1"}}}, {"event", {{"rule", "runguard decision"}}}});
  ASSERT_TRUE(AgentClient(dir / "agent.sock").notify(m, milliseconds(250)).is_ok());
  ASSERT_TRUE(agent.wait_for_frames(1, milliseconds(2000)));
  EXPECT_EQ(agent.frames()[0], m);
}

TEST(AgentClient, ErrorCodeNames) {
  EXPECT_EQ(agent_error_code("not_found"), Code::kNotFound);
  EXPECT_EQ(agent_error_code("invalid"), Code::kInvalidArgument);
  EXPECT_EQ(agent_error_code("unavailable"), Code::kUnavailable);
  EXPECT_EQ(agent_error_code(""), Code::kUnavailable);
}

}  // namespace
}  // namespace runguard::pipeline::internal
