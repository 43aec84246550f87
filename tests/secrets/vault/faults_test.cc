// What goes wrong: Vault's refusals, a sealed or overloaded Vault, retries and the time budget,
// replies that are not Vault's, all-or-nothing fetches, and messages that never leak.
#include <gtest/gtest.h>

#include "vault_test_util.h"

namespace runguard::secrets::vault::testing {
namespace {

using Clock = std::chrono::steady_clock;

class FaultsTest : public VaultTest {
 protected:
  void SetUp() override {
    VaultTest::SetUp();
    vault_->post("kv2", {{"mount", "kv"}, {"path", "app/db"}, {"data", {{"password", "s3cr3t-value"}}}});
    token_ = use_token({"kv/*", "database/*", "sys/leases/revoke"});
  }
  Result<std::vector<FetchedSecret>> fetch_db() {
    VaultFetcher f(settings_);
    return f.fetch(request({{"db", "vault:kv/data/app/db#password"}}));
  }
  std::string token_;
};

void expect_clean(const Status& s, const std::string& token) {
  EXPECT_EQ(s.message().find(token), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("s3cr3t-value"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
}

TEST_F(FaultsTest, DeniedNamesTheAddressAndPath) {
  use_token({"other/*"});
  auto r = fetch_db();
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kDenied);
  EXPECT_EQ(r.status().message(),
            "secret \"db\": vault " + vault_->address() + ": reading kv/data/app/db: permission denied");
}

TEST_F(FaultsTest, InvalidTokenSaysWhichFile) {
  write_file(settings_.vault.auth.token_file, "hvs.not-a-real-token");
  auto r = fetch_db();
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kDenied);
  EXPECT_NE(r.status().message().find("invalid token"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find(settings_.vault.auth.token_file), std::string::npos);
  expect_clean(r.status(), "hvs.not-a-real-token");
}

TEST_F(FaultsTest, NotFound) {
  VaultFetcher f(settings_);
  auto r = f.fetch(request({{"x", "vault:kv/data/app/none#k"}}));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("kv/data/app/none"), std::string::npos);
}

TEST_F(FaultsTest, SealedAndRateLimited) {
  settings_.vault.retries = 0;
  vault_->post("fault", {{"sealed", true}});
  auto sealed = fetch_db();
  ASSERT_FALSE(sealed.is_ok());
  EXPECT_EQ(sealed.status().code(), Code::kUnavailable);
  EXPECT_NE(sealed.status().message().find("vault is sealed"), std::string::npos) << sealed.status().message();

  vault_->post("fault", {{"clear", true}});
  vault_->post("fault", {{"status", 429}});
  auto limited = fetch_db();
  ASSERT_FALSE(limited.is_ok());
  EXPECT_EQ(limited.status().code(), Code::kUnavailable);
  EXPECT_NE(limited.status().message().find("rate limited"), std::string::npos) << limited.status().message();
  expect_clean(limited.status(), token_);
}

TEST_F(FaultsTest, RetriesAreBounded) {
  settings_.vault.retries = 2;
  vault_->post("fault", {{"status", 503}, {"path", "kv/*"}});
  auto start = Clock::now();
  auto r = fetch_db();
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("vault is sealed"), std::string::npos);
  EXPECT_EQ(vault_->requests("kv/data/app/db").size(), 3u);  // 1 + retries
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(400));  // 100 ms + 300 ms of backoff

  vault_->post("fault", {{"clear", true}});
  vault_->post("requests/clear", Json::object());
  settings_.vault.retries = 0;
  vault_->post("fault", {{"status", 502}, {"path", "kv/*"}});
  EXPECT_FALSE(fetch_db().is_ok());
  EXPECT_EQ(vault_->requests("kv/data/app/db").size(), 1u);
}

TEST_F(FaultsTest, RetriesCureATransientError) {
  vault_->post("fault", {{"status", 500}, {"path", "kv/*"}, {"count", 1}});
  vault_->post("fault", {{"close", true}, {"path", "kv/*"}, {"count", 1}});
  auto r = fetch_db();
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].value, "s3cr3t-value");
  EXPECT_EQ(vault_->requests("kv/data/app/db").size(), 3u);
}

TEST_F(FaultsTest, NoRetryForARefusal) {
  vault_->post("fault", {{"status", 400}, {"path", "kv/*"}});
  auto r = fetch_db();
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(vault_->requests("kv/data/app/db").size(), 1u);
}

TEST_F(FaultsTest, TimeoutIsBounded) {
  settings_.vault.timeout_ms = 700;
  settings_.vault.retries = 2;
  vault_->post("fault", {{"delay_ms", 3000}, {"path", "kv/*"}});
  auto start = Clock::now();
  auto r = fetch_db();
  auto took = Clock::now() - start;
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_LT(took, std::chrono::milliseconds(700 + 150)) << r.status().message();
  EXPECT_GE(took, std::chrono::milliseconds(650));
  EXPECT_NE(r.status().message().find("vault.timeout is 700 ms"), std::string::npos) << r.status().message();
}

TEST_F(FaultsTest, GarbageAndClosedConnections) {
  settings_.vault.retries = 0;
  vault_->post("fault", {{"garbage", true}, {"path", "kv/*"}});
  auto garbage = fetch_db();
  ASSERT_FALSE(garbage.is_ok());
  EXPECT_EQ(garbage.status().code(), Code::kUnavailable);
  EXPECT_NE(garbage.status().message().find("unexpected response"), std::string::npos) << garbage.status().message();
  EXPECT_EQ(garbage.status().message().find("<html>"), std::string::npos);

  vault_->post("fault", {{"clear", true}});
  vault_->post("fault", {{"close", true}, {"path", "kv/*"}});
  auto closed = fetch_db();
  ASSERT_FALSE(closed.is_ok());
  EXPECT_EQ(closed.status().code(), Code::kUnavailable);
  EXPECT_NE(closed.status().message().find("without a response"), std::string::npos) << closed.status().message();
}

