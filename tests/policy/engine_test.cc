// The engine around the controls: global audit mode, denial rollback, override selection,
// unknown-field preservation, exec process and update documents, and input validation.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <type_traits>
#include <vector>

#include "policy_test_util.h"
#include "runguard/policy/context.h"
#include "runguard/policy/decision.h"

namespace {

using namespace rgtest;  // NOLINT(google-build-using-namespace)
using runguard::policy::decision_to_json;
using runguard::policy::evaluate_process;
using runguard::policy::evaluate_spec;
using runguard::policy::evaluate_update;
using runguard::policy::Mode;

constexpr const char* kRootSpec = R"({
  "ociVersion":"1.0.2",
  "process":{"user":{"uid":0,"gid":0},"args":["sh"],"env":["PATH=/bin","DB_PASSWORD=hunter2hunter2"],
             "capabilities":{"bounding":["CAP_SYS_ADMIN"]}},
  "root":{"path":"rootfs"},
  "linux":{"namespaces":[{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}]}})";

// ---- global mode ------------------------------------------------------------------------------

TEST(GlobalAuditMode, ChangesNothingAndDeniesNothing) {
  Policy p = defaults();
  p.mode = Mode::kAudit;
  Json spec = parse(kRootSpec);
  Decision d = evaluate_spec(p, spec, {});
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.result.dump(), spec.dump());
  EXPECT_EQ(d.mode, Mode::kAudit);
  ASSERT_FALSE(d.findings.empty());
  for (const auto& f : d.findings) EXPECT_EQ(f.action, Action::kAudit) << f.id;
  // hostNamespaces and secretsInEnv deny by default: recorded as what would have happened.
  for (const char* id : {"RG-HOSTNS-001", "RG-ENV-001"}) {
    auto f = findings_with(d, id);
    ASSERT_EQ(f.size(), 1u) << id << ": " << describe(d);
    EXPECT_EQ(f[0]->message.rfind("would deny: ", 0), 0u) << f[0]->message;
  }
  // enforce controls record what they would have changed.
  ASSERT_FALSE(d.mutations.empty());
  for (const auto& m : d.mutations) EXPECT_FALSE(m.applied) << m.pointer;
  Json j = decision_to_json(d);
  EXPECT_EQ(j["mode"], "audit");
  EXPECT_EQ(j["allowed"], true);
  EXPECT_TRUE(d.denial_summary().empty());
}

TEST(GlobalEnforceMode, DenialRollsBackEveryMutation) {
  Policy p = defaults();
  Json spec = parse(kRootSpec);
  Decision d = evaluate_spec(p, spec, {});
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.result.dump(), spec.dump());
  EXPECT_GT(count_id(d, "RG-USER-001"), 0u);
  for (const auto& m : d.mutations) EXPECT_FALSE(m.applied) << m.pointer;
  EXPECT_NE(d.denial_summary().find("[RG-HOSTNS-001]"), std::string::npos) << d.denial_summary();
}

// Rolling back must give back the input byte for byte, including containers that were absent
// or null before a control created fields below them.
std::string rollback_mismatch(const char* text) {
  Policy p = defaults();
  p.controls.host_namespaces.action = Action::kEnforce;
  p.controls.readonly_rootfs.action = Action::kEnforce;
  Json spec = parse(text);
  EXPECT_TRUE(runguard::policy::validate_spec(spec, "config.json").is_ok()) << text;
  for (Mode mode : {Mode::kEnforce, Mode::kAudit}) {
    p.mode = mode;
    Decision d = evaluate_spec(p, spec, {});
    EXPECT_EQ(d.allowed, mode == Mode::kAudit);
    if (d.result.dump() != spec.dump()) return d.result.dump();
  }
  return "";
}

