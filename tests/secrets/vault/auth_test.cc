// AppRole and Kubernetes logins: the login request, the token cache, re-login, revocation.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "vault_test_util.h"

namespace runguard::secrets::vault::testing {
namespace {

constexpr const char* kJwt = "eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDphcHAifQ.c2lnbmF0dXJl";

class AuthTest : public VaultTest {
 protected:
  void SetUp() override {
    VaultTest::SetUp();
    vault_->post("kv2", {{"mount", "kv"}, {"path", "app/db"}, {"data", {{"password", "s3cr3t-value"}}}});
  }
  void use_approle(const std::string& mount = "") {
    vault_->post("approle", {{"mount", mount.empty() ? "approle" : mount}, {"role_id", "role-1"}, {"secret_id", "sid-xyz"},
                             {"paths", {"kv/*", "database/*", "sys/leases/revoke"}}, {"ttl", 600}});
    write_file(dir_.file("secret-id"), "sid-xyz\n");
    settings_.vault.auth.method = policy::VaultAuth::Method::kAppRole;
    settings_.vault.auth.role_id = "role-1";
    settings_.vault.auth.secret_id_file = dir_.file("secret-id");
    settings_.vault.auth.mount = mount;
  }
  std::string use_kubernetes(const std::string& jwt = kJwt) {
    vault_->post("kubernetes", {{"role", "app"}, {"jwt", jwt}, {"namespace", "default"}, {"service_account", "app"},
                                {"paths", {"kv/*", "database/*", "sys/leases/revoke"}}, {"ttl", 600}});
    settings_.vault.auth.method = policy::VaultAuth::Method::kKubernetes;
    settings_.vault.auth.role = "app";
    std::string file = dir_.file("sa-token");
    write_file(file, jwt);
    return file;
  }
};

TEST_F(AuthTest, AppRoleLogsInOnceAndCaches) {
  use_approle();
  VaultFetcher f(settings_);
  for (int i = 0; i < 3; ++i) {
    auto got = f.fetch(request({{"db", "vault:kv/data/app/db#password"}}));
    ASSERT_TRUE(got.is_ok()) << got.status().message();
    EXPECT_EQ((*got)[0].value, "s3cr3t-value");
  }
  auto logins = vault_->requests("auth/approle/login");
  ASSERT_EQ(logins.size(), 1u);
  EXPECT_EQ(logins[0]["method"], "POST");
  EXPECT_EQ(logins[0]["body"], (Json{{"role_id", "role-1"}, {"secret_id", "sid-xyz"}}));
  EXPECT_FALSE(logins[0]["headers"].contains("x-vault-token"));
  EXPECT_EQ(logins[0]["headers"].value("x-vault-request", ""), "true");
  EXPECT_EQ(logins[0]["headers"].value("content-type", ""), "application/json");
}

TEST_F(AuthTest, ConcurrentFetchesShareOneFetcher) {
  use_approle();
  VaultFetcher f(settings_);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 4; ++i) {
        auto got = f.fetch(request({{"db", "vault:kv/data/app/db#password"}}));
        if (got.is_ok() && (*got)[0].value == "s3cr3t-value") ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 24);
  EXPECT_LE(vault_->requests("auth/approle/login").size(), 6u);  // at most one per cold-cache caller
}

TEST_F(AuthTest, AppRoleOnAnotherMountAndWrongSecretId) {
  use_approle("approle-nodes");
  write_file(dir_.file("secret-id"), "wrong\n");
  VaultFetcher f(settings_);
  auto bad = f.fetch(request({{"db", "vault:kv/data/app/db#password"}}));
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("auth/approle-nodes/login"), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("invalid role or secret ID"), std::string::npos) << bad.status().message();
  EXPECT_EQ(bad.status().message().find("wrong"), std::string::npos);
  write_file(dir_.file("secret-id"), "sid-xyz");
  EXPECT_TRUE(f.fetch(request({{"db", "vault:kv/data/app/db#password"}})).is_ok());
}

