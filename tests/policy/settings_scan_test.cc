// The pass-through line scanner must agree with yaml-cpp whenever it answers at all.
#include <gtest/gtest.h>

#include "../../policy/src/settings_scan.h"
#include "runguard/policy/loader.h"

namespace runguard::policy {
namespace {


TEST(SettingsScan, AgreesWithYamlCppOnCommonForms) {
  const std::vector<std::string> docs = {
      "",
      "# only a comment\n",
      "runtime: { path: /usr/sbin/runc }\nstateDir: /run/runguard\n",
      "runtime:\n  path: /opt/runc   # the real one\nstateDir: \"/var/run/rg\"\n",
      "mode: enforce\ncontrols:\n  user: { action: enforce, uid: 1000 }\n  seccomp:\n    profile: default\nruntime:\n  path: '/x/runc'\n",
      "stateDir: /tmp/s\ncontrols:\n  path: /not/the/runtime\n",
      "runtime: {}\n",
      "runtime: { path: /a, other: b }\r\nstateDir: /b\r\n",
      "overrides:\n  - match: { containerType: sandbox }\n    controls: { readonlyRootfs: { action: off } }\nruntime: { path: /r }\n",
  };
  for (const auto& doc : docs) {
    auto quick = internal::scan_runtime_settings(doc);
    ASSERT_TRUE(quick.has_value()) << doc;
    RuntimeSettings full = internal::yaml_runtime_settings(doc);
    EXPECT_EQ(quick->runtime_path, full.runtime_path) << doc;
    EXPECT_EQ(quick->state_dir, full.state_dir) << doc;
    EXPECT_EQ(peek_runtime_settings(doc).runtime_path, full.runtime_path) << doc;
  }
}

TEST(SettingsScan, DefersToYamlCppOnAnythingUnusual) {
  const std::vector<std::string> docs = {
      "base: &b /x\nruntime: { path: *b }\n",        // alias
      "runtime: !!map { path: /x }\n",                // tag
      "---\nruntime: { path: /x }\n",                  // document marker
      "runtime: {\n  path: /x }\n",                    // multi-line flow mapping
      "runtime:\n\tpath: /x\n",                        // tab indentation
      "\"runtime\": { path: /x }\n",                   // quoted key
      "stateDir: |\n  /x\n",                           // block scalar
      "runtime:\n  path: \"/a\\tb\"\n",                // escape sequence
  };
  for (const auto& doc : docs) EXPECT_FALSE(internal::scan_runtime_settings(doc).has_value()) << doc;
  // peek still answers, through yaml-cpp.
  EXPECT_EQ(peek_runtime_settings("base: &b /x\nruntime: { path: *b }\n").runtime_path, "/x");
  EXPECT_EQ(peek_runtime_settings("\"runtime\": { path: /q }\n").runtime_path, "/q");
}

TEST(SettingsScan, BrokenYamlKeepsDefaults) {
  RuntimeSettings s = peek_runtime_settings("runtime: [unclosed\n");
  EXPECT_EQ(s.runtime_path, "");
  EXPECT_EQ(s.state_dir, "/run/runguard");
}

}  // namespace
}  // namespace runguard::policy
