// runguardctl status / ps: the agent's view, or the node's files when runguardd is not running.
#include <sys/stat.h>

#include <algorithm>
#include <iostream>

#include "agent_cmds.h"
#include "disk_state.h"
#include "node_context.h"
#include "runguard/common/strings.h"
#include "runguard/nsutil/fs.h"

namespace runguard::cli {
namespace {

constexpr const char* kStatusUsage = "usage: runguardctl status [--format text|json] [--config FILE] [--agent SOCKET]\n";
constexpr const char* kPsUsage = "usage: runguardctl ps [--all] [--format text|json] [--config FILE] [--agent SOCKET]\n";

int usage(const char* text, const std::string& why) {
  if (!why.empty()) std::cerr << "runguardctl: " << why << "\n";
  std::cerr << text;
  return why.empty() ? 0 : 2;
}

std::string duration_text(int64_t s) {
  if (s < 0) s = 0;
  int64_t d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60;
  if (d > 0) return std::to_string(d) + "d" + std::to_string(h) + "h";
  if (h > 0) return std::to_string(h) + "h" + std::to_string(m) + "m";
  if (m > 0) return std::to_string(m) + "m" + std::to_string(s % 60) + "s";
  return std::to_string(s) + "s";
}

void print_agent_status(const NodeContext& node, const v1::StatusResponse& s) {
  std::cout << "runguardd   " << s.version() << " at " << node.socket << ", up " << duration_text(s.uptime_seconds());
  if (std::string t = format_timestamp(s.started_at()); !t.empty()) std::cout << " (since " << t << ")";
  std::cout << "\npolicy      " << s.policy_source() << " (" << s.policy_digest() << ")";
  if (std::string t = format_timestamp(s.policy_loaded_at()); !t.empty()) std::cout << ", loaded " << t;
  std::cout << "\ncontainers  " << s.containers_known() << " known, " << s.containers_monitored() << " monitored\n";
  std::cout << "events      " << s.events_in_ring() << " in the ring (capacity " << s.ring_capacity() << "), "
            << s.watchers() << " watcher" << (s.watchers() == 1 ? "" : "s") << "\n";
  std::map<std::string, uint64_t> sorted(s.counters().begin(), s.counters().end());
  std::vector<std::string> counters;
  for (const auto& [k, v] : sorted) counters.push_back(k + " " + std::to_string(v));
  if (!counters.empty()) std::cout << "counters    " << join(counters, ", ") << "\n";
}

// What the node's files say: the policy, the container records, the events file.
int disk_status(const NodeContext& node, const std::string& why) {
  note_fallback(node, why + "; showing on-disk state");
  Json j = {{"source", "disk"}, {"agent", {{"socket", node.socket}, {"running", false}, {"error", why}}}};
  // The policy as the runtime would load it at the next create.
  std::string policy_line;
  bool policy_ok = node.policy.has_value();
  if (policy_ok) {
    std::string digest;
    if (node.policy->source != "<embedded defaults>") {
      if (auto text = nsutil::read_file(node.policy->source, 4u << 20); text.is_ok()) digest = sha256_digest(*text);
    }
    j["policy"] = {{"source", node.policy->source}, {"digest", digest}, {"valid", true}};
    policy_line = node.policy->source + (digest.empty() ? "" : " (" + digest + ")");
  } else {
    j["policy"] = {{"source", node.source.path}, {"valid", false}, {"error", node.policy_error}};
    policy_line = node.source.path + ": DOES NOT LOAD: " + node.policy_error + " (the runtime refuses every create)";
  }
  // Container records.
  std::string records_line;
  auto scan = scan_state_dir(node.state_dir);
  if (scan.is_ok()) {
    j["stateDir"] = {{"path", node.state_dir}, {"containerRecords", scan->records.size()}};
    records_line = std::to_string(scan->records.size()) + " container record" + (scan->records.size() == 1 ? "" : "s") +
                   " in " + node.state_dir;
  } else {
    j["stateDir"] = {{"path", node.state_dir}, {"error", scan.status().to_string()}};
    records_line = node.state_dir + ": " + scan.status().to_string();
  }
  // The events file.
  std::string events_line;
  struct stat st {};
  if (::stat(node.events_path.c_str(), &st) == 0) {
    j["events"] = {{"path", node.events_path}, {"size", static_cast<uint64_t>(st.st_size)}};
    events_line = node.events_path + " (" + human_size(static_cast<uint64_t>(st.st_size)) + ")";
  } else {
    j["events"] = {{"path", node.events_path}, {"size", nullptr}};
    events_line = node.events_path + " (not there yet: no events written)";
  }
  if (node.json) {
    print_json(j);
  } else {
    std::cout << "runguardd   not running at " << node.socket << "\n"
              << "policy      " << policy_line << "\n"
              << "containers  " << records_line << "\n"
              << "events      " << events_line << "\n";
  }
  return policy_ok ? 0 : 1;
}

}  // namespace

int cmd_status(const std::vector<std::string>& args) {
  auto flags = parse_flags(args, {}, {});
  if (!flags.is_ok()) return usage(kStatusUsage, flags.status().message());
  if (flags->help) return usage(kStatusUsage, "");
  if (!flags->positional.empty()) return usage(kStatusUsage, "unexpected argument \"" + flags->positional[0] + "\"");
  auto node = node_context(*flags);
  if (!node.is_ok()) return usage(kStatusUsage, node.status().message());
  std::string why;
  auto agent = connect_agent(*node, &why);
  if (agent == nullptr) return disk_status(*node, why);
  auto s = agent->status();
  if (!s.is_ok()) return fail("status", s.status().to_string());
  if (node->json) {
    Json j = status_to_json(*s);
    print_json({{"source", "agent"}, {"agent", {{"socket", node->socket}, {"running", true}}}, {"status", j}});
  } else {
    print_agent_status(*node, *s);
  }
  return 0;
}

int cmd_ps(const std::vector<std::string>& args) {
  auto flags = parse_flags(args, {}, {"--all", "-a"});
  if (!flags.is_ok()) return usage(kPsUsage, flags.status().message());
  if (flags->help) return usage(kPsUsage, "");
  if (!flags->positional.empty()) return usage(kPsUsage, "unexpected argument \"" + flags->positional[0] + "\"");
  auto node = node_context(*flags);
  if (!node.is_ok()) return usage(kPsUsage, node.status().message());
  bool all = flags->bools.count("--all") != 0 || flags->bools.count("-a") != 0;

  std::vector<ContainerRow> rows;
  std::string source = "agent", why;
  auto agent = connect_agent(*node, &why);
  if (agent != nullptr) {
    auto list = agent->list_containers(all);
    if (!list.is_ok()) return fail("ps", list.status().to_string());
    for (const auto& c : *list) rows.push_back(row_from_container(c));
  } else {
    source = "disk";
    note_fallback(*node, "(from on-disk records; " + why + ")");
    auto scan = scan_state_dir(node->state_dir);
    if (!scan.is_ok()) return fail("ps", scan.status().to_string());
    for (const auto& w : scan->warnings) std::cerr << "runguardctl ps: " << printable(w) << "\n";
    for (const auto& r : scan->records) rows.push_back(row_from_disk(r));
    if (all) {
      // Refusals leave no state directory: the events file has them, as runguardd's --all does.
      // (Deleted containers are not listed: the agent knows those only from watching them go.)
      auto denied = denied_from_events(node->events_path, node->state_dir);
      if (!denied.is_ok()) {
        std::cerr << "runguardctl ps: refused containers not listed: " << printable(denied.status().to_string()) << "\n";
      } else {
        if (denied->scan_limit_reached) {
          std::cerr << "runguardctl ps: refused containers: only the last " << human_size(kDeniedScanBytes) << " of "
                    << node->events_path << " searched\n";
        }
        rows.insert(rows.end(), denied->rows.begin(), denied->rows.end());
        std::stable_sort(rows.begin(), rows.end(), [](const ContainerRow& a, const ContainerRow& b) { return a.time < b.time; });
      }
    }
  }
  if (node->json) {
    Json list = Json::array();
    for (const auto& r : rows) list.push_back(row_to_json(r));
    print_json({{"source", source}, {"containers", list}});
  } else {
    std::cout << render_ps_table(rows);
  }
  return 0;
}

}  // namespace runguard::cli
