#include "monitor_setup.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "runguard/nsutil/fs.h"
#include "runguard/nsutil/mountinfo.h"
#include "runguard/policy/engine.h"
#include "runguard/policy/monitor.h"
#include "userns_setup.h"

extern char** environ;

namespace runguard::pipeline::internal {
namespace {

constexpr int kReadyTimeoutMs = 5000;

// The host path of the engine's rootfs overlay upper layer (containerd's snapshot, podman's
// storage), or "" when the rootfs is not an overlay. The engine's root path, not runguard's
// idmapped mount (whose layers are relative scratch names): the original is kept in an annotation.
std::string rootfs_upper_dir(const Json& spec, const std::string& bundle) {
  std::string root;
  if (auto a = spec.find("annotations"); a != spec.end() && a->is_object()) {
    if (auto o = a->find(kOriginalRootAnnotation); o != a->end() && o->is_string()) root = *o;
  }
  if (root.empty() && spec.contains("root") && spec["root"].is_object() && spec["root"].contains("path") &&
      spec["root"]["path"].is_string()) {
    root = spec["root"]["path"];
  }
  if (root.empty()) root = "rootfs";
  if (root[0] != '/') root = bundle + "/" + root;
  auto real = nsutil::real_path(root);
  auto mounts = nsutil::read_mountinfo();
  if (!real.is_ok() || !mounts.is_ok()) return "";
  auto top = nsutil::top_mount_at(*mounts, *real);
  if (!top || top->fstype != "overlay") return "";
  auto layers = nsutil::overlay_layers(top->super_options);
  return layers.is_ok() && !layers->upper.empty() && layers->upper[0] == '/' ? layers->upper : "";
}

Json monitor_config(const policy::Policy& p, const policy::ContainerContext& ctx, const Json& spec, const std::string& dir) {
  const auto& c = policy::select_controls(p, ctx, nullptr).monitor;
  Json j;
  j["version"] = 1;
  j["socket"] = policy::monitor_socket(p.state_dir, ctx.id);
  j["events"] = p.events_path;
  j["log"] = dir + "/monitor.log";
  j["rules"] = c.rules;
  j["action"] = c.action == policy::Action::kEnforce ? "enforce" : "audit";
  j["block"] = c.action == policy::Action::kEnforce && c.block;
  j["container"] = {{"id", ctx.id},       {"name", ctx.container_name}, {"image", ctx.image},
                    {"namespace", ctx.k8s_namespace}, {"pod", ctx.pod_name}, {"bundle", ctx.bundle}};
  if (std::string upper = rootfs_upper_dir(spec, ctx.bundle); !upper.empty()) j["container"]["upperDir"] = upper;
  j["connectTimeoutSeconds"] = 30;
  // The monitor offers its events and round-trip stats to runguardd here; never waits on it.
  if (!p.agent.internal_socket.empty()) j["agentSocket"] = p.agent.internal_socket;
  return j;
}

// Reads the monitor's readiness line: its pid, or "error: ...". EOF or a timeout is a failure.
Result<int> read_ready(int fd) {
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kReadyTimeoutMs);
  char buf[512];
  for (;;) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (left <= 0) return Status(Code::kUnavailable, "runguard-monitor did not report ready within 5 s");
    struct pollfd pfd = {fd, POLLIN, 0};
    int r = ::poll(&pfd, 1, left);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return io_error("poll (runguard-monitor readiness)", errno);
    if (r == 0) continue;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("read (runguard-monitor readiness)", errno);
    if (n == 0) break;
    line.append(buf, static_cast<size_t>(n));
    if (line.size() > 4096) break;
  }
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.rfind("error: ", 0) == 0) return Status(Code::kUnavailable, "runguard-monitor: " + line.substr(7));
  int pid = 0;
  for (char ch : line) {
    if (ch < '0' || ch > '9' || pid > 4194304) return Status(Code::kUnavailable, "runguard-monitor exited without reporting ready");
    pid = pid * 10 + (ch - '0');
  }
  if (pid <= 0) return Status(Code::kUnavailable, "runguard-monitor exited without reporting ready");
  return pid;
}

