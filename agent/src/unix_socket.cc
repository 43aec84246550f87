#include "unix_socket.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runguard/nsutil/fs.h"

namespace runguard::agent {
namespace {

bool fill_addr(const std::string& path, sockaddr_un& addr) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path.data(), path.size());
  return true;
}

}  // namespace

bool socket_answers(const std::string& path) {
  sockaddr_un addr{};
  if (!fill_addr(path, addr)) return false;
  nsutil::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return false;
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR);
  return rc == 0 || errno == EAGAIN || errno == EINPROGRESS;
}

Status prepare_socket_path(const std::string& path, const std::string& what) {
  sockaddr_un addr{};
  if (path.empty() || path[0] != '/' || !fill_addr(path, addr)) {
    return invalid(what + " " + path + ": needs an absolute path of at most " + std::to_string(sizeof addr.sun_path - 1) + " bytes");
  }
  std::string dir = path.substr(0, path.rfind('/'));
  if (!dir.empty()) {
    if (Status s = nsutil::make_dirs(dir, 0711); !s.is_ok()) {
      return std::move(s).with_context("cannot create the directory of " + what + " " + path);
    }
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::ok();
    return io_error("stat " + what + " " + path, errno);
  }
  if (!S_ISSOCK(st.st_mode)) return invalid(what + " " + path + " exists and is not a socket; move it away or choose another path");
  if (socket_answers(path)) {
    return Status(Code::kUnavailable, what + " " + path + ": another process (another runguardd?) is already serving on it; stop it first");
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error("removing stale socket " + path, errno);
  return Status::ok();
}

Result<BoundSocket> listen_unix(const std::string& path, const std::string& what, int backlog) {
  RG_RETURN_IF_ERROR(prepare_socket_path(path, what));
  sockaddr_un addr{};
  fill_addr(path, addr);
  BoundSocket out;
  out.fd.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!out.fd.valid()) return io_error("socket for " + what, errno);
  if (::bind(out.fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    if (err == EADDRINUSE) {
      return Status(Code::kUnavailable, what + " " + path + ": another process bound it while runguardd was starting", err);
    }
    return io_error("bind " + what + " " + path, err);
  }
  if (::chmod(path.c_str(), 0600) != 0) {
    int err = errno;
    ::unlink(path.c_str());
    return io_error("chmod 0600 " + what + " " + path, err);
  }
  if (!file_identity(path, out.dev, out.ino) || ::listen(out.fd.get(), backlog) != 0) {
    int err = errno;
    ::unlink(path.c_str());
    return io_error("listen on " + what + " " + path, err);
  }
  return out;
}

bool file_identity(const std::string& path, dev_t& dev, ino_t& ino) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return false;
  dev = st.st_dev;
  ino = st.st_ino;
  return true;
}

void unlink_if_same(const std::string& path, dev_t dev, ino_t ino) {
  dev_t d = 0;
  ino_t i = 0;
  if (file_identity(path, d, i) && d == dev && i == ino) ::unlink(path.c_str());
}

Result<nsutil::UniqueFd> lock_file(const std::string& path) {
  nsutil::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return io_error("open lock file " + path, errno);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err == EWOULDBLOCK) {
      return Status(Code::kUnavailable, "another runguardd is already running (it holds " + path + "); stop it first");
    }
    return io_error("flock " + path, err);
  }
  return fd;
}

}  // namespace runguard::agent
