// profiles/policies/default.yaml must say exactly what the built-in defaults are.
#include <gtest/gtest.h>

#include "runguard/policy/loader.h"
#include "runguard/pipeline/config.h"

namespace runguard::policy {
namespace {

TEST(Presets, DefaultYamlIsTheBuiltInPolicy) {
  auto file = pipeline::load_policy({std::string(RUNGUARD_SOURCE_DIR) + "/profiles/policies/default.yaml", true, "test"});
  ASSERT_TRUE(file.is_ok()) << file.status().message();
  auto builtin = default_policy();
  ASSERT_TRUE(builtin.is_ok());
  // Neither is weaker than the other in any control...
  EXPECT_TRUE(loosenings(builtin->controls, file->controls).empty());
  EXPECT_TRUE(loosenings(file->controls, builtin->controls).empty());
  // ...and the parameters loosenings() does not compare are equal too.
  EXPECT_EQ(file->controls.user.uid, builtin->controls.user.uid);
  EXPECT_EQ(file->controls.user.gid, builtin->controls.user.gid);
  EXPECT_EQ(file->controls.capabilities.allow, builtin->controls.capabilities.allow);
  EXPECT_EQ(file->controls.resources.memory.default_value, builtin->controls.resources.memory.default_value);
  EXPECT_EQ(file->controls.resources.pids.default_value, builtin->controls.resources.pids.default_value);
  EXPECT_EQ(file->controls.resources.cpu_default_shares, builtin->controls.resources.cpu_default_shares);
  EXPECT_EQ(file->controls.seccomp.profile_json, builtin->controls.seccomp.profile_json);
  EXPECT_EQ(file->state_dir, builtin->state_dir);
  EXPECT_EQ(file->lib_dir, builtin->lib_dir);
  EXPECT_EQ(file->mode, builtin->mode);
  EXPECT_EQ(file->failure_policy, builtin->failure_policy);
  EXPECT_TRUE(file->overrides.empty());
}

}  // namespace
}  // namespace runguard::policy
