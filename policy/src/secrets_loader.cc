// The top-level `secrets:` section (docs/secrets.md), read and checked whole at load time: a
// reference or name that would be refused at create is refused here first.
#include "secrets_loader.h"

#include <algorithm>

#include "runguard/policy/secrets.h"

namespace runguard::policy::internal {
namespace {

bool loopback_host(const std::string& host) {
  if (host == "localhost" || host == "[::1]") return true;
  // An IPv4 literal in 127/8 only: "127.0.0.1.nip.io" is a DNS name that resolves anywhere.
  return host.rfind("127.", 0) == 0 && std::count(host.begin(), host.end(), '.') == 3 && host.find("..") == std::string::npos &&
         host.back() != '.' && host.find_first_not_of("0123456789.") == std::string::npos;
}

// scheme://host[:port] with nothing after but an optional "/".
Status check_address(const YamlReader& r, const YAML::Node& n, const std::string& v) {
  const std::string key = "secrets.vault.address";
  std::string rest;
  bool tls = false;
  if (v.rfind("https://", 0) == 0) {
    tls = true;
    rest = v.substr(8);
  } else if (v.rfind("http://", 0) == 0) {
    rest = v.substr(7);
  } else {
    return r.error(n, key, "\"" + v + "\" must start with https:// (or http:// for a loopback address)");
  }
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.empty() || rest.find_first_of("/?#@ ") != std::string::npos) {
    return r.error(n, key, "\"" + v + "\" must be scheme://host[:port] with no path, query or credentials");
  }
  std::string host = rest;
  if (host.front() == ':') return r.error(n, key, "\"" + v + "\" names no host");
  if (host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string::npos) return r.error(n, key, "\"" + v + "\": unterminated IPv6 address");
    host = host.substr(0, close + 1);
  } else if (auto colon = host.find(':'); colon != std::string::npos) {
    host = host.substr(0, colon);
  }
  if (!tls && !loopback_host(host)) {
    return r.error(n, key, "\"" + v + "\" would send tokens and secrets unencrypted; use https:// (http:// is for loopback only)");
  }
  return Status::ok();
}

Status load_auth(const YamlReader& r, const YAML::Node& n, VaultAuth& a) {
  const std::string key = "secrets.vault.auth";
  RG_RETURN_IF_ERROR(r.check_keys(n, key, {"method", "tokenFile", "roleId", "secretIdFile", "role", "mount"}));
  if (auto m = n["method"]) {
    RG_ASSIGN_OR_RETURN(std::string method, r.one_of(m, key + ".method", {"token", "approle", "kubernetes"}));
    a.method = method == "approle" ? VaultAuth::Method::kAppRole : method == "kubernetes" ? VaultAuth::Method::kKubernetes : VaultAuth::Method::kToken;
  }
  if (auto v = n["tokenFile"]) { RG_ASSIGN_OR_RETURN(a.token_file, r.absolute_path(v, key + ".tokenFile")); }
  if (auto v = n["roleId"]) { RG_ASSIGN_OR_RETURN(a.role_id, r.scalar(v, key + ".roleId")); }
  if (auto v = n["secretIdFile"]) { RG_ASSIGN_OR_RETURN(a.secret_id_file, r.absolute_path(v, key + ".secretIdFile")); }
  if (auto v = n["role"]) { RG_ASSIGN_OR_RETURN(a.role, r.scalar(v, key + ".role")); }
  if (auto v = n["mount"]) {
    RG_ASSIGN_OR_RETURN(a.mount, r.scalar(v, key + ".mount"));
    if (a.mount.find(':') != std::string::npos || !parse_secret_ref(a.mount, SecretsSettings::Backend::kVault).is_ok()) {
      return r.error(v, key + ".mount", "\"" + a.mount + "\" is not a Vault mount path (letters, digits, . _ - and /)");
    }
  }
  if (a.method == VaultAuth::Method::kAppRole && (a.role_id.empty() || a.secret_id_file.empty())) {
    return r.error(n, key, "approle needs roleId and secretIdFile");
  }
  if (a.method == VaultAuth::Method::kKubernetes && a.role.empty()) {
    return r.error(n, key, "kubernetes needs role (the Vault role the pods' service accounts are bound to)");
  }
  return Status::ok();
}

