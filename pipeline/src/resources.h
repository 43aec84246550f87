// Internal: the per-container resources record (<stateDir>/<id>/resources.json) that create
// writes and release_container() reads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runguard/common/json.h"
#include "runguard/common/status.h"
#include "runguard/nsutil/idmap.h"

namespace runguard::pipeline::internal {

struct ResourcesRecord {
  std::string runtime_root;                       // runc --root of the create ("" = runc's default)
  std::string bundle;                             // the bundle directory (resolved)
  std::string userns_dir;                         // allocator directory holding this container's range
  std::optional<nsutil::IdmappedRootfs> rootfs;   // the idmapped rootfs mounted for it
  // Set just before the rootfs mount is made and cleared once `rootfs` is recorded: a crash in
  // between leaves the path, and release then removes only a mount it can tell is runguard's.
  std::string rootfs_pending;
  int monitor_pid = 0;                            // runguard-monitor serving this container (0: none)
};

std::string resources_path(const std::string& container_state_dir);
Status write_resources(const std::string& container_state_dir, const ResourcesRecord& r);
Result<ResourcesRecord> read_resources(const std::string& container_state_dir);

// Detaches every mount at or below `dir` (deepest first); an error if some remain.
Status detach_mounts_under(const std::string& dir);

}  // namespace runguard::pipeline::internal
