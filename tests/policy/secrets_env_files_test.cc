// secretsInEnv's enforce action with secret files (policy/src/process_controls.cc): in a
// config.json a credential moves from process.env into <mountPath>/<NAME> and NAME_FILE takes
// its place; in an exec process it is only removed. The plan names the variable and its index in
// the input spec, never the value, and the value never reaches the decision record.

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "policy_test_util.h"
#include "runguard/policy/decision.h"
#include "runguard/policy/secrets.h"

namespace {

using namespace rgtest;  // NOLINT(google-build-using-namespace)
using runguard::policy::decision_to_json;
using runguard::policy::evaluate_process;
using runguard::policy::evaluate_spec;
using runguard::policy::Mode;
using runguard::policy::Mutation;
using runguard::policy::PlannedSecret;
using runguard::policy::SecretsAllow;

constexpr const char* kValue = "s3cr3t-db-pass-9911";

Policy env_policy(Action a = Action::kEnforce, Mode mode = Mode::kEnforce) {
  Policy p = only_defaults_off();
  p.state_dir = "/run/runguard";
  p.controls.secrets_in_env.action = a;
  p.mode = mode;
  return p;
}

Json spec_with_env(const std::vector<std::string>& env) {
  Json s = parse(R"({"ociVersion":"1.0.2","process":{"args":["app"]},"root":{"path":"rootfs"}})");
  s["process"]["env"] = env;
  return s;
}

ContainerContext ctx_c1() {
  ContainerContext ctx;
  ctx.id = "c1";
  ctx.k8s_namespace = "payments";
  return ctx;
}

const PlannedSecret* planned(const Decision& d, const std::string& name) {
  for (const auto& f : d.secrets.files) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::vector<const Mutation*> mutations_with(const Decision& d, const std::string& id) {
  std::vector<const Mutation*> out;
  for (const auto& m : d.mutations) {
    if (m.id == id) out.push_back(&m);
  }
  return out;
}

void expect_no_value(const Decision& d, const std::string& value) {
  std::string record = decision_to_json(d).dump();
  EXPECT_EQ(record.find(value), std::string::npos) << record;
  EXPECT_EQ(d.denial_summary().find(value), std::string::npos) << d.denial_summary();
  for (const auto& f : d.findings) EXPECT_EQ(f.message.find(value), std::string::npos) << f.message;
  for (const auto& m : d.mutations) EXPECT_EQ(m.value.dump().find(value), std::string::npos) << m.value.dump();
}

TEST(SecretsEnvFiles, EnforceMovesTheVariableIntoAFile) {
  Json spec = spec_with_env({"PATH=/bin", std::string("DB_PASSWORD=") + kValue, "HOME=/"});
  Decision d = evaluate_spec(env_policy(), spec, ctx_c1());
  ASSERT_TRUE(d.allowed) << describe(d);
  EXPECT_EQ(d.result["process"]["env"], Json::array({"PATH=/bin", "DB_PASSWORD_FILE=/run/secrets/DB_PASSWORD", "HOME=/"}));

  ASSERT_EQ(count_id(d, "RG-ENV-001"), 1u) << describe(d);
  const Finding* f = findings_with(d, "RG-ENV-001")[0];
  EXPECT_EQ(f->pointer, "/process/env/1");
  EXPECT_NE(f->message.find("moved to /run/secrets/DB_PASSWORD (DB_PASSWORD_FILE names it)"), std::string::npos) << f->message;

  auto env_m = mutations_with(d, "RG-ENV-001");
  ASSERT_EQ(env_m.size(), 1u);
  EXPECT_EQ(env_m[0]->op, "replace");
  EXPECT_EQ(env_m[0]->pointer, "/process/env/1");
  EXPECT_EQ(env_m[0]->value, "DB_PASSWORD_FILE=/run/secrets/DB_PASSWORD");

  ASSERT_EQ(d.secrets.files.size(), 1u);
  const PlannedSecret& p = d.secrets.files[0];
  EXPECT_EQ(p.name, "DB_PASSWORD");
  EXPECT_EQ(p.source, PlannedSecret::Source::kEnv);
  EXPECT_EQ(p.env_var, "DB_PASSWORD");
  EXPECT_EQ(p.env_index, 1u);
  EXPECT_EQ(d.secrets.mount_path, "/run/secrets");
  EXPECT_EQ(d.secrets.host_dir, "/run/runguard/c1/secrets");

  // The file needs the tmpfs mounted: the secrets control adds it for env files too.
  auto mount_m = mutations_with(d, "RG-SECRETS-001");
  ASSERT_EQ(mount_m.size(), 1u);
  ASSERT_TRUE(d.result["mounts"].is_array());
  EXPECT_EQ(d.result["mounts"][0]["destination"], "/run/secrets");
  EXPECT_EQ(d.result["mounts"][0]["source"], "/run/runguard/c1/secrets");

  expect_no_value(d, kValue);
  Json j = decision_to_json(d);
  EXPECT_EQ(j["secrets"]["files"], parse(R"([{"name":"DB_PASSWORD","source":"env","env":"DB_PASSWORD"}])"));
}

TEST(SecretsEnvFiles, ExistingNameFileMeansRemoveOnly) {
  for (bool file_first : {true, false}) {
    SCOPED_TRACE(file_first ? "DB_PASSWORD_FILE before" : "DB_PASSWORD_FILE after");
    std::vector<std::string> env = {std::string("DB_PASSWORD=") + kValue};
    if (file_first) env.insert(env.begin(), "DB_PASSWORD_FILE=/custom/pw");
    else env.push_back("DB_PASSWORD_FILE=/custom/pw");
    size_t index = file_first ? 1 : 0;
    Decision d = evaluate_spec(env_policy(), spec_with_env(env), ctx_c1());
    ASSERT_TRUE(d.allowed) << describe(d);
    EXPECT_EQ(d.result["process"]["env"], Json::array({"DB_PASSWORD_FILE=/custom/pw"})) << "the spec's own _FILE wins";
    auto env_m = mutations_with(d, "RG-ENV-001");
    ASSERT_EQ(env_m.size(), 1u);
    EXPECT_EQ(env_m[0]->op, "remove");
    EXPECT_TRUE(env_m[0]->value.is_null());
    const PlannedSecret* p = planned(d, "DB_PASSWORD");
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->env_index, index);
    expect_no_value(d, kValue);
  }
}

TEST(SecretsEnvFiles, FileGoesUnderTheConfiguredMountPath) {
  Policy p = env_policy();
  p.secrets.mount_path = "/var/run/app-secrets";
  Decision d = evaluate_spec(p, spec_with_env({std::string("API_TOKEN=") + kValue}), ctx_c1());
  EXPECT_EQ(d.result["process"]["env"], Json::array({"API_TOKEN_FILE=/var/run/app-secrets/API_TOKEN"}));
  EXPECT_EQ(d.result["mounts"][0]["destination"], "/var/run/app-secrets");
}

// env_index is the position in the *input* spec: create reads the value from there.
TEST(SecretsEnvFiles, IndicesNameTheInputEntries) {
  Json spec = spec_with_env({"A=1", "PASSWORD=abcdefgh1-secret", "B=2", "API_TOKEN=zyxwvuts2-secret", "C=3",
                             "GH=ghp_abcdefghijklmnopqrstuvwxyz0123456789"});
  Decision d = evaluate_spec(env_policy(), spec, ctx_c1());
  ASSERT_TRUE(d.allowed) << describe(d);
  ASSERT_EQ(d.secrets.files.size(), 3u);
  for (const auto& f : d.secrets.files) {
    const std::string& entry = spec["process"]["env"][f.env_index].get_ref<const std::string&>();
    EXPECT_EQ(entry.rfind(f.env_var + "=", 0), 0u) << f.env_var << " index " << f.env_index << " is " << entry;
    EXPECT_EQ(f.name, f.env_var);
  }
  EXPECT_EQ(d.result["process"]["env"],
            parse(R"(["A=1","PASSWORD_FILE=/run/secrets/PASSWORD","B=2","API_TOKEN_FILE=/run/secrets/API_TOKEN","C=3",
                      "GH_FILE=/run/secrets/GH"])"));
  for (const char* v : {"abcdefgh1-secret", "zyxwvuts2-secret", "ghp_abcdefghijklmnopqrstuvwxyz"}) expect_no_value(d, v);
}

// glibc's getenv returns the first of two entries with one name: that one becomes the file.
TEST(SecretsEnvFiles, ANameSetTwiceBecomesOneFileFromTheFirstEntry) {
  Json spec = spec_with_env({"X=1", "PASSWORD=first-secret-111", "PASSWORD=second-secret-222"});
  Decision d = evaluate_spec(env_policy(), spec, ctx_c1());
  ASSERT_TRUE(d.allowed) << describe(d) << " (not a duplicate request: one variable, one file)";
  ASSERT_EQ(d.secrets.files.size(), 1u);
  EXPECT_EQ(d.secrets.files[0].env_index, 1u);
  EXPECT_EQ(d.result["process"]["env"], Json::array({"X=1", "PASSWORD_FILE=/run/secrets/PASSWORD"}));
  expect_no_value(d, "first-secret-111");
  expect_no_value(d, "second-secret-222");
}

struct UnmovableCase {
  const char* name;
  std::string entry;
  std::string value;
};
RG_PRINT_BY_NAME(UnmovableCase)

const UnmovableCase kUnmovable[] = {
    {"space_in_name", "MY PASSWORD=hunter2hunter2", "hunter2hunter2"},
    {"leading_dot", ".DB_PASSWORD=hunter3hunter3", "hunter3hunter3"},
    {"slash_traversal", "A/../../etc/PASSWORD=hunter4hunter4", "hunter4hunter4"},
    {"too_long", std::string(130, 'A') + "_PASSWORD=hunter5hunter5", "hunter5hunter5"},
    {"empty_name", "=ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"},
};

class SecretsEnvUnmovableTest : public ::testing::TestWithParam<UnmovableCase> {};

// A name that cannot be a file name is removed, never turned into a path.
TEST_P(SecretsEnvUnmovableTest, IsRemoved) {
  const UnmovableCase& c = GetParam();
  Decision d = evaluate_spec(env_policy(), spec_with_env({"PATH=/bin", c.entry}), ctx_c1());
  ASSERT_TRUE(d.allowed) << describe(d);
  ASSERT_EQ(count_id(d, "RG-ENV-001"), 1u) << describe(d);
  EXPECT_NE(findings_with(d, "RG-ENV-001")[0]->message.find("removed (its name cannot be a file name)"), std::string::npos)
      << findings_with(d, "RG-ENV-001")[0]->message;
  EXPECT_EQ(d.result["process"]["env"], Json::array({"PATH=/bin"}));
  EXPECT_TRUE(d.secrets.empty());
  EXPECT_TRUE(mutations_with(d, "RG-SECRETS-001").empty());
  expect_no_value(d, c.value);
}

INSTANTIATE_TEST_SUITE_P(SecretsEnvFiles, SecretsEnvUnmovableTest, ::testing::ValuesIn(kUnmovable),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SecretsEnvFiles, ExecProcessOnlyRemoves) {
  Json process = spec_with_env({"PATH=/bin", std::string("DB_PASSWORD=") + kValue})["process"];
  Decision d = evaluate_process(env_policy(), process, ctx_c1());
  ASSERT_TRUE(d.allowed) << describe(d);
  EXPECT_EQ(d.result["env"], Json::array({"PATH=/bin"}));
  ASSERT_EQ(count_id(d, "RG-ENV-001"), 1u);
  EXPECT_EQ(findings_with(d, "RG-ENV-001")[0]->pointer, "/env/1");
  EXPECT_NE(findings_with(d, "RG-ENV-001")[0]->message.find("removed (the container's secret files are under secrets.mountPath)"),
            std::string::npos);
  ASSERT_EQ(d.mutations.size(), 1u);
  EXPECT_EQ(d.mutations[0].op, "remove");
  EXPECT_TRUE(d.secrets.empty()) << "an exec process gets no new files";
  EXPECT_FALSE(d.result.contains("mounts"));
  expect_no_value(d, kValue);
}

TEST(SecretsEnvFiles, AuditModeReportsThePlanButChangesNothing) {
  Json spec = spec_with_env({"PATH=/bin", std::string("DB_PASSWORD=") + kValue});
  Decision d = evaluate_spec(env_policy(Action::kEnforce, Mode::kAudit), spec, ctx_c1());
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.result, spec);
  ASSERT_FALSE(d.mutations.empty());
  for (const auto& m : d.mutations) EXPECT_FALSE(m.applied) << m.id << " " << m.pointer;
  EXPECT_EQ(mutations_with(d, "RG-ENV-001").size(), 1u);
  EXPECT_EQ(mutations_with(d, "RG-SECRETS-001").size(), 1u);
  ASSERT_NE(planned(d, "DB_PASSWORD"), nullptr);
  EXPECT_EQ(findings_with(d, "RG-ENV-001")[0]->action, Action::kAudit);
  expect_no_value(d, kValue);
}

