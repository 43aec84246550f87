#include "runguard/pipeline/config.h"

#include <cstdlib>

#include "runguard/nsutil/fs.h"
#include "runguard/policy/loader.h"

namespace runguard::pipeline {

ConfigSource config_source() {
  const char* env = std::getenv("RUNGUARD_CONFIG");
  if (env != nullptr && *env != '\0') return {env, true, "RUNGUARD_CONFIG"};
  return {kDefaultConfigPath, false, ""};
}

Result<policy::Policy> load_policy(const ConfigSource& source) {
  auto text = nsutil::read_file(source.path, 4u << 20);
  if (!text.is_ok()) {
    if (text.status().code() == Code::kNotFound && !source.named) return policy::default_policy();
    return Status(Code::kInvalidArgument, "cannot read policy " + source.path +
                                              (source.named_by.empty() ? "" : " (named by " + source.named_by + ")") +
                                              ": " + text.status().to_string());
  }
  return policy::parse_policy(*text, source.path, [](const std::string& p) { return nsutil::read_file(p); });
}

Result<std::string> resolve_runtime(const std::string& configured) {
  auto r = nsutil::find_executable(configured.empty() ? "runc" : configured);
  if (!r.is_ok()) return Status(Code::kUnavailable, "real runtime: " + r.status().to_string());
  return r;
}

}  // namespace runguard::pipeline
