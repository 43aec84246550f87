#include "runguard/policy/seccomp_profile.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "runguard/common/strings.h"
#include "runguard/policy/names.h"

namespace runguard::policy {
namespace {

const std::vector<std::string>& actions() {
  static const std::vector<std::string> k = {"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
                                             "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE",
                                             "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY"};
  return k;
}

const std::vector<std::string>& operators() {
  static const std::vector<std::string> k = {"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ",
                                             "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"};
  return k;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool permissive(const std::string& action) { return action == "SCMP_ACT_ALLOW" || action == "SCMP_ACT_LOG"; }

}  // namespace

Status validate_seccomp_profile(const Json& p, const std::string& source, bool check_names) {
  auto bad = [&](const std::string& ptr, const std::string& msg) { return invalid(source + ": " + ptr + ": " + msg); };
  if (!p.is_object()) return bad("/", "a seccomp profile must be a JSON object");
  if (!p.contains("defaultAction") || !p["defaultAction"].is_string()) return bad("/defaultAction", "missing or not a string");
  std::string def = p["defaultAction"];
  if (!contains(actions(), def)) return bad("/defaultAction", "unknown action \"" + def + "\"" + did_you_mean(def, actions()));
  if (def == "SCMP_ACT_NOTIFY") return bad("/defaultAction", "SCMP_ACT_NOTIFY cannot be the default action");
  if (p.contains("architectures") && !p["architectures"].is_array()) return bad("/architectures", "expected an array");
  if (!p.contains("syscalls") || p["syscalls"].is_null()) return Status::ok();
  if (!p["syscalls"].is_array()) return bad("/syscalls", "expected an array");
  for (size_t i = 0; i < p["syscalls"].size(); ++i) {
    const Json& r = p["syscalls"][i];
    std::string ptr = "/syscalls/" + std::to_string(i);
    if (!r.is_object()) return bad(ptr, "expected an object");
    if (!r.contains("names") || !r["names"].is_array() || r["names"].empty()) return bad(ptr + "/names", "expected a non-empty array of syscall names");
    if (!r.contains("action") || !r["action"].is_string()) return bad(ptr + "/action", "missing or not a string");
    std::string act = r["action"];
    if (!contains(actions(), act)) return bad(ptr + "/action", "unknown action \"" + act + "\"" + did_you_mean(act, actions()));
    for (size_t k = 0; k < r["names"].size(); ++k) {
      const Json& n = r["names"][k];
      if (!n.is_string()) return bad(ptr + "/names/" + std::to_string(k), "expected a string");
      if (act == "SCMP_ACT_NOTIFY" && n == "write") return bad(ptr, "SCMP_ACT_NOTIFY cannot be used for write");
      if (check_names) {
        Status s = check_syscall_name(n.get<std::string>());
        if (!s.is_ok()) return bad(ptr + "/names/" + std::to_string(k), s.message());
      }
    }
    if (r.contains("args") && !r["args"].is_null()) {
      if (!r["args"].is_array()) return bad(ptr + "/args", "expected an array");
      for (size_t k = 0; k < r["args"].size(); ++k) {
        const Json& a = r["args"][k];
        std::string aptr = ptr + "/args/" + std::to_string(k);
        if (!a.is_object() || !a.contains("index") || !a["index"].is_number_unsigned() || !a.contains("value") ||
            !a["value"].is_number_unsigned() || !a.contains("op") || !a["op"].is_string()) {
          return bad(aptr, "expected { index: uint, value: uint, op: string }");
        }
        std::string op = a["op"];
        if (!contains(operators(), op)) return bad(aptr + "/op", "unknown operator \"" + op + "\"" + did_you_mean(op, operators()));
      }
    }
  }
  return Status::ok();
}

bool seccomp_allows_all(const Json& p) {
  if (!p.is_object() || !p.contains("defaultAction") || !p["defaultAction"].is_string()) return false;
  if (!permissive(p["defaultAction"].get<std::string>())) return false;
  if (p.contains("syscalls") && p["syscalls"].is_array()) {
    for (const auto& r : p["syscalls"]) {
      if (r.is_object() && r.contains("action") && r["action"].is_string() && !permissive(r["action"].get<std::string>())) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace runguard::policy
