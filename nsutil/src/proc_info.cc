#include "runguard/nsutil/proc_info.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

namespace runguard::nsutil {
namespace {

std::string proc_path(const std::string& root, pid_t pid, const char* leaf) {
  return root + "/" + std::to_string(pid) + "/" + leaf;
}

std::optional<std::string> read_link(const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  if (n < 0 || static_cast<size_t>(n) >= sizeof buf) return std::nullopt;  // == size: maybe truncated
  return std::string(buf, static_cast<size_t>(n));
}

// Reads at most `max` bytes of a /proc file; nullopt if it cannot be opened or read.
std::optional<std::string> read_bounded(const std::string& path, size_t max) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) return std::nullopt;
  std::string out;
  char buf[4096];
  while (out.size() < max) {
    ssize_t n = ::read(fd.get(), buf, std::min(sizeof buf, max - out.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;  // ESRCH: the process went away mid-read
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

template <typename T>
bool parse_number(std::string_view s, T& out) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end != s.data();
}

// "Uid:\t0\t0\t0\t0" -> first two numbers.
bool parse_two(std::string_view s, unsigned& a, unsigned& b) {
  auto next = [&s](unsigned& v) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end == s.data()) return false;
    s.remove_prefix(static_cast<size_t>(end - s.data()));
    return true;
  };
  return next(a) && next(b);
}

}  // namespace

std::optional<uint64_t> parse_proc_stat_start_time(std::string_view stat) {
  // "pid (comm) state ppid ...": fields after comm start at the last ')'.
  size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = stat.substr(close + 1);
  // rest holds field 3 (state) onwards; field 22 is the 20th of them.
  for (int field = 3;; ++field) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (rest.empty()) return std::nullopt;
    size_t end = std::min(rest.find(' '), rest.size());
    std::string_view word = rest.substr(0, end);
    if (field == 3 && (word == "Z" || word == "X" || word == "x")) return std::nullopt;
    if (field == 22) {
      uint64_t t = 0;
      if (!parse_number(word, t)) return std::nullopt;
      return t;
    }
    rest.remove_prefix(end);
  }
}

std::optional<uint64_t> read_proc_start_time(pid_t pid, const std::string& proc_root) {
  if (pid <= 0) return std::nullopt;
  auto text = read_bounded(proc_path(proc_root, pid, "stat"), 4096);
  if (!text) return std::nullopt;
  return parse_proc_stat_start_time(*text);
}

std::optional<std::string> read_proc_exe(pid_t pid, const std::string& proc_root) {
  return read_link(proc_path(proc_root, pid, "exe"));
}

std::optional<std::string> read_proc_cwd(pid_t pid, const std::string& proc_root) {
  return read_link(proc_path(proc_root, pid, "cwd"));
}

std::optional<std::vector<std::string>> read_proc_cmdline(pid_t pid, size_t max_bytes, const std::string& proc_root) {
  auto text = read_bounded(proc_path(proc_root, pid, "cmdline"), max_bytes);
  if (!text) return std::nullopt;
  std::vector<std::string> args;
  size_t start = 0;
  while (start < text->size()) {
    size_t nul = text->find('\0', start);
    if (nul == std::string::npos) nul = text->size();  // truncated at max_bytes, or setproctitle'd
    args.push_back(text->substr(start, nul - start));
    start = nul + 1;
  }
  return args;
}

std::optional<ProcStatus> parse_proc_status(std::string_view text) {
  ProcStatus st;
  bool name = false, pid = false, ppid = false, uid = false, gid = false;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = line.substr(0, colon), value = line.substr(colon + 1);
    if (key == "Name") {
      while (!value.empty() && (value.front() == '\t' || value.front() == ' ')) value.remove_prefix(1);
      st.name = std::string(value);
      name = true;
    } else if (key == "Pid") {
      pid = parse_number(value, st.pid);
    } else if (key == "PPid") {
      ppid = parse_number(value, st.ppid);
    } else if (key == "Uid") {
      unsigned a, b;
      if ((uid = parse_two(value, a, b))) st.uid = a, st.euid = b;
    } else if (key == "Gid") {
      unsigned a, b;
      if ((gid = parse_two(value, a, b))) st.gid = a, st.egid = b;
    }
  }
  if (!(name && pid && ppid && uid && gid)) return std::nullopt;
  return st;
}

std::optional<ProcStatus> read_proc_status(pid_t pid, const std::string& proc_root) {
  auto text = read_bounded(proc_path(proc_root, pid, "status"), kMaxStatusBytes);
  if (!text) return std::nullopt;
  return parse_proc_status(*text);
}

Result<UniqueFd> open_pidfd(pid_t pid) {
  if (pid <= 0) return invalid("pidfd_open: invalid pid " + std::to_string(pid));
  // pidfd fds are always close-on-exec; flags 0 = not PIDFD_NONBLOCK.
  long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) {
    int err = errno;
    if (err == ESRCH) return Status(Code::kNotFound, "pidfd_open " + std::to_string(pid) + ": no such process", err);
    return io_error("pidfd_open " + std::to_string(pid) + " (needs Linux >= 5.3)", err);
  }
  return UniqueFd(static_cast<int>(fd));
}

}  // namespace runguard::nsutil
