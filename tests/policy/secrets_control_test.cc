// The secrets control (policy/src/secrets_control.cc) through evaluate_spec: which annotations
// the policy grants (first matching allow entry decides), attach entries, refusals of hostile
// names and references (RG-SECRETS-002), the tmpfs mount and where it goes among the spec's
// mounts (RG-SECRETS-001), what cannot be delivered (RG-SECRETS-003), and the plan in the
// decision record, as `runguardctl check` prints it.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "policy_test_util.h"
#include "runguard/policy/decision.h"
#include "runguard/policy/secrets.h"

namespace {

using namespace rgtest;  // NOLINT(google-build-using-namespace)
using runguard::policy::decision_to_json;
using runguard::policy::evaluate_spec;
using runguard::policy::Mode;
using runguard::policy::Mutation;
using runguard::policy::PlannedSecret;
using runguard::policy::SecretsAllow;
using runguard::policy::SecretsAttach;
using runguard::policy::SecretsMatch;
using runguard::policy::secrets_plan_to_json;
using runguard::policy::VaultAuth;
using Backend = runguard::policy::SecretsSettings::Backend;

constexpr const char* kPrefix = "secrets.runguard.dev/";
constexpr const char* kHostDir = "/run/runguard/c1/secrets";
constexpr const char* kSaDir = "/var/run/secrets/kubernetes.io/serviceaccount";
constexpr const char* kSaSource = "/var/lib/kubelet/pods/0b5e/volumes/kubernetes.io~projected/kube-api-access-7x2q";

SecretsMatch match_of(std::optional<std::string> ns = std::nullopt, std::optional<std::string> image = std::nullopt) {
  SecretsMatch m;
  m.namespace_ = std::move(ns);
  m.image = std::move(image);
  return m;
}

SecretsAllow allow_of(SecretsMatch m, std::vector<std::string> paths) {
  SecretsAllow a;
  a.match = std::move(m);
  a.paths = std::move(paths);
  return a;
}

SecretsAttach attach_of(SecretsMatch m, std::map<std::string, std::string> files) {
  SecretsAttach a;
  a.match = std::move(m);
  a.files = std::move(files);
  return a;
}

// Every control off, the file backend, state under /run/runguard.
Policy base_policy() {
  Policy p = only_defaults_off();
  p.state_dir = "/run/runguard";
  return p;
}

Policy vault_policy(VaultAuth::Method method = VaultAuth::Method::kToken) {
  Policy p = base_policy();
  p.secrets.backend = Backend::kVault;
  p.secrets.vault.address = "https://vault.example:8200";
  p.secrets.vault.auth.method = method;
  if (method == VaultAuth::Method::kKubernetes) p.secrets.vault.auth.role = "app";
  return p;
}

ContainerContext ctx_of(std::map<std::string, std::string> annotations, const std::string& ns = "payments",
                        const std::string& image = "registry.example/payments/api:1.2") {
  ContainerContext ctx;
  ctx.id = "c1";
  ctx.k8s_namespace = ns;
  ctx.image = image;
  ctx.annotations = std::move(annotations);
  return ctx;
}

std::map<std::string, std::string> ask(const std::string& name, const std::string& ref) { return {{kPrefix + name, ref}}; }

Json base_spec() { return parse(R"({"ociVersion":"1.0.2","process":{"env":["PATH=/bin"]},"root":{"path":"rootfs"}})"); }

Json spec_with_mounts(const Json& mounts) {
  Json s = base_spec();
  s["mounts"] = mounts;
  return s;
}

Json mount_at(const std::string& destination, const std::string& source = "/host/x") {
  return Json{{"destination", destination}, {"type", "bind"}, {"source", source}, {"options", Json::array({"rbind", "ro"})}};
}

Json secrets_mount(const std::string& destination = "/run/secrets", const std::string& source = kHostDir) {
  return Json{{"destination", destination},
              {"type", "bind"},
              {"source", source},
              {"options", Json::array({"bind", "ro", "nosuid", "nodev", "noexec", "rprivate"})}};
}

std::vector<const Mutation*> mutations_with(const Decision& d, const std::string& id) {
  std::vector<const Mutation*> out;
  for (const auto& m : d.mutations) {
    if (m.id == id) out.push_back(&m);
  }
  return out;
}

std::vector<std::string> plan_names(const Decision& d) {
  std::vector<std::string> out;
  for (const auto& f : d.secrets.files) out.push_back(f.name);
  return out;
}

// A refused container: denied, the spec exactly as given, nothing applied.
void expect_refused(const Decision& d, const Json& spec, const std::string& id, const std::string& why) {
  EXPECT_FALSE(d.allowed) << describe(d);
  ASSERT_GE(count_id(d, id), 1u) << describe(d);
  const Finding* f = findings_with(d, id)[0];
  EXPECT_EQ(f->action, Action::kDeny);
  EXPECT_EQ(f->control, "secrets");
  EXPECT_NE(f->message.find(why), std::string::npos) << f->message;
  EXPECT_EQ(d.result, spec);
  for (const auto& m : d.mutations) EXPECT_FALSE(m.applied) << m.id << " " << m.pointer;
}

TEST(SecretsControl, GrantedAnnotationIsPlannedAndMounted) {
  Policy p = base_policy();
  p.secrets.allow = {allow_of(match_of("payments"), {"app/*"})};
  Json spec = base_spec();
  Decision d = evaluate_spec(p, spec, ctx_of(ask("db-password", "app/db.json#password")));
  ASSERT_TRUE(d.allowed) << describe(d);
  EXPECT_TRUE(d.findings.empty()) << describe(d);
  ASSERT_EQ(d.secrets.files.size(), 1u);
  const PlannedSecret& f = d.secrets.files[0];
  EXPECT_EQ(f.name, "db-password");
  EXPECT_EQ(f.source, PlannedSecret::Source::kAnnotation);
  EXPECT_EQ(f.ref.backend, Backend::kFile);
  EXPECT_EQ(f.ref.path, "app/db.json");
  EXPECT_EQ(f.ref.key, "password");
  EXPECT_EQ(d.secrets.mount_path, "/run/secrets");
  EXPECT_EQ(d.secrets.host_dir, kHostDir);
  EXPECT_TRUE(d.secrets.mount_points.empty());
  EXPECT_EQ(d.secrets.kubernetes_token_file, "");

  ASSERT_EQ(d.mutations.size(), 1u);
  const Mutation& m = d.mutations[0];
  EXPECT_EQ(m.id, "RG-SECRETS-001");
  EXPECT_EQ(m.control, "secrets");
  EXPECT_EQ(m.op, "add");
  EXPECT_EQ(m.pointer, "/mounts");
  EXPECT_TRUE(m.applied);
  EXPECT_EQ(d.result["mounts"], Json::array({secrets_mount()}));
  Json expected = spec;
  expected["mounts"] = Json::array({secrets_mount()});
  EXPECT_EQ(d.result, expected) << "nothing else changes";
}

TEST(SecretsControl, MountIsReadOnlyAndInert) {
  Policy p = base_policy();
  p.secrets.allow = {allow_of(match_of(), {"*"})};
  Decision d = evaluate_spec(p, base_spec(), ctx_of(ask("a", "a")));
  ASSERT_TRUE(d.result["mounts"].is_array());
  const Json& opts = d.result["mounts"][0]["options"];
  for (const char* o : {"bind", "ro", "nosuid", "nodev", "noexec"}) {
    EXPECT_NE(std::find(opts.begin(), opts.end(), o), opts.end()) << o << " missing in " << opts.dump();
  }
  for (const char* o : {"rw", "rbind", "suid", "dev", "exec", "shared", "rshared"}) {
    EXPECT_EQ(std::find(opts.begin(), opts.end(), o), opts.end()) << o << " in " << opts.dump();
  }
}

TEST(SecretsControl, MountAppendsAfterTheSpecsMounts) {
  Policy p = base_policy();
  p.secrets.allow = {allow_of(match_of(), {"*"})};
  Json mounts = Json::array({mount_at("/proc"), mount_at("/data"), mount_at("/run")});
  Decision d = evaluate_spec(p, spec_with_mounts(mounts), ctx_of(ask("a", "a")));
  ASSERT_TRUE(d.allowed) << describe(d);
  ASSERT_EQ(d.mutations.size(), 1u);
  EXPECT_EQ(d.mutations[0].op, "add");
  EXPECT_EQ(d.mutations[0].pointer, "/mounts/3");
  Json want = mounts;
  want.push_back(secrets_mount());
  EXPECT_EQ(d.result["mounts"], want) << "after /run: a tmpfs on /run must not hide it";
}

TEST(SecretsControl, CustomMountPathAndStateDir) {
  Policy p = base_policy();
  p.state_dir = "/var/lib/rg-state";
  p.secrets.mount_path = "/etc/app/secrets";
  p.secrets.allow = {allow_of(match_of(), {"*"})};
  ContainerContext ctx = ctx_of(ask("a", "a"));
  ctx.id = "0123abcd";
  Decision d = evaluate_spec(p, base_spec(), ctx);
  EXPECT_EQ(d.secrets.mount_path, "/etc/app/secrets");
  EXPECT_EQ(d.secrets.host_dir, "/var/lib/rg-state/0123abcd/secrets");
  EXPECT_EQ(d.result["mounts"], Json::array({secrets_mount("/etc/app/secrets", "/var/lib/rg-state/0123abcd/secrets")}));
}

TEST(SecretsControl, NoRequestsNoMountNoPlan) {
  Policy p = base_policy();
  p.secrets.allow = {allow_of(match_of(), {"*"})};
  // Annotations that look alike but are not requests.
  ContainerContext ctx = ctx_of({{"secrets.runguard.dev", "a"}, {"x.secrets.runguard.dev/a", "a"}, {"secrets.runguard.io/a", "a"}});
  Json spec = spec_with_mounts(Json::array({mount_at("/run/secrets")}));
  Decision d = evaluate_spec(p, spec, ctx);
  EXPECT_TRUE(d.allowed) << describe(d);
  EXPECT_TRUE(d.findings.empty()) << describe(d) << " (a spec mount at mountPath is fine when nothing is delivered)";
  EXPECT_TRUE(d.mutations.empty());
  EXPECT_TRUE(d.secrets.empty());
  EXPECT_EQ(d.result, spec);
  EXPECT_FALSE(decision_to_json(d).contains("secrets"));
}

TEST(SecretsControl, AnnotationAloneGrantsNothing) {
  Policy p = base_policy();  // no allow entries at all
  Json spec = base_spec();
  Decision d = evaluate_spec(p, spec, ctx_of(ask("db", "app/db")));
  expect_refused(d, spec, "RG-SECRETS-002", "an annotation alone grants nothing");
  const Finding* f = findings_with(d, "RG-SECRETS-002")[0];
  EXPECT_NE(f->message.find("file:app/db"), std::string::npos) << f->message;
  EXPECT_NE(f->message.find("(namespace payments)"), std::string::npos) << f->message;
  EXPECT_EQ(f->pointer, "/annotations/secrets.runguard.dev~1db");
  EXPECT_TRUE(d.secrets.empty());
  EXPECT_TRUE(d.mutations.empty()) << "nothing to mount";
  EXPECT_FALSE(d.result.contains("mounts"));
}

TEST(SecretsControl, RefusalWithoutNamespaceDoesNotNameOne) {
  Decision d = evaluate_spec(base_policy(), base_spec(), ctx_of(ask("db", "app/db"), "", ""));
  ASSERT_EQ(count_id(d, "RG-SECRETS-002"), 1u);
  EXPECT_EQ(findings_with(d, "RG-SECRETS-002")[0]->message.find("namespace"), std::string::npos);
}

// Each row: the allow list is always [payments-only entry, catch-all entry].
struct GrantCase {
  const char* name;
  std::string ns;
  std::string image;
  std::string ref;
  bool granted;
};
RG_PRINT_BY_NAME(GrantCase)

const GrantCase kGrants[] = {
    {"first_entry_grants_its_path", "payments", "registry.example/payments/api:1", "kv/data/payments/db", true},
    // First match decides: payments matches the first entry, which does not list shared paths;
    // the catch-all entry below that would grant them is never consulted.
    {"first_match_decides_even_if_later_would_grant", "payments", "registry.example/payments/api:1", "kv/data/shared/ca", false},
    {"other_namespace_falls_to_catch_all", "web", "registry.example/web:2", "kv/data/shared/ca", true},
    {"other_namespace_not_granted_payments_path", "web", "registry.example/web:2", "kv/data/payments/db", false},
    {"image_mismatch_falls_to_catch_all", "payments", "docker.io/evil/payments:1", "kv/data/payments/db", false},
    {"image_mismatch_gets_shared", "payments", "docker.io/evil/payments:1", "kv/data/shared/ca", true},
    {"star_crosses_slash_in_path", "payments", "registry.example/payments/api:1", "kv/data/payments/team/deep/db", true},
    {"star_crosses_slash_in_image", "payments", "registry.example/payments/sub/dir/api@sha256:abc", "kv/data/payments/db", true},
    {"path_prefix_is_not_a_directory", "payments", "registry.example/payments/api:1", "kv/data/payments-old/db", false},
    {"exact_path", "payments", "registry.example/payments/api:1", "database/creds/payments-ro", true},
    {"exact_path_other_role", "payments", "registry.example/payments/api:1", "database/creds/payments-rw", false},
    {"empty_context_gets_catch_all", "", "", "kv/data/shared/ca", true},
    {"empty_context_not_payments", "", "", "kv/data/payments/db", false},
    {"namespace_glob_is_anchored", "payments-staging", "registry.example/payments/api:1", "kv/data/payments/db", false},
};

class SecretsGrantTest : public ::testing::TestWithParam<GrantCase> {};

TEST_P(SecretsGrantTest, FirstMatchingAllowEntryDecides) {
  const GrantCase& c = GetParam();
  Policy p = vault_policy();
  p.secrets.allow = {allow_of(match_of("payments", "registry.example/payments/*"), {"kv/data/payments/*", "database/creds/payments-ro"}),
                     allow_of(match_of(), {"kv/data/shared/*"})};
  Json spec = base_spec();
  Decision d = evaluate_spec(p, spec, ctx_of(ask("s", c.ref), c.ns, c.image));
  if (c.granted) {
    EXPECT_TRUE(d.allowed) << describe(d);
    EXPECT_EQ(plan_names(d), std::vector<std::string>{"s"});
    EXPECT_EQ(mutations_with(d, "RG-SECRETS-001").size(), 1u);
  } else {
    expect_refused(d, spec, "RG-SECRETS-002", "which no secrets.allow entry grants this container");
  }
}

INSTANTIATE_TEST_SUITE_P(SecretsControl, SecretsGrantTest, ::testing::ValuesIn(kGrants),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SecretsControl, NamespaceAndImageGlobs) {
  Policy p = base_policy();
  p.secrets.allow = {allow_of(match_of("team-*"), {"x"})};
  EXPECT_TRUE(evaluate_spec(p, base_spec(), ctx_of(ask("x", "x"), "team-a")).allowed);
  EXPECT_FALSE(evaluate_spec(p, base_spec(), ctx_of(ask("x", "x"), "teamb")).allowed);
  EXPECT_FALSE(evaluate_spec(p, base_spec(), ctx_of(ask("x", "x"), "")).allowed);
  p.secrets.allow = {allow_of(match_of(std::nullopt, "registry.example/*"), {"x"})};
  EXPECT_TRUE(evaluate_spec(p, base_spec(), ctx_of(ask("x", "x"), "any", "registry.example/a/b/c:1")).allowed);
  EXPECT_FALSE(evaluate_spec(p, base_spec(), ctx_of(ask("x", "x"), "any", "registry.example.evil/a:1")).allowed);
  EXPECT_FALSE(evaluate_spec(p, base_spec(), ctx_of(ask("x", "x"), "any", "")).allowed);
}

TEST(SecretsControl, EmptyMatchMatchesEveryContainer) {
  Policy p = base_policy();
  p.secrets.allow = {allow_of(match_of(), {"x"})};
  for (const auto& [ns, image] : std::vector<std::pair<std::string, std::string>>{{"", ""}, {"kube-system", "k8s.gcr.io/pause:3"}, {"a", "b"}}) {
    Decision d = evaluate_spec(p, base_spec(), ctx_of(ask("x", "x"), ns, image));
    EXPECT_TRUE(d.allowed) << ns << " " << image << ": " << describe(d);
  }
}

struct HostileCase {
  const char* name;
  std::string key;  // full annotation key
  std::string ref;
  const char* why;
};
RG_PRINT_BY_NAME(HostileCase)

const HostileCase kHostile[] = {
    {"name_traversal", std::string(kPrefix) + "../x", "a", "must not start with '.'"},
    {"name_deep_traversal", std::string(kPrefix) + "../../etc/cron.d/x", "a", "must not start with '.'"},
    {"name_hidden", std::string(kPrefix) + ".hidden", "a", "must not start with '.'"},
    {"name_slash", std::string(kPrefix) + "a/b", "a", "only letters, digits"},
    {"name_empty", std::string(kPrefix), "a", "secret name is empty"},
    {"name_129", std::string(kPrefix) + std::string(129, 'n'), "a", "longer than 128"},
    {"name_newline", std::string(kPrefix) + "a\nb", "a", "only letters, digits"},
    {"name_nul", std::string(kPrefix) + std::string("a\0b", 3), "a", "only letters, digits"},
    {"name_space", std::string(kPrefix) + "a b", "a", "only letters, digits"},
    // The allow glob is "*": only the grammar stands between these and the filesystem.
    {"ref_traversal", std::string(kPrefix) + "x", "../../etc/shadow", "\"..\" segments are not allowed"},
    {"ref_traversal_inside_granted_prefix", std::string(kPrefix) + "x", "app/../../etc/shadow", "\"..\" segments"},
    {"ref_absolute", std::string(kPrefix) + "x", "/etc/shadow", "empty path segment"},
    {"ref_dot", std::string(kPrefix) + "x", "app/./db", "\".\" segments"},
    {"ref_newline", std::string(kPrefix) + "x", "app/db\nfake log line", "is not allowed in a path"},
    {"ref_unknown_backend", std::string(kPrefix) + "x", "s3:bucket/x", "unknown backend"},
    {"ref_empty", std::string(kPrefix) + "x", "", "has no path"},
    {"ref_version_on_file", std::string(kPrefix) + "x", "app/db?version=2", "Vault KV v2 only"},
    {"ref_bad_key", std::string(kPrefix) + "x", "app/db#a/b", "#key"},
};

class SecretsHostileTest : public ::testing::TestWithParam<HostileCase> {};

TEST_P(SecretsHostileTest, IsRefused) {
  const HostileCase& c = GetParam();
  Policy p = base_policy();
  p.secrets.allow = {allow_of(match_of(), {"*"})};
  Json spec = base_spec();
  Decision d = evaluate_spec(p, spec, ctx_of({{c.key, c.ref}}));
  expect_refused(d, spec, "RG-SECRETS-002", c.why);
  EXPECT_TRUE(d.secrets.empty());
  EXPECT_TRUE(d.mutations.empty());
  const Finding* f = findings_with(d, "RG-SECRETS-002")[0];
  for (char ch : f->message) EXPECT_NE(ch, '\n') << "a finding is one line: " << f->message;
  EXPECT_EQ(f->message.find('\0'), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(SecretsControl, SecretsHostileTest, ::testing::ValuesIn(kHostile),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SecretsControl, OneRefusedRequestRefusesTheContainer) {
  Policy p = base_policy();
  p.secrets.allow = {allow_of(match_of(), {"ok/*"})};
  Json spec = base_spec();
  Decision d = evaluate_spec(p, spec, ctx_of({{std::string(kPrefix) + "a", "ok/a"}, {std::string(kPrefix) + "b", "other/b"}}));
  expect_refused(d, spec, "RG-SECRETS-002", "file:other/b");
  EXPECT_EQ(count_id(d, "RG-SECRETS-002"), 1u);
}

TEST(SecretsControl, EveryRefusedRequestIsReported) {
  Decision d = evaluate_spec(base_policy(), base_spec(),
                             ctx_of({{std::string(kPrefix) + "a", "x"}, {std::string(kPrefix) + ".b", "x"}, {std::string(kPrefix) + "c", "../x"}}));
  EXPECT_EQ(count_id(d, "RG-SECRETS-002"), 3u) << describe(d);
}

TEST(SecretsControl, BackendMismatchIsRefused) {
  Policy p = base_policy();  // backend file
  p.secrets.allow = {allow_of(match_of(), {"*"})};
  Json spec = base_spec();
  Decision d = evaluate_spec(p, spec, ctx_of(ask("x", "vault:kv/data/x")));
  expect_refused(d, spec, "RG-SECRETS-002", "asks for vault:kv/data/x but secrets.backend is file");

  Policy v = vault_policy();
  v.secrets.allow = {allow_of(match_of(), {"*"})};
  d = evaluate_spec(v, spec, ctx_of(ask("x", "file:x")));
  expect_refused(d, spec, "RG-SECRETS-002", "asks for file:x but secrets.backend is vault");
}

TEST(SecretsControl, DefaultBackendAppliesToBareReferences) {
  Policy v = vault_policy();
  v.secrets.allow = {allow_of(match_of(), {"kv/*"})};
  Decision d = evaluate_spec(v, base_spec(), ctx_of(ask("x", "kv/data/x?version=3#k")));
  ASSERT_TRUE(d.allowed) << describe(d);
  ASSERT_EQ(d.secrets.files.size(), 1u);
  EXPECT_EQ(d.secrets.files[0].ref.backend, Backend::kVault);
  EXPECT_EQ(d.secrets.files[0].ref.version, 3u);
}

TEST(SecretsControl, AttachAddsFilesForMatchingContainersOnly) {
  Policy p = base_policy();
  p.secrets.attach = {attach_of(match_of("payments"), {{"ca.pem", "file:pki/ca.pem"}, {"db", "file:payments/db#password"}}),
                      attach_of(match_of(), {{"motd", "file:motd"}}), attach_of(match_of("web"), {{"web-key", "file:web/key"}})};
  Decision d = evaluate_spec(p, base_spec(), ctx_of({}, "payments"));
  ASSERT_TRUE(d.allowed) << describe(d);
  EXPECT_EQ(plan_names(d), (std::vector<std::string>{"ca.pem", "db", "motd"}));
  for (const auto& f : d.secrets.files) EXPECT_EQ(f.source, PlannedSecret::Source::kAttach) << f.name;
  EXPECT_EQ(d.secrets.files[1].ref.path, "payments/db");
  EXPECT_EQ(d.secrets.files[1].ref.key, "password");
  EXPECT_EQ(mutations_with(d, "RG-SECRETS-001").size(), 1u);

  d = evaluate_spec(p, base_spec(), ctx_of({}, "other"));
  EXPECT_EQ(plan_names(d), std::vector<std::string>{"motd"});

  p.secrets.attach.erase(p.secrets.attach.begin() + 1);  // no catch-all
  d = evaluate_spec(p, base_spec(), ctx_of({}, "other"));
  EXPECT_TRUE(d.secrets.empty());
  EXPECT_TRUE(d.mutations.empty()) << "no files, no mount";
}

TEST(SecretsControl, AttachNeedsNoAllowEntryAndCombinesWithAnnotations) {
  Policy p = base_policy();
  p.secrets.allow = {allow_of(match_of(), {"app/*"})};
  p.secrets.attach = {attach_of(match_of(), {{"ca.pem", "file:pki/ca.pem"}})};  // pki/ is not in allow
  Decision d = evaluate_spec(p, base_spec(), ctx_of(ask("db", "app/db")));
  ASSERT_TRUE(d.allowed) << describe(d);
  EXPECT_EQ(plan_names(d), (std::vector<std::string>{"db", "ca.pem"}));
  EXPECT_EQ(d.secrets.files[0].source, PlannedSecret::Source::kAnnotation);
  EXPECT_EQ(d.secrets.files[1].source, PlannedSecret::Source::kAttach);
  EXPECT_EQ(mutations_with(d, "RG-SECRETS-001").size(), 1u) << "one mount for all files";
}

TEST(SecretsControl, DuplicateNamesAreRefused) {
  Policy p = base_policy();
  p.secrets.allow = {allow_of(match_of(), {"*"})};
  p.secrets.attach = {attach_of(match_of(), {{"db", "file:admin/db"}})};
  Json spec = base_spec();
  // The annotation would otherwise replace the administrator's file with one of its choosing.
  Decision d = evaluate_spec(p, spec, ctx_of(ask("db", "mine/db")));
  expect_refused(d, spec, "RG-SECRETS-002", "secret file db is asked for twice (annotation and attach)");

  p.secrets.attach.push_back(attach_of(match_of("payments"), {{"db", "file:other/db"}}));
  d = evaluate_spec(p, spec, ctx_of({}));
  expect_refused(d, spec, "RG-SECRETS-002", "asked for twice (attach and attach)");
}

TEST(SecretsControl, SpecMountAtMountPathIsRefused) {
  Policy p = base_policy();
  p.secrets.allow = {allow_of(match_of(), {"*"})};
  for (const char* dest : {"/run/secrets", "/var/run/secrets", "/run/secrets/", "/var/run/secrets//"}) {
    SCOPED_TRACE(dest);
    Json spec = spec_with_mounts(Json::array({mount_at("/proc"), mount_at(dest)}));
    Decision d = evaluate_spec(p, spec, ctx_of(ask("a", "a")));
    expect_refused(d, spec, "RG-SECRETS-003", "the spec already mounts something at /run/secrets (mounts/1)");
    EXPECT_EQ(findings_with(d, "RG-SECRETS-003")[0]->pointer, "/mounts/1");
    EXPECT_TRUE(mutations_with(d, "RG-SECRETS-001").empty());
  }
}

// kubelet mounts the service-account token at /var/run/secrets/kubernetes.io/serviceaccount; in
// most images /var/run links to /run, so it lands inside our mountPath and must come after it.
TEST(SecretsControl, ServiceAccountMountGoesAfterTheSecretsMount) {
  Policy p = base_policy();
  p.secrets.allow = {allow_of(match_of(), {"*"})};
  for (const char* sa : {kSaDir, "/run/secrets/kubernetes.io/serviceaccount", "/var/run/secrets/kubernetes.io/serviceaccount/"}) {
    SCOPED_TRACE(sa);
    Json mounts = Json::array({mount_at("/proc"), mount_at(sa, kSaSource), mount_at("/data")});
    Decision d = evaluate_spec(p, spec_with_mounts(mounts), ctx_of(ask("a", "a")));
    ASSERT_TRUE(d.allowed) << describe(d);
    auto m = mutations_with(d, "RG-SECRETS-001");
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0]->op, "replace");
    EXPECT_EQ(m[0]->pointer, "/mounts");
    EXPECT_EQ(m[0]->value, (Json{{"inserted", secrets_mount()}, {"before", 1u}}));
    Json want = Json::array({mounts[0], secrets_mount(), mounts[1], mounts[2]});
    EXPECT_EQ(d.result["mounts"], want);
    EXPECT_EQ(d.secrets.mount_points, std::vector<std::string>{"kubernetes.io/serviceaccount"});
  }
}

TEST(SecretsControl, SecretsMountGoesBeforeTheFirstMountBelowIt) {
  Policy p = base_policy();
  p.secrets.allow = {allow_of(match_of(), {"*"})};
  Json mounts = Json::array({mount_at("/data"), mount_at("/run/secrets/tls"), mount_at("/etc/x"), mount_at(kSaDir, kSaSource)});
  Decision d = evaluate_spec(p, spec_with_mounts(mounts), ctx_of(ask("a", "a")));
  ASSERT_TRUE(d.allowed) << describe(d);
  Json want = Json::array({mounts[0], secrets_mount(), mounts[1], mounts[2], mounts[3]});
  EXPECT_EQ(d.result["mounts"], want);
  EXPECT_EQ(d.secrets.mount_points, (std::vector<std::string>{"tls", "kubernetes.io/serviceaccount"}));
}

TEST(SecretsControl, MountsBesideTheMountPathAreNotBelowIt) {
  Policy p = base_policy();
  p.secrets.allow = {allow_of(match_of(), {"*"})};
  Json mounts = Json::array({mount_at("/run/secrets-other"), mount_at("/run"), mount_at("/run/secretsx/y")});
  Decision d = evaluate_spec(p, spec_with_mounts(mounts), ctx_of(ask("a", "a")));
  ASSERT_TRUE(d.allowed) << describe(d);
  EXPECT_EQ(d.result["mounts"].size(), 4u);
  EXPECT_EQ(d.result["mounts"][3], secrets_mount());
  EXPECT_TRUE(d.secrets.mount_points.empty());
}

TEST(SecretsControl, OtherMountPathLeavesTheServiceAccountMountAlone) {
  Policy p = base_policy();
  p.secrets.mount_path = "/var/run/app";
  p.secrets.allow = {allow_of(match_of(), {"*"})};
  Json mounts = Json::array({mount_at(kSaDir, kSaSource)});
  Decision d = evaluate_spec(p, spec_with_mounts(mounts), ctx_of(ask("a", "a")));
  ASSERT_TRUE(d.allowed) << describe(d);
  EXPECT_EQ(d.result["mounts"], Json::array({mounts[0], secrets_mount("/var/run/app")}));
  EXPECT_TRUE(d.secrets.mount_points.empty());
}

TEST(SecretsControl, KubernetesAuthNeedsTheServiceAccountMount) {
  Policy p = vault_policy(VaultAuth::Method::kKubernetes);
  p.secrets.allow = {allow_of(match_of(), {"kv/*"})};
  Json spec = spec_with_mounts(Json::array({mount_at("/proc")}));
  Decision d = evaluate_spec(p, spec, ctx_of(ask("db", "vault:kv/data/db")));
  expect_refused(d, spec, "RG-SECRETS-003", "no service-account token mounted at /var/run/secrets/kubernetes.io/serviceaccount");
  EXPECT_EQ(findings_with(d, "RG-SECRETS-003")[0]->pointer, "/mounts");

  // A relative source cannot be read by the runtime as the pod's token.
  spec = spec_with_mounts(Json::array({mount_at(kSaDir, "relative/dir")}));
  d = evaluate_spec(p, spec, ctx_of(ask("db", "vault:kv/data/db")));
  expect_refused(d, spec, "RG-SECRETS-003", "no service-account token");

  spec = base_spec();  // no mounts at all
  d = evaluate_spec(p, spec, ctx_of(ask("db", "vault:kv/data/db")));
  expect_refused(d, spec, "RG-SECRETS-003", "no service-account token");
}

TEST(SecretsControl, KubernetesAuthUsesThePodsOwnToken) {
  Policy p = vault_policy(VaultAuth::Method::kKubernetes);
  p.secrets.allow = {allow_of(match_of(), {"kv/*"})};
  for (const char* sa : {kSaDir, "/run/secrets/kubernetes.io/serviceaccount"}) {
    SCOPED_TRACE(sa);
    Json spec = spec_with_mounts(Json::array({mount_at(sa, kSaSource)}));
    Decision d = evaluate_spec(p, spec, ctx_of(ask("db", "vault:kv/data/db")));
    ASSERT_TRUE(d.allowed) << describe(d);
    EXPECT_EQ(d.secrets.kubernetes_token_file, std::string(kSaSource) + "/token");
    EXPECT_EQ(decision_to_json(d)["secrets"]["kubernetesTokenFile"], std::string(kSaSource) + "/token");
  }
}

TEST(SecretsControl, TokenAuthNeedsNoServiceAccount) {
  Policy p = vault_policy(VaultAuth::Method::kToken);
  p.secrets.allow = {allow_of(match_of(), {"kv/*"})};
  Json spec = spec_with_mounts(Json::array({mount_at(kSaDir, kSaSource)}));
  Decision d = evaluate_spec(p, spec, ctx_of(ask("db", "vault:kv/data/db")));
  ASSERT_TRUE(d.allowed) << describe(d);
  EXPECT_EQ(d.secrets.kubernetes_token_file, "");
}

TEST(SecretsControl, AuditModeReportsButChangesNothing) {
  Policy p = base_policy();
  p.mode = Mode::kAudit;
  p.secrets.allow = {allow_of(match_of(), {"ok/*"})};
  Json spec = base_spec();
  Decision d = evaluate_spec(p, spec, ctx_of(ask("a", "ok/a")));
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.result, spec);
  auto m = mutations_with(d, "RG-SECRETS-001");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_FALSE(m[0]->applied);
  EXPECT_EQ(plan_names(d), std::vector<std::string>{"a"});

