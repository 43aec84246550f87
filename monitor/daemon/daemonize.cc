#include "daemonize.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "output.h"

namespace runguard::monitord {
namespace {

void write_all(int fd, const std::string& text) {
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Closes every fd >= 3 except `keep`: close_range(2) where the kernel has it (5.9), else a walk.
void close_other_fds(int keep) {
  auto range = [](unsigned lo, unsigned hi) {
    if (lo > hi) return;
    if (::syscall(SYS_close_range, lo, hi, 0) == 0) return;
    for (unsigned fd = lo; fd <= hi && fd < 65536; ++fd) ::close(static_cast<int>(fd));
  };
  range(3, static_cast<unsigned>(keep) - 1);
  range(static_cast<unsigned>(keep) + 1, ~0U);
}

// setsid, then fork so the session leader (the intermediate) exits and we can never reacquire
// a controlling terminal.
Status detach() {
  if (::setsid() < 0) {
    if (errno != EPERM) return io_error("setsid", errno);
    pid_t p = ::fork();  // we lead a process group already: a child can start a session
    if (p < 0) return io_error("fork", errno);
    if (p > 0) ::_exit(0);
    if (::setsid() < 0) return io_error("setsid", errno);
  }
  pid_t p = ::fork();
  if (p < 0) return io_error("fork", errno);
  if (p > 0) ::_exit(0);
  return Status::ok();
}

}  // namespace

ReadyPipe::~ReadyPipe() {
  if (fd_ >= 0) ::close(fd_);
}

void ReadyPipe::write_and_close(const std::string& text) {
  if (fd_ < 0) return;
  write_all(fd_, text);
  ::close(fd_);
  fd_ = -1;
}

void ReadyPipe::report_ready(long pid) { write_and_close(std::to_string(pid) + "\n"); }

void ReadyPipe::report_error(const std::string& message) { write_and_close("error: " + message + "\n"); }

Status daemonize(ReadyPipe& ready, const std::string& log_path) {
  if (ready.fd() <= 2) {
    int moved = ::fcntl(ready.fd(), F_DUPFD_CLOEXEC, 3);
    if (moved < 0) return io_error("moving the ready fd above 2", errno);
    ::close(ready.fd());
    ready.set_fd(moved);
  }
  ::fcntl(ready.fd(), F_SETFD, FD_CLOEXEC);
  ::umask(077);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(log_path).parent_path(), ec);
  int log = ::open(log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
  if (log < 0) return io_error("opening log " + log_path, errno);
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0) {
    ::close(log);
    return io_error("opening /dev/null", errno);
  }
  RG_RETURN_IF_ERROR(detach());
  if (::dup2(null, 0) < 0 || ::dup2(log, 1) < 0 || ::dup2(log, 2) < 0) return io_error("redirecting stdio", errno);
  close_other_fds(ready.fd());
  if (::chdir("/") != 0) return io_error("chdir /", errno);
  return Status::ok();
}

void log_line(const std::string& message) {
  struct timespec ts = {};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  std::string line = rfc3339_nanos(ts) + " runguard-monitor[" + std::to_string(::getpid()) + "]: " + message + "\n";
  write_all(2, line);
}

}  // namespace runguard::monitord
