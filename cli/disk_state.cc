#include "disk_state.h"

#include <dirent.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <limits>
#include <set>

#include "event_log.h"
#include "runguard/nsutil/fd.h"
#include "runguard/nsutil/fs.h"
#include "runguard/nsutil/proc_info.h"

namespace runguard::cli {
namespace {

bool plain_name(const std::string& id) {
  return !id.empty() && id != "." && id != ".." && id.find('/') == std::string::npos && id.find('\0') == std::string::npos;
}

int read_monitor_pid(const std::string& dir) {
  auto text = nsutil::read_file(dir + "/resources.json", 1u << 20);
  if (!text.is_ok()) return 0;
  auto j = parse_json(*text, dir + "/resources.json");
  if (!j.is_ok() || !j->is_object()) return 0;
  auto it = j->find("monitorPid");
  if (it == j->end() || !it->is_number_integer()) return 0;
  int64_t pid = it->get<int64_t>();
  return pid > 0 && pid < (1 << 22) ? static_cast<int>(pid) : 0;
}

std::string record_time(const Json& r) {
  auto it = r.find("time");
  return it != r.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Result<DiskRecord> read_disk_record(const std::string& state_dir, const std::string& id) {
  if (!plain_name(id)) return invalid("\"" + id + "\" is not a container id");
  DiskRecord r;
  r.id = id;
  r.dir = state_dir + "/" + id;
  std::string path = r.dir + "/decision.json";
  auto text = nsutil::read_file(path, kMaxRecordBytes);
  if (!text.is_ok()) {
    if (text.status().code() == Code::kNotFound) return Status(Code::kNotFound, "no decision record at " + path);
    return text.status();
  }
  RG_ASSIGN_OR_RETURN(r.record, parse_json(*text, path));
  if (!r.record.is_object()) return invalid(path + ": not a JSON object");
  r.monitor_pid = read_monitor_pid(r.dir);
  return r;
}

Result<StateScan> scan_state_dir(const std::string& state_dir) {
  StateScan out;
  DIR* d = ::opendir(state_dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return out;
    return io_error("reading state directory " + state_dir, errno);
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) continue;
    names.push_back(name);
  }
  ::closedir(d);
  for (const auto& name : names) {
    struct stat st {};
    std::string dir = state_dir + "/" + name;
    if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    if (!nsutil::path_exists(dir + "/decision.json")) continue;  // not a container's directory
    auto r = read_disk_record(state_dir, name);
    if (!r.is_ok()) {
      out.warnings.push_back("skipping " + dir + "/decision.json: " + r.status().to_string());
      continue;
    }
    out.records.push_back(std::move(r).value());
  }
  std::sort(out.records.begin(), out.records.end(), [](const DiskRecord& a, const DiskRecord& b) {
    std::string ta = record_time(a.record), tb = record_time(b.record);
    return ta != tb ? ta < tb : a.id < b.id;
  });
  return out;
}

std::string monitor_liveness(int pid, const std::string& proc_root) {
  if (pid <= 0) return "no";
  auto argv = nsutil::read_proc_cmdline(pid, 4096, proc_root);
  if (!argv.has_value() || argv->empty()) return "dead";
  const std::string& arg0 = (*argv)[0];
  std::string base = arg0.substr(arg0.rfind('/') == std::string::npos ? 0 : arg0.rfind('/') + 1);
  return base == "runguard-monitor" ? "yes" : "dead";  // a reused pid is not our monitor
}

ContainerRow row_from_disk(const DiskRecord& r, const std::string& proc_root) {
  ContainerRow row = row_from_record(r.record, "created").value_or(ContainerRow{});
  if (row.id.empty()) row.id = r.id;
  row.state = "created";
  row.monitor = monitor_liveness(r.monitor_pid, proc_root);
  row.monitor_pid = r.monitor_pid;
  return row;
}

Result<std::optional<Json>> last_decision_event(const std::string& events_path, const std::string& id,
                                                size_t max_scan_bytes) {
  auto keep = [&id](std::string_view line) {
    // Cheap check first: most lines are monitor events of other containers.
    if (line.find(id) == std::string_view::npos || line.find("\"decision\"") == std::string_view::npos) return false;
    auto e = parse_event_line(line);
    return e.has_value() && e->kind == "decision" && e->container_id == id;
  };
  RG_ASSIGN_OR_RETURN(Tail t, tail_lines(events_path, 1, keep, max_scan_bytes));
  if (t.lines.empty()) return std::optional<Json>();
  auto j = parse_json(t.lines.back(), events_path);
  if (!j.is_ok()) return std::optional<Json>();
  return std::optional<Json>(std::move(j).value());
}

Result<DeniedScan> denied_from_events(const std::string& events_path, const std::string& state_dir, size_t max_scan_bytes,
                                      size_t max_rows) {
  DeniedScan out;
  // Cheap check only: the lines kept are parsed once below.
  auto keep = [](std::string_view line) { return line.find("\"decision\"") != std::string_view::npos; };
  auto t = tail_lines(events_path, std::numeric_limits<size_t>::max(), keep, max_scan_bytes);
  if (!t.is_ok()) {
    if (t.status().code() == Code::kNotFound) return out;
    return t.status();
  }
  out.scan_limit_reached = t->scan_limit_reached;
  std::set<std::string> seen;  // ids whose newest decision was already looked at
  for (auto it = t->lines.rbegin(); it != t->lines.rend() && out.rows.size() < max_rows; ++it) {
    auto j = parse_json(*it, events_path);
    if (!j.is_ok()) continue;
    auto rec = record_from_decision_event(*j);
    if (!rec.has_value()) continue;
    auto row = row_from_record(*rec, "denied");
    if (!row.has_value() || !seen.insert(row->id).second) continue;
    if (row->allowed) continue;  // its newest decision let it run: not a refusal (any more)
    if (plain_name(row->id) && nsutil::path_exists(state_dir + "/" + row->id)) continue;  // created since: live
    row->monitor = "";
    out.rows.push_back(std::move(*row));
  }
  std::reverse(out.rows.begin(), out.rows.end());
  return out;
}

std::string sha256_digest(const std::string& bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) != 1) return "";
  static const char* hex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 0xf];
  }
  return out;
}

std::string human_size(uint64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(units)) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else if (v == static_cast<double>(static_cast<uint64_t>(v))) std::snprintf(buf, sizeof buf, "%.0f %s", v, units[u]);
  else std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace runguard::cli
