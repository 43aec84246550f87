// policy.yaml loading: a full valid policy, every class of load error (file:line:col, dotted key,
// did-you-mean), peek_runtime_settings against yaml-cpp, the embedded seccomp profile and the
// shipped presets.

#include <gtest/gtest.h>

#include "../../policy/src/settings_scan.h"
#include <yaml-cpp/yaml.h>

#include <string>

#include "policy_test_util.h"
#include "runguard/policy/seccomp_profile.h"

namespace {

using namespace rgtest;  // NOLINT(google-build-using-namespace)
using runguard::policy::FailurePolicy;
using runguard::policy::FileReader;
using runguard::policy::Mode;
using runguard::policy::parse_policy;

constexpr const char* kIssuePolicy = R"(runtime: { path: /usr/sbin/runc }
stateDir: /run/runguard
libDir: /var/lib/runguard
mode: enforce
controls:
  user:            { action: enforce, uid: 65532, gid: 65532 }
  capabilities:    { action: enforce, allow: [NET_BIND_SERVICE] }
  noNewPrivileges: { action: enforce }
  seccomp:         { action: enforce, profile: default }
  resources:       { action: enforce, memory: { default: 512Mi, max: 8Gi }, pids: { default: 1024, max: 32768 }, cpu: { defaultShares: 1024 }, rlimits: { RLIMIT_NOFILE: { default: 16384 } } }
  hostNamespaces:  { action: deny }
  privileged:      { action: deny }
  sensitiveMounts: { action: deny }
  readonlyRootfs:  { action: audit }
  secretsInEnv:    { action: deny }
overrides:
  - match: { containerType: sandbox }
    controls: { readonlyRootfs: { action: off } }
)";

TEST(PolicyLoader, IssuePolicyLoads) {
  auto r = parse_policy(kIssuePolicy, "/etc/runguard/policy.yaml", no_files);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const Policy& p = *r;
  EXPECT_EQ(p.source, "/etc/runguard/policy.yaml");
  EXPECT_EQ(p.runtime_path, "/usr/sbin/runc");
  EXPECT_EQ(p.state_dir, "/run/runguard");
  EXPECT_EQ(p.lib_dir, "/var/lib/runguard");
  EXPECT_EQ(p.mode, Mode::kEnforce);
  EXPECT_EQ(p.failure_policy, FailurePolicy::kClosed);
  const Controls& c = p.controls;
  EXPECT_EQ(c.user.action, Action::kEnforce);
  EXPECT_EQ(c.user.uid, 65532u);
  EXPECT_EQ(c.capabilities.allow, std::vector<std::string>{"CAP_NET_BIND_SERVICE"});
  EXPECT_EQ(c.seccomp.profile, "default");
  EXPECT_EQ(c.seccomp.profile_json["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_EQ(c.resources.memory.default_value, 512LL << 20);
  EXPECT_EQ(c.resources.memory.max, 8LL << 30);
  EXPECT_EQ(c.resources.pids.default_value, 1024);
  EXPECT_EQ(c.resources.pids.max, 32768);
  EXPECT_EQ(c.resources.cpu_default_shares, 1024u);
  EXPECT_EQ(c.resources.rlimits.at("RLIMIT_NOFILE").default_value, 16384u);
  EXPECT_EQ(c.host_namespaces.action, Action::kDeny);
  EXPECT_EQ(c.privileged.action, Action::kDeny);
  EXPECT_EQ(c.sensitive_mounts.action, Action::kDeny);
  EXPECT_EQ(c.readonly_rootfs.action, Action::kAudit);
  EXPECT_EQ(c.secrets_in_env.action, Action::kDeny);
  ASSERT_EQ(p.overrides.size(), 1u);
  EXPECT_EQ(p.overrides[0].name, "overrides[0]");
  EXPECT_EQ(p.overrides[0].match.container_type, "sandbox");
  EXPECT_EQ(p.overrides[0].controls.readonly_rootfs.action, Action::kOff);
  EXPECT_EQ(p.overrides[0].controls.secrets_in_env.action, Action::kDeny);
}

TEST(PolicyLoader, EmptyDocumentIsTheDefaults) {
  for (const char* yaml : {"", "# only a comment\n", "---\n"}) {
    auto r = parse_policy(yaml, "p.yaml", no_files);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ(r->controls.user.action, Action::kEnforce);
    EXPECT_EQ(r->controls.seccomp.profile_json, defaults().controls.seccomp.profile_json);
  }
}

TEST(PolicyLoader, OptionalSettings) {
  auto r = parse_policy(R"(mode: audit
failurePolicy: open
controls:
  capabilities: { allow: [net_bind_service, CAP_CHOWN, chown] }
  sensitiveMounts: { allow: ["/srv/data/", /var/run/docker.sock] }
  resources: { memory: { max: 16Gi }, rlimits: { RLIMIT_CORE: { default: 0, max: 0 } } }
overrides:
  - name: web
    match: { namespace: "web-*", image: "nginx:*", annotations: { team: a } }
    controls: { user: { uid: 101, gid: 101 } }
)",
                        "p.yaml", no_files);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->mode, Mode::kAudit);
  EXPECT_EQ(r->failure_policy, FailurePolicy::kOpen);
  EXPECT_EQ(r->controls.capabilities.allow, (std::vector<std::string>{"CAP_NET_BIND_SERVICE", "CAP_CHOWN"}));
  EXPECT_EQ(r->controls.sensitive_mounts.allow, (std::vector<std::string>{"/srv/data", "/var/run/docker.sock"}));
  EXPECT_EQ(r->controls.resources.memory.max, 16LL << 30);
  EXPECT_EQ(r->controls.resources.memory.default_value, 512LL << 20);  // built-in default kept
  EXPECT_EQ(r->controls.resources.rlimits.at("RLIMIT_CORE").max, 0u);
  EXPECT_EQ(r->controls.resources.rlimits.count("RLIMIT_NOFILE"), 1u);
  ASSERT_EQ(r->overrides.size(), 1u);
  const auto& o = r->overrides[0];
  EXPECT_EQ(o.name, "web");
  EXPECT_EQ(o.match.namespace_, "web-*");
  EXPECT_EQ(o.match.image, "nginx:*");
  EXPECT_EQ(o.match.annotations.at("team"), "a");
  EXPECT_EQ(o.controls.user.uid, 101u);
  EXPECT_EQ(o.controls.user.action, Action::kEnforce);
  EXPECT_EQ(o.controls.resources.memory.max, 16LL << 30);  // inherited from the top level
}

