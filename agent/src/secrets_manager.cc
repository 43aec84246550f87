// SecretsManager: lifecycle, what frames tell it (fetches, attached, deleted, revoke), the scan
// of state directories and pending leases (secrets_manager.h). Renewal, refresh and revocation
// calls are in secrets_refresh.cc.
#include "secrets_manager.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <ctime>

#include "runguard/nsutil/fs.h"
#include "runguard/pipeline/runc_args.h"

namespace runguard::agent {
namespace {

// Subdirectories of `root` named like container ids that hold a secrets.json.
std::vector<std::string> record_dirs(const std::string& root) {
  std::vector<std::string> out;
  DIR* d = ::opendir(root.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || !pipeline::check_container_id(name).is_ok()) continue;
    struct stat st {};
    std::string rec = name + "/secrets.json";
    if (::fstatat(::dirfd(d), rec.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) out.push_back(name);
  }
  ::closedir(d);
  return out;
}

// Seconds since `path` was last written (wall clock: file times are), -1 when it is gone.
int64_t age_seconds(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return std::max<int64_t>(0, now.tv_sec - st.st_mtim.tv_sec);
}

void dedupe(std::vector<std::string>& v) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (auto& s : v) {
    if (!s.empty() && seen.insert(s).second) out.push_back(std::move(s));
  }
  v = std::move(out);
}

}  // namespace

SecretsManager::SecretsManager(SecretsManagerOptions options, Metrics& metrics, const Logger& log)
    : options_(std::move(options)), metrics_(metrics), log_(log) {
  metrics_.set("runguard_secret_leases", {}, 0);
}

SecretsManager::~SecretsManager() { stop(); }

SecretsManager::Clock::time_point SecretsManager::now() const { return options_.clock ? options_.clock() : Clock::now(); }

