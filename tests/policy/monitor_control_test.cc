// The monitor control: which syscalls become SCMP_ACT_NOTIFY rules, and the listener wiring.
#include "runguard/policy/monitor.h"

#include "policy_test_util.h"

namespace {

using namespace rgtest;  // NOLINT(google-build-using-namespace)
using runguard::policy::evaluate_spec;
using runguard::policy::plan_notify;

const Json* notify_rule(const Json& profile) {
  for (const auto& r : profile["syscalls"]) {
    if (r["action"] == "SCMP_ACT_NOTIFY") return &r;
  }
  return nullptr;
}

TEST(MonitorControl, AllowedSyscallsMoveToOneNotifyRule) {
  Json prof = parse(R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
      {"names":["read","execve","write"],"action":"SCMP_ACT_ALLOW"},
      {"names":["ptrace"],"action":"SCMP_ACT_ERRNO"},
      {"names":["unshare"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2,"op":"SCMP_CMP_EQ"}]},
      {"names":["mount"],"action":"SCMP_ACT_ALLOW"}]})");
  auto plan = plan_notify(&prof, {"execve", "ptrace", "unshare", "mount", "bpf"});
  EXPECT_EQ(plan.notified, (std::vector<std::string>{"execve", "mount"}));
  ASSERT_EQ(plan.skipped.size(), 3u);  // ptrace refused, unshare conditional, bpf not allowed by default
  const Json* n = notify_rule(plan.profile);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ((*n)["names"], Json::array({"execve", "mount"}));
  EXPECT_EQ(plan.profile["syscalls"][0]["names"], Json::array({"read", "write"}));
  EXPECT_EQ(plan.profile["syscalls"].size(), 4u);  // the mount-only rule is gone, the notify rule added
  EXPECT_EQ(plan.profile["defaultAction"], "SCMP_ACT_ERRNO");
}

TEST(MonitorControl, NoProfileMeansAllowEverythingButTheWatchedOnes) {
  auto plan = plan_notify(nullptr, {"execve"});
  EXPECT_EQ(plan.profile["defaultAction"], "SCMP_ACT_ALLOW");
  EXPECT_EQ(plan.notified, (std::vector<std::string>{"execve"}));
}

TEST(MonitorControl, EvaluationWiresTheListener) {
  Policy p = only_defaults_off();
  p.state_dir = "/run/rg";
  p.controls.monitor.action = Action::kEnforce;
  p.controls.seccomp.action = Action::kEnforce;  // the default profile, then the notify rule
  ContainerContext ctx;
  ctx.id = "c1";
  Decision d = evaluate_spec(p, parse(R"({"linux":{}})"), ctx);
  ASSERT_TRUE(d.allowed);
  const Json& s = d.result["linux"]["seccomp"];
  EXPECT_EQ(s["listenerPath"], "/run/rg/c1/monitor.sock");
  EXPECT_EQ(s["listenerMetadata"], "c1");
  EXPECT_EQ(s["defaultAction"], "SCMP_ACT_ERRNO");
  const Json* n = notify_rule(s);
  ASSERT_NE(n, nullptr);
  EXPECT_NE(std::find((*n)["names"].begin(), (*n)["names"].end(), "execve"), (*n)["names"].end());
  EXPECT_EQ(count_id(d, "RG-MON-001"), 1u) << describe(d);
  // Audit installs it too (rules alert only); mode audit changes nothing.
  p.controls.monitor.action = Action::kAudit;
  EXPECT_TRUE(evaluate_spec(p, parse(R"({"linux":{}})"), ctx).result["linux"]["seccomp"].contains("listenerPath"));
  p.mode = runguard::policy::Mode::kAudit;
  EXPECT_FALSE(evaluate_spec(p, parse(R"({"linux":{}})"), ctx).result["linux"].contains("seccomp"));
}

TEST(MonitorControl, AnotherListenerIsRefusedUnderEnforceAndReportedUnderAudit) {
  Policy p = only_defaults_off();
  p.controls.monitor.action = Action::kEnforce;
  Json spec = parse(R"({"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock",
      "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}}})");
  ContainerContext ctx;
  ctx.id = "c1";
  Decision d = evaluate_spec(p, spec, ctx);
  EXPECT_FALSE(d.allowed);  // never started unwatched
  EXPECT_EQ(count_id(d, "RG-MON-002"), 1u);
  p.controls.monitor.action = Action::kAudit;
  d = evaluate_spec(p, spec, ctx);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.result, spec);
  // A listener with nothing notified is inert: runguard's replaces it.
  p.controls.monitor.action = Action::kEnforce;
  Json inert = parse(R"({"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/x"}}})");
  d = evaluate_spec(p, inert, ctx);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.result["linux"]["seccomp"]["listenerPath"], "/run/runguard/c1/monitor.sock");
}

TEST(MonitorControl, SocketPathTooLongIsRefused) {
  Policy p = only_defaults_off();
  p.controls.monitor.action = Action::kEnforce;
  ContainerContext ctx;
  ctx.id = std::string(100, 'a');
  Decision d = evaluate_spec(p, parse(R"({"linux":{}})"), ctx);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.denial_summary().find("RG-MON-003"), std::string::npos) << d.denial_summary();
}

TEST(MonitorPolicy, KeysLoadAndAreChecked) {
  auto ok = runguard::policy::parse_policy(R"(
events: { path: /var/log/rg/events.jsonl }
controls:
  monitor: { action: audit, syscalls: [execve, ptrace], rules: [/etc/runguard/rules/a.yaml], block: false }
)", "p.yaml", no_files);
  ASSERT_TRUE(ok.is_ok()) << ok.status().message();
  EXPECT_EQ(ok->events_path, "/var/log/rg/events.jsonl");
  EXPECT_EQ(ok->controls.monitor.syscalls, (std::vector<std::string>{"execve", "ptrace"}));
  EXPECT_FALSE(ok->controls.monitor.block);
  for (const char* bad : {"controls: { monitor: { syscalls: [write] } }", "controls: { monitor: { syscalls: [mmap] } }", "controls: { monitor: { syscalls: [exceve] } }",
                          "controls: { monitor: { action: deny } }", "controls: { monitor: { rules: [rel.yaml] } }",
                          "events: { path: rel }"}) {
    auto r = runguard::policy::parse_policy(bad, "p.yaml", no_files);
    EXPECT_FALSE(r.is_ok()) << bad;
    if (!r.is_ok()) {
      EXPECT_NE(r.status().message().find("p.yaml:1:"), std::string::npos) << r.status().message();
    }
  }
}

}  // namespace
