// Helpers for the runguard-monitor tests: a temp dir, a runc-like seccomp target that hands its
// listener fd to a socket path, and starting the real daemon through the ready-fd protocol.
#pragma once

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace rgmond {

#if defined(__x86_64__)
constexpr uint32_t kArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kArch = AUDIT_ARCH_AARCH64;
#endif

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/rgmon.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

inline void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// "notify on `nrs`, allow the rest" with a new listener; the listener fd or -1.
inline int install_notify_filter(const std::vector<int>& nrs) {
  std::vector<sock_filter> prog;
  prog.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
  prog.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kArch, 1, 0));
  prog.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  prog.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
  for (size_t i = 0; i < nrs.size(); ++i) {
    prog.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nrs[i]), static_cast<uint8_t>(nrs.size() - i), 0));
  }
  prog.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  prog.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
  struct sock_fprog fprog = {static_cast<unsigned short>(prog.size()), prog.data()};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
  return static_cast<int>(::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &fprog));
}

// runc 1.1's message for `pid` (the container init too), > 4 KiB of annotations.
inline std::string state_message(pid_t pid, const std::string& id) {
  std::string ann = R"("io.kubernetes.pod.namespace":"shop")";
  for (int i = 0; ann.size() < 6000; ++i) ann += ",\"example.com/k" + std::to_string(i) + "\":\"" + std::string(90, 'a') + "\"";
  return R"({"ociVersion":"1.0.2-dev","fds":["seccompFd"],"pid":)" + std::to_string(pid) +
         R"(,"state":{"ociVersion":"1.0.2-dev","id":")" + id + R"(","status":"creating","pid":)" + std::to_string(pid) +
         R"(,"bundle":"/tmp/b","annotations":{)" + ann + "}}}";
}

// In the target (child) process: connect to `socket_path` and send the message + `fd` like runc.
// Returns the connected socket (left open, as runc 1.1 does) or -1.
inline int send_listener_fd(const std::string& socket_path, int fd, const std::string& id) {
  int sock = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(sock, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0) return -1;
  std::string msg = state_message(::getpid(), id);
  struct iovec iov = {msg.data(), msg.size()};
  struct msghdr mh = {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  mh.msg_control = control;
  mh.msg_controllen = sizeof control;
  struct cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  if (::sendmsg(sock, &mh, MSG_NOSIGNAL) != static_cast<ssize_t>(msg.size())) return -1;
  return sock;
}

// Runs `bin --config cfg --ready-fd N` the way runguard create does; returns what arrived on
// the ready fd before EOF (5 s timeout) and the direct child's exit status in *status.
inline std::string start_monitor(const std::string& bin, const std::string& cfg, int* status) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return "pipe failed";
  pid_t child = ::fork();
  if (child == 0) {
    int fd = ::dup(p[1]);  // without O_CLOEXEC: inherited across exec
    std::string n = std::to_string(fd);
    ::execl(bin.c_str(), bin.c_str(), "--config", cfg.c_str(), "--ready-fd", n.c_str(), nullptr);
    ::_exit(127);
  }
  ::close(p[1]);
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    struct pollfd pfd = {p[0], POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0 || ::poll(&pfd, 1, static_cast<int>(left)) <= 0) break;
    char buf[256];
    ssize_t n = ::read(p[0], buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(p[0]);
  ::waitpid(child, status, 0);
  return out;
}

// Waits until `pid` (not our child) has exited; false on timeout.
inline bool wait_gone(pid_t pid, int timeout_ms) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return errno == ESRCH;
  struct pollfd pfd = {fd, POLLIN, 0};
  int rc = ::poll(&pfd, 1, timeout_ms);
  ::close(fd);
  return rc == 1;
}

inline std::string monitor_config(const TempDir& dir, bool block, const std::string& rules, int timeout = 30,
                                  const std::string& action = "enforce") {
  return R"({"version":1,"socket":")" + dir / "monitor.sock" + R"(","events":")" + dir / "events/events.jsonl" +
         R"(","log":")" + dir / "monitor.log" + R"(","rules":[)" + (rules.empty() ? "" : "\"" + rules + "\"") +
         R"(],"block":)" + (block ? "true" : "false") + R"(,"action":")" + action +
         R"(","container":{"id":"0123456789abcdef","name":"web","image":"docker.io/library/nginx:1.27","namespace":"shop","pod":"web-0","bundle":"/b"},"connectTimeoutSeconds":)" +
         std::to_string(timeout) + "}";
}

}  // namespace rgmond
