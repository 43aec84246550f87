#include "runguard/nsutil/unix_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace runguard::nsutil {
namespace {

Status timed_out(const std::string& what) { return Status(Code::kUnavailable, what, ETIMEDOUT); }

// Waits for `events` on `fd` until `deadline`: true when ready, false when the deadline passed.
Result<bool> wait_for(int fd, short events, Deadline deadline, const std::string& what) {
  for (;;) {
    int left = poll_timeout_ms(deadline);
    struct pollfd pfd = {fd, events, 0};
    int r = ::poll(&pfd, 1, left);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return io_error("poll (" + what + ")", errno);
    if (r == 0) {
      if (left == 0) return false;
      continue;  // woke early (rounding): wait out the rest
    }
    return true;
  }
}

Result<UniqueFd> unix_socket_for(const std::string& path, struct sockaddr_un& addr) {
  addr = {};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return invalid("unix socket path \"" + path + "\" is empty or longer than 107 bytes");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return io_error("socket (unix, for " + path + ")", errno);
  return fd;
}

Status connect_error(const std::string& path, int err) {
  if (err == ENOENT || err == ECONNREFUSED) return Status(Code::kUnavailable, "nothing listening at " + path, err);
  if (err == EAGAIN) return Status(Code::kUnavailable, path + " is not accepting connections (backlog full)", err);
  return io_error("connect " + path, err);
}

// Completes a connect that returned EINPROGRESS (not seen for AF_UNIX on Linux, but allowed).
Status finish_connect(int fd, const std::string& path, Deadline deadline) {
  RG_ASSIGN_OR_RETURN(bool ready, wait_for(fd, POLLOUT, deadline, "connect " + path));
  if (!ready) return timed_out("connect " + path + ": no connection before the deadline");
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return io_error("getsockopt SO_ERROR (" + path + ")", errno);
  return err == 0 ? Status::ok() : connect_error(path, err);
}

}  // namespace

int poll_timeout_ms(Deadline deadline) {
  auto left = deadline - std::chrono::steady_clock::now();
  if (left <= std::chrono::steady_clock::duration::zero()) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<int64_t>(ms, 1 << 30));
}

bool is_not_listening(const Status& s) {
  return s.code() == Code::kUnavailable && (s.error_number() == ENOENT || s.error_number() == ECONNREFUSED);
}

bool is_timeout(const Status& s) { return s.code() == Code::kUnavailable && s.error_number() == ETIMEDOUT; }

Result<UniqueFd> try_connect_unix(const std::string& path) {
  struct sockaddr_un addr;
  RG_ASSIGN_OR_RETURN(UniqueFd fd, unix_socket_for(path, addr));
  if (::connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) == 0) return fd;
  int err = errno;
  if (err == EINPROGRESS || err == EINTR) {
    // The connection completes in the background; give it no time beyond what is ready now.
    RG_RETURN_IF_ERROR(finish_connect(fd.get(), path, std::chrono::steady_clock::now()));
    return fd;
  }
  return connect_error(path, err);
}

Result<UniqueFd> connect_unix(const std::string& path, Deadline deadline) {
  struct sockaddr_un addr;
  // A full backlog (EAGAIN) clears when the listener accepts: retry with a growing pause.
  std::chrono::milliseconds pause(1);
  for (;;) {
    RG_ASSIGN_OR_RETURN(UniqueFd fd, unix_socket_for(path, addr));
    if (::connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) == 0) return fd;
    int err = errno;
    if (err == EINPROGRESS || err == EINTR) {
      RG_RETURN_IF_ERROR(finish_connect(fd.get(), path, deadline));
      return fd;
    }
    if (err != EAGAIN) return connect_error(path, err);
    int left = poll_timeout_ms(deadline);
    if (left == 0) return timed_out("connect " + path + ": the listener's backlog stayed full until the deadline");
    ::poll(nullptr, 0, std::min<int>(left, static_cast<int>(pause.count())));
    pause = std::min(pause * 2, std::chrono::milliseconds(20));
  }
}

Result<size_t> send_some(int fd, std::string_view data, const std::string& what) {
  for (;;) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t{0};
    if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) {
      return Status(Code::kUnavailable, what + " closed the connection", errno);
    }
    return io_error("send to " + what, errno);
  }
}

Status send_all(int fd, std::string_view data, Deadline deadline, const std::string& what) {
  while (!data.empty()) {
    RG_ASSIGN_OR_RETURN(size_t n, send_some(fd, data, what));
    data.remove_prefix(n);
    if (data.empty()) break;
    if (n > 0) continue;
    RG_ASSIGN_OR_RETURN(bool ready, wait_for(fd, POLLOUT, deadline, "send to " + what));
    if (!ready) return timed_out(what + " did not take " + std::to_string(data.size()) + " more bytes before the deadline");
  }
  return Status::ok();
}

Result<size_t> read_some(int fd, char* buf, size_t size, Deadline deadline, const std::string& what) {
  for (;;) {
    ssize_t n = ::recv(fd, buf, size, MSG_DONTWAIT);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno == ECONNRESET) return Status(Code::kUnavailable, what + " closed the connection", errno);
    if (errno != EAGAIN && errno != EWOULDBLOCK) return io_error("read from " + what, errno);
    RG_ASSIGN_OR_RETURN(bool ready, wait_for(fd, POLLIN, deadline, "read from " + what));
    if (!ready) return timed_out(what + " sent nothing before the deadline");
  }
}

}  // namespace runguard::nsutil