TEST(GlobalEnforceMode, RollbackRemovesAddedParents) {
  EXPECT_EQ(rollback_mismatch(R"({"mounts":[{"destination":"/e","type":"bind","source":"/etc"}]})"), "");
  EXPECT_EQ(rollback_mismatch(R"({"process":{"args":["sh"]},"linux":{"namespaces":[]},
      "mounts":[{"destination":"/e","type":"bind","source":"/etc"}]})"), "");
}

TEST(GlobalEnforceMode, RollbackRestoresNullParents) {
  for (const char* text : {R"({"process":null,"root":null,"linux":{"namespaces":null,"resources":null},
                               "mounts":[{"destination":"/e","type":"bind","source":"/etc"}]})",
                           R"({"process":{"rlimits":null,"user":null},"linux":null,
                               "mounts":[{"destination":"/e","type":"bind","source":"/etc"}]})"}) {
    std::string got = rollback_mismatch(text);
    EXPECT_FALSE(!got.empty()) << "regression: policy/src/eval.cc Eval::set journals kErase for the outermost *absent* ancestor, "
                      "but a null ancestor counts as present: doc_[ptr] = value turns it into {} or [] and "
                      "rollback() erases only the child, so a denied/audited spec comes back changed: "
                   << text << " -> " << got;
  }
}

// ---- overrides --------------------------------------------------------------------------------

constexpr const char* kOverridePolicy = R"(
trustedAnnotations: ["example.com/tier"]
overrides:
  - name: sandboxes
    match: { containerType: sandbox }
    controls: { readonlyRootfs: { action: off } }
  - name: kube-system
    match: { namespace: "kube-*" }
    controls: { user: { action: audit } }
  - name: nginx
    match: { image: "docker.io/library/nginx:*" }
    controls: { capabilities: { allow: [NET_BIND_SERVICE, CHOWN] } }
  - name: trusted
    match: { annotations: { "example.com/tier": "trusted-*" } }
    controls: { secretsInEnv: { action: audit } }
  - name: never-reached
    match: { containerType: sandbox }
    controls: { readonlyRootfs: { action: enforce } }
controls:
  readonlyRootfs: { action: deny }
  user: { action: deny, uid: 4242, gid: 4242 }
)";

Policy override_policy() {
  auto p = runguard::policy::parse_policy(kOverridePolicy, "test.yaml", no_files);
  EXPECT_TRUE(p.is_ok()) << p.status().message();
  return p.is_ok() ? std::move(p).value() : Policy();
}

struct OverrideCase {
  const char* name;
  void (*ctx)(ContainerContext&);
  const char* want;  // override name, "" for the top-level controls
};
RG_PRINT_BY_NAME(OverrideCase)

class OverrideSelectionTest : public ::testing::TestWithParam<OverrideCase> {};

TEST_P(OverrideSelectionTest, FirstMatchWins) {
  Policy p = override_policy();
  ContainerContext ctx;
  GetParam().ctx(ctx);
  std::string name = "unset";
  runguard::policy::select_controls(p, ctx, &name);
  EXPECT_EQ(name, GetParam().want);
  Decision d = evaluate_spec(p, parse(R"({"root":{"path":"r"}})"), ctx);
  EXPECT_EQ(d.override_name, GetParam().want);
  Json j = decision_to_json(d);
  EXPECT_EQ(j["override"], *GetParam().want ? Json(GetParam().want) : Json());
}

