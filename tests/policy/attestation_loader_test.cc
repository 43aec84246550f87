// policy.yaml's `attestation:` section (policy/src/attestation_loader.cc through parse_policy):
// defaults, every key, a file holding only this section, the gate's on/off rule, and every class
// of load error with file:line and the dotted key.

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "policy_test_util.h"

namespace {

using namespace rgtest;  // NOLINT(google-build-using-namespace)
using runguard::Result;
using runguard::policy::AttestationSettings;
using runguard::policy::parse_policy;
using runguard::policy::VulnSeverity;
using GateAction = AttestationSettings::GateAction;

constexpr const char* kSource = "/etc/runguard/policy.yaml";

Result<Policy> load(const std::string& yaml) { return parse_policy(yaml, kSource, no_files); }

AttestationSettings load_ok(const std::string& yaml) {
  auto r = load(yaml);
  if (!r.is_ok()) {
    ADD_FAILURE() << r.status().message() << "\n--- yaml:\n" << yaml;
    return AttestationSettings{};
  }
  return r->attestation;
}

void expect_defaults_but_present(const AttestationSettings& s) {
  EXPECT_EQ(s.action, GateAction::kEnforce);
  EXPECT_TRUE(s.keys.empty());
  EXPECT_EQ(s.threshold, 1);
  EXPECT_EQ(s.max_age_ms, 168LL * 3600 * 1000);
  EXPECT_EQ(s.max_fixable, VulnSeverity::kMedium);
  EXPECT_EQ(s.max_unfixable, VulnSeverity::kHigh);
  EXPECT_EQ(s.unknown_as, VulnSeverity::kHigh);
  EXPECT_TRUE(s.exceptions.empty());
  EXPECT_TRUE(s.vex.empty());
  EXPECT_EQ(s.store, "/var/lib/runguard/attestations");
  EXPECT_EQ(s.require_images, std::vector<std::string>{"*"});
  EXPECT_FALSE(s.require_sandboxes);
  EXPECT_EQ(s.digest_annotation, "runguard.dev/image-digest");
  EXPECT_FALSE(s.enabled()) << "no keys: nothing can be trusted";
}

TEST(AttestationLoader, AbsentSectionIsNotPresentAndOff) {
  AttestationSettings s = load_ok("");
  EXPECT_FALSE(s.present);
  EXPECT_FALSE(s.enabled());
  EXPECT_FALSE(defaults().attestation.present);
}

TEST(AttestationLoader, EmptyAndNullSectionsArePresentWithDefaults) {
  for (const char* yaml : {"attestation: {}\n", "attestation:\n", "attestation: ~\n"}) {
    AttestationSettings s = load_ok(yaml);
    EXPECT_TRUE(s.present) << yaml;
    expect_defaults_but_present(s);
  }
}

TEST(AttestationLoader, EveryKey) {
  AttestationSettings s = load_ok(R"(attestation:
  action: audit
  keys: [/etc/runguard/keys/ci.pub, /etc/runguard/keys/release.pub]
  threshold: 2
  maxAge: 72h
  maxSeverity: { fixable: low, unfixable: Critical, unknownAs: MEDIUM }
  exceptions:
    - id: CVE-2023-1234
      until: 2027-01-31
      images: ["registry.example/app/*", "registry.example/web:*"]
      reason: "not reachable: the vulnerable parser is not built in"
    - { id: GHSA-aaaa-bbbb-cccc, reason: "accepted by security review SR-42" }
  vex: [/etc/runguard/vex/, /etc/runguard/vex-extra/app.json]
  store: /srv/attestations/
  requireFor: { images: ["registry.example/*"], sandboxes: true }
  digestAnnotation: example.com/digest
)");
  EXPECT_TRUE(s.present);
  EXPECT_EQ(s.action, GateAction::kAudit);
  EXPECT_EQ(s.keys, (std::vector<std::string>{"/etc/runguard/keys/ci.pub", "/etc/runguard/keys/release.pub"}));
  EXPECT_EQ(s.threshold, 2);
  EXPECT_EQ(s.max_age_ms, 72LL * 3600 * 1000);
  EXPECT_EQ(s.max_fixable, VulnSeverity::kLow);
  EXPECT_EQ(s.max_unfixable, VulnSeverity::kCritical);
  EXPECT_EQ(s.unknown_as, VulnSeverity::kMedium);
  ASSERT_EQ(s.exceptions.size(), 2u);
  EXPECT_EQ(s.exceptions[0].id, "CVE-2023-1234");
  EXPECT_EQ(s.exceptions[0].until, "2027-01-31");
  // 2027-01-31T23:59:59Z
  EXPECT_EQ(s.exceptions[0].until_s, 1801439999);
  EXPECT_EQ(s.exceptions[0].images, (std::vector<std::string>{"registry.example/app/*", "registry.example/web:*"}));
  EXPECT_EQ(s.exceptions[0].reason, "not reachable: the vulnerable parser is not built in");
  EXPECT_EQ(s.exceptions[1].id, "GHSA-aaaa-bbbb-cccc");
  EXPECT_FALSE(s.exceptions[1].until_s.has_value()) << "no until: no expiry";
  EXPECT_TRUE(s.exceptions[1].images.empty()) << "no images: every image";
  EXPECT_EQ(s.vex, (std::vector<std::string>{"/etc/runguard/vex/", "/etc/runguard/vex-extra/app.json"}));
  EXPECT_EQ(s.store, "/srv/attestations") << "a trailing slash is dropped";
  EXPECT_EQ(s.require_images, std::vector<std::string>{"registry.example/*"});
  EXPECT_TRUE(s.require_sandboxes);
  EXPECT_EQ(s.digest_annotation, "example.com/digest");
  EXPECT_TRUE(s.enabled()) << "audit runs the gate too";
}

TEST(AttestationLoader, EnabledNeedsSectionKeysAndAnActionOtherThanOff) {
  EXPECT_TRUE(load_ok("attestation: { keys: [/k.pub] }\n").enabled());
  EXPECT_TRUE(load_ok("attestation: { action: audit, keys: [/k.pub] }\n").enabled());
  EXPECT_FALSE(load_ok("attestation: { action: off, keys: [/k.pub] }\n").enabled());
  EXPECT_FALSE(load_ok("attestation: { keys: [] }\n").enabled());
}

// The issue's example section, verbatim.
TEST(AttestationLoader, IssueExampleLoads) {
  AttestationSettings s = load_ok(R"(attestation:
  action: enforce            # enforce (deny on failure) | audit | off
  keys: [/etc/runguard/keys/ci.pub]
  threshold: 1               # distinct trusted keys that must have signed
  maxAge: 168h               # from the scan's finish time (scanFinishedOn / report timestamp) to "now"
  maxSeverity: { fixable: MEDIUM, unfixable: HIGH }   # highest severity allowed, split by whether a fix exists
  exceptions: [ { id: CVE-2023-1234, until: 2027-01-31, images: ["registry.example/app/*"], reason: "…" } ]
  vex: [/etc/runguard/vex/]  # OpenVEX documents; not_affected and fixed suppress a finding for matching products
  store: /var/lib/runguard/attestations      # embedded default: <store>/sha256/<hex>/*.json
  requireFor: { images: ["*"] }               # globs; everything else passes without checking
)");
  EXPECT_TRUE(s.enabled());
  EXPECT_EQ(s.max_age_ms, 168LL * 3600 * 1000);
  EXPECT_EQ(s.exceptions.at(0).reason, "…");
}

// A policy file may hold only `attestation:`: every other setting keeps its default.
TEST(AttestationLoader, FileWithOnlyTheSectionIsAValidPolicy) {
  auto r = load("attestation:\n  keys: [/etc/runguard/keys/ci.pub]\n");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  Policy d = defaults();
  EXPECT_EQ(r->mode, d.mode);
  EXPECT_EQ(r->state_dir, d.state_dir);
  EXPECT_EQ(r->lib_dir, d.lib_dir);
  EXPECT_EQ(r->controls.user.action, d.controls.user.action);
  EXPECT_EQ(r->controls.capabilities.allow, d.controls.capabilities.allow);
  EXPECT_EQ(r->controls.seccomp.profile_json, d.controls.seccomp.profile_json);
  EXPECT_EQ(r->secrets.mount_path, d.secrets.mount_path);
  EXPECT_TRUE(r->overrides.empty());
  EXPECT_TRUE(r->attestation.enabled());
}

struct GoodValue {
  const char* name;
  std::string yaml;
  std::function<void(const AttestationSettings&)> check;
};
RG_PRINT_BY_NAME(GoodValue)

const GoodValue kGoodValues[] = {
    {"action_enforce", "attestation: { action: enforce }\n", [](const AttestationSettings& s) { EXPECT_EQ(s.action, GateAction::kEnforce); }},
    {"action_off", "attestation: { action: off }\n", [](const AttestationSettings& s) { EXPECT_EQ(s.action, GateAction::kOff); }},
    {"max_age_minutes", "attestation: { maxAge: 90m }\n", [](const AttestationSettings& s) { EXPECT_EQ(s.max_age_ms, 90LL * 60000); }},
    {"max_age_days", "attestation: { maxAge: 7d }\n", [](const AttestationSettings& s) { EXPECT_EQ(s.max_age_ms, 7LL * 86400000); }},
    {"max_age_min_1m", "attestation: { maxAge: 1m }\n", [](const AttestationSettings& s) { EXPECT_EQ(s.max_age_ms, 60000); }},
    {"max_age_max_8760h", "attestation: { maxAge: 8760h }\n",
     [](const AttestationSettings& s) { EXPECT_EQ(s.max_age_ms, 8760LL * 3600000); }},
    {"severity_none", "attestation: { maxSeverity: { fixable: none } }\n",
     [](const AttestationSettings& s) { EXPECT_EQ(s.max_fixable, VulnSeverity::kNone); }},
    {"severity_negligible", "attestation: { maxSeverity: { unfixable: Negligible } }\n",
     [](const AttestationSettings& s) { EXPECT_EQ(s.max_unfixable, VulnSeverity::kNegligible); }},
    {"severity_partial_keeps_others", "attestation: { maxSeverity: { unknownAs: critical } }\n",
     [](const AttestationSettings& s) {
       EXPECT_EQ(s.unknown_as, VulnSeverity::kCritical);
       EXPECT_EQ(s.max_fixable, VulnSeverity::kMedium);
       EXPECT_EQ(s.max_unfixable, VulnSeverity::kHigh);
     }},
    {"threshold_equal_to_keys", "attestation: { keys: [/a, /b, /c], threshold: 3 }\n",
     [](const AttestationSettings& s) { EXPECT_EQ(s.threshold, 3); }},
    {"threshold_without_keys", "attestation: { threshold: 2 }\n", [](const AttestationSettings& s) { EXPECT_EQ(s.threshold, 2); }},
    {"until_leap_day", "attestation:\n  exceptions: [ { id: CVE-1, until: 2028-02-29, reason: r } ]\n",
     [](const AttestationSettings& s) { EXPECT_EQ(s.exceptions.at(0).until_s, 1835481599); }},  // 2028-02-29T23:59:59Z
    {"until_epoch_day", "attestation:\n  exceptions: [ { id: CVE-1, until: 1970-01-01, reason: r } ]\n",
     [](const AttestationSettings& s) { EXPECT_EQ(s.exceptions.at(0).until_s, 86399); }},
    {"require_for_no_images", "attestation: { requireFor: { images: [] } }\n",
     [](const AttestationSettings& s) { EXPECT_TRUE(s.require_images.empty()); }},
    {"require_for_sandboxes_only", "attestation: { requireFor: { sandboxes: true } }\n",
     [](const AttestationSettings& s) {
       EXPECT_TRUE(s.require_sandboxes);
       EXPECT_EQ(s.require_images, std::vector<std::string>{"*"});
     }},
    {"store_root_keeps_slash", "attestation: { store: / }\n", [](const AttestationSettings& s) { EXPECT_EQ(s.store, "/"); }},
};

class AttestationGoodValueTest : public ::testing::TestWithParam<GoodValue> {};

TEST_P(AttestationGoodValueTest, Loads) { GetParam().check(load_ok(GetParam().yaml)); }

INSTANTIATE_TEST_SUITE_P(AttestationLoader, AttestationGoodValueTest, ::testing::ValuesIn(kGoodValues),
                         [](const auto& info) { return std::string(info.param.name); });

struct BadPolicy {
  const char* name;
  std::string yaml;
  int line;
  std::string key;
  const char* why;
};
RG_PRINT_BY_NAME(BadPolicy)

const BadPolicy kBad[] = {
    {"not_a_mapping", "attestation: [a]\n", 1, "attestation", "expected a mapping"},
    {"scalar", "attestation: on\n", 1, "attestation", "expected a mapping"},
    {"unknown_key", "attestation:\n  key: [/k]\n", 2, "attestation.key", "unknown key (did you mean keys?)"},
    {"unknown_key_camel", "attestation:\n  max_age: 1h\n", 2, "attestation.max_age", "unknown key"},
    {"duplicate_key", "attestation:\n  store: /a\n  store: /b\n", 3, "attestation.store", "duplicate key"},
    // action
    {"action_typo", "attestation:\n  action: enforcee\n", 2, "attestation.action", "\"enforcee\" is not one of enforce, audit, off"},
    {"action_deny", "attestation:\n  action: deny\n", 2, "attestation.action", "is not one of enforce, audit, off"},
    // keys
    {"keys_scalar", "attestation:\n  keys: /k.pub\n", 2, "attestation.keys", "expected a list of PEM public key files"},
    {"keys_relative", "attestation:\n  keys: [keys/ci.pub]\n", 2, "attestation.keys[0]", "must be an absolute path"},
    {"keys_second_relative", "attestation:\n  keys:\n    - /a.pub\n    - b.pub\n", 4, "attestation.keys[1]", "must be an absolute path"},
    {"keys_twice", "attestation:\n  keys: [/a.pub, /a.pub]\n", 2, "attestation.keys[1]", "\"/a.pub\" is listed twice"},
    {"keys_nested_list", "attestation:\n  keys: [[/a.pub]]\n", 2, "attestation.keys[0]", "expected a single value"},
    // threshold
    {"threshold_zero", "attestation:\n  threshold: 0\n", 2, "attestation.threshold", "out of range [1, 64]"},
    {"threshold_negative", "attestation:\n  threshold: -1\n", 2, "attestation.threshold", "out of range"},
    {"threshold_word", "attestation:\n  threshold: one\n", 2, "attestation.threshold", "is not an integer"},
    {"threshold_above_keys", "attestation:\n  keys: [/a.pub]\n  threshold: 2\n", 3, "attestation.threshold",
     "2 is more than the 1 key(s) in attestation.keys"},
    {"threshold_above_keys_before", "attestation:\n  threshold: 3\n  keys: [/a.pub, /b.pub]\n", 2, "attestation.threshold",
     "no attestation could ever pass"},
    // maxAge
    {"max_age_no_unit", "attestation:\n  maxAge: 168\n", 2, "attestation.maxAge", "duration unit"},
    {"max_age_word", "attestation:\n  maxAge: week\n", 2, "attestation.maxAge", "is not a duration"},
    {"max_age_zero", "attestation:\n  maxAge: 0h\n", 2, "attestation.maxAge", "must be between 1m and 8760h"},
    {"max_age_too_short", "attestation:\n  maxAge: 59s\n", 2, "attestation.maxAge", "must be between 1m and 8760h"},
    {"max_age_too_long", "attestation:\n  maxAge: 366d\n", 2, "attestation.maxAge", "must be between 1m and 8760h"},
    {"max_age_compound", "attestation:\n  maxAge: 1h30m\n", 2, "attestation.maxAge", "duration unit"},
    // maxSeverity
    {"severity_not_a_mapping", "attestation:\n  maxSeverity: HIGH\n", 2, "attestation.maxSeverity", "expected a mapping"},
    {"severity_unknown_key", "attestation:\n  maxSeverity: { fixed: HIGH }\n", 2, "attestation.maxSeverity.fixed",
     "unknown key; allowed here: fixable, unfixable, unknownAs"},
    {"severity_typo", "attestation:\n  maxSeverity:\n    fixable: HIHG\n", 3, "attestation.maxSeverity.fixable",
     "\"HIHG\" is not a severity (one of NONE, NEGLIGIBLE, LOW, MEDIUM, HIGH, CRITICAL) (did you mean HIGH?)"},
    {"severity_unknown_is_not_a_ceiling", "attestation:\n  maxSeverity: { unfixable: UNKNOWN }\n", 2,
     "attestation.maxSeverity.unfixable", "is not a severity"},
    {"severity_unknown_as_typo", "attestation:\n  maxSeverity: { unknownAs: severe }\n", 2, "attestation.maxSeverity.unknownAs",
     "is not a severity"},
    // exceptions
    {"exceptions_mapping", "attestation:\n  exceptions: { id: CVE-1 }\n", 2, "attestation.exceptions", "expected a list"},
    {"exception_without_id", "attestation:\n  exceptions:\n    - reason: r\n", 3, "attestation.exceptions[0].id", "is required"},
    {"exception_without_reason", "attestation:\n  exceptions:\n    - id: CVE-2023-1234\n", 3, "attestation.exceptions[0].reason",
     "is required: say why the risk is accepted"},
    {"exception_blank_reason", "attestation:\n  exceptions:\n    - id: CVE-1\n      reason: \"  \"\n", 4,
     "attestation.exceptions[0].reason", "is empty"},
    {"exception_id_glob", "attestation:\n  exceptions:\n    - { id: \"CVE-*\", reason: r }\n", 3, "attestation.exceptions[0].id",
     "is not a vulnerability id"},
    {"exception_id_empty", "attestation:\n  exceptions:\n    - { id: \"\", reason: r }\n", 3, "attestation.exceptions[0].id",
     "is not a vulnerability id"},
    {"exception_unknown_key", "attestation:\n  exceptions:\n    - { id: CVE-1, reason: r, expires: 2027-01-01 }\n", 3,
     "attestation.exceptions[0].expires", "unknown key"},
    {"exception_until_not_a_date", "attestation:\n  exceptions:\n    - { id: CVE-1, reason: r, until: tomorrow }\n", 3,
     "attestation.exceptions[0].until", "\"tomorrow\" is not a date (YYYY-MM-DD"},
    {"exception_until_bad_month", "attestation:\n  exceptions:\n    - { id: CVE-1, reason: r, until: 2027-13-01 }\n", 3,
     "attestation.exceptions[0].until", "is not a date"},
    {"exception_until_feb_30", "attestation:\n  exceptions:\n    - { id: CVE-1, reason: r, until: 2027-02-29 }\n", 3,
     "attestation.exceptions[0].until", "is not a date"},
    {"exception_until_with_time", "attestation:\n  exceptions:\n    - { id: CVE-1, reason: r, until: \"2027-01-01T00:00:00Z\" }\n", 3,
     "attestation.exceptions[0].until", "is not a date"},
    {"exception_images_scalar", "attestation:\n  exceptions:\n    - { id: CVE-1, reason: r, images: \"app/*\" }\n", 3,
     "attestation.exceptions[0].images", "expected a list of image globs"},
    {"exception_images_empty", "attestation:\n  exceptions:\n    - { id: CVE-1, reason: r, images: [] }\n", 3,
     "attestation.exceptions[0].images", "non-empty list"},
    {"exception_images_empty_glob", "attestation:\n  exceptions:\n    - { id: CVE-1, reason: r, images: [\"\"] }\n", 3,
     "attestation.exceptions[0].images[0]", "an empty glob"},
    {"second_exception", "attestation:\n  exceptions:\n    - { id: CVE-1, reason: r }\n    - { id: CVE-2 }\n", 4,
     "attestation.exceptions[1].reason", "is required"},
    // vex, store
    {"vex_relative", "attestation:\n  vex: [vex/]\n", 2, "attestation.vex[0]", "must be an absolute path"},
    {"vex_scalar", "attestation:\n  vex: /etc/vex\n", 2, "attestation.vex", "expected a list of OpenVEX files or directories"},
    {"store_relative", "attestation:\n  store: attestations\n", 2, "attestation.store", "must be an absolute path"},
    {"store_list", "attestation:\n  store: [/a]\n", 2, "attestation.store", "expected a single value"},
    // requireFor
    {"require_for_list", "attestation:\n  requireFor: [\"*\"]\n", 2, "attestation.requireFor", "expected a mapping"},
    {"require_for_unknown_key", "attestation:\n  requireFor: { image: [\"*\"] }\n", 2, "attestation.requireFor.image",
     "unknown key (did you mean images?)"},
    {"require_for_images_scalar", "attestation:\n  requireFor: { images: \"*\" }\n", 2, "attestation.requireFor.images",
     "expected a list of image globs"},
    {"require_for_sandboxes_word", "attestation:\n  requireFor: { sandboxes: yes }\n", 2, "attestation.requireFor.sandboxes",
     "is not one of true, false"},
    // digestAnnotation
    {"digest_annotation_empty", "attestation:\n  digestAnnotation: \"\"\n", 2, "attestation.digestAnnotation", "is not an annotation key"},
    {"digest_annotation_space", "attestation:\n  digestAnnotation: \"a b\"\n", 2, "attestation.digestAnnotation",
     "is not an annotation key"},
    {"digest_annotation_list", "attestation:\n  digestAnnotation: [a]\n", 2, "attestation.digestAnnotation", "expected a single value"},
    // after other sections, the line is still the section's
    {"after_other_sections", "mode: audit\nsecrets: {}\nattestation:\n  keys: [x]\n", 4, "attestation.keys[0]", "absolute path"},
};

class AttestationBadPolicyTest : public ::testing::TestWithParam<BadPolicy> {};

TEST_P(AttestationBadPolicyTest, IsRefusedWithFileLineAndKey) {
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

INSTANTIATE_TEST_SUITE_P(AttestationLoader, AttestationBadPolicyTest, ::testing::ValuesIn(kBad),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(AttestationLoader, SeverityNames) {
  using runguard::policy::vuln_severity_name;
  EXPECT_STREQ(vuln_severity_name(VulnSeverity::kNone), "NONE");
  EXPECT_STREQ(vuln_severity_name(VulnSeverity::kNegligible), "NEGLIGIBLE");
  EXPECT_STREQ(vuln_severity_name(VulnSeverity::kLow), "LOW");
  EXPECT_STREQ(vuln_severity_name(VulnSeverity::kMedium), "MEDIUM");
  EXPECT_STREQ(vuln_severity_name(VulnSeverity::kHigh), "HIGH");
  EXPECT_STREQ(vuln_severity_name(VulnSeverity::kCritical), "CRITICAL");
  EXPECT_STREQ(vuln_severity_name(VulnSeverity::kUnknown), "UNKNOWN");
}

}  // namespace