// ---- errors -----------------------------------------------------------------------------------

struct ErrorCase {
  const char* name;
  const char* yaml;
  const char* prefix;    // the message starts with this ("file:line:col: dotted.key: ...")
  const char* contains;  // and contains this
};
RG_PRINT_BY_NAME(ErrorCase)

// A profile reader with canned files.
runguard::Result<std::string> canned(const std::string& path) {
  if (path == "/etc/runguard/bad.json") return std::string(R"({"defaultAction": })");
  if (path == "/etc/runguard/typo.json") {
    return std::string(R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","opnat"],"action":"SCMP_ACT_ALLOW"}]})");
  }
  if (path == "/etc/runguard/badaction.json") return std::string(R"({"defaultAction":"SCMP_ACT_ERRNOO"})");
  if (path == "/etc/runguard/ok.json") {
    return std::string(R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"}]})");
  }
  return runguard::io_error("open " + path, ENOENT);
}

class PolicyErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(PolicyErrorTest, NamesLocationKeyAndFix) {
  const ErrorCase& c = GetParam();
  auto r = parse_policy(c.yaml, "test.yaml", canned);
  ASSERT_FALSE(r.is_ok()) << c.yaml;
  const std::string& m = r.status().message();
  EXPECT_EQ(r.status().code(), runguard::Code::kInvalidArgument) << m;
  EXPECT_EQ(m.rfind(c.prefix, 0), 0u) << m;
  EXPECT_NE(m.find(c.contains), std::string::npos) << m;
}

