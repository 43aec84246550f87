// Helpers shared by the policy unit tests: JSON literals, policies with every control switched
// off but one, and lookups into a Decision. Header-only; every function is inline.
#pragma once

#include <gtest/gtest.h>

#include <cerrno>
#include <fstream>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "runguard/common/json.h"
#include "runguard/policy/engine.h"
#include "runguard/policy/loader.h"
#include "runguard/policy/names.h"

// Parameterised tests print a row by its name instead of its bytes. Use inside the namespace
// that declares the row struct (gtest finds PrintTo by argument-dependent lookup).
#define RG_PRINT_BY_NAME(Type) \
  [[maybe_unused]] inline void PrintTo(const Type& row, std::ostream* os) { *os << row.name; }

namespace rgtest {

using runguard::Json;
using runguard::policy::Action;
using runguard::policy::ContainerContext;
using runguard::policy::Controls;
using runguard::policy::Decision;
using runguard::policy::Finding;
using runguard::policy::Policy;

// Parses a JSON literal written in a test; a typo in the test fails loudly.
inline Json parse(const std::string& text) {
  auto r = runguard::parse_json(text, "test literal");
  if (!r.is_ok()) {
    ADD_FAILURE() << r.status().message();
    return Json();
  }
  return std::move(r).value();
}

// The JSON array of every capability libcap-ng knows, as a privileged container gets them.
inline Json all_caps_json() {
  Json caps = Json::array();
  for (const auto& c : runguard::policy::all_capabilities()) caps.push_back(c);
  return caps;
}

// parse() after replacing the string "@ALLCAPS@" by all_caps_json().
inline Json parse_with_caps(std::string text) {
  const std::string token = "\"@ALLCAPS@\"";
  for (auto pos = text.find(token); pos != std::string::npos; pos = text.find(token)) {
    text.replace(pos, token.size(), all_caps_json().dump());
  }
  return parse(text);
}

inline Policy defaults() {
  auto p = runguard::policy::default_policy();
  if (!p.is_ok()) {
    ADD_FAILURE() << p.status().message();
    return Policy();
  }
  return std::move(p).value();
}

inline void all_off(Controls& c) {
  c.user_namespace.action = Action::kOff;
  c.monitor.action = Action::kOff;
  c.user.action = Action::kOff;
  c.capabilities.action = Action::kOff;
  c.no_new_privileges.action = Action::kOff;
  c.seccomp.action = Action::kOff;
  c.resources.action = Action::kOff;
  c.host_namespaces.action = Action::kOff;
  c.privileged.action = Action::kOff;
  c.sensitive_mounts.action = Action::kOff;
  c.readonly_rootfs.action = Action::kOff;
  c.secrets_in_env.action = Action::kOff;
}

// The default policy with every control off; the caller switches on the one under test.
inline Policy only_defaults_off() {
  Policy p = defaults();
  all_off(p.controls);
  return p;
}

inline std::vector<const Finding*> findings_with(const Decision& d, const std::string& id) {
  std::vector<const Finding*> out;
  for (const auto& f : d.findings) {
    if (f.id == id) out.push_back(&f);
  }
  return out;
}

inline size_t count_id(const Decision& d, const std::string& id) { return findings_with(d, id).size(); }

// "RG-USER-001(enforce), RG-CAPS-001(enforce)": for failure messages.
inline std::string describe(const Decision& d) {
  std::string out;
  for (const auto& f : d.findings) {
    if (!out.empty()) out += ", ";
    out += f.id + "(" + runguard::policy::action_name(f.action) + " " + f.pointer + ")";
  }
  return out.empty() ? "<no findings>" : out;
}

// The value at `pointer` in `doc`, or nullopt.
inline std::optional<Json> at(const Json& doc, const std::string& pointer) {
  Json::json_pointer p(pointer);
  if (!doc.contains(p)) return std::nullopt;
  return doc.at(p);
}

inline std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A FileReader for parse_policy that reads the real filesystem.
inline runguard::Result<std::string> read_from_disk(const std::string& path) {
  auto t = read_text(path);
  if (!t) return runguard::io_error("open " + path, ENOENT);
  return *t;
}

// A FileReader for policies that name no file.
inline runguard::Result<std::string> no_files(const std::string& path) {
  return runguard::invalid("unexpected read of " + path);
}

}  // namespace rgtest
