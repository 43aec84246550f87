// Reading a notified process's memory (syscall pointer arguments: paths, argv). Part of nsutil.
//
// Reads go through process_vm_readv(2), never past the caller's limits, one page-bounded chunk
// at a time (a string ending just before an unmapped page reads fine). After EVERY read the
// caller's `still_valid` check runs (seccomp_unotify(2): call SECCOMP_IOCTL_NOTIF_ID_VALID between
// each read and its use). While the notification is valid the target is alive and blocked in
// the syscall, so a pid alive before and after a read cannot have been reused during it — the
// race /proc/<pid>/mem guards against with an open-then-ID_VALID sequence. A failed check is
// reported as Code::kNotFound with ENOENT (is_gone() in seccomp_notify.h): drop the event.
//
// Permissions: reading needs PTRACE_MODE_ATTACH_REALCREDS over the target (root with
// CAP_SYS_PTRACE, as the monitor runs). runc init is non-dumpable; root still reads it.
// TOCTOU: another thread of the target can change the bytes right after we read them; see
// seccomp_notify.h. What is read is a copy: decide on the copy, never re-read.
//
// Thread-safety: free functions, no shared state.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runguard/common/status.h"

namespace runguard::nsutil {

class NotifyFd;

// Returns true while the notification whose arguments are being read is still pending.
using StillValid = std::function<bool()>;
// The check for notification `id` on `fd` (an ioctl error counts as "not valid": fail safe).
// `fd` must outlive the returned function.
StillValid notification_check(const NotifyFd& fd, uint64_t id);

// Limits suited to execve: PATH_MAX for a path, ARG_MAX-ish bounds for argv.
inline constexpr size_t kMaxPathBytes = 4096;
inline constexpr size_t kMaxArgs = 256;
inline constexpr size_t kMaxArgvBytes = 64 * 1024;

struct TargetString {
  std::string value;       // without the NUL
  bool truncated = false;  // no NUL within `max` bytes: `value` holds the first `max` bytes
};

// Reads the NUL-terminated string at `addr` in process `pid`, at most `max` bytes.
// addr 0 is an error (EFAULT), as the kernel would report it.
Result<TargetString> read_string(pid_t pid, uint64_t addr, size_t max, const StillValid& still_valid);

struct TargetArgv {
  std::vector<std::string> args;
  bool truncated = false;  // more than `max_args` entries, or more than `max_total` bytes, or an entry truncated
};

// Reads a NULL-terminated array of string pointers at `argv_addr` (execve's argv/envp), each
// pointer `pointer_size` bytes (8, or 4 for a 32-bit target: see pointer_size_for_arch), at most
// `max_args` entries and `max_total` string bytes in all. argv_addr 0 gives an empty list (Linux
// accepts execve(path, NULL, ...)).
Result<TargetArgv> read_argv(pid_t pid, uint64_t argv_addr, size_t max_args, size_t max_total,
                             const StillValid& still_valid, size_t pointer_size = 8);

// Pointer width of a seccomp_data.arch value (AUDIT_ARCH_*): 4 for 32-bit ABIs, 8 otherwise.
size_t pointer_size_for_arch(uint32_t arch);

// Copies up to `len` bytes at `addr` of `pid` into `out`; returns bytes read (short at an
// unmapped page). One process_vm_readv call, then `still_valid`.
Result<size_t> read_memory(pid_t pid, uint64_t addr, void* out, size_t len, const StillValid& still_valid);

}  // namespace runguard::nsutil
