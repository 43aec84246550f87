// policy/secrets.h: the secret reference grammar, secret file names and the plan's JSON. A
// reference or name comes from an annotation anyone writing a pod spec controls, and becomes a
// Vault path or a file below file.dir; every hostile shape must be refused here, before a
// backend or the filesystem sees it.

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "policy_test_util.h"
#include "runguard/policy/secrets.h"

namespace {

using runguard::Code;
using runguard::Json;
using runguard::policy::backend_name;
using runguard::policy::check_secret_name;
using runguard::policy::parse_secret_ref;
using runguard::policy::PlannedSecret;
using runguard::policy::secret_ref_to_string;
using runguard::policy::secrets_host_dir;
using runguard::policy::secrets_plan_to_json;
using runguard::policy::SecretRef;
using runguard::policy::SecretsPlan;
using runguard::policy::source_name;
using Backend = runguard::policy::SecretsSettings::Backend;

constexpr Backend kFile = Backend::kFile;
constexpr Backend kVault = Backend::kVault;

struct GoodRef {
  const char* name;
  std::string text;
  Backend default_backend;
  Backend backend;
  std::string path;
  uint64_t version;
  std::string key;
  std::string canonical;
};
RG_PRINT_BY_NAME(GoodRef)

const GoodRef kGood[] = {
    {"bare_path_default_file", "kv/data/app/db", kFile, kFile, "kv/data/app/db", 0, "", "file:kv/data/app/db"},
    {"bare_path_default_vault", "kv/data/app/db", kVault, kVault, "kv/data/app/db", 0, "", "vault:kv/data/app/db"},
    {"vault_prefix_overrides_default", "vault:kv/data/app/db#password", kFile, kVault, "kv/data/app/db", 0, "password",
     "vault:kv/data/app/db#password"},
    {"file_prefix_overrides_default", "file:db-password", kVault, kFile, "db-password", 0, "", "file:db-password"},
    {"version_and_key", "vault:kv/data/app/db?version=3#password", kFile, kVault, "kv/data/app/db", 3, "password",
     "vault:kv/data/app/db?version=3#password"},
    {"version_without_prefix", "kv/data/app/db?version=12", kVault, kVault, "kv/data/app/db", 12, "", "vault:kv/data/app/db?version=12"},
    {"version_max_2_pow_31", "vault:kv/x?version=2147483648", kFile, kVault, "kv/x", 2147483648ull, "",
     "vault:kv/x?version=2147483648"},
    {"version_leading_zeros", "vault:kv/x?version=007", kFile, kVault, "kv/x", 7, "", "vault:kv/x?version=7"},
    {"dynamic_secret", "vault:database/creds/readonly", kFile, kVault, "database/creds/readonly", 0, "",
     "vault:database/creds/readonly"},
    {"every_path_character", "file:a@b+c=d.e_f-G9/x", kFile, kFile, "a@b+c=d.e_f-G9/x", 0, "", "file:a@b+c=d.e_f-G9/x"},
    {"dots_inside_a_segment", "file:team/..hidden../x...y", kFile, kFile, "team/..hidden../x...y", 0, "",
     "file:team/..hidden../x...y"},
    {"key_characters", "file:db.json#user.name_2-x", kFile, kFile, "db.json", 0, "user.name_2-x", "file:db.json#user.name_2-x"},
    {"path_512_bytes", "file:" + std::string(512, 'a'), kFile, kFile, std::string(512, 'a'), 0, "", "file:" + std::string(512, 'a')},
    {"key_256_bytes", "file:x#" + std::string(256, 'k'), kFile, kFile, "x", 0, std::string(256, 'k'), "file:x#" + std::string(256, 'k')},
    {"single_character", "x", kFile, kFile, "x", 0, "", "file:x"},
};

class GoodRefTest : public ::testing::TestWithParam<GoodRef> {};

TEST_P(GoodRefTest, Parses) {
  const GoodRef& c = GetParam();
  auto r = parse_secret_ref(c.text, c.default_backend);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->backend, c.backend);
  EXPECT_EQ(r->path, c.path);
  EXPECT_EQ(r->version, c.version);
  EXPECT_EQ(r->key, c.key);
  EXPECT_EQ(secret_ref_to_string(*r), c.canonical);
}

// The canonical form is what travels to runguardd and into secrets.json: it must parse back to
// the same reference whatever the default backend is where it is read.
TEST_P(GoodRefTest, CanonicalFormRoundTrips) {
  auto r = parse_secret_ref(GetParam().text, GetParam().default_backend);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  for (Backend other : {kFile, kVault}) {
    auto back = parse_secret_ref(secret_ref_to_string(*r), other);
    ASSERT_TRUE(back.is_ok()) << back.status().message();
    EXPECT_EQ(back->backend, r->backend);
    EXPECT_EQ(back->path, r->path);
    EXPECT_EQ(back->version, r->version);
    EXPECT_EQ(back->key, r->key);
    EXPECT_EQ(secret_ref_to_string(*back), secret_ref_to_string(*r));
  }
}

