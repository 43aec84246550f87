// Edge cases of the process and resource controls: user, capabilities, noNewPrivileges, seccomp,
// resources (memory, pids, cpu shares, rlimits and the swap/reservation companion fixes).

#include <gtest/gtest.h>

#include <string>

#include "policy_test_util.h"
#include "runguard/policy/decision.h"

namespace {

using namespace rgtest;  // NOLINT(google-build-using-namespace)
using runguard::policy::evaluate_spec;

Decision eval_with(void (*set)(Controls&), const std::string& spec_text, const ContainerContext& ctx = {}) {
  Policy p = only_defaults_off();
  set(p.controls);
  Json spec = parse(spec_text);
  EXPECT_TRUE(runguard::policy::validate_spec(spec, "config.json").is_ok()) << spec_text;
  return evaluate_spec(p, spec, ctx);
}

// ---- user ----------------------------------------------------------------------------------

TEST(UserControl, UsesThePolicyUidAndGid) {
  Decision d = eval_with([](Controls& c) { c.user = {Action::kEnforce, 1234, 5678}; },
                         R"({"process":{"user":{"uid":0,"gid":0}}})");
  EXPECT_EQ(d.result["process"]["user"], parse(R"({"uid":1234,"gid":5678})"));
  ASSERT_EQ(count_id(d, "RG-USER-001"), 1u) << describe(d);
  EXPECT_NE(d.findings[0].message.find("1234"), std::string::npos) << d.findings[0].message;
  EXPECT_EQ(d.findings[0].pointer, "/process/user/uid");
}

TEST(UserControl, NonRootUserIsLeftAlone) {
  Decision d = eval_with([](Controls& c) { c.user.action = Action::kEnforce; },
                         R"({"process":{"user":{"uid":1000,"gid":1000,"additionalGids":[5,6]}}})");
  EXPECT_TRUE(d.findings.empty()) << describe(d);
}

TEST(UserControl, DenyReportsUidAndGidSeparately) {
  Decision d = eval_with([](Controls& c) { c.user.action = Action::kDeny; }, R"({"process":{"user":{"uid":0,"gid":0}}})");
  EXPECT_EQ(count_id(d, "RG-USER-001"), 1u);
  EXPECT_EQ(count_id(d, "RG-USER-002"), 1u) << describe(d);
  EXPECT_FALSE(d.allowed);
}

// runc decodes `"uid": null` into a Go uint32 as 0, and validate_spec treats null as absent; an
// absent uid is root to the user control, so a null one must be too.
TEST(UserControl, NullUidIsRoot) {
  Decision d = eval_with([](Controls& c) { c.user.action = Action::kEnforce; },
                         R"({"process":{"user":{"uid":null,"gid":null}}})");
  EXPECT_FALSE(count_id(d, "RG-USER-001") == 0) << "regression: policy/src/process_controls.cc check_user: a JSON null uid/gid is neither nullptr nor "
                    "uint 0, so {\"uid\":null} (which runc runs as uid 0) passes the user control";
  EXPECT_EQ(d.result["process"]["user"]["uid"], 65532);
  EXPECT_EQ(d.result["process"]["user"]["gid"], 65532);
}

// ---- capabilities ----------------------------------------------------------------------------

TEST(CapabilitiesControl, AllowListIsCaseInsensitiveAndKeepsSpelling) {
  Decision d = eval_with(
      [](Controls& c) { c.capabilities = {Action::kEnforce, {"CAP_NET_BIND_SERVICE", "CAP_CHOWN"}}; },
      R"({"process":{"capabilities":{"bounding":["net_bind_service","CAP_CHOWN","CAP_SYS_PTRACE"],
          "inheritable":["CAP_SYS_PTRACE"],"permitted":["CAP_CHOWN"]}}})");
  const Json& caps = d.result["process"]["capabilities"];
  EXPECT_EQ(caps["bounding"], parse(R"(["net_bind_service","CAP_CHOWN"])"));
  EXPECT_EQ(caps["inheritable"], Json::array());
  EXPECT_EQ(caps["permitted"], parse(R"(["CAP_CHOWN"])"));
  ASSERT_EQ(count_id(d, "RG-CAPS-001"), 2u) << describe(d);
  EXPECT_EQ(d.findings[0].pointer, "/process/capabilities/bounding");
  EXPECT_NE(d.findings[0].message.find("CAP_SYS_PTRACE"), std::string::npos) << d.findings[0].message;
  EXPECT_EQ(d.findings[1].pointer, "/process/capabilities/inheritable");
}

