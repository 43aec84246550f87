// The Kubernetes service-account token is read from the source of the spec's mount at
// /var/run/secrets/kubernetes.io/serviceaccount: kubelet's projected volume, or a hostPath a pod
// put there. It is resolved inside that directory, so kubelet's relative links work and no link
// can make runguard send another file of the node (its own Vault token) to Vault as the pod's JWT.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "vault_auth.h"

namespace runguard::secrets::vault {
namespace {

namespace fs = std::filesystem;

class SaTokenPaths : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rg-sa-token-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    vol_ = dir_ + "/volume";
    fs::create_directories(vol_);
    std::ofstream(dir_ + "/node-vault-token") << "hvs.NODE-TOKEN-must-not-travel";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_, vol_;
};

TEST_F(SaTokenPaths, KubeletsAtomicWriterLayoutIsRead) {
  fs::create_directories(vol_ + "/..2026_11_29_17_00_00.1");
  std::ofstream(vol_ + "/..2026_11_29_17_00_00.1/token") << "aaa.bbb.ccc\n";
  fs::create_directory_symlink("..2026_11_29_17_00_00.1", vol_ + "/..data");
  fs::create_symlink("..data/token", vol_ + "/token");
  auto jwt = read_service_account_token(vol_ + "/token");
  ASSERT_TRUE(jwt.is_ok()) << jwt.status().to_string();
  EXPECT_EQ(*jwt, "aaa.bbb.ccc");
}

TEST_F(SaTokenPaths, LinksOutOfTheVolumeDoNotReachTheNodesFiles) {
  for (const std::string& target : {dir_ + "/node-vault-token", std::string("../node-vault-token")}) {
    fs::remove(vol_ + "/token");
    fs::create_symlink(target, vol_ + "/token");
    auto jwt = read_service_account_token(vol_ + "/token");
    ASSERT_FALSE(jwt.is_ok()) << target << " was followed: " << *jwt;
    EXPECT_EQ(jwt.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(jwt.status().message().find("NODE-TOKEN"), std::string::npos);
  }
}

TEST_F(SaTokenPaths, FifoIsRefusedWithoutBlocking) {
  ASSERT_EQ(::mkfifo((vol_ + "/token").c_str(), 0600), 0);
  auto jwt = read_service_account_token(vol_ + "/token");
  ASSERT_FALSE(jwt.is_ok());
  EXPECT_NE(jwt.status().message().find("a FIFO"), std::string::npos) << jwt.status().message();
}

TEST_F(SaTokenPaths, RelativeOrDirectoryPathsAreRefused) {
  EXPECT_FALSE(read_service_account_token("token").is_ok());
  EXPECT_FALSE(read_service_account_token(vol_ + "/").is_ok());
  EXPECT_FALSE(read_service_account_token("").is_ok());
}

}  // namespace
}  // namespace runguard::secrets::vault