INSTANTIATE_TEST_SUITE_P(
    Overrides, OverrideSelectionTest,
    ::testing::Values(
        OverrideCase{"nothing_matches", [](ContainerContext& c) { c.container_type = "container"; }, ""},
        OverrideCase{"sandbox", [](ContainerContext& c) { c.container_type = "sandbox"; }, "sandboxes"},
        OverrideCase{"sandbox_in_kube_system_first_wins",
                     [](ContainerContext& c) {
                       c.container_type = "sandbox";
                       c.k8s_namespace = "kube-system";
                     },
                     "sandboxes"},
        OverrideCase{"namespace_glob", [](ContainerContext& c) { c.k8s_namespace = "kube-public"; }, "kube-system"},
        OverrideCase{"namespace_glob_no_match", [](ContainerContext& c) { c.k8s_namespace = "default"; }, ""},
        OverrideCase{"image_glob", [](ContainerContext& c) { c.image = "docker.io/library/nginx:1.27"; }, "nginx"},
        OverrideCase{"image_glob_no_match", [](ContainerContext& c) { c.image = "docker.io/library/redis:7"; }, ""},
        OverrideCase{"annotation_glob",
                     [](ContainerContext& c) { c.annotations["example.com/tier"] = "trusted-batch"; }, "trusted"},
        OverrideCase{"annotation_wrong_value",
                     [](ContainerContext& c) { c.annotations["example.com/tier"] = "untrusted"; }, ""}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Overrides, LooseningOneControlKeepsTheOthers) {
  Policy p = override_policy();
  ContainerContext ctx;
  ctx.container_type = "sandbox";
  Json spec = parse(R"({"root":{"path":"r"},"process":{"user":{"uid":0,"gid":0}}})");
  Decision d = evaluate_spec(p, spec, ctx);
  EXPECT_EQ(count_id(d, "RG-ROFS-001"), 0u) << describe(d);  // loosened
  auto user = findings_with(d, "RG-USER-001");                // still the top-level deny
  ASSERT_EQ(user.size(), 1u) << describe(d);
  EXPECT_EQ(user[0]->action, Action::kDeny);
  EXPECT_FALSE(d.allowed);
  // The override inherits top-level settings it does not mention, whatever the YAML order.
  const Controls& c = runguard::policy::select_controls(p, ctx, nullptr);
  EXPECT_EQ(c.user.uid, 4242u);
  EXPECT_EQ(c.seccomp.profile_json, p.controls.seccomp.profile_json);
  EXPECT_EQ(p.controls.readonly_rootfs.action, Action::kDeny);

  ContainerContext other;
  other.container_type = "container";
  Decision top = evaluate_spec(p, spec, other);
  EXPECT_EQ(findings_with(top, "RG-ROFS-001").at(0)->action, Action::kDeny);
}

TEST(Overrides, OverrideSettingsApplyOnlyToMatches) {
  Policy p = override_policy();
  ContainerContext nginx;
  nginx.image = "docker.io/library/nginx:latest";
  Json spec = parse(R"({"root":{"path":"r","readonly":true},"process":{"user":{"uid":1,"gid":1},
      "capabilities":{"bounding":["CAP_CHOWN","CAP_NET_BIND_SERVICE","CAP_KILL"]}},
      "linux":{"namespaces":[{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}]}})");
  Decision d = evaluate_spec(p, spec, nginx);
  ASSERT_TRUE(d.allowed) << d.denial_summary();
  EXPECT_EQ(d.result["process"]["capabilities"]["bounding"], parse(R"(["CAP_CHOWN","CAP_NET_BIND_SERVICE"])"));
  Decision plain = evaluate_spec(p, spec, {});
  EXPECT_EQ(plain.result["process"]["capabilities"]["bounding"], parse(R"(["CAP_NET_BIND_SERVICE"])"));
}

TEST(Overrides, ContextFromCriAnnotationsDrivesMatching) {
  Json spec = parse(R"({"annotations":{"io.kubernetes.cri.container-type":"sandbox",
      "io.kubernetes.cri.sandbox-namespace":"kube-system","io.kubernetes.cri.image-name":"nginx"}})");
  ContainerContext ctx = runguard::policy::context_from_spec(spec, "id1", "/b", "/run/containerd/runc/k8s.io");
  EXPECT_EQ(ctx.engine, "containerd-cri");
  EXPECT_EQ(ctx.container_type, "sandbox");
  EXPECT_EQ(ctx.k8s_namespace, "kube-system");
  std::string name;
  runguard::policy::select_controls(override_policy(), ctx, &name);
  EXPECT_EQ(name, "sandboxes");
}

