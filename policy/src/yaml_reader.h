// Internal: reading policy YAML with errors that name file:line:col and the dotted key. The
// loader (loader.cc) and the section readers in their own files (secrets_loader.cc) share it.
// yaml-cpp exceptions are caught by parse_policy(), which wraps every use.
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "runguard/common/status.h"
#include "runguard/common/strings.h"
#include "runguard/policy/names.h"

namespace runguard::policy::internal {

class YamlReader {
 public:
  explicit YamlReader(std::string source) : source_(std::move(source)) {}

  Status error(const YAML::Node& n, const std::string& key, const std::string& msg) const {
    std::string where = source_;
    if (n && n.Mark().line >= 0) {
      where += ":" + std::to_string(n.Mark().line + 1) + ":" + std::to_string(n.Mark().column + 1);
    }
    return invalid(where + ": " + (key.empty() ? "" : key + ": ") + msg);
  }

  Status check_keys(const YAML::Node& n, const std::string& key, const std::vector<std::string>& allowed) const {
    if (!n.IsMap()) return error(n, key, "expected a mapping");
    std::set<std::string> seen;
    for (const auto& kv : n) {
      std::string k = kv.first.Scalar();
      // yaml-cpp keeps the first of duplicate keys, the pass-through scanner the last: refuse both.
      if (!seen.insert(k).second) return error(kv.first, key.empty() ? k : key + "." + k, "duplicate key");
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
        std::string full = key.empty() ? k : key + "." + k;
        return error(kv.first, full, "unknown key" + did_you_mean(k, allowed) + "; allowed here: " + join(allowed, ", "));
      }
    }
    return Status::ok();
  }

  Result<std::string> scalar(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) return error(n, key, "expected a single value, not a list or mapping");
    return n.Scalar();
  }

  Result<std::string> one_of(const YAML::Node& n, const std::string& key, const std::vector<std::string>& values) const {
    RG_ASSIGN_OR_RETURN(std::string v, scalar(n, key));
    if (std::find(values.begin(), values.end(), v) == values.end()) {
      return error(n, key, "\"" + v + "\" is not one of " + join(values, ", ") + did_you_mean(v, values));
    }
    return v;
  }

  Result<bool> boolean(const YAML::Node& n, const std::string& key) const {
    RG_ASSIGN_OR_RETURN(std::string v, one_of(n, key, {"true", "false"}));
    return v == "true";
  }

  Result<std::string> absolute_path(const YAML::Node& n, const std::string& key) const {
    RG_ASSIGN_OR_RETURN(std::string v, scalar(n, key));
    if (v.empty() || v.front() != '/') return error(n, key, "\"" + v + "\" must be an absolute path");
    return v;
  }

  Result<int64_t> integer(const YAML::Node& n, const std::string& key, int64_t min, int64_t max) const {
    RG_ASSIGN_OR_RETURN(std::string v, scalar(n, key));
    bool neg = !v.empty() && v[0] == '-';
    std::string digits = neg ? v.substr(1) : v;
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit) || digits.size() > 18) {
      return error(n, key, "\"" + v + "\" is not an integer");
    }
    int64_t x = std::stoll(v);
    if (x < min || x > max) {
      return error(n, key, std::to_string(x) + " is out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    }
    return x;
  }

  Result<int64_t> duration_ms(const YAML::Node& n, const std::string& key, int64_t min, int64_t max) const {
    RG_ASSIGN_OR_RETURN(std::string v, scalar(n, key));
    auto r = parse_duration_ms(v);
    if (!r.is_ok()) return error(n, key, r.status().message());
    if (*r < min || *r > max) {
      return error(n, key, "\"" + v + "\" is out of range [" + std::to_string(min) + "ms, " + std::to_string(max) + "ms]");
    }
    return *r;
  }

  Result<int64_t> byte_size(const YAML::Node& n, const std::string& key) const {
    RG_ASSIGN_OR_RETURN(std::string v, scalar(n, key));
    auto r = parse_byte_size(v);
    if (!r.is_ok()) return error(n, key, r.status().message());
    if (*r <= 0) return error(n, key, "must be larger than 0");
    return *r;
  }

 protected:
  std::string source_;
};

}  // namespace runguard::policy::internal