void SecretsManager::start() {
  std::lock_guard<std::mutex> l(loop_mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void SecretsManager::stop() {
  {
    std::lock_guard<std::mutex> l(loop_mu_);
    stopping_ = true;
  }
  loop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SecretsManager::loop() {
  std::unique_lock<std::mutex> l(loop_mu_);
  while (!stopping_) {
    loop_cv_.wait_for(l, options_.tick, [this] { return stopping_ || wake_; });
    if (stopping_) break;
    wake_ = false;
    l.unlock();
    tick();
    l.lock();
  }
}

void SecretsManager::configure(std::shared_ptr<secrets::SecretSource> source, std::chrono::milliseconds refresh) {
  std::lock_guard<std::mutex> l(mu_);
  source_ = std::move(source);
  refresh_ = refresh.count() > 0 ? refresh : std::chrono::milliseconds(0);
}

std::shared_ptr<secrets::SecretSource> SecretsManager::source() const {
  std::lock_guard<std::mutex> l(mu_);
  return source_;
}

void SecretsManager::note_fetch(const secrets::FetchRequest& request, const std::vector<secrets::FetchedSecret>& got) {
  std::map<std::string, int64_t> leases;
  for (const auto& s : got) {
    if (!s.lease_id.empty()) leases[s.lease_id] = s.lease_duration;
  }
  if (leases.empty()) return;
  std::lock_guard<std::mutex> l(mu_);
  Pending& p = pending_[request.container];
  p.leases.insert(leases.begin(), leases.end());
  p.kubernetes_token_file = request.kubernetes_token_file;
  p.at = now();
  while (pending_.size() > options_.max_pending) {
    auto oldest = std::min_element(pending_.begin(), pending_.end(), [](const auto& a, const auto& b) { return a.second.at < b.second.at; });
    log_.warning("secrets: more than " + std::to_string(options_.max_pending) + " containers have unattached leases; revoking container " +
                 oldest->first + "'s early");
    secrets::RevokeRequest r{oldest->first, {}, oldest->second.kubernetes_token_file};
    for (const auto& [id, d] : oldest->second.leases) r.leases.push_back(id);
    queue_revocation(std::move(r));
    pending_.erase(oldest);
  }
}

void SecretsManager::attached(const std::string& container) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (attach_queue_.size() >= options_.max_pending) {
      log_.warning("secrets: " + std::to_string(attach_queue_.size()) + " attached notifications waiting; ignoring container " + container +
                   "'s (the next scan picks its record up)");
      scan_requested_ = true;
      return;
    }
    attach_queue_.insert(container);
  }
  std::lock_guard<std::mutex> l(loop_mu_);
  wake_ = true;
  loop_cv_.notify_all();
}

void SecretsManager::drop(const std::string& container) {
  std::lock_guard<std::mutex> l(mu_);
  attach_queue_.erase(container);
  unconfirmed_.erase(container);
  released_[container] = now();
  if (auto it = managed_.find(container); it != managed_.end()) {
    forget(it);
    log_.debug("secrets: container " + container + " deleted, no longer managed");
  }
  if (auto p = pending_.find(container); p != pending_.end()) {
    secrets::RevokeRequest r{container, {}, p->second.kubernetes_token_file};
    for (const auto& [id, d] : p->second.leases) r.leases.push_back(id);
    queue_revocation(std::move(r));
    pending_.erase(p);
  }
  update_gauge();
}

Result<size_t> SecretsManager::revoke(const secrets::RevokeRequest& r) {
  secrets::RevokeRequest all = r;
  std::shared_ptr<secrets::SecretSource> source;
  {
    std::unique_lock<std::mutex> l(mu_);
    if (!source_) return invalid("secrets.backend is not vault: runguardd holds no Vault leases to revoke");
    source = source_;
    written_.wait(l, [&] { return writing_ != r.container; });  // no file written after the reply
    if (auto it = managed_.find(r.container); it != managed_.end()) {
      for (const auto& f : it->second.record.files) all.leases.push_back(f.lease_id);
      for (const auto& l : it->second.superseded) all.leases.push_back(l);
      if (all.kubernetes_token_file.empty()) all.kubernetes_token_file = it->second.record.kubernetes_token_file;
      managed_.erase(it);
    }
    if (auto p = pending_.find(r.container); p != pending_.end()) {
      for (const auto& [id, d] : p->second.leases) all.leases.push_back(id);
      if (all.kubernetes_token_file.empty()) all.kubernetes_token_file = p->second.kubernetes_token_file;
      pending_.erase(p);
    }
    attach_queue_.erase(r.container);
    unconfirmed_.erase(r.container);
    released_[r.container] = now();
    update_gauge();
  }
  dedupe(all.leases);
  Status s = source->revoke(all);
  if (!all.leases.empty()) metrics_.add("runguard_secret_revocations_total", {{"result", s.is_ok() ? "ok" : "error"}}, all.leases.size());
  if (!s.is_ok()) {
    log_.warning("secrets: container " + r.container + ": revoking " + std::to_string(all.leases.size()) + " leases: " + s.message() +
                 " (retrying in the background)");
    std::lock_guard<std::mutex> l(mu_);
    size_t queued = revocations_.size();
    queue_revocation(all);
    if (revocations_.size() > queued) revocations_.back().attempts = 1;
    return s;
  }
  log_.info("secrets: container " + r.container + ": revoked " + std::to_string(all.leases.size()) + " leases");
  return all.leases.size();
}

void SecretsManager::request_scan() {
  {
    std::lock_guard<std::mutex> l(mu_);
    scan_requested_ = true;
  }
  std::lock_guard<std::mutex> l(loop_mu_);
  wake_ = true;
  loop_cv_.notify_all();
}

void SecretsManager::scan() {
  size_t added = 0;
  for (const auto& id : record_dirs(options_.state_dir)) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (managed_.count(id) != 0 || unconfirmed_.count(id) != 0 || released_.count(id) != 0) continue;
    }
    auto rec = secrets::read_secrets_record(container_dir(id));
    if (!rec.is_ok() || rec->container != id) {
      log_.warning("secrets: not managing container " + id + ": " +
                   (rec.is_ok() ? secrets::secrets_record_path(container_dir(id)) + " names container " + rec->container : rec.status().message()));
      continue;
    }
    if (!settled(id, *rec)) {
      std::lock_guard<std::mutex> l(mu_);
      unconfirmed_.insert(id);  // a create may still be writing it: wait for attached, or its age
      continue;
    }
    adopt(id, std::move(rec).value(), false, now());
    ++added;
  }
  if (added > 0) log_.info("secrets: managing " + std::to_string(added) + " containers' leases found under " + options_.state_dir);
}

