// runguardctl userns [list|gc] [--lib-dir DIR] [--format text|json]
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "check.h"
#include "runguard/common/strings.h"
#include "runguard/pipeline/config.h"
#include "runguard/pipeline/userns_admin.h"

namespace runguard::cli {
namespace {

void print_text(const Json& report) {
  std::cout << "GROUP\tRANGE\tFIXED\tMEMBERS\n";
  for (const auto& a : report["allocations"]) {
    std::vector<std::string> ranges, members;
    for (const auto& r : a["ranges"]) {
      uint64_t start = r["start"], size = r["size"];
      ranges.push_back(std::to_string(start) + "-" + std::to_string(start + size - 1));
    }
    for (const auto& m : a["members"]) members.push_back(m["id"].get<std::string>() + (m["alive"] == true ? "" : " (dead)"));
    std::cout << a["group"].get<std::string>() << "\t" << join(ranges, ",") << "\t" << (a["fixed"] == true ? "yes" : "no")
              << "\t" << join(members, ",") << "\n";
  }
}

}  // namespace

int cmd_userns(const std::vector<std::string>& args) {
  std::string action = "list", lib_dir, format = "text";
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const std::string& flag) -> std::optional<std::string> {
      if (a.rfind(flag + "=", 0) == 0) return a.substr(flag.size() + 1);
      if (a == flag && i + 1 < args.size()) return args[++i];
      return std::nullopt;
    };
    if (auto v = value("--lib-dir")) lib_dir = *v;
    else if (auto f = value("--format")) format = *f;
    else if (a == "list" || a == "gc") action = a;
    else {
      std::cerr << "runguardctl userns: unexpected argument \"" << a << "\"\nusage: runguardctl userns [list|gc] [--lib-dir DIR] [--format text|json]\n";
      return 2;
    }
  }
  if (format != "text" && format != "json") {
    std::cerr << "runguardctl userns: --format must be text or json\n";
    return 2;
  }
  if (lib_dir.empty()) {
    auto p = pipeline::load_policy(pipeline::config_source());
    if (!p.is_ok()) {
      std::cerr << "runguardctl userns: " << p.status().to_string() << " (or pass --lib-dir)\n";
      return 2;
    }
    lib_dir = p->lib_dir;
  }
  if (action == "gc") {
    auto n = pipeline::userns_collect_garbage(lib_dir);
    if (!n.is_ok()) {
      std::cerr << "runguardctl userns gc: " << n.status().to_string() << "\n";
      return 1;
    }
    std::cout << "released " << *n << " dead container(s)\n";
    return 0;
  }
  auto report = pipeline::userns_report(lib_dir);
  if (!report.is_ok()) {
    std::cerr << "runguardctl userns: " << report.status().to_string() << "\n";
    return 1;
  }
  if (format == "json") std::cout << dump_json(*report, 2) << "\n";
  else print_text(*report);
  return 0;
}

}  // namespace runguard::cli
