// The pure pieces of the Vault layer: replies, error messages, credentials' shapes, the cache.
#include <gtest/gtest.h>

#include <thread>

#include "vault_auth.h"
#include "vault_reply.h"

namespace runguard::secrets::vault {
namespace {

const ReplyContext kCtx{"https://v:8200", "reading", "kv/data/app/db", 0};

TEST(VaultReplyTest, ErrorsOnOneLine) {
  EXPECT_EQ(vault_errors(Json{{"errors", {"1 error occurred:\n\t* permission denied\n\n"}}}), "permission denied");
  EXPECT_EQ(vault_errors(Json{{"errors", {"2 errors occurred:\n\t* a\n\t* b\n\n", "c"}}}), "a; b; c");
  EXPECT_EQ(vault_errors(Json{{"errors", Json::array()}}), "");
  EXPECT_EQ(vault_errors(Json{{"errors", {"x\x01y"}}}), "x y");
  EXPECT_EQ(vault_errors(Json("nope")), "");
  std::string long_msg(1000, 'e');
  EXPECT_LE(vault_errors(Json{{"errors", {long_msg}}}).size(), 404u);
}

TEST(VaultReplyTest, StatusMapping) {
  Status denied = reply_error(403, Json{{"errors", {"1 error occurred:\n\t* permission denied\n\n"}}}, kCtx);
  EXPECT_EQ(denied.code(), Code::kDenied);
  EXPECT_EQ(denied.message(), "vault https://v:8200: reading kv/data/app/db: permission denied");
  Status missing = reply_error(404, Json{{"errors", Json::array()}}, kCtx);
  EXPECT_EQ(missing.code(), Code::kNotFound);
  EXPECT_EQ(missing.message(), "vault https://v:8200: reading kv/data/app/db: not found");
  Status sealed = reply_error(503, Json{{"errors", {"Vault is sealed"}}}, kCtx);
  EXPECT_EQ(sealed.code(), Code::kUnavailable);
  EXPECT_NE(sealed.message().find("vault is sealed"), std::string::npos);
  Status limited = reply_error(429, Json{{"errors", {"rate limit quota exceeded"}}}, kCtx);
  EXPECT_EQ(limited.code(), Code::kUnavailable);
  EXPECT_NE(limited.message().find("rate limited"), std::string::npos);
  EXPECT_EQ(reply_error(500, Json(), kCtx).code(), Code::kUnavailable);
  EXPECT_EQ(reply_error(400, Json{{"errors", {"bad"}}}, kCtx).code(), Code::kInvalidArgument);
}

TEST(VaultReplyTest, DeletedAndDestroyedVersions) {
  ReplyContext v3 = kCtx;
  v3.version = 3;
  Json deleted = {{"data", {{"data", nullptr}, {"metadata", {{"deletion_time", "2024-01-01T00:00:00Z"}, {"destroyed", false}, {"version", 3}}}}}};
  Status d = reply_error(404, deleted, v3);
  EXPECT_EQ(d.code(), Code::kNotFound);
  EXPECT_NE(d.message().find("version 3 of kv/data/app/db was deleted at 2024-01-01T00:00:00Z"), std::string::npos) << d.message();
  Json destroyed = {{"data", {{"data", nullptr}, {"metadata", {{"deletion_time", ""}, {"destroyed", true}, {"version", 2}}}}}};
  Status x = reply_error(404, destroyed, kCtx);
  EXPECT_NE(x.message().find("version 2 of kv/data/app/db was destroyed"), std::string::npos) << x.message();
}

// Found by fuzz_vault: a 404's deletion_time went into the message verbatim (400 bytes of
// binary, line breaks), past the bound and the scrubbing vault_errors() applies. Only an RFC 3339
// time is shown now.
TEST(VaultReplyTest, DeletionTimeIsShownOnlyWhenItIsATime) {
  auto deleted_at = [](const std::string& when) {
    Json body = {{"data", {{"data", nullptr}, {"metadata", {{"deletion_time", when}, {"destroyed", false}, {"version", 3}}}}}};
    return reply_error(404, body, kCtx).message();
  };
  EXPECT_NE(deleted_at("2018-03-22T02:24:06.945319214Z").find("deleted at 2018-03-22T02:24:06.945319214Z;"), std::string::npos);
  EXPECT_NE(deleted_at("2024-01-01T00:00:00+05:30").find("deleted at 2024-01-01T00:00:00+05:30;"), std::string::npos);
  for (const std::string& junk : {std::string("now\nlevel=error msg=forged"), std::string(400, '\x99'), std::string(41, '1')}) {
    std::string m = deleted_at(junk);
    EXPECT_NE(m.find("version 3 of kv/data/app/db was deleted; undelete it"), std::string::npos) << m;
    EXPECT_LT(m.size(), 200u);
    EXPECT_EQ(m.find('\n'), std::string::npos);
  }
}

TEST(VaultReplyTest, Envelope) {
  auto e = parse_envelope(Json{{"lease_id", "db/creds/r/1"}, {"lease_duration", 60}, {"renewable", true}, {"data", {{"u", "x"}}},
                               {"auth", {{"client_token", "t"}, {"lease_duration", 30}}}, {"warnings", nullptr}});
  ASSERT_TRUE(e.is_ok()) << e.status().message();
  EXPECT_EQ(e->lease_id, "db/creds/r/1");
  EXPECT_EQ(e->lease_duration, 60);
  EXPECT_TRUE(e->renewable);
  EXPECT_EQ(e->client_token, "t");
  EXPECT_EQ(e->auth_lease_duration, 30);
  EXPECT_TRUE(parse_envelope(Json()).is_ok());
  EXPECT_FALSE(parse_envelope(Json::array()).is_ok());
  EXPECT_FALSE(parse_envelope(Json{{"lease_duration", "60"}}).is_ok());
  EXPECT_FALSE(parse_envelope(Json{{"data", "x"}}).is_ok());
  EXPECT_FALSE(parse_envelope(Json{{"auth", {{"client_token", 5}}}}).is_ok());
}

TEST(VaultReplyTest, Kv2Shape) {
  EXPECT_TRUE(is_kv2_data(Json{{"data", {{"a", 1}}}, {"metadata", {{"version", 1}}}}));
  EXPECT_TRUE(is_kv2_data(Json{{"data", nullptr}, {"metadata", {{"version", 1}}}}));
  EXPECT_FALSE(is_kv2_data(Json{{"data", "x"}, {"metadata", {{"version", 1}}}}));
  EXPECT_FALSE(is_kv2_data(Json{{"data", {{"a", 1}}}, {"metadata", "m"}}));
  EXPECT_FALSE(is_kv2_data(Json{{"username", "u"}, {"password", "p"}}));
}

TEST(VaultReplyTest, CleanseOverwritesStrings) {
  Json j = {{"a", "secret"}, {"b", {"x", {{"c", "y"}}}}};
  cleanse_json(j);
  EXPECT_NE(j["a"].get<std::string>(), "secret");
  EXPECT_EQ(j["a"].get<std::string>().size(), 6u);
}

TEST(VaultAuthTest, JwtShape) {
  EXPECT_TRUE(check_jwt("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln_-", "/t").is_ok());
  for (const char* bad : {"", "a.b", "a.b.c.d", "a..c", "a.b.", "a.b.c d", "a.b.c/d"}) {
    Status s = check_jwt(bad, "/var/run/token");
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << bad;
    if (std::string(bad).size() > 3) {
      EXPECT_EQ(s.message().find(bad), std::string::npos) << "the token is never shown";
    }
  }
}

TEST(VaultAuthTest, Sha256) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(VaultAuthTest, LoginCacheKeepsTwoThirdsOfTheTtl) {
  LoginCache c;
  c.put("forever", "t0", 0);
  c.put("short", "t1", 1);  // kept for 666 ms
  EXPECT_EQ(c.get("forever").value_or(""), "t0");
  EXPECT_EQ(c.get("short").value_or(""), "t1");
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  EXPECT_FALSE(c.get("short").has_value());
  EXPECT_EQ(c.take("short").value_or(""), "t1");  // still there to be revoked
  EXPECT_FALSE(c.take("short").has_value());
  EXPECT_EQ(c.get("forever").value_or(""), "t0");
  EXPECT_FALSE(c.get("other").has_value());
}

}  // namespace
}  // namespace runguard::secrets::vault
