// Helpers for the rule-language tests: load YAML text, build events.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "runguard/monitor/eval.h"
#include "runguard/monitor/ruleset.h"

namespace rgmon {

using runguard::Result;
using namespace runguard::monitor;  // NOLINT(google-build-using-namespace)

inline Result<Ruleset> load_text(const std::string& yaml, bool strict = false) {
  return load_rules({RuleFile{"test.yaml", yaml}}, LoadOptions{strict});
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A rule file with one rule named "r" with `condition`.
inline std::string one_rule(const std::string& condition, const std::string& extra = "") {
  return "- rule: r\n  desc: d\n  condition: |-\n    " + condition + "\n  output: 'o %proc.name'\n  priority: WARNING\n" + extra;
}

// An execve in a container: `name` with args, run by `parent` (ancestors further up: runc).
inline Event exec_event(const std::string& name, std::vector<std::string> args = {}, const std::string& parent = "bash") {
  Event ev;
  ev.type = "execve";
  ev.proc.name = name;
  ev.proc.exe = name;
  ev.proc.exepath = "/bin/" + name;
  ev.proc.args = std::move(args);
  ev.proc.pid = 42;
  ev.proc.vpid = 7;
  ev.proc.cwd = "/work";
  ev.proc.user_name = "root";
  ev.ancestors = {{parent, parent, "/bin/" + parent, parent + " -x", 41}, {"containerd-shim", "containerd-shim", "/usr/bin/containerd-shim", "containerd-shim", 1}};
  ev.args = {{"filename", "/bin/" + name, std::nullopt}, {"flags", "EXE_WRITABLE", 1}};
  ev.container.id = "0123456789ab";
  ev.container.name = "web";
  ev.container.image_repository = "docker.io/library/nginx";
  ev.container.image_tag = "1.25";
  return ev;
}

// Loads `condition` as rule "r" and evaluates it against `ev`; fails the test on a load problem.
inline bool holds(const std::string& condition, const Event& ev) {
  auto rs = load_text(one_rule(condition), true);
  EXPECT_TRUE(rs.is_ok()) << condition << ": " << rs.status().message();
  if (!rs.is_ok() || rs->rules.size() != 1) return false;
  return rule_matches(rs->rules[0], ev);
}

}  // namespace rgmon