  d = evaluate_spec(p, spec, ctx_of(ask("a", "other/a")));
  EXPECT_TRUE(d.allowed);
  ASSERT_EQ(count_id(d, "RG-SECRETS-002"), 1u);
  const Finding* f = findings_with(d, "RG-SECRETS-002")[0];
  EXPECT_EQ(f->action, Action::kAudit);
  EXPECT_EQ(f->message.rfind("would deny: ", 0), 0u) << f->message;
  EXPECT_EQ(d.result, spec);
}

// `runguardctl check` prints decision_to_json: the plan is there, with names and references.
TEST(SecretsControl, DecisionJsonCarriesThePlan) {
  Policy p = base_policy();
  p.secrets.allow = {allow_of(match_of(), {"app/*"})};
  p.secrets.attach = {attach_of(match_of(), {{"ca.pem", "file:pki/ca.pem"}})};
  Decision d = evaluate_spec(p, base_spec(), ctx_of(ask("db", "app/db#password")));
  Json j = decision_to_json(d);
  ASSERT_TRUE(j.contains("secrets")) << j.dump(2);
  EXPECT_EQ(j["secrets"], secrets_plan_to_json(d.secrets));
  EXPECT_EQ(j["secrets"], parse(R"({"mountPath":"/run/secrets","hostDir":"/run/runguard/c1/secrets","files":[
      {"name":"db","source":"annotation","ref":"file:app/db#password"},
      {"name":"ca.pem","source":"attach","ref":"file:pki/ca.pem"}]})"));
  bool found = false;
  for (const auto& m : j["mutations"]) found |= m["id"] == "RG-SECRETS-001";
  EXPECT_TRUE(found) << j.dump(2);
}

}  // namespace

