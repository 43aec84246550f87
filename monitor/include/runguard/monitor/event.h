// Event: one monitored syscall as the rule engine sees it.
//
// The monitor daemon fills an Event from a seccomp notification (syscall number -> name, arguments
// read from /proc/<pid>/mem, the process from /proc, the container from the OCI state); the rule
// engine only reads it. Every value arrives already resolved and rendered the way Falco renders it,
// so the engine needs no syscalls and no clock:
//   - execve/execveat follow Falco's exit-event semantics: `proc` describes the program being
//     executed (name = basename of the new exe cut to 15 chars like the kernel's comm, exe = argv[0],
//     exepath = the resolved path, args = argv[1..]); `ancestors[0]` is the caller's parent, so
//     proc.pname/proc.aname[N] are the caller's real ancestry. tty, cwd, uid and loginuid are the
//     caller's values (equal to the post-exec values except for setuid and file-capability binaries).
//   - flag and enum arguments are symbolic as Falco prints them: ptrace request "PTRACE_ATTACH",
//     unshare flags "CLONE_NEWNS|CLONE_NEWUSER"; `num` carries the raw number when there is one.
//   - evt.res/evt.rawres do not exist: the decision is made before the syscall runs.
// Optional members are "not known": a check on them is false and `exists` is false.
//
// Thread-safety: a plain value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace runguard::monitor {

struct EventArg {
  std::string name;             // Falco's parameter name: "filename", "request", "flags", ...
  std::string text;             // rendered value (path, symbolic flags, decimal number)
  std::optional<int64_t> num = std::nullopt;  // raw numeric value when the argument is a number or flag set
};

// One process of the ancestry chain (parent, grandparent, ...).
struct Ancestor {
  std::string name;     // comm
  std::string exe;      // argv[0]
  std::string exepath;  // /proc/<pid>/exe
  std::string cmdline;  // name + " " + args, as proc.cmdline
  int64_t pid = 0;
};

struct ProcessInfo {
  std::string name;      // proc.name (comm, <= 15 chars)
  std::string exe;       // proc.exe (argv[0])
  std::string exepath;   // proc.exepath
  std::vector<std::string> args;  // argv[1..]
  std::string cwd;
  std::string env;       // "K=V K=V" (proc.env), empty when not read
  int64_t pid = 0;
  int64_t vpid = 0;      // pid in the container's pid namespace
  int64_t tty = 0;       // controlling terminal device number, 0 = none
  int64_t sid = 0;
  int64_t uid = 0;
  std::string user_name;
  int64_t loginuid = -1;  // -1 when unset, as Falco
  int64_t gid = 0;
  std::string group_name;
  std::string cap_effective;   // "CAP_CHOWN CAP_KILL ..." (Falco's rendering)
  std::string cap_permitted;
  std::optional<bool> exe_upper_layer;  // exe lives in the overlay upper layer (written by the container)
  std::optional<bool> exe_from_memfd;   // exe is a memfd
  // runguard extension: this execve is runc's start of the container's entrypoint (the caller is
  // runc init and its pid is the container's init pid). Shells started this way are the workload.
  bool is_entrypoint = false;
};

struct ContainerInfo {
  std::string id;                // 12-char short id, as Falco's container.id ("host" outside)
  std::string name;
  std::string image;             // full reference as given
  std::string image_repository;
  std::string image_tag;
  std::optional<bool> privileged;
  std::string k8s_namespace;
  std::string k8s_pod;
};

struct Event {
  std::string type;              // syscall name, Falco's evt.type ("execve", "ptrace", ...)
  int64_t num = 0;               // sequence number within the monitor (evt.num)
  std::vector<EventArg> args;
  std::optional<std::string> fd_name;  // fd.name where the syscall has one (finit_module, setns, execveat)
  ProcessInfo proc;
  std::vector<Ancestor> ancestors;     // [0] = parent, [1] = grandparent, ...
  ContainerInfo container;

  const EventArg* arg(const std::string& name) const {
    for (const auto& a : args) {
      if (a.name == name) return &a;
    }
    return nullptr;
  }
};

}  // namespace runguard::monitor
