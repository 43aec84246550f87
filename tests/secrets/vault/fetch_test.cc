// VaultFetcher against the stand-in: KV v2, KV v1, dynamic secrets and their leases, headers.
#include <gtest/gtest.h>

#include "vault_test_util.h"

namespace runguard::secrets::vault::testing {
namespace {

using FetchTest = VaultTest;

TEST_F(FetchTest, KvV2LatestAndVersion) {
  vault_->post("kv2", {{"mount", "kv"}, {"path", "app/db"}, {"data", {{"password", "v1-pass"}}}});
  vault_->post("kv2", {{"mount", "kv"}, {"path", "app/db"}, {"data", {{"password", "v2-pass"}, {"port", 5432}}}});
  use_token({"kv/data/app/*"});
  VaultFetcher f(settings_);
  auto got = f.fetch(request({{"latest", "vault:kv/data/app/db#password"},
                              {"old", "vault:kv/data/app/db?version=1#password"},
                              {"port", "vault:kv/data/app/db#port"}}));
  ASSERT_TRUE(got.is_ok()) << got.status().message();
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0].name, "latest");
  EXPECT_EQ((*got)[0].value, "v2-pass");
  EXPECT_EQ((*got)[1].value, "v1-pass");
  EXPECT_EQ((*got)[2].value, "5432");  // a non-string member is its JSON text
  EXPECT_EQ((*got)[0].lease_id, "");
  auto reads = vault_->requests("kv/data/app/db");
  ASSERT_EQ(reads.size(), 3u);
  EXPECT_EQ(reads[0]["query"], "");
  EXPECT_EQ(reads[1]["query"], "version=1");
  EXPECT_EQ(reads[1]["method"], "GET");
}

TEST_F(FetchTest, WholeObjectAsJson) {
  vault_->post("kv2", {{"mount", "kv"}, {"path", "app/cfg"}, {"data", {{"a", "1"}, {"b", {{"c", true}}}}}});
  use_token({"kv/*"});
  VaultFetcher f(settings_);
  auto got = f.fetch(request({{"cfg.json", "vault:kv/data/app/cfg"}}));
  ASSERT_TRUE(got.is_ok()) << got.status().message();
  auto j = parse_json((*got)[0].value, "value");
  ASSERT_TRUE(j.is_ok());
  EXPECT_EQ(*j, (Json{{"a", "1"}, {"b", {{"c", true}}}}));
}

TEST_F(FetchTest, DeletedAndDestroyedVersionsSaySo) {
  for (int i = 0; i < 3; ++i) vault_->post("kv2", {{"mount", "kv"}, {"path", "app/db"}, {"data", {{"k", "v" + std::to_string(i)}}}});
  vault_->post("kv2/delete", {{"mount", "kv"}, {"path", "app/db"}, {"versions", {2}}});
  vault_->post("kv2/destroy", {{"mount", "kv"}, {"path", "app/db"}, {"versions", {1}}});
  use_token({"kv/*"});
  VaultFetcher f(settings_);
  auto deleted = f.fetch(request({{"k", "vault:kv/data/app/db?version=2#k"}}));
  ASSERT_FALSE(deleted.is_ok());
  EXPECT_EQ(deleted.status().code(), Code::kNotFound);
  EXPECT_NE(deleted.status().message().find("version 2 of kv/data/app/db was deleted"), std::string::npos) << deleted.status().message();
  auto destroyed = f.fetch(request({{"k", "vault:kv/data/app/db?version=1#k"}}));
  ASSERT_FALSE(destroyed.is_ok());
  EXPECT_NE(destroyed.status().message().find("version 1 of kv/data/app/db was destroyed"), std::string::npos)
      << destroyed.status().message();
  auto missing = f.fetch(request({{"k", "vault:kv/data/app/db?version=9#k"}}));
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("kv/data/app/db?version=9: not found"), std::string::npos) << missing.status().message();
  auto latest = f.fetch(request({{"k", "vault:kv/data/app/db#k"}}));
  ASSERT_TRUE(latest.is_ok()) << latest.status().message();
  EXPECT_EQ((*latest)[0].value, "v2");
}

