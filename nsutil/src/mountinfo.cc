#include "runguard/nsutil/mountinfo.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "runguard/nsutil/fs.h"

namespace runguard::nsutil {
namespace {

// mountinfo is a few hundred KB even on busy hosts; 64 MiB means something is wrong.
constexpr size_t kMaxMountinfoBytes = 64u << 20;

bool is_octal(char c) { return c >= '0' && c <= '7'; }

// Undoes the kernel's seq_file escaping: "\ooo" (three octal digits) becomes that byte. Any other
// backslash is kept, so overlayfs's own "\:" escapes survive for the second stage.
std::string decode_octal(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && is_octal(s[i + 1]) && is_octal(s[i + 2]) && is_octal(s[i + 3])) {
      int v = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0');
      if (v < 256) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// Splits on `sep` where it is not escaped by a backslash; escapes are kept in the pieces.
std::vector<std::string> split_unescaped(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      cur.push_back(s[i]);
      cur.push_back(s[++i]);
    } else if (s[i] == sep) {
      out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(s[i]);
    }
  }
  out.push_back(std::move(cur));
  return out;
}

// overlayfs's unescape: a backslash makes the next character literal.
std::string unescape_backslashes(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) ++i;
    out.push_back(s[i]);
  }
  return out;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    if (i >= line.size()) break;
    size_t j = line.find(' ', i);
    if (j == std::string_view::npos) j = line.size();
    out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

bool parse_u64(std::string_view s, uint64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

// One line: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER".
std::optional<MountInfo> parse_line(std::string_view line) {
  std::vector<std::string_view> f = split_fields(line);
  if (f.size() < 10) return std::nullopt;
  MountInfo m;
  if (!parse_u64(f[0], &m.id) || !parse_u64(f[1], &m.parent)) return std::nullopt;
  if (f[2].find(':') == std::string_view::npos) return std::nullopt;
  size_t sep = 6;
  while (sep < f.size() && f[sep] != "-") ++sep;
  if (sep + 4 != f.size()) return std::nullopt;
  m.root = decode_octal(f[3]);
  m.mount_point = decode_octal(f[4]);
  m.options = std::string(f[5]);
  m.fstype = decode_octal(f[sep + 1]);
  m.source = decode_octal(f[sep + 2]);
  m.super_options = std::string(f[sep + 3]);
  return m;
}

// Lexically normalises an absolute path: collapses "//", drops "." and trailing '/', resolves "..".
std::string normalise(const std::string& path) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string::npos) end = path.size();
    std::string p = path.substr(pos, end - pos);
    pos = end + 1;
    if (p.empty() || p == ".") continue;
    if (p == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(p);
  }
  std::string out;
  for (const std::string& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

}  // namespace

Result<std::vector<MountInfo>> parse_mountinfo(std::string_view text) {
  std::vector<MountInfo> out;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(' ') == std::string_view::npos) continue;
    std::optional<MountInfo> m = parse_line(line);
    if (!m) {
      return invalid("mountinfo line " + std::to_string(line_no) +
                     ": malformed entry (expected \"ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS "
                     "[OPTIONAL...] - FSTYPE SOURCE SUPER\")");
    }
    out.push_back(std::move(*m));
  }
  return out;
}

Result<std::vector<MountInfo>> read_mountinfo(const std::string& path) {
  RG_ASSIGN_OR_RETURN(std::string text, read_file(path, kMaxMountinfoBytes));
  auto parsed = parse_mountinfo(text);
  if (!parsed) return std::move(parsed).take_status().with_context(path);
  return parsed;
}

