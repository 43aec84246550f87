// Syscall argument decoding for the monitored syscalls: raw seccomp_data.args -> monitor::EventArg
// values named and rendered as Falco renders them (symbolic flags "CLONE_NEWNS|CLONE_NEWUSER",
// ptrace requests "PTRACE_ATTACH", bpf commands "BPF_PROG_LOAD", paths read from the target).
//
// Pointer arguments are read through a TargetReader so tests can supply memory without a
// process; the live reader re-checks the notification id after every read (target_memory.h).
// A read that fails because the target is gone is returned as that error (the caller drops the
// event and answers CONTINUE); any other unreadable pointer renders as "<NA>".
//
// Thread-safety: the functions are reentrant; a TargetReader belongs to one notification.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "runguard/common/status.h"
#include "runguard/monitor/event.h"

namespace runguard::monitord {

class TargetReader {
 public:
  virtual ~TargetReader() = default;
  // NUL-terminated string at `addr`, at most `max` bytes.
  virtual Result<std::string> read_string(uint64_t addr, size_t max) = 0;
  // NULL-terminated array of string pointers (argv).
  virtual Result<std::vector<std::string>> read_argv(uint64_t addr) = 0;
};

struct FlagName {
  uint64_t bit;
  const char* name;
};

// "A|B|0x40" for the set bits (unknown bits in hex); "0" for no bits.
std::string render_flags(uint64_t value, const std::vector<FlagName>& table);

// Decodes the arguments of `type` (not execve/execveat: the builder does those) into ev->args,
// and fd_name-less numeric arguments. Fails only when the target is gone.
Status decode_args(const std::string& type, const std::array<uint64_t, 6>& raw, TargetReader& mem,
                   monitor::Event* ev);

// ptrace request name ("PTRACE_ATTACH") or the decimal number.
std::string ptrace_request_name(int64_t request);
// bpf command name ("BPF_PROG_LOAD") or the decimal number.
std::string bpf_cmd_name(int64_t cmd);
// CLONE_NEW* flags of unshare/setns.
std::string clone_flags(uint64_t flags);

}  // namespace runguard::monitord
