#include "runguard/nsutil/private_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <random>
#include <vector>

#include "runguard/nsutil/fd.h"

namespace runguard::nsutil {
namespace {

Status write_all(int fd, const std::string& content, const std::string& what) {
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("write " + what, errno);
    off += static_cast<size_t>(n);
  }
  return Status::ok();
}

std::string temp_name(const std::string& name) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return "." + name + ".tmp-" + std::to_string(rng() % 1000000000);
}

}  // namespace

Status mount_tmpfs(const std::string& dir, int64_t size, mode_t mode, uint32_t uid, uint32_t gid) {
  char mode_text[8];
  std::snprintf(mode_text, sizeof mode_text, "%04o", static_cast<unsigned>(mode & 07777));
  std::string options = "size=" + std::to_string(size) + ",mode=" + mode_text + ",uid=" + std::to_string(uid) +
                        ",gid=" + std::to_string(gid);
  if (::mount("runguard-secrets", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options.c_str()) != 0) {
    return io_error("mount tmpfs on " + dir, errno);
  }
  return Status::ok();
}

Status unmount(const std::string& dir) {
  if (::umount2(dir.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0 && errno != EINVAL && errno != ENOENT) {
    return io_error("unmount " + dir, errno);
  }
  return Status::ok();
}

Result<std::string> read_file_beneath(const std::string& dir, const std::string& relative, size_t max_bytes) {
  UniqueFd root(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (root.get() < 0) return io_error("open " + dir, errno);
  struct open_how how = {};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  std::string path = dir + "/" + relative;
  int raw = static_cast<int>(::syscall(SYS_openat2, root.get(), relative.c_str(), &how, sizeof how));
  if (raw < 0) {
    int e = errno;
    if (e == ENOENT) return Status(Code::kNotFound, path + " does not exist");
    if (e == EXDEV || e == ELOOP) return invalid(path + " leads outside " + dir + " or through a symlink; secrets are read from regular files below it only");
    return io_error("open " + path, e);
  }
  UniqueFd fd(raw);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error("stat " + path, errno);
  if (!S_ISREG(st.st_mode)) return invalid(path + " is not a regular file");
  if (static_cast<size_t>(st.st_size) > max_bytes) {
    return invalid(path + " is " + std::to_string(st.st_size) + " bytes (at most " + std::to_string(max_bytes) + ")");
  }
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t off = 0;
  while (off < out.size()) {
    ssize_t n = ::read(fd.get(), out.data() + off, out.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("read " + path, errno);
    if (n == 0) break;
    off += static_cast<size_t>(n);
  }
  out.resize(off);
  return out;
}

Status write_owned_file_atomic(const std::string& dir, const std::string& name, const std::string& content, mode_t mode,
                               uint32_t uid, uint32_t gid) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    return invalid("\"" + name + "\" is not a file name");
  }
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (dfd.get() < 0) return io_error("open " + dir, errno);
  std::string tmp = temp_name(name);
  UniqueFd fd(::openat(dfd.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) return io_error("create " + dir + "/" + tmp, errno);
  auto fail = [&](Status s) {
    ::unlinkat(dfd.get(), tmp.c_str(), 0);
    return s;
  };
  std::string path = dir + "/" + name;
  if (Status s = write_all(fd.get(), content, path); !s.is_ok()) {
    return fail(s.error_number() == ENOSPC
                    ? Status(Code::kIo, path + ": the secrets tmpfs is full (raise secrets.size)")
                    : std::move(s));
  }
  if (::fchown(fd.get(), uid, gid) != 0) return fail(io_error("chown " + path, errno));
  if (::fchmod(fd.get(), mode) != 0) return fail(io_error("chmod " + path, errno));
  if (::fsync(fd.get()) != 0) return fail(io_error("fsync " + path, errno));
  fd.reset();
  if (::renameat(dfd.get(), tmp.c_str(), dfd.get(), name.c_str()) != 0) return fail(io_error("rename to " + path, errno));
  return Status::ok();
}

Status zero_and_unlink_files(const std::string& dir) {
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (dfd.get() < 0) return errno == ENOENT ? Status::ok() : io_error("open " + dir, errno);
  int dup = ::fcntl(dfd.get(), F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return io_error("dup " + dir, errno);
  DIR* d = ::fdopendir(dup);
  if (d == nullptr) {
    ::close(dup);
    return io_error("opendir " + dir, errno);
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  Status first = Status::ok();
  const std::string zeros(64 * 1024, '\0');
  for (const auto& n : names) {
    struct stat st {};
    if (::fstatat(dfd.get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISREG(st.st_mode)) {
      // O_NONBLOCK, then the opened file's own type: a FIFO swapped in after the fstatat (the
      // container owns the tmpfs's root) must not block the delete on an open with no reader.
      UniqueFd f(::openat(dfd.get(), n.c_str(), O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
      struct stat opened {};
      if (f.valid() && (::fstat(f.get(), &opened) != 0 || !S_ISREG(opened.st_mode))) f.reset();
      for (off_t left = opened.st_size; f.get() >= 0 && left > 0;) {
        size_t chunk = static_cast<size_t>(std::min<off_t>(left, static_cast<off_t>(zeros.size())));
        ssize_t w = ::write(f.get(), zeros.data(), chunk);
        if (w <= 0) break;
        left -= w;
      }
    }
    if (S_ISDIR(st.st_mode)) continue;  // mount points runguard made; the unmount takes them
    if (::unlinkat(dfd.get(), n.c_str(), 0) != 0 && errno != ENOENT && first.is_ok()) {
      first = io_error("unlink " + dir + "/" + n, errno);
    }
  }
  return first;
}

}  // namespace runguard::nsutil
