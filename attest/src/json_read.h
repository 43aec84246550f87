// Type-checked reads of scanner reports and VEX documents. Every accessor takes the JSON path of
// the value it looks at ("scanner.result.Results[3].Vulnerabilities[0]") so a mistyped field is
// reported where it is: "…Vulnerabilities[0].Severity: expected a string, got number".
// Absent and null optional fields read as empty. Internal to rg_attest.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runguard/common/json.h"
#include "runguard/common/status.h"

namespace runguard::attest::detail {

inline std::string join_path(const std::string& base, std::string_view key) {
  return base.empty() ? std::string(key) : base + "." + std::string(key);
}
inline std::string index_path(const std::string& base, size_t i) { return base + "[" + std::to_string(i) + "]"; }

inline Status type_error(const std::string& path, const char* expected, const Json& got) {
  return Status(Code::kInvalidArgument, path + ": expected " + expected + ", got " + json_type_name(got));
}

// The member `key` of object `obj`, or nullptr when absent or null.
inline const Json* member(const Json& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

inline Result<std::string> opt_string(const Json& obj, std::string_view key, const std::string& path) {
  const Json* v = member(obj, key);
  if (!v) return std::string();
  if (!v->is_string()) return type_error(join_path(path, key), "a string", *v);
  return v->get<std::string>();
}

inline Result<std::string> req_string(const Json& obj, std::string_view key, const std::string& path) {
  const Json* v = member(obj, key);
  if (!v) return Status(Code::kInvalidArgument, join_path(path, key) + ": required");
  if (!v->is_string()) return type_error(join_path(path, key), "a string", *v);
  return v->get<std::string>();
}

// Kind-checked optional member: nullptr when absent or null.
inline Result<const Json*> opt_object(const Json& obj, std::string_view key, const std::string& path) {
  const Json* v = member(obj, key);
  if (v && !v->is_object()) return type_error(join_path(path, key), "an object", *v);
  return v;
}
inline Result<const Json*> opt_array(const Json& obj, std::string_view key, const std::string& path) {
  const Json* v = member(obj, key);
  if (v && !v->is_array()) return type_error(join_path(path, key), "an array", *v);
  return v;
}

// An optional array of strings (aliases, VendorIDs).
inline Result<std::vector<std::string>> opt_string_array(const Json& obj, std::string_view key, const std::string& path) {
  std::vector<std::string> out;
  RG_ASSIGN_OR_RETURN(const Json* a, opt_array(obj, key, path));
  if (!a) return out;
  for (size_t i = 0; i < a->size(); ++i) {
    const Json& e = (*a)[i];
    if (!e.is_string()) return type_error(index_path(join_path(path, key), i), "a string", e);
    out.push_back(e.get<std::string>());
  }
  return out;
}

inline Status expect_object(const Json& j, const std::string& path) {
  if (!j.is_object()) return type_error(path.empty() ? std::string("document") : path, "an object", j);
  return Status::ok();
}

}  // namespace runguard::attest::detail