TEST(CapabilitiesControl, EmptyAllowListStripsEverything) {
  Decision d = eval_with([](Controls& c) { c.capabilities = {Action::kEnforce, {}}; },
                         R"({"process":{"capabilities":{"bounding":["CAP_NET_BIND_SERVICE"]}}})");
  EXPECT_EQ(d.result["process"]["capabilities"]["bounding"], Json::array());
}

TEST(CapabilitiesControl, AbsentCapabilitiesAreFine) {
  Decision d = eval_with([](Controls& c) { c.capabilities.action = Action::kDeny; }, R"({"process":{}})");
  EXPECT_TRUE(d.findings.empty()) << describe(d);
}

// ---- noNewPrivileges / seccomp ----------------------------------------------------------------

TEST(NoNewPrivilegesControl, TrueIsCompliant) {
  Decision d = eval_with([](Controls& c) { c.no_new_privileges.action = Action::kDeny; },
                         R"({"process":{"noNewPrivileges":true}})");
  EXPECT_TRUE(d.findings.empty()) << describe(d);
}

TEST(SeccompControl, RestrictiveProfileIsKept) {
  const char* spec = R"({"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW",
      "syscalls":[{"names":["keyctl"],"action":"SCMP_ACT_ERRNO"}]}}})";
  Decision d = eval_with([](Controls& c) { c.seccomp.action = Action::kEnforce; }, spec);
  EXPECT_TRUE(d.findings.empty()) << describe(d);
  EXPECT_EQ(d.result, parse(spec));
}