bool SecretsManager::settled(const std::string& id, const secrets::SecretsRecord& rec) const {
  // The runtime writes the record before the fetch (no leases yet) and once more with them.
  for (const auto& f : rec.files) {
    if (!f.lease_id.empty()) return true;
  }
  auto grace = std::chrono::duration_cast<std::chrono::seconds>(options_.pending_grace).count();
  return age_seconds(secrets::secrets_record_path(container_dir(id))) >= grace;
}

void SecretsManager::confirm_scanned(Clock::time_point at) {
  std::set<std::string> ids;
  {
    std::lock_guard<std::mutex> l(mu_);
    ids = unconfirmed_;
  }
  for (const auto& id : ids) {
    auto rec = secrets::read_secrets_record(container_dir(id));
    bool gone = !rec.is_ok() || rec->container != id;
    if (!gone && !settled(id, *rec)) continue;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (unconfirmed_.erase(id) == 0 || released_.count(id) != 0) continue;  // attached, dropped or revoked meanwhile
    }
    if (!gone) adopt(id, std::move(rec).value(), false, at);
  }
}

void SecretsManager::take_attached(Clock::time_point at) {
  std::set<std::string> ids;
  {
    std::lock_guard<std::mutex> l(mu_);
    ids.swap(attach_queue_);
    for (const auto& id : ids) {
      unconfirmed_.erase(id);
      released_.erase(id);  // created again with the same id
    }
  }
  for (const auto& id : ids) {
    auto rec = secrets::read_secrets_record(container_dir(id));
    if (!rec.is_ok() || rec->container != id) {
      // Its pending leases stay pending: the grace revokes them.
      log_.warning("secrets: container " + id + " attached, but " +
                   (rec.is_ok() ? secrets::secrets_record_path(container_dir(id)) + " names container " + rec->container : rec.status().message()));
      continue;
    }
    adopt(id, std::move(rec).value(), true, at);
  }
}

void SecretsManager::adopt(const std::string& id, secrets::SecretsRecord record, bool attached, Clock::time_point at) {
  std::lock_guard<std::mutex> l(mu_);
  auto [it, inserted] = managed_.try_emplace(id);
  Container& c = it->second;
  std::map<std::string, LeaseTimes> known = std::move(c.leases);
  c.leases.clear();
  c.record = std::move(record);
  if (inserted) c.refreshed_at = at;
  auto p = pending_.find(id);
  for (const auto& f : c.record.files) {
    if (f.lease_id.empty()) continue;
    LeaseTimes t;
    if (auto k = known.find(f.lease_id); k != known.end()) {
      t = k->second;
    } else if (p != pending_.end() && p->second.leases.count(f.lease_id) != 0) {
      t.granted_at = p->second.at;
      t.increment = p->second.leases[f.lease_id];
    } else {
      // A lease the agent did not hand out: obtained just now (attached) or at an unknown time
      // (scan), then renewed at once.
      t.granted_at = attached ? at : at - std::chrono::seconds(f.lease_duration);
      t.increment = f.lease_duration;
    }
    c.leases[f.lease_id] = t;
    if (p != pending_.end()) p->second.leases.erase(f.lease_id);
  }
  if (p != pending_.end() && (attached || p->second.leases.empty())) {
    if (!p->second.leases.empty()) {
      log_.info("secrets: container " + id + ": revoking " + std::to_string(p->second.leases.size()) +
                " fetched leases its record does not use");
      secrets::RevokeRequest r{id, {}, p->second.kubernetes_token_file};
      for (const auto& [lease, d] : p->second.leases) r.leases.push_back(lease);
      queue_revocation(std::move(r));
    }
    pending_.erase(p);
  }
  if (inserted) log_.debug("secrets: managing container " + id + " (" + std::to_string(c.leases.size()) + " leases)");
  update_gauge();
}

