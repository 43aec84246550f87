// TLS: the server is verified against vault.caFile, by IP address; a wrong CA or a certificate
// for another address is refused, and not retried.
#include <gtest/gtest.h>

#include "vault_test_util.h"

namespace runguard::secrets::vault::testing {
namespace {

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(make_cert(dir_.path(), "server", "127.0.0.1")) << "openssl req failed";
    vault_ = std::make_unique<Standin>(dir_.path(), dir_.file("server.pem"), dir_.file("server-key.pem"));
    ASSERT_TRUE(vault_->running()) << "the TLS stand-in did not start; see " << dir_.file("standin.log");
    vault_->post("kv2", {{"mount", "kv"}, {"path", "app/db"}, {"data", {{"password", "tls-value"}}}});
    Json t = vault_->post("token", {{"paths", {"kv/*"}}});
    write_file(dir_.file("token"), t.value("token", ""));
    settings_.backend = policy::SecretsSettings::Backend::kVault;
    settings_.vault.address = vault_->address();
    settings_.vault.timeout_ms = 3000;
    settings_.vault.retries = 2;
    settings_.vault.auth.token_file = dir_.file("token");
  }
  Result<std::vector<FetchedSecret>> fetch_db() {
    VaultFetcher f(settings_);
    FetchRequest r;
    r.container = "c1";
    r.secrets = {{"db", "vault:kv/data/app/db#password"}};
    return f.fetch(r);
  }
  TempDir dir_;
  std::unique_ptr<Standin> vault_;
  policy::SecretsSettings settings_;
};

TEST_F(TlsTest, TrustedThroughTheCaFile) {
  ASSERT_EQ(vault_->address().rfind("https://127.0.0.1:", 0), 0u);
  settings_.vault.ca_file = dir_.file("server.pem");
  auto r = fetch_db();
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].value, "tls-value");
}

TEST_F(TlsTest, WrongCaIsRefusedWithoutRetrying) {
  ASSERT_TRUE(make_cert(dir_.path(), "other", "127.0.0.1"));
  settings_.vault.ca_file = dir_.file("other.pem");
  auto r = fetch_db();
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("certificate is not trusted"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("vault.caFile"), std::string::npos);
  EXPECT_EQ(r.status().message().find("attempts"), std::string::npos) << "a certificate problem is not retried";
  EXPECT_TRUE(vault_->requests().empty());
}

TEST_F(TlsTest, TheSystemStoreDoesNotTrustASelfSignedCertificate) {
  auto r = fetch_db();
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("certificate is not trusted"), std::string::npos) << r.status().message();
}

TEST_F(TlsTest, CertificateForAnotherAddressIsRefused) {
  ASSERT_TRUE(make_cert(dir_.path(), "elsewhere", "127.0.0.2"));
  vault_.reset();
  vault_ = std::make_unique<Standin>(dir_.path(), dir_.file("elsewhere.pem"), dir_.file("elsewhere-key.pem"));
  ASSERT_TRUE(vault_->running());
  settings_.vault.address = vault_->address();
  settings_.vault.ca_file = dir_.file("elsewhere.pem");
  auto r = fetch_db();
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("IP address mismatch"), std::string::npos) << r.status().message();
}

TEST_F(TlsTest, PlainHttpToATlsServerAndAMissingCaFile) {
  settings_.vault.ca_file = dir_.file("server.pem");
  settings_.vault.address = "http://127.0.0.1:" + std::to_string(vault_->port());
  settings_.vault.retries = 0;
  EXPECT_FALSE(fetch_db().is_ok());
  settings_.vault.address = vault_->address();
  settings_.vault.ca_file = dir_.file("absent.pem");
  auto r = fetch_db();
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("absent.pem"), std::string::npos);
}

}  // namespace
}  // namespace runguard::secrets::vault::testing
