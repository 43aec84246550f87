// EventBuilder: one seccomp notification -> the monitor::Event the rule engine evaluates.
//
// - evt.type from (arch, nr) through libseccomp's name table (cached);
// - execve/execveat: filename and argv read from the target (ID re-checked after every read)
//   and `proc` filled with Falco's exit-event semantics as event.h documents: name = basename of
//   the new program cut to 15 bytes, exe = argv[0], exepath = the resolved path, args = argv[1..];
//   tty, cwd, uid, loginuid, pid are the caller's;
// - other syscalls: `proc` is the calling process as /proc shows it;
// - ancestors: [0] = the caller's parent, up to 8 levels, stopping where the pid namespace
//   differs from the container init's (runc and the shim are not the container's ancestry);
// - proc.is_entrypoint: the first execve made by the container's init pid (runc init starting
//   the entrypoint);
// - container info from the monitor's configuration.
// A target that is gone (the notification is no longer valid) makes build() fail with an error
// for which nsutil::is_gone() holds: the caller answers CONTINUE (or gets kGone) and drops it.
//
// Thread-safety: one EventBuilder per event loop (it keeps a sequence number, the set of pids
// whose first execve was seen, and caches).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "runguard/common/status.h"
#include "runguard/monitor/event.h"
#include "runguard/nsutil/seccomp_notify.h"
#include "runguard/nsutil/target_memory.h"
#include "config.h"
#include "proc_reader.h"
#include "syscall_args.h"

namespace runguard::monitord {

// "execve" for (AUDIT_ARCH_X86_64, 59); "syscall_<nr>" when libseccomp does not know it.
std::string syscall_name(uint32_t arch, int32_t nr);

// The container fields of an Event from the configured identity (short 12-char id, image split
// into repository and tag).
monitor::ContainerInfo container_info(const ContainerIdentity& id);

// TargetReader over the live process of a notification (target_memory.h), checking `still_valid`.
class LiveTargetReader : public TargetReader {
 public:
  LiveTargetReader(pid_t pid, uint32_t arch, nsutil::StillValid still_valid)
      : pid_(pid), arch_(arch), still_valid_(std::move(still_valid)) {}
  Result<std::string> read_string(uint64_t addr, size_t max) override;
  Result<std::vector<std::string>> read_argv(uint64_t addr) override;

 private:
  pid_t pid_;
  uint32_t arch_;
  nsutil::StillValid still_valid_;
};

class EventBuilder {
 public:
  EventBuilder(const ContainerIdentity& container, std::string proc_root = "/proc");

  // The container's init pid (state.pid of the first listener message) and its pid namespace.
  void set_init(pid_t init_pid);

  Result<monitor::Event> build(const nsutil::Notification& n, TargetReader& mem);

 private:
  Status fill_exec(const nsutil::Notification& n, const std::string& type, TargetReader& mem,
                   const ProcSnapshot& caller, monitor::Event* ev);
  void fill_caller(const ProcSnapshot& caller, monitor::Event* ev);
  // True when `path` (as the container sees it) exists as a regular file in the rootfs overlay's
  // upper layer: the container wrote or modified it. Unknown (nullopt) without an upper layer.
  std::optional<bool> exe_in_upper_layer(const std::string& path) const;

  monitor::ContainerInfo container_;
  std::string upper_dir_;
  ProcReader proc_;
  std::string proc_root_;
  pid_t init_pid_ = 0;
  std::optional<uint64_t> init_ns_;
  bool init_exec_seen_ = false;
  int64_t seq_ = 0;
};

}  // namespace runguard::monitord