void SecretsManager::expire_pending(Clock::time_point at) {
  std::lock_guard<std::mutex> l(mu_);
  std::erase_if(released_, [&](const auto& r) { return at - r.second >= options_.pending_grace; });
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (at - it->second.at < options_.pending_grace) {
      ++it;
      continue;
    }
    log_.info("secrets: container " + it->first + ": " + std::to_string(it->second.leases.size()) + " leases fetched " +
              std::to_string(std::chrono::duration_cast<std::chrono::seconds>(options_.pending_grace).count()) +
              " s ago were never attached (the create failed); revoking them");
    secrets::RevokeRequest r{it->first, {}, it->second.kubernetes_token_file};
    for (const auto& [lease, d] : it->second.leases) r.leases.push_back(lease);
    queue_revocation(std::move(r));
    it = pending_.erase(it);
  }
}

void SecretsManager::forget_vanished() {
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [id, c] : managed_) ids.push_back(id);
  }
  for (const auto& id : ids) {
    if (nsutil::path_exists(secrets::secrets_record_path(container_dir(id)))) continue;
    std::lock_guard<std::mutex> l(mu_);
    if (auto it = managed_.find(id); it != managed_.end() && writing_ != id) {
      forget(it);
      log_.debug("secrets: container " + id + ": its secrets record is gone (deleted); no longer managed");
    }
  }
}

void SecretsManager::tick() {
  std::lock_guard<std::mutex> one(tick_mu_);
  Clock::time_point at = now();
  bool scan_now = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    std::swap(scan_now, scan_requested_);
  }
  if (scan_now) scan();
  take_attached(at);
  confirm_scanned(at);
  expire_pending(at);
  forget_vanished();
  if (std::shared_ptr<secrets::SecretSource> source = this->source()) {
    size_t budget = options_.max_calls_per_tick;
    for (const Renewal& r : due_renewals(at, budget)) {
      if (stopping_) return;
      renew(*source, r);
      --budget;
    }
    keep_logins_alive(*source);
    for (const std::string& id : due_refreshes(at, budget)) {
      if (stopping_) return;
      refresh(*source, id);
      --budget;
    }
    run_revocations(*source, budget);
  }
  write_dirty_records();
  std::lock_guard<std::mutex> l(mu_);
  update_gauge();
}

void SecretsManager::keep_logins_alive(secrets::SecretSource& source) {
  std::vector<std::pair<std::string, std::string>> holders;  // container, its token file
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [id, c] : managed_) {
      if (!c.leases.empty()) holders.emplace_back(id, c.record.kubernetes_token_file);
    }
  }
  for (auto it = login_failing_.begin(); it != login_failing_.end();) {  // forgotten containers
    bool held = std::any_of(holders.begin(), holders.end(), [&](const auto& h) { return h.first == *it; });
    it = held ? std::next(it) : login_failing_.erase(it);
  }
  for (const auto& [id, token_file] : holders) {
    if (stopping_) return;
    Status s = source.keep_alive(id, token_file);
    if (s.is_ok()) {
      if (login_failing_.erase(id) > 0) log_.info("container " + id + ": its Vault login is renewed again");
    } else if (login_failing_.insert(id).second) {
      log_.warning("container " + id + ": the Vault login holding its leases could not be renewed (they end with it): " + s.message());
    } else {
      log_.debug("container " + id + ": Vault login renewal still failing: " + s.message());
    }
  }
}

void SecretsManager::queue_revocation(secrets::RevokeRequest r) {
  dedupe(r.leases);
  if (r.leases.empty()) return;
  revocations_.push_back(Revocation{std::move(r), 0});
}

void SecretsManager::forget(std::map<std::string, Container>::iterator it) {
  queue_revocation(secrets::RevokeRequest{it->first, std::move(it->second.superseded), it->second.record.kubernetes_token_file});
  managed_.erase(it);
}

void SecretsManager::update_gauge() {
  size_t n = 0;
  for (const auto& [id, c] : managed_) {
    for (const auto& [lease, t] : c.leases) n += t.expired ? 0 : 1;
  }
  metrics_.set("runguard_secret_leases", {}, static_cast<double>(n));
}

SecretsManager::Stats SecretsManager::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  Stats s;
  s.managed = managed_.size();
  for (const auto& [id, c] : managed_) s.leases += c.leases.size();
  s.pending = pending_.size();
  s.queued_revocations = revocations_.size();
  return s;
}

bool SecretsManager::is_managed(const std::string& container) const {
  std::lock_guard<std::mutex> l(mu_);
  return managed_.count(container) != 0;
}

}  // namespace runguard::agent