// ---- unknown fields ---------------------------------------------------------------------------

TEST(UnknownFields, SurviveEnforceMutations) {
  const char* text = R"({"zzz":1,"ociVersion":"1.2.0","vendor.x":{"b":[1,{"deep":true}],"a":null},
    "process":{"fooBar":{"k":"v"},"user":{"uid":0,"gid":0,"umask":18},"args":["sh"],"env":["A=1"],"zeta":[]},
    "root":{"path":"rootfs","readonly":false,"x-extra":"y"},
    "linux":{"unknownLinux":7,"namespaces":[{"type":"pid","extra":1},{"type":"network"},{"type":"ipc"},
             {"type":"uts"},{"type":"mount"}],"resources":{"memory":{"limit":-1,"futureKnob":3}}},
    "annotations":{"b":"2","a":"1"}})";
  Json spec = parse(text);
  Policy p = defaults();
  p.controls.readonly_rootfs.action = Action::kEnforce;
  Decision d = evaluate_spec(p, spec, {});
  ASSERT_TRUE(d.allowed) << d.denial_summary();
  const Json& r = d.result;
  EXPECT_EQ(r["vendor.x"], spec["vendor.x"]);
  EXPECT_EQ(r["process"]["fooBar"], spec["process"]["fooBar"]);
  EXPECT_EQ(r["process"]["user"]["umask"], 18);
  EXPECT_EQ(r["root"]["x-extra"], "y");
  EXPECT_EQ(r["linux"]["unknownLinux"], 7);
  EXPECT_EQ(r["linux"]["namespaces"][0]["extra"], 1);
  EXPECT_EQ(r["linux"]["resources"]["memory"]["futureKnob"], 3);
  EXPECT_EQ(r["process"]["user"]["uid"], 65532);
  EXPECT_EQ(r["root"]["readonly"], true);
}

// ---- exec process -----------------------------------------------------------------------------

constexpr const char* kExecProcess = R"({"terminal":false,"user":{"uid":0,"gid":0},"args":["sh","-c","id"],
  "env":["PATH=/bin","GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789"],"cwd":"/",
  "capabilities":{"bounding":["CAP_SYS_ADMIN","CAP_NET_BIND_SERVICE"],"effective":["CAP_SYS_ADMIN"]},
  "noNewPrivileges":false,"rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}],"fooBar":1})";

TEST(EvaluateProcess, ExecProcessIsHardened) {
  Policy p = defaults();
  p.controls.secrets_in_env.action = Action::kEnforce;
  Json proc = parse(kExecProcess);
  ASSERT_TRUE(runguard::policy::validate_process(proc, "process.json").is_ok());
  Decision d = evaluate_process(p, proc, {});
  ASSERT_TRUE(d.allowed) << d.denial_summary();
  const Json& r = d.result;
  EXPECT_EQ(r["user"], parse(R"({"uid":65532,"gid":65532})"));
  EXPECT_EQ(r["capabilities"]["bounding"], parse(R"(["CAP_NET_BIND_SERVICE"])"));
  EXPECT_EQ(r["capabilities"]["effective"], Json::array());
  EXPECT_EQ(r["noNewPrivileges"], true);
  EXPECT_EQ(r["env"], parse(R"(["PATH=/bin"])"));
  EXPECT_EQ(r["rlimits"], proc["rlimits"]);
  EXPECT_EQ(r["fooBar"], 1);
  EXPECT_EQ(r["args"], proc["args"]);
  for (const auto& f : d.findings) EXPECT_EQ(f.pointer.rfind("/process", 0), std::string::npos) << f.pointer;
  // Container-level controls do not apply to an exec.
  for (const char* id : {"RG-SECCOMP-001", "RG-HOSTNS-001", "RG-ROFS-001", "RG-RES-001"}) EXPECT_EQ(count_id(d, id), 0u);
}