namespace {

// runc ignores "." and empty components of a destination (and resolves a relative one from the
// rootfs): "/run/./secrets" and "run/secrets" are the mountPath too.
TEST(SecretsControl, NonNormalisedDestinationsAreTheMountPath) {
  Policy p = base_policy();
  p.secrets.allow = {allow_of(match_of(), {"*"})};
  for (const char* dest : {"/run/./secrets", "run/secrets", "//run//secrets/."}) {
    SCOPED_TRACE(dest);
    Json spec = spec_with_mounts(Json::array({mount_at(dest)}));
    Decision d = evaluate_spec(p, spec, ctx_of(ask("a", "a")));
    expect_refused(d, spec, "RG-SECRETS-003", "the spec already mounts something at /run/secrets (mounts/0)");
  }
  Json below = spec_with_mounts(Json::array({mount_at("/run/./secrets/tls/")}));
  Decision d = evaluate_spec(p, below, ctx_of(ask("a", "a")));
  ASSERT_TRUE(d.allowed) << describe(d);
  EXPECT_EQ(d.secrets.mount_points, std::vector<std::string>{"tls"});
}

// A secret file and a spec mount below mountPath cannot share a name: one would hide the other.
TEST(SecretsControl, SecretNamedLikeAMountBelowItIsRefused) {
  Policy p = base_policy();
  p.secrets.allow = {allow_of(match_of(), {"*"})};
  for (const char* name : {"tls", "kubernetes.io"}) {
    SCOPED_TRACE(name);
    Json spec = spec_with_mounts(Json::array({mount_at("/run/secrets/tls"), mount_at(kSaDir, kSaSource)}));
    Decision d = evaluate_spec(p, spec, ctx_of(ask(name, "a")));
    expect_refused(d, spec, "RG-SECRETS-003", "need the same name below /run/secrets; rename the secret");
  }
}

}  // namespace