TEST_F(FaultsTest, NothingListening) {
  // A port that is bound but not listening refuses connections, and nobody else can take it.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  std::string where = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  settings_.vault.address = "http://" + where;
  settings_.vault.retries = 1;
  auto start = Clock::now();
  auto r = fetch_db();
  ::close(fd);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("connecting to " + where + ": Connection refused (after 2 attempts)"), std::string::npos)
      << r.status().message();
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(1000));
}

TEST_F(FaultsTest, AllOrNothingRevokesLeasesAlreadyTaken) {
  vault_->post("dynamic", {{"mount", "database"}, {"role", "ro"}, {"ttl", 300}});
  VaultFetcher f(settings_);
  auto r = f.fetch(request({{"a", "vault:database/creds/ro#username"},
                            {"b", "vault:database/creds/ro#password"},
                            {"c", "vault:kv/data/app/missing#k"}}));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("secret \"c\""), std::string::npos);
  Json leases = vault_->get("leases");
  EXPECT_TRUE(leases["active"].empty()) << leases.dump();
  EXPECT_EQ(leases["revoked"].size(), 2u) << leases.dump();

  // A lease whose value cannot be used (no such key) is given back too.
  auto key = f.fetch(request({{"a", "vault:database/creds/ro#nokey"}}));
  ASSERT_FALSE(key.is_ok());
  leases = vault_->get("leases");
  EXPECT_TRUE(leases["active"].empty()) << leases.dump();
  EXPECT_EQ(leases["revoked"].size(), 3u) << leases.dump();
}

TEST_F(FaultsTest, MessagesNeverHoldTheTokenOrAValue) {
  settings_.vault.retries = 0;
  vault_->post("fault", {{"status", 500}, {"errors", {"backend said " + token_ + " and s3cr3t-value"}}});
  auto r = fetch_db();
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message().find(token_), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("<token>"), std::string::npos) << r.status().message();
}

TEST_F(FaultsTest, RedirectIsFollowedOnceWithTheSameScheme) {
  std::string to_standin = "HTTP/1.1 307 Temporary Redirect\r\nLocation: " + vault_->address() +
                           "/v1/kv/data/app/db\r\nContent-Length: 0\r\n\r\n";
  ScriptedServer standby({to_standin});
  settings_.vault.address = standby.address();
  auto r = fetch_db();
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].value, "s3cr3t-value");
  EXPECT_EQ(standby.heads().size(), 1u);
  auto reads = vault_->requests("kv/data/app/db");
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_EQ(reads[0]["headers"].value("x-vault-token", ""), token_);

  ScriptedServer to_https({"HTTP/1.1 307 Temporary Redirect\r\nLocation: https://127.0.0.1:1/v1/kv/data/app/db\r\n\r\n"});
  settings_.vault.address = to_https.address();
  auto scheme = fetch_db();
  ASSERT_FALSE(scheme.is_ok());
  EXPECT_NE(scheme.status().message().find("changes the scheme"), std::string::npos) << scheme.status().message();

  ScriptedServer loop({"HTTP/1.1 307 Temporary Redirect\r\nLocation: /v1/kv/data/app/db\r\nContent-Length: 0\r\n\r\n"});
  settings_.vault.address = loop.address();
  auto twice = fetch_db();
  ASSERT_FALSE(twice.is_ok());
  EXPECT_EQ(loop.heads().size(), 2u);
}

TEST_F(FaultsTest, HostNamesAndIpv6Literals) {
  settings_.vault.address = "http://localhost:" + std::to_string(vault_->port());
  auto by_name = fetch_db();
  ASSERT_TRUE(by_name.is_ok()) << by_name.status().message();
  EXPECT_EQ(vault_->requests("kv/data/app/db")[0]["headers"].value("host", ""), "localhost:" + std::to_string(vault_->port()));

  std::string body = R"({"data":{"password":"over-v6"}})";
  ScriptedServer v6({"HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body}, true);
  if (!v6.running()) GTEST_SKIP() << "no IPv6 loopback here";
  settings_.vault.address = v6.address();
  auto r = fetch_db();
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].value, "over-v6");
  ASSERT_EQ(v6.heads().size(), 1u);
  EXPECT_NE(v6.heads()[0].find("\r\nHost: [::1]:" + std::to_string(v6.port()) + "\r\n"), std::string::npos) << v6.heads()[0];
}

TEST_F(FaultsTest, ChunkedReplies) {
  std::string body = R"({"data":{"data":{"password":"chunked-value"},"metadata":{"version":1}},"lease_id":""})";
  std::string reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t i = 0; i < body.size(); i += 10) {
    std::string part = body.substr(i, 10);
    char len[16];
    std::snprintf(len, sizeof len, "%zx", part.size());
    reply += std::string(len) + "\r\n" + part + "\r\n";
  }
  reply += "0\r\n\r\n";
  ScriptedServer s({reply});
  settings_.vault.address = s.address();
  auto r = fetch_db();
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].value, "chunked-value");
  ASSERT_EQ(s.heads().size(), 1u);
  EXPECT_EQ(s.heads()[0].rfind("GET /v1/kv/data/app/db HTTP/1.1\r\n", 0), 0u) << s.heads()[0];
}

}  // namespace
}  // namespace runguard::secrets::vault::testing