TEST(EvaluateProcess, DefaultPolicyDeniesSecretAndKeepsDocument) {
  Json proc = parse(kExecProcess);
  Decision d = evaluate_process(defaults(), proc, {});
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.result.dump(), proc.dump());
}

TEST(EvaluateProcess, RlimitDefaultAddedToExec) {
  Decision d = evaluate_process(defaults(), parse(R"({"user":{"uid":1,"gid":1},"noNewPrivileges":true})"), {});
  EXPECT_EQ(d.result["rlimits"], parse(R"([{"type":"RLIMIT_NOFILE","hard":16384,"soft":16384}])"));
}

// ---- update -----------------------------------------------------------------------------------

struct UpdateCase {
  const char* name;
  const char* in;
  const char* out;
  bool finding;
};
RG_PRINT_BY_NAME(UpdateCase)

class EvaluateUpdateTest : public ::testing::TestWithParam<UpdateCase> {};

TEST_P(EvaluateUpdateTest, ClampsToMaxima) {
  const UpdateCase& c = GetParam();
  Json in = parse(c.in);
  ASSERT_TRUE(runguard::policy::validate_resources(in, "update").is_ok());
  Decision d = evaluate_update(defaults(), in, {});
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.result, parse(c.out)) << d.result.dump();
  EXPECT_EQ(!d.findings.empty(), c.finding) << describe(d);
}

INSTANTIATE_TEST_SUITE_P(
    Update, EvaluateUpdateTest,
    ::testing::Values(
        UpdateCase{"empty_stays_empty", "{}", "{}", false},
        UpdateCase{"cpu_only_untouched", R"({"cpu":{"shares":2,"quota":-1}})", R"({"cpu":{"shares":2,"quota":-1}})", false},
        UpdateCase{"memory_within", R"({"memory":{"limit":1073741824}})", R"({"memory":{"limit":1073741824}})", false},
        UpdateCase{"memory_above_max", R"({"memory":{"limit":17179869184}})", R"({"memory":{"limit":8589934592}})", true},
        UpdateCase{"memory_minus1_to_max", R"({"memory":{"limit":-1}})", R"({"memory":{"limit":8589934592}})", true},
        UpdateCase{"memory_object_without_limit", R"({"memory":{"reservation":1048576}})",
                   R"({"memory":{"reservation":1048576}})", false},
        UpdateCase{"swap_follows_clamped_limit", R"({"memory":{"limit":-1,"swap":4294967296}})",
                   R"({"memory":{"limit":8589934592,"swap":8589934592}})", true},
        UpdateCase{"pids_within", R"({"pids":{"limit":100}})", R"({"pids":{"limit":100}})", false},
        UpdateCase{"pids_above_max", R"({"pids":{"limit":50000}})", R"({"pids":{"limit":32768}})", true},
        UpdateCase{"pids_minus1_to_max", R"({"pids":{"limit":-1}})", R"({"pids":{"limit":32768}})", true},
        UpdateCase{"both", R"({"memory":{"limit":-1},"pids":{"limit":-1},"blockIO":{"weight":10}})",
                   R"({"memory":{"limit":8589934592},"pids":{"limit":32768},"blockIO":{"weight":10}})", true}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(EvaluateUpdate, DenyRefusesAndKeepsDocument) {
  Policy p = defaults();
  p.controls.resources.action = Action::kDeny;
  Json in = parse(R"({"memory":{"limit":-1}})");
  Decision d = evaluate_update(p, in, {});
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.result, in);
}

// ---- validation -------------------------------------------------------------------------------

struct ValidateCase {
  const char* name;
  const char* doc;
  const char* error;  // "" = valid; else the whole expected message
};
RG_PRINT_BY_NAME(ValidateCase)

class ValidateSpecTest : public ::testing::TestWithParam<ValidateCase> {};

TEST_P(ValidateSpecTest, NamesPointerAndTypes) {
  const ValidateCase& c = GetParam();
  auto s = runguard::policy::validate_spec(parse(c.doc), "config.json");
  if (!*c.error) {
    EXPECT_TRUE(s.is_ok()) << s.message();
    return;
  }
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), runguard::Code::kInvalidArgument);
  EXPECT_EQ(s.message(), c.error);
}