TEST(SeccompControl, MutationRecordsTheProfileNameNotItsBody) {
  Decision d = eval_with([](Controls& c) { c.seccomp.action = Action::kEnforce; }, R"({"linux":{}})");
  ASSERT_EQ(d.mutations.size(), 1u);
  EXPECT_EQ(d.mutations[0].pointer, "/linux/seccomp");
  EXPECT_EQ(d.mutations[0].op, "add");
  EXPECT_EQ(d.mutations[0].value, "profile:default");
  EXPECT_EQ(d.result["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
}

TEST(SeccompControl, UnconfinedProfileIsReplaced) {
  Decision d = eval_with([](Controls& c) { c.seccomp.action = Action::kEnforce; },
                         R"({"linux":{"seccomp":{"defaultAction":"SCMP_ACT_LOG"}}})");
  ASSERT_EQ(count_id(d, "RG-SECCOMP-001"), 1u);
  EXPECT_NE(d.findings[0].message.find("allows every syscall"), std::string::npos) << d.findings[0].message;
  ASSERT_EQ(d.mutations.size(), 1u);
  EXPECT_EQ(d.mutations[0].op, "replace");
}

// ---- resources -------------------------------------------------------------------------------

void resources_enforce(Controls& c) { c.resources.action = Action::kEnforce; }

struct LimitCase {
  const char* name;
  const char* resources;   // linux.resources
  const char* pointer;     // inside the result
  Json want;               // null: left absent
  const char* id;          // expected finding, "" for none
};
RG_PRINT_BY_NAME(LimitCase)

class ResourceLimitTest : public ::testing::TestWithParam<LimitCase> {};

TEST_P(ResourceLimitTest, DefaultsAndClamps) {
  const LimitCase& c = GetParam();
  Decision d = eval_with(resources_enforce, std::string(R"({"linux":{"resources":)") + c.resources + "}}");
  auto got = at(d.result, c.pointer);
  if (c.want.is_null()) {
    EXPECT_FALSE(got.has_value()) << d.result.dump();
  } else {
    ASSERT_TRUE(got.has_value()) << d.result.dump();
    EXPECT_EQ(*got, c.want);
  }
  if (*c.id) {
    EXPECT_EQ(count_id(d, c.id), 1u) << describe(d);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Resources, ResourceLimitTest,
    ::testing::Values(
        LimitCase{"memory_default", "{}", "/linux/resources/memory/limit", 512LL << 20, "RG-RES-001"},
        LimitCase{"memory_zero_is_unlimited", R"({"memory":{"limit":0}})", "/linux/resources/memory/limit",
                  512LL << 20, "RG-RES-001"},
        LimitCase{"memory_minus1", R"({"memory":{"limit":-1}})", "/linux/resources/memory/limit", 512LL << 20,
                  "RG-RES-001"},
        LimitCase{"memory_at_max_kept", R"({"memory":{"limit":8589934592}})", "/linux/resources/memory/limit",
                  8LL << 30, ""},
        LimitCase{"memory_small_kept", R"({"memory":{"limit":1048576}})", "/linux/resources/memory/limit",
                  1048576, ""},
        LimitCase{"memory_above_max", R"({"memory":{"limit":8589934593}})", "/linux/resources/memory/limit",
                  8LL << 30, "RG-RES-001"},
        LimitCase{"pids_default", "{}", "/linux/resources/pids/limit", 1024, "RG-RES-003"},
        LimitCase{"pids_minus1", R"({"pids":{"limit":-1}})", "/linux/resources/pids/limit", 1024, "RG-RES-003"},
        LimitCase{"pids_kept", R"({"pids":{"limit":64}})", "/linux/resources/pids/limit", 64, ""},
        LimitCase{"pids_above_max", R"({"pids":{"limit":1000000}})", "/linux/resources/pids/limit", 32768,
                  "RG-RES-003"},
        LimitCase{"cpu_shares_default", "{}", "/linux/resources/cpu/shares", 1024, "RG-RES-002"},
        LimitCase{"cpu_shares_kept", R"({"cpu":{"shares":2}})", "/linux/resources/cpu/shares", 2, ""},
        LimitCase{"cpu_quota_counts_as_limit", R"({"cpu":{"quota":50000,"period":100000}})",
                  "/linux/resources/cpu/shares", Json(), ""},
        // swap (memory+swap) must stay >= the limit runguard sets; -1 and larger values are fine
        LimitCase{"swap_raised_to_default_limit", R"({"memory":{"swap":268435456}})", "/linux/resources/memory/swap",
                  512LL << 20, "RG-RES-001"},
        // When runguard sets the limit, swap follows it (no swap): unlimited or larger swap would
        // grant swap nobody asked for (CRI sends swap == limit for "no swap").
        LimitCase{"swap_unlimited_becomes_no_swap", R"({"memory":{"swap":-1}})", "/linux/resources/memory/swap", 512LL << 20, "RG-RES-001"},
        LimitCase{"swap_follows_clamped_limit", R"({"memory":{"limit":17179869184,"swap":17179869184}})",
                  "/linux/resources/memory/swap", 8LL << 30, "RG-RES-001"},
        LimitCase{"reservation_lowered_to_clamped_limit", R"({"memory":{"limit":17179869184,"reservation":12884901888}})",
                  "/linux/resources/memory/reservation", 8LL << 30, "RG-RES-001"},
        LimitCase{"reservation_below_limit_kept", R"({"memory":{"reservation":1048576}})",
                  "/linux/resources/memory/reservation", 1048576, "RG-RES-001"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ResourcesControl, NoDefaultsConfiguredMeansOnlyMaxima) {
  Policy p = only_defaults_off();
  p.controls.resources.action = Action::kEnforce;
  p.controls.resources.memory = {std::nullopt, 1LL << 30};
  p.controls.resources.pids = {std::nullopt, std::nullopt};
  p.controls.resources.cpu_default_shares.reset();
  p.controls.resources.rlimits.clear();
  Decision d = evaluate_spec(p, parse(R"({"linux":{"resources":{}}})"), {});
  // With no default the maximum is the limit an unlimited container gets; pids stays unlimited.
  EXPECT_EQ(d.result["linux"]["resources"]["memory"]["limit"], 1LL << 30);
  EXPECT_FALSE(d.result["linux"]["resources"].contains("pids"));
  EXPECT_FALSE(d.result["linux"]["resources"].contains("cpu"));
  EXPECT_EQ(d.findings.size(), 1u) << describe(d);
}

TEST(ResourcesControl, RlimitAboveMaxIsClampedSoftAndHard) {
  Policy p = only_defaults_off();
  p.controls.resources.action = Action::kEnforce;
  p.controls.resources.rlimits["RLIMIT_NOFILE"] = {std::nullopt, 4096};
  p.controls.resources.rlimits["RLIMIT_NPROC"] = {std::nullopt, 100};
  Json spec = parse(R"({"process":{"rlimits":[{"type":"RLIMIT_NOFILE","hard":1048576,"soft":1024},
                                           {"type":"RLIMIT_NPROC","hard":50,"soft":50}]},
                        "linux":{"resources":{"memory":{"limit":1024},"pids":{"limit":10},"cpu":{"shares":2}}}})");
  Decision d = evaluate_spec(p, spec, {});
  EXPECT_EQ(d.result["process"]["rlimits"][0], parse(R"({"type":"RLIMIT_NOFILE","hard":4096,"soft":1024})"));
  EXPECT_EQ(d.result["process"]["rlimits"][1], spec["process"]["rlimits"][1]);
  ASSERT_EQ(count_id(d, "RG-RES-004"), 1u) << describe(d);
  EXPECT_EQ(d.findings[0].pointer, "/process/rlimits/0");
}

TEST(ResourcesControl, SeveralMissingRlimitsAreAppendedInOrder) {
  Policy p = only_defaults_off();
  p.controls.resources.action = Action::kEnforce;
  p.controls.resources.rlimits["RLIMIT_CORE"] = {0, std::nullopt};
  Decision d = evaluate_spec(p, parse(R"({"process":{"rlimits":[]}})"), {});
  EXPECT_EQ(d.result["process"]["rlimits"],
            parse(R"([{"type":"RLIMIT_CORE","hard":0,"soft":0},{"type":"RLIMIT_NOFILE","hard":16384,"soft":16384}])"));
  EXPECT_EQ(count_id(d, "RG-RES-004"), 2u) << describe(d);
}

// The companion fix keeps runc from refusing swap < limit *after runguard lowered the limit*.
// When the resources control only audits (or denies) and the limit is within bounds, runguard
// has changed nothing, so it must not edit swap either: audit means "record, change nothing".
TEST(ResourcesControl, AuditChangesNoCompanionField) {
  Policy p = only_defaults_off();
  p.controls.resources.action = Action::kAudit;
  Json spec = parse(R"({"linux":{"resources":{"memory":{"limit":1073741824,"swap":536870912},
                        "pids":{"limit":10},"cpu":{"shares":2}}}})");
  Decision d = evaluate_spec(p, spec, {});
  EXPECT_EQ(d.result, spec) << "audit must not edit memory.swap/reservation";
  EXPECT_TRUE(d.mutations.empty());
}

TEST(ResourcesControl, CompanionMutationIsAttributedToResources) {
  Policy p = only_defaults_off();
  p.controls.resources.action = Action::kEnforce;
  p.controls.user.action = Action::kEnforce;
  Json spec = parse(R"({"process":{"user":{"uid":0,"gid":0}},
      "linux":{"resources":{"memory":{"limit":1073741824,"swap":536870912},"pids":{"limit":10},"cpu":{"shares":2}}}})");
  Decision d = evaluate_spec(p, spec, {});
  for (const auto& m : d.mutations) {
    if (m.pointer != "/linux/resources/memory/swap") continue;
    EXPECT_FALSE(m.control != "resources") << "regression: policy/src/spec_controls.cc fix_memory_companions records its mutation under the last "
                      "violation (here control \"" << m.control << "\", id " << m.id << ") instead of resources";
  }
}

}  // namespace