Status load_vault(const YamlReader& r, const YAML::Node& n, VaultSettings& v) {
  const std::string key = "secrets.vault";
  RG_RETURN_IF_ERROR(r.check_keys(n, key, {"address", "namespace", "caFile", "timeout", "retries", "auth"}));
  if (auto a = n["address"]) {
    RG_ASSIGN_OR_RETURN(v.address, r.scalar(a, key + ".address"));
    RG_RETURN_IF_ERROR(check_address(r, a, v.address));
    if (v.address.back() == '/') v.address.pop_back();
  }
  if (auto a = n["namespace"]) { RG_ASSIGN_OR_RETURN(v.namespace_, r.scalar(a, key + ".namespace")); }
  if (auto a = n["caFile"]) { RG_ASSIGN_OR_RETURN(v.ca_file, r.absolute_path(a, key + ".caFile")); }
  if (auto a = n["timeout"]) { RG_ASSIGN_OR_RETURN(v.timeout_ms, r.duration_ms(a, key + ".timeout", 100, 60000)); }
  if (auto a = n["retries"]) { RG_ASSIGN_OR_RETURN(v.retries, r.integer(a, key + ".retries", 0, 5)); }
  if (auto a = n["auth"]) RG_RETURN_IF_ERROR(load_auth(r, a, v.auth));
  return Status::ok();
}

// `entry`'s match; a missing one is reported at the entry (a missing node has no line).
Status load_match(const YamlReader& r, const YAML::Node& entry, const std::string& key, SecretsMatch& m) {
  const YAML::Node n = entry["match"];
  if (!n) return r.error(entry, key, "missing match (use match: {} for every container)");
  RG_RETURN_IF_ERROR(r.check_keys(n, key, {"namespace", "image"}));
  if (auto v = n["namespace"]) { RG_ASSIGN_OR_RETURN(m.namespace_, r.scalar(v, key + ".namespace")); }
  if (auto v = n["image"]) { RG_ASSIGN_OR_RETURN(m.image, r.scalar(v, key + ".image")); }
  return Status::ok();
}

Status load_allow(const YamlReader& r, const YAML::Node& n, SecretsSettings& s) {
  if (!n.IsSequence()) return r.error(n, "secrets.allow", "expected a list of { match: ..., paths: [...] }");
  for (size_t i = 0; i < n.size(); ++i) {
    std::string key = "secrets.allow[" + std::to_string(i) + "]";
    RG_RETURN_IF_ERROR(r.check_keys(n[i], key, {"match", "paths"}));
    SecretsAllow a;
    RG_RETURN_IF_ERROR(load_match(r, n[i], key + ".match", a.match));
    const YAML::Node& paths = n[i]["paths"];
    if (!paths || !paths.IsSequence() || paths.size() == 0) return r.error(n[i], key + ".paths", "expected a non-empty list of path globs");
    for (size_t j = 0; j < paths.size(); ++j) {
      std::string pk = key + ".paths[" + std::to_string(j) + "]";
      RG_ASSIGN_OR_RETURN(std::string glob, r.scalar(paths[j], pk));
      if (glob.empty() || glob.front() == '/' || glob.find("..") != std::string::npos || glob.find(':') != std::string::npos) {
        return r.error(paths[j], pk, "\"" + glob + "\" must be a relative path glob without \"..\" or a backend prefix (kv/data/app/*)");
      }
      a.paths.push_back(glob);
    }
    s.allow.push_back(std::move(a));
  }
  return Status::ok();
}