TEST(SecretsEnvFiles, AuditActionReportsOnly) {
  Json spec = spec_with_env({std::string("DB_PASSWORD=") + kValue});
  Decision d = evaluate_spec(env_policy(Action::kAudit), spec, ctx_c1());
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.result, spec);
  EXPECT_EQ(count_id(d, "RG-ENV-001"), 1u);
  EXPECT_TRUE(d.mutations.empty());
  EXPECT_TRUE(d.secrets.empty());
  EXPECT_NE(findings_with(d, "RG-ENV-001")[0]->message.find("deliver it as a secret file"), std::string::npos);
  expect_no_value(d, kValue);
}

TEST(SecretsEnvFiles, DenyStillDenies) {
  Json spec = spec_with_env({std::string("DB_PASSWORD=") + kValue});
  Decision d = evaluate_spec(env_policy(Action::kDeny), spec, ctx_c1());
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.result, spec);
  EXPECT_TRUE(d.secrets.empty());
  EXPECT_TRUE(mutations_with(d, "RG-SECRETS-001").empty());
  expect_no_value(d, kValue);
}

// A moved variable and an annotation asking for the same file name cannot both be the file.
TEST(SecretsEnvFiles, SameNameAsAnAnnotationIsRefused) {
  Policy p = env_policy();
  SecretsAllow a;
  a.paths = {"*"};
  p.secrets.allow = {a};
  ContainerContext ctx = ctx_c1();
  ctx.annotations = {{"secrets.runguard.dev/DB_PASSWORD", "app/db"}};
  Json spec = spec_with_env({std::string("DB_PASSWORD=") + kValue});
  Decision d = evaluate_spec(p, spec, ctx);
  EXPECT_FALSE(d.allowed);
  ASSERT_EQ(count_id(d, "RG-SECRETS-002"), 1u) << describe(d);
  EXPECT_NE(findings_with(d, "RG-SECRETS-002")[0]->message.find("asked for twice (env and annotation)"), std::string::npos)
      << findings_with(d, "RG-SECRETS-002")[0]->message;
  EXPECT_EQ(d.result, spec);
  expect_no_value(d, kValue);
}

