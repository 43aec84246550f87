// SecretsManager: the calls a tick makes (secrets_manager.h): lease renewals, refreshes (re-fetch,
// rewrite the files, move the record to the new leases, revoke the old ones) and revocations.
// No SecretSource call is made with mu_ held: a slow Vault never blocks the frames.
#include <sys/stat.h>

#include <algorithm>

#include "runguard/nsutil/fs.h"
#include "secrets_manager.h"

namespace runguard::agent {
namespace {

// How soon a failed refresh is tried again (at most the refresh interval).
constexpr std::chrono::seconds kRefreshRetry{10};

// Vault no longer knows the lease (expired, revoked, or past its max TTL).
bool lease_gone(const Status& s) { return s.code() == Code::kNotFound || s.code() == Code::kInvalidArgument; }

std::string file_what(const std::string& id, const std::string& name, const std::string& ref) {
  return "secrets: container " + id + ": file " + name + (ref.empty() ? "" : " (" + ref + ")");
}

// The record's directory is still there and, when the runtime mounted a tmpfs on it, still a
// mount point: a refresh racing a delete must not write values into the directory underneath.
Status check_secrets_dir(const secrets::SecretsRecord& rec) {
  struct stat st {}, parent {};
  if (::lstat(rec.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return Status(Code::kNotFound, "secrets directory " + rec.dir + " is gone");
  if (rec.mounted && (::stat((rec.dir + "/..").c_str(), &parent) != 0 || parent.st_dev == st.st_dev)) {
    return Status(Code::kNotFound, rec.dir + " is no longer a mounted tmpfs; not writing secrets into it");
  }
  return Status::ok();
}

secrets::SecretsRecord::File* file_named(secrets::SecretsRecord& rec, const std::string& name) {
  for (auto& f : rec.files) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace

std::vector<SecretsManager::Renewal> SecretsManager::due_renewals(Clock::time_point at, size_t budget) {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::pair<Clock::time_point, Renewal>> due;
  for (auto& [id, c] : managed_) {
    for (const auto& f : c.record.files) {
      if (f.lease_id.empty() || !f.renewable || f.lease_duration <= 0) continue;
      auto lt = c.leases.find(f.lease_id);
      if (lt == c.leases.end() || lt->second.expired) continue;
      Clock::time_point due_at = lt->second.granted_at + std::chrono::milliseconds(f.lease_duration * 2000 / 3);
      if (at < due_at) continue;
      if (refresh_.count() > 0 && f.lease_duration < lt->second.increment) {
        c.refresh_now = true;  // renewed for less than asked: its max TTL is near, replace it
        continue;
      }
      int64_t inc = lt->second.increment > 0 ? lt->second.increment : f.lease_duration;
      due.push_back({due_at, Renewal{id, f.lease_id, f.name, f.ref, c.record.kubernetes_token_file, inc}});
    }
  }
  std::stable_sort(due.begin(), due.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Renewal> out;
  for (size_t i = 0; i < due.size() && i < budget; ++i) out.push_back(std::move(due[i].second));
  return out;
}

void SecretsManager::renew(secrets::SecretSource& source, const Renewal& r) {
  auto res = source.renew(r.container, r.lease_id, r.increment, r.token_file);
  bool ok = res.is_ok() && *res > 0;
  metrics_.add("runguard_secret_lease_renewals_total", {{"result", ok ? "ok" : "error"}});
  std::lock_guard<std::mutex> l(mu_);
  auto it = managed_.find(r.container);
  if (it == managed_.end()) return;
  Container& c = it->second;
  auto lt = c.leases.find(r.lease_id);
  secrets::SecretsRecord::File* f = file_named(c.record, r.file);
  if (lt == c.leases.end() || f == nullptr || f->lease_id != r.lease_id) return;  // refreshed meanwhile
  std::string what = file_what(r.container, r.file, r.ref);
  if (ok) {
    if (lt->second.failures > 0) log_.info(what + ": lease renewed again");
    f->lease_duration = *res;
    lt->second.granted_at = now();
    lt->second.failures = 0;
    c.record_dirty = true;
    return;
  }
  Status s = res.is_ok() ? Status(Code::kNotFound, "vault renewed the lease for 0 s") : res.status();
  if (lease_gone(s)) {
    if (refresh_.count() > 0) {
      c.refresh_now = true;
      log_.info(what + ": its lease is gone (" + s.message() + "); fetching it again");
    } else {
      lt->second.expired = true;
      log_.warning(what + ": its lease expired or was revoked (" + s.message() +
                   "); secrets.refresh is off, so the file keeps its last value");
    }
    return;
  }
  // Tried again on the next tick; said once, then at debug level until it works.
  std::string msg = what + ": renewing its lease (record " + secrets::secrets_record_path(container_dir(r.container)) + "): " + s.message();
  if (lt->second.failures++ == 0) log_.warning(msg + " (retrying every tick)");
  else log_.debug(msg);
}

std::vector<std::string> SecretsManager::due_refreshes(Clock::time_point at, size_t budget) {
  std::lock_guard<std::mutex> l(mu_);
  if (refresh_.count() <= 0 || budget == 0) return {};
  std::vector<std::pair<Clock::time_point, std::string>> due;
  for (const auto& [id, c] : managed_) {
    if (at < c.refresh_retry_at) continue;
    if (c.refresh_now || at - c.refreshed_at >= refresh_) due.push_back({c.refresh_now ? Clock::time_point::min() : c.refreshed_at, id});
  }
  std::stable_sort(due.begin(), due.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (size_t i = 0; i < due.size() && i < budget; ++i) out.push_back(std::move(due[i].second));
  return out;
}

void SecretsManager::refresh(secrets::SecretSource& source, const std::string& id) {
  secrets::SecretsRecord rec;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = managed_.find(id);
    if (it == managed_.end()) return;
    rec = it->second.record;
  }
  // Only what came from Vault: "env" files hold values from the container's own spec.
  secrets::FetchRequest req{id, rec.k8s_namespace, {}, rec.kubernetes_token_file};
  for (const auto& f : rec.files) {
    if (f.source != "env" && !f.ref.empty()) req.secrets.push_back({f.name, f.ref});
  }
  auto got = req.secrets.empty() ? Result<std::vector<secrets::FetchedSecret>>(std::vector<secrets::FetchedSecret>{}) : source.fetch(req);
  if (!got.is_ok()) {
    metrics_.add("runguard_secret_refreshes_total", {{"result", "error"}});
    log_.warning("secrets: container " + id + ": refreshing " + std::to_string(req.secrets.size()) + " files (record " +
                 secrets::secrets_record_path(container_dir(id)) + "): " + got.status().message());
    std::lock_guard<std::mutex> l(mu_);
    if (auto it = managed_.find(id); it != managed_.end()) it->second.refresh_retry_at = now() + std::min<std::chrono::milliseconds>(refresh_, kRefreshRetry);
    return;
  }
  size_t written = apply_refresh(id, rec, *got);
  if (written > 0) (void)write_record(id);  // then the leases it replaced are revoked
  if (!got->empty()) metrics_.add("runguard_secret_refreshes_total", {{"result", written == got->size() ? "ok" : "error"}});
  secrets::wipe(*got);
}

size_t SecretsManager::apply_refresh(const std::string& id, const secrets::SecretsRecord& rec, std::vector<secrets::FetchedSecret>& got) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (managed_.count(id) == 0) {  // revoked or deleted while fetching: the new leases back nothing
      secrets::RevokeRequest r{id, {}, rec.kubernetes_token_file};
      for (const auto& g : got) r.leases.push_back(g.lease_id);
      queue_revocation(std::move(r));
      return 0;
    }
    writing_ = id;
  }
  std::vector<bool> written(got.size(), false);
  Status dir = check_secrets_dir(rec);
  if (!dir.is_ok()) log_.warning("secrets: container " + id + ": not refreshing its files: " + dir.message());
  for (size_t i = 0; dir.is_ok() && i < got.size(); ++i) {
    bool requested = std::any_of(rec.files.begin(), rec.files.end(), [&](const auto& f) { return f.name == got[i].name && f.source != "env"; });
    if (!requested) continue;
    // One file at a time, so a failure leaves the others' new leases in use. The value is
    // swapped in and out, never copied.
    std::vector<secrets::FetchedSecret> one(1);
    one[0].name = got[i].name;
    one[0].value.swap(got[i].value);
    Status s = secrets::write_secret_files(rec.dir, one, rec.uid, rec.gid);
    one[0].value.swap(got[i].value);
    written[i] = s.is_ok();
    if (!s.is_ok()) log_.warning(file_what(id, got[i].name, "") + ": writing it into " + rec.dir + ": " + s.message());
  }
  size_t count = 0;
  std::lock_guard<std::mutex> l(mu_);
  writing_.clear();
  written_.notify_all();
  auto it = managed_.find(id);
  Clock::time_point at = now();
  secrets::RevokeRequest unused{id, {}, rec.kubernetes_token_file};
  for (size_t i = 0; i < got.size(); ++i) {
    secrets::SecretsRecord::File* f = it == managed_.end() ? nullptr : file_named(it->second.record, got[i].name);
    if (!written[i] || f == nullptr) {
      unused.leases.push_back(got[i].lease_id);
      continue;
    }
    ++count;
    Container& c = it->second;
    if (!f->lease_id.empty() && f->lease_id != got[i].lease_id) {
      c.superseded.push_back(f->lease_id);
      c.leases.erase(f->lease_id);
    }
    f->lease_id = got[i].lease_id;
    f->lease_duration = got[i].lease_duration;
    f->renewable = got[i].renewable;
    if (!f->lease_id.empty()) c.leases[f->lease_id] = LeaseTimes{at, {}, got[i].lease_duration, 0, false};
    c.record_dirty = true;
  }
  queue_revocation(std::move(unused));
  if (it != managed_.end()) {
    it->second.refreshed_at = at;
    it->second.refresh_now = false;
    if (count < got.size()) it->second.refresh_retry_at = at + std::min<std::chrono::milliseconds>(refresh_, kRefreshRetry);
  }
  return count;
}

bool SecretsManager::write_record(const std::string& id) {
  secrets::SecretsRecord rec;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = managed_.find(id);
    if (it == managed_.end()) return false;
    writing_ = id;
    rec = it->second.record;
  }
  // A record the runtime's delete removed is not brought back (the next tick forgets it).
  std::string path = secrets::secrets_record_path(container_dir(id));
  bool exists = nsutil::path_exists(path);
  Status s = exists ? secrets::write_secrets_record(container_dir(id), rec) : Status::ok();
  std::lock_guard<std::mutex> l(mu_);
  writing_.clear();
  written_.notify_all();
  if (!exists) return false;
  if (!s.is_ok()) {
    log_.warning("secrets: container " + id + ": writing " + secrets::secrets_record_path(container_dir(id)) + ": " + s.message() +
                 " (retrying next tick)");
    return false;
  }
  auto it = managed_.find(id);
  if (it == managed_.end()) return true;
  it->second.record_dirty = false;
  // The record names the new leases now: the ones they replaced can go.
  queue_revocation(secrets::RevokeRequest{id, std::move(it->second.superseded), rec.kubernetes_token_file});
  it->second.superseded.clear();
  return true;
}

void SecretsManager::write_dirty_records() {
  std::vector<std::string> dirty;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [id, c] : managed_) {
      if (c.record_dirty) dirty.push_back(id);
    }
  }
  for (const auto& id : dirty) (void)write_record(id);
}

void SecretsManager::run_revocations(secrets::SecretSource& source, size_t budget) {
  size_t n = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    n = std::min(budget, revocations_.size());  // a failed one goes to the back, for the next tick
  }
  for (size_t i = 0; i < n && !stopping_; ++i) {
    Revocation r;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (revocations_.empty()) return;
      r = std::move(revocations_.front());
      revocations_.pop_front();
    }
    Status s = source.revoke(r.request);
    size_t leases = r.request.leases.size();
    metrics_.add("runguard_secret_revocations_total", {{"result", s.is_ok() ? "ok" : "error"}}, leases);
    std::string what = "secrets: container " + r.request.container + ": revoking " + std::to_string(leases) + " leases";
    if (s.is_ok()) {
      log_.debug(what + ": done");
    } else if (++r.attempts < options_.max_revoke_attempts) {
      log_.warning(what + ": " + s.message() + " (trying again)");
      std::lock_guard<std::mutex> l(mu_);
      revocations_.push_back(std::move(r));
    } else {
      log_.warning(what + ": " + s.message() + "; giving up after " + std::to_string(r.attempts) + " attempts (they expire with their TTL)");
    }
  }
}

}  // namespace runguard::agent