std::optional<MountInfo> top_mount_at(const std::vector<MountInfo>& mounts, const std::string& path) {
  const std::string want = normalise(path);
  // The top mount at a path is the one no other mount at that path is stacked on. mountinfo's
  // order alone is not enough: propagation can attach a mount beneath an existing one.
  std::vector<const MountInfo*> at;
  for (const MountInfo& m : mounts) {
    if (m.mount_point == want) at.push_back(&m);
  }
  const MountInfo* top = nullptr;
  for (const MountInfo* m : at) {
    bool covered = false;
    for (const MountInfo* other : at) covered = covered || (other != m && other->parent == m->id);
    if (!covered) top = m;  // the last uncovered one wins if the tree is odd
  }
  if (!top) return std::nullopt;
  return *top;
}

std::vector<MountInfo> mounts_under(const std::vector<MountInfo>& mounts, const std::string& dir) {
  const std::string want = normalise(dir);
  const std::string prefix = want == "/" ? want : want + "/";
  std::vector<size_t> hits;
  for (size_t i = 0; i < mounts.size(); ++i) {
    const std::string& mp = mounts[i].mount_point;
    if (mp == want || mp.compare(0, prefix.size(), prefix) == 0) hits.push_back(i);
  }
  std::sort(hits.begin(), hits.end(), [&](size_t a, size_t b) {
    size_t la = mounts[a].mount_point.size(), lb = mounts[b].mount_point.size();
    return la != lb ? la > lb : a > b;
  });
  std::vector<MountInfo> out;
  out.reserve(hits.size());
  for (size_t i : hits) out.push_back(mounts[i]);
  return out;
}

Result<MountInfo> mount_of(const std::string& path) {
  struct statx stx {};
  if (::statx(AT_FDCWD, path.c_str(), AT_NO_AUTOMOUNT, STATX_MNT_ID, &stx) != 0) {
    return io_error("statx " + path, errno);
  }
  if (!(stx.stx_mask & STATX_MNT_ID)) {
    return Status(Code::kUnavailable, "statx " + path + ": the kernel did not report a mount id (needs linux 5.8 or later)");
  }
  RG_ASSIGN_OR_RETURN(std::vector<MountInfo> mounts, read_mountinfo());
  for (MountInfo& m : mounts) {
    if (m.id == stx.stx_mnt_id) return std::move(m);
  }
  return Status(Code::kNotFound, "mount of " + path + ": mount id " + std::to_string(stx.stx_mnt_id) +
                                     " is not in /proc/self/mountinfo (is the path in another mount namespace?)");
}

Result<OverlayLayers> overlay_layers(const std::string& super_options) {
  OverlayLayers layers;
  bool saw_lowerdir = false;
  for (const std::string& raw : split_unescaped(super_options, ',')) {
    if (raw.empty()) continue;
    std::string opt = decode_octal(raw);
    size_t eq = opt.find('=');
    std::string key = opt.substr(0, eq);
    std::string value = eq == std::string::npos ? std::string() : opt.substr(eq + 1);
    if (key == "lowerdir") {
      saw_lowerdir = true;
      // "::" (an empty piece) starts the data-only layers: every layer after it is one.
      bool data_only = false;
      for (const std::string& p : split_unescaped(value, ':')) {
        if (p.empty()) {
          data_only = true;
          continue;
        }
        (data_only ? layers.data_only : layers.lower).push_back(unescape_backslashes(p));
      }
    } else if (key == "lowerdir+") {
      saw_lowerdir = true;
      layers.lower.push_back(unescape_backslashes(value));
    } else if (key == "datadir+") {
      layers.data_only.push_back(unescape_backslashes(value));
    } else if (key == "upperdir") {
      layers.upper = unescape_backslashes(value);
    } else if (key == "workdir") {
      layers.work = unescape_backslashes(value);
    } else {
      layers.other_options.push_back(opt);
    }
  }
  if (!saw_lowerdir || layers.lower.empty()) {
    return invalid("overlay options \"" + super_options + "\": no lowerdir");
  }
  if (layers.upper.empty() != layers.work.empty()) {
    return invalid("overlay options \"" + super_options + "\": upperdir and workdir must come together");
  }
  return layers;
}

}  // namespace runguard::nsutil
