// The top-level `agent:` key: defaults, every setting, and the errors that name key and fix.

#include <gtest/gtest.h>

#include <string>

#include "policy_test_util.h"

namespace {

using runguard::policy::parse_policy;

runguard::Result<std::string> no_reader(const std::string& path) { return runguard::io_error("open " + path, ENOENT); }

TEST(AgentSettings, Defaults) {
  auto r = parse_policy("mode: enforce\n", "p.yaml", no_reader);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->agent.socket, "/run/runguard/runguardd.sock");
  EXPECT_EQ(r->agent.internal_socket, "/run/runguard/runguardd.internal.sock");
  EXPECT_EQ(r->agent.metrics, "127.0.0.1:9447");
  EXPECT_EQ(r->agent.containerd, "/run/containerd/containerd.sock");
  EXPECT_EQ(r->agent.event_ring, 10000);
  EXPECT_EQ(r->agent.digest_cache_ttl_ms, 60000);
  EXPECT_EQ(r->agent.request_timeout_ms, 250);
  EXPECT_EQ(r->agent.helper_timeout_ms, 3000);
}

TEST(AgentSettings, EverySetting) {
  auto r = parse_policy(R"(agent:
  socket: /tmp/a/agent.sock
  internalSocket: /tmp/a/internal.sock
  metrics: unix:/tmp/a/metrics.sock
  containerd: /tmp/c/containerd.sock
  eventRing: 500
  digestCacheTtl: 2m
  requestTimeout: 100ms
  helperTimeout: 5s
)",
                        "p.yaml", no_reader);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->agent.socket, "/tmp/a/agent.sock");
  EXPECT_EQ(r->agent.internal_socket, "/tmp/a/internal.sock");
  EXPECT_EQ(r->agent.metrics, "unix:/tmp/a/metrics.sock");
  EXPECT_EQ(r->agent.containerd, "/tmp/c/containerd.sock");
  EXPECT_EQ(r->agent.event_ring, 500);
  EXPECT_EQ(r->agent.digest_cache_ttl_ms, 120000);
  EXPECT_EQ(r->agent.request_timeout_ms, 100);
  EXPECT_EQ(r->agent.helper_timeout_ms, 5000);

  for (const char* ok : {"127.0.0.1:9447", "127.0.0.2:1", "localhost:80", "\"[::1]:9447\"", "\"\""}) {
    auto m = parse_policy(std::string("agent: { metrics: ") + ok + " }\n", "p.yaml", no_reader);
    EXPECT_TRUE(m.is_ok()) << ok << ": " << m.status().message();
  }
}

struct Bad {
  const char* yaml;
  const char* contains;
};

TEST(AgentSettings, ErrorsNameTheKeyAndTheFix) {
  const Bad cases[] = {
      {"agent: { sockett: /x }\n", "agent.sockett: unknown key"},
      {"agent: { socket: relative.sock }\n", "agent.socket: \"relative.sock\" must be an absolute path"},
      {"agent: { socket: /a, internalSocket: /a }\n", "agent.internalSocket: must differ from agent.socket"},
      {"agent: { metrics: 0.0.0.0:9447 }\n", "agent.metrics: \"0.0.0.0\" is not a loopback address"},
      {"agent: { metrics: 10.0.0.1:9447 }\n", "not a loopback address"},
      {"agent: { metrics: 127.0.0.1 }\n", "is not HOST:PORT or unix:PATH"},
      {"agent: { metrics: 127.0.0.1:70000 }\n", "is not HOST:PORT or unix:PATH"},
      {"agent: { metrics: \"unix:rel\" }\n", "unix:PATH needs an absolute path"},
      {"agent: { eventRing: 0 }\n", "agent.eventRing: 0 is out of range"},
      {"agent: { requestTimeout: 5 }\n", "agent.requestTimeout: \"5\" has no or an unknown duration unit"},
      {"agent: { requestTimeout: 2d }\n", "unknown duration unit"},
      {"agent: { helperTimeout: 0s }\n", "agent.helperTimeout: \"0s\" is out of range"},
      {"agent: { digestCacheTtl: soon }\n", "is not a duration"},
  };
  for (const auto& c : cases) {
    auto r = parse_policy(c.yaml, "p.yaml", no_reader);
    ASSERT_FALSE(r.is_ok()) << c.yaml;
    EXPECT_EQ(r.status().code(), runguard::Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.contains), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().rfind("p.yaml:", 0), 0u) << r.status().message();
  }
  std::string long_path = "/" + std::string(120, 'a');
  auto r = parse_policy("agent: { socket: " + long_path + " }\n", "p.yaml", no_reader);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("longer than a unix socket path may be"), std::string::npos);
}

}  // namespace
