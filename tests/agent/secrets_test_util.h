// Helpers for the agent's secrets tests: a fake SecretSource that records every call and hands
// out distinctive values and lease ids, a settable clock, and secrets.json records.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "runguard/secrets/files.h"
#include "runguard/secrets/source.h"

namespace rgagent_test {

// A value no log line, metric or error may ever contain.
inline constexpr const char* kSecretValue = "pl41nt3xt-S3CR3T-xyzzy";

class FakeSecretSource : public runguard::secrets::SecretSource {
 public:
  using FetchRequest = runguard::secrets::FetchRequest;
  using FetchedSecret = runguard::secrets::FetchedSecret;
  using RevokeRequest = runguard::secrets::RevokeRequest;

  runguard::Result<std::vector<FetchedSecret>> fetch(const FetchRequest& r) override {
    std::unique_lock<std::mutex> l(mu);
    fetches.push_back(r);
    ++calls;
    cv.notify_all();
    cv.wait(l, [&] { return !hold; });
    if (!fetch_error.is_ok()) return fetch_error;
    std::vector<FetchedSecret> out;
    for (const auto& s : r.secrets) {
      FetchedSecret f;
      f.name = s.name;
      f.value = std::string(kSecretValue) + "-" + std::to_string(++generation);
      if (with_leases) f.lease_id = "database/creds/app/lease-" + std::to_string(++next_lease);
      f.lease_duration = with_leases ? lease_duration : 0;
      f.renewable = with_leases;
      out.push_back(std::move(f));
    }
    return out;
  }
  runguard::Status revoke(const RevokeRequest& r) override {
    std::lock_guard<std::mutex> l(mu);
    revokes.push_back(r);
    ++calls;
    return revoke_error;
  }
  runguard::Result<int64_t> renew(const std::string& container, const std::string& lease, int64_t increment,
                                 const std::string& token_file) override {
    std::lock_guard<std::mutex> l(mu);
    renewals.push_back({lease, increment});
    ++calls;
    if (!renew_error.is_ok()) return renew_error;
    return renew_to > 0 ? renew_to : increment;
  }

  // Every lease any revoke() was asked for.
  std::vector<std::string> revoked() {
    std::lock_guard<std::mutex> l(mu);
    std::vector<std::string> out;
    for (const auto& r : revokes) out.insert(out.end(), r.leases.begin(), r.leases.end());
    return out;
  }
  size_t renewal_count() {
    std::lock_guard<std::mutex> l(mu);
    return renewals.size();
  }
  size_t fetch_count() {
    std::lock_guard<std::mutex> l(mu);
    return fetches.size();
  }
  void set_hold(bool h) {
    std::lock_guard<std::mutex> l(mu);
    hold = h;
    cv.notify_all();
  }

  std::mutex mu;
  std::condition_variable cv;
  bool hold = false;
  bool with_leases = true;
  int64_t lease_duration = 90;
  int64_t renew_to = 0;  // 0: the increment asked for
  int generation = 0, next_lease = 0, calls = 0;
  runguard::Status fetch_error, revoke_error, renew_error;
  std::vector<FetchRequest> fetches;
  std::vector<RevokeRequest> revokes;
  std::vector<std::pair<std::string, int64_t>> renewals;
};

// A steady clock the test moves by hand.
struct FakeClock {
  std::atomic<int64_t> ms{1000000};
  std::chrono::steady_clock::time_point now() const { return std::chrono::steady_clock::time_point(std::chrono::milliseconds(ms.load())); }
  void advance(std::chrono::milliseconds d) { ms += d.count(); }
  std::function<std::chrono::steady_clock::time_point()> fn() {
    return [this] { return now(); };
  }
};

// A record as the runtime's create writes it: `files` are {name, lease id} pairs of
// annotation files (ref "vault:kv/app/<name>#v"), plus one "env" file without a lease.
inline runguard::secrets::SecretsRecord make_record(const std::string& id, const std::string& dir,
                                                    const std::vector<std::pair<std::string, std::string>>& files,
                                                    int64_t duration = 90) {
  runguard::secrets::SecretsRecord r;
  r.container = id;
  r.k8s_namespace = "default";
  r.dir = dir;
  r.mount_path = "/run/secrets";
  r.uid = ::getuid();
  r.gid = ::getgid();
  for (const auto& [name, lease] : files) {
    runguard::secrets::SecretsRecord::File f;
    f.name = name;
    f.source = "annotation";
    f.ref = "vault:kv/app/" + name + "#v";
    f.lease_id = lease;
    f.lease_duration = lease.empty() ? 0 : duration;
    f.renewable = !lease.empty();
    r.files.push_back(f);
  }
  runguard::secrets::SecretsRecord::File env;
  env.name = "API_TOKEN";
  env.source = "env";
  r.files.push_back(env);
  return r;
}

}  // namespace rgagent_test
