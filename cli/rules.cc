// `runguardctl rules check FILE...`: load rule files as the monitor would and report.
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "check.h"
#include "runguard/monitor/ruleset.h"

namespace runguard::cli {
namespace {

int usage(const std::string& why) {
  std::cerr << "runguardctl rules: " << why << "\n"
            << "usage: runguardctl rules check [--strict] FILE...\n";
  return 2;
}

void report(const monitor::Ruleset& rs) {
  std::cout << rs.rules.size() << " rules loaded, " << rs.skipped.size() << " skipped, " << rs.disabled.size()
            << " disabled (" << rs.macros << " macros, " << rs.lists << " lists)\n";
  for (const auto& r : rs.rules) {
    std::cout << "  loaded   " << r.name << " [" << monitor::action_name(r.action) << ", "
              << monitor::priority_name(r.priority) << "]\n";
  }
  for (const auto& d : rs.disabled) std::cout << "  disabled " << d << "\n";
  for (const auto& s : rs.skipped) {
    std::cout << "  skipped  " << s.location.to_string() << ": " << s.name << ": " << s.reason << " [" << s.category << "]\n";
  }
  for (const auto& w : rs.warnings) {
    std::cout << "  warning  " << w.location.to_string() << ": " << (w.name.empty() ? "" : w.name + ": ") << w.message << "\n";
  }
}

}  // namespace

int cmd_rules(const std::vector<std::string>& args) {
  if (args.empty() || args[0] != "check") return usage("expected the subcommand check");
  bool strict = false;
  std::vector<monitor::RuleFile> files;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--strict") {
      strict = true;
      continue;
    }
    if (args[i].size() > 1 && args[i][0] == '-') return usage("unknown flag " + args[i]);
    std::ifstream in(args[i], std::ios::binary);
    if (!in) {
      std::cerr << "runguardctl rules: cannot read " << args[i] << "\n";
      return 2;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    files.push_back({args[i], ss.str()});
  }
  if (files.empty()) return usage("no rule files given");
  auto rs = monitor::load_rules(files);  // strictness decides the exit code, the report is always full
  if (!rs.is_ok()) {
    std::cerr << "runguardctl rules: " << rs.status().message() << "\n";
    return 2;
  }
  report(*rs);
  return strict && !rs->skipped.empty() ? 1 : 0;
}

}  // namespace runguard::cli