TEST_F(FetchTest, KvV1AndMissingKey) {
  vault_->post("kv1", {{"mount", "secret"}, {"path", "team/api"}, {"data", {{"key", "abc123"}}}});
  use_token({"secret/*"});
  VaultFetcher f(settings_);
  auto got = f.fetch(request({{"api", "vault:secret/team/api#key"}}));
  ASSERT_TRUE(got.is_ok()) << got.status().message();
  EXPECT_EQ((*got)[0].value, "abc123");
  EXPECT_EQ((*got)[0].lease_id, "");
  auto missing = f.fetch(request({{"api", "vault:secret/team/api#nokey"}}));
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("nokey"), std::string::npos) << missing.status().message();
  EXPECT_NE(missing.status().message().find("secret \"api\""), std::string::npos) << missing.status().message();
  EXPECT_EQ(missing.status().message().find("abc123"), std::string::npos);
}

TEST_F(FetchTest, DynamicSecretLeaseRenewRevoke) {
  vault_->post("dynamic", {{"mount", "database"}, {"role", "ro"}, {"ttl", 300}, {"max_ttl", 3600}});
  use_token({"database/creds/*", "sys/leases/revoke"});  // not in Vault's default policy
  VaultFetcher f(settings_);
  auto got = f.fetch(request({{"user", "vault:database/creds/ro#username"}, {"pass", "vault:database/creds/ro#password"}}));
  ASSERT_TRUE(got.is_ok()) << got.status().message();
  ASSERT_EQ(got->size(), 2u);
  const FetchedSecret& s = (*got)[0];
  EXPECT_EQ(s.value.rfind("v-ro-", 0), 0u);
  EXPECT_EQ(s.lease_id.rfind("database/creds/ro/", 0), 0u);
  EXPECT_EQ(s.lease_duration, 300);
  EXPECT_TRUE(s.renewable);
  EXPECT_NE((*got)[0].lease_id, (*got)[1].lease_id);  // each read is a new credential

  auto renewed = f.renew("c1", s.lease_id, 600, "");
  ASSERT_TRUE(renewed.is_ok()) << renewed.status().message();
  EXPECT_EQ(*renewed, 600);
  auto renew_req = vault_->requests("sys/leases/renew");
  ASSERT_EQ(renew_req.size(), 1u);
  EXPECT_EQ(renew_req[0]["method"], "PUT");
  EXPECT_EQ(renew_req[0]["body"], (Json{{"lease_id", s.lease_id}, {"increment", 600}}));

  RevokeRequest rr;
  rr.container = "c1";
  rr.leases = {(*got)[0].lease_id, (*got)[1].lease_id};
  ASSERT_TRUE(f.revoke(rr).is_ok());
  Json leases = vault_->get("leases");
  EXPECT_TRUE(leases["active"].empty()) << leases.dump();
  EXPECT_EQ(leases["revoked"].size(), 2u) << leases.dump();
  auto gone = f.renew("c1", s.lease_id, 60, "");
  EXPECT_FALSE(gone.is_ok());
}

TEST_F(FetchTest, RevokeWithoutTheGrantSaysWhatIsMissing) {
  vault_->post("dynamic", {{"mount", "database"}, {"role", "ro"}, {"ttl", 300}});
  use_token({"database/creds/*"});
  VaultFetcher f(settings_);
  auto got = f.fetch(request({{"pw", "vault:database/creds/ro#password"}}));
  ASSERT_TRUE(got.is_ok()) << got.status().message();
  RevokeRequest rr;
  rr.leases = {(*got)[0].lease_id, "database/creds/ro/unknown"};
  Status s = f.revoke(rr);
  EXPECT_EQ(s.code(), Code::kDenied);
  EXPECT_NE(s.message().find("must allow update on sys/leases/revoke"), std::string::npos) << s.message();
  EXPECT_EQ(vault_->requests("sys/leases/revoke").size(), 2u) << "every lease is tried";
}