INSTANTIATE_TEST_SUITE_P(
    Loader, PolicyErrorTest,
    ::testing::Values(
        ErrorCase{"unknown_top_level_key", "mode: enforce\nstateDri: /run/x\n", "test.yaml:2:1: stateDri: unknown key",
                  "(did you mean stateDir?)"},
        ErrorCase{"unknown_control", "controls:\n  capabilites: { action: enforce }\n",
                  "test.yaml:2:3: controls.capabilites: unknown key", "(did you mean capabilities?)"},
        ErrorCase{"unknown_capability", "controls:\n  capabilities:\n    allow: [NET_BIND_SERVICE, CAP_SYS_ADMN]\n",
                  "test.yaml:3:31: controls.capabilities.allow[1]: unknown capability \"CAP_SYS_ADMN\"",
                  "(did you mean CAP_SYS_ADMIN?)"},
        ErrorCase{"bad_action", "controls:\n  user: { action: enforced }\n",
                  "test.yaml:2:19: controls.user.action: \"enforced\" is not one of enforce, deny, audit, off",
                  "(did you mean enforce?)"},
        ErrorCase{"bad_mode", "mode: audits\n", "test.yaml:1:7: mode: \"audits\"", "(did you mean audit?)"},
        ErrorCase{"bad_size", "controls:\n  resources:\n    memory: { default: 512Mb }\n",
                  "test.yaml:3:24: controls.resources.memory.default: \"512Mb\" has an unknown size unit \"Mb\"", "Mi"},
        ErrorCase{"zero_size", "controls:\n  resources:\n    memory: { max: 0 }\n",
                  "test.yaml:3:20: controls.resources.memory.max:", "larger than 0"},
        ErrorCase{"default_above_max", "controls:\n  resources:\n    memory: { default: 8Gi, max: 1Gi }\n",
                  "test.yaml:3:13: controls.resources.memory:", "is larger than max"},
        ErrorCase{"pids_not_integer", "controls:\n  resources:\n    pids: { max: lots }\n",
                  "test.yaml:3:18: controls.resources.pids.max: \"lots\" is not an integer", ""},
        ErrorCase{"relative_runtime_path", "runtime: { path: runc }\n",
                  "test.yaml:1:18: runtime.path: \"runc\" must be an absolute path", ""},
        ErrorCase{"relative_state_dir", "stateDir: run/runguard\n", "test.yaml:1:11: stateDir:", "absolute path"},
        ErrorCase{"uid_zero", "controls:\n  user: { uid: 0 }\n", "test.yaml:2:16: controls.user.uid: 0 is out of range", ""},
        ErrorCase{"unknown_control_field", "controls:\n  user: { action: enforce, gidd: 5 }\n",
                  "test.yaml:2:28: controls.user.gidd: unknown key", "(did you mean gid?)"},
        ErrorCase{"seccomp_profile_missing", "controls:\n  seccomp: { profile: /etc/runguard/missing.json }\n",
                  "test.yaml:2:23: controls.seccomp.profile: cannot read seccomp profile",
                  "/etc/runguard/missing.json"},
        ErrorCase{"seccomp_profile_relative", "controls:\n  seccomp: { profile: profiles/x.json }\n",
                  "test.yaml:2:23: controls.seccomp.profile:", "absolute path"},
        ErrorCase{"seccomp_profile_bad_json", "controls:\n  seccomp: { profile: /etc/runguard/bad.json }\n",
                  "test.yaml:2:23: controls.seccomp.profile: /etc/runguard/bad.json:1:", "invalid JSON"},
        ErrorCase{"seccomp_unknown_syscall", "controls:\n  seccomp: { profile: /etc/runguard/typo.json }\n",
                  "test.yaml:2:23: controls.seccomp.profile: /etc/runguard/typo.json: /syscalls/0/names/1: unknown syscall "
                  "\"opnat\"",
                  "(did you mean openat?)"},
        ErrorCase{"seccomp_unknown_action", "controls:\n  seccomp: { profile: /etc/runguard/badaction.json }\n",
                  "test.yaml:2:23: controls.seccomp.profile:", "(did you mean SCMP_ACT_ERRNO?)"},
        ErrorCase{"invalid_yaml", "controls: { user: [ }\n", "test.yaml:1:", "invalid YAML"},
        ErrorCase{"invalid_yaml_indent", "controls:\n  user: { action: deny }\n bad: 1\n", "test.yaml:", "invalid YAML"},
        ErrorCase{"not_a_mapping", "- user\n- caps\n", "test.yaml:1:1: ", "must be a mapping"},
        ErrorCase{"controls_list", "controls: [user]\n", "test.yaml:1:11: controls: expected a mapping", ""},
        ErrorCase{"control_scalar", "controls:\n  user: enforce\n", "test.yaml:2:9: controls.user: expected a mapping", ""},
        ErrorCase{"override_missing_match", "overrides:\n  - controls: { user: { action: off } }\n",
                  "test.yaml:2:5: overrides[0]: missing match", "match: {}"},
        ErrorCase{"override_unknown_control",
                  "overrides:\n  - match: {}\n  - match: {}\n    controls: { privilged: { action: off } }\n",
                  "test.yaml:4:17: overrides[1].controls.privilged: unknown key", "(did you mean privileged?)"},
        ErrorCase{"override_bad_container_type", "overrides:\n  - match: { containerType: pod }\n",
                  "test.yaml:2:29: overrides[0].match.containerType: \"pod\" is not one of sandbox, container", ""},
        ErrorCase{"override_not_list", "overrides: { match: {} }\n", "test.yaml:1:12: overrides: expected a list", ""},
        ErrorCase{"rlimit_typo", "controls:\n  resources:\n    rlimits: { RLIMIT_NOFLIE: { default: 1024 } }\n",
                  "test.yaml:3:16: controls.resources.rlimits.RLIMIT_NOFLIE: unknown rlimit",
                  "(did you mean RLIMIT_NOFILE?)"},
        ErrorCase{"rlimit_default_above_max",
                  "controls:\n  resources:\n    rlimits: { RLIMIT_NPROC: { default: 10, max: 5 } }\n",
                  "test.yaml:3:30: controls.resources.rlimits.RLIMIT_NPROC:", "larger than max"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(PolicyLoader, SeccompProfileFromFile) {
  auto r = parse_policy("controls:\n  seccomp: { profile: /etc/runguard/ok.json }\n", "p.yaml", canned);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->controls.seccomp.profile, "/etc/runguard/ok.json");
  EXPECT_EQ(r->controls.seccomp.profile_json["syscalls"][0]["names"][1], "write");
}

TEST(PolicyLoader, TooManyOverrides) {
  std::string yaml = "overrides:\n";
  for (int i = 0; i < 257; ++i) yaml += "  - match: {}\n";
  auto r = parse_policy(yaml, "p.yaml", no_files);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("more than 256 overrides"), std::string::npos) << r.status().message();
}

// ---- peek_runtime_settings --------------------------------------------------------------------


struct PeekCase {
  const char* name;
  const char* yaml;
  const char* runtime_path;
  const char* state_dir;
};
RG_PRINT_BY_NAME(PeekCase)

class PeekRuntimeSettingsTest : public ::testing::TestWithParam<PeekCase> {};

TEST_P(PeekRuntimeSettingsTest, AgreesWithYamlCpp) {
  const PeekCase& c = GetParam();
  auto ref = runguard::policy::internal::yaml_runtime_settings(c.yaml);
  ASSERT_EQ(ref.runtime_path, c.runtime_path) << "test expectation disagrees with yaml-cpp";
  ASSERT_EQ(ref.state_dir, c.state_dir) << "test expectation disagrees with yaml-cpp";
  auto got = runguard::policy::peek_runtime_settings(c.yaml);
  EXPECT_FALSE(got.runtime_path != ref.runtime_path && std::string(c.name).rfind("quoted_", 0) == 0) << "regression: policy/src/settings_scan.cc reads only an unquoted `path` key; a quoted key "
                    "(\"path\": /x) makes the scanner answer \"no runtime path\" instead of deferring to yaml-cpp, "
                    "so pass-through commands would run a different runc. got \"" << got.runtime_path << "\"";
  EXPECT_FALSE(got.state_dir != ref.state_dir && std::string(c.name).rfind("flow_", 0) == 0) << "regression: policy/src/settings_scan.cc reads a column-0 line inside a multi-line flow collection "
                    "as a top-level key; got stateDir \"" << got.state_dir << "\"";
  EXPECT_EQ(got.runtime_path, c.runtime_path);
  EXPECT_EQ(got.state_dir, c.state_dir);
}

INSTANTIATE_TEST_SUITE_P(
    Peek, PeekRuntimeSettingsTest,
    ::testing::Values(
        PeekCase{"issue_policy", kIssuePolicy, "/usr/sbin/runc", "/run/runguard"},
        PeekCase{"block_form", "# policy\nstateDir: /run/rg2   # comment\nruntime:\n  path: \"/opt/runc\"\n",
                 "/opt/runc", "/run/rg2"},
        PeekCase{"single_quoted", "runtime: { path: '/usr/local/bin/runc' }\n", "/usr/local/bin/runc", "/run/runguard"},
        PeekCase{"crlf", "runtime:\r\n  path: /usr/bin/runc\r\nstateDir: /run/x\r\n", "/usr/bin/runc", "/run/x"},
        PeekCase{"missing_keys", "mode: audit\n", "", "/run/runguard"},
        PeekCase{"empty", "", "", "/run/runguard"},
        PeekCase{"relative_state_dir_ignored", "stateDir: run/x\n", "", "/run/runguard"},
        PeekCase{"broken_yaml", "runtime: { path: /usr/bin/runc\ncontrols: [\n", "", "/run/runguard"},
        PeekCase{"semantically_broken_policy_still_peeks",
                 "runtime: { path: /usr/bin/runc }\ncontrols:\n  capabilites: { action: enforce }\n", "/usr/bin/runc",
                 "/run/runguard"},
        PeekCase{"tabs_fall_back", "runtime:\n\tpath: /x\n", "", "/run/runguard"},
        PeekCase{"anchor_fall_back", "base: &b /run/rg\nstateDir: *b\n", "", "/run/rg"},
        PeekCase{"hash_inside_value", "stateDir: /run/a#b\n", "", "/run/a#b"},
        PeekCase{"runtime_sequence", "runtime:\n  - path: /x\n", "", "/run/runguard"},
        PeekCase{"quoted_flow_key", "runtime: { \"path\": /usr/sbin/runc }\n", "/usr/sbin/runc", "/run/runguard"},
        PeekCase{"quoted_block_key", "runtime:\n  \"path\": /usr/sbin/runc\n", "/usr/sbin/runc", "/run/runguard"},
        PeekCase{"flow_mapping_over_lines", "controls: {\nstateDir: /evil }\n", "", "/run/runguard"}),
    [](const auto& info) { return std::string(info.param.name); });

// ---- embedded profile and presets -------------------------------------------------------------

TEST(EmbeddedSeccompProfile, ParsesAndValidatesWithNames) {
  auto j = runguard::parse_json(runguard::policy::embedded_seccomp_profile(), "embedded");
  ASSERT_TRUE(j.is_ok()) << j.status().message();
  auto s = runguard::policy::validate_seccomp_profile(*j, "embedded", /*check_names=*/true);
  EXPECT_TRUE(s.is_ok()) << s.message();
  EXPECT_FALSE(runguard::policy::seccomp_allows_all(*j));
  EXPECT_EQ(*j, defaults().controls.seccomp.profile_json);
  auto file = read_text(RUNGUARD_SOURCE_DIR "/profiles/seccomp/default.json");
  ASSERT_TRUE(file.has_value());
  EXPECT_EQ(*file, std::string(runguard::policy::embedded_seccomp_profile()));
}

class PresetTest : public ::testing::TestWithParam<const char*> {};

TEST_P(PresetTest, Loads) {
  std::string path = std::string(RUNGUARD_SOURCE_DIR "/profiles/policies/") + GetParam();
  auto text = read_text(path);
  if (!text) GTEST_SKIP() << path << " does not exist yet (the presets are written separately)";
  auto r = parse_policy(*text, path, read_from_disk);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->source, path);
  // Every preset keeps the baseline protections: no host namespaces, no privileged containers.
  EXPECT_EQ(r->controls.host_namespaces.action, Action::kDeny);
  EXPECT_EQ(r->controls.privileged.action, Action::kDeny);
  EXPECT_EQ(r->controls.sensitive_mounts.action, Action::kDeny);
}

