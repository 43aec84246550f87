// Filesystem operations the create path needs, with the crash-safety they promise spelled out.
// Part of nsutil, the only library that calls the kernel.
//
// Thread-safety: free functions; concurrent calls on different paths are safe.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "runguard/common/status.h"

namespace runguard::nsutil {

// Reads a whole regular file, refusing anything larger than `max_bytes` (a config.json is
// kilobytes; a multi-gigabyte "config" is a mistake or an attack).
Result<std::string> read_file(const std::string& path, size_t max_bytes = 64u << 20);

// Replaces `path` with `content` atomically: a temp file in the same directory, written, fsynced,
// given the original file's mode and owner (or `mode` for a new file), renamed over `path`, and the
// directory fsynced. After a crash `path` holds either the old or the new content, never a mix.
// On failure the temp file is removed and `path` is untouched.
Status write_file_atomic(const std::string& path, const std::string& content, mode_t mode = 0644);

// mkdir -p with `mode` for the directories it creates.
Status make_dirs(const std::string& path, mode_t mode = 0700);

// rm -rf that does not cross mount points or follow symlinks. A missing path is success.
Status remove_tree(const std::string& path);

bool path_exists(const std::string& path);

// realpath(3); a missing path is an error.
Result<std::string> real_path(const std::string& path);

// True when `a` and `b` name the same inode (device and inode number equal).
bool same_file(const std::string& a, const std::string& b);

// The first directory on the way to `path` (each ancestor, not `path` itself) that a process
// with ids `uid`/`gid` and no capabilities cannot search (owner, group or other x bit, as the
// kernel picks them), or "" when every one can be. A container's root in a user namespace is
// such a process for the host's directories: runc resolves the bundle and rootfs paths as it.
Result<std::string> first_unsearchable_ancestor(const std::string& path, uint32_t uid, uint32_t gid);

// Finds an executable: a path containing '/' is checked as given; a bare name is looked up in
// $PATH. Candidates that are the running executable itself (/proc/self/exe, by inode) are skipped,
// so runguard installed as "runc" never finds itself.
Result<std::string> find_executable(const std::string& name);

// A sealed-size anonymous file holding `content`, without FD_CLOEXEC, so an exec'd program can
// open it as /proc/self/fd/N. Returns the fd.
Result<int> memfd_with_content(const std::string& name, const std::string& content);

}  // namespace runguard::nsutil
