#include "userns_setup.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "runguard/common/strings.h"
#include "runguard/nsutil/fs.h"
#include "runguard/nsutil/idmap.h"
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

UsernsSetup::UsernsSetup(const policy::Policy& p, const RuncArgs& args, std::string dir)
    : policy_(p), args_(args), dir_(std::move(dir)) {}

Status UsernsSetup::acquire(const Json& spec, policy::ContainerContext& ctx) {
  policy::UsernsPlan plan = policy::plan_user_namespace(policy_, spec, ctx);
  if (plan.kind == policy::UsernsPlan::kNone) return Status::ok();
  const auto& c = policy::select_controls(policy_, ctx, nullptr).user_namespace;
  nsutil::UsernsClaim claim;
  claim.member = {ctx.id, args_.root, dir_, static_cast<int64_t>(std::time(nullptr))};
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
  return Status::ok();
}

Status UsernsSetup::idmap_rootfs(Json& spec, const policy::ContainerContext& ctx) {
  if (!allocated_ || policy_.mode != policy::Mode::kEnforce) return Status::ok();
  // Only when the decision gave the container our mapping (an override may have switched the
  // control off for it, or the spec's own namespace was kept).
  auto uids = policy::spec_mappings(spec, false);
  auto gids = policy::spec_mappings(spec, true);
  if (uids.size() != 1 || uids.front().host_id != ctx.userns->host_id) return Status::ok();
  const Json* root = spec.contains("root") && spec["root"].is_object() && spec["root"].contains("path") ? &spec["root"]["path"] : nullptr;
  std::string path = root != nullptr && root->is_string() ? root->get<std::string>() : "rootfs";
  if (path.empty() || path[0] != '/') path = ctx.bundle + "/" + path;
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
// storage: 0700). So the idmapped rootfs is mounted at <stateDir>/<id>/rootfs, with stateDir and
// the container's directory searchable (their files stay 0600), and root.path names it.
Result<std::string> UsernsSetup::mount_point(uint32_t uid, uint32_t gid) {
  std::string at = dir_ + "/rootfs";
  RG_RETURN_IF_ERROR(nsutil::make_dirs(at, 0755));
  for (const std::string& d : {policy_.state_dir, dir_}) {
    if (::chmod(d.c_str(), 0711) != 0) return io_error("chmod " + d, errno);
  }
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
  record_ = ResourcesRecord{};
  acquired_ = allocated_ = false;
}

}  // namespace runguard::pipeline::internal
