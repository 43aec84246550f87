// ProcReader: the /proc facts the event builder needs about one process, read with bounded,
// failure-tolerant nsutil readers (a vanished process gives nullopt, never an error), and the
// ancestry walk that stops at the container's pid-namespace boundary.
//
// `proc_root` is "/proc" in production; tests point it at a fake tree.
//
// Thread-safety: const methods only; no shared mutable state apart from the uid->name cache,
// which makes the object single-threaded (it lives in the monitor's event loop).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runguard/monitor/event.h"

namespace runguard::monitord {

struct ProcSnapshot {
  pid_t pid = 0;    // thread group id
  pid_t ppid = 0;
  pid_t vpid = 0;   // last NSpid entry (the pid as its own namespace sees it)
  std::string comm;
  std::vector<std::string> cmdline;
  std::string exepath, cwd;
  uid_t uid = 0;
  gid_t gid = 0;
  int64_t sid = 0, tty = 0;
  int64_t loginuid = -1;
};

class ProcReader {
 public:
  explicit ProcReader(std::string proc_root = "/proc") : root_(std::move(proc_root)) {}

  // Status (required), stat, cmdline, exe, cwd, loginuid of `pid`; nullopt when it is gone.
  std::optional<ProcSnapshot> snapshot(pid_t pid) const;
  // Status, cmdline and exe only.
  std::optional<ProcSnapshot> ancestor(pid_t pid) const;
  // Inode of <proc>/<pid>/ns/pid, nullopt when unreadable.
  std::optional<uint64_t> pidns_inode(pid_t pid) const;
  // Parent chain starting at `ppid`: at most `max` entries, stopping at pid 0, at a process
  // whose pid namespace differs from `container_ns` (when given), or when one vanishes.
  // Ancestors are cached by (pid, start time): one /proc/<pid>/stat read per level validates an
  // entry (a pid's namespace never changes; its cmdline/exe change only by execve: forget() it).
  std::vector<monitor::Ancestor> ancestry(pid_t ppid, std::optional<uint64_t> container_ns, size_t max = 8);
  // Drops the cached entry of `pid` (call on every execve/execveat it makes).
  void forget(pid_t pid) { ancestors_.erase(pid); }
  // The user name for `uid` from the process's own /etc/passwd (etc/passwd resolved inside
  // <proc>/<pid>/root, never through a link to the host's), "root" for 0 when the file says
  // nothing or is not a regular file; "" when unknown.
  std::string user_name(pid_t pid, uid_t uid);

 private:
  std::string path(pid_t pid, const char* leaf) const;

  struct CachedAncestor {
    uint64_t start_time = 0;
    std::optional<uint64_t> pidns;
    monitor::Ancestor info;
  };
  static constexpr size_t kMaxCachedAncestors = 4096;

  std::string root_;
  std::map<uid_t, std::string> user_cache_;
  std::map<pid_t, CachedAncestor> ancestors_;
};

// The /proc/<pid>/stat fields the monitor uses.
struct StatFields {
  std::string comm;
  pid_t ppid = 0;
  int64_t sid = 0, tty = 0;
  uint64_t start_time = 0;  // clock ticks since boot: with the pid, identifies a process
};
std::optional<StatFields> parse_stat(const std::string& stat);
// The last number of the "NSpid:" line of a status text; nullopt when absent.
std::optional<pid_t> parse_nspid(const std::string& status);
// Looks `uid` up in passwd-format text.
std::optional<std::string> passwd_name(const std::string& passwd, uid_t uid);
// proc.cmdline rendering: name + " " + argv[1..] joined by spaces.
std::string render_cmdline(const std::string& name, const std::vector<std::string>& argv);

}  // namespace runguard::monitord