TEST_F(AuthTest, AppRoleLogsInAgainWhenTheCachedTokenIsInvalid) {
  use_approle();
  VaultFetcher f(settings_);
  ASSERT_TRUE(f.fetch(request({{"db", "vault:kv/data/app/db#password"}})).is_ok());
  // Vault forgets everything (a restore, a revoked token): the cached token is now invalid.
  vault_->post("reset", Json::object());
  vault_->post("kv2", {{"mount", "kv"}, {"path", "app/db"}, {"data", {{"password", "after-reset"}}}});
  use_approle();
  auto got = f.fetch(request({{"db", "vault:kv/data/app/db#password"}}));
  ASSERT_TRUE(got.is_ok()) << got.status().message();
  EXPECT_EQ((*got)[0].value, "after-reset");
  auto reqs = vault_->requests();
  ASSERT_EQ(reqs.size(), 3u);  // read (403 invalid token), login, read
  EXPECT_EQ(reqs[0]["status"], 403);
  EXPECT_EQ(reqs[1]["path"], "/v1/auth/approle/login");
  EXPECT_EQ(reqs[2]["status"], 200);
}

TEST_F(AuthTest, KubernetesLoginWithThePodsJwt) {
  std::string jwt_file = use_kubernetes();
  VaultFetcher f(settings_);
  auto got = f.fetch(request({{"db", "vault:kv/data/app/db#password"}}, jwt_file));
  ASSERT_TRUE(got.is_ok()) << got.status().message();
  EXPECT_EQ((*got)[0].value, "s3cr3t-value");
  ASSERT_TRUE(f.fetch(request({{"db", "vault:kv/data/app/db#password"}}, jwt_file)).is_ok());
  auto logins = vault_->requests("auth/kubernetes/login");
  ASSERT_EQ(logins.size(), 1u) << "the login token is cached per JWT";
  EXPECT_EQ(logins[0]["body"], (Json{{"role", "app"}, {"jwt", kJwt}}));

  auto none = f.fetch(request({{"db", "vault:kv/data/app/db#password"}}));
  ASSERT_FALSE(none.is_ok());
  EXPECT_EQ(none.status().code(), Code::kInvalidArgument);
  EXPECT_NE(none.status().message().find("service-account token file"), std::string::npos);
}

TEST_F(AuthTest, KubernetesJwtIsCheckedAndNeverShown) {
  std::string jwt_file = use_kubernetes();
  write_file(jwt_file, "not-a-jwt-at-all");
  VaultFetcher f(settings_);
  auto bad = f.fetch(request({{"db", "vault:kv/data/app/db#password"}}, jwt_file));
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("not a JWT"), std::string::npos);
  EXPECT_EQ(bad.status().message().find("not-a-jwt-at-all"), std::string::npos);
  EXPECT_TRUE(vault_->requests().empty());

  std::string other = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJvdGhlciJ9.eA";
  write_file(jwt_file, other);
  auto denied = f.fetch(request({{"db", "vault:kv/data/app/db#password"}}, jwt_file));
  ASSERT_FALSE(denied.is_ok());
  EXPECT_EQ(denied.status().code(), Code::kDenied);
  EXPECT_EQ(denied.status().message().find(other), std::string::npos);

  auto absent = f.fetch(request({{"db", "vault:kv/data/app/db#password"}}, dir_.file("no-such-token")));
  EXPECT_EQ(absent.status().code(), Code::kInvalidArgument);
}

