#include "event_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace runguard::cli {
namespace {

constexpr size_t kChunk = 64u << 10;

Result<nsutil::UniqueFd> open_regular(const std::string& path, struct stat* st) {
  // O_NONBLOCK: opening a FIFO someone put at the path must not hang the command.
  nsutil::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) {
    int err = errno;
    return Status(err == ENOENT ? Code::kNotFound : Code::kIo, "open events file " + path, err);
  }
  if (::fstat(fd.get(), st) != 0) return io_error("stat events file " + path, errno);
  if (!S_ISREG(st->st_mode)) return invalid("events file " + path + " is not a regular file");
  return fd;
}

Status pread_full(int fd, char* buf, size_t len, uint64_t offset, size_t* got, const std::string& path) {
  *got = 0;
  while (*got < len) {
    ssize_t n = ::pread(fd, buf + *got, len - *got, static_cast<off_t>(offset + *got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("read events file " + path, errno);
    }
    if (n == 0) break;
    *got += static_cast<size_t>(n);
  }
  return Status::ok();
}

}  // namespace

Result<Tail> tail_lines(const std::string& path, size_t n, const std::function<bool(std::string_view)>& keep,
                        size_t max_scan_bytes) {
  struct stat st {};
  RG_ASSIGN_OR_RETURN(nsutil::UniqueFd fd, open_regular(path, &st));
  Tail t;
  t.dev = st.st_dev;
  t.ino = st.st_ino;
  uint64_t size = static_cast<uint64_t>(st.st_size);
  t.end_offset = size;
  if (n == 0) return t;

  std::vector<std::string> newest_first;
  std::string carry;         // the start of a line whose end was read in a later chunk
  bool in_tail = true;       // still before the file's last '\n': that text is being written
  bool skipping = false;     // the line in `carry` is overlong: drop it
  uint64_t pos = size, scanned = 0;
  std::string buf;
  auto take = [&](std::string line) {
    if (!line.empty() && (!keep || keep(line))) newest_first.push_back(std::move(line));
  };
  while (pos > 0 && newest_first.size() < n) {
    if (scanned >= max_scan_bytes) {
      t.scan_limit_reached = true;
      break;
    }
    size_t len = static_cast<size_t>(std::min<uint64_t>({kChunk, pos, max_scan_bytes - scanned}));
    pos -= len;
    scanned += len;
    buf.resize(len);
    size_t got = 0;
    RG_RETURN_IF_ERROR(pread_full(fd.get(), buf.data(), len, pos, &got, path));
    if (got < len) {
      // Truncated under us: what is left is no longer this file's tail.
      return Status(Code::kIo, "events file " + path + " shrank while being read; try again");
    }
    std::string_view b(buf);
    size_t end = b.size();
    while (end > 0 && newest_first.size() < n) {
      size_t nl = b.rfind('\n', end - 1);
      if (nl == std::string_view::npos) {
        if (!skipping) {
          carry.insert(0, b.substr(0, end));
          if (carry.size() > kMaxEventLineBytes) {
            skipping = true;
            carry.clear();
          }
        }
        break;
      }
      if (in_tail) {
        t.end_offset = pos + nl + 1;
        in_tail = false;
      } else if (!skipping && end - nl - 1 + carry.size() <= kMaxEventLineBytes) {
        take(std::string(b.substr(nl + 1, end - nl - 1)) + carry);
      }
      carry.clear();
      skipping = false;
      end = nl;
    }
  }
  if (pos == 0 && newest_first.size() < n && !t.scan_limit_reached) {
    if (in_tail) t.end_offset = 0;  // no '\n' at all: the whole file is one unfinished line
    else if (!skipping) take(std::move(carry));
  }
  t.lines.assign(newest_first.rbegin(), newest_first.rend());
  return t;
}

EventsFollower::EventsFollower(std::string path, const Tail& tail) : path_(std::move(path)) {
  struct stat st {};
  auto fd = open_regular(path_, &st);
  if (!fd.is_ok()) return;  // poll() tries again
  fd_ = std::move(fd).value();
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  bool same = st.st_dev == tail.dev && st.st_ino == tail.ino && static_cast<uint64_t>(st.st_size) >= tail.end_offset;
  offset_ = same ? tail.end_offset : 0;
}

Status EventsFollower::reopen(bool from_start) {
  struct stat st {};
  auto fd = open_regular(path_, &st);
  fd_.reset();
  partial_.clear();
  skipping_ = false;
  if (!fd.is_ok()) return fd.status().code() == Code::kNotFound ? Status::ok() : fd.status();
  fd_ = std::move(fd).value();
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  offset_ = from_start ? 0 : static_cast<uint64_t>(st.st_size);
  return Status::ok();
}

Status EventsFollower::read_available(std::vector<std::string>& out, size_t max_bytes) {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) return io_error("stat events file " + path_, errno);
  if (static_cast<uint64_t>(st.st_size) < offset_) {  // truncated in place
    offset_ = 0;
    partial_.clear();
    skipping_ = false;
  }
  std::string buf(kChunk, '\0');
  size_t budget = max_bytes;
  while (budget > 0) {
    size_t got = 0;
    RG_RETURN_IF_ERROR(pread_full(fd_.get(), buf.data(), std::min(kChunk, budget), offset_, &got, path_));
    if (got == 0) break;
    offset_ += got;
    budget -= std::min(budget, got);
    std::string_view b(buf.data(), got);
    size_t start = 0;
    for (size_t nl = b.find('\n'); nl != std::string_view::npos; nl = b.find('\n', start)) {
      if (!skipping_ && partial_.size() + (nl - start) <= kMaxEventLineBytes) {
        partial_.append(b.substr(start, nl - start));
        if (!partial_.empty()) out.push_back(std::move(partial_));
      }
      partial_.clear();
      skipping_ = false;
      start = nl + 1;
    }
    if (!skipping_) {
      partial_.append(b.substr(start));  // bounded below: at most one chunk past the limit
      if (partial_.size() > kMaxEventLineBytes) {
        partial_.clear();
        skipping_ = true;
      }
    }
  }
  return Status::ok();
}

Result<std::vector<std::string>> EventsFollower::poll(size_t max_bytes) {
  std::vector<std::string> out;
  if (!fd_.valid()) {
    RG_RETURN_IF_ERROR(reopen(true));
    if (!fd_.valid()) return out;  // not there (yet)
  }
  RG_RETURN_IF_ERROR(read_available(out, max_bytes));
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0 && (st.st_dev != dev_ || st.st_ino != ino_)) {
    // Rotated: finish the old file (a writer may have appended before it moved), then the new.
    RG_RETURN_IF_ERROR(read_available(out, max_bytes));
    RG_RETURN_IF_ERROR(reopen(true));
    if (fd_.valid()) RG_RETURN_IF_ERROR(read_available(out, max_bytes));
  }
  return out;
}

}  // namespace runguard::cli
