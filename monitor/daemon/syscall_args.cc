#include "syscall_args.h"

#include <sys/mount.h>

#include <cstdio>

#include "runguard/nsutil/seccomp_notify.h"
#include "runguard/nsutil/target_memory.h"

namespace runguard::monitord {
namespace {

using monitor::EventArg;

const std::vector<FlagName> kCloneFlags = {
    {0x00000100, "CLONE_VM"},      {0x00000200, "CLONE_FS"},        {0x00000400, "CLONE_FILES"},
    {0x00000800, "CLONE_SIGHAND"}, {0x00001000, "CLONE_PIDFD"},     {0x00002000, "CLONE_PTRACE"},
    {0x00004000, "CLONE_VFORK"},   {0x00008000, "CLONE_PARENT"},    {0x00010000, "CLONE_THREAD"},
    {0x00020000, "CLONE_NEWNS"},   {0x00040000, "CLONE_SYSVSEM"},   {0x00080000, "CLONE_SETTLS"},
    {0x02000000, "CLONE_NEWCGROUP"}, {0x04000000, "CLONE_NEWUTS"},  {0x08000000, "CLONE_NEWIPC"},
    {0x10000000, "CLONE_NEWUSER"}, {0x20000000, "CLONE_NEWPID"},    {0x40000000, "CLONE_NEWNET"},
    {0x00000080, "CLONE_NEWTIME"},
};

const std::vector<FlagName> kMountFlags = {
    {MS_RDONLY, "RDONLY"},     {MS_NOSUID, "NOSUID"},   {MS_NODEV, "NODEV"},         {MS_NOEXEC, "NOEXEC"},
    {MS_SYNCHRONOUS, "SYNCHRONOUS"}, {MS_REMOUNT, "REMOUNT"}, {MS_MANDLOCK, "MANDLOCK"}, {MS_DIRSYNC, "DIRSYNC"},
    {MS_NOATIME, "NOATIME"},   {MS_NODIRATIME, "NODIRATIME"}, {MS_BIND, "BIND"},     {MS_MOVE, "MOVE"},
    {MS_REC, "REC"},           {MS_SILENT, "SILENT"},   {MS_POSIXACL, "POSIXACL"},   {MS_UNBINDABLE, "UNBINDABLE"},
    {MS_PRIVATE, "PRIVATE"},   {MS_SLAVE, "SLAVE"},     {MS_SHARED, "SHARED"},       {MS_RELATIME, "RELATIME"},
    {MS_KERNMOUNT, "KERNMOUNT"}, {MS_I_VERSION, "I_VERSION"}, {MS_STRICTATIME, "STRICTATIME"}, {MS_LAZYTIME, "LAZYTIME"},
};

const std::vector<FlagName> kUmountFlags = {
    {1, "FORCE"}, {2, "DETACH"}, {4, "EXPIRE"}, {8, "NOFOLLOW"}};

const std::vector<FlagName> kMemfdFlags = {
    {1, "MFD_CLOEXEC"}, {2, "MFD_ALLOW_SEALING"}, {4, "MFD_HUGETLB"}, {8, "MFD_NOEXEC_SEAL"}, {16, "MFD_EXEC"}};

const std::vector<FlagName> kFinitFlags = {{1, "MODULE_INIT_IGNORE_MODVERSIONS"}, {2, "MODULE_INIT_IGNORE_VERMAGIC"}};

struct NamedValue {
  int64_t value;
  const char* name;
};

const std::vector<NamedValue> kPtraceRequests = {
    {0, "PTRACE_TRACEME"},    {1, "PTRACE_PEEKTEXT"},   {2, "PTRACE_PEEKDATA"},     {3, "PTRACE_PEEKUSR"},
    {4, "PTRACE_POKETEXT"},   {5, "PTRACE_POKEDATA"},   {6, "PTRACE_POKEUSR"},      {7, "PTRACE_CONT"},
    {8, "PTRACE_KILL"},       {9, "PTRACE_SINGLESTEP"}, {12, "PTRACE_GETREGS"},     {13, "PTRACE_SETREGS"},
    {14, "PTRACE_GETFPREGS"}, {15, "PTRACE_SETFPREGS"}, {16, "PTRACE_ATTACH"},      {17, "PTRACE_DETACH"},
    {24, "PTRACE_SYSCALL"},   {0x4200, "PTRACE_SETOPTIONS"}, {0x4201, "PTRACE_GETEVENTMSG"},
    {0x4202, "PTRACE_GETSIGINFO"}, {0x4203, "PTRACE_SETSIGINFO"}, {0x4204, "PTRACE_GETREGSET"},
    {0x4205, "PTRACE_SETREGSET"}, {0x4206, "PTRACE_SEIZE"}, {0x4207, "PTRACE_INTERRUPT"}, {0x4208, "PTRACE_LISTEN"},
};

const std::vector<NamedValue> kBpfCmds = {
    {0, "BPF_MAP_CREATE"},   {1, "BPF_MAP_LOOKUP_ELEM"}, {2, "BPF_MAP_UPDATE_ELEM"}, {3, "BPF_MAP_DELETE_ELEM"},
    {4, "BPF_MAP_GET_NEXT_KEY"}, {5, "BPF_PROG_LOAD"},   {6, "BPF_OBJ_PIN"},        {7, "BPF_OBJ_GET"},
    {8, "BPF_PROG_ATTACH"},  {9, "BPF_PROG_DETACH"},     {10, "BPF_PROG_TEST_RUN"}, {17, "BPF_RAW_TRACEPOINT_OPEN"},
    {18, "BPF_BTF_LOAD"},    {28, "BPF_LINK_CREATE"},
};

std::string lookup(const std::vector<NamedValue>& table, int64_t v) {
  for (const auto& e : table) {
    if (e.value == v) return e.name;
  }
  return std::to_string(v);
}

EventArg number(const char* name, int64_t v) { return EventArg{name, std::to_string(v), v}; }
EventArg flags(const char* name, uint64_t v, const std::vector<FlagName>& table) {
  return EventArg{name, render_flags(v, table), static_cast<int64_t>(v)};
}

// A path or name argument; "<NA>" when unreadable, an error only when the target is gone.
Result<EventArg> text(const char* name, TargetReader& mem, uint64_t addr) {
  if (addr == 0) return EventArg{name, "<NA>", std::nullopt};
  auto s = mem.read_string(addr, nsutil::kMaxPathBytes);
  if (!s.is_ok()) {
    if (nsutil::is_gone(s.status())) return std::move(s).take_status();
    return EventArg{name, "<NA>", std::nullopt};
  }
  return EventArg{name, std::move(*s), std::nullopt};
}

Status decode_path_args(const std::string& type, const std::array<uint64_t, 6>& raw, TargetReader& mem,
                        monitor::Event* ev) {
  auto add = [&](const char* name, uint64_t addr) -> Status {
    RG_ASSIGN_OR_RETURN(EventArg a, text(name, mem, addr));
    ev->args.push_back(std::move(a));
    return Status::ok();
  };
  if (type == "mount") {
    RG_RETURN_IF_ERROR(add("dev", raw[0]));
    RG_RETURN_IF_ERROR(add("dir", raw[1]));
    RG_RETURN_IF_ERROR(add("type", raw[2]));
    ev->args.push_back(flags("flags", raw[3], kMountFlags));
  } else if (type == "umount2" || type == "umount") {
    RG_RETURN_IF_ERROR(add("name", raw[0]));
    if (type == "umount2") ev->args.push_back(flags("flags", raw[1], kUmountFlags));
  } else if (type == "memfd_create") {
    RG_RETURN_IF_ERROR(add("name", raw[0]));
    ev->args.push_back(flags("flags", raw[1], kMemfdFlags));
  } else if (type == "delete_module") {
    RG_RETURN_IF_ERROR(add("name", raw[0]));
    ev->args.push_back(number("flags", static_cast<int64_t>(raw[1])));
  } else if (type == "chroot") {
    RG_RETURN_IF_ERROR(add("path", raw[0]));
  } else if (type == "pivot_root") {
    RG_RETURN_IF_ERROR(add("new_root", raw[0]));
    RG_RETURN_IF_ERROR(add("put_old", raw[1]));
  } else if (type == "init_module") {
    ev->args.push_back(number("length", static_cast<int64_t>(raw[1])));
    RG_RETURN_IF_ERROR(add("uargs", raw[2]));
  } else if (type == "finit_module") {
    ev->args.push_back(number("fd", static_cast<int32_t>(raw[0])));
    RG_RETURN_IF_ERROR(add("uargs", raw[1]));
    ev->args.push_back(flags("flags", raw[2], kFinitFlags));
  }
  return Status::ok();
}

}  // namespace

std::string render_flags(uint64_t value, const std::vector<FlagName>& table) {
  if (value == 0) return "0";
  std::string out;
  uint64_t rest = value;
  for (const auto& f : table) {
    if ((value & f.bit) == f.bit && f.bit != 0) {
      out += (out.empty() ? "" : "|") + std::string(f.name);
      rest &= ~f.bit;
    }
  }
  if (rest != 0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(rest));
    out += (out.empty() ? "" : "|") + std::string(buf);
  }
  return out;
}

