// The userNamespace control, the plan the runtime allocates by, and its interplay with the user
// control (allowRootInUserNamespace).
#include "runguard/policy/userns.h"

#include "policy_test_util.h"

namespace {

using namespace rgtest;  // NOLINT(google-build-using-namespace)
using runguard::policy::evaluate_process;
using runguard::policy::evaluate_spec;
using runguard::policy::parse_policy;
using runguard::policy::plan_user_namespace;
using runguard::policy::UsernsPlan;

Policy userns_only() {
  Policy p = only_defaults_off();
  p.controls.user_namespace.action = Action::kEnforce;
  return p;
}

Json map_json(uint32_t host, uint32_t size) { return Json::array({{{"containerID", 0}, {"hostID", host}, {"size", size}}}); }

Json own_mappings_spec(uint32_t host) {
  Json s = parse(R"({"linux":{"namespaces":[{"type":"pid"},{"type":"user"}]}})");
  s["linux"]["uidMappings"] = map_json(host, 65536);
  s["linux"]["gidMappings"] = map_json(host, 65536);
  return s;
}

ContainerContext allocated(uint32_t host, uint32_t size) {
  ContainerContext ctx;
  ctx.userns = ContainerContext::UsernsRange{host, size, false};
  return ctx;
}

TEST(UsernsControl, EnforceMapsTheAllocatedRange) {
  Json spec = parse(R"({"linux":{"namespaces":[{"type":"pid"}]}})");
  Decision d = evaluate_spec(userns_only(), spec, allocated(1073807360u, 65536));
  ASSERT_TRUE(d.allowed);
  ASSERT_EQ(count_id(d, "RG-USERNS-001"), 1u) << describe(d);
  EXPECT_NE(d.findings[0].message.find("host ids 1073807360-1073872895"), std::string::npos) << d.findings[0].message;
  EXPECT_EQ(d.result["linux"]["uidMappings"], map_json(1073807360u, 65536));
  EXPECT_EQ(d.result["linux"]["gidMappings"], map_json(1073807360u, 65536));
  EXPECT_EQ(d.result["linux"]["namespaces"][1], Json({{"type", "user"}}));
}

TEST(UsernsControl, PlanAllocatesOnlyWhenEnforcingASpecWithoutOne) {
  Policy p = userns_only();
  Json bare = parse(R"({"linux":{"namespaces":[{"type":"pid"}]}})");
  EXPECT_EQ(plan_user_namespace(p, bare, {}).kind, UsernsPlan::kAllocate);
  EXPECT_EQ(plan_user_namespace(p, parse(R"({"linux":{"namespaces":[{"type":"user"}]}})"), {}).kind, UsernsPlan::kAllocate);
  EXPECT_EQ(plan_user_namespace(p, parse(R"({"linux":{"namespaces":[{"type":"user","path":"/proc/1/ns/user"}]}})"), {}).kind,
            UsernsPlan::kAllocate);
  // Joining a (non-host) namespace by path: its creator got the range.
  EXPECT_EQ(plan_user_namespace(p, parse(R"({"linux":{"namespaces":[{"type":"user","path":"/proc/77/ns/user"}]}})"), {}).kind,
            UsernsPlan::kNone);
  UsernsPlan own = plan_user_namespace(p, own_mappings_spec(300000), {});
  EXPECT_EQ(own.kind, UsernsPlan::kReserve);
  ASSERT_EQ(own.uid_maps.size(), 1u);
  EXPECT_EQ(own.uid_maps[0].host_id, 300000u);

  p.controls.user_namespace.action = Action::kDeny;
  EXPECT_EQ(plan_user_namespace(p, bare, {}).kind, UsernsPlan::kNone);
  p.controls.user_namespace.action = Action::kEnforce;
  p.mode = runguard::policy::Mode::kAudit;  // audit mode takes nothing
  EXPECT_EQ(plan_user_namespace(p, bare, {}).kind, UsernsPlan::kNone);
}

TEST(UsernsControl, OwnMappingsAboveMinHostIdAreKept) {
  Json spec = own_mappings_spec(300000);
  Decision d = evaluate_spec(userns_only(), spec, {});
  EXPECT_TRUE(d.findings.empty()) << describe(d);
  EXPECT_EQ(d.result, spec);
}

TEST(UsernsControl, OwnMappingsReachingHostIdsAreDeniedEvenUnderEnforce) {
  for (uint32_t host : {0u, 1000u, 65535u - 100}) {
    Json spec = own_mappings_spec(host);
    Decision d = evaluate_spec(userns_only(), spec, {});
    EXPECT_FALSE(d.allowed) << host;
    EXPECT_EQ(count_id(d, "RG-USERNS-002"), 2u) << describe(d);
    EXPECT_NE(d.denial_summary().find("minHostId"), std::string::npos) << d.denial_summary();
    EXPECT_EQ(d.result, spec);
  }
  Policy audit = userns_only();
  audit.controls.user_namespace.action = Action::kAudit;
  Decision d = evaluate_spec(audit, own_mappings_spec(0), {});
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(count_id(d, "RG-USERNS-002"), 2u);
}

TEST(UsernsControl, DenyRefusesASpecWithoutOne) {
  Policy p = userns_only();
  p.controls.user_namespace.action = Action::kDeny;
  Decision d = evaluate_spec(p, parse(R"({"linux":{"namespaces":[{"type":"pid"}]}})"), {});
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.denial_summary().find("RG-USERNS-001"), std::string::npos);
}

