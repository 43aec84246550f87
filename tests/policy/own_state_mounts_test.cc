// sensitiveMounts and runguard's own state: a bind of stateDir (every container's secrets tmpfs,
// monitor socket and decision record), libDir, secrets.file.dir or the agent's sockets — or of a
// directory holding one — is as sensitive as /etc/shadow; the container's own secrets mount,
// which the secrets control adds from stateDir, is not.
#include <gtest/gtest.h>

#include "policy_test_util.h"

namespace rgtest {
namespace {

Policy own_state_policy() {
  Policy p = only_defaults_off();
  p.controls.sensitive_mounts.action = Action::kEnforce;
  p.state_dir = "/srv/rg/state";
  p.lib_dir = "/srv/rg/lib";
  p.secrets.file_dir = "/srv/rg-secrets";
  p.agent.socket = "/opt/agent/api.sock";
  p.agent.internal_socket = "/opt/agent/internal.sock";
  return p;
}

Decision eval_source(const Policy& p, const std::string& source) {
  Json spec = parse(R"({"mounts":[{"destination":"/x","type":"bind","options":["rbind"]}]})");
  spec["mounts"][0]["source"] = source;
  ContainerContext ctx;
  ctx.id = "c1";
  return evaluate_spec(p, spec, ctx);
}

TEST(OwnStateMounts, RunguardsOwnDirectoriesAndSocketsAreSensitive) {
  Policy p = own_state_policy();
  for (const char* src : {"/srv/rg/state", "/srv/rg/state/other-container/secrets", "/srv/rg/state/../state/x",
                          "/srv/rg", "/srv", "/srv/rg/lib/userns", "/srv/rg-secrets/db", "/opt/agent/internal.sock",
                          "/opt/agent", "/opt/agent/api.sock"}) {
    Decision d = eval_source(p, src);
    ASSERT_EQ(count_id(d, "RG-MOUNT-001"), 1u) << src << ": " << describe(d);
    EXPECT_NE(d.findings[0].message.find("runguard"), std::string::npos) << d.findings[0].message;
    EXPECT_EQ(d.result["mounts"], Json::array()) << src;
  }
}

TEST(OwnStateMounts, NeighboursAreNotSensitive) {
  Policy p = own_state_policy();
  for (const char* src : {"/srv/rg-other", "/srv/rgstate", "/opt/agent2", "/data"}) {
    Decision d = eval_source(p, src);
    EXPECT_TRUE(d.findings.empty()) << src << ": " << describe(d);
  }
}

TEST(OwnStateMounts, DefaultStateDirUnderRunIsSensitive) {
  // /run/runguard is the default stateDir and agent socket directory; /run alone was listed.
  Policy p = only_defaults_off();
  p.controls.sensitive_mounts.action = Action::kEnforce;
  Decision d = eval_source(p, "/run/runguard");
  EXPECT_EQ(count_id(d, "RG-MOUNT-001"), 1u) << describe(d);
  Decision victim = eval_source(p, "/var/run/runguard/victim/secrets");
  EXPECT_EQ(count_id(victim, "RG-MOUNT-001"), 1u) << describe(victim);
}

TEST(OwnStateMounts, TheContainersOwnSecretsMountIsKept) {
  Policy p = own_state_policy();
  Json spec = parse(R"({"process":{"user":{"uid":1000,"gid":1000},"env":["A=b"]},"mounts":[]})");
  // The secrets control adds <stateDir>/<id>/secrets as a bind source; it must survive.
  p.controls.secrets_in_env.action = Action::kEnforce;
  spec["process"]["env"].push_back("GITHUB_TOKEN=ghp_EnvSecretValue0123456789abcdefXYZ");
  ContainerContext ctx;
  ctx.id = "c1";
  Decision d = evaluate_spec(p, spec, ctx);
  ASSERT_TRUE(d.result.contains("mounts")) << describe(d);
  bool found = false;
  for (const auto& m : d.result["mounts"]) found |= m.value("source", std::string()) == "/srv/rg/state/c1/secrets";
  EXPECT_TRUE(found) << d.result.dump() << "\n" << describe(d);
  EXPECT_EQ(count_id(d, "RG-MOUNT-001"), 0u) << describe(d);
}

TEST(OwnStateMounts, ResolvedStateDirIsSensitiveToo) {
  // stateDir written through a symlinked directory (/srv/rg -> /data/rg): a bind of the real path
  // reaches the same files. The pipeline resolves the policy's paths into the context.
  Policy p = own_state_policy();
  Json spec = parse(R"({"mounts":[{"destination":"/x","type":"bind","options":["rbind"],"source":"/data/rg/state/victim"}]})");
  ContainerContext ctx;
  ctx.id = "c1";
  Decision unresolved = evaluate_spec(p, spec, ctx);
  EXPECT_TRUE(unresolved.findings.empty()) << describe(unresolved);
  ctx.resolved_own_paths["/srv/rg/state"] = "/data/rg/state";
  Decision d = evaluate_spec(p, spec, ctx);
  EXPECT_EQ(count_id(d, "RG-MOUNT-001"), 1u) << describe(d);
}

TEST(OwnStateMounts, VaultCredentialFilesAreSensitive) {
  Policy p = own_state_policy();
  p.secrets.vault.auth.token_file = "/srv/vault/token";
  p.secrets.vault.auth.secret_id_file = "/srv/vault/secret-id";
  p.secrets.vault.ca_file = "/srv/vault-ca/ca.pem";
  for (const char* src : {"/srv/vault/token", "/srv/vault", "/srv/vault/secret-id", "/srv/vault-ca"}) {
    Decision d = eval_source(p, src);
    EXPECT_EQ(count_id(d, "RG-MOUNT-001"), 1u) << src << ": " << describe(d);
  }
  EXPECT_TRUE(eval_source(p, "/srv/vault-other").findings.empty());
}

}  // namespace
}  // namespace rgtest
