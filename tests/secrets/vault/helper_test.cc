// `runguardctl helper secrets fetch|revoke`, the built binary against the stand-in.
#include <fcntl.h>
#include <gtest/gtest.h>

#include "runguard/common/base64.h"
#include "vault_test_util.h"

namespace runguard::secrets::vault::testing {
namespace {

using Clock = std::chrono::steady_clock;

struct HelperRun {
  int exit_code = -1;
  std::string out, err;
};

class HelperTest : public VaultTest {
 protected:
  void SetUp() override {
    VaultTest::SetUp();
    vault_->post("kv2", {{"mount", "kv"}, {"path", "app/db"}, {"data", {{"password", "s3cr3t-value"}}}});
    vault_->post("dynamic", {{"mount", "database"}, {"role", "ro"}, {"ttl", 300}});
    token_ = use_token({"kv/*", "database/*", "sys/leases/revoke"});
    write_policy("vault");
  }
  void write_policy(const std::string& backend, const std::string& timeout = "2s") {
    write_file(dir_.file("policy.yaml"), "secrets:\n  backend: " + backend + "\n  vault:\n    address: " + vault_->address() +
                                             "\n    timeout: " + timeout + "\n    retries: 0\n    auth:\n      method: token\n"
                                             "      tokenFile: " + settings_.vault.auth.token_file + "\n");
  }
  HelperRun helper(std::vector<std::string> args) {
    args.insert(args.begin(), {RUNGUARD_CTL_BIN, "helper", "secrets"});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string out = dir_.file("out"), err = dir_.file("err");
    pid_t pid = ::fork();
    if (pid == 0) {
      int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(o, 1);
      ::dup2(e, 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    HelperRun r;
    r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r.out = nsutil::read_file(out).value();
    r.err = nsutil::read_file(err).value();
    return r;
  }
  static Json line(const HelperRun& r) {
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
    auto j = parse_json(r.out, "helper stdout");
    EXPECT_TRUE(j.is_ok()) << r.out;
    return j.is_ok() ? *j : Json();
  }
  std::string token_;
};

TEST_F(HelperTest, FetchPrintsOneLineWithBase64Values) {
  Json req = {{"container", "c1"}, {"namespace", "default"}, {"secrets", {{{"name", "db"}, {"ref", "vault:kv/data/app/db#password"}}}}};
  HelperRun r = helper({"fetch", "--request", dump_json(req), "--config", dir_.file("policy.yaml")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  Json j = line(r);
  EXPECT_EQ(j["ok"], true);
  ASSERT_EQ(j["secrets"].size(), 1u);
  EXPECT_EQ(j["secrets"][0]["name"], "db");
  EXPECT_EQ(base64_decode(j["secrets"][0]["value"].get<std::string>(), "value").value(), "s3cr3t-value");
  EXPECT_EQ(r.out.find("s3cr3t-value"), std::string::npos) << "values travel base64-encoded";
}

TEST_F(HelperTest, FetchThenRevokeADynamicSecret) {
  Json req = {{"container", "c1"}, {"secrets", {{{"name", "pw"}, {"ref", "vault:database/creds/ro#password"}}}}};
  ::setenv("RUNGUARD_CONFIG", dir_.file("policy.yaml").c_str(), 1);
  HelperRun r = helper({"fetch", "--request", dump_json(req)});
  ::unsetenv("RUNGUARD_CONFIG");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  Json j = line(r);
  std::string lease = j["secrets"][0].value("leaseId", "");
  EXPECT_EQ(lease.rfind("database/creds/ro/", 0), 0u) << r.out;
  EXPECT_EQ(j["secrets"][0]["leaseDuration"], 300);
  EXPECT_EQ(j["secrets"][0]["renewable"], true);

  Json rev = {{"container", "c1"}, {"leases", {lease}}};
  HelperRun v = helper({"revoke", "--request", dump_json(rev), "--config", dir_.file("policy.yaml")});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_EQ(line(v), (Json{{"ok", true}, {"revoked", 1}}));
  EXPECT_EQ(vault_->get("leases")["revoked"], Json::array({lease}));
}

TEST_F(HelperTest, ErrorsAreOneLineWithACode) {
  Json missing = {{"container", "c1"}, {"secrets", {{{"name", "x"}, {"ref", "vault:kv/data/app/none#k"}}}}};
  HelperRun r = helper({"fetch", "--request", dump_json(missing), "--config", dir_.file("policy.yaml")});
  EXPECT_EQ(r.exit_code, 1);
  Json j = line(r);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["code"], "not_found");
  EXPECT_NE(j.value("error", "").find("kv/data/app/none"), std::string::npos);

  use_token({"nothing/*"});
  Json db = {{"container", "c1"}, {"secrets", {{{"name", "db"}, {"ref", "vault:kv/data/app/db#password"}}}}};
  HelperRun d = helper({"fetch", "--request", dump_json(db), "--config", dir_.file("policy.yaml")});
  EXPECT_EQ(d.exit_code, 1);
  EXPECT_EQ(line(d)["code"], "denied");
  EXPECT_EQ(d.out.find(token_), std::string::npos);
  EXPECT_EQ(d.err, "");

  HelperRun bad = helper({"fetch", "--request", "{\"container\":", "--config", dir_.file("policy.yaml")});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(line(bad)["code"], "invalid");

  write_policy("file");
  HelperRun file = helper({"fetch", "--request", dump_json(db), "--config", dir_.file("policy.yaml")});
  EXPECT_EQ(file.exit_code, 1);
  EXPECT_EQ(line(file)["code"], "invalid");
  EXPECT_NE(line(file).value("error", "").find("not vault"), std::string::npos) << file.out;
}

TEST_F(HelperTest, UsageErrors) {
  HelperRun none = helper({});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_EQ(line(none)["code"], "invalid");
  HelperRun no_request = helper({"fetch", "--config", dir_.file("policy.yaml")});
  EXPECT_EQ(no_request.exit_code, 2);
  EXPECT_NE(line(no_request).value("error", "").find("--request"), std::string::npos);
  HelperRun bad_timeout = helper({"revoke", "--request", "{}", "--timeout-ms", "0"});
  EXPECT_EQ(bad_timeout.exit_code, 2);
}

TEST_F(HelperTest, FinishesWithinTimeoutMs) {
  write_policy("vault", "10s");
  vault_->post("fault", {{"delay_ms", 5000}, {"path", "kv/*"}});
  Json db = {{"container", "c1"}, {"secrets", {{{"name", "db"}, {"ref", "vault:kv/data/app/db#password"}}}}};
  auto start = Clock::now();
  HelperRun r = helper({"fetch", "--request", dump_json(db), "--config", dir_.file("policy.yaml"), "--timeout-ms", "1000"});
  auto took = Clock::now() - start;
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(line(r)["code"], "unavailable");
  EXPECT_LT(took, std::chrono::milliseconds(1000 + 300));
}

}  // namespace
}  // namespace runguard::secrets::vault::testing
