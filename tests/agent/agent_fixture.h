// A real Agent for tests: a policy file in a temp dir, every path under it, metrics off, the
// reconcile thread slow (tests call reconcile() themselves) and no grace for deletions.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "agent.h"
#include "agent_test_util.h"

namespace rgagent_test {

class AgentFixture : public ::testing::Test {
 protected:
  // Writes the policy (policy_yaml + extras) and creates the agent; start() is separate.
  void make_agent(const std::string& agent_extra = "", const std::string& extra = "") {
    write_text(policy_path(), policy_yaml(dir, agent_extra, extra));
    auto a = runguard::agent::Agent::create(options(), log);
    ASSERT_TRUE(a.is_ok()) << a.status().message();
    agent = std::move(a).value();
  }
  void start_agent(const std::string& agent_extra = "", const std::string& extra = "") {
    make_agent(agent_extra, extra);
    ASSERT_TRUE(agent);
    runguard::Status s = agent->start();
    ASSERT_TRUE(s.is_ok()) << s.to_string();
  }
  runguard::agent::AgentOptions options() const {
    runguard::agent::AgentOptions o;
    o.config = {policy_path(), true, "test"};
    o.proc_root = dir / "proc";
    o.reconcile_interval = std::chrono::hours(1);
    o.deleted_grace = std::chrono::milliseconds(0);
    return o;
  }
  void TearDown() override {
    if (agent) agent->stop();
  }

  std::string policy_path() const { return dir / "etc/policy.yaml"; }
  std::string internal_socket() const { return dir / "run/internal.sock"; }
  std::string grpc_socket() const { return dir / "run/agent.sock"; }
  std::string state_dir() const { return dir / "state"; }
  std::string events_path() const { return dir / "log/events.jsonl"; }

  TempDir dir;
  runguard::agent::Logger log{runguard::agent::LogLevel::kError, -1};
  std::unique_ptr<runguard::agent::Agent> agent;
};

}  // namespace rgagent_test
