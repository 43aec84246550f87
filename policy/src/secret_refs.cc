// References and names of secret files (policy/secrets.h): the grammar, checked before anything
// reaches a backend, so a hostile annotation never becomes a path.
#include <cctype>

#include "runguard/policy/secrets.h"

namespace runguard::policy {
namespace {

constexpr size_t kMaxPath = 512;
constexpr size_t kMaxKey = 256;
constexpr size_t kMaxName = 128;

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'; }
bool path_char(char c) { return name_char(c) || c == '@' || c == '+' || c == '='; }

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 80)) out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  return out + (s.size() > 80 ? "...\"" : "\"");
}

Status check_path(std::string_view path, std::string_view text) {
  if (path.empty()) return invalid("secret reference " + quoted(text) + " has no path");
  if (path.size() > kMaxPath) return invalid("secret reference " + quoted(text) + " has a path longer than " + std::to_string(kMaxPath));
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(start, end - start);
    if (seg.empty()) return invalid("secret reference " + quoted(text) + ": empty path segment (no leading, trailing or double '/')");
    if (seg == "." || seg == "..") return invalid("secret reference " + quoted(text) + ": \"" + std::string(seg) + "\" segments are not allowed");
    for (char c : seg) {
      if (!path_char(c)) return invalid("secret reference " + quoted(text) + ": character " + quoted(std::string_view(&c, 1)) + " is not allowed in a path");
    }
    start = end + 1;
  }
  return Status::ok();
}

}  // namespace

const char* backend_name(SecretsSettings::Backend b) { return b == SecretsSettings::Backend::kVault ? "vault" : "file"; }

const char* source_name(PlannedSecret::Source s) {
  switch (s) {
    case PlannedSecret::Source::kAnnotation: return "annotation";
    case PlannedSecret::Source::kAttach: return "attach";
    case PlannedSecret::Source::kEnv: return "env";
  }
  return "?";
}

Status check_secret_name(std::string_view name) {
  if (name.empty()) return invalid("secret name is empty");
  if (name.size() > kMaxName) return invalid("secret name " + quoted(name) + " is longer than " + std::to_string(kMaxName) + " characters");
  if (name[0] == '.') return invalid("secret name " + quoted(name) + " must not start with '.'");
  for (char c : name) {
    if (!name_char(c)) {
      return invalid("secret name " + quoted(name) + ": only letters, digits, '.', '_' and '-' are allowed (it becomes a file name)");
    }
  }
  return Status::ok();
}

Result<SecretRef> parse_secret_ref(std::string_view text, SecretsSettings::Backend default_backend) {
  SecretRef r;
  r.backend = default_backend;
  std::string_view rest = text;
  if (rest.substr(0, 6) == "vault:") {
    r.backend = SecretsSettings::Backend::kVault;
    rest.remove_prefix(6);
  } else if (rest.substr(0, 5) == "file:") {
    r.backend = SecretsSettings::Backend::kFile;
    rest.remove_prefix(5);
  } else if (auto colon = rest.find(':'); colon != std::string_view::npos && rest.find('/') > colon) {
    return invalid("secret reference " + quoted(text) + ": unknown backend \"" + std::string(rest.substr(0, colon)) + "\" (use vault: or file:)");
  }
  if (auto hash = rest.find('#'); hash != std::string_view::npos) {
    std::string_view key = rest.substr(hash + 1);
    if (key.empty() || key.size() > kMaxKey) return invalid("secret reference " + quoted(text) + ": the #key must be 1-" + std::to_string(kMaxKey) + " characters");
    for (char c : key) {
      if (!name_char(c)) return invalid("secret reference " + quoted(text) + ": only letters, digits, '.', '_' and '-' are allowed in the #key");
    }
    r.key = std::string(key);
    rest = rest.substr(0, hash);
  }
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    std::string_view query = rest.substr(q + 1);
    rest = rest.substr(0, q);
    if (query.substr(0, 8) != "version=" || query.size() == 8 || query.size() > 18) {
      return invalid("secret reference " + quoted(text) + ": the only query is ?version=N");
    }
    uint64_t v = 0;
    for (char c : query.substr(8)) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return invalid("secret reference " + quoted(text) + ": version must be a number");
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (v == 0 || v > (1ull << 31)) return invalid("secret reference " + quoted(text) + ": version must be 1 or more");
    if (r.backend != SecretsSettings::Backend::kVault) return invalid("secret reference " + quoted(text) + ": ?version= is for Vault KV v2 only");
    r.version = v;
  }
  RG_RETURN_IF_ERROR(check_path(rest, text));
  r.path = std::string(rest);
  return r;
}

std::string secret_ref_to_string(const SecretRef& r) {
  std::string s = std::string(backend_name(r.backend)) + ":" + r.path;
  if (r.version > 0) s += "?version=" + std::to_string(r.version);
  if (!r.key.empty()) s += "#" + r.key;
  return s;
}

std::string secrets_host_dir(const std::string& state_dir, const std::string& id) { return state_dir + "/" + id + "/secrets"; }

Json secrets_plan_to_json(const SecretsPlan& plan) {
  Json files = Json::array();
  for (const auto& f : plan.files) {
    Json e = {{"name", f.name}, {"source", source_name(f.source)}};
    if (f.source == PlannedSecret::Source::kEnv) e["env"] = f.env_var;
    else e["ref"] = secret_ref_to_string(f.ref);
    files.push_back(std::move(e));
  }
  Json j = {{"mountPath", plan.mount_path}, {"hostDir", plan.host_dir}, {"files", std::move(files)}};
  if (!plan.kubernetes_token_file.empty()) j["kubernetesTokenFile"] = plan.kubernetes_token_file;
  return j;
}

}  // namespace runguard::policy
