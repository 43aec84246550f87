#include "runguard/pipeline/release.h"

#include <sys/mount.h>

#include <cerrno>

#include "runguard/nsutil/fs.h"
#include "runguard/nsutil/mountinfo.h"
#include "runguard/nsutil/userns_alloc.h"
#include "monitor_setup.h"
#include "resources.h"
#include "secrets_setup.h"

namespace runguard::pipeline {
namespace internal {

std::string resources_path(const std::string& dir) { return dir + "/resources.json"; }

Status write_resources(const std::string& dir, const ResourcesRecord& r) {
  Json j = {{"version", 1}, {"runtimeRoot", r.runtime_root}, {"bundle", r.bundle}};
  if (!r.userns_dir.empty()) j["userns"] = {{"dir", r.userns_dir}};
  if (r.rootfs) j["rootfs"] = nsutil::idmapped_rootfs_to_json(*r.rootfs);
  if (!r.rootfs_pending.empty()) j["rootfsPending"] = r.rootfs_pending;
  if (r.monitor_pid > 0) j["monitorPid"] = r.monitor_pid;
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
  if (auto mp = j.find("monitorPid"); mp != j.end() && mp->is_number_integer() && *mp > 0) r.monitor_pid = *mp;
  if (auto rr = j.find("runtimeRoot"); rr != j.end() && rr->is_string()) r.runtime_root = *rr;
  if (auto b = j.find("bundle"); b != j.end() && b->is_string()) r.bundle = *b;
  if (auto p = j.find("rootfsPending"); p != j.end() && p->is_string()) r.rootfs_pending = *p;
  return r;
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