TEST_F(AuthTest, KubernetesRevokeTakesTheLeasesAndTheLoginToken) {
  std::string jwt_file = use_kubernetes();
  vault_->post("dynamic", {{"mount", "database"}, {"role", "ro"}, {"ttl", 300}});
  VaultFetcher f(settings_);
  auto got = f.fetch(request({{"pw", "vault:database/creds/ro#password"}}, jwt_file));
  ASSERT_TRUE(got.is_ok()) << got.status().message();
  Json tokens = vault_->get("tokens");
  ASSERT_EQ(tokens["active"].size(), 1u);
  std::string accessor = tokens["active"][0];

  auto renewed = f.renew("c1", (*got)[0].lease_id, 120, jwt_file);
  ASSERT_TRUE(renewed.is_ok()) << renewed.status().message();
  EXPECT_EQ(*renewed, 120);

  RevokeRequest rr;
  rr.container = "c1";
  rr.leases = {(*got)[0].lease_id};
  rr.kubernetes_token_file = jwt_file;
  ASSERT_TRUE(f.revoke(rr).is_ok());
  Json leases = vault_->get("leases");
  EXPECT_TRUE(leases["active"].empty());
  EXPECT_EQ(leases["revoked"], Json::array({(*got)[0].lease_id}));
  tokens = vault_->get("tokens");
  EXPECT_EQ(tokens["revoked"], Json::array({accessor})) << tokens.dump();
  EXPECT_EQ(vault_->requests("auth/token/revoke-self").size(), 1u);

  // The cache no longer has it: a new fetch logs in again.
  ASSERT_TRUE(f.fetch(request({{"pw", "vault:database/creds/ro#password"}}, jwt_file)).is_ok());
  EXPECT_EQ(vault_->requests("auth/kubernetes/login").size(), 2u);
}

// A pod's containers mount one service-account token: each container gets its own login, so
// deleting one (revoke-self of its login) leaves its siblings' leases alone.
TEST_F(AuthTest, KubernetesLoginsArePerContainerSoASiblingsLeaseSurvives) {
  std::string jwt_file = use_kubernetes();
  vault_->post("dynamic", {{"mount", "database"}, {"role", "ro"}, {"ttl", 300}});
  VaultFetcher f(settings_);
  FetchRequest a = request({{"pw", "vault:database/creds/ro#password"}}, jwt_file);
  FetchRequest b = a;
  b.container = "c2";
  auto got_a = f.fetch(a);
  auto got_b = f.fetch(b);
  ASSERT_TRUE(got_a.is_ok() && got_b.is_ok());
  EXPECT_EQ(vault_->requests("auth/kubernetes/login").size(), 2u);
  RevokeRequest rr;
  rr.container = "c1";
  rr.leases = {(*got_a)[0].lease_id};
  rr.kubernetes_token_file = jwt_file;
  ASSERT_TRUE(f.revoke(rr).is_ok());
  Json leases = vault_->get("leases");
  ASSERT_EQ(leases["active"].size(), 1u) << leases.dump();
  EXPECT_EQ(leases["active"][0]["lease_id"], (*got_b)[0].lease_id);
  auto renewed = f.renew("c2", (*got_b)[0].lease_id, 60, jwt_file);
  EXPECT_TRUE(renewed.is_ok()) << renewed.status().message();
}

// Vault revokes a token's leases when the token expires: a login past 2/3 of its TTL is renewed
// (keep_alive between lease renewals), not replaced by a new login that would orphan them.
TEST_F(AuthTest, StaleLoginIsRenewedSoItsLeasesLive) {
  use_approle();
  vault_->post("approle", {{"mount", "approle"}, {"role_id", "role-1"}, {"secret_id", "sid-xyz"},
                           {"paths", {"kv/*", "database/*"}}, {"ttl", 3}});
  vault_->post("dynamic", {{"mount", "database"}, {"role", "ro"}, {"ttl", 300}});
  VaultFetcher f(settings_);
  auto got = f.fetch(request({{"pw", "vault:database/creds/ro#password"}}));
  ASSERT_TRUE(got.is_ok()) << got.status().message();
  std::this_thread::sleep_for(std::chrono::milliseconds(2300));
  ASSERT_TRUE(f.keep_alive("c1", "").is_ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // past the first TTL
  EXPECT_EQ(vault_->requests("auth/approle/login").size(), 1u) << "renewed, not logged in again";
  EXPECT_EQ(vault_->requests("auth/token/renew-self").size(), 1u);
  EXPECT_EQ(vault_->get("leases")["active"].size(), 1u) << "the lease died with its login token";
}

}  // namespace
}  // namespace runguard::secrets::vault::testing
