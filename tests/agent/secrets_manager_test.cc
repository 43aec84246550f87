// SecretsManager on its own: pending -> managed, renewal at 2/3 of the TTL, refresh, orphaned
// fetches, the scan, drop/revoke, bounded ticks, and that nothing secret reaches the log or the
// metrics. A fake SecretSource, a hand-moved clock, a temp dir as the state dir and "tmpfs".
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "agent_test_util.h"
#include "runguard/common/base64.h"
#include "secrets_manager.h"
#include "secrets_test_util.h"

namespace {

using namespace runguard::agent;
using namespace rgagent_test;
using namespace std::chrono_literals;
namespace secrets = runguard::secrets;

class SecretsManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_path = dir / "agent.log";
    log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    log = std::make_unique<Logger>(LogLevel::kDebug, log_fd);
    SecretsManagerOptions o;
    o.state_dir = state_dir();
    o.tick = 1h;  // tests tick by hand
    o.clock = clock.fn();
    mgr = std::make_unique<SecretsManager>(o, metrics, *log);
    mgr->configure(source, 0ms);
  }
  void TearDown() override {
    mgr.reset();
    ::close(log_fd);
  }

  std::string state_dir() const { return dir / "state"; }
  std::string cdir(const std::string& id) const { return state_dir() + "/" + id; }
  std::string tmpfs(const std::string& id) const { return cdir(id) + "/secrets"; }

  // <state>/<id>/secrets.json and the secrets directory, its files holding "old".
  secrets::SecretsRecord put_record(const std::string& id, const std::vector<std::pair<std::string, std::string>>& files,
                                    int64_t duration = 90) {
    std::filesystem::create_directories(tmpfs(id));
    auto rec = make_record(id, tmpfs(id), files, duration);
    for (const auto& f : rec.files) write_text(tmpfs(id) + "/" + f.name, "old");
    EXPECT_TRUE(secrets::write_secrets_record(cdir(id), rec).is_ok());
    return rec;
  }
  secrets::SecretsRecord disk_record(const std::string& id) {
    auto r = secrets::read_secrets_record(cdir(id));
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    return r.is_ok() ? *r : secrets::SecretsRecord{};
  }
  // A fetch through the source, as the secrets.fetch op does it; returns the lease ids.
  std::vector<std::string> fetch(const std::string& id, const std::vector<std::string>& names) {
    secrets::FetchRequest req{id, "default", {}, ""};
    for (const auto& n : names) req.secrets.push_back({n, "vault:kv/app/" + n + "#v"});
    auto got = source->fetch(req);
    EXPECT_TRUE(got.is_ok());
    mgr->note_fetch(req, *got);
    std::vector<std::string> leases;
    for (const auto& g : *got) leases.push_back(g.lease_id);
    return leases;
  }
  bool contains(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

  TempDir dir;
  std::string log_path;
  int log_fd = -1;
  std::unique_ptr<Logger> log;
  Metrics metrics;
  FakeClock clock;
  std::shared_ptr<FakeSecretSource> source = std::make_shared<FakeSecretSource>();
  std::unique_ptr<SecretsManager> mgr;
};

TEST_F(SecretsManagerTest, AttachedMakesPendingLeasesManaged) {
  auto leases = fetch("c1", {"db"});
  EXPECT_EQ(mgr->stats().pending, 1u);
  put_record("c1", {{"db", leases[0]}});
  mgr->attached("c1");
  mgr->tick();
  EXPECT_TRUE(mgr->is_managed("c1"));
  EXPECT_EQ(mgr->stats().pending, 0u);
  EXPECT_EQ(mgr->stats().leases, 1u);
  EXPECT_TRUE(source->revoked().empty());
  EXPECT_NE(metrics.render().find("runguard_secret_leases 1\n"), std::string::npos);
}

TEST_F(SecretsManagerTest, AttachedRevokesFetchedLeasesTheRecordDoesNotName) {
  auto first = fetch("c1", {"db"});   // the runtime gave up on this one...
  auto second = fetch("c1", {"db"});  // ...and used this
  put_record("c1", {{"db", second[0]}});
  mgr->attached("c1");
  mgr->tick();
  auto revoked = source->revoked();
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked[0], first[0]);
  EXPECT_EQ(mgr->stats().leases, 1u);
}

