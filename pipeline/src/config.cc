#include "runguard/pipeline/config.h"

#include <cstdlib>

#include "runguard/nsutil/fs.h"
#include "runguard/policy/loader.h"

namespace runguard::pipeline {

std::string config_path(bool* explicit_path) {
  const char* env = std::getenv("RUNGUARD_CONFIG");
  if (explicit_path) *explicit_path = env != nullptr && *env != '\0';
  return env != nullptr && *env != '\0' ? env : kDefaultConfigPath;
}

Result<policy::Policy> load_policy(const std::string& path, bool explicit_path) {
  auto text = nsutil::read_file(path, 4u << 20);
  if (!text.is_ok()) {
    if (text.status().code() == Code::kNotFound && !explicit_path) return policy::default_policy();
    return Status(Code::kInvalidArgument, "cannot read policy " + path + ": " + text.status().to_string() +
                                              (explicit_path ? " (named by RUNGUARD_CONFIG)" : ""));
  }
  return policy::parse_policy(*text, path, [](const std::string& p) { return nsutil::read_file(p); });
}

Result<std::string> resolve_runtime(const std::string& configured) {
  auto r = nsutil::find_executable(configured.empty() ? "runc" : configured);
  if (!r.is_ok()) return Status(Code::kUnavailable, "real runtime: " + r.status().to_string());
  return r;
}

}  // namespace runguard::pipeline