INSTANTIATE_TEST_SUITE_P(SecretRefs, GoodRefTest, ::testing::ValuesIn(kGood),
                         [](const auto& info) { return std::string(info.param.name); });

struct BadRef {
  const char* name;
  std::string text;
  Backend default_backend;
  const char* why;
};
RG_PRINT_BY_NAME(BadRef)

const BadRef kBad[] = {
    // no path
    {"empty", "", kFile, "has no path"},
    {"vault_prefix_only", "vault:", kFile, "has no path"},
    {"file_prefix_only", "file:", kVault, "has no path"},
    {"key_only", "#password", kVault, "has no path"},
    {"version_only", "vault:?version=1", kFile, "has no path"},
    // backends
    {"unknown_backend", "kv:data/x", kFile, "unknown backend \"kv\""},
    {"backend_upper_case", "VAULT:kv/x", kFile, "unknown backend \"VAULT\""},
    {"backend_s3", "s3:bucket/key", kVault, "unknown backend \"s3\""},
    {"colon_after_slash", "kv/data:x", kVault, "is not allowed in a path"},
    {"double_prefix", "vault:vault:kv/x", kFile, "is not allowed in a path"},
    {"file_then_vault", "file:vault:x", kFile, "is not allowed in a path"},
    // segments and traversal
    {"absolute", "/etc/shadow", kFile, "empty path segment"},
    {"absolute_with_prefix", "file:/etc/shadow", kFile, "empty path segment"},
    {"trailing_slash", "kv/x/", kVault, "empty path segment"},
    {"double_slash", "kv//x", kVault, "empty path segment"},
    {"only_slash", "/", kFile, "empty path segment"},
    {"dotdot_first", "../etc/shadow", kFile, "\"..\" segments are not allowed"},
    {"dotdot_middle", "vault:kv/data/app/../admin", kFile, "\"..\" segments are not allowed"},
    {"dotdot_last", "file:team/..", kFile, "\"..\" segments are not allowed"},
    {"dotdot_alone", "..", kFile, "\"..\" segments are not allowed"},
    {"dotdot_with_key", "file:../x#k", kFile, "\"..\" segments are not allowed"},
    {"dot_segment", "kv/./x", kVault, "\".\" segments are not allowed"},
    {"dot_alone", "file:.", kFile, "\".\" segments are not allowed"},
    // characters
    {"space", "kv/x y", kVault, "is not allowed in a path"},
    {"newline", "kv/x\nINJECTED", kVault, "is not allowed in a path"},
    {"carriage_return", "kv/x\r", kVault, "is not allowed in a path"},
    {"tab", "kv/\tx", kVault, "is not allowed in a path"},
    {"nul", std::string("file:x\0/../../etc/shadow", 24), kFile, "is not allowed in a path"},
    {"unicode", "kv/caf\xc3\xa9", kVault, "is not allowed in a path"},
    {"unicode_slash_lookalike", "kv/a\xe2\x88\x95..", kVault, "is not allowed in a path"},
    {"backslash", "file:a\\..\\b", kFile, "is not allowed in a path"},
    {"glob_star", "kv/data/*", kVault, "is not allowed in a path"},
    {"percent_encoding", "kv/%2e%2e/x", kVault, "is not allowed in a path"},
    {"semicolon", "kv/x;rm", kVault, "is not allowed in a path"},
    {"ampersand_query_injection", "kv/x&list=true", kVault, "is not allowed in a path"},
    {"tilde", "file:~root", kFile, "is not allowed in a path"},
    // length
    {"path_513_bytes", "file:" + std::string(513, 'a'), kFile, "longer than 512"},
    // #key
    {"empty_key", "kv/x#", kVault, "the #key must be 1-256 characters"},
    {"key_257_bytes", "kv/x#" + std::string(257, 'k'), kVault, "the #key must be 1-256 characters"},
    {"key_slash", "kv/x#a/b", kVault, "in the #key"},
    {"key_hash", "kv/x#a#b", kVault, "in the #key"},
    {"key_space", "kv/x#pass word", kVault, "in the #key"},
    {"key_at", "kv/x#a@b", kVault, "in the #key"},
    {"key_before_version", "vault:kv/x#key?version=2", kFile, "in the #key"},
    {"key_newline", "kv/x#a\nb", kVault, "in the #key"},
    // ?version=
    {"version_zero", "vault:kv/x?version=0", kFile, "version must be 1 or more"},
    {"version_zeros", "vault:kv/x?version=000", kFile, "version must be 1 or more"},
    {"version_2_pow_31_plus_1", "vault:kv/x?version=2147483649", kFile, "version must be 1 or more"},
    {"version_10_digits_overflow", "vault:kv/x?version=9999999999", kFile, "version must be 1 or more"},
    {"version_wraps_uint64", "vault:kv/x?version=18446744073709551617", kFile, "the only query is ?version=N"},
    {"version_empty", "vault:kv/x?version=", kFile, "the only query is ?version=N"},
    {"query_empty", "vault:kv/x?", kFile, "the only query is ?version=N"},
    {"query_other", "vault:kv/x?ver=1", kFile, "the only query is ?version=N"},
    {"query_upper", "vault:kv/x?VERSION=1", kFile, "the only query is ?version=N"},
    {"version_letters", "vault:kv/x?version=1a", kFile, "version must be a number"},
    {"version_negative", "vault:kv/x?version=-1", kFile, "version must be a number"},
    {"version_plus", "vault:kv/x?version=+1", kFile, "version must be a number"},
    {"version_hex", "vault:kv/x?version=0x10", kFile, "version must be a number"},
    {"version_second_param", "vault:kv/x?version=1&a=b", kFile, "version must be a number"},
    {"version_long_second_param", "vault:kv/x?version=1&list=true", kFile, "the only query is ?version=N"},
    {"version_space", "vault:kv/x?version= 1", kFile, "version must be a number"},
    {"version_on_file_prefix", "file:db?version=2", kVault, "?version= is for Vault KV v2 only"},
    {"version_on_default_file", "db?version=2", kFile, "?version= is for Vault KV v2 only"},
};

