// Facts about a (possibly vanishing) process from /proc, for the monitor's event model, and a
// pidfd to watch a process exit. Part of nsutil.
//
// Every reader is bounded and failure-tolerant: the process may exit, or be a thread, or be
// hidden, between the notification and the read. "Not available" is std::nullopt, never an
// error: an event with a missing field is still an event. `proc_root` exists for tests
// ("/proc" in production). Pids are as the caller's pid namespace sees them (a notification's
// pid is a TID; /proc/<tid>/ resolves for threads too).
//
// Thread-safety: free functions, no shared state.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runguard/common/status.h"
#include "runguard/nsutil/fd.h"

namespace runguard::nsutil {

inline constexpr size_t kMaxCmdlineBytes = 64 * 1024;
inline constexpr size_t kMaxStatusBytes = 16 * 1024;

// /proc/<pid>/exe and /proc/<pid>/cwd (readlink, at most PATH_MAX). A deleted file keeps the
// kernel's " (deleted)" suffix: that is evidence, not noise.
std::optional<std::string> read_proc_exe(pid_t pid, const std::string& proc_root = "/proc");
std::optional<std::string> read_proc_cwd(pid_t pid, const std::string& proc_root = "/proc");

// /proc/<pid>/cmdline split at NULs, at most `max_bytes` read. Empty for kernel threads and
// zombies (the kernel returns nothing): that is "available and empty".
std::optional<std::vector<std::string>> read_proc_cmdline(pid_t pid, size_t max_bytes = kMaxCmdlineBytes,
                                                          const std::string& proc_root = "/proc");

// The /proc/<pid>/status lines the event model needs.
struct ProcStatus {
  std::string name;  // "Name:" (comm, at most 15 bytes, escaped by the kernel)
  pid_t pid = 0;     // "Pid:" (the thread group id when read through a tid)
  pid_t ppid = 0;    // "PPid:"; 0 when the parent is outside our pid namespace
  uid_t uid = 0, euid = 0;  // "Uid:" real, effective
  gid_t gid = 0, egid = 0;  // "Gid:" real, effective
};
std::optional<ProcStatus> read_proc_status(pid_t pid, const std::string& proc_root = "/proc");
// The parser behind read_proc_status; nullopt if Name, Pid, PPid, Uid or Gid is missing/garbled.
std::optional<ProcStatus> parse_proc_status(std::string_view text);

// A process's start time (clock ticks after boot: /proc/<pid>/stat field 22). A pid plus its
// start time names one process for the life of the boot: a later process that reuses the number
// starts later. nullopt when the process is gone or a zombie (it has exited; only the reaping is
// left). The parser takes the whole stat line; comm may hold spaces and parentheses.
std::optional<uint64_t> read_proc_start_time(pid_t pid, const std::string& proc_root = "/proc");
std::optional<uint64_t> parse_proc_stat_start_time(std::string_view stat);

// pidfd_open(2) (Linux >= 5.3): an fd that polls readable when `pid` exits. O_CLOEXEC always.
// ESRCH (already gone) is Code::kNotFound.
Result<UniqueFd> open_pidfd(pid_t pid);

}  // namespace runguard::nsutil
