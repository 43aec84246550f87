// Idmapped root filesystems: make an image's files (owned by 0..N on disk) appear owned by a
// container's host id range, without copying or chowning, for runc 1.1 (which ignores mount
// idmaps in the spec). Part of nsutil.
//
// How: a user namespace holding the container's mappings is created only to name the mapping
// (open_userns); open_tree(OPEN_TREE_CLONE) + mount_setattr(MOUNT_ATTR_IDMAP) + move_mount put an
// idmapped clone where the rootfs was.
//   - plain directory: the clone of the directory is mounted over itself;
//   - overlayfs at the rootfs path (containerd's overlayfs snapshotter, podman's storage): the
//     overlay itself cannot be idmapped (EINVAL), so each layer is cloned and idmapped into a
//     scratch directory, a new overlay is mounted from those over the rootfs, and the scratch
//     mounts are detached (the overlay keeps its own references). upperdir and workdir must be on
//     one mount, so their common parent is cloned once.
// Writes through an idmapped mount are stored with the unmapped ids: container root (host id B)
// writes files owned by 0 on disk, so the layers stay usable by containers without a mapping.
//
// Every mount made here is recorded in an IdmappedRootfs (with the kernel's mount id of the mount
// now at the rootfs path) and undone by undo_idmapped_rootfs, which unmounts only if the mount at
// the path is still ours: never the engine's own overlay underneath.
//
// Thread-safety: functions change the caller's mount namespace; callers serialise per rootfs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runguard/common/idmap.h"
#include "runguard/common/json.h"
#include "runguard/common/status.h"
#include "runguard/nsutil/fd.h"

namespace runguard::nsutil {

using runguard::IdMap;        // common/idmap.h
using runguard::map_to_host;

// A user namespace fd (O_CLOEXEC) with exactly these uid and gid maps, owned by nobody else: the
// helper process that created it has exited when this returns.
Result<UniqueFd> open_userns(const std::vector<IdMap>& uids, const std::vector<IdMap>& gids);

struct IdmappedRootfs {
  std::string target;          // where the idmapped rootfs is mounted (absolute, resolved)
  std::string kind;            // "bind" (plain directory) | "overlay" | "copy" (chown fallback)
  uint64_t mount_id = 0;       // statx mount id of our mount at target (unique id where the kernel has it)
  std::string copy_dir;        // kind "copy": the private copy to remove
};
Json idmapped_rootfs_to_json(const IdmappedRootfs& r);
Result<IdmappedRootfs> idmapped_rootfs_from_json(const Json& j);

struct IdmapOptions {
  // Where layer clones are mounted while the new overlay is built (created and emptied here);
  // short paths keep overlay's option string under a page.
  std::string scratch_dir;
  // When the filesystem cannot be idmapped: false = error naming the filesystem type; true = for a
  // plain directory, copy it to `copy_dir` with every uid/gid shifted by the mapping and mount the
  // copy over the rootfs (kind "copy"). An overlay rootfs never falls back.
  bool chown_fallback = false;
  std::string copy_dir;
  // Where the idmapped rootfs is mounted: an existing directory, or "" for over the rootfs itself.
  // A directory of runguard's own keeps the engine's mounts untouched and gives runc a path the
  // container's root (an unprivileged host id) can search when the engine's is not (containerd's
  // bundles and podman's storage are 0700).
  std::string mount_at;
};

// Idmaps the rootfs at `rootfs` (absolute) with the container's mappings. On error nothing is
// left mounted and nothing is copied.
Result<IdmappedRootfs> idmap_rootfs(const std::string& rootfs, const std::vector<IdMap>& uids,
                                    const std::vector<IdMap>& gids, const IdmapOptions& opts);

// Unmounts what idmap_rootfs mounted (only if the mount at target still has our mount id) and
// removes a fallback copy. Idempotent: already undone is success.
Status undo_idmapped_rootfs(const IdmappedRootfs& r);

}  // namespace runguard::nsutil
