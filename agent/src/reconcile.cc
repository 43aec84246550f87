// Agent: what it learns from disk. The state directories of live containers (reconcile), the
// monitors' liveness, and the tail of the events file (restart replay).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <optional>
#include <set>
#include <string_view>

#include "agent.h"
#include "runguard/nsutil/fd.h"
#include "runguard/nsutil/fs.h"
#include "runguard/nsutil/proc_info.h"
#include "runguard/pipeline/runc_args.h"

namespace runguard::agent {
namespace {

constexpr size_t kMaxDecisionRecordBytes = 16u << 20;

// Subdirectories of `dir` whose names are valid container ids.
std::set<std::string> container_dirs(const std::string& dir) {
  std::set<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || !pipeline::check_container_id(name).is_ok()) continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st {};
      is_dir = ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir) out.insert(name);
  }
  ::closedir(d);
  return out;
}

// resources.json's monitorPid (pipeline/src/resources.h), 0 when there is none.
int read_monitor_pid(const std::string& container_dir) {
  auto text = nsutil::read_file(container_dir + "/resources.json", 1u << 20);
  if (!text.is_ok()) return 0;
  auto j = parse_json(*text, container_dir + "/resources.json");
  if (!j.is_ok() || !j->is_object()) return 0;
  auto it = j->find("monitorPid");
  if (it == j->end() || !it->is_number_integer()) return 0;
  int64_t pid = it->get<int64_t>();
  return pid > 0 && pid < (int64_t{1} << 22) ? static_cast<int>(pid) : 0;
}

// The monitor `pid` is alive and is runguard-monitor serving this container (its arguments name
// the container's monitor.json): a recycled pid is not mistaken for it.
bool monitor_alive(int pid, const std::string& container_dir, const std::string& proc_root) {
  if (pid <= 0) return false;
  auto cmdline = nsutil::read_proc_cmdline(pid, nsutil::kMaxCmdlineBytes, proc_root);
  if (!cmdline || cmdline->empty()) return false;  // gone, or a zombie
  const std::string& argv0 = cmdline->front();
  const std::string name = "runguard-monitor";
  bool is_monitor = argv0.size() >= name.size() && argv0.compare(argv0.size() - name.size(), name.size(), name) == 0;
  if (!is_monitor) return false;
  const std::string config = container_dir + "/monitor.json";
  for (const auto& arg : *cmdline) {
    if (arg == config) return true;
  }
  return false;
}

}  // namespace

void Agent::refresh_monitor(const std::string& id, int known_pid) {
  std::string dir = state_dir_of(id);
  int pid = known_pid > 0 ? known_pid : read_monitor_pid(dir);
  store_.set_monitor(id, pid, monitor_alive(pid, dir, options_.proc_root));
}

void Agent::publish_deleted(const std::string& id) {
  ++counters_.containers_deleted;
  log_.info("container " + id + " deleted");
  ring_->publish(lifecycle_event(id, "deleted", unix_now_ns(), hostname_));
}

void Agent::reconcile() {
  std::lock_guard<std::mutex> lock(reconcile_mu_);
  const std::string& root = settings_->state_dir;
  std::set<std::string> dirs = container_dirs(root);
  std::set<std::string> live;
  for (const auto& l : store_.live()) live.insert(l.id);

  // Containers created while the agent was down (or whose frame was lost).
  for (const auto& id : dirs) {
    if (live.count(id) != 0) continue;
    std::string path = state_dir_of(id) + "/decision.json";
    auto text = nsutil::read_file(path, kMaxDecisionRecordBytes);
    if (!text.is_ok()) continue;  // a create still in progress has no record yet
    auto j = parse_json(*text, path);
    if (!j.is_ok()) {
      log_.debug("reconcile: " + j.status().message());
      continue;
    }
    auto rec = record_from_json(*j, *text);
    if (!rec.is_ok() || rec->id != id) {
      log_.debug("reconcile: " + path + ": " + (rec.is_ok() ? "names container " + rec->id : rec.status().message()));
      continue;
    }
    if (auto known = store_.get(id); known && known->decided_at_ns == rec->decided_at_ns && known->state != "created") {
      continue;  // the record of a container already seen deleted, its directory not yet gone
    }
    rec->state = "created";  // it has a state directory
    store_.put(std::move(rec).value());
  }

  int64_t now = unix_now_ns();
  int64_t grace = static_cast<int64_t>(options_.deleted_grace.count()) * 1000000;
  for (const auto& l : store_.live()) {
    if (dirs.count(l.id) != 0) {
      refresh_monitor(l.id, l.monitor_pid);
    } else if (now - l.learned_at_ns >= grace && !nsutil::path_exists(state_dir_of(l.id))) {
      if (store_.mark_deleted(l.id, now)) publish_deleted(l.id);
    }
  }
  update_gauges();
}

