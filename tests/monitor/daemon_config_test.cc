// monitor.json validation: every error names the field.
#include <gtest/gtest.h>

#include "config.h"

namespace runguard::monitord {
namespace {

const char* kValid = R"({"version":1,"socket":"/run/runguard/c1/monitor.sock","events":"/var/log/runguard/events.jsonl",
  "log":"/run/runguard/c1/monitor.log","rules":["/etc/runguard/rules/a.yaml","/etc/runguard/rules/b.yaml"],
  "block":true,"action":"enforce","container":{"id":"c1","name":"web","image":"nginx:1.27","namespace":"shop",
  "pod":"web-0","bundle":"/b"},"connectTimeoutSeconds":12})";

std::string with(const std::string& from, const std::string& to) {
  std::string s = kValid;
  auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

std::string error_of(const std::string& text) {
  auto r = parse_monitor_config(text, "monitor.json");
  EXPECT_FALSE(r.is_ok()) << text;
  return r.is_ok() ? "" : r.status().message();
}

TEST(MonitorDaemonConfig, ParsesEveryField) {
  auto r = parse_monitor_config(kValid, "monitor.json");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->socket_path, "/run/runguard/c1/monitor.sock");
  EXPECT_EQ(r->events_path, "/var/log/runguard/events.jsonl");
  EXPECT_EQ(r->log_path, "/run/runguard/c1/monitor.log");
  EXPECT_EQ(r->rule_files.size(), 2u);
  EXPECT_TRUE(r->block);
  EXPECT_FALSE(r->audit);
  EXPECT_TRUE(r->enforces_blocks());
  EXPECT_EQ(r->container.id, "c1");
  EXPECT_EQ(r->container.k8s_namespace, "shop");
  EXPECT_EQ(r->container.pod, "web-0");
  EXPECT_EQ(r->connect_timeout_seconds, 12);
}

TEST(MonitorDaemonConfig, AuditNeverEnforcesBlocks) {
  auto r = parse_monitor_config(with(R"("action":"enforce")", R"("action":"audit")"), "monitor.json");
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(r->block);
  EXPECT_FALSE(r->enforces_blocks());
}

TEST(MonitorDaemonConfig, DefaultsForOptionalFields) {
  auto r = parse_monitor_config(R"({"version":1,"socket":"/s","events":"/e","log":"/l","container":{"id":"x"}})", "m");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_TRUE(r->rule_files.empty());
  EXPECT_FALSE(r->block);
  EXPECT_EQ(r->connect_timeout_seconds, 30);
}

TEST(MonitorDaemonConfig, ErrorsNameTheField) {
  EXPECT_NE(error_of(with(R"("version":1,)", "")).find("\"version\""), std::string::npos);
  EXPECT_NE(error_of(with(R"("version":1)", R"("version":2)")).find("\"version\""), std::string::npos);
  EXPECT_NE(error_of(with(R"("socket":"/run/runguard/c1/monitor.sock",)", "")).find("\"socket\": is required"),
            std::string::npos);
  EXPECT_NE(error_of(with(R"("events":"/var)", R"("events":"var)")).find("\"events\": must be an absolute path"),
            std::string::npos);
  EXPECT_NE(error_of(with(R"("block":true)", R"("block":"yes")")).find("\"block\""), std::string::npos);
  std::string action = error_of(with(R"("action":"enforce")", R"("action":"enforec")"));
  EXPECT_NE(action.find("\"action\""), std::string::npos);
  EXPECT_NE(action.find("did you mean enforce"), std::string::npos) << action;
  EXPECT_NE(error_of(with(R"("rules":["/etc)", R"("rules":["etc)")).find("\"rules[0]\""), std::string::npos);
  EXPECT_NE(error_of(with(R"("id":"c1",)", "")).find("\"container.id\""), std::string::npos);
  EXPECT_NE(error_of(with(R"("pod":"web-0")", R"("pood":"web-0")")).find("\"container.pood\": unknown key"),
            std::string::npos);
  EXPECT_NE(error_of(with(R"("connectTimeoutSeconds":12)", R"("connectTimeoutSeconds":0)")).find("connectTimeoutSeconds"),
            std::string::npos);
  EXPECT_NE(error_of(with(R"("block":true)", R"("blok":true)")).find("\"blok\": unknown key"), std::string::npos);
  EXPECT_NE(error_of("[1]").find("must be a JSON object"), std::string::npos);
  EXPECT_NE(error_of("{").find("monitor.json"), std::string::npos);
  std::string long_socket = with("/run/runguard/c1/monitor.sock", "/" + std::string(120, 'a'));
  EXPECT_NE(error_of(long_socket).find("sun_path"), std::string::npos);
}

}  // namespace
}  // namespace runguard::monitord