TEST_F(SecretsManagerTest, RenewsAtTwoThirdsOfTheLeaseDuration) {
  auto leases = fetch("c1", {"db"});  // 90 s leases: renewed from 60 s on
  put_record("c1", {{"db", leases[0]}});
  mgr->attached("c1");
  mgr->tick();
  clock.advance(59s);
  mgr->tick();
  EXPECT_EQ(source->renewal_count(), 0u);
  clock.advance(1s);
  source->renew_to = 80;
  mgr->tick();
  ASSERT_EQ(source->renewal_count(), 1u);
  EXPECT_EQ(source->renewals[0].first, leases[0]);
  EXPECT_EQ(source->renewals[0].second, 90);  // the original duration
  EXPECT_EQ(disk_record("c1").files[0].lease_duration, 80);
  // Next at 2/3 of the new 80 s, counted from the renewal.
  clock.advance(53s);
  mgr->tick();
  EXPECT_EQ(source->renewal_count(), 1u);
  clock.advance(1s);
  mgr->tick();
  EXPECT_EQ(source->renewal_count(), 2u);
  EXPECT_NE(metrics.render().find("runguard_secret_lease_renewals_total{result=\"ok\"} 2\n"), std::string::npos);
}

TEST_F(SecretsManagerTest, FailedRenewalIsCountedAndRetriedNextTick) {
  auto leases = fetch("c1", {"db"});
  put_record("c1", {{"db", leases[0]}});
  mgr->attached("c1");
  mgr->tick();
  source->renew_error = runguard::Status(runguard::Code::kUnavailable, "vault is sealed");
  clock.advance(60s);
  mgr->tick();
  mgr->tick();
  EXPECT_EQ(source->renewal_count(), 2u);
  source->renew_error = runguard::Status::ok();
  mgr->tick();
  EXPECT_EQ(source->renewal_count(), 3u);
  std::string m = metrics.render();
  EXPECT_NE(m.find("runguard_secret_lease_renewals_total{result=\"error\"} 2\n"), std::string::npos);
  EXPECT_NE(m.find("runguard_secret_lease_renewals_total{result=\"ok\"} 1\n"), std::string::npos);
  EXPECT_NE(read_text(log_path).find("c1: file db (vault:kv/app/db#v): renewing its lease"), std::string::npos);
}

TEST_F(SecretsManagerTest, GoneLeaseExpiresWhenRefreshIsOff) {
  auto leases = fetch("c1", {"db"});
  put_record("c1", {{"db", leases[0]}});
  mgr->attached("c1");
  mgr->tick();
  source->renew_error = runguard::Status(runguard::Code::kInvalidArgument, "lease not found");
  clock.advance(60s);
  mgr->tick();
  mgr->tick();
  EXPECT_EQ(source->renewal_count(), 1u);  // not tried again
  EXPECT_EQ(source->fetch_count(), 1u);    // nor fetched again
  EXPECT_NE(read_text(log_path).find("lease expired or was revoked"), std::string::npos);
}

TEST_F(SecretsManagerTest, GoneLeaseIsFetchedAgainWhenRefreshIsOn) {
  mgr->configure(source, 3600s);
  auto leases = fetch("c1", {"db"});
  put_record("c1", {{"db", leases[0]}});
  mgr->attached("c1");
  mgr->tick();
  source->renew_error = runguard::Status(runguard::Code::kNotFound, "lease not found");
  clock.advance(60s);
  mgr->tick();
  EXPECT_EQ(source->fetch_count(), 2u);
  EXPECT_NE(disk_record("c1").files[0].lease_id, leases[0]);
  EXPECT_EQ(read_text(tmpfs("c1") + "/db"), std::string(kSecretValue) + "-2");
}

