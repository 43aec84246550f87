// runguardd's secrets ops over the internal socket: secrets.fetch (base64 values, error codes,
// busy, file backend), secrets.attached, secrets.revoke, the `deleted` notification, the startup
// scan, reload, and that no value reaches the log, the metrics or the ring.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "../../pipeline/src/agent_client.h"
#include "agent_fixture.h"
#include "runguard/common/base64.h"
#include "runguard/secrets/wire.h"
#include "secrets_test_util.h"

namespace {

using namespace runguard::agent;
using namespace rgagent_test;
using namespace std::chrono_literals;
using runguard::Code;
using runguard::Json;
namespace frame = runguard::frame;
namespace secrets = runguard::secrets;

const std::string kVault = "secrets:\n  backend: vault\n  vault:\n    address: http://127.0.0.1:8200\n";

class SecretsFramesTest : public AgentFixture {
 protected:
  void SetUp() override {
    log_path = dir / "agent.log";
    log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    flog = std::make_unique<Logger>(LogLevel::kDebug, log_fd);
  }
  void TearDown() override {
    source->set_hold(false);  // a held fetch would keep stop() waiting for its worker
    if (agent) agent->stop();
    agent.reset();  // before the logger it writes to
    ::close(log_fd);
  }

  void start(const std::string& extra = kVault, size_t threads = 4, size_t queue = 64) {
    write_text(policy_path(), policy_yaml(dir, "", extra));
    AgentOptions o = options();
    o.secret_source = [this](const runguard::policy::SecretsSettings&) {
      ++sources_built;
      return std::shared_ptr<runguard::secrets::SecretSource>(source);
    };
    o.secrets_clock = clock.fn();
    o.secrets_tick = 1h;
    o.secret_threads = threads;
    o.secret_queue = queue;
    auto a = Agent::create(o, *flog);
    ASSERT_TRUE(a.is_ok()) << a.status().message();
    agent = std::move(a).value();
    runguard::Status s = agent->start();
    ASSERT_TRUE(s.is_ok()) << s.to_string();
  }

  static Json fetch_frame(const std::string& id, const std::vector<std::string>& names) {
    secrets::FetchRequest r{id, "default", {}, ""};
    for (const auto& n : names) r.secrets.push_back({n, "vault:kv/app/" + n + "#v"});
    return frame::message("secrets.fetch", {{"request", secrets::fetch_request_to_json(r)}});
  }
  static Json revoke_frame(const std::string& id, const std::vector<std::string>& leases) {
    return frame::message("secrets.revoke", {{"request", secrets::revoke_request_to_json({id, leases, ""})}});
  }
  std::optional<Json> request(const Json& m) {
    FrameClient c(internal_socket());
    if (!c.send(m)) return std::nullopt;
    return c.read();
  }
  // <stateDir>/<id>/secrets.json naming `files` and the directory the runtime would mount.
  void put_record(const std::string& id, const std::vector<std::pair<std::string, std::string>>& files) {
    std::string cdir = state_dir() + "/" + id;
    std::filesystem::create_directories(cdir + "/secrets");
    ASSERT_TRUE(secrets::write_secrets_record(cdir, make_record(id, cdir + "/secrets", files)).is_ok());
  }
  template <typename P>
  bool eventually(P pred, std::chrono::milliseconds within = 2s) {
    auto end = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < end) {
      if (pred()) return true;
      std::this_thread::sleep_for(2ms);
    }
    return pred();
  }
  std::string lease_of(const Json& reply, size_t i = 0) { return reply["secrets"][i]["leaseId"].get<std::string>(); }

  std::string log_path;
  int log_fd = -1;
  std::unique_ptr<Logger> flog;
  FakeClock clock;
  std::shared_ptr<FakeSecretSource> source = std::make_shared<FakeSecretSource>();
  int sources_built = 0;
};

TEST_F(SecretsFramesTest, FetchRepliesWithBase64ValuesAndLeases) {
  start();
  auto r = request(fetch_frame("web-1", {"db", "api"}));
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["ok"], true) << r->dump();
  ASSERT_EQ((*r)["secrets"].size(), 2u);
  EXPECT_EQ((*r)["secrets"][0]["name"], "db");
  EXPECT_EQ((*r)["secrets"][0]["value"], runguard::base64_encode(std::string(kSecretValue) + "-1"));
  EXPECT_EQ((*r)["secrets"][1]["leaseId"], "database/creds/app/lease-2");
  EXPECT_EQ((*r)["secrets"][1]["leaseDuration"], 90);
  EXPECT_EQ((*r)["secrets"][1]["renewable"], true);
  auto back = secrets::fetched_from_json(*r);
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ((*back)[0].value, std::string(kSecretValue) + "-1");
  ASSERT_EQ(source->fetches.size(), 1u);
  EXPECT_EQ(source->fetches[0].container, "web-1");
  EXPECT_EQ(agent->secrets().stats().pending, 1u);  // until secrets.attached
  EXPECT_NE(agent->metrics().render().find("runguard_secret_fetches_total{result=\"ok\"} 1\n"), std::string::npos);
}