std::string ptrace_request_name(int64_t request) { return lookup(kPtraceRequests, request); }
std::string bpf_cmd_name(int64_t cmd) { return lookup(kBpfCmds, cmd); }
std::string clone_flags(uint64_t flags) { return render_flags(flags, kCloneFlags); }

Status decode_args(const std::string& type, const std::array<uint64_t, 6>& raw, TargetReader& mem,
                   monitor::Event* ev) {
  if (type == "unshare") {
    ev->args.push_back(flags("flags", raw[0] & 0xffffffffu, kCloneFlags));
  } else if (type == "setns") {
    ev->args.push_back(number("fd", static_cast<int32_t>(raw[0])));
    ev->args.push_back(flags("nstype", raw[1] & 0xffffffffu, kCloneFlags));
  } else if (type == "ptrace") {
    int64_t req = static_cast<int64_t>(raw[0]);
    ev->args.push_back(EventArg{"request", ptrace_request_name(req), req});
    ev->args.push_back(number("pid", static_cast<int32_t>(raw[1])));
    ev->args.push_back(number("addr", static_cast<int64_t>(raw[2])));
    ev->args.push_back(number("data", static_cast<int64_t>(raw[3])));
  } else if (type == "bpf") {
    int64_t cmd = static_cast<int32_t>(raw[0]);
    ev->args.push_back(EventArg{"cmd", bpf_cmd_name(cmd), cmd});
  } else if (type == "userfaultfd" || type == "kexec_load") {
    ev->args.push_back(number("flags", static_cast<int64_t>(type == "kexec_load" ? raw[3] : raw[0])));
  } else if (type == "process_vm_writev") {
    ev->args.push_back(number("pid", static_cast<int32_t>(raw[0])));
  } else if (type == "open_by_handle_at") {
    ev->args.push_back(number("mountfd", static_cast<int32_t>(raw[0])));
    ev->args.push_back(number("flags", static_cast<int64_t>(raw[2])));
  } else {
    return decode_path_args(type, raw, mem, ev);
  }
  return Status::ok();
}

}  // namespace runguard::monitord
