#include "runguard/pipeline/release.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <thread>

#include "runguard/nsutil/fs.h"
#include "runguard/nsutil/mountinfo.h"
#include "runguard/nsutil/proc_info.h"
#include "runguard/nsutil/userns_alloc.h"
#include "monitor_setup.h"
#include "resources.h"
#include "secrets_setup.h"

namespace runguard::pipeline {
namespace internal {

namespace {

std::string read_link(const std::string& path) {
  char buf[64];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n > 0 && static_cast<size_t>(n) < sizeof buf ? std::string(buf, static_cast<size_t>(n)) : "";
}

std::string own_pid_namespace(const std::string& proc_root) { return read_link(proc_root + "/self/ns/pid"); }

// Whether <proc_root> numbers pids in this process's pid namespace: its "self" names getpid().
// A procfs mounted from another pid namespace (a parent's /proc inside a child namespace) names
// this process by another number, or not at all.
bool proc_numbers_like_us(const std::string& proc_root) { return read_link(proc_root + "/self") == std::to_string(::getpid()); }

}  // namespace

void record_creator(ResourcesRecord& r, const std::string& proc_root) {
  r.creator_pid = 0;
  r.creator_start = 0;
  r.creator_pidns.clear();
  // Pid and start time from the same stat line, so they are one process in one numbering.
  auto stat = nsutil::read_file(proc_root + "/self/stat", 4096);
  if (!stat.is_ok() || !proc_numbers_like_us(proc_root)) return;  // cannot be checked later
  long pid = std::strtol(stat->c_str(), nullptr, 10);
  auto start = nsutil::parse_proc_stat_start_time(*stat);
  std::string ns = own_pid_namespace(proc_root);
  if (pid != ::getpid() || !start || *start == 0 || ns.empty()) return;
  r.creator_pid = static_cast<int>(pid);
  r.creator_start = *start;
  r.creator_pidns = ns;
}

std::optional<bool> creator_alive(const ResourcesRecord& r, const std::string& proc_root) {
  if (r.creator_pid <= 0 || r.creator_pidns.empty() || r.creator_pidns != own_pid_namespace(proc_root)) return std::nullopt;
  if (!proc_numbers_like_us(proc_root)) return std::nullopt;
  auto start = nsutil::read_proc_start_time(r.creator_pid, proc_root);
  return start.has_value() && *start == r.creator_start;
}

bool same_creator(const ResourcesRecord& a, const ResourcesRecord& b) {
  return a.creator_pid == b.creator_pid && a.creator_start == b.creator_start && a.creator_pidns == b.creator_pidns;
}

Result<nsutil::UniqueFd> lock_claims(const std::string& state_dir, std::chrono::milliseconds timeout) {
  nsutil::UniqueFd fd(::open(state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return io_error("open " + state_dir + " to lock it", errno);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::chrono::milliseconds pause(1);
  for (;;) {
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) return fd;
    if (errno != EWOULDBLOCK && errno != EINTR) return io_error("flock " + state_dir, errno);
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return Status(Code::kUnavailable, "timed out after " + std::to_string(timeout.count()) + "ms waiting for the claim lock on " +
                                            state_dir + "; another runguard holds it (find it with `fuser " + state_dir +
                                            "`); retry when it finishes");
    }
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, std::chrono::milliseconds(20));
  }
}

std::string resources_path(const std::string& dir) { return dir + "/resources.json"; }

Status write_resources(const std::string& dir, const ResourcesRecord& r) {
  Json j = {{"version", 1}, {"runtimeRoot", r.runtime_root}, {"bundle", r.bundle}};
  if (!r.userns_dir.empty()) j["userns"] = {{"dir", r.userns_dir}};
  if (r.rootfs) j["rootfs"] = nsutil::idmapped_rootfs_to_json(*r.rootfs);
  if (!r.rootfs_pending.empty()) j["rootfsPending"] = r.rootfs_pending;
  if (r.monitor_pid > 0) j["monitorPid"] = r.monitor_pid;
  if (r.creator_pid > 0) j["creator"] = {{"pid", r.creator_pid}, {"startTime", r.creator_start}, {"pidNamespace", r.creator_pidns}};
  return nsutil::write_file_atomic(resources_path(dir), dump_json(j, 2) + "\n", 0600);
}

Result<ResourcesRecord> read_resources(const std::string& dir) {
  ResourcesRecord r;
  std::string path = resources_path(dir);
  if (!nsutil::path_exists(path)) return r;
  RG_ASSIGN_OR_RETURN(std::string text, nsutil::read_file(path, 1u << 20));
  RG_ASSIGN_OR_RETURN(Json j, parse_json(text, path));
  if (!j.is_object()) return invalid(path + ": expected an object");
  if (auto u = j.find("userns"); u != j.end() && u->is_object() && u->contains("dir") && (*u)["dir"].is_string()) {
    r.userns_dir = (*u)["dir"];
  }
  if (auto m = j.find("rootfs"); m != j.end()) {
    auto fs = nsutil::idmapped_rootfs_from_json(*m);
    if (!fs.is_ok()) return Status(fs.status().code(), path + ": rootfs: " + fs.status().message());
    r.rootfs = *fs;
  }
  // A pid is 1..INT_MAX (pid_max is at most 2^22): a larger number would wrap into another
  // process's pid or a negative one (fuzz_replies); such a field is ignored like a malformed one.
  auto pid_of = [](const Json& v) {
    return v.is_number_integer() && v > 0 && v <= std::numeric_limits<int>::max() ? v.get<int>() : 0;
  };
  if (auto mp = j.find("monitorPid"); mp != j.end()) r.monitor_pid = pid_of(*mp);
  if (auto rr = j.find("runtimeRoot"); rr != j.end() && rr->is_string()) r.runtime_root = *rr;
  if (auto b = j.find("bundle"); b != j.end() && b->is_string()) r.bundle = *b;
  if (auto p = j.find("rootfsPending"); p != j.end() && p->is_string()) r.rootfs_pending = *p;
  if (auto c = j.find("creator"); c != j.end() && c->is_object()) {
    auto pid = c->find("pid"), start = c->find("startTime"), ns = c->find("pidNamespace");
    if (pid != c->end() && pid_of(*pid) > 0 && start != c->end() && start->is_number_unsigned() &&
        ns != c->end() && ns->is_string()) {
      r.creator_pid = *pid;
      r.creator_start = *start;
      r.creator_pidns = *ns;
    }
  }
  return r;
}

Status release_if_same_creator(const std::string& state_dir, const std::string& id, const ResourcesRecord& checked,
                               const ReleaseCaller& caller) {
  std::string dir = state_dir + "/" + id;
  if (!nsutil::path_exists(dir)) return Status::ok();
  auto now = read_resources(dir);
  // An unreadable record goes to release_container, which keeps the directory and says why.
  if (now.is_ok() && !same_creator(*now, checked)) return Status::ok();  // claimed since by another create
  return release_container(state_dir, id, caller);
}

namespace {

// A crash between mounting and recording leaves only the path: the mount on top of it is ours
// when it is idmapped (the bind form) or an overlay whose layers are the relative scratch names
// runguard mounts them with (an engine's overlay names absolute layer paths).
Status release_pending_rootfs(const std::string& target) {
  auto mounts = nsutil::read_mountinfo();
  if (!mounts.is_ok()) return mounts.status();
  auto top = nsutil::top_mount_at(*mounts, target);
  if (!top) return Status::ok();
  bool ours = top->options.find("idmapped") != std::string::npos;
  if (!ours && top->fstype == "overlay") {
    auto layers = nsutil::overlay_layers(top->super_options);
    ours = layers.is_ok() && !layers->lower.empty() && !layers->lower.front().empty() && layers->lower.front()[0] != '/';
  }
  if (!ours) return Status::ok();
  if (::umount2(target.c_str(), MNT_DETACH) != 0 && errno != EINVAL) return io_error("unmount " + target, errno);
  return Status::ok();
}

}  // namespace

Status detach_mounts_under(const std::string& dir) {
  for (int pass = 0; pass < 8; ++pass) {
    RG_ASSIGN_OR_RETURN(auto mounts, nsutil::read_mountinfo());
    auto under = nsutil::mounts_under(mounts, dir);
    if (under.empty()) return Status::ok();
    for (const auto& m : under) (void)::umount2(m.mount_point.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
  }
  return Status(Code::kIo, dir + ": mounts below it could not be detached; unmount them and run runguard delete again");
}

}  // namespace internal

Status release_container(const std::string& state_dir, const std::string& id, const ReleaseCaller& caller) {
  std::string dir = state_dir + "/" + id;
  if (!nsutil::path_exists(dir)) return Status::ok();
  Status first = Status::ok();
  auto keep = [&](Status s) {
    if (first.is_ok() && !s.is_ok()) first = std::move(s);
  };
  auto rec = internal::read_resources(dir);
  if (rec.is_ok()) {
    if (caller.runtime_root && !rec->bundle.empty() && rec->runtime_root != *caller.runtime_root) return Status::ok();
    if (caller.bundle && !rec->bundle.empty() && !nsutil::same_file(rec->bundle, *caller.bundle)) return Status::ok();
  }
  if (!rec.is_ok()) {
    keep(rec.status());
  } else {
    if (rec->monitor_pid > 0) internal::stop_monitor(rec->monitor_pid, dir);
    keep(internal::release_secrets(dir));  // leases revoked, tmpfs zeroed and unmounted
    if (rec->rootfs) keep(nsutil::undo_idmapped_rootfs(*rec->rootfs));
    if (!rec->rootfs_pending.empty()) keep(internal::release_pending_rootfs(rec->rootfs_pending));
    if (!rec->userns_dir.empty()) keep(nsutil::UsernsAllocator(rec->userns_dir).release(id));
  }
  // A record that cannot be read keeps the directory: it is the only trace of what to release.
  if (!rec.is_ok()) return first;
  // Whatever is still mounted below the directory is runguard's (scratch layer clones a crash
  // left, a rootfs whose mount id no longer matched): detach it before removing anything, and
  // keep the directory and its record if that fails — remove_tree cannot see a bind mount of the
  // same filesystem and would walk into the container's files.
  Status detached = internal::detach_mounts_under(dir);
  keep(detached);
  if (detached.is_ok()) keep(nsutil::remove_tree(dir));
  return first;
}

}  // namespace runguard::pipeline
