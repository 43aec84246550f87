#include "proc_reader.h"

#include <sys/stat.h>

#include <charconv>
#include <sstream>

#include "runguard/common/strings.h"
#include "runguard/nsutil/fs.h"
#include "runguard/nsutil/proc_info.h"
#include "runguard/nsutil/safe_open.h"

namespace runguard::monitord {
namespace {

std::optional<int64_t> to_int(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Whitespace-separated tokens of `s`, at most `max` (no iostreams: this runs per notification).
std::vector<std::string_view> tokens(std::string_view s, size_t max) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (out.size() < max) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) ++i;
    if (i >= s.size()) break;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t' && s[j] != '\n') ++j;
    out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace

std::optional<StatFields> parse_stat(const std::string& stat) {
  auto open = stat.find('(');
  auto close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
  StatFields f;
  f.comm = stat.substr(open + 1, close - open - 1);
  auto v = tokens(std::string_view(stat).substr(close + 1), 20);
  if (v.size() < 20) return std::nullopt;  // v[0] = state (field 3) ... v[19] = starttime (field 22)
  auto ppid = to_int(v[1]), sid = to_int(v[3]), tty = to_int(v[4]), start = to_int(v[19]);
  if (!ppid || !sid || !tty || !start) return std::nullopt;
  f.ppid = static_cast<pid_t>(*ppid);
  f.sid = *sid;
  f.tty = *tty;
  f.start_time = static_cast<uint64_t>(*start);
  return f;
}

std::optional<pid_t> parse_nspid(const std::string& status) {
  auto at = status.find("\nNSpid:");
  if (at == std::string::npos) return std::nullopt;
  auto end = status.find('\n', at + 1);
  auto v = tokens(std::string_view(status).substr(at + 7, end == std::string::npos ? std::string::npos : end - at - 7), 64);
  if (v.empty()) return std::nullopt;
  auto last = to_int(v.back());
  if (!last) return std::nullopt;
  return static_cast<pid_t>(*last);
}

std::optional<std::string> passwd_name(const std::string& passwd, uid_t uid) {
  std::istringstream in(passwd);
  std::string line;
  while (std::getline(in, line)) {
    auto parts = split(line, ':');
    if (parts.size() < 3) continue;
    auto v = to_int(parts[2]);
    if (v && *v == static_cast<int64_t>(uid)) return parts[0];
  }
  return std::nullopt;
}

std::string render_cmdline(const std::string& name, const std::vector<std::string>& argv) {
  std::string out = name;
  for (size_t i = 1; i < argv.size(); ++i) out += " " + argv[i];
  return out;
}

std::string ProcReader::path(pid_t pid, const char* leaf) const {
  return root_ + "/" + std::to_string(pid) + "/" + leaf;
}

std::optional<ProcSnapshot> ProcReader::ancestor(pid_t pid) const {
  auto text = nsutil::read_file(path(pid, "status"), nsutil::kMaxStatusBytes);
  if (!text.is_ok()) return std::nullopt;
  auto st = nsutil::parse_proc_status(*text);
  if (!st) return std::nullopt;
  ProcSnapshot s;
  s.pid = st->pid;
  s.ppid = st->ppid;
  s.vpid = parse_nspid(*text).value_or(st->pid);
  s.comm = st->name;
  s.uid = st->uid;
  s.gid = st->gid;
  s.cmdline = nsutil::read_proc_cmdline(pid, nsutil::kMaxCmdlineBytes, root_).value_or(std::vector<std::string>{});
  s.exepath = nsutil::read_proc_exe(pid, root_).value_or("");
  return s;
}

std::optional<ProcSnapshot> ProcReader::snapshot(pid_t pid) const {
  auto s = ancestor(pid);
  if (!s) return std::nullopt;
  s->cwd = nsutil::read_proc_cwd(pid, root_).value_or("");
  if (auto stat = nsutil::read_file(path(pid, "stat"), 4096); stat.is_ok()) {
    if (auto st = parse_stat(*stat)) {
      s->sid = st->sid;
      s->tty = st->tty;
    }
  }
  if (auto login = nsutil::read_file(path(pid, "loginuid"), 64); login.is_ok()) {
    auto v = to_int(std::string_view(*login).substr(0, login->find_first_of("\n ")));
    // 4294967295 is "unset": Falco shows -1.
    if (v && *v != 4294967295LL) s->loginuid = *v;
  }
  return s;
}

std::optional<uint64_t> ProcReader::pidns_inode(pid_t pid) const {
  struct stat st = {};
  if (::stat(path(pid, "ns/pid").c_str(), &st) != 0) return std::nullopt;
  return static_cast<uint64_t>(st.st_ino);
}

std::vector<monitor::Ancestor> ProcReader::ancestry(pid_t ppid, std::optional<uint64_t> container_ns, size_t max) {
  std::vector<monitor::Ancestor> out;
  for (pid_t pid = ppid; pid > 0 && out.size() < max;) {
    auto text = nsutil::read_file(path(pid, "stat"), 4096);
    if (!text.is_ok()) break;
    auto st = parse_stat(*text);
    if (!st) break;
    auto it = ancestors_.find(pid);
    if (it == ancestors_.end() || it->second.start_time != st->start_time) {
      if (ancestors_.size() >= kMaxCachedAncestors) ancestors_.clear();
      auto cmdline = nsutil::read_proc_cmdline(pid, nsutil::kMaxCmdlineBytes, root_).value_or(std::vector<std::string>{});
      std::string exe = cmdline.empty() ? st->comm : cmdline[0];
      monitor::Ancestor info{st->comm, exe, nsutil::read_proc_exe(pid, root_).value_or(""),
                             render_cmdline(st->comm, cmdline), pid};
      it = ancestors_.insert_or_assign(pid, CachedAncestor{st->start_time, pidns_inode(pid), std::move(info)})
               .first;
    }
    if (container_ns && it->second.pidns != container_ns) break;  // left the container
    out.push_back(it->second.info);
    if (st->ppid == pid) break;
    pid = st->ppid;
  }
  return out;
}

std::string ProcReader::user_name(pid_t pid, uid_t uid) {
  if (auto it = user_cache_.find(uid); it != user_cache_.end()) return it->second;
  std::string name;
  // Resolved inside the process's root, as the container sees it: the image (or the process
  // itself, in a writable rootfs) decides what /etc/passwd is, and an absolute symlink or a ".."
  // chain followed through /proc/<pid>/root would land on the host's files; a FIFO or a device
  // node there must neither block the loop nor be opened.
  if (auto passwd = nsutil::read_regular_below(path(pid, "root"), "etc/passwd", nsutil::Scope::kInRoot, 256 * 1024);
      passwd.is_ok()) {
    name = passwd_name(*passwd, uid).value_or("");
  }
  if (name.empty() && uid == 0) name = "root";
  if (user_cache_.size() < 256) user_cache_[uid] = name;
  return name;
}

}  // namespace runguard::monitord