TEST(UsernsControl, RootIsAllowedInsideOnlyWhenThePolicySaysSo) {
  Policy p = userns_only();
  p.controls.user.action = Action::kEnforce;
  Json root = parse(R"({"process":{"user":{"uid":0,"gid":0}},"linux":{"namespaces":[{"type":"pid"}]}})");

  Decision strict = evaluate_spec(p, root, allocated(1073741824u, 65536));
  EXPECT_EQ(strict.result["process"]["user"]["uid"], 65532);

  p.controls.user.allow_root_in_user_namespace = true;
  Decision inside = evaluate_spec(p, root, allocated(1073741824u, 65536));
  EXPECT_EQ(inside.result["process"]["user"]["uid"], 0);
  EXPECT_EQ(count_id(inside, "RG-USER-001"), 0u) << describe(inside);

  // Without a user namespace root stays root on the host: not allowed.
  p.controls.user_namespace.action = Action::kOff;
  Decision host = evaluate_spec(p, root, {});
  EXPECT_EQ(host.result["process"]["user"]["uid"], 65532);
  // Nor with a mapping of container root to host root.
  p.controls.user_namespace.action = Action::kAudit;
  Json zero = own_mappings_spec(0);
  zero["process"] = parse(R"({"user":{"uid":0,"gid":0}})");
  Decision zd = evaluate_spec(p, zero, {});
  EXPECT_EQ(zd.result["process"]["user"]["uid"], 65532) << describe(zd) << zd.result.dump();
}

TEST(UsernsControl, ExecUsesTheNamespaceRecordedAtCreate) {
  Policy p = only_defaults_off();
  p.controls.user.action = Action::kEnforce;
  p.controls.user.allow_root_in_user_namespace = true;
  Json proc = parse(R"({"user":{"uid":0,"gid":0},"args":["sh"]})");
  EXPECT_EQ(evaluate_process(p, proc, allocated(1073741824u, 65536)).result["user"]["uid"], 0);
  EXPECT_EQ(evaluate_process(p, proc, {}).result["user"]["uid"], 65532);
}

TEST(UsernsControl, ContextRoundTripKeepsTheRange) {
  ContainerContext c = allocated(1073807360u, 65536);
  c.id = "x";
  auto back = runguard::policy::context_from_json(runguard::policy::context_to_json(c));
  ASSERT_TRUE(back.userns.has_value());
  EXPECT_EQ(back.userns->host_id, 1073807360u);
  EXPECT_EQ(back.userns->size, 65536u);
  EXPECT_FALSE(runguard::policy::context_from_json(runguard::policy::context_to_json(ContainerContext{})).userns);
}

TEST(UsernsPolicy, KeysLoadAndAreChecked) {
  auto ok = parse_policy(R"(
controls:
  userNamespace: { action: enforce, rangeSize: 65536, firstHostId: 1000000000, count: 100, minHostId: 100000, fallback: chown }
  user: { action: enforce, allowRootInUserNamespace: true }
)", "p.yaml", no_files);
  ASSERT_TRUE(ok.is_ok()) << ok.status().message();
  const auto& u = ok->controls.user_namespace;
  EXPECT_EQ(u.first_host_id, 1000000000u);
  EXPECT_EQ(u.count, 100u);
  EXPECT_EQ(u.min_host_id, 100000u);
  EXPECT_EQ(u.fallback, runguard::policy::UserNamespaceControl::Fallback::kChown);
  EXPECT_TRUE(ok->controls.user.allow_root_in_user_namespace);

  struct Bad { const char* yaml; const char* says; };
  for (const Bad& b : {Bad{"controls: { userNamespace: { firstHostId: 4294000000, count: 100 } }", "runs past the largest host id"},
                       Bad{"controls: { userNamespace: { firstHostId: 1000 } }", "below minHostId"},
                       Bad{"controls: { userNamespace: { rangeSize: 1000 } }", "outside userNamespace.rangeSize"},
                       Bad{"controls: { userNamespace: { fallback: copy } }", "not one of none, chown"},
                       Bad{"controls: { userNamespace: { count: 0 } }", "out of range"},
                       Bad{"controls: { userNamespace: { rangesize: 10 } }", "did you mean rangeSize"},
                       Bad{"controls: { user: { allowRootInUserNamespace: yes } }", "not one of true, false"}}) {
    auto r = parse_policy(b.yaml, "p.yaml", no_files);
    ASSERT_FALSE(r.is_ok()) << b.yaml;
    EXPECT_NE(r.status().message().find(b.says), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("p.yaml:1:"), std::string::npos) << r.status().message();
  }
  // A small range works when the enforced uid fits in it.
  EXPECT_TRUE(parse_policy("controls: { userNamespace: { rangeSize: 1000 }, user: { uid: 999, gid: 999 } }", "p.yaml", no_files).is_ok());
}

