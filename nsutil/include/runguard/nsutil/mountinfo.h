// /proc/<pid>/mountinfo, parsed, and mount identities. Part of nsutil.
//
// Format (proc(5)): "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER"
// with space, tab, newline and backslash in ROOT, MOUNTPOINT and SOURCE written as \040 \011 \012
// \134 (decoded here). SUPER (per-superblock options, e.g. overlay's lowerdir=) is kept raw:
// overlayfs escapes ',' '=' and ':' in it itself; see overlay_layers().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runguard/common/status.h"

namespace runguard::nsutil {

struct MountInfo {
  uint64_t id = 0;
  uint64_t parent = 0;
  std::string root;         // path within the filesystem that is the mount's root
  std::string mount_point;
  std::string options;      // per-mount options ("rw,relatime,idmapped")
  std::string fstype;       // "ext4", "overlay", "tmpfs", "fuse.xyz"
  std::string source;
  std::string super_options;
};

// Parses mountinfo text; a malformed line is an error naming its number.
Result<std::vector<MountInfo>> parse_mountinfo(std::string_view text);
Result<std::vector<MountInfo>> read_mountinfo(const std::string& path = "/proc/self/mountinfo");

// The topmost mount whose mount point is exactly `path` (normalised, absolute), if any.
std::optional<MountInfo> top_mount_at(const std::vector<MountInfo>& mounts, const std::string& path);

// The mounts whose mount point is `dir` (normalised, absolute) or below it ("/a" covers "/a/b" but
// not "/ab"), deepest (longest mount point) first and, at equal paths, newest first (mountinfo
// lists later mounts later): the order in which to unmount them.
std::vector<MountInfo> mounts_under(const std::vector<MountInfo>& mounts, const std::string& dir);

// The mount `path` lives on: statx(STATX_MNT_ID) matched against mountinfo. Used to name the
// filesystem in errors and to find a rootfs's mount.
Result<MountInfo> mount_of(const std::string& path);

// overlayfs's layers from a mount's super options: lowerdir (in order, top first), upperdir and
// workdir (empty for a read-only overlay). Data-only layers (after "::" in lowerdir, or
// "datadir+=") are kept apart in data_only: their files are reachable only through metacopy
// redirects, so listing them as ordinary lower layers would expose their contents.
// "lowerdir+=" appends to lower. Undoes overlayfs's own escaping (backslash before ',', '=', ':'
// and '\').
struct OverlayLayers {
  std::vector<std::string> lower;
  std::vector<std::string> data_only;  // in order; never part of `lower`
  std::string upper;
  std::string work;
  std::vector<std::string> other_options;  // everything else, e.g. "index=off", "redirect_dir=on"
};
Result<OverlayLayers> overlay_layers(const std::string& super_options);

}  // namespace runguard::nsutil