TEST_F(SecretsFramesTest, FetchErrorsCarryACode) {
  start();
  const std::pair<Code, const char*> cases[] = {{Code::kDenied, "denied"},
                                                {Code::kNotFound, "not_found"},
                                                {Code::kInvalidArgument, "invalid"},
                                                {Code::kUnavailable, "unavailable"},
                                                {Code::kIo, "unavailable"}};
  for (const auto& [code, name] : cases) {
    source->fetch_error = runguard::Status(code, "vault https://v:8200 kv/app/db: said no");
    auto r = request(fetch_frame("web-1", {"db"}));
    ASSERT_TRUE(r);
    EXPECT_EQ((*r)["ok"], false);
    EXPECT_EQ((*r)["code"], name);
    EXPECT_EQ((*r)["error"], "vault https://v:8200 kv/app/db: said no");
    // The runtime reads the code back.
    if (std::string(name) != "unavailable") {
      EXPECT_EQ(runguard::pipeline::internal::agent_error_code(name), code);
    }
  }
  // Malformed requests never reach the source.
  source->fetch_error = runguard::Status::ok();
  for (Json bad : {frame::message("secrets.fetch"), frame::message("secrets.fetch", {{"request", "x"}}), fetch_frame("../etc", {"db"}),
                   fetch_frame("web-1", {".hidden"}), fetch_frame("web-1", {"a/b"})}) {
    auto r = request(bad);
    ASSERT_TRUE(r);
    EXPECT_EQ((*r)["code"], "invalid") << bad.dump() << " -> " << r->dump();
  }
  EXPECT_EQ(source->fetch_count(), 5u);
  std::string m = agent->metrics().render();
  EXPECT_NE(m.find("runguard_secret_fetches_total{result=\"denied\"} 1\n"), std::string::npos);
  EXPECT_NE(m.find("runguard_secret_fetches_total{result=\"unavailable\"} 2\n"), std::string::npos);
  EXPECT_NE(m.find("runguard_secret_fetches_total{result=\"invalid\"} 6\n"), std::string::npos);
}

TEST_F(SecretsFramesTest, FileBackendIsInvalid) {
  start("");
  auto r = request(fetch_frame("web-1", {"db"}));
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["code"], "invalid");
  EXPECT_NE((*r)["error"].get<std::string>().find("secrets.backend is not vault"), std::string::npos);
  r = request(revoke_frame("web-1", {"l1"}));
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["code"], "invalid");
  EXPECT_EQ(sources_built, 0);
  EXPECT_EQ(source->calls, 0);
}

TEST_F(SecretsFramesTest, AttachedMakesTheContainerManagedAndDeletedDropsIt) {
  start();
  auto r = request(fetch_frame("web-1", {"db"}));
  ASSERT_TRUE(r);
  put_record("web-1", {{"db", lease_of(*r)}});
  FrameClient c(internal_socket());
  ASSERT_TRUE(c.send(frame::message("secrets.attached", {{"container", "web-1"}})));
  ASSERT_TRUE(eventually([&] { return agent->secrets().is_managed("web-1"); }));
  EXPECT_EQ(agent->secrets().stats().pending, 0u);
  EXPECT_NE(agent->metrics().render().find("runguard_secret_leases 1\n"), std::string::npos);
  // Renewed at 2/3 of its 90 s.
  clock.advance(60s);
  agent->secrets().tick();
  EXPECT_EQ(source->renewal_count(), 1u);
  ASSERT_TRUE(c.send(frame::message("deleted", {{"container", "web-1"}})));
  ASSERT_TRUE(eventually([&] { return !agent->secrets().is_managed("web-1"); }));
  ASSERT_TRUE(c.send(frame::message("secrets.attached", {{"container", "../x"}})));  // ignored
  ASSERT_TRUE(c.send(frame::message("ping")));
  EXPECT_TRUE(c.read());
}