Status load_attach(const YamlReader& r, const YAML::Node& n, SecretsSettings& s) {
  if (!n.IsSequence()) return r.error(n, "secrets.attach", "expected a list of { match: ..., files: { NAME: REFERENCE } }");
  for (size_t i = 0; i < n.size(); ++i) {
    std::string key = "secrets.attach[" + std::to_string(i) + "]";
    RG_RETURN_IF_ERROR(r.check_keys(n[i], key, {"match", "files"}));
    SecretsAttach a;
    RG_RETURN_IF_ERROR(load_match(r, n[i], key + ".match", a.match));
    const YAML::Node& files = n[i]["files"];
    if (!files || !files.IsMap() || files.size() == 0) return r.error(n[i], key + ".files", "expected a mapping of file name to reference");
    for (const auto& kv : files) {
      std::string name = kv.first.Scalar();
      std::string fk = key + ".files." + name;
      if (Status ok = check_secret_name(name); !ok.is_ok()) return r.error(kv.first, fk, ok.message());
      if (a.files.count(name) != 0) return r.error(kv.first, fk, "duplicate key");
      RG_ASSIGN_OR_RETURN(std::string ref, r.scalar(kv.second, fk));
      auto parsed = parse_secret_ref(ref, s.backend);
      if (!parsed.is_ok()) return r.error(kv.second, fk, parsed.status().message());
      if (parsed->backend != s.backend) {
        return r.error(kv.second, fk, "\"" + ref + "\" names the " + backend_name(parsed->backend) + " backend but secrets.backend is " +
                                          backend_name(s.backend));
      }
      a.files[name] = secret_ref_to_string(*parsed);
    }
    s.attach.push_back(std::move(a));
  }
  return Status::ok();
}

Status check_mount_path(const YamlReader& r, const YAML::Node& n, const std::string& v) {
  const std::string key = "secrets.mountPath";
  if (v == "/" || v.back() == '/' || v.find("//") != std::string::npos || v.find("/../") != std::string::npos ||
      v.find("/./") != std::string::npos || v.ends_with("/.") || v.ends_with("/..") || v.size() > 256) {
    return r.error(n, key, "\"" + v + "\" must be a normalised absolute directory path other than /");
  }
  for (const char* system : {"/proc", "/sys", "/dev"}) {
    std::string s = system;
    if (v == s || v.rfind(s + "/", 0) == 0) return r.error(n, key, "\"" + v + "\" is inside " + s + ", which the runtime owns");
  }
  return Status::ok();
}

}  // namespace

Status load_secrets(const YamlReader& r, const YAML::Node& n, SecretsSettings& s) {
  RG_RETURN_IF_ERROR(r.check_keys(n, "secrets", {"backend", "mountPath", "size", "file", "vault", "refresh", "allow", "attach"}));
  if (auto v = n["backend"]) {
    RG_ASSIGN_OR_RETURN(std::string b, r.one_of(v, "secrets.backend", {"file", "vault"}));
    s.backend = b == "vault" ? SecretsSettings::Backend::kVault : SecretsSettings::Backend::kFile;
  }
  if (auto v = n["mountPath"]) {
    RG_ASSIGN_OR_RETURN(s.mount_path, r.absolute_path(v, "secrets.mountPath"));
    RG_RETURN_IF_ERROR(check_mount_path(r, v, s.mount_path));
  }
  if (auto v = n["size"]) {
    RG_ASSIGN_OR_RETURN(s.size, r.byte_size(v, "secrets.size"));
    if (s.size < (4 << 10) || s.size > (64 << 20)) return r.error(v, "secrets.size", "must be between 4Ki and 64Mi");
  }
  if (auto f = n["file"]) {
    RG_RETURN_IF_ERROR(r.check_keys(f, "secrets.file", {"dir"}));
    if (auto d = f["dir"]) { RG_ASSIGN_OR_RETURN(s.file_dir, r.absolute_path(d, "secrets.file.dir")); }
  }
  if (auto v = n["vault"]) RG_RETURN_IF_ERROR(load_vault(r, v, s.vault));
  if (s.backend == SecretsSettings::Backend::kVault && s.vault.address.empty()) {
    return r.error(n, "secrets.vault.address", "is required with backend: vault (e.g. https://vault.example:8200)");
  }
  // A bare "0" is "off" (docs/secrets.md writes it so); any other duration needs a unit.
  if (auto v = n["refresh"]; v && !(v.IsScalar() && v.Scalar() == "0")) {
    RG_ASSIGN_OR_RETURN(s.refresh_ms, r.duration_ms(v, "secrets.refresh", 0, 86400000));
    if (s.refresh_ms != 0 && s.refresh_ms < 10000) return r.error(v, "secrets.refresh", "must be 0 (off) or at least 10s");
  }
  if (auto v = n["allow"]) RG_RETURN_IF_ERROR(load_allow(r, v, s));
  if (auto v = n["attach"]) RG_RETURN_IF_ERROR(load_attach(r, v, s));
  return Status::ok();
}

}  // namespace runguard::policy::internal
