#include "event_builder.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <seccomp.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <unordered_map>

#include "runguard/common/strings.h"
#include "runguard/nsutil/target_memory.h"

namespace runguard::monitord {
namespace {

constexpr uint64_t kAtEmptyPath = 0x1000;
constexpr int kAtFdcwd = -100;

std::string readlink_at(const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::string basename_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "/proc/self/fd/3" or "/dev/fd/3" -> 3.
std::optional<int> self_fd_path(const std::string& path) {
  for (std::string_view prefix : {"/proc/self/fd/", "/dev/fd/"}) {
    if (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0) {
      if (auto v = parse_u32(std::string_view(path).substr(prefix.size()))) return static_cast<int>(*v);
    }
  }
  return std::nullopt;
}

}  // namespace

std::string syscall_name(uint32_t arch, int32_t nr) {
  static thread_local std::unordered_map<uint64_t, std::string> cache;
  uint64_t key = (static_cast<uint64_t>(arch) << 32) | static_cast<uint32_t>(nr);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  std::string name;
  if (char* s = seccomp_syscall_resolve_num_arch(arch, nr)) {
    name = s;
    std::free(s);
  } else {
    name = "syscall_" + std::to_string(nr);
  }
  if (cache.size() < 1024) cache.emplace(key, name);
  return name;
}

monitor::ContainerInfo container_info(const ContainerIdentity& id) {
  monitor::ContainerInfo c;
  c.id = id.id.substr(0, 12);
  c.name = id.name;
  c.image = id.image;
  c.k8s_namespace = id.k8s_namespace;
  c.k8s_pod = id.pod;
  std::string ref = id.image;
  if (auto at = ref.find('@'); at != std::string::npos) {
    c.image_repository = ref.substr(0, at);
  } else if (auto colon = ref.rfind(':'); colon != std::string::npos && ref.find('/', colon) == std::string::npos) {
    c.image_repository = ref.substr(0, colon);
    c.image_tag = ref.substr(colon + 1);
  } else {
    c.image_repository = ref;
  }
  return c;
}

Result<std::string> LiveTargetReader::read_string(uint64_t addr, size_t max) {
  RG_ASSIGN_OR_RETURN(nsutil::TargetString s, nsutil::read_string(pid_, addr, max, still_valid_));
  return std::move(s.value);
}

Result<std::vector<std::string>> LiveTargetReader::read_argv(uint64_t addr) {
  RG_ASSIGN_OR_RETURN(nsutil::TargetArgv a,
                      nsutil::read_argv(pid_, addr, nsutil::kMaxArgs, nsutil::kMaxArgvBytes, still_valid_,
                                        nsutil::pointer_size_for_arch(arch_)));
  return std::move(a.args);
}

EventBuilder::EventBuilder(const ContainerIdentity& container, std::string proc_root)
    : container_(container_info(container)), upper_dir_(container.upper_dir), proc_(proc_root), proc_root_(std::move(proc_root)) {}

std::optional<bool> EventBuilder::exe_in_upper_layer(const std::string& path) const {
  if (upper_dir_.empty() || path.empty() || path[0] != '/') return std::nullopt;
  // Resolved inside the upper layer as the container would (its symlinks stay in it), never
  // crossing into another mount (no automount can stall the loop while a syscall waits).
  int root = ::open(upper_dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return std::nullopt;
  struct open_how how {};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  int fd = static_cast<int>(::syscall(SYS_openat2, root, path.c_str() + 1, &how, sizeof how));
  ::close(root);
  if (fd < 0) return false;
  struct stat st {};
  bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ::close(fd);
  return regular;
}

void EventBuilder::set_init(pid_t init_pid) {
  init_pid_ = init_pid;
  init_ns_ = proc_.pidns_inode(init_pid);
}

void EventBuilder::fill_caller(const ProcSnapshot& caller, monitor::Event* ev) {
  auto& p = ev->proc;
  p.name = caller.comm;
  p.exe = caller.cmdline.empty() ? caller.comm : caller.cmdline[0];
  p.exepath = caller.exepath;
  p.args.assign(caller.cmdline.size() > 1 ? caller.cmdline.begin() + 1 : caller.cmdline.end(), caller.cmdline.end());
  p.cwd = caller.cwd;
  p.pid = caller.pid;
  p.vpid = caller.vpid;
  p.tty = caller.tty;
  p.sid = caller.sid;
  p.uid = caller.uid;
  p.gid = caller.gid;
  p.loginuid = caller.loginuid;
  p.user_name = proc_.user_name(caller.pid, caller.uid);
}

Status EventBuilder::fill_exec(const nsutil::Notification& n, const std::string& type, TargetReader& mem,
                               const ProcSnapshot& caller, monitor::Event* ev) {
  bool at = type == "execveat";
  uint64_t path_addr = at ? n.args[1] : n.args[0];
  uint64_t argv_addr = at ? n.args[2] : n.args[1];
  auto filename = mem.read_string(path_addr, nsutil::kMaxPathBytes);
  if (!filename.is_ok() && nsutil::is_gone(filename.status())) return std::move(filename).take_status();
  auto argv = mem.read_argv(argv_addr);
  if (!argv.is_ok() && nsutil::is_gone(argv.status())) return std::move(argv).take_status();
  std::string file = filename.is_ok() ? *filename : std::string();
  std::vector<std::string> args = argv.is_ok() ? *argv : std::vector<std::string>{};

  std::string fdbase = std::to_string(caller.pid) + "/fd/";
  std::string resolved;
  int dirfd = at ? static_cast<int32_t>(n.args[0]) : kAtFdcwd;
  if (at && (n.args[4] & kAtEmptyPath) && file.empty()) {
    resolved = readlink_at(proc_root_ + "/" + fdbase + std::to_string(dirfd));
    ev->fd_name = resolved;
  } else if (auto fd = self_fd_path(file)) {
    resolved = readlink_at(proc_root_ + "/" + fdbase + std::to_string(*fd));
  } else if (!file.empty() && file[0] == '/') {
    resolved = normalize_path(file);
  } else if (!file.empty()) {
    std::string base = dirfd == kAtFdcwd ? caller.cwd : readlink_at(proc_root_ + "/" + fdbase + std::to_string(dirfd));
    resolved = base.empty() ? file : normalize_path(base + "/" + file);
  }
  auto& p = ev->proc;
  p.name = basename_of(resolved.empty() ? file : resolved).substr(0, 15);
  p.exe = args.empty() ? file : args[0];
  p.exepath = resolved.empty() ? file : resolved;
  p.args.assign(args.size() > 1 ? args.begin() + 1 : args.end(), args.end());
  p.exe_from_memfd = resolved.rfind("/memfd:", 0) == 0;
  p.exe_upper_layer = exe_in_upper_layer(p.exepath);
  p.is_entrypoint = caller.pid == init_pid_ && !init_exec_seen_;
  proc_.forget(caller.pid);  // its cmdline and exe change for its children's ancestry
  if (caller.pid == init_pid_) init_exec_seen_ = true;

  using monitor::EventArg;
  if (at) ev->args.push_back(EventArg{"dirfd", std::to_string(dirfd), dirfd});
  if (at) ev->args.push_back(EventArg{"pathname", filename.is_ok() ? file : "<NA>", std::nullopt});
  ev->args.push_back(EventArg{"filename", p.exepath, std::nullopt});
  ev->args.push_back(EventArg{"exe", p.exe, std::nullopt});
  ev->args.push_back(EventArg{"args", join(p.args, " "), std::nullopt});
  ev->args.push_back(EventArg{"cwd", caller.cwd, std::nullopt});
  ev->args.push_back(EventArg{"comm", p.name, std::nullopt});
  ev->args.push_back(EventArg{"tty", std::to_string(caller.tty), caller.tty});
  if (at) ev->args.push_back(EventArg{"flags", std::to_string(n.args[4]), static_cast<int64_t>(n.args[4])});
  ev->args.push_back(EventArg{"uid", std::to_string(caller.uid), static_cast<int64_t>(caller.uid)});
  ev->args.push_back(EventArg{"loginuid", std::to_string(caller.loginuid), caller.loginuid});
  return Status::ok();
}

Result<monitor::Event> EventBuilder::build(const nsutil::Notification& n, TargetReader& mem) {
  if (n.pid == 0) return Status(Code::kNotFound, "notification target is not visible in our pid namespace", ENOENT);
  monitor::Event ev;
  ev.type = syscall_name(n.arch, n.nr);
  ev.num = ++seq_;
  ev.container = container_;
  auto caller = proc_.snapshot(static_cast<pid_t>(n.pid));
  if (!caller) return Status(Code::kNotFound, "process " + std::to_string(n.pid) + " is gone", ENOENT);
  fill_caller(*caller, &ev);
  if (ev.type == "execve" || ev.type == "execveat") {
    RG_RETURN_IF_ERROR(fill_exec(n, ev.type, mem, *caller, &ev));
  } else {
    RG_RETURN_IF_ERROR(decode_args(ev.type, n.args, mem, &ev));
    if (ev.type == "setns" || ev.type == "finit_module") {
      ev.fd_name = readlink_at(proc_root_ + "/" + std::to_string(caller->pid) + "/fd/" +
                               std::to_string(static_cast<int32_t>(n.args[0])));
    }
  }
  ev.ancestors = proc_.ancestry(caller->ppid, init_ns_);
  return ev;
}

}  // namespace runguard::monitord