Result<int> spawn(const std::string& binary, const std::string& config) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return io_error("pipe2", errno);
  nsutil::UniqueFd rd(pipefd[0]), wr(pipefd[1]);
  std::string fdnum = std::to_string(wr.get());
  std::vector<std::string> argv = {binary, "--config", config, "--ready-fd", fdnum};
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t child = ::fork();
  if (child < 0) return io_error("fork (runguard-monitor)", errno);
  if (child == 0) {
    ::fcntl(pipefd[1], F_SETFD, 0);  // the monitor inherits only this end
    ::execve(binary.c_str(), args.data(), environ);
    ::_exit(127);
  }
  wr.reset();
  Result<int> pid = read_ready(rd.get());
  // The monitor forks itself away (daemonizes); reap the process we started. If it hangs before
  // that, it is killed rather than waited for.
  if (!pid.is_ok()) ::kill(child, SIGKILL);
  while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
  }
  return pid;
}

}  // namespace

Status start_monitor(const policy::Policy& p, const policy::ContainerContext& ctx, const Json& spec, const std::string& dir,
                     ResourcesRecord& record) {
  const Json* prof = spec.contains("linux") && spec["linux"].is_object() && spec["linux"].contains("seccomp")
                         ? &spec["linux"]["seccomp"] : nullptr;
  if (prof == nullptr || !prof->is_object() || prof->value("listenerPath", std::string()) != policy::monitor_socket(p.state_dir, ctx.id)) {
    return Status::ok();
  }
  auto self = nsutil::real_path("/proc/self/exe");
  if (!self.is_ok()) return self.status();
  std::string binary = self->substr(0, self->rfind('/') + 1) + "runguard-monitor";
  if (!nsutil::path_exists(binary)) {
    return Status(Code::kUnavailable, binary + " not found: install runguard-monitor next to runguard, or set controls.monitor.action: off");
  }
  std::string events_dir = p.events_path.substr(0, p.events_path.rfind('/'));
  if (!events_dir.empty()) RG_RETURN_IF_ERROR(nsutil::make_dirs(events_dir, 0750));
  std::string config = dir + "/monitor.json";
  RG_RETURN_IF_ERROR(nsutil::write_file_atomic(config, dump_json(monitor_config(p, ctx, spec, dir), 2) + "\n", 0600));
  RG_ASSIGN_OR_RETURN(int pid, spawn(binary, config));
  record.monitor_pid = pid;
  return write_resources(dir, record);
}

void forget_previous_monitor(Json& spec, const std::string& state_dir) {
  auto l = spec.find("linux");
  if (l == spec.end() || !l->is_object()) return;
  auto s = l->find("seccomp");
  if (s == l->end() || !s->is_object()) return;
  // <stateDir>/<any id>/monitor.sock: the bundle may have been created under another id.
  std::string path = s->value("listenerPath", std::string());
  const std::string suffix = "/monitor.sock";
  if (path.rfind(state_dir + "/", 0) != 0 || path.size() < suffix.size() ||
      path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0 ||
      path.find('/', state_dir.size() + 1) != path.size() - suffix.size()) {
    return;
  }
  s->erase("listenerPath");
  s->erase("listenerMetadata");
  if (auto rules = s->find("syscalls"); rules != s->end() && rules->is_array()) {
    for (auto& r : *rules) {
      if (r.is_object() && r.value("action", std::string()) == "SCMP_ACT_NOTIFY") r["action"] = "SCMP_ACT_ALLOW";
    }
  }
}

void stop_monitor(int pid, const std::string& dir) {
  // Pin the process first (a pidfd never names another one), then check it is this container's
  // monitor: its executable is runguard-monitor and its arguments name this config exactly.
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return;
  nsutil::UniqueFd fd(pidfd);
  std::string proc = "/proc/" + std::to_string(pid);
  auto exe = nsutil::real_path(proc + "/exe");
  auto cmdline = nsutil::read_file(proc + "/cmdline", 1u << 16);
  std::string want = std::string("--config") + '\0' + dir + "/monitor.json" + '\0';
  if (!exe.is_ok() || exe->size() < 17 || exe->compare(exe->size() - 17, 17, "/runguard-monitor") != 0 || !cmdline.is_ok() ||
      cmdline->find(want) == std::string::npos) {
    return;
  }
  if (::syscall(SYS_pidfd_send_signal, fd.get(), SIGTERM, nullptr, 0) != 0) return;
  struct pollfd pfd = {fd.get(), POLLIN, 0};
  if (::poll(&pfd, 1, 1000) == 1) return;  // readable: it exited
  (void)::syscall(SYS_pidfd_send_signal, fd.get(), SIGKILL, nullptr, 0);
}

}  // namespace runguard::pipeline::internal