class BadRefTest : public ::testing::TestWithParam<BadRef> {};

TEST_P(BadRefTest, IsRefused) {
  const BadRef& c = GetParam();
  auto r = parse_secret_ref(c.text, c.default_backend);
  ASSERT_FALSE(r.is_ok()) << "accepted as " << secret_ref_to_string(*r);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  const std::string& m = r.status().message();
  EXPECT_NE(m.find(c.why), std::string::npos) << m;
  EXPECT_EQ(m.rfind("secret reference \"", 0), 0u) << m;
  // The message goes to logs and runc's --log: one line, printable, bounded.
  for (char ch : m) EXPECT_TRUE(ch >= 0x20 && ch < 0x7f) << "byte " << static_cast<int>(static_cast<unsigned char>(ch)) << " in " << m;
  EXPECT_LT(m.size(), 300u) << m;
}

INSTANTIATE_TEST_SUITE_P(SecretRefs, BadRefTest, ::testing::ValuesIn(kBad),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SecretRefs, LongReferenceIsQuotedTruncated) {
  std::string text = "file:" + std::string(600, 'q');
  auto r = parse_secret_ref(text, kFile);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("...\""), std::string::npos) << r.status().message();
  EXPECT_EQ(r.status().message().find(std::string(100, 'q')), std::string::npos);
}

TEST(SecretRefs, ControlCharactersAreShownAsQuestionMarks) {
  auto r = parse_secret_ref("kv/x\ny", kVault);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("\"kv/x?y\""), std::string::npos) << r.status().message();
}

TEST(SecretRefs, BackendNames) {
  EXPECT_STREQ(backend_name(kFile), "file");
  EXPECT_STREQ(backend_name(kVault), "vault");
  EXPECT_STREQ(source_name(PlannedSecret::Source::kAnnotation), "annotation");
  EXPECT_STREQ(source_name(PlannedSecret::Source::kAttach), "attach");
  EXPECT_STREQ(source_name(PlannedSecret::Source::kEnv), "env");
}

TEST(SecretRefs, ToStringOmitsAbsentVersionAndKey) {
  SecretRef r;
  r.backend = kVault;
  r.path = "kv/data/a";
  EXPECT_EQ(secret_ref_to_string(r), "vault:kv/data/a");
  r.key = "k";
  EXPECT_EQ(secret_ref_to_string(r), "vault:kv/data/a#k");
  r.version = 5;
  EXPECT_EQ(secret_ref_to_string(r), "vault:kv/data/a?version=5#k");
  r.key.clear();
  EXPECT_EQ(secret_ref_to_string(r), "vault:kv/data/a?version=5");
}

struct NameCase {
  const char* name;
  std::string text;
  const char* why;  // "" = valid
};
RG_PRINT_BY_NAME(NameCase)

