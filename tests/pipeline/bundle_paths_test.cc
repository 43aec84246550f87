// Paths the create path and the hook take from the bundle: config.json must be the bundle's own
// regular file (never a link, FIFO or device), and the original-root annotation — which a pod
// author or a podman user can set — may not choose the container's root filesystem.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "../../pipeline/src/support.h"
#include "../../pipeline/src/userns_setup.h"
#include "runguard/pipeline/hook_check.h"

namespace runguard::pipeline {
namespace {

namespace fs = std::filesystem;

class BundlePaths : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rg-bundle-paths-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    bundle_ = dir_ + "/bundle";
    fs::create_directories(bundle_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  static void write(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }
  static std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::string dir_, bundle_;
};

TEST_F(BundlePaths, ConfigJsonMustBeTheBundlesOwnRegularFile) {
  write(bundle_ + "/config.json", "{\"ociVersion\":\"1.0.2\"}");
  auto ok = internal::read_bundle_config(bundle_ + "/config.json");
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
  EXPECT_EQ(*ok, "{\"ociVersion\":\"1.0.2\"}");

  // A link to a file elsewhere: runguard would read one file and replace another.
  write(dir_ + "/elsewhere.json", "{}");
  fs::remove(bundle_ + "/config.json");
  fs::create_symlink(dir_ + "/elsewhere.json", bundle_ + "/config.json");
  auto link = internal::read_bundle_config(bundle_ + "/config.json");
  ASSERT_FALSE(link.is_ok());
  EXPECT_EQ(link.status().code(), Code::kInvalidArgument);
  EXPECT_NE(link.status().message().find(bundle_ + "/config.json is a symlink"), std::string::npos) << link.status().message();
  EXPECT_NE(link.status().message().find("bundle's own config.json"), std::string::npos) << link.status().message();

  // A FIFO with no writer: refused at once, not waited on.
  fs::remove(bundle_ + "/config.json");
  ASSERT_EQ(::mkfifo((bundle_ + "/config.json").c_str(), 0644), 0);
  auto fifo = internal::read_bundle_config(bundle_ + "/config.json");
  ASSERT_FALSE(fifo.is_ok());
  EXPECT_EQ(fifo.status().code(), Code::kInvalidArgument);
  EXPECT_NE(fifo.status().message().find("a FIFO"), std::string::npos) << fifo.status().message();

  // Symlinks in the bundle's own path are followed, as runc's chdir follows them.
  fs::remove(bundle_ + "/config.json");
  write(bundle_ + "/config.json", "{}");
  fs::create_directory_symlink(bundle_, dir_ + "/bundle-link");
  EXPECT_TRUE(internal::read_bundle_config(dir_ + "/bundle-link/config.json").is_ok());
}

TEST_F(BundlePaths, HookCheckRefusesASymlinkedConfigEvenWithFailurePolicyOpen) {
  write(dir_ + "/policy.yaml", "failurePolicy: open\n");
  write(dir_ + "/elsewhere.json", "{\"ociVersion\":\"1.0.2\",\"process\":{\"user\":{\"uid\":0,\"gid\":0},\"args\":[\"sh\"],\"cwd\":\"/\"}}");
  fs::create_symlink(dir_ + "/elsewhere.json", bundle_ + "/config.json");
  std::string state = Json{{"ociVersion", "1.0.2"}, {"id", "ctr1"}, {"status", "creating"}, {"pid", 42}, {"bundle", bundle_}}.dump();
  HookCheckResult r = hook_check(state, {dir_ + "/policy.yaml", true, "--policy"});
  EXPECT_EQ(r.exit_code, 1) << r.message;
  EXPECT_NE(r.message.find("is a symlink"), std::string::npos) << r.message;
}

TEST_F(BundlePaths, OriginalRootAnnotationIsBelievedOnlyBesideRunguardsMountPoint) {
  const std::string state_dir = dir_ + "/state";
  fs::create_directories(state_dir);
  const std::string key = internal::kOriginalRootAnnotation;

  // Written by runguard: root.path is its mount point; the annotation restores the engine's path.
  Json mine = {{"root", {{"path", state_dir + "/ctr1/mnt/rootfs"}}}, {"annotations", {{key, "rootfs"}, {"other", "x"}}}};
  ASSERT_TRUE(internal::forget_previous_userns(mine, state_dir).is_ok());
  EXPECT_EQ(mine["root"]["path"], "rootfs");
  EXPECT_FALSE(mine["annotations"].contains(key));

  // Set by a pod author or `podman --annotation`: it would make the host's / the container's root.
  for (const Json& root : {Json("rootfs"), Json("/var/lib/containers/storage/overlay/x/merged"),
                           Json(state_dir + "/../ctr1/mnt/rootfs"), Json(state_dir + "/a/b/mnt/rootfs"),
                           Json(state_dir + "/mnt/rootfs")}) {
    Json forged = {{"root", {{"path", root}}}, {"annotations", {{key, "/"}}}};
    Json before = forged;
    Status s = internal::forget_previous_userns(forged, state_dir);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << root.dump();
    EXPECT_NE(s.message().find("may not choose the container's root filesystem"), std::string::npos) << s.message();
    EXPECT_EQ(forged, before) << "a refused spec is left as it was";
  }
  Json no_root = {{"annotations", {{key, "/"}}}};
  EXPECT_EQ(internal::forget_previous_userns(no_root, state_dir).code(), Code::kInvalidArgument);

  // Without the annotation nothing changes.
  Json plain = {{"root", {{"path", "rootfs"}}}};
  ASSERT_TRUE(internal::forget_previous_userns(plain, state_dir).is_ok());
  EXPECT_EQ(plain["root"]["path"], "rootfs");
}

}  // namespace
}  // namespace runguard::pipeline