TEST(UsernsPolicy, AnnotationOverrideMayNotAllowRootOrDropTheNamespace) {
  for (const char* controls : {"{ user: { allowRootInUserNamespace: true } }", "{ userNamespace: { action: audit } }"}) {
    std::string yaml = std::string("overrides:\n  - match: { annotations: { team: x } }\n    controls: ") + controls + "\n";
    auto r = parse_policy(yaml, "p.yaml", no_files);
    ASSERT_FALSE(r.is_ok()) << yaml;
    EXPECT_NE(r.status().message().find("trustedAnnotations"), std::string::npos) << r.status().message();
  }
}

}  // namespace

namespace {

// runc 1.1 joins the user namespace first on exec; a container that joins another's network
// namespace (a Kubernetes pod on containerd 1.x) keeps the host's user namespace, reported.
TEST(UsernsControl, JoinedNamespacesKeepTheHostsAndAreReported) {
  Json pod = parse(R"({"linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/var/run/netns/cni-1"}]}})");
  Policy p = userns_only();
  EXPECT_EQ(plan_user_namespace(p, pod, {}).kind, UsernsPlan::kNone);
  Decision d = evaluate_spec(p, pod, {});
  EXPECT_TRUE(d.allowed);
  ASSERT_EQ(count_id(d, "RG-USERNS-003"), 1u) << describe(d);
  EXPECT_EQ(findings_with(d, "RG-USERNS-003")[0]->action, Action::kAudit);
  EXPECT_NE(d.findings[0].message.find("/var/run/netns/cni-1"), std::string::npos);
  EXPECT_EQ(d.result, pod);

  p.controls.user_namespace.action = Action::kDeny;
  EXPECT_FALSE(evaluate_spec(p, pod, {}).allowed);

  // A host path the hostNamespaces control removes does not count: the container gets its own.
  Json host = parse(R"({"linux":{"namespaces":[{"type":"network","path":"/proc/1/ns/net"}]}})");
  Policy both = userns_only();
  both.controls.host_namespaces.action = Action::kEnforce;
  EXPECT_EQ(plan_user_namespace(both, host, {}).kind, UsernsPlan::kAllocate);
  Decision h = evaluate_spec(both, host, allocated(1073741824u, 65536));
  EXPECT_EQ(count_id(h, "RG-USERNS-001"), 1u) << describe(h);
  EXPECT_EQ(count_id(h, "RG-USERNS-003"), 0u);
}

}  // namespace

namespace {

TEST(UsernsHelpers, HostIdOfAContainerId) {
  Json spec = own_mappings_spec(300000);
  EXPECT_EQ(runguard::policy::host_id_of(spec, 0, false), 300000u);
  EXPECT_EQ(runguard::policy::host_id_of(spec, 65532, true), 365532u);
  EXPECT_EQ(runguard::policy::host_id_of(spec, 65536, false), std::nullopt);
  EXPECT_EQ(runguard::policy::host_id_of(parse(R"({"linux":{}})"), 1000, false), 1000u);
}

}  // namespace

namespace {

// Review findings: the plan and the control must agree, so that no mapping is written without
// an allocation (host namespace paths when hostNamespaces does not remove them).
TEST(UsernsControl, PlanAndControlAgreeOnHostPathsKept) {
  Json spec = parse(R"({"linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/proc/1/ns/net"}]}})");
  Policy p = userns_only();  // hostNamespaces off: the host path stays
  EXPECT_EQ(plan_user_namespace(p, spec, {}).kind, UsernsPlan::kNone);
  Decision d = evaluate_spec(p, spec, {});
  EXPECT_EQ(count_id(d, "RG-USERNS-003"), 1u) << describe(d);
  EXPECT_EQ(count_id(d, "RG-USERNS-001"), 0u);
  EXPECT_FALSE(d.result["linux"].contains("uidMappings"));
}

TEST(UsernsControl, OwnMappingsLargerThanARangeAreRefused) {
  Json spec = own_mappings_spec(300000);
  spec["linux"]["uidMappings"][0]["size"] = 1000000u;
  Decision d = evaluate_spec(userns_only(), spec, {});
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.denial_summary().find("at most userNamespace.rangeSize"), std::string::npos) << d.denial_summary();
}

TEST(UsernsControl, RootAllowedOnlyWhenItMapsAboveMinHostId) {
  Policy p = only_defaults_off();
  p.controls.user.action = Action::kEnforce;
  p.controls.user.allow_root_in_user_namespace = true;
  p.controls.user_namespace.action = Action::kAudit;
  Json spec = own_mappings_spec(1000);  // root inside is host user 1000
  spec["process"] = parse(R"({"user":{"uid":0,"gid":0}})");
  EXPECT_EQ(evaluate_spec(p, spec, {}).result["process"]["user"]["uid"], 65532);
  Json proc = parse(R"({"user":{"uid":0,"gid":0}})");
  EXPECT_EQ(evaluate_process(p, proc, allocated(1000, 65536)).result["user"]["uid"], 65532);
}

}  // namespace