const NameCase kNames[] = {
    {"lower_dash", "db-password", ""},
    {"env_style", "DB_PASSWORD", ""},
    {"dotted", "tls.crt", ""},
    {"single_char", "a", ""},
    {"dots_inside", "a..b", ""},
    {"trailing_dot", "a.", ""},
    {"leading_dash", "-x", ""},  // the grammar allows it; the file is opened by fd, never a shell word
    {"digits", "0123", ""},
    {"max_128", std::string(128, 'n'), ""},
    // hostile
    {"empty", "", "secret name is empty"},
    {"traversal", "../x", "must not start with '.'"},
    {"dotdot", "..", "must not start with '.'"},
    {"dot", ".", "must not start with '.'"},
    {"hidden", ".hidden", "must not start with '.'"},
    {"slash", "a/b", "only letters, digits"},
    {"absolute", "/etc/passwd", "only letters, digits"},
    {"trailing_slash", "a/", "only letters, digits"},
    {"too_long_129", std::string(129, 'n'), "longer than 128"},
    {"newline", "a\nb", "only letters, digits"},
    {"tab", "a\tb", "only letters, digits"},
    {"nul", std::string("a\0b", 3), "only letters, digits"},
    {"escape", "a\x1b[31m", "only letters, digits"},
    {"del", "a\x7f", "only letters, digits"},
    {"space", "a b", "only letters, digits"},
    {"unicode", "caf\xc3\xa9", "only letters, digits"},
    {"backslash", "a\\b", "only letters, digits"},
    {"colon", "a:b", "only letters, digits"},
    {"equals", "a=b", "only letters, digits"},  // allowed in reference paths, not in file names
    {"at", "a@b", "only letters, digits"},
    {"star", "*", "only letters, digits"},
};

class SecretNameTest : public ::testing::TestWithParam<NameCase> {};

TEST_P(SecretNameTest, Checks) {
  const NameCase& c = GetParam();
  runguard::Status s = check_secret_name(c.text);
  if (std::string(c.why).empty()) {
    EXPECT_TRUE(s.is_ok()) << s.message();
    return;
  }
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find(c.why), std::string::npos) << s.message();
  for (char ch : s.message()) EXPECT_TRUE(ch >= 0x20 && ch < 0x7f) << s.message();
}

INSTANTIATE_TEST_SUITE_P(SecretRefs, SecretNameTest, ::testing::ValuesIn(kNames),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SecretRefs, HostDir) {
  EXPECT_EQ(secrets_host_dir("/run/runguard", "abc123"), "/run/runguard/abc123/secrets");
}

SecretsPlan sample_plan() {
  SecretsPlan plan;
  plan.mount_path = "/run/secrets";
  plan.host_dir = "/run/runguard/c1/secrets";
  PlannedSecret a;
  a.name = "db";
  a.source = PlannedSecret::Source::kAnnotation;
  a.ref = *parse_secret_ref("vault:kv/data/app/db?version=2#password", kVault);
  PlannedSecret b;
  b.name = "ca.pem";
  b.source = PlannedSecret::Source::kAttach;
  b.ref = *parse_secret_ref("ca", kFile);
  PlannedSecret e;
  e.name = "DB_PASSWORD";
  e.source = PlannedSecret::Source::kEnv;
  e.env_var = "DB_PASSWORD";
  e.env_index = 3;
  plan.files = {a, b, e};
  return plan;
}

TEST(SecretsPlanJson, ListsNamesAndReferencesOnly) {
  SecretsPlan plan = sample_plan();
  Json j = secrets_plan_to_json(plan);
  Json want = rgtest::parse(R"({
    "mountPath": "/run/secrets",
    "hostDir": "/run/runguard/c1/secrets",
    "files": [
      {"name": "db", "source": "annotation", "ref": "vault:kv/data/app/db?version=2#password"},
      {"name": "ca.pem", "source": "attach", "ref": "file:ca"},
      {"name": "DB_PASSWORD", "source": "env", "env": "DB_PASSWORD"}
    ]})");
  EXPECT_EQ(j, want) << j.dump(2);
  EXPECT_FALSE(j.contains("kubernetesTokenFile"));
  for (const auto& f : j["files"]) EXPECT_FALSE(f.contains("value")) << f.dump();
}

TEST(SecretsPlanJson, KubernetesTokenFileOnlyWhenSet) {
  SecretsPlan plan = sample_plan();
  plan.kubernetes_token_file = "/var/lib/kubelet/pods/u/volumes/kubernetes.io~projected/kube-api-access/token";
  Json j = secrets_plan_to_json(plan);
  EXPECT_EQ(j["kubernetesTokenFile"], plan.kubernetes_token_file);
}

TEST(SecretsPlanJson, EmptyPlan) {
  SecretsPlan plan;
  EXPECT_TRUE(plan.empty());
  Json j = secrets_plan_to_json(plan);
  EXPECT_EQ(j["files"], Json::array());
  plan.files.push_back(PlannedSecret{});
  EXPECT_FALSE(plan.empty());
}

}  // namespace
