// The events JSONL line format and the appender.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon_test_util.h"
#include "output.h"
#include "runguard/common/json.h"

namespace runguard::monitord {
namespace {

monitor::Match sample_match() {
  monitor::Match m;
  m.rule_name = "Terminal shell in container";
  m.priority = monitor::Priority::kNotice;
  m.action = monitor::RuleAction::kBlock;
  m.output = "A shell was spawned (user=root cmd=sh -i)";
  m.output_fields = {{"user.name", "root"}, {"proc.cmdline", "sh -i"}};
  m.tags = {"container", "shell", "mitre_execution"};
  return m;
}

OutputContext sample_context() {
  OutputContext ctx;
  ctx.hostname = "node-1";
  ctx.time.tv_sec = 1764400000;  // 2025-11-29T07:06:40Z
  ctx.time.tv_nsec = 123456789;
  ctx.container = {"0123456789abcdef", "web", "nginx:1.27", "shop", "web-0", "/b", ""};
  return ctx;
}

TEST(MonitorDaemonOutput, Rfc3339WithNanoseconds) {
  struct timespec ts = {1764400000, 5};
  EXPECT_EQ(rfc3339_nanos(ts), "2025-11-29T07:06:40.000000005Z");
}

TEST(MonitorDaemonOutput, DecisionNames) {
  EXPECT_STREQ(decision_name(monitor::RuleAction::kAlert, true), "alert");
  EXPECT_STREQ(decision_name(monitor::RuleAction::kBlock, true), "block");
  EXPECT_STREQ(decision_name(monitor::RuleAction::kBlock, false), "would-block");
}

TEST(MonitorDaemonOutput, FalcoCompatibleLine) {
  std::string line = format_event_line(sample_match(), sample_context(), "block");
  ASSERT_EQ(line.back(), '\n');
  ASSERT_EQ(line.find('\n'), line.size() - 1);  // exactly one line
  auto j = parse_json(line, "line");
  ASSERT_TRUE(j.is_ok()) << j.status().to_string();
  EXPECT_EQ((*j)["time"], "2025-11-29T07:06:40.123456789Z");
  EXPECT_EQ((*j)["rule"], "Terminal shell in container");
  EXPECT_EQ((*j)["priority"], "Notice");
  EXPECT_EQ((*j)["source"], "syscall");
  EXPECT_EQ((*j)["hostname"], "node-1");
  EXPECT_EQ((*j)["output"], "07:06:40.123456789: Notice A shell was spawned (user=root cmd=sh -i)");
  EXPECT_EQ((*j)["output_fields"], Json({{"user.name", "root"}, {"proc.cmdline", "sh -i"}}));
  EXPECT_EQ((*j)["tags"], Json({"container", "shell", "mitre_execution"}));
  EXPECT_EQ((*j)["runguard.action"], "block");
  EXPECT_EQ((*j)["runguard.container"],
            Json({{"id", "0123456789abcdef"}, {"name", "web"}, {"image", "nginx:1.27"}, {"namespace", "shop"},
                  {"pod", "web-0"}}));
  EXPECT_EQ((*j)["runguard.kind"], "monitor");  // decision events say "decision" (docs/agent.md)
  EXPECT_EQ(j->size(), 11u);
}

TEST(MonitorDaemonOutput, InvalidUtf8StaysOneValidLine) {
  auto m = sample_match();
  m.output = "cmd=\xff\xfe\nsecond";
  std::string line = format_event_line(m, sample_context(), "alert");
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_TRUE(parse_json(line, "line").is_ok());
}

// Several writers appending to one file never interleave partial lines.
TEST(MonitorDaemonOutput, ConcurrentAppendsKeepWholeLines) {
  rgmond::TempDir dir;
  std::string path = dir / "sub/events.jsonl";
  constexpr int kWriters = 4, kLines = 500;
  std::vector<pid_t> kids;
  for (int w = 0; w < kWriters; ++w) {
    pid_t p = ::fork();
    if (p == 0) {
      auto f = EventsFile::open(path);
      if (!f.is_ok()) ::_exit(1);
      auto m = sample_match();
      m.output = std::string(3000 + w, static_cast<char>('a' + w));
      for (int i = 0; i < kLines; ++i) {
        if (!f->append(format_event_line(m, sample_context(), "alert")).is_ok()) ::_exit(2);
      }
      ::_exit(0);
    }
    kids.push_back(p);
  }
  for (pid_t p : kids) {
    int st = 0;
    ::waitpid(p, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  auto lines = rgmond::lines_of(rgmond::read_text(path));
  ASSERT_EQ(lines.size(), static_cast<size_t>(kWriters * kLines));
  for (const auto& l : lines) ASSERT_TRUE(parse_json(l, "line").is_ok()) << l.substr(0, 80);
}

}  // namespace
}  // namespace runguard::monitord
