// Keys runc (Go's encoding/json) matches case-insensitively must be spelled exactly, or the policy
// and runc would read different documents (review finding: {"Source":"/"} bypassed sensitiveMounts).
#include <gtest/gtest.h>

#include "runguard/policy/engine.h"

namespace runguard::policy {
namespace {

Status check(const std::string& text) { return validate_spec(*parse_json(text, "t"), "config.json"); }

TEST(KeyCase, CaseVariantsOfFieldsAreRefused) {
  const char* bad[] = {
      R"({"mounts":[{"type":"bind","Source":"/","destination":"/host","options":["rbind"]}]})",
      R"({"Mounts":[{"type":"bind","source":"/","destination":"/host"}]})",
      R"({"linux":{"namespaces":[{"type":"network","Path":"/proc/1/ns/net"}]}})",
      R"({"process":{"Capabilities":{"bounding":["CAP_SYS_ADMIN"]}}})",
      R"({"process":{"user":{"uid":65532,"gid":65532,"additionalgids":[0]}}})",
      R"({"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","defaultaction":"SCMP_ACT_ALLOW"}}})",
      // Unicode folding: U+017F LATIN SMALL LETTER LONG S in "ſource", U+212A KELVIN SIGN in "\u212Aernel".
      "{\"mounts\":[{\"type\":\"bind\",\"\xC5\xBFource\":\"/\",\"destination\":\"/h\"}]}",
      "{\"linux\":{\"resources\":{\"memory\":{\"\xE2\x84\xAA" "ernel\":1}}}}",
  };
  for (const char* text : bad) {
    Status s = check(text);
    EXPECT_FALSE(s.is_ok()) << text;
    EXPECT_NE(s.message().find("config.json: /"), std::string::npos) << s.message();
  }
}

TEST(KeyCase, DuplicatesThatFoldAlikeAreRefused) {
  Status s = check(R"({"process":{"noNewPrivileges":true,"nonewprivileges":false}})");
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("only in case"), std::string::npos) << s.message();
}

TEST(KeyCase, FreeFormMapsAndUnknownObjectsAreLeftAlone) {
  EXPECT_TRUE(check(R"({"annotations":{"Path":"x","path":"y"},"linux":{"sysctl":{"Net.Core":"1","net.core":"2"}}})").is_ok());
  EXPECT_TRUE(check(R"({"vendor.example":{"Source":"/","source":"/"}})").is_ok());
  EXPECT_TRUE(check(R"({"process":{"user":{"uid":1,"gid":1,"additionalGids":[2]}},"mounts":[{"source":"/a","destination":"/b"}]})").is_ok());
}

TEST(KeyCase, ProcessAndUpdateDocumentsToo) {
  EXPECT_FALSE(validate_process(*parse_json(R"({"User":{"uid":0}})", "p"), "process.json").is_ok());
  EXPECT_FALSE(validate_resources(*parse_json(R"({"memory":{"Limit":-1}})", "r"), "stdin").is_ok());
  EXPECT_TRUE(validate_resources(*parse_json(R"({"unified":{"Memory.Max":"1"}})", "r"), "stdin").is_ok());
}

}  // namespace
}  // namespace runguard::policy