TEST_F(SecretsFramesTest, RevokeRevokesAndForgets) {
  start();
  auto r = request(fetch_frame("web-1", {"db"}));
  ASSERT_TRUE(r);
  std::string lease = lease_of(*r);
  put_record("web-1", {{"db", lease}});
  FrameClient c(internal_socket());
  ASSERT_TRUE(c.send(frame::message("secrets.attached", {{"container", "web-1"}})));
  ASSERT_TRUE(eventually([&] { return agent->secrets().is_managed("web-1"); }));
  auto rv = request(revoke_frame("web-1", {lease}));
  ASSERT_TRUE(rv);
  EXPECT_EQ((*rv)["ok"], true) << rv->dump();
  EXPECT_EQ((*rv)["revoked"], 1);
  EXPECT_EQ(source->revoked(), std::vector<std::string>{lease});
  EXPECT_FALSE(agent->secrets().is_managed("web-1"));
  source->revoke_error = runguard::Status(Code::kUnavailable, "vault is sealed");
  rv = request(revoke_frame("web-2", {"l9"}));
  ASSERT_TRUE(rv);
  EXPECT_EQ((*rv)["code"], "unavailable");
  rv = request(frame::message("secrets.revoke", {{"request", {{"container", "web-2"}, {"leases", {1}}}}}));
  ASSERT_TRUE(rv);
  EXPECT_EQ((*rv)["code"], "invalid");
  EXPECT_NE(agent->metrics().render().find("runguard_secret_revocations_total{result=\"error\"} 1\n"), std::string::npos);
}

TEST_F(SecretsFramesTest, StartupScanManagesRecordsOnDisk) {
  put_record("web-1", {{"db", "database/creds/app/from-before"}});
  start();
  EXPECT_TRUE(agent->secrets().is_managed("web-1"));
  agent->secrets().tick();
  ASSERT_EQ(source->renewal_count(), 1u);
  EXPECT_EQ(source->renewals[0].first, "database/creds/app/from-before");
}

TEST_F(SecretsFramesTest, BusyIsUnavailable) {
  start(kVault, 1, 1);
  source->set_hold(true);
  FrameClient a(internal_socket()), b(internal_socket()), c(internal_socket());
  ASSERT_TRUE(a.send(fetch_frame("w-a", {"db"})));
  ASSERT_TRUE(eventually([&] { return source->fetch_count() == 1; }));  // the one worker is busy
  ASSERT_TRUE(b.send(fetch_frame("w-b", {"db"})));                       // queued
  ASSERT_TRUE(eventually([&] { return agent->metrics().render().find("op=\"secrets.fetch\"} 2") != std::string::npos; }));
  ASSERT_TRUE(c.send(fetch_frame("w-c", {"db"})));
  auto rc = c.read();
  ASSERT_TRUE(rc);
  EXPECT_EQ((*rc)["code"], "unavailable");
  source->set_hold(false);
  auto ra = a.read(), rb = b.read();
  ASSERT_TRUE(ra && rb);
  EXPECT_EQ((*ra)["ok"], true);
  EXPECT_EQ((*rb)["ok"], true);
}

TEST_F(SecretsFramesTest, ReloadRebuildsTheSource) {
  start();
  EXPECT_EQ(sources_built, 1);
  write_text(policy_path(), policy_yaml(dir));
  ASSERT_TRUE(agent->reload_policy("").is_ok());
  auto r = request(fetch_frame("web-1", {"db"}));
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["code"], "invalid");
  write_text(policy_path(), policy_yaml(dir, "", kVault + "  refresh: 30s\n"));
  ASSERT_TRUE(agent->reload_policy("").is_ok());
  EXPECT_EQ(sources_built, 2);
  r = request(fetch_frame("web-1", {"db"}));
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["ok"], true);
}

TEST_F(SecretsFramesTest, NoValueReachesTheLogMetricsOrRing) {
  start(kVault + "  refresh: 30s\n");
  auto r = request(fetch_frame("web-1", {"db"}));
  ASSERT_TRUE(r);
  put_record("web-1", {{"db", lease_of(*r)}});
  FrameClient c(internal_socket());
  ASSERT_TRUE(c.send(frame::message("secrets.attached", {{"container", "web-1"}})));
  ASSERT_TRUE(eventually([&] { return agent->secrets().is_managed("web-1"); }));
  clock.advance(30s);
  agent->secrets().tick();  // refresh: the files are rewritten
  EXPECT_EQ(read_text(state_dir() + "/web-1/secrets/db"), std::string(kSecretValue) + "-2");
  source->renew_error = runguard::Status(Code::kUnavailable, "sealed");
  clock.advance(60s);
  agent->secrets().tick();
  source->fetch_error = runguard::Status(Code::kDenied, "permission denied");
  r = request(fetch_frame("web-2", {"db"}));
  ASSERT_TRUE(r);
  std::string logs = read_text(log_path);
  std::string m = agent->metrics().render();
  ASSERT_NE(logs.find("secrets.fetch for container web-1"), std::string::npos);
  for (const std::string& text : {logs, m}) {
    for (int g = 1; g <= 3; ++g) {
      std::string v = std::string(kSecretValue) + "-" + std::to_string(g);
      EXPECT_EQ(text.find(v), std::string::npos);
      EXPECT_EQ(text.find(runguard::base64_encode(v)), std::string::npos);
    }
    EXPECT_EQ(text.find(kSecretValue), std::string::npos);
  }
  EXPECT_EQ(m.find("lease-"), std::string::npos);
  EXPECT_EQ(agent->ring().size(), 0u);
}

}  // namespace