INSTANTIATE_TEST_SUITE_P(
    Validate, ValidateSpecTest,
    ::testing::Values(
        ValidateCase{"uid_string", R"({"process":{"user":{"uid":"0"}}})",
                     "config.json: /process/user/uid: expected an unsigned integer, got string"},
        ValidateCase{"uid_negative", R"({"process":{"user":{"uid":-1}}})",
                     "config.json: /process/user/uid: expected an unsigned integer, got number"},
        ValidateCase{"uid_float", R"({"process":{"user":{"uid":1.5}}})",
                     "config.json: /process/user/uid: expected an unsigned integer, got number"},
        ValidateCase{"gid_bool", R"({"process":{"user":{"uid":1,"gid":true}}})",
                     "config.json: /process/user/gid: expected an unsigned integer, got boolean"},
        ValidateCase{"additional_gid", R"({"process":{"user":{"additionalGids":[1,"2"]}}})",
                     "config.json: /process/user/additionalGids/1: expected an unsigned integer, got string"},
        ValidateCase{"process_array", R"({"process":[]})", "config.json: /process: expected an object, got array"},
        ValidateCase{"caps_mixed", R"({"process":{"capabilities":{"bounding":["CAP_KILL",1]}}})",
                     "config.json: /process/capabilities/bounding: expected an array of strings, got array"},
        ValidateCase{"env_string", R"({"process":{"env":"A=b"}})",
                     "config.json: /process/env: expected an array of strings, got string"},
        ValidateCase{"nnp_string", R"({"process":{"noNewPrivileges":"true"}})",
                     "config.json: /process/noNewPrivileges: expected a boolean, got string"},
        ValidateCase{"rlimit_hard", R"({"process":{"rlimits":[{"type":"RLIMIT_NOFILE","hard":-1,"soft":1}]}})",
                     "config.json: /process/rlimits/0/hard: expected an unsigned integer, got number"},
        ValidateCase{"root_readonly", R"({"root":{"readonly":1}})",
                     "config.json: /root/readonly: expected a boolean, got number"},
        ValidateCase{"mounts_object", R"({"mounts":{}})", "config.json: /mounts: expected an array, got object"},
        ValidateCase{"mount_source", R"({"mounts":[{"destination":"/a"},{"source":5}]})",
                     "config.json: /mounts/1/source: expected a string, got number"},
        ValidateCase{"annotation_value", R"({"annotations":{"a/b~c":1}})",
                     "config.json: /annotations/a~1b~0c: expected a string, got number"},
        ValidateCase{"ns_type", R"({"linux":{"namespaces":[{"type":1}]}})",
                     "config.json: /linux/namespaces/0/type: expected a string, got number"},
        ValidateCase{"memory_string", R"({"linux":{"resources":{"memory":{"limit":"1G"}}}})",
                     "config.json: /linux/resources/memory/limit: expected an integer, got string"},
        ValidateCase{"seccomp_array", R"({"linux":{"seccomp":[]}})",
                     "config.json: /linux/seccomp: expected an object, got array"},
        ValidateCase{"device_allow", R"({"linux":{"resources":{"devices":[{"allow":"yes"}]}}})",
                     "config.json: /linux/resources/devices/0/allow: expected a boolean, got string"},
        ValidateCase{"not_object_array", "[]", "config.json: expected a JSON object, got array"},
        ValidateCase{"not_object_string", R"("spec")", "config.json: expected a JSON object, got string"},
        ValidateCase{"not_object_null", "null", "config.json: expected a JSON object, got null"},
        ValidateCase{"nulls_are_absent",
                     R"({"process":{"user":null,"env":null,"capabilities":{"bounding":null},"rlimits":null},
                        "root":{"readonly":null},"mounts":null,"annotations":null,
                        "linux":{"seccomp":null,"namespaces":null,"maskedPaths":null,"resources":{"memory":null}}})",
                     ""},
        ValidateCase{"unknown_fields_fine", R"({"process":{"fooBar":"x","user":{"uid":1,"extra":[]}},"x.y":{}})", ""},
        ValidateCase{"empty_object", "{}", ""}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Validate, ProcessAndResourcesDocuments) {
  using runguard::policy::validate_process;
  using runguard::policy::validate_resources;
  EXPECT_TRUE(validate_process(parse(kExecProcess), "p.json").is_ok());
  EXPECT_EQ(validate_process(parse(R"({"user":{"uid":"x"}})"), "p.json").message(),
            "p.json: /user/uid: expected an unsigned integer, got string");
  EXPECT_EQ(validate_process(parse(R"({"capabilities":{"ambient":"CAP_KILL"}})"), "p.json").message(),
            "p.json: /capabilities/ambient: expected an array of strings, got string");
  EXPECT_EQ(validate_process(parse("[]"), "p.json").message(), "p.json: expected a JSON object, got array");
  EXPECT_EQ(validate_process(parse("null"), "p.json").message(), "p.json: expected a JSON object, got null");
  EXPECT_TRUE(validate_resources(parse(R"({"memory":{"limit":-1},"pids":{"limit":5},"futureKnob":1})"), "-").is_ok());
  EXPECT_EQ(validate_resources(parse(R"({"pids":{"limit":1.5}})"), "-").message(),
            "-: /pids/limit: expected an integer, got number");
  EXPECT_EQ(validate_resources(parse(R"({"memory":{"swap":"1G"}})"), "-").message(),
            "-: /memory/swap: expected an integer, got string");
  EXPECT_EQ(validate_resources(parse(R"({"cpu":{"shares":-2}})"), "-").message(),
            "-: /cpu/shares: expected an unsigned integer, got number");
  EXPECT_EQ(validate_resources(parse("3"), "-").message(), "-: expected a JSON object, got number");
}

