// policy.yaml's `secrets:` section (policy/src/secrets_loader.cc through parse_policy): the
// defaults, every key, and every class of load error with file:line and the dotted key. A
// reference or name that create would refuse is refused here first, when the policy loads.

#include <gtest/gtest.h>

#include <functional>
#include <ostream>
#include <string>

#include "policy_test_util.h"

namespace {

using namespace rgtest;  // NOLINT(google-build-using-namespace)
using runguard::Result;
using runguard::policy::parse_policy;
using runguard::policy::SecretsSettings;
using runguard::policy::VaultAuth;
using Backend = SecretsSettings::Backend;

constexpr const char* kSource = "/etc/runguard/policy.yaml";

Result<Policy> load(const std::string& yaml) { return parse_policy(yaml, kSource, no_files); }

// The settings of a policy that must load.
SecretsSettings load_ok(const std::string& yaml) {
  auto r = load(yaml);
  if (!r.is_ok()) {
    ADD_FAILURE() << r.status().message() << "\n--- yaml:\n" << yaml;
    return SecretsSettings{};
  }
  return r->secrets;
}

void expect_defaults(const SecretsSettings& s) {
  EXPECT_EQ(s.backend, Backend::kFile);
  EXPECT_EQ(s.mount_path, "/run/secrets");
  EXPECT_EQ(s.size, 1 << 20);
  EXPECT_EQ(s.file_dir, "/etc/runguard/secrets");
  EXPECT_EQ(s.refresh_ms, 0);
  EXPECT_TRUE(s.allow.empty());
  EXPECT_TRUE(s.attach.empty());
  EXPECT_EQ(s.vault.address, "");
  EXPECT_EQ(s.vault.timeout_ms, 5000);
  EXPECT_EQ(s.vault.retries, 2);
  EXPECT_EQ(s.vault.auth.method, VaultAuth::Method::kToken);
  EXPECT_EQ(s.vault.auth.token_file, "/etc/runguard/vault-token");
}

TEST(SecretsLoader, DefaultsWithoutASection) { expect_defaults(load_ok("")); }
TEST(SecretsLoader, DefaultsWithAnEmptySection) { expect_defaults(load_ok("secrets: {}\n")); }
TEST(SecretsLoader, EmbeddedDefaultPolicyHasTheDefaults) { expect_defaults(defaults().secrets); }

TEST(SecretsLoader, EveryKey) {
  SecretsSettings s = load_ok(R"(secrets:
  backend: vault
  mountPath: /var/run/app-secrets
  size: 2Mi
  file: { dir: /srv/secrets }
  vault:
    address: https://vault.example:8200/
    namespace: team-a
    caFile: /etc/ssl/vault-ca.pem
    timeout: 3s
    retries: 4
    auth: { method: approle, roleId: r-123, secretIdFile: /etc/runguard/secret-id, mount: auth-approle/x }
  refresh: 10m
  allow:
    - match: { namespace: payments, image: "registry.example/payments/*" }
      paths: ["kv/data/payments/*", "database/creds/payments-ro"]
    - match: {}
      paths: ["kv/data/shared/*"]
  attach:
    - match: { namespace: "team-*" }
      files: { ca.crt: "vault:pki/ca#certificate", db: "kv/data/x?version=4#password" }
    - match: {}
      files: { motd: kv/data/motd }
)");
  EXPECT_EQ(s.backend, Backend::kVault);
  EXPECT_EQ(s.mount_path, "/var/run/app-secrets");
  EXPECT_EQ(s.size, 2 << 20);
  EXPECT_EQ(s.file_dir, "/srv/secrets");
  EXPECT_EQ(s.vault.address, "https://vault.example:8200") << "the trailing '/' is dropped: paths are appended to it";
  EXPECT_EQ(s.vault.namespace_, "team-a");
  EXPECT_EQ(s.vault.ca_file, "/etc/ssl/vault-ca.pem");
  EXPECT_EQ(s.vault.timeout_ms, 3000);
  EXPECT_EQ(s.vault.retries, 4);
  EXPECT_EQ(s.vault.auth.method, VaultAuth::Method::kAppRole);
  EXPECT_EQ(s.vault.auth.role_id, "r-123");
  EXPECT_EQ(s.vault.auth.secret_id_file, "/etc/runguard/secret-id");
  EXPECT_EQ(s.vault.auth.mount, "auth-approle/x");
  EXPECT_EQ(s.refresh_ms, 600000);
  ASSERT_EQ(s.allow.size(), 2u);
  EXPECT_EQ(s.allow[0].match.namespace_, "payments");
  EXPECT_EQ(s.allow[0].match.image, "registry.example/payments/*");
  EXPECT_EQ(s.allow[0].paths, (std::vector<std::string>{"kv/data/payments/*", "database/creds/payments-ro"}));
  EXPECT_FALSE(s.allow[1].match.namespace_.has_value());
  EXPECT_FALSE(s.allow[1].match.image.has_value());
  EXPECT_EQ(s.allow[1].paths, std::vector<std::string>{"kv/data/shared/*"});
  ASSERT_EQ(s.attach.size(), 2u);
  EXPECT_EQ(s.attach[0].match.namespace_, "team-*");
  // References are stored canonical: with the backend, as they travel.
  EXPECT_EQ(s.attach[0].files, (std::map<std::string, std::string>{{"ca.crt", "vault:pki/ca#certificate"},
                                                                    {"db", "vault:kv/data/x?version=4#password"}}));
  EXPECT_EQ(s.attach[1].files, (std::map<std::string, std::string>{{"motd", "vault:kv/data/motd"}}));
}

TEST(SecretsLoader, KubernetesAndTokenAuth) {
  SecretsSettings k = load_ok(R"(secrets:
  backend: vault
  vault: { address: "https://10.0.0.5", auth: { method: kubernetes, role: app, mount: k8s-prod } }
)");
  EXPECT_EQ(k.vault.auth.method, VaultAuth::Method::kKubernetes);
  EXPECT_EQ(k.vault.auth.role, "app");
  EXPECT_EQ(k.vault.auth.mount, "k8s-prod");
  SecretsSettings t = load_ok(R"(secrets:
  backend: vault
  vault: { address: "https://vault", auth: { method: token, tokenFile: /run/vault/token } }
)");
  EXPECT_EQ(t.vault.auth.method, VaultAuth::Method::kToken);
  EXPECT_EQ(t.vault.auth.token_file, "/run/vault/token");
}

// The file backend needs no vault section; one may still be written (switching back and forth).
TEST(SecretsLoader, FileBackendIgnoresAnAddresslessVaultSection) {
  SecretsSettings s = load_ok("secrets:\n  vault: { timeout: 1s }\n");
  EXPECT_EQ(s.backend, Backend::kFile);
  EXPECT_EQ(s.vault.timeout_ms, 1000);
}

struct GoodValue {
  const char* name;
  std::string yaml;
  std::function<void(const SecretsSettings&)> check;
};
RG_PRINT_BY_NAME(GoodValue)

std::string vault_with(const std::string& vault_body) {
  return "secrets:\n  backend: vault\n  vault: { " + vault_body + " }\n";
}

const GoodValue kGoodValues[] = {
    {"size_min_4Ki", "secrets: { size: 4Ki }\n", [](const SecretsSettings& s) { EXPECT_EQ(s.size, 4096); }},
    {"size_bytes", "secrets: { size: 4096 }\n", [](const SecretsSettings& s) { EXPECT_EQ(s.size, 4096); }},
    {"size_max_64Mi", "secrets: { size: 64Mi }\n", [](const SecretsSettings& s) { EXPECT_EQ(s.size, 64 << 20); }},
    {"mount_path_nested", "secrets: { mountPath: /var/run/secrets/app }\n",
     [](const SecretsSettings& s) { EXPECT_EQ(s.mount_path, "/var/run/secrets/app"); }},
    {"mount_path_procfs_is_not_proc", "secrets: { mountPath: /procfs }\n",
     [](const SecretsSettings& s) { EXPECT_EQ(s.mount_path, "/procfs"); }},
    {"mount_path_devices_is_not_dev", "secrets: { mountPath: /devices/x }\n",
     [](const SecretsSettings& s) { EXPECT_EQ(s.mount_path, "/devices/x"); }},
    {"mount_path_dots_in_a_name", "secrets: { mountPath: /run/..secrets }\n",
     [](const SecretsSettings& s) { EXPECT_EQ(s.mount_path, "/run/..secrets"); }},
    {"refresh_zero", "secrets: { refresh: 0 }\n", [](const SecretsSettings& s) { EXPECT_EQ(s.refresh_ms, 0); }},
    {"refresh_zero_seconds", "secrets: { refresh: 0s }\n", [](const SecretsSettings& s) { EXPECT_EQ(s.refresh_ms, 0); }},
    {"refresh_10s", "secrets: { refresh: 10s }\n", [](const SecretsSettings& s) { EXPECT_EQ(s.refresh_ms, 10000); }},
    {"refresh_10000ms", "secrets: { refresh: 10000ms }\n", [](const SecretsSettings& s) { EXPECT_EQ(s.refresh_ms, 10000); }},
    {"refresh_24h", "secrets: { refresh: 24h }\n", [](const SecretsSettings& s) { EXPECT_EQ(s.refresh_ms, 86400000); }},
    {"http_loopback_ipv4", vault_with("address: \"http://127.0.0.1:8200\""),
     [](const SecretsSettings& s) { EXPECT_EQ(s.vault.address, "http://127.0.0.1:8200"); }},
    {"http_loopback_other_127", vault_with("address: \"http://127.1.2.3\""),
     [](const SecretsSettings& s) { EXPECT_EQ(s.vault.address, "http://127.1.2.3"); }},
    {"http_localhost", vault_with("address: \"http://localhost:8200/\""),
     [](const SecretsSettings& s) { EXPECT_EQ(s.vault.address, "http://localhost:8200"); }},
    {"http_ipv6_loopback", vault_with("address: \"http://[::1]:8200\""),
     [](const SecretsSettings& s) { EXPECT_EQ(s.vault.address, "http://[::1]:8200"); }},
    {"https_ipv6", vault_with("address: \"https://[fd00::5]:8200\""),
     [](const SecretsSettings& s) { EXPECT_EQ(s.vault.address, "https://[fd00::5]:8200"); }},
    {"https_no_port", vault_with("address: \"https://vault.example\""),
     [](const SecretsSettings& s) { EXPECT_EQ(s.vault.address, "https://vault.example"); }},
    {"timeout_min", vault_with("address: \"https://v\", timeout: 100ms"),
     [](const SecretsSettings& s) { EXPECT_EQ(s.vault.timeout_ms, 100); }},
    {"timeout_max", vault_with("address: \"https://v\", timeout: 60s"),
     [](const SecretsSettings& s) { EXPECT_EQ(s.vault.timeout_ms, 60000); }},
    {"retries_0", vault_with("address: \"https://v\", retries: 0"), [](const SecretsSettings& s) { EXPECT_EQ(s.vault.retries, 0); }},
    {"retries_5", vault_with("address: \"https://v\", retries: 5"), [](const SecretsSettings& s) { EXPECT_EQ(s.vault.retries, 5); }},
    {"namespace_empty", vault_with("address: \"https://v\", namespace: \"\""),
     [](const SecretsSettings& s) { EXPECT_EQ(s.vault.namespace_, ""); }},
    {"allow_star_glob", "secrets:\n  allow:\n    - match: {}\n      paths: [\"*\"]\n",
     [](const SecretsSettings& s) { EXPECT_EQ(s.allow.at(0).paths, std::vector<std::string>{"*"}); }},
    {"allow_namespace_only", "secrets:\n  allow:\n    - match: { namespace: \"team-*\" }\n      paths: [a]\n",
     [](const SecretsSettings& s) {
       EXPECT_EQ(s.allow.at(0).match.namespace_, "team-*");
       EXPECT_FALSE(s.allow.at(0).match.image.has_value());
     }},
    {"attach_file_backend", "secrets:\n  attach:\n    - match: {}\n      files: { tls.key: \"node/tls.json#key\" }\n",
     [](const SecretsSettings& s) {
       EXPECT_EQ(s.attach.at(0).files, (std::map<std::string, std::string>{{"tls.key", "file:node/tls.json#key"}}));
     }},
};

class SecretsGoodValueTest : public ::testing::TestWithParam<GoodValue> {};

TEST_P(SecretsGoodValueTest, Loads) { GetParam().check(load_ok(GetParam().yaml)); }

INSTANTIATE_TEST_SUITE_P(SecretsLoader, SecretsGoodValueTest, ::testing::ValuesIn(kGoodValues),
                         [](const auto& info) { return std::string(info.param.name); });

struct BadPolicy {
  const char* name;
  std::string yaml;
  int line;         // 0: no line expected (the node does not exist)
  std::string key;  // dotted key the message names
  const char* why;
};
RG_PRINT_BY_NAME(BadPolicy)

const BadPolicy kBad[] = {
    // the section itself
    {"not_a_mapping", "secrets: [a]\n", 1, "secrets", "expected a mapping"},
    {"unknown_key", "secrets:\n  backends: vault\n", 2, "secrets.backends", "unknown key (did you mean backend?)"},
    {"duplicate_key", "secrets:\n  size: 1Mi\n  size: 2Mi\n", 3, "secrets.size", "duplicate key"},
    {"backend_typo", "secrets:\n  backend: vualt\n", 2, "secrets.backend", "\"vualt\" is not one of file, vault"},
    {"backend_list", "secrets:\n  backend: [vault]\n", 2, "secrets.backend", "expected a single value"},
    // mountPath
    {"mount_path_root", "secrets:\n  mountPath: /\n", 2, "secrets.mountPath", "other than /"},
    {"mount_path_relative", "secrets:\n  mountPath: run/secrets\n", 2, "secrets.mountPath", "must be an absolute path"},
    {"mount_path_empty", "secrets:\n  mountPath: \"\"\n", 2, "secrets.mountPath", "must be an absolute path"},
    {"mount_path_trailing_slash", "secrets:\n  mountPath: /run/secrets/\n", 2, "secrets.mountPath", "normalised"},
    {"mount_path_double_slash", "secrets:\n  mountPath: /run//secrets\n", 2, "secrets.mountPath", "normalised"},
    {"mount_path_dot", "secrets:\n  mountPath: /run/./secrets\n", 2, "secrets.mountPath", "normalised"},
    {"mount_path_dotdot", "secrets:\n  mountPath: /run/../etc\n", 2, "secrets.mountPath", "normalised"},
    // Regression: "/run/.." is "/", and "/run/secrets/." is "/run/secrets" written so that the
    // check for a spec mount at mountPath misses it.
    {"mount_path_trailing_dotdot", "secrets:\n  mountPath: /run/..\n", 2, "secrets.mountPath", "normalised"},
    {"mount_path_root_dotdot", "secrets:\n  mountPath: /..\n", 2, "secrets.mountPath", "normalised"},
    {"mount_path_trailing_dot", "secrets:\n  mountPath: /run/secrets/.\n", 2, "secrets.mountPath", "normalised"},
    {"mount_path_proc", "secrets:\n  mountPath: /proc\n", 2, "secrets.mountPath", "inside /proc, which the runtime owns"},
    {"mount_path_proc_below", "secrets:\n  mountPath: /proc/x\n", 2, "secrets.mountPath", "inside /proc"},
    {"mount_path_sys", "secrets:\n  mountPath: /sys/fs/secrets\n", 2, "secrets.mountPath", "inside /sys"},
    {"mount_path_dev", "secrets:\n  mountPath: /dev/shm\n", 2, "secrets.mountPath", "inside /dev"},
    {"mount_path_too_long", "secrets:\n  mountPath: /" + std::string(256, 'm') + "\n", 2, "secrets.mountPath", "normalised"},
    // size
    {"size_below_4Ki", "secrets:\n  size: 4095\n", 2, "secrets.size", "between 4Ki and 64Mi"},
    {"size_above_64Mi", "secrets:\n  size: 65Mi\n", 2, "secrets.size", "between 4Ki and 64Mi"},
    {"size_zero", "secrets:\n  size: 0\n", 2, "secrets.size", "larger than 0"},
    {"size_unit_typo", "secrets:\n  size: 1MB\n", 2, "secrets.size", "unknown size unit"},
    {"size_negative", "secrets:\n  size: -1Mi\n", 2, "secrets.size", "is not a size"},
    // file
    {"file_dir_relative", "secrets:\n  file: { dir: secrets }\n", 2, "secrets.file.dir", "must be an absolute path"},
    {"file_unknown_key", "secrets:\n  file:\n    directory: /x\n", 3, "secrets.file.directory", "unknown key"},
    {"file_not_a_mapping", "secrets:\n  file: /x\n", 2, "secrets.file", "expected a mapping"},
    // vault
    {"vault_address_required", "secrets:\n  backend: vault\n", 2, "secrets.vault.address", "is required with backend: vault"},
    {"vault_address_required_with_section", "secrets:\n  backend: vault\n  vault: { timeout: 2s }\n", 2, "secrets.vault.address",
     "is required"},
    {"vault_unknown_key", "secrets:\n  vault:\n    adress: https://v\n", 3, "secrets.vault.adress", "did you mean address?"},
    {"http_remote", vault_with("address: \"http://vault.example:8200\""), 3, "secrets.vault.address", "unencrypted"},
    {"http_private_ip", vault_with("address: \"http://10.0.0.5:8200\""), 3, "secrets.vault.address", "unencrypted"},
    // Regression: "127.0.0.1.nip.io" is a DNS name, not a loopback address.
    {"http_127_dns_name", vault_with("address: \"http://127.0.0.1.nip.io:8200\""), 3, "secrets.vault.address", "unencrypted"},
    {"http_127_prefix_name", vault_with("address: \"http://127.attacker.example\""), 3, "secrets.vault.address", "unencrypted"},
    {"http_localhost_suffix", vault_with("address: \"http://localhost.example\""), 3, "secrets.vault.address", "unencrypted"},
    {"http_ipv6_not_loopback", vault_with("address: \"http://[fd00::1]:8200\""), 3, "secrets.vault.address", "unencrypted"},
    {"address_no_scheme", vault_with("address: \"vault.example:8200\""), 3, "secrets.vault.address", "must start with https://"},
    {"address_ftp", vault_with("address: \"ftp://vault\""), 3, "secrets.vault.address", "must start with https://"},
    {"address_upper_scheme", vault_with("address: \"HTTPS://vault\""), 3, "secrets.vault.address", "must start with https://"},
    {"address_with_path", vault_with("address: \"https://vault.example:8200/v1\""), 3, "secrets.vault.address", "no path"},
    {"address_with_query", vault_with("address: \"https://vault.example?x=1\""), 3, "secrets.vault.address", "no path"},
    {"address_with_fragment", vault_with("address: \"https://vault.example#x\""), 3, "secrets.vault.address", "no path"},
    {"address_with_credentials", vault_with("address: \"https://user:pw@vault.example\""), 3, "secrets.vault.address",
     "credentials"},
    {"address_scheme_only", vault_with("address: \"https://\""), 3, "secrets.vault.address", "scheme://host"},
    {"address_unterminated_ipv6", vault_with("address: \"https://[::1\""), 3, "secrets.vault.address", "unterminated IPv6"},
    {"address_space", vault_with("address: \"https://vault example\""), 3, "secrets.vault.address", "scheme://host"},
    {"ca_file_relative", vault_with("address: \"https://v\", caFile: ca.pem"), 3, "secrets.vault.caFile", "absolute path"},
    {"timeout_too_small", vault_with("address: \"https://v\", timeout: 99ms"), 3, "secrets.vault.timeout", "out of range"},
    {"timeout_too_large", vault_with("address: \"https://v\", timeout: 61s"), 3, "secrets.vault.timeout", "out of range"},
    {"timeout_no_unit", vault_with("address: \"https://v\", timeout: 5"), 3, "secrets.vault.timeout", "duration unit"},
    {"retries_negative", vault_with("address: \"https://v\", retries: -1"), 3, "secrets.vault.retries", "out of range [0, 5]"},
    {"retries_too_many", vault_with("address: \"https://v\", retries: 6"), 3, "secrets.vault.retries", "out of range [0, 5]"},
    {"retries_word", vault_with("address: \"https://v\", retries: two"), 3, "secrets.vault.retries", "is not an integer"},
    // vault.auth
    {"auth_method_typo", vault_with("address: \"https://v\", auth: { method: ldap }"), 3, "secrets.vault.auth.method",
     "\"ldap\" is not one of token, approle, kubernetes"},
    {"auth_unknown_key", vault_with("address: \"https://v\", auth: { method: approle, secretId: s }"), 3,
     "secrets.vault.auth.secretId", "unknown key"},
    {"approle_without_anything", vault_with("address: \"https://v\", auth: { method: approle }"), 3, "secrets.vault.auth",
     "approle needs roleId and secretIdFile"},
    {"approle_without_secret_id_file", vault_with("address: \"https://v\", auth: { method: approle, roleId: r }"), 3,
     "secrets.vault.auth", "approle needs roleId and secretIdFile"},
    {"approle_without_role_id", vault_with("address: \"https://v\", auth: { method: approle, secretIdFile: /s }"), 3,
     "secrets.vault.auth", "approle needs roleId and secretIdFile"},
    {"approle_secret_id_file_relative", vault_with("address: \"https://v\", auth: { method: approle, roleId: r, secretIdFile: s }"), 3,
     "secrets.vault.auth.secretIdFile", "absolute path"},
    {"kubernetes_without_role", vault_with("address: \"https://v\", auth: { method: kubernetes }"), 3, "secrets.vault.auth",
     "kubernetes needs role"},
    {"token_file_relative", vault_with("address: \"https://v\", auth: { tokenFile: token }"), 3, "secrets.vault.auth.tokenFile",
     "absolute path"},
    {"auth_mount_traversal", vault_with("address: \"https://v\", auth: { method: kubernetes, role: r, mount: \"../sys\" }"), 3,
     "secrets.vault.auth.mount", "is not a Vault mount path"},
    {"auth_mount_slash", vault_with("address: \"https://v\", auth: { method: kubernetes, role: r, mount: \"/kubernetes\" }"), 3,
     "secrets.vault.auth.mount", "is not a Vault mount path"},
    // refresh
    {"refresh_too_short", "secrets:\n  refresh: 5s\n", 2, "secrets.refresh", "must be 0 (off) or at least 10s"},
    {"refresh_9999ms", "secrets:\n  refresh: 9999ms\n", 2, "secrets.refresh", "at least 10s"},
    {"refresh_1ms", "secrets:\n  refresh: 1ms\n", 2, "secrets.refresh", "at least 10s"},
    {"refresh_too_long", "secrets:\n  refresh: 25h\n", 2, "secrets.refresh", "out of range"},
    {"refresh_no_unit", "secrets:\n  refresh: 10\n", 2, "secrets.refresh", "duration unit"},
    {"refresh_negative", "secrets:\n  refresh: -10s\n", 2, "secrets.refresh", "is not a duration"},
    // allow
    {"allow_not_a_list", "secrets:\n  allow: { match: {} }\n", 2, "secrets.allow", "expected a list"},
    {"allow_entry_unknown_key", "secrets:\n  allow:\n    - match: {}\n      path: [a]\n", 4, "secrets.allow[0].path",
     "unknown key (did you mean paths?)"},
    {"allow_without_match", "secrets:\n  allow:\n    - paths: [a]\n", 3, "secrets.allow[0].match", "missing match (use match: {}"},
    {"allow_match_unknown_key", "secrets:\n  allow:\n    - match: { labels: x }\n      paths: [a]\n", 3,
     "secrets.allow[0].match.labels", "unknown key"},
    {"allow_match_list", "secrets:\n  allow:\n    - match: [x]\n      paths: [a]\n", 3, "secrets.allow[0].match", "expected a mapping"},
    {"allow_without_paths", "secrets:\n  allow:\n    - match: {}\n", 3, "secrets.allow[0].paths", "non-empty list"},
    {"allow_empty_paths", "secrets:\n  allow:\n    - match: {}\n      paths: []\n", 3, "secrets.allow[0].paths", "non-empty list"},
    {"allow_scalar_paths", "secrets:\n  allow:\n    - match: {}\n      paths: kv/x\n", 3, "secrets.allow[0].paths", "non-empty list"},
    {"allow_dotdot_glob", "secrets:\n  allow:\n    - match: {}\n      paths: [\"kv/../sys/*\"]\n", 4, "secrets.allow[0].paths[0]",
     "relative path glob without \"..\""},
    {"allow_leading_dotdot", "secrets:\n  allow:\n    - match: {}\n      paths: [ok, \"../x\"]\n", 4, "secrets.allow[0].paths[1]",
     "relative path glob"},
    {"allow_absolute_glob", "secrets:\n  allow:\n    - match: {}\n      paths: [\"/etc/*\"]\n", 4, "secrets.allow[0].paths[0]",
     "relative path glob"},
    {"allow_vault_prefixed_glob", "secrets:\n  allow:\n    - match: {}\n      paths: [\"vault:kv/*\"]\n", 4,
     "secrets.allow[0].paths[0]", "backend prefix"},
    {"allow_file_prefixed_glob", "secrets:\n  allow:\n    - match: {}\n      paths: [\"file:x\"]\n", 4, "secrets.allow[0].paths[0]",
     "backend prefix"},
    {"allow_empty_glob", "secrets:\n  allow:\n    - match: {}\n      paths: [\"\"]\n", 4, "secrets.allow[0].paths[0]",
     "relative path glob"},
    {"allow_glob_list", "secrets:\n  allow:\n    - match: {}\n      paths: [[a]]\n", 4, "secrets.allow[0].paths[0]",
     "expected a single value"},
    {"allow_second_entry", "secrets:\n  allow:\n    - match: {}\n      paths: [a]\n    - match: {}\n      paths: [\"/b\"]\n", 6,
     "secrets.allow[1].paths[0]", "relative path glob"},
    // attach
    {"attach_not_a_list", "secrets:\n  attach: {}\n", 2, "secrets.attach", "expected a list"},
    {"attach_without_match", "secrets:\n  attach:\n    - files: { a: b }\n", 3, "secrets.attach[0].match", "missing match"},
    {"attach_unknown_key", "secrets:\n  attach:\n    - match: {}\n      file: { a: b }\n", 4, "secrets.attach[0].file", "unknown key"},
    {"attach_without_files", "secrets:\n  attach:\n    - match: {}\n", 3, "secrets.attach[0].files", "mapping of file name"},
    {"attach_empty_files", "secrets:\n  attach:\n    - match: {}\n      files: {}\n", 3, "secrets.attach[0].files", "mapping of file name"},
    {"attach_files_list", "secrets:\n  attach:\n    - match: {}\n      files: [a]\n", 3, "secrets.attach[0].files", "mapping of file name"},
    {"attach_name_traversal", "secrets:\n  attach:\n    - match: {}\n      files: { \"../x\": kv/x }\n", 4,
     "secrets.attach[0].files.../x", "must not start with '.'"},
    {"attach_name_hidden", "secrets:\n  attach:\n    - match: {}\n      files: { .hidden: kv/x }\n", 4,
     "secrets.attach[0].files..hidden", "must not start with '.'"},
    {"attach_name_slash", "secrets:\n  attach:\n    - match: {}\n      files: { \"a/b\": kv/x }\n", 4, "secrets.attach[0].files.a/b",
     "only letters, digits"},
    {"attach_name_too_long", "secrets:\n  attach:\n    - match: {}\n      files: { " + std::string(129, 'n') + ": kv/x }\n", 4,
     "secrets.attach[0].files." + std::string(129, 'n'), "longer than 128"},
    {"attach_ref_traversal", "secrets:\n  attach:\n    - match: {}\n      files: { a: \"kv/../x\" }\n", 4, "secrets.attach[0].files.a",
     "\"..\" segments are not allowed"},
    {"attach_ref_absolute", "secrets:\n  attach:\n    - match: {}\n      files: { a: /etc/shadow }\n", 4, "secrets.attach[0].files.a",
     "empty path segment"},
    {"attach_ref_version_on_file", "secrets:\n  attach:\n    - match: {}\n      files: { a: \"x?version=2\" }\n", 4,
     "secrets.attach[0].files.a", "Vault KV v2 only"},
    {"attach_ref_list", "secrets:\n  attach:\n    - match: {}\n      files: { a: [x] }\n", 4, "secrets.attach[0].files.a",
     "expected a single value"},
    // yaml-cpp hands both entries of a duplicated key to the loader: the second must not
    // silently replace the first.
    {"attach_duplicate_name", "secrets:\n  attach:\n    - match: {}\n      files:\n        a: x\n        a: y\n", 6,
     "secrets.attach[0].files.a", "duplicate key"},
    {"attach_vault_ref_with_file_backend", "secrets:\n  attach:\n    - match: {}\n      files: { a: \"vault:kv/x\" }\n", 4,
     "secrets.attach[0].files.a", "names the vault backend but secrets.backend is file"},
    {"attach_file_ref_with_vault_backend",
     "secrets:\n  backend: vault\n  vault: { address: \"https://v\" }\n  attach:\n    - match: {}\n      files: { a: \"file:x\" }\n", 6,
     "secrets.attach[0].files.a", "names the file backend but secrets.backend is vault"},
};

class SecretsBadPolicyTest : public ::testing::TestWithParam<BadPolicy> {};

TEST_P(SecretsBadPolicyTest, IsRefusedWithFileLineAndKey) {
  const BadPolicy& c = GetParam();
  auto r = load(c.yaml);
  ASSERT_FALSE(r.is_ok()) << "loaded:\n" << c.yaml;
  EXPECT_EQ(r.status().code(), runguard::Code::kInvalidArgument);
  const std::string& m = r.status().message();
  std::string where = std::string(kSource) + ":" + std::to_string(c.line) + ":";
  EXPECT_EQ(m.rfind(where, 0), 0u) << "want " << where << " in: " << m;
  EXPECT_NE(m.find(": " + c.key + ": "), std::string::npos) << "want key " << c.key << " in: " << m;
  EXPECT_NE(m.find(c.why), std::string::npos) << m;
}

INSTANTIATE_TEST_SUITE_P(SecretsLoader, SecretsBadPolicyTest, ::testing::ValuesIn(kBad),
                         [](const auto& info) { return std::string(info.param.name); });

// The configuration example in docs/secrets.md is what administrators copy: it must load.
TEST(SecretsLoader, DocumentedExampleLoads) {
  auto doc = read_text(std::string(RUNGUARD_SOURCE_DIR) + "/docs/secrets.md");
  ASSERT_TRUE(doc.has_value());
  auto heading = doc->find("## Configuration");
  ASSERT_NE(heading, std::string::npos);
  auto start = doc->find("```yaml\n", heading);
  ASSERT_NE(start, std::string::npos);
  start += 8;
  auto end = doc->find("```", start);
  ASSERT_NE(end, std::string::npos);
  std::string yaml = doc->substr(start, end - start);
  ASSERT_NE(yaml.find("secrets:"), std::string::npos) << yaml;
  auto r = load(yaml);
  ASSERT_TRUE(r.is_ok()) << r.status().message() << "\n--- yaml:\n" << yaml;
  const SecretsSettings& s = r->secrets;
  EXPECT_EQ(s.backend, Backend::kVault);
  EXPECT_EQ(s.vault.address, "https://vault.example:8200");
  EXPECT_EQ(s.refresh_ms, 0);
  EXPECT_EQ(s.allow.size(), 2u);
  ASSERT_EQ(s.attach.size(), 1u);
  EXPECT_EQ(s.attach[0].files.at("ca.pem"), "vault:kv/data/shared/ca#pem");
}

}  // namespace
