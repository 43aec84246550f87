// What the runtime reads back (fuzz/fuzz_replies.cc feeds the same readers): resources.json's
// pids, runguardd's reply frames and the one-shot helper's stdout.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "../../pipeline/src/agent_client.h"
#include "../../pipeline/src/node_helper.h"
#include "../../pipeline/src/resources.h"

namespace runguard::pipeline::internal {
namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/rgreadback.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

Result<ResourcesRecord> read_text(const TempDir& dir, const std::string& text) {
  std::ofstream(resources_path(dir.path)) << text;
  return read_resources(dir.path);
}

// Found by fuzz_replies' invariant: a monitorPid past INT_MAX was read through an int, so
// 4294971538 became pid 4242 (another process) and 4294967295 became -1. Such a pid is now
// ignored like any other malformed field (there is no monitor to stop then).
TEST(ReadResources, PidsOutOfRangeAreIgnoredNotWrapped) {
  TempDir dir;
  for (const char* big : {"4294971538", "4294967295", "2147483648", "18446744073709551615", "-5", "0", "1.5", "\"42\""}) {
    auto r = read_text(dir, std::string(R"({"version":1,"monitorPid":)") + big +
                                R"(,"creator":{"pid":)" + big + R"(,"startTime":7,"pidNamespace":"pid:[1]"}})");
    ASSERT_TRUE(r.is_ok()) << big << ": " << r.status().message();
    EXPECT_EQ(r->monitor_pid, 0) << big;
    EXPECT_EQ(r->creator_pid, 0) << big;
  }
  auto r = read_text(dir, R"({"version":1,"monitorPid":2147483647,"creator":{"pid":4242,"startTime":7,"pidNamespace":"pid:[1]"}})");
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->monitor_pid, 2147483647);
  EXPECT_EQ(r->creator_pid, 4242);
}

// A NUL after the record is not its end (common/json.h): the file is refused, not half-read.
TEST(ReadResources, NulByteIsAnError) {
  TempDir dir;
  auto r = read_text(dir, std::string("{\"version\":1}\0{\"monitorPid\":1}", 30));
  EXPECT_FALSE(r.is_ok());
}

TEST(ReadBack, AgentReplyChecks) {
  EXPECT_TRUE(check_agent_reply(Json{{"v", 1}, {"ok", true}}, "/s").is_ok());
  Status denied = check_agent_reply(Json{{"v", 1}, {"ok", false}, {"error", "no"}, {"code", "denied"}}, "/s");
  EXPECT_EQ(denied.code(), Code::kDenied);
  EXPECT_EQ(denied.message(), "agent: no");
  for (const Json& bad : {Json::array(), Json{{"v", 2}, {"ok", true}}, Json{{"v", 1}}, Json{{"v", 1}, {"ok", "yes"}},
                          Json{{"v", 1}, {"ok", false}, {"error", 3}}, Json{{"v", 1}, {"ok", false}, {"code", false}}}) {
    Status s = check_agent_reply(bad, "/s");
    EXPECT_EQ(s.code(), Code::kUnavailable) << bad.dump();
  }
}

TEST(ReadBack, HelperReplyIsWipedEitherWay) {
  for (std::string out : {std::string(R"({"ok":true,"secrets":[]})") + "\n", std::string(R"({"error":"e","code":"not_found"})"),
                          std::string("not json\n"), std::string()}) {
    std::string copy = out;
    auto r = parse_helper_reply(out, 1);
    for (char c : out) EXPECT_EQ(c, '\0') << copy;
    if (copy.rfind(R"({"ok":true)", 0) == 0) EXPECT_TRUE(r.is_ok());
    else EXPECT_FALSE(r.is_ok()) << copy;
  }
  std::string notfound = R"({"error":"gone","code":"not_found"})";
  EXPECT_EQ(parse_helper_reply(notfound, 1).status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace runguard::pipeline::internal
