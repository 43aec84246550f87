#include "runguard/nsutil/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace runguard::nsutil {
namespace {

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { int f = fd_; fd_ = -1; return f; }
  void reset() { if (fd_ >= 0) ::close(fd_); fd_ = -1; }
 private:
  int fd_;
};

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status write_all(int fd, const std::string& content, const std::string& path) {
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("write " + path, errno);
    }
    off += static_cast<size_t>(n);
  }
  return Status::ok();
}

Status remove_at(int dirfd, const char* name, dev_t dev);

Status remove_dir_contents(int fd, dev_t dev, const std::string& path) {
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    int e = errno;
    ::close(fd);
    return io_error("opendir " + path, e);
  }
  Status result;
  while (dirent* entry = ::readdir(dir)) {
    if (std::strcmp(entry->d_name, ".") == 0 || std::strcmp(entry->d_name, "..") == 0) continue;
    Status s = remove_at(::dirfd(dir), entry->d_name, dev);
    if (!s.is_ok() && result.is_ok()) result = std::move(s).with_context(path);
  }
  ::closedir(dir);
  return result;
}

Status remove_at(int dirfd, const char* name, dev_t dev) {
  struct stat st{};
  if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return errno == ENOENT ? Status::ok() : io_error(std::string("stat ") + name, errno);
  }
  if (S_ISDIR(st.st_mode)) {
    if (st.st_dev != dev) return Status(Code::kIo, std::string("refusing to remove mount point ") + name);
    int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return io_error(std::string("open ") + name, errno);
    RG_RETURN_IF_ERROR(remove_dir_contents(fd, dev, name));
    if (::unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
      return io_error(std::string("rmdir ") + name, errno);
    }
    return Status::ok();
  }
  if (::unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) return io_error(std::string("unlink ") + name, errno);
  return Status::ok();
}

}  // namespace

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return io_error("open " + path, errno);
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return io_error("stat " + path, errno);
  if (S_ISDIR(st.st_mode)) return Status(Code::kInvalidArgument, path + " is a directory, not a file");
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("read " + path, errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      return Status(Code::kInvalidArgument, path + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  return out;
}

Status write_file_atomic(const std::string& path, const std::string& content, mode_t mode) {
  std::string dir = dir_of(path);
  struct stat orig{};
  bool have_orig = ::stat(path.c_str(), &orig) == 0;
  std::string tmpl = path + ".runguard-XXXXXX";
  int raw = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (raw < 0) return io_error("create temporary file in " + dir, errno);
  Fd fd(raw);
  // Errors name the destination: the temporary file is gone by the time anyone reads them, and
  // `path` is left as it was (a full disk, a file size limit, a failed rename).
  auto fail = [&](const char* op, int err) {
    ::unlink(tmpl.c_str());
    return io_error(std::string(op) + " " + path + " (as " + tmpl.substr(tmpl.rfind('/') + 1) + ", removed)", err);
  };
  if (Status s = write_all(fd.get(), content, tmpl); !s.is_ok()) return fail("write", s.error_number());
  if (::fchmod(fd.get(), have_orig ? (orig.st_mode & 07777) : mode) != 0) return fail("chmod", errno);
  if (have_orig && (orig.st_uid != ::geteuid() || orig.st_gid != ::getegid())) {
    if (::fchown(fd.get(), orig.st_uid, orig.st_gid) != 0) return fail("chown", errno);
  }
  if (::fsync(fd.get()) != 0) return fail("fsync", errno);
  if (::close(fd.release()) != 0) return fail("close", errno);  // NFS and quotas report here
  if (::rename(tmpl.c_str(), path.c_str()) != 0) return fail("rename into place", errno);
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() >= 0) ::fsync(dfd.get());
  return Status::ok();
}

Status make_dirs(const std::string& path, mode_t mode) {
  if (path.empty()) return invalid("empty directory path");
  std::string cur;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    cur = path.substr(0, j);
    if (!cur.empty() && ::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) {
      return io_error("mkdir " + cur, errno);
    }
    i = j + 1;
  }
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return io_error("stat " + path, errno);
  if (!S_ISDIR(st.st_mode)) return Status(Code::kIo, path + " exists and is not a directory");
  return Status::ok();
}

Status remove_tree(const std::string& path) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? Status::ok() : io_error("stat " + path, errno);
  }
  std::string dir = dir_of(path);
  std::string base = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() < 0) return io_error("open " + dir, errno);
  return remove_at(dfd.get(), base.c_str(), st.st_dev).with_context("remove " + path);
}

bool path_exists(const std::string& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0;
}

Result<std::string> real_path(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) return io_error("resolve " + path, errno);
  return std::string(buf);
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa{}, sb{};
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

Result<std::string> find_executable(const std::string& name) {
  if (name.empty()) return invalid("empty runtime name");
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) != 0) return io_error("runtime " + name + " is not executable", errno);
    if (same_file(name, "/proc/self/exe")) {
      return Status(Code::kInvalidArgument, "runtime " + name + " is runguard itself; set runtime.path to the real runc");
    }
    return name;
  }
  const char* env = ::getenv("PATH");
  std::string path_list = env ? env : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  size_t i = 0;
  while (i <= path_list.size()) {
    size_t j = path_list.find(':', i);
    if (j == std::string::npos) j = path_list.size();
    std::string dir = path_list.substr(i, j - i);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    struct stat st{};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0 &&
        !same_file(candidate, "/proc/self/exe")) {
      return candidate;
    }
    i = j + 1;
  }
  return Status(Code::kNotFound, "no \"" + name + "\" on PATH other than runguard itself; install runc or set runtime.path in the policy");
}

Result<int> memfd_with_content(const std::string& name, const std::string& content) {
  int fd = ::memfd_create(name.c_str(), MFD_ALLOW_SEALING);
  if (fd < 0) return io_error("memfd_create", errno);
  Fd owner(fd);
  RG_RETURN_IF_ERROR(write_all(fd, content, "memfd " + name));
  if (::lseek(fd, 0, SEEK_SET) < 0) return io_error("lseek memfd", errno);
  ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  return owner.release();
}

Result<std::string> first_unsearchable_ancestor(const std::string& path, uint32_t uid, uint32_t gid) {
  std::vector<std::string> dirs = {"/"};
  for (size_t pos = path.find('/', 1); pos != std::string::npos && pos + 1 < path.size(); pos = path.find('/', pos + 1)) {
    dirs.push_back(path.substr(0, pos));
  }
  for (const auto& dir : dirs) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return io_error("stat " + dir, errno);
    mode_t bit = st.st_uid == uid ? S_IXUSR : st.st_gid == gid ? S_IXGRP : S_IXOTH;
    if ((st.st_mode & bit) == 0) return dir;
  }
  return std::string();
}

}  // namespace runguard::nsutil