namespace {

// Reads [from, end of file) of `fd`, at most `max_bytes` (the last ones when there is more);
// from the first complete line on when it does not start at `from`, up to the last complete
// line. `next` gets the offset just past what was returned (where a later read continues).
std::string read_lines(int fd, off_t from, off_t size, size_t max_bytes, off_t& next) {
  off_t start = from;
  bool cut = false;
  if (size - start > static_cast<off_t>(max_bytes)) {
    start = size - static_cast<off_t>(max_bytes);
    cut = true;
  }
  std::string buf(static_cast<size_t>(std::max<off_t>(size - start, 0)), '\0');
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::pread(fd, buf.data() + got, buf.size() - got, start + static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // truncated (rotated) meanwhile: what was read is still whole lines
    got += static_cast<size_t>(n);
  }
  buf.resize(got);
  size_t last_nl = buf.rfind('\n');
  buf.resize(last_nl == std::string::npos ? 0 : last_nl + 1);  // a line still being written is left for later
  next = start + static_cast<off_t>(buf.size());
  if (cut) {  // the first line is probably cut
    size_t nl = buf.find('\n');
    buf.erase(0, nl == std::string::npos ? buf.size() : nl + 1);
  }
  return buf;
}

// Opens the events file for reading; nullopt (after `warn` was told why, unless it does not
// exist) when it cannot be read.
std::optional<nsutil::UniqueFd> open_events(const std::string& path, struct stat& st, const std::function<void(std::string)>& warn) {
  nsutil::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) {
    if (errno != ENOENT) warn("cannot replay events from " + path + ": " + std::strerror(errno));
    return std::nullopt;
  }
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    warn("cannot replay events from " + path + ": not a regular file");
    return std::nullopt;
  }
  return fd;
}

size_t line_hash(const Json& line) { return std::hash<std::string>{}(dump_json(line)); }

}  // namespace

Agent::ReplayCount Agent::replay_lines(const std::string& buf, const std::string& path, bool skip_framed) {
  ReplayCount count;
  std::set<std::string>& recovered = replay_recovered_;  // denied records rebuilt from the file
  int64_t now = unix_now_ns();
  for (size_t pos = 0, end; pos < buf.size(); pos = end + 1) {
    end = buf.find('\n', pos);
    if (end == std::string::npos) break;  // a line still being written
    std::string_view line(buf.data() + pos, end - pos);
    if (line.empty()) continue;
    auto j = parse_json(line, path);
    auto e = j.is_ok() ? event_from_line(*j, std::string(line), now) : Result<Event>(j.status());
    if (!e.is_ok()) {
      ++count.skipped;
      continue;
    }
    if (skip_framed && !caught_up(line_hash(*j))) continue;  // its frame already brought it
    if (e->kind == EventKind::kDecision && !e->container.empty()) {
      // Refusals leave no state directory: the events file is where they are remembered.
      if (e->action == "denied") {
        auto rec = record_from_decision_event(*j);
        if (rec.is_ok()) {
          if (store_.put_if_absent(rec.value())) recovered.insert(rec->id);
          else if (recovered.count(rec->id) != 0) store_.put(std::move(rec).value());
        }
      } else if (recovered.count(e->container) != 0 && store_.erase_if(e->container, "denied")) {
        recovered.erase(e->container);  // allowed later: the refusal is history
      }
    }
    ring_->publish(std::move(e).value());
    ++count.replayed;
  }
  counters_.events_replayed += count.replayed;
  if (count.skipped > 0) log_.warning("skipped " + std::to_string(count.skipped) + " unreadable lines replaying " + path);
  return count;
}

