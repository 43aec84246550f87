// Controls over the process: user, capabilities, noNewPrivileges, environment, rlimits.
// They apply to config.json's `process` and to `runc exec --process` documents alike.
#include <algorithm>
#include <set>
#include <array>

#include "eval.h"
#include "runguard/policy/secrets.h"
#include "runguard/common/strings.h"

namespace runguard::policy::internal {
namespace {

constexpr std::array<const char*, 5> kCapSets = {"bounding", "effective", "permitted", "inheritable", "ambient"};

bool is_uint(const Json* j, uint64_t value) { return j != nullptr && j->is_number_unsigned() && j->get<uint64_t>() == value; }

}  // namespace

void check_user(const UserControl& c, Eval& e, const std::string& proc, uint32_t min_host_id) {
  if (c.action == Action::kOff) return;
  // Root inside a user namespace of its own is an unprivileged id on the host.
  if (c.allow_root_in_user_namespace && runs_in_user_namespace(e, proc, min_host_id)) return;
  const Json* uid = at(e.doc(), proc + "/user/uid");
  // runc runs as uid 0 when process.user is absent.
  if (uid == nullptr || is_uint(uid, 0)) {
    if (e.violation("user", "RG-USER-001", Severity::kHigh, c.action,
                    "process runs as root (uid 0); run it as uid " + std::to_string(c.uid), proc + "/user/uid")) {
      e.set(proc + "/user/uid", c.uid);
      e.set(proc + "/user/gid", c.gid);
    }
  }
  const Json* gid = at(e.doc(), proc + "/user/gid");
  if (gid == nullptr || is_uint(gid, 0)) {
    if (e.violation("user", "RG-USER-002", Severity::kMedium, c.action,
                    "process runs with primary group root (gid 0)", proc + "/user/gid")) {
      e.set(proc + "/user/gid", c.gid);
    }
  }
  if (const Json* extra = at(e.doc(), proc + "/user/additionalGids"); extra != nullptr && extra->is_array()) {
    for (size_t i = extra->size(); i-- > 0;) {
      if (!is_uint(&(*extra)[i], 0)) continue;
      std::string ptr = proc + "/user/additionalGids/" + std::to_string(i);
      if (e.violation("user", "RG-USER-003", Severity::kMedium, c.action, "process has supplementary group root (gid 0)", ptr)) {
        e.remove(ptr);
      }
    }
  }
}

void check_capabilities(const CapabilitiesControl& c, Eval& e, const std::string& proc) {
  if (c.action == Action::kOff) return;
  for (const char* set : kCapSets) {
    std::string ptr = proc + "/capabilities/" + set;
    const Json* caps = at(e.doc(), ptr);
    if (caps == nullptr || !caps->is_array()) continue;
    std::vector<std::string> extra;
    Json kept = Json::array();
    for (const auto& cap : *caps) {
      std::string name = to_upper(cap.get<std::string>());
      if (name.rfind("CAP_", 0) != 0) name = "CAP_" + name;
      if (std::find(c.allow.begin(), c.allow.end(), name) == c.allow.end()) extra.push_back(cap.get<std::string>());
      else kept.push_back(cap);
    }
    if (extra.empty()) continue;
    if (e.violation("capabilities", "RG-CAPS-001", Severity::kHigh, c.action,
                    std::string(set) + " capabilities not in the allow list: " + join(extra, ", "), ptr)) {
      e.set(ptr, kept);
    }
  }
}

void check_no_new_privileges(const SimpleControl& c, Eval& e, const std::string& proc) {
  if (c.action == Action::kOff) return;
  const Json* nnp = at(e.doc(), proc + "/noNewPrivileges");
  if (nnp != nullptr && nnp->is_boolean() && nnp->get<bool>()) return;
  if (e.violation("noNewPrivileges", "RG-NNP-001", Severity::kMedium, c.action,
                  "noNewPrivileges is not set: setuid binaries and file capabilities can raise privileges",
                  proc + "/noNewPrivileges")) {
    e.set(proc + "/noNewPrivileges", true);
  }
}

void check_secrets_in_env(const SimpleControl& c, Eval& e, const std::string& proc, const std::string* files_dir) {
  if (c.action == Action::kOff) return;
  const Json* env = at(e.doc(), proc + "/env");
  if (env == nullptr || !env->is_array()) return;
  std::set<std::string> names;
  for (const auto& entry : *env) {
    if (entry.is_string()) names.insert(env_name(entry.get_ref<const std::string&>()));
  }
  // Walk backwards so removals keep the remaining indices valid.
  for (size_t i = env->size(); i-- > 0;) {
    const Json& entry = (*env)[i];
    if (!entry.is_string() || !looks_like_secret(entry.get_ref<const std::string&>())) continue;
    std::string name = env_name(entry.get_ref<const std::string&>());
    std::string ptr = proc + "/env/" + std::to_string(i);
    std::string shown = name.empty() ? "#" + std::to_string(i) : name;
    bool movable = files_dir != nullptr && check_secret_name(name).is_ok();
    std::string file = movable ? *files_dir + "/" + name : "";
    // The value is never copied into the finding or the mutation.
    std::string fix = c.action != Action::kEnforce ? "deliver it as a secret file, not in the environment"
                      : movable ? "moved to " + file + " (" + name + "_FILE names it)"
                      : files_dir != nullptr ? "removed (its name cannot be a file name)"
                                             : "removed (the container's secret files are under secrets.mountPath)";
    if (!e.violation("secretsInEnv", "RG-ENV-001", Severity::kHigh, c.action,
                     "environment variable " + shown + " looks like a credential; " + fix, ptr)) {
      continue;
    }
    if (!movable) {
      e.remove(ptr);
      continue;
    }
    // NAME_FILE=<file> takes the entry's place unless the spec sets NAME_FILE itself.
    if (names.count(name + "_FILE") == 0) {
      e.set(ptr, name + "_FILE=" + file);
      names.insert(name + "_FILE");
    } else {
      e.remove(ptr);
    }
    auto& files = e.secrets().files;
    auto same = std::find_if(files.begin(), files.end(), [&](const PlannedSecret& f) { return f.name == name; });
    if (same != files.end()) files.erase(same);  // a name set twice: the first entry is what getenv(3) sees
    PlannedSecret f;
    f.name = name;
    f.source = PlannedSecret::Source::kEnv;
    f.env_var = name;
    f.env_index = i;
    files.push_back(std::move(f));
  }
}

void check_rlimits(const ResourcesControl& c, Eval& e, const std::string& proc) {
  if (c.action == Action::kOff) return;
  for (const auto& [type, setting] : c.rlimits) {
    const Json* list = at(e.doc(), proc + "/rlimits");
    std::optional<size_t> index;
    if (list != nullptr && list->is_array()) {
      for (size_t i = 0; i < list->size(); ++i) {
        if (str_member((*list)[i], "type") == type) index = i;
      }
    }
    if (!index) {
      if (!setting.default_value) continue;
      uint64_t v = *setting.default_value;
      if (e.violation("resources", "RG-RES-004", Severity::kMedium, c.action,
                      type + " is not set; defaulting to " + std::to_string(v), proc + "/rlimits")) {
        Json entry = {{"type", type}, {"hard", v}, {"soft", v}};
        size_t n = list != nullptr && list->is_array() ? list->size() : 0;
        if (n == 0 && list == nullptr) e.set(proc + "/rlimits", Json::array({entry}));
        else e.set(proc + "/rlimits/" + std::to_string(n), entry);
      }
      continue;
    }
    if (!setting.max) continue;
    std::string ptr = proc + "/rlimits/" + std::to_string(*index);
    uint64_t hard = uint_member((*list)[*index], "hard");
    uint64_t soft = uint_member((*list)[*index], "soft");
    if (hard <= *setting.max && soft <= *setting.max) continue;
    if (e.violation("resources", "RG-RES-004", Severity::kMedium, c.action,
                    type + " exceeds the maximum " + std::to_string(*setting.max), ptr)) {
      e.set(ptr + "/hard", std::min(hard, *setting.max));
      e.set(ptr + "/soft", std::min(soft, *setting.max));
    }
  }
}

}  // namespace runguard::policy::internal