TEST_F(FetchTest, HeadersOnEveryRequest) {
  vault_->post("namespace", {{"require", "team-a/"}});
  vault_->post("kv2", {{"mount", "kv"}, {"path", "x"}, {"data", {{"k", "v"}}}});
  std::string token = use_token({"kv/*"});
  settings_.vault.namespace_ = "team-a/";
  VaultFetcher f(settings_);
  auto got = f.fetch(request({{"k", "vault:kv/data/x#k"}}));
  ASSERT_TRUE(got.is_ok()) << got.status().message();
  auto reqs = vault_->requests("kv/data/x");
  ASSERT_EQ(reqs.size(), 1u);
  const Json& h = reqs[0]["headers"];
  EXPECT_EQ(h.value("x-vault-request", ""), "true");
  EXPECT_EQ(h.value("x-vault-token", ""), token);
  EXPECT_EQ(h.value("x-vault-namespace", ""), "team-a/");
  EXPECT_EQ(h.value("connection", ""), "close");
  EXPECT_EQ(h.value("host", ""), "127.0.0.1:" + std::to_string(vault_->port()));

  settings_.vault.namespace_ = "";
  VaultFetcher no_ns(settings_);
  auto refused = no_ns.fetch(request({{"k", "vault:kv/data/x#k"}}));
  ASSERT_FALSE(refused.is_ok());
  EXPECT_EQ(refused.status().code(), Code::kDenied);
}

TEST_F(FetchTest, TokenFileIsReadAgainWhenItChanges) {
  vault_->post("kv2", {{"mount", "kv"}, {"path", "x"}, {"data", {{"k", "v"}}}});
  use_token({"nothing/*"});
  VaultFetcher f(settings_);
  auto denied = f.fetch(request({{"k", "vault:kv/data/x#k"}}));
  ASSERT_FALSE(denied.is_ok());
  EXPECT_EQ(denied.status().code(), Code::kDenied);
  EXPECT_NE(denied.status().message().find("permission denied"), std::string::npos);
  std::string good = use_token({"kv/*"});
  auto got = f.fetch(request({{"k", "vault:kv/data/x#k"}}));
  ASSERT_TRUE(got.is_ok()) << got.status().message();
  EXPECT_EQ(vault_->requests("kv/data/x").back()["headers"]["x-vault-token"], good);
}

TEST_F(FetchTest, BadReferencesAndSettings) {
  use_token({"kv/*"});
  VaultFetcher f(settings_);
  auto file = f.fetch(request({{"k", "file:app/db"}}));
  ASSERT_FALSE(file.is_ok());
  EXPECT_EQ(file.status().code(), Code::kInvalidArgument);
  auto v1_version = f.fetch(request({{"k", "vault:secret/app?version=2#k"}}));
  ASSERT_FALSE(v1_version.is_ok());
  EXPECT_NE(v1_version.status().message().find("KV v2"), std::string::npos);
  auto junk = f.fetch(request({{"k", "vault:../etc"}}));
  EXPECT_EQ(junk.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(vault_->requests().empty()) << "nothing is sent for a request that is refused up front";

  settings_.vault.auth.token_file = dir_.file("absent");
  VaultFetcher no_token(settings_);
  auto t = no_token.fetch(request({{"k", "vault:kv/data/x#k"}}));
  ASSERT_FALSE(t.is_ok());
  EXPECT_EQ(t.status().code(), Code::kInvalidArgument);
  EXPECT_NE(t.status().message().find(dir_.file("absent")), std::string::npos);

  settings_.vault.address = "http://10.9.8.7:8200";
  VaultFetcher remote_http(settings_);
  auto h = remote_http.fetch(request({{"k", "vault:kv/data/x#k"}}));
  ASSERT_FALSE(h.is_ok());
  EXPECT_EQ(h.status().code(), Code::kInvalidArgument);
  EXPECT_NE(h.status().message().find("loopback"), std::string::npos);
}

}  // namespace
}  // namespace runguard::secrets::vault::testing
