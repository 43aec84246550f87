#include "runguard/nsutil/safe_open.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace runguard::nsutil {
namespace {

std::string joined(const std::string& dir, const std::string& path) {
  if (dir.empty()) return path;
  if (!path.empty() && path[0] == '/') return dir + path;
  return dir + "/" + path;
}

const char* kind_of(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFLNK: return "a symlink";
    case S_IFIFO: return "a FIFO";
    case S_IFSOCK: return "a socket";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFDIR: return "a directory";
    default: return "not a regular file";
  }
}

uint64_t resolve_flags(Scope scope) {
  return scope == Scope::kInRoot ? RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS
                                 : RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
}

// The regular file behind the O_PATH `fd`, reopened for reading (same inode, no path walk), read
// to its end but never past `max_bytes`. `shown` names it in errors.
Result<std::string> read_opened(const UniqueFd& fd, const std::string& shown, size_t max_bytes) {
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error("stat " + shown, errno);
  if (!S_ISREG(st.st_mode)) return invalid(shown + " is " + kind_of(st.st_mode) + ", not a regular file");
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return invalid(shown + " is " + std::to_string(st.st_size) + " bytes (at most " + std::to_string(max_bytes) + ")");
  }
  std::string proc = "/proc/self/fd/" + std::to_string(fd.get());
  // O_NONBLOCK: whoever owns the file (a container's root owns its own /etc/passwd) can hold a
  // write lease on it, and a blocking open waits out the lease-break time (45 s) for it. Reads of
  // a regular file are unaffected.
  UniqueFd rd(::open(proc.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (!rd.valid()) return io_error("open " + shown + " (reopening through " + proc + ")", errno);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("read " + shown, errno);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) return invalid(shown + " grew beyond " + std::to_string(max_bytes) + " bytes while read");
  }
  return out;
}

}  // namespace

Result<UniqueFd> open_dir_handle(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return io_error("open " + dir, errno);
  return fd;
}

Result<UniqueFd> open_below(int dirfd, const std::string& dir, const std::string& path, int flags, Scope scope, mode_t mode) {
  std::string shown = joined(dir, path);
  if (path.empty()) return invalid("empty path below " + dir);
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags) | O_CLOEXEC;
  how.mode = (flags & (O_CREAT | O_TMPFILE)) != 0 ? mode : 0;
  how.resolve = resolve_flags(scope);
  for (int attempt = 0;; ++attempt) {
    int raw = static_cast<int>(::syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how));
    if (raw >= 0) return UniqueFd(raw);
    int e = errno;
    // EAGAIN: a rename elsewhere raced a ".." walk; the kernel asks for a retry.
    if ((e == EAGAIN || e == EINTR) && attempt < 8) continue;
    if (e == ENOENT) return Status(Code::kNotFound, shown + " does not exist");
    if (e == ENOSYS) return Status(Code::kUnavailable, "open " + shown + ": the kernel has no openat2 (Linux 5.6 or later is required)", e);
    if (e == EXDEV) return Status(Code::kInvalidArgument, shown + " leads outside " + dir);
    if (e == ELOOP) {
      return Status(Code::kInvalidArgument,
                    shown + (scope == Scope::kInRoot ? " goes through a /proc magic link or too many symlinks"
                                                     : " goes through a symlink; only plain directories and files below " + dir + " are used"));
    }
    return io_error("open " + shown, e);
  }
}

Result<std::string> read_regular_below(int dirfd, const std::string& dir, const std::string& path, Scope scope, size_t max_bytes) {
  RG_ASSIGN_OR_RETURN(UniqueFd fd, open_below(dirfd, dir, path, O_PATH, scope));
  return read_opened(fd, joined(dir, path), max_bytes);
}

Result<std::string> read_regular_below(const std::string& dir, const std::string& path, Scope scope, size_t max_bytes) {
  RG_ASSIGN_OR_RETURN(UniqueFd root, open_dir_handle(dir));
  return read_regular_below(root.get(), dir, path, scope, max_bytes);
}

Result<std::string> read_regular_file_nofollow(const std::string& path, size_t max_bytes) {
  // O_PATH | O_NOFOLLOW opens a final symlink itself (no ELOOP), so fstat can name it.
  UniqueFd fd(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return io_error("open " + path, errno);
  return read_opened(fd, path, max_bytes);
}

Status check_no_symlinks(const std::string& path) {
  if (path.empty() || path[0] != '/') return invalid("\"" + path + "\" is not an absolute path");
  struct open_how how {};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  int raw = -1;
  for (int attempt = 0; attempt < 8; ++attempt) {
    raw = static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, path.c_str(), &how, sizeof how));
    if (raw >= 0 || (errno != EAGAIN && errno != EINTR)) break;
  }
  if (raw >= 0) {
    ::close(raw);
    return Status::ok();
  }
  int e = errno;
  if (e == ENOSYS) return Status(Code::kUnavailable, "check " + path + ": the kernel has no openat2 (Linux 5.6 or later is required)", e);
  if (e != ELOOP) return io_error(path, e);
  // Name the first symlink on the way, for the message (the kernel only says ELOOP).
  std::string cur;
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i != path.size() && path[i] != '/') continue;
    cur = path.substr(0, i);
    struct stat st {};
    if (::lstat(cur.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = ::readlink(cur.c_str(), target, sizeof target - 1);
      std::string to = n >= 0 ? std::string(target, static_cast<size_t>(n)) : std::string("?");
      return invalid(path + ": " + cur + " is a symlink (to " + to + ")");
    }
  }
  return invalid(path + " goes through a symlink");
}

}  // namespace runguard::nsutil
