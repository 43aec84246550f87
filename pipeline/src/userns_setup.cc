#include "userns_setup.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "runguard/common/strings.h"
#include "runguard/nsutil/fs.h"
#include "runguard/nsutil/idmap.h"
#include "runguard/nsutil/safe_open.h"
#include "runguard/nsutil/userns_alloc.h"
#include "runguard/policy/engine.h"
#include "runguard/pipeline/userns_admin.h"
#include "runguard/policy/userns.h"

namespace runguard::pipeline::internal {
namespace {

// Subordinate id ranges handed to users for rootless containers ("name:start:count" lines of
// /etc/subuid and /etc/subgid): never given to a container.
std::vector<nsutil::IdRange> subordinate_ranges() {
  std::vector<nsutil::IdRange> out;
  for (const char* file : {"/etc/subuid", "/etc/subgid"}) {
    auto text = nsutil::read_file(file, 1u << 20);
    if (!text.is_ok()) continue;
    for (const auto& line : split(*text, '\n')) {
      auto f = split(line, ':');
      if (f.size() != 3) continue;
      auto start = parse_u32(f[1]);
      auto count = parse_u32(f[2]);
      if (start && count && *count > 0) out.push_back({*start, *count});
    }
  }
  return out;
}

std::vector<nsutil::IdRange> host_ranges(const policy::UsernsPlan& plan) {
  std::vector<nsutil::IdRange> out;
  for (const auto* maps : {&plan.uid_maps, &plan.gid_maps}) {
    for (const auto& m : *maps) {
      nsutil::IdRange r{m.host_id, m.size};
      if (std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
    }
  }
  return out;
}


}  // namespace

UsernsSetup::UsernsSetup(const policy::Policy& p, const RuncArgs& args, std::string dir, ResourcesRecord& record)
    : policy_(p), args_(args), dir_(std::move(dir)), record_(record) {}

namespace {

// Whether `path` is <stateDir>/<id>/mnt/rootfs, the mount point idmap_rootfs gives runc, under
// `state_dir` as written or as resolved (the mount's recorded target is the resolved path).
bool is_runguard_mount_point(const std::string& path, const std::string& state_dir) {
  std::vector<std::string> dirs = {state_dir};
  if (auto real = nsutil::real_path(state_dir); real.is_ok() && *real != state_dir) dirs.push_back(*real);
  const std::string leaf = "/mnt/rootfs";
  for (const auto& d : dirs) {
    if (path.size() <= d.size() + 1 + leaf.size() || path.compare(0, d.size() + 1, d + "/") != 0 ||
        path.compare(path.size() - leaf.size(), leaf.size(), leaf) != 0) {
      continue;
    }
    std::string id = path.substr(d.size() + 1, path.size() - leaf.size() - d.size() - 1);
    if (check_container_id(id).is_ok()) return true;
  }
  return false;
}

}  // namespace

Status forget_previous_userns(Json& spec, const std::string& state_dir) {
  auto a = spec.find("annotations");
  if (a == spec.end() || !a->is_object()) return Status::ok();
  auto root = a->find(kOriginalRootAnnotation);
  if (root == a->end()) return Status::ok();
  const Json* current = spec.contains("root") && spec["root"].is_object() && spec["root"].contains("path") ? &spec["root"]["path"] : nullptr;
  if (!root->is_string() || current == nullptr || !current->is_string() ||
      !is_runguard_mount_point(current->get<std::string>(), state_dir)) {
    return invalid(std::string("annotation ") + kOriginalRootAnnotation + " is runguard's record of a root.path it replaced, but root.path " +
                   (current != nullptr ? dump_json(*current) : std::string("(none)")) + " is not runguard's mount point under " +
                   state_dir + "; an annotation may not choose the container's root filesystem: remove it");
  }
  spec["root"]["path"] = *root;
  a->erase(root);
  if (a->empty()) spec.erase("annotations");
  auto l = spec.find("linux");
  if (l == spec.end() || !l->is_object()) return Status::ok();
  l->erase("uidMappings");
  l->erase("gidMappings");
  if (auto ns = l->find("namespaces"); ns != l->end() && ns->is_array()) {
    for (size_t i = ns->size(); i-- > 0;) {
      const Json& n = (*ns)[i];
      if (n.is_object() && n.value("type", std::string()) == "user" && !n.contains("path")) ns->erase(i);
    }
  }
  return Status::ok();
}

Status UsernsSetup::acquire(const Json& spec, policy::ContainerContext& ctx) {
  original_uids_ = policy::spec_mappings(spec, false);
  original_gids_ = policy::spec_mappings(spec, true);
  policy::UsernsPlan plan = policy::plan_user_namespace(policy_, spec, ctx);
  if (plan.kind == policy::UsernsPlan::kNone) return Status::ok();
  const auto& c = policy::select_controls(policy_, ctx, nullptr).user_namespace;
  nsutil::UsernsClaim claim;
  claim.member = {ctx.id, args_.root, dir_, boottime_seconds(), current_boot_id()};
  claim.max_fixed_size = c.range_size;  // the control refuses larger own mappings already
  claim.group = ctx.sandbox_id;  // a pod's containers share one range
  if (plan.kind == policy::UsernsPlan::kReserve) claim.fixed = host_ranges(plan);
  nsutil::UsernsPool pool{c.first_host_id, c.range_size, c.count, subordinate_ranges()};

  record_.userns_dir = policy_.lib_dir + "/userns";
  // Recorded first: a crash after the allocator's write must still find the range to release.
  RG_RETURN_IF_ERROR(write_resources(dir_, record_));
  nsutil::UsernsAllocator alloc(record_.userns_dir);
  auto a = alloc.acquire(claim, pool, userns_member_alive);
  if (!a.is_ok()) {
    Code code = a.status().code() == Code::kIo ? Code::kIo : Code::kInvalidArgument;
    return Status(code, "user namespace for container " + ctx.id + ": " + a.status().message(), a.status().error_number());
  }
  acquired_ = true;
  const nsutil::IdRange& r = a->ranges.front();
  ctx.userns = policy::ContainerContext::UsernsRange{r.start, r.size, a->fixed};
  allocated_ = !a->fixed;
  allocated_range_ = r;
  return Status::ok();
}

// The mappings the decision wrote must be the range this create holds: the spec's own (kept or
// reserved) or exactly [0 -> the allocated range]. Anything else — mappings with no allocation
// behind them — would put the container on ids another container may hold: refused.
Status UsernsSetup::check_mappings(const Json& result) const {
  auto uids = policy::spec_mappings(result, false);
  auto gids = policy::spec_mappings(result, true);
  if (uids == original_uids_ && gids == original_gids_) return Status::ok();
  if (allocated_ && uids.size() == 1 && gids == uids && uids.front().container_id == 0 &&
      uids.front().host_id == allocated_range_.start && uids.front().size == allocated_range_.size) {
    return Status::ok();
  }
  return Status(Code::kInternal, "user namespace mappings of container " + args_.id() +
                                     " do not match the range runguard allocated for it; refusing it (a runguard bug: please report it)");
}

Status UsernsSetup::idmap_rootfs(Json& spec, const policy::ContainerContext& ctx) {
  RG_RETURN_IF_ERROR(check_mappings(spec));
  if (!allocated_ || policy_.mode != policy::Mode::kEnforce) return Status::ok();
  // Only when the decision gave the container our mapping (an override may have switched the
  // control off for it).
  auto uids = policy::spec_mappings(spec, false);
  auto gids = policy::spec_mappings(spec, true);
  if (uids == original_uids_) return Status::ok();
  const Json* root = spec.contains("root") && spec["root"].is_object() && spec["root"].contains("path") ? &spec["root"]["path"] : nullptr;
  std::string path = root != nullptr && root->is_string() ? root->get<std::string>() : "rootfs";
  if (path.empty() || path[0] != '/') path = ctx.bundle + "/" + path;
  // runc refuses a rootfs path with a symlink in it; runc now gets runguard's mount point
  // instead, so runguard must refuse the same or it would let through what runc does not.
  if (Status s = nsutil::check_no_symlinks(path); !s.is_ok()) {
    return Status(s.code() == Code::kIo ? Code::kIo : s.code() == Code::kNotFound ? Code::kNotFound : Code::kInvalidArgument,
                  "rootfs " + path + ": " + s.message() +
                      (s.code() == Code::kInvalidArgument ? "; runc refuses a root.path with a symlink in it (\"invalid rootfs: not an "
                                                            "absolute path, or a symlink\"): point root.path at the real directory"
                                                          : ""),
                  s.error_number());
  }
  auto rootfs = nsutil::real_path(path);
  if (!rootfs.is_ok()) return Status(Code::kInvalidArgument, "rootfs " + path + ": " + rootfs.status().to_string());

  RG_ASSIGN_OR_RETURN(std::string at, mount_point(uids.front().host_id, gids.front().host_id));

  const auto& c = policy::select_controls(policy_, ctx, nullptr).user_namespace;
  nsutil::IdmapOptions opts;
  opts.mount_at = at;
  opts.scratch_dir = dir_ + "/idmap";
  opts.chown_fallback = c.fallback == policy::UserNamespaceControl::Fallback::kChown;
  opts.copy_dir = policy_.lib_dir + "/rootfs-copies/" + ctx.id;
  record_.rootfs_pending = at;
  RG_RETURN_IF_ERROR(write_resources(dir_, record_));
  auto m = nsutil::idmap_rootfs(*rootfs, uids, gids, opts);
  if (!m.is_ok()) {
    record_.rootfs_pending.clear();
    (void)write_resources(dir_, record_);
    Code code = m.status().code() == Code::kIo ? Code::kIo : Code::kInvalidArgument;
    return Status(code, m.status().message(), m.status().error_number());
  }
  record_.rootfs = *m;
  record_.rootfs_pending.clear();
  RG_RETURN_IF_ERROR(write_resources(dir_, record_));
  // A bundle may be run again (runc run under a service manager, restore): the original root
  // path, recorded here, lets the next create start from the spec as the engine wrote it.
  spec["annotations"][kOriginalRootAnnotation] = root != nullptr && root->is_string() ? *root : Json("rootfs");
  spec["root"]["path"] = m->target;
  keep_locked_bind_flags(spec, ctx.bundle);
  return Status::ok();
}

// Mount flags of a bind source become locked once the mount is in a user namespace's mount
// namespace: runc 1.1's read-only (or any flag) remount of the bind must repeat nosuid, nodev,
// noexec and noatime where the source has them, or the kernel refuses it with EPERM (CRI's
// /dev/shm from the sandbox, /etc/hosts on a nosuid /run). Adding them only tightens the mount.
void UsernsSetup::keep_locked_bind_flags(Json& spec, const std::string& bundle) {
  auto m = spec.find("mounts");
  if (m == spec.end() || !m->is_array()) return;
  static constexpr std::pair<unsigned long, const char*> kLocked[] = {
      {ST_NOSUID, "nosuid"}, {ST_NODEV, "nodev"}, {ST_NOEXEC, "noexec"}, {ST_NOATIME, "noatime"}};
  for (Json& mount : *m) {
    if (!mount.is_object() || !mount.contains("source") || !mount["source"].is_string()) continue;
    Json& opts = mount["options"];
    if (!opts.is_array()) {
      if (!opts.is_null()) continue;
      opts = Json::array();
    }
    bool bind = mount.value("type", std::string()) == "bind";
    for (const auto& o : opts) bind |= o == "bind" || o == "rbind";
    if (!bind) {
      if (opts.empty()) mount.erase("options");
      continue;
    }
    std::string src = mount["source"];
    if (!src.empty() && src[0] != '/') src = bundle + "/" + src;
    struct statvfs st {};
    if (::statvfs(src.c_str(), &st) != 0) continue;  // runc reports a missing source itself
    for (const auto& [flag, name] : kLocked) {
      if ((st.f_flag & flag) != 0 && std::find(opts.begin(), opts.end(), name) == opts.end()) opts.push_back(name);
    }
    if (opts.empty()) mount.erase("options");
  }
}

// runc's init resolves root.path as the container's root, an unprivileged host id now, and
// engines keep rootfs paths below directories only root may search (containerd's bundles, podman's
// storage: 0700). So the idmapped rootfs is mounted at <stateDir>/<id>/mnt/rootfs: stateDir and
// the container's directory searchable by others (their files stay 0600), mnt/ owned by the
// container's root and 0700, so no other host user reaches the container's files through it.
Result<std::string> UsernsSetup::mount_point(uint32_t uid, uint32_t gid) {
  struct stat st {};
  if (::stat(policy_.state_dir.c_str(), &st) != 0) return io_error("stat " + policy_.state_dir, errno);
  if ((st.st_mode & S_IXOTH) == 0 && ::chmod(policy_.state_dir.c_str(), (st.st_mode & 07777) | S_IXGRP | S_IXOTH) != 0) {
    return io_error("chmod " + policy_.state_dir, errno);
  }
  if (::chmod(dir_.c_str(), 0711) != 0) return io_error("chmod " + dir_, errno);
  std::string mnt = dir_ + "/mnt", at = mnt + "/rootfs";
  RG_RETURN_IF_ERROR(nsutil::make_dirs(at, 0700));
  if (::chown(mnt.c_str(), uid, gid) != 0) return io_error("chown " + mnt, errno);
  RG_ASSIGN_OR_RETURN(std::string dir, nsutil::first_unsearchable_ancestor(at, uid, gid));
  if (!dir.empty()) {
    return invalid("the container's root user (host uid " + std::to_string(uid) + ") cannot search " + dir + " on the way to " + at +
                   "; make it searchable by others (chmod o+x " + dir + ") or move stateDir");
  }
  return at;
}

void UsernsSetup::undo() {
  if (record_.rootfs) (void)nsutil::undo_idmapped_rootfs(*record_.rootfs);
  if (acquired_) (void)nsutil::UsernsAllocator(record_.userns_dir).release(args_.id());
  record_.userns_dir.clear();
  record_.rootfs.reset();
  record_.rootfs_pending.clear();
  acquired_ = allocated_ = false;
}

}  // namespace runguard::pipeline::internal
