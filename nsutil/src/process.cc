#include "runguard/nsutil/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

#include "runguard/nsutil/fd.h"

extern char** environ;

namespace runguard::nsutil {

Status exec_program(const std::string& path, const std::vector<std::string>& argv) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execve(path.c_str(), args.data(), environ);
  return io_error("exec " + path, errno);
}

Result<int> run_and_wait(const std::string& path, const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return io_error("fork", errno);
  if (pid == 0) {
    ::execve(path.c_str(), args.data(), environ);
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return io_error("wait for " + path, errno);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool is_host_namespace(const std::string& ns_path, const std::string& ns_file) {
  struct stat target{};
  if (::stat(ns_path.c_str(), &target) != 0) return false;
  // pid 1's namespaces are the host's. Where /proc/1 is hidden (a sandbox, hidepid), runguard's
  // own namespaces stand in: the runtime runs in the host's namespaces, as containerd's shim does.
  for (const char* owner : {"/proc/1/ns/", "/proc/self/ns/"}) {
    struct stat host{};
    if (::stat((owner + ns_file).c_str(), &host) == 0 && host.st_dev == target.st_dev && host.st_ino == target.st_ino) {
      return true;
    }
  }
  return false;
}

}  // namespace runguard::nsutil

namespace runguard::nsutil {
namespace {

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
  auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
}

// In the forked child: only async-signal-safe calls.
[[noreturn]] void exec_captured_child(const char* path, char* const* argv, int devnull, int out) {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // A helper whose caller was killed (a create containerd gave up on) must not outlive it.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Above 2 first, so the dup2s below never meet a descriptor that is already 0, 1 or 2.
  int dn = ::fcntl(devnull, F_DUPFD_CLOEXEC, 3);
  int wo = ::fcntl(out, F_DUPFD_CLOEXEC, 3);
  if (dn < 0 || wo < 0 || ::dup2(dn, 0) < 0 || ::dup2(wo, 1) < 0 || ::dup2(dn, 2) < 0) ::_exit(127);
  if (::syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
    for (int fd = 3; fd < 65536; ++fd) ::close(fd);
  }
  ::execve(path, argv, environ);
  ::_exit(127);
}

// Waits for `pid` until `deadline`: true when reaped (status in *status).
bool reap_until(pid_t pid, int* status, Clock::time_point deadline) {
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  UniqueFd owned(pidfd);
  int pause_ms = 1;
  for (;;) {
    pid_t r = ::waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) {  // ECHILD: reaped by someone else (SIGCHLD ignored); status unknown
      *status = -1;
      return true;
    }
    int left = ms_left(deadline);
    if (left == 0) return false;
    if (owned.valid()) {
      struct pollfd pfd = {owned.get(), POLLIN, 0};
      ::poll(&pfd, 1, left);
    } else {  // kernels before 5.3: poll the status
      ::poll(nullptr, 0, std::min(left, pause_ms));
      pause_ms = std::min(pause_ms * 2, 20);
    }
  }
}

// How long a child that has written its line gets to exit on its own before it is killed.
constexpr std::chrono::milliseconds kExitGraceAfterLine{50};

Result<CapturedRun> run_captured_impl(const std::string& path, const std::vector<std::string>& argv,
                                      std::chrono::milliseconds timeout, size_t max_output, bool first_line) {
  const auto deadline = Clock::now() + timeout;
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull.valid()) return io_error("open /dev/null", errno);
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return io_error("pipe2", errno);
  UniqueFd rd(p[0]), wr(p[1]);
  pid_t pid = ::fork();
  if (pid < 0) return io_error("fork (" + path + ")", errno);
  if (pid == 0) exec_captured_child(path.c_str(), args.data(), devnull.get(), wr.get());
  wr.reset();

  CapturedRun run;
  char buf[4096];
  bool overflow = false, got_line = false;
  while (!got_line) {
    int left = ms_left(deadline);
    struct pollfd pfd = {rd.get(), POLLIN, 0};
    int r = ::poll(&pfd, 1, left);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;  // deadline (or a poll failure): stop reading, the kill below ends it
    ssize_t n = ::read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child closed its stdout (usually: exited)
    std::string_view chunk(buf, static_cast<size_t>(n));
    if (first_line) {
      if (size_t nl = chunk.find('\n'); nl != std::string_view::npos) {
        chunk = chunk.substr(0, nl + 1);  // the answer; whatever follows it is not read
        got_line = true;
      }
    }
    if (run.output.size() + chunk.size() > max_output) {
      overflow = true;
      break;
    }
    run.output.append(chunk);
  }
  rd.reset();
  int status = 0;
  // A child that answered is not waited on past a short grace: its line is what was asked for.
  bool reaped = !overflow && reap_until(pid, &status, got_line ? std::min(deadline, Clock::now() + kExitGraceAfterLine) : deadline);
  if (!reaped) {
    run.timed_out = !overflow && !got_line;
    run.killed_after_line = got_line;
    ::kill(pid, SIGKILL);  // still our unreaped child: the pid cannot name another process
    // A killed process exits at once unless it sleeps uninterruptibly; never wait long for that.
    if (!reap_until(pid, &status, Clock::now() + std::chrono::milliseconds(500))) {
      return Status(Code::kUnavailable, path + " (pid " + std::to_string(pid) + ") did not exit after SIGKILL");
    }
  }
  if (status == -1) run.exit_code = -1;
  else run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

}  // namespace

Result<CapturedRun> run_captured(const std::string& path, const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout, size_t max_output) {
  return run_captured_impl(path, argv, timeout, max_output, false);
}

Result<CapturedRun> run_captured_line(const std::string& path, const std::vector<std::string>& argv,
                                      std::chrono::milliseconds timeout, size_t max_line) {
  return run_captured_impl(path, argv, timeout, max_line, true);
}

}  // namespace runguard::nsutil