TEST_F(SecretsManagerTest, RefreshRewritesFilesAndRevokesSupersededLeases) {
  mgr->configure(source, 30s);
  auto leases = fetch("c1", {"db", "kv"});
  put_record("c1", {{"db", leases[0]}, {"kv", leases[1]}});
  mgr->attached("c1");
  mgr->tick();
  clock.advance(29s);
  mgr->tick();
  EXPECT_EQ(source->fetch_count(), 1u);
  clock.advance(1s);
  mgr->tick();
  ASSERT_EQ(source->fetch_count(), 2u);
  // Only Vault files: the "env" one came from the container's spec.
  const auto& req = source->fetches[1];
  ASSERT_EQ(req.secrets.size(), 2u);
  EXPECT_EQ(req.secrets[0].name, "db");
  EXPECT_EQ(req.secrets[0].ref, "vault:kv/app/db#v");
  EXPECT_EQ(req.container, "c1");
  EXPECT_EQ(read_text(tmpfs("c1") + "/db"), std::string(kSecretValue) + "-3");
  EXPECT_EQ(read_text(tmpfs("c1") + "/kv"), std::string(kSecretValue) + "-4");
  EXPECT_EQ(read_text(tmpfs("c1") + "/API_TOKEN"), "old");
  struct stat st {};
  ASSERT_EQ(::stat((tmpfs("c1") + "/db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0400u);
  auto rec = disk_record("c1");
  EXPECT_EQ(rec.files[0].lease_id, "database/creds/app/lease-3");
  EXPECT_EQ(rec.files[1].lease_id, "database/creds/app/lease-4");
  EXPECT_EQ(rec.files[2].source, "env");
  auto revoked = source->revoked();
  EXPECT_EQ(revoked, leases);  // the superseded ones, after the files and the record
  EXPECT_NE(metrics.render().find("runguard_secret_refreshes_total{result=\"ok\"} 1\n"), std::string::npos);
}

TEST_F(SecretsManagerTest, RefreshIntoAVanishedDirectoryRevokesTheNewLeases) {
  mgr->configure(source, 30s);
  auto leases = fetch("c1", {"db"});
  put_record("c1", {{"db", leases[0]}});
  mgr->attached("c1");
  mgr->tick();
  std::filesystem::remove_all(tmpfs("c1"));
  clock.advance(30s);
  mgr->tick();
  EXPECT_EQ(disk_record("c1").files[0].lease_id, leases[0]);  // unchanged
  auto revoked = source->revoked();
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked[0], "database/creds/app/lease-2");
  EXPECT_FALSE(std::filesystem::exists(tmpfs("c1")));  // nothing written where the tmpfs was
}

TEST_F(SecretsManagerTest, PendingLeasesNeverAttachedAreRevokedAfterTheGrace) {
  auto leases = fetch("gone", {"db"});
  clock.advance(119s);
  mgr->tick();
  EXPECT_TRUE(source->revoked().empty());
  clock.advance(1s);
  mgr->tick();
  EXPECT_EQ(source->revoked(), leases);
  EXPECT_EQ(source->revokes[0].container, "gone");
  EXPECT_EQ(mgr->stats().pending, 0u);
  EXPECT_NE(metrics.render().find("runguard_secret_revocations_total{result=\"ok\"} 1\n"), std::string::npos);
}

TEST_F(SecretsManagerTest, FailedRevocationsAreRetriedThenLeftToTheirTtl) {
  fetch("gone", {"db"});
  source->revoke_error = runguard::Status(runguard::Code::kUnavailable, "vault unreachable");
  clock.advance(120s);
  for (int i = 0; i < 5; ++i) mgr->tick();
  EXPECT_EQ(source->revokes.size(), 3u);
  EXPECT_EQ(mgr->stats().queued_revocations, 0u);
}

TEST_F(SecretsManagerTest, ScanManagesRecordsOnDiskAndRenewsAtOnce) {
  put_record("c1", {{"db", "database/creds/app/old-1"}, {"kv", ""}});
  write_text(state_dir() + "/not-a-container/x", "");
  mgr->scan();
  EXPECT_TRUE(mgr->is_managed("c1"));
  EXPECT_EQ(mgr->stats().managed, 1u);
  mgr->tick();  // its lease cannot be dated: renewed now
  ASSERT_EQ(source->renewal_count(), 1u);
  EXPECT_EQ(source->renewals[0].first, "database/creds/app/old-1");
}

TEST_F(SecretsManagerTest, ScannedRecordWithoutLeasesWaitsForItsCreate) {
  // The runtime writes the record before it fetches: young and lease-less, it is not the final one.
  put_record("c1", {{"db", ""}});
  put_record("c2", {{"db", ""}});
  mgr->scan();
  mgr->tick();
  EXPECT_FALSE(mgr->is_managed("c1"));
  mgr->attached("c1");
  mgr->tick();
  EXPECT_TRUE(mgr->is_managed("c1"));
  EXPECT_FALSE(mgr->is_managed("c2"));
  struct timespec old[2] = {{::time(nullptr) - 121, 0}, {::time(nullptr) - 121, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (cdir("c2") + "/secrets.json").c_str(), old, 0), 0);
  mgr->tick();
  EXPECT_TRUE(mgr->is_managed("c2"));
}

TEST_F(SecretsManagerTest, DropForgetsAndRevokesPendingLeases) {
  auto leases = fetch("c1", {"db"});
  put_record("c1", {{"db", leases[0]}});
  mgr->attached("c1");
  mgr->tick();
  auto more = fetch("c1", {"db"});
  mgr->drop("c1");
  EXPECT_FALSE(mgr->is_managed("c1"));
  mgr->tick();
  EXPECT_EQ(source->revoked(), more);  // the record's own are the runtime's delete's to revoke
}

TEST_F(SecretsManagerTest, ContainerWhoseRecordIsGoneIsForgotten) {
  put_record("c1", {{"db", "l1"}});
  mgr->scan();
  std::filesystem::remove_all(cdir("c1"));
  mgr->tick();
  EXPECT_FALSE(mgr->is_managed("c1"));
  EXPECT_EQ(source->renewal_count(), 0u);
}

TEST_F(SecretsManagerTest, RevokeTakesRequestedAndKnownLeasesAndForgets) {
  auto leases = fetch("c1", {"db"});
  put_record("c1", {{"db", leases[0]}});
  mgr->attached("c1");
  mgr->tick();
  auto pending = fetch("c1", {"db"});
  auto n = mgr->revoke(secrets::RevokeRequest{"c1", {leases[0], "other"}, ""});
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, 3u);
  EXPECT_EQ(source->revoked(), (std::vector<std::string>{leases[0], "other", pending[0]}));
  EXPECT_FALSE(mgr->is_managed("c1"));
  EXPECT_EQ(mgr->stats().pending, 0u);
  // Its record is still there until the delete removes it: a scan does not take it up again...
  mgr->scan();
  mgr->tick();
  EXPECT_FALSE(mgr->is_managed("c1"));
  EXPECT_EQ(source->renewal_count(), 0u);
  // ...but a create reusing the id does.
  mgr->attached("c1");
  mgr->tick();
  EXPECT_TRUE(mgr->is_managed("c1"));
}

TEST_F(SecretsManagerTest, EachTickMakesAtMostItsShareOfCalls) {
  std::vector<std::pair<std::string, std::string>> files;
  for (int i = 0; i < 20; ++i) files.push_back({"f" + std::to_string(i), "l" + std::to_string(i)});
  put_record("c1", files);
  put_record("c2", files);
  mgr->scan();
  mgr->tick();
  EXPECT_EQ(source->renewal_count(), 32u);
  mgr->tick();
  EXPECT_EQ(source->renewal_count(), 40u);
}

TEST_F(SecretsManagerTest, IdleWithoutASource) {
  mgr->configure(nullptr, 30s);
  put_record("c1", {{"db", "l1"}});
  mgr->scan();
  clock.advance(1h);
  mgr->tick();
  EXPECT_EQ(source->calls, 0);
  EXPECT_FALSE(mgr->revoke(secrets::RevokeRequest{"c1", {"l1"}, ""}).is_ok());
}

TEST_F(SecretsManagerTest, NoValueOrLeaseLeaksIntoLogsOrMetrics) {
  mgr->configure(source, 30s);
  auto leases = fetch("c1", {"db"});
  put_record("c1", {{"db", leases[0]}});
  mgr->attached("c1");
  mgr->tick();
  clock.advance(30s);
  mgr->tick();  // renewal and refresh
  source->renew_error = runguard::Status(runguard::Code::kUnavailable, "sealed");
  source->fetch_error = runguard::Status(runguard::Code::kDenied, "permission denied");
  clock.advance(60s);
  mgr->tick();
  ASSERT_GE(source->fetch_count(), 2u);
  std::string logs = read_text(log_path);
  std::string m = metrics.render();
  ASSERT_FALSE(logs.empty());
  for (const std::string& text : {logs, m}) {
    EXPECT_EQ(text.find(kSecretValue), std::string::npos) << text;
    EXPECT_EQ(text.find(runguard::base64_encode(std::string(kSecretValue) + "-1")), std::string::npos);
  }
  EXPECT_EQ(m.find("lease-"), std::string::npos);
}

}  // namespace