void Agent::replay_events_file() {
  const std::string& path = settings_->events_path;
  auto warn = [this](const std::string& m) { log_.warning(m); };
  struct stat st {};
  auto fd = open_events(path, st, warn);
  if (!fd) return;  // catch_up_events_file() reads it from the start if it appears
  off_t next = 0;
  std::string buf = read_lines(fd->get(), 0, st.st_size, options_.events_tail_bytes, next);
  events_pos_ = EventsFilePos{true, st.st_dev, st.st_ino, next};
  replay_lines(buf, path, false);
}

void Agent::catch_up_events_file() {
  const std::string& path = settings_->events_path;
  auto warn = [this](const std::string& m) { log_.warning(m); };
  struct stat st {};
  if (auto fd = open_events(path, st, warn)) {
    // The same file: what was appended after the replay. Rotated, truncated or new: all of it
    // (it was written after the replay read the old one).
    bool same = events_pos_.known && events_pos_.dev == st.st_dev && events_pos_.ino == st.st_ino && st.st_size >= events_pos_.offset;
    off_t from = same ? events_pos_.offset : 0;
    off_t next = from;
    std::string buf = st.st_size > from ? read_lines(fd->get(), from, st.st_size, options_.events_tail_bytes, next) : std::string();
    ReplayCount c = replay_lines(buf, path, true);
    if (c.replayed > 0) log_.info("caught up " + std::to_string(c.replayed) + " events appended to " + path + " while starting");
  }
  replay_recovered_.clear();
  std::lock_guard<std::mutex> lock(catch_up_mu_);
  catching_up_ = false;
  framed_.clear();
  caught_up_expires_ = std::chrono::steady_clock::now() + kCaughtUpMemory;
}

bool Agent::caught_up(size_t hash) {
  std::lock_guard<std::mutex> lock(catch_up_mu_);
  if (auto it = framed_.find(hash); it != framed_.end()) {
    framed_.erase(it);
    return false;
  }
  caught_up_.insert(hash);
  return true;
}

bool Agent::first_sighting(const Json& line) {
  std::lock_guard<std::mutex> lock(catch_up_mu_);
  if (!catching_up_ && caught_up_.empty()) return true;  // the steady state: no hashing
  if (!catching_up_ && std::chrono::steady_clock::now() > caught_up_expires_) {
    caught_up_.clear();
    return true;
  }
  size_t hash = line_hash(line);
  if (auto it = caught_up_.find(hash); it != caught_up_.end()) {
    caught_up_.erase(it);  // the catch-up published it already
    return false;
  }
  if (catching_up_) framed_.insert(hash);  // the catch-up must not publish it again
  return true;
}

void Agent::update_gauges() {
  Store::Counts c = store_.counts();
  metrics_.set("runguard_containers_known", {}, static_cast<double>(c.known()));
  metrics_.set("runguard_containers_monitored", {}, static_cast<double>(c.monitored));
  metrics_.set("runguard_events_ring_size", {}, static_cast<double>(ring_->size()));
}

void Agent::reconcile_loop() {
  std::unique_lock<std::mutex> lock(loop_mu_);
  while (!loop_stop_) {
    loop_cv_.wait_for(lock, options_.reconcile_interval, [this] { return loop_stop_; });
    if (loop_stop_) break;
    lock.unlock();
    reconcile();
    lock.lock();
  }
}

}  // namespace runguard::agent
