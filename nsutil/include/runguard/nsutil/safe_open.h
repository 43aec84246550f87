// Opening paths that someone other than runguard shapes — an image's files, a container-writable
// directory, a bundle — so that no symlink, ".." or /proc magic link leads outside where the path
// must stay, and so that a FIFO or a device planted where a file is expected is refused without
// being opened (no blocking open, no driver side effect). openat2(2) (Linux 5.6) resolves in the
// kernel, so there is no check-then-open race. Part of nsutil, the only library that calls the
// kernel; docs/security.md has the table of which path uses which scope.
//
// Files are first opened O_PATH, checked with fstat, and only a regular file is reopened for
// reading through /proc/self/fd/N (the same inode, no second path walk), so /proc must be mounted.
//
// Thread-safety: free functions; concurrent calls are safe.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "runguard/common/status.h"
#include "runguard/nsutil/fd.h"

namespace runguard::nsutil {

// How a relative path is resolved below a directory. Both refuse /proc magic links
// (RESOLVE_NO_MAGICLINKS): a link to /proc/<pid>/root or an fd would lead anywhere.
enum class Scope {
  // As a process whose root is the directory would resolve it: "..", absolute paths and
  // absolute symlinks stay inside (RESOLVE_IN_ROOT). For paths interpreted inside a container's
  // root (/proc/<pid>/root, an overlay's upper layer) or inside a volume that uses relative links.
  kInRoot,
  // runguard's own files below a directory: a symlink anywhere, a ".." that leaves it or an
  // absolute path is refused (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS).
  kBeneath,
};

// An O_PATH handle on the directory `dir` (symlinks in `dir` itself are followed: it is the
// caller's trusted anchor).
Result<UniqueFd> open_dir_handle(const std::string& dir);

// Opens `path` (relative; for kInRoot a leading '/' is the root) below `dirfd`, which `dir` names
// in error messages, with `flags` (O_CLOEXEC is added; O_CREAT takes `mode`). kNotFound when it
// does not exist; kInvalidArgument for an escape or a symlink the scope forbids; kUnavailable
// when the kernel has no openat2 (before Linux 5.6).
Result<UniqueFd> open_below(int dirfd, const std::string& dir, const std::string& path, int flags, Scope scope,
                            mode_t mode = 0);

// Reads the regular file `path` below `dirfd` (a final symlink is followed within the scope's
// rules: inside the root for kInRoot, refused for kBeneath). A FIFO, socket, device or
// directory is refused (kInvalidArgument) without being opened for reading, and so is a file
// larger than `max_bytes`.
Result<std::string> read_regular_below(int dirfd, const std::string& dir, const std::string& path, Scope scope,
                                       size_t max_bytes);
Result<std::string> read_regular_below(const std::string& dir, const std::string& path, Scope scope, size_t max_bytes);

// Reads the regular file `path`, following symlinks in its directories but not in its last
// component: for a file runguard replaces in place (a bundle's config.json), where a link would
// mean reading one file and replacing another. A symlink, FIFO, socket, device or directory
// there is kInvalidArgument, without blocking; so is a file larger than `max_bytes`.
Result<std::string> read_regular_file_nofollow(const std::string& path, size_t max_bytes);

// OK when the absolute `path` exists and reaches its target with no symlink in any component,
// which is what runc demands of a rootfs (its "invalid rootfs: not an absolute path, or a
// symlink"); otherwise kInvalidArgument naming the first symlink (and where it points), or
// kNotFound / kIo for a path that cannot be resolved.
Status check_no_symlinks(const std::string& path);

}  // namespace runguard::nsutil
