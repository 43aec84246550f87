// secretsInEnv: which environment entries look like credentials (by name or by the shape of the
// value), and the guarantee that a secret value never reaches a Decision's JSON record.

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "policy_test_util.h"
#include "runguard/policy/decision.h"

namespace {

using namespace rgtest;  // NOLINT(google-build-using-namespace)
using runguard::policy::decision_to_json;
using runguard::policy::evaluate_process;
using runguard::policy::evaluate_spec;
using runguard::policy::Mode;

struct EnvCase {
  const char* name;
  std::string entry;
  bool secret;
  std::string value_part = "";  // a distinctive part of the value that must never leak ("" = whole value)
};

const std::string kPem =
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw\n"
    "-----END RSA PRIVATE KEY-----";

const EnvCase kSecrets[] = {
    // by name
    {"password", "PASSWORD=Tr0ub4dor-and-3", true},
    {"db_password", "DB_PASSWORD=s3cr3t-db-pass-9911", true},
    {"lowercase_name", "mysql_root_password=lower-case-secret-77", true},
    {"api_key", "API_KEY=k-1234567890abcdef", true},
    {"client_secret", "OAUTH_CLIENT_SECRET=cs-00aa11bb22cc", true},
    {"access_key", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", true},
    {"passphrase", "GPG_PASSPHRASE=open sesame seed", true},
    // by value, under innocent names
    {"aws_akia_by_value", "CONFIG_BLOB=AKIAIOSFODNN7EXAMPLE", true},
    {"aws_akia_embedded", "OPTS=--id AKIAIOSFODNN7EXAMPLE --region x", true, "AKIAIOSFODNN7EXAMPLE"},
    {"pem_private_key", "TLS_MATERIAL=" + kPem, true, "MIIEpAIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw"},
    {"jwt", "SESSION=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1rwW1gFWFOEjXk", true},
    {"github_token", "GH=ghp_abcdefghijklmnopqrstuvwxyz0123456789", true},
    {"url_with_password", "DATABASE_URL=postgres://app:pa55w0rd-xyz@db.internal:5432/app", true, "pa55w0rd-xyz"},
    {"url_with_password_no_path", "REDIS=redis://default:hunter2hunter2@cache", true, "hunter2hunter2"},
};

const EnvCase kNonSecrets[] = {
    {"path", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", false},
    {"home", "HOME=/root", false},
    {"term", "TERM=xterm", false},
    {"password_file", "DB_PASSWORD_FILE=/run/secrets/x", false},
    {"token_url", "TOKEN_URL=https://x", false},
    {"secret_dir", "SECRETS_DIR=/run/secrets", false},
    {"empty_password", "PASSWORD=", false},
    {"no_equals", "API_KEY", false},
    {"python_gpg_key", "GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D", false},
    {"k8s_service_link", "KUBERNETES_PORT=tcp://10.96.0.1:443", false},
    {"url_user_only", "NPM_CONFIG_REGISTRY=https://ci@registry.example.com/", false},
    {"at_in_path", "MODULE=https://proxy.golang.org/x/y@v1.2.3", false},
    {"java_opts", "JAVA_OPTS=-Xmx512m -Dfile.encoding=UTF-8", false},
};

RG_PRINT_BY_NAME(EnvCase)

std::string value_of(const EnvCase& c) {
  if (!c.value_part.empty()) return c.value_part;
  auto eq = c.entry.find('=');
  return eq == std::string::npos ? "" : c.entry.substr(eq + 1);
}

Json spec_with_env(const std::string& entry) {
  return Json{{"process", {{"env", {"PATH=/bin", entry, "HOME=/"}}}}};
}

Policy env_policy(Action a, Mode mode = Mode::kEnforce) {
  Policy p = only_defaults_off();
  p.controls.secrets_in_env.action = a;
  p.mode = mode;
  return p;
}

class SecretEnvTest : public ::testing::TestWithParam<EnvCase> {};
class NonSecretEnvTest : public ::testing::TestWithParam<EnvCase> {};

TEST_P(NonSecretEnvTest, IsNotFlagged) {
  Decision d = evaluate_spec(env_policy(Action::kDeny), spec_with_env(GetParam().entry), {});
  EXPECT_TRUE(d.findings.empty()) << describe(d);
  EXPECT_TRUE(d.allowed);
}

// In a config.json, enforce moves the credential into a file under secrets.mountPath and leaves
// NAME_FILE pointing at it (docs/secrets.md); in an exec process it only removes it.
TEST_P(SecretEnvTest, IsFlaggedAndMovedToAFile) {
  const EnvCase& c = GetParam();
  Decision d = evaluate_spec(env_policy(Action::kEnforce), spec_with_env(c.entry), {});
  ASSERT_EQ(d.findings.size(), 1u) << describe(d);
  const Finding& f = d.findings[0];
  EXPECT_EQ(f.id, "RG-ENV-001");
  EXPECT_EQ(f.pointer, "/process/env/1");
  std::string name = c.entry.substr(0, c.entry.find('='));
  EXPECT_NE(f.message.find("environment variable " + name + " "), std::string::npos) << f.message;
  std::string moved = name + "_FILE=/run/secrets/" + name;
  EXPECT_EQ(d.result["process"]["env"], Json::array({"PATH=/bin", moved, "HOME=/"}));
  ASSERT_EQ(d.mutations.size(), 2u) << "the entry, and the secrets mount for its file";
  EXPECT_EQ(d.mutations[0].id, "RG-ENV-001");
  EXPECT_EQ(d.mutations[0].op, "replace");
  EXPECT_EQ(d.mutations[0].value, moved);
  EXPECT_EQ(d.mutations[1].id, "RG-SECRETS-001");
  ASSERT_EQ(d.secrets.files.size(), 1u);
  EXPECT_EQ(d.secrets.files[0].env_var, name);
  EXPECT_EQ(d.secrets.files[0].env_index, 1u);
}

TEST_P(SecretEnvTest, IsFlaggedAndRemovedFromAnExecProcess) {
  const EnvCase& c = GetParam();
  Decision d = evaluate_process(env_policy(Action::kEnforce), spec_with_env(c.entry)["process"], {});
  ASSERT_EQ(d.findings.size(), 1u) << describe(d);
  EXPECT_EQ(d.findings[0].pointer, "/env/1");
  EXPECT_EQ(d.result["env"], Json::array({"PATH=/bin", "HOME=/"}));
  ASSERT_EQ(d.mutations.size(), 1u);
  EXPECT_EQ(d.mutations[0].op, "remove");
  EXPECT_TRUE(d.mutations[0].value.is_null());
  EXPECT_TRUE(d.secrets.empty());
}

// The record of a decision goes to disk, logs and `runguardctl check` output: no secret in it,
// whatever the action or mode, for a config.json and an exec process alike.
TEST_P(SecretEnvTest, ValueNeverAppearsInDecisionJson) {
  const EnvCase& c = GetParam();
  const std::string value = value_of(c);
  ASSERT_GE(value.size(), 8u);
  for (Mode mode : {Mode::kEnforce, Mode::kAudit}) {
    for (Action a : {Action::kEnforce, Action::kDeny, Action::kAudit}) {
      SCOPED_TRACE(std::string(mode == Mode::kAudit ? "mode audit, " : "mode enforce, ") + "action " +
                   runguard::policy::action_name(a));
      Policy p = env_policy(a, mode);
      p.controls.user.action = Action::kEnforce;  // other mutations in the same record
      p.controls.capabilities.action = Action::kEnforce;
      Decision d = evaluate_spec(p, spec_with_env(c.entry), {});
      ASSERT_EQ(count_id(d, "RG-ENV-001"), 1u) << describe(d);
      std::string record = decision_to_json(d).dump();
      EXPECT_EQ(record.find(value), std::string::npos) << record;
      EXPECT_EQ(d.denial_summary().find(value), std::string::npos);

      Json process = spec_with_env(c.entry)["process"];
      Decision pd = evaluate_process(p, process, {});
      ASSERT_EQ(count_id(pd, "RG-ENV-001"), 1u) << describe(pd);
      EXPECT_EQ(findings_with(pd, "RG-ENV-001")[0]->pointer, "/env/1");
      record = decision_to_json(pd).dump();
      EXPECT_EQ(record.find(value), std::string::npos) << record;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(SecretsInEnv, SecretEnvTest, ::testing::ValuesIn(kSecrets),
                         [](const auto& info) { return std::string(info.param.name); });
INSTANTIATE_TEST_SUITE_P(SecretsInEnv, NonSecretEnvTest, ::testing::ValuesIn(kNonSecrets),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SecretsInEnv, SeveralSecretsAreAllHandledKeepingOrder) {
  Json spec = parse(R"({"process":{"env":["A=1","PASSWORD=abcdefgh1","B=2","API_TOKEN=zyxwvuts2","C=3"]}})");
  Decision d = evaluate_spec(env_policy(Action::kEnforce), spec, {});
  EXPECT_EQ(d.result["process"]["env"],
            parse(R"(["A=1","PASSWORD_FILE=/run/secrets/PASSWORD","B=2","API_TOKEN_FILE=/run/secrets/API_TOKEN","C=3"])"));
  ASSERT_EQ(d.findings.size(), 2u);
  // Walked from the end so every pointer names the entry in the input document.
  EXPECT_EQ(d.findings[0].pointer, "/process/env/3");
  EXPECT_EQ(d.findings[1].pointer, "/process/env/1");

  Decision pd = evaluate_process(env_policy(Action::kEnforce), spec["process"], {});
  EXPECT_EQ(pd.result["env"], parse(R"(["A=1","B=2","C=3"])"));
  ASSERT_EQ(pd.findings.size(), 2u);
  EXPECT_EQ(pd.findings[0].pointer, "/env/3");
  EXPECT_EQ(pd.findings[1].pointer, "/env/1");
}

TEST(SecretsInEnv, DefaultActionDeniesAndKeepsTheSpec) {
  Json spec = spec_with_env("PASSWORD=hunter2hunter2");
  Decision d = evaluate_spec(defaults(), spec, {});
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.result, spec);
  EXPECT_NE(d.denial_summary().find("PASSWORD"), std::string::npos) << d.denial_summary();
  EXPECT_EQ(d.denial_summary().find("hunter2"), std::string::npos) << d.denial_summary();
}

// Hugging Face images set TOKENIZERS_PARALLELISM=false; "TOKEN" inside a longer word is no secret.
TEST(SecretsInEnv, TokenizersParallelismIsNotASecret) {
  Decision d = evaluate_spec(env_policy(Action::kDeny), spec_with_env("TOKENIZERS_PARALLELISM=false"), {});
  EXPECT_FALSE(!d.findings.empty()) << "regression: policy/src/secrets_detect.cc matches secret words as substrings, so "
                    "TOKENIZERS_PARALLELISM=false is a credential and the default policy (secretsInEnv: deny) "
                    "refuses the container; match words at '_' boundaries or require a credential-shaped value";
  EXPECT_TRUE(d.allowed);
}

TEST(SecretsInEnv, NonStringAndAbsentEnvAreIgnored) {
  for (const char* text : {R"({"process":{}})", R"({"process":{"env":null}})", R"({})"}) {
    Decision d = evaluate_spec(env_policy(Action::kDeny), parse(text), {});
    EXPECT_TRUE(d.findings.empty()) << text;
  }
}

}  // namespace