INSTANTIATE_TEST_SUITE_P(Presets, PresetTest, ::testing::Values("baseline.yaml", "restricted.yaml"),
                         [](const auto& info) {
                           std::string n = info.param;
                           return n.substr(0, n.find('.'));
                         });

}  // namespace

// ---- annotation trust -------------------------------------------------------------------------
// Annotations are written by whoever writes the pod spec: an override they select may only
// tighten, unless the policy lists the annotation key under trustedAnnotations.

namespace annotation_trust {

using runguard::policy::parse_policy;

runguard::Result<runguard::policy::Policy> load(const std::string& yaml) {
  return parse_policy(yaml, "trust.yaml", [](const std::string& path) -> runguard::Result<std::string> {
    return runguard::Status(runguard::Code::kNotFound, path);
  });
}

TEST(AnnotationTrust, UntrustedAnnotationCannotLoosen) {
  auto p = load(R"(
overrides:
  - match: { annotations: { "team.example/exempt": "yes" } }
    controls:
      user: { action: off }
      capabilities: { allow: [NET_BIND_SERVICE, SYS_ADMIN] }
)");
  ASSERT_FALSE(p.is_ok());
  const std::string& m = p.status().message();
  EXPECT_NE(m.find("trust.yaml:3:"), std::string::npos) << m;
  EXPECT_NE(m.find("overrides[0].match.annotations"), std::string::npos) << m;
  EXPECT_NE(m.find("\"team.example/exempt\""), std::string::npos) << m;
  EXPECT_NE(m.find("user: enforce -> off"), std::string::npos) << m;
  EXPECT_NE(m.find("capabilities: allows CAP_SYS_ADMIN"), std::string::npos) << m;
  EXPECT_NE(m.find("trustedAnnotations"), std::string::npos) << m;
}

TEST(AnnotationTrust, UntrustedAnnotationMayTighten) {
  auto p = load(R"(
overrides:
  - match: { annotations: { "team.example/strict": "yes" } }
    controls:
      readonlyRootfs: { action: enforce }
      resources: { memory: { max: 1Gi } }
      capabilities: { allow: [] }
)");
  ASSERT_TRUE(p.is_ok()) << p.status().message();
}

TEST(AnnotationTrust, TrustedAnnotationMayLoosen) {
  auto p = load(R"(
trustedAnnotations: ["team.example/exempt"]
overrides:
  - match: { annotations: { "team.example/exempt": "yes" } }
    controls: { user: { action: off }, resources: { memory: { max: 64Gi } } }
)");
  ASSERT_TRUE(p.is_ok()) << p.status().message();
}

TEST(AnnotationTrust, LooseningWithoutAnnotationsNeedsNoTrust) {
  auto p = load(R"(
overrides:
  - match: { containerType: sandbox }
    controls: { user: { action: off } }
)");
  ASSERT_TRUE(p.is_ok()) << p.status().message();
}

TEST(AnnotationTrust, EveryKindOfLooseningIsNamed) {
  runguard::policy::Controls base, c;
  c.seccomp.profile = "/etc/other.json";
  c.resources.pids.max.reset();
  c.resources.rlimits.clear();
  c.sensitive_mounts.allow = {"/srv"};
  c.host_namespaces.action = runguard::policy::Action::kAudit;
  auto l = runguard::policy::loosenings(base, c);
  std::string all;
  for (const auto& x : l) all += x + "\n";
  EXPECT_NE(all.find("seccomp: profile /etc/other.json"), std::string::npos) << all;
  EXPECT_NE(all.find("a larger pids limit"), std::string::npos) << all;
  EXPECT_NE(all.find("a larger RLIMIT_NOFILE"), std::string::npos) << all;
  EXPECT_NE(all.find("sensitiveMounts: exempts /srv"), std::string::npos) << all;
  EXPECT_NE(all.find("hostNamespaces: deny -> audit"), std::string::npos) << all;
  EXPECT_TRUE(runguard::policy::loosenings(base, base).empty());
}

}  // namespace annotation_trust

namespace annotation_trust {

TEST(AnnotationTrust, MayNotShadowAStricterLaterOverride) {
  auto p = load(R"(
overrides:
  - match: { annotations: { team: "*" } }
    controls: { resources: { memory: { max: 4Gi } } }
  - name: tenants
    match: { namespace: "tenant-*" }
    controls: { readonlyRootfs: { action: deny }, capabilities: { allow: [] } }
)");
  ASSERT_FALSE(p.is_ok());
  EXPECT_NE(p.status().message().find("(than tenants)"), std::string::npos) << p.status().message();
}

TEST(AnnotationTrust, DuplicateKeysAreRefused) {
  auto p = load("stateDir: /a\nstateDir: /b\n");
  ASSERT_FALSE(p.is_ok());
  EXPECT_NE(p.status().message().find("duplicate key"), std::string::npos) << p.status().message();
}

}  // namespace annotation_trust