// Fields validate_spec accepts as null must not make the controls throw (no exception may leave
// the policy library) nor be read as anything but absent.
TEST(Validate, NullMembersDoNotThrowDuringEvaluation) {
  const char* docs[] = {
      R"({"linux":{"namespaces":[{"type":"network","path":null}]}})",
      R"({"linux":{"namespaces":[{"type":null}]}})",
      R"({"mounts":[{"destination":"/x","type":"bind","source":null}]})",
      R"({"mounts":[{"destination":null,"type":"bind","source":"/etc"}]})",
      R"({"mounts":[{"destination":"/x","type":null,"source":"/etc","options":["rbind"]}]})",
      R"({"process":{"rlimits":[{"type":null,"hard":1,"soft":1}]}})",
      R"({"process":{"rlimits":[{"type":"RLIMIT_NOFILE","hard":null,"soft":null}]}})",
      R"({"process":{"capabilities":{"bounding":"@ALLCAPS@"}},
          "linux":{"resources":{"devices":[{"allow":null,"type":null}]}}})",
  };
  for (const char* text : docs) {
    Json spec = parse_with_caps(text);
    ASSERT_TRUE(runguard::policy::validate_spec(spec, "config.json").is_ok()) << text;
    Policy p = defaults();
    p.controls.privileged.action = Action::kEnforce;
    p.controls.resources.rlimits["RLIMIT_NOFILE"].max = 10;
    bool threw = false;
    std::string what;
    try {
      (void)evaluate_spec(p, spec, {});
    } catch (const std::exception& e) {
      threw = true;
      what = e.what();
    }
    EXPECT_FALSE(threw) << "regression: validate_spec accepts null members (\"null counts as absent\") but the controls read "
                      "them with Json::value(key, default), which throws on null and lets a nlohmann exception "
                      "escape evaluate_spec; first case: " << text << " -> " << what;
  }
}

}  // namespace

