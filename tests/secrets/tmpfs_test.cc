// secrets/files.h with the real tmpfs (root only; skipped with a message otherwise): the create
// path's mount_secrets_tmpfs + write_secret_files and the release path's wipe_secrets_dir.
// Every mount is detached in TearDown, also when a test failed.

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "runguard/nsutil/mountinfo.h"
#include "runguard/secrets/files.h"

namespace runguard::secrets {
namespace {

bool mounted(const std::string& path) {
  auto m = nsutil::read_mountinfo();
  return m.is_ok() && nsutil::top_mount_at(*m, path).has_value();
}

class SecretsTmpfs : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (mounts a tmpfs)";
    char tmpl[] = "/tmp/rg-secrets-tmpfs-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/secrets";
  }
  void TearDown() override {
    if (root_.empty()) return;
    for (int i = 0; i < 8 && mounted(dir_); ++i) ::umount2(dir_.c_str(), MNT_DETACH);
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  std::string root_;
  std::string dir_;
};

std::vector<FetchedSecret> one(const std::string& name, const std::string& value) {
  FetchedSecret s;
  s.name = name;
  s.value = value;
  return {s};
}

TEST_F(SecretsTmpfs, CreateWriteAndRelease) {
  ASSERT_TRUE(mount_secrets_tmpfs(dir_, 64 << 10, 100000, 100000).is_ok());
  ASSERT_TRUE(mounted(dir_));
  struct stat st {};
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0500u);
  EXPECT_EQ(st.st_uid, 100000u);
  ASSERT_TRUE(write_secret_files(dir_, one("db", "hunter2"), 100000, 100000).is_ok());
  ASSERT_EQ(::stat((dir_ + "/db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0400u);
  EXPECT_EQ(st.st_uid, 100000u);
  EXPECT_EQ(st.st_gid, 100000u);

  ASSERT_TRUE(wipe_secrets_dir(dir_).is_ok());
  EXPECT_FALSE(mounted(dir_));
  EXPECT_FALSE(std::filesystem::exists(dir_));
  EXPECT_TRUE(wipe_secrets_dir(dir_).is_ok()) << "a second release is success";
}

// A directory left by an earlier failed create is reused, not an error.
TEST_F(SecretsTmpfs, ExistingDirectoryIsReused) {
  ASSERT_EQ(::mkdir(dir_.c_str(), 0700), 0);
  ASSERT_TRUE(mount_secrets_tmpfs(dir_, 16 << 10, 0, 0).is_ok());
  EXPECT_TRUE(mounted(dir_));
}

TEST_F(SecretsTmpfs, FullTmpfsIsReportedAsSuch) {
  ASSERT_TRUE(mount_secrets_tmpfs(dir_, 16 << 10, 0, 0).is_ok());
  Status s = write_secret_files(dir_, one("big", std::string(256u << 10, 'x')), 0, 0);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("the secrets tmpfs is full (raise secrets.size)"), std::string::npos) << s.to_string();
}

TEST_F(SecretsTmpfs, ReleaseKeepsMountPointDirectoriesForTheUnmount) {
  ASSERT_TRUE(mount_secrets_tmpfs(dir_, 64 << 10, 0, 0).is_ok());
  ASSERT_TRUE(write_secret_files(dir_, one("db", "hunter2"), 0, 0).is_ok());
  ASSERT_EQ(::mkdir((dir_ + "/kubernetes.io").c_str(), 0555), 0);
  ASSERT_TRUE(wipe_secrets_dir(dir_).is_ok());
  EXPECT_FALSE(mounted(dir_));
  EXPECT_FALSE(std::filesystem::exists(dir_));
}

}  // namespace
}  // namespace runguard::secrets
