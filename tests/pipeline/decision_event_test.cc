// The event line of a create decision (docs/agent.md "Event lines"): its fields, Notice for
// allowed and Warning for denied containers, and no environment value in it, ever.
#include "../../pipeline/src/decision_event.h"

#include <gtest/gtest.h>

#include <string>

#include "../policy/policy_test_util.h"
#include "runguard/policy/decision.h"
#include "runguard/policy/engine.h"

namespace runguard::pipeline::internal {
namespace {

using policy::Action;
using policy::Decision;

struct timespec sample_time() {
  struct timespec ts = {};
  ts.tv_sec = 1764400000;  // 2025-11-29T07:06:40Z
  ts.tv_nsec = 123456789;
  return ts;
}

policy::ContainerContext sample_context() {
  policy::ContainerContext ctx;
  ctx.id = "web-1";
  ctx.image = "docker.io/library/nginx:1.27";
  ctx.image_digest = "sha256:" + std::string(64, 'c');
  ctx.k8s_namespace = "shop";
  ctx.pod_name = "web-0";
  ctx.container_name = "web";
  return ctx;
}

policy::Policy sample_policy() {
  policy::Policy p;
  p.source = "/etc/runguard/policy.yaml";
  return p;
}

Decision allowed_decision() {
  Decision d;
  d.allowed = true;
  for (int i = 0; i < 4; ++i) d.mutations.push_back({"RG-CAPS-001", "capabilities", "replace", "/process/user/uid", Json(1000), true});
  d.findings.push_back({"RG-CAPS-001", "capabilities", policy::Severity::kHigh, Action::kEnforce, "runs as root", "/process/user/uid"});
  return d;
}

TEST(DecisionEvent, AllowedLine) {
  Decision d = allowed_decision();
  Json e = decision_event(sample_policy(), sample_context(), d, sample_time(), "node-1");
  EXPECT_EQ(e["time"], "2025-11-29T07:06:40.123456789Z");
  EXPECT_EQ(e["rule"], "runguard decision");
  EXPECT_EQ(e["priority"], "Notice");
  EXPECT_EQ(e["source"], "runguard");
  EXPECT_EQ(e["hostname"], "node-1");
  EXPECT_EQ(e["tags"], Json({"runguard", "decision"}));
  EXPECT_EQ(e["output"], "07:06:40.123456789: Notice container web-1 allowed (policy /etc/runguard/policy.yaml): 4 changes, 0 denials");
  EXPECT_EQ(e["output_fields"], Json({{"container.id", "web-1"},
                                      {"container.image", "docker.io/library/nginx:1.27"},
                                      {"container.image.digest", "sha256:" + std::string(64, 'c')},
                                      {"k8s.ns.name", "shop"},
                                      {"k8s.pod.name", "web-0"}}));
  EXPECT_EQ(e["runguard.kind"], "decision");
  EXPECT_EQ(e["runguard.action"], "allowed");
  EXPECT_EQ(e["runguard.policy"], "/etc/runguard/policy.yaml");
  EXPECT_EQ(e["runguard.container"], Json({{"id", "web-1"},
                                           {"name", "web"},
                                           {"image", "docker.io/library/nginx:1.27"},
                                           {"imageDigest", "sha256:" + std::string(64, 'c')},
                                           {"namespace", "shop"},
                                           {"pod", "web-0"}}));
  EXPECT_EQ(e["runguard.decision"], policy::decision_to_json(d));
  EXPECT_EQ(e.size(), 13u);
  // One line when serialised.
  EXPECT_EQ(dump_json(e).find('\n'), std::string::npos);
}

TEST(DecisionEvent, DeniedLineIsAWarning) {
  Decision d;
  d.allowed = false;
  d.findings.push_back({"RG-HOSTNS-001", "hostNamespaces", policy::Severity::kCritical, Action::kDeny, "host pid namespace", "/linux/namespaces"});
  policy::ContainerContext ctx = sample_context();
  ctx.image_digest.clear();  // unknown digest: an empty field, not a missing one
  Json e = decision_event(sample_policy(), ctx, d, sample_time(), "node-1");
  EXPECT_EQ(e["priority"], "Warning");
  EXPECT_EQ(e["runguard.action"], "denied");
  EXPECT_EQ(e["runguard.decision"]["allowed"], false);
  EXPECT_EQ(e["runguard.container"]["imageDigest"], "");
  EXPECT_EQ(e["output"], "07:06:40.123456789: Warning container web-1 denied (policy /etc/runguard/policy.yaml): 0 changes, 1 denial");
  EXPECT_EQ(e["output_fields"]["container.image.digest"], "");
}

TEST(DecisionEvent, AuditModeSaysWhatWasNotApplied) {
  Decision d = allowed_decision();
  d.mode = policy::Mode::kAudit;
  for (auto& m : d.mutations) m.applied = false;
  Json e = decision_event(sample_policy(), sample_context(), d, sample_time(), "n");
  EXPECT_EQ(e["output"],
            "07:06:40.123456789: Notice container web-1 allowed (policy /etc/runguard/policy.yaml): 0 changes, 0 denials "
            "(audit mode: 4 changes not applied)");
  EXPECT_EQ(e["runguard.decision"]["mode"], "audit");
}

// A spec full of credentials, evaluated under every mode and secretsInEnv action: the event line
// (what goes to the events file, the agent and every forwarder) names variables, never values.
TEST(DecisionEvent, NoEnvironmentValues) {
  const std::vector<std::string> secrets = {"s3cr3t-db-pass-9911", "AKIAIOSFODNN7EXAMPLE", "hunter2hunter2",
                                            "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "plain-value-of-a-normal-var"};
  Json spec = rgtest::parse(R"({"ociVersion":"1.0.2","process":{"user":{"uid":0,"gid":0},"args":["sh"],"cwd":"/","env":[
      "PATH=/bin","DB_PASSWORD=s3cr3t-db-pass-9911","CONFIG_BLOB=AKIAIOSFODNN7EXAMPLE",
      "REDIS=redis://default:hunter2hunter2@cache","GH=ghp_abcdefghijklmnopqrstuvwxyz0123456789",
      "NORMAL=plain-value-of-a-normal-var"]},"root":{"path":"rootfs"},"linux":{}})");
  for (policy::Mode mode : {policy::Mode::kEnforce, policy::Mode::kAudit}) {
    for (Action a : {Action::kEnforce, Action::kDeny, Action::kAudit}) {
      policy::Policy p = rgtest::defaults();
      p.controls.user_namespace.action = Action::kOff;  // no range allocated in a unit test
      p.controls.monitor.action = Action::kOff;
      p.controls.secrets_in_env.action = a;
      p.mode = mode;
      Decision d = policy::evaluate_spec(p, spec, sample_context());
      Json e = decision_event(p, sample_context(), d, sample_time(), "node-1");
      std::string line = dump_json(e);
      SCOPED_TRACE(line);
      EXPECT_EQ(e["runguard.action"], d.allowed ? "allowed" : "denied");
      for (const auto& s : secrets) EXPECT_EQ(line.find(s), std::string::npos) << s;
      EXPECT_NE(line.find("DB_PASSWORD"), std::string::npos);  // the name is what operators need
    }
  }
}

}  // namespace
}  // namespace runguard::pipeline::internal