namespace {

// Review finding: io.kubernetes.cri.* annotations are containerd's only when containerd started
// the container; written by `podman --annotation` they must not select an override.
TEST(ContextTrust, CriAnnotationsCountOnlyForContainerdBundles) {
  Json spec = parse(R"({"annotations":{"io.kubernetes.cri.container-type":"container",
                         "io.kubernetes.cri.sandbox-namespace":"kube-system","io.container.manager":"libpod"}})");
  auto podman = runguard::policy::context_from_spec(spec, "c", "/var/lib/containers/storage/overlay-containers/c/userdata", "");
  EXPECT_EQ(podman.engine, "podman");
  EXPECT_EQ(podman.k8s_namespace, "");
  EXPECT_EQ(podman.container_type, "");
  auto unknown = runguard::policy::context_from_spec(spec, "c", "/tmp/bundle", "/run/runc");
  EXPECT_EQ(unknown.k8s_namespace, "");
  auto containerd = runguard::policy::context_from_spec(
      spec, "c", "/run/containerd/io.containerd.runtime.v2.task/k8s.io/c", "/run/containerd/runc/k8s.io");
  EXPECT_EQ(containerd.engine, "containerd-cri");
  EXPECT_EQ(containerd.k8s_namespace, "kube-system");
  auto offline = runguard::policy::context_from_spec(spec, "c", "/tmp/b", "", runguard::policy::CriAnnotations::kTrusted);
  EXPECT_EQ(offline.k8s_namespace, "kube-system");
}

// Review finding (issue 8): `docker run --annotation io.kubernetes.cri.container-type=sandbox`
// reaches containerd's "moby" namespace, and ctr/nerdctl's "default" one: only the CRI plugin's
// k8s.io namespace is believed, so neither the sandbox override nor the attestation gate's sandbox
// exemption can be claimed by writing annotations.
TEST(ContextTrust, CriAnnotationsCountOnlyInTheCriNamespace) {
  Json spec = parse(R"({"annotations":{"io.kubernetes.cri.container-type":"sandbox",
                         "io.kubernetes.cri.image-name":"registry.k8s.io/pause:3.9"}})");
  for (const auto& [bundle, root] : std::vector<std::pair<std::string, std::string>>{
           {"/run/containerd/io.containerd.runtime.v2.task/moby/c", "/run/containerd/runc/moby"},
           {"/run/containerd/io.containerd.runtime.v2.task/default/c", "/run/containerd/runc/default"},
           {"/var/lib/bundles/c", "/run/containerd/runc/moby"},
           {"/x/io.containerd.runtime.v2.task/k8s.io.evil/c", "/x/runc/k8s.io.evil"}}) {
    auto ctx = runguard::policy::context_from_spec(spec, "c", bundle, root);
    EXPECT_EQ(ctx.engine, "containerd") << bundle;
    EXPECT_EQ(ctx.container_type, "") << bundle;
    EXPECT_EQ(ctx.image, "") << bundle;
  }
  for (const auto& [bundle, root] : std::vector<std::pair<std::string, std::string>>{
           {"/run/containerd/io.containerd.runtime.v2.task/k8s.io/c", "/run/containerd/runc/k8s.io"},
           {"/var/lib/bundles/c", "/run/containerd/runc/k8s.io/"},
           {"/tmp/state/io.containerd.runtime.v2.task/k8s.io/c", "/tmp/root/k8s.io"}}) {
    auto ctx = runguard::policy::context_from_spec(spec, "c", bundle, root);
    EXPECT_EQ(ctx.engine, "containerd-cri") << bundle;
    EXPECT_EQ(ctx.container_type, "sandbox") << bundle;
    EXPECT_EQ(ctx.image, "registry.k8s.io/pause:3.9") << bundle;
  }
}

}  // namespace
