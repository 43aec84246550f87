// Files a container must not be able to swap or redirect: secret files in a per-container tmpfs
// and reads from a root-only directory that may hold symlinks planted by a careless admin or an
// attacker. Part of nsutil, the only library that calls the kernel.
//
// Thread-safety: free functions; concurrent calls on different paths are safe.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "runguard/common/status.h"

namespace runguard::nsutil {

// Mounts a fresh tmpfs on the existing directory `dir`: nosuid,nodev,noexec, `size` bytes at most,
// its root `mode` owned by uid:gid.
Status mount_tmpfs(const std::string& dir, int64_t size, mode_t mode, uint32_t uid, uint32_t gid);

// Detaches the mount at `dir` (MNT_DETACH, never following a symlink). Not mounted: success.
Status unmount(const std::string& dir);

// Reads the regular file `relative` below `dir` with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
// | RESOLVE_NO_MAGICLINKS): no "..", absolute path or symlink anywhere can lead outside `dir`.
// kNotFound when it does not exist; kInvalidArgument for a symlink, an escape, a non-file or a
// file over `max_bytes`.
Result<std::string> read_file_beneath(const std::string& dir, const std::string& relative, size_t max_bytes);

// Writes <dir>/<name> atomically (O_EXCL temporary file beside it, never following symlinks,
// written, chowned uid:gid, chmod `mode`, fsynced, renamed over the old one). `name` must be one
// path component. On failure the temporary file is gone and the old file untouched.
Status write_owned_file_atomic(const std::string& dir, const std::string& name, const std::string& content, mode_t mode,
                               uint32_t uid, uint32_t gid);

// Overwrites each regular file directly in `dir` with zeros and unlinks it (before its tmpfs is
// unmounted, so no page of a secret survives in a reused page). A missing `dir` is success.
Status zero_and_unlink_files(const std::string& dir);

}  // namespace runguard::nsutil