TEST(SecretsEnvFiles, SpecMountAtMountPathRefusesTheMove) {
  Json spec = spec_with_env({std::string("DB_PASSWORD=") + kValue});
  spec["mounts"] = Json::array({Json{{"destination", "/run/secrets"}, {"type", "tmpfs"}, {"source", "tmpfs"}}});
  Decision d = evaluate_spec(env_policy(), spec, ctx_c1());
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(count_id(d, "RG-SECRETS-003"), 1u) << describe(d);
  EXPECT_EQ(d.result, spec) << "denied: the variable stays where it was, nothing half-moved";
  expect_no_value(d, kValue);
}

// Kubernetes auth is for Vault reads; moving a variable reads nothing from Vault.
TEST(SecretsEnvFiles, KubernetesAuthIsNotNeededForEnvFiles) {
  Policy p = env_policy();
  p.secrets.backend = runguard::policy::SecretsSettings::Backend::kVault;
  p.secrets.vault.address = "https://vault.example";
  p.secrets.vault.auth.method = runguard::policy::VaultAuth::Method::kKubernetes;
  p.secrets.vault.auth.role = "app";
  Decision d = evaluate_spec(p, spec_with_env({std::string("DB_PASSWORD=") + kValue}), ctx_c1());
  EXPECT_TRUE(d.allowed) << describe(d);
  EXPECT_EQ(d.secrets.kubernetes_token_file, "");
  EXPECT_EQ(count_id(d, "RG-SECRETS-003"), 0u);
}

TEST(SecretsEnvFiles, ValueNeverInTheRecordWhateverTheModeAndAction) {
  const std::string url_value = "pa55w0rd-xyz-unique";
  for (Mode mode : {Mode::kEnforce, Mode::kAudit}) {
    for (Action a : {Action::kEnforce, Action::kDeny, Action::kAudit}) {
      SCOPED_TRACE(std::string(mode == Mode::kAudit ? "audit mode, " : "enforce mode, ") + runguard::policy::action_name(a));
      Json spec = spec_with_env({std::string("DB_PASSWORD=") + kValue, "DATABASE_URL=postgres://app:" + url_value + "@db:5432/app"});
      Decision d = evaluate_spec(env_policy(a, mode), spec, ctx_c1());
      EXPECT_EQ(count_id(d, "RG-ENV-001"), 2u) << describe(d);
      expect_no_value(d, kValue);
      expect_no_value(d, url_value);
    }
  }
}

}  // namespace
