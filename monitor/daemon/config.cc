#include "config.h"


#include "runguard/common/json.h"
#include "runguard/common/strings.h"
#include "runguard/nsutil/fs.h"

namespace runguard::monitord {
namespace {

Status field_error(const std::string& source, const std::string& field, const std::string& what) {
  return invalid(source + ": field \"" + field + "\": " + what);
}

Status check_keys(const Json& obj, const std::vector<std::string>& known, const std::string& source,
                  const std::string& prefix) {
  for (const auto& [key, value] : obj.items()) {
    bool found = false;
    for (const auto& k : known) found = found || k == key;
    if (!found) return field_error(source, prefix + key, "unknown key" + did_you_mean(key, known));
  }
  return Status::ok();
}

Result<std::string> get_string(const Json& obj, const std::string& key, const std::string& source,
                               const std::string& prefix, bool required, bool absolute) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) return field_error(source, prefix + key, "is required");
    return std::string();
  }
  if (!it->is_string()) return field_error(source, prefix + key, std::string("must be a string, not ") + json_type_name(*it));
  std::string v = it->get<std::string>();
  if (absolute && (v.empty() || v[0] != '/')) return field_error(source, prefix + key, "must be an absolute path, got \"" + v + "\"");
  if (v.find('\0') != std::string::npos) return field_error(source, prefix + key, "contains a NUL byte");
  return v;
}

Status parse_container(const Json& obj, const std::string& source, ContainerIdentity* out) {
  if (!obj.is_object()) return field_error(source, "container", "must be an object");
  RG_RETURN_IF_ERROR(check_keys(obj, {"id", "name", "image", "namespace", "pod", "bundle", "upperDir"}, source, "container."));
  RG_ASSIGN_OR_RETURN(out->id, get_string(obj, "id", source, "container.", true, false));
  if (out->id.empty()) return field_error(source, "container.id", "must not be empty");
  RG_ASSIGN_OR_RETURN(out->name, get_string(obj, "name", source, "container.", false, false));
  RG_ASSIGN_OR_RETURN(out->image, get_string(obj, "image", source, "container.", false, false));
  RG_ASSIGN_OR_RETURN(out->k8s_namespace, get_string(obj, "namespace", source, "container.", false, false));
  RG_ASSIGN_OR_RETURN(out->pod, get_string(obj, "pod", source, "container.", false, false));
  RG_ASSIGN_OR_RETURN(out->bundle, get_string(obj, "bundle", source, "container.", false, false));
  if (obj.contains("upperDir")) { RG_ASSIGN_OR_RETURN(out->upper_dir, get_string(obj, "upperDir", source, "container.", false, true)); }
  return Status::ok();
}

Status parse_rules(const Json& obj, const std::string& source, std::vector<std::string>* out) {
  auto it = obj.find("rules");
  if (it == obj.end()) return Status::ok();
  if (!it->is_array()) return field_error(source, "rules", std::string("must be an array, not ") + json_type_name(*it));
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& r = (*it)[i];
    std::string name = "rules[" + std::to_string(i) + "]";
    if (!r.is_string()) return field_error(source, name, "must be a string");
    std::string path = r.get<std::string>();
    if (path.empty() || path[0] != '/') return field_error(source, name, "must be an absolute path, got \"" + path + "\"");
    out->push_back(path);
  }
  return Status::ok();
}

Status parse_scalars(const Json& obj, const std::string& source, MonitorConfig* cfg) {
  if (auto it = obj.find("block"); it != obj.end()) {
    if (!it->is_boolean()) return field_error(source, "block", "must be a boolean");
    cfg->block = it->get<bool>();
  }
  if (auto it = obj.find("action"); it != obj.end()) {
    std::string a = it->is_string() ? it->get<std::string>() : "";
    if (a != "enforce" && a != "audit") {
      return field_error(source, "action", "must be \"enforce\" or \"audit\"" + did_you_mean(a, {"enforce", "audit"}));
    }
    cfg->audit = a == "audit";
  }
  if (auto it = obj.find("connectTimeoutSeconds"); it != obj.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 3600) {
      return field_error(source, "connectTimeoutSeconds", "must be an integer from 1 to 3600");
    }
    cfg->connect_timeout_seconds = static_cast<int>(it->get<int64_t>());
  }
  return Status::ok();
}

}  // namespace

Result<MonitorConfig> parse_monitor_config(std::string_view text, const std::string& source) {
  if (text.size() > kMaxConfigBytes) return invalid(source + ": larger than " + std::to_string(kMaxConfigBytes) + " bytes");
  RG_ASSIGN_OR_RETURN(Json doc, parse_json(text, source));
  if (!doc.is_object()) return invalid(source + ": must be a JSON object");
  RG_RETURN_IF_ERROR(check_keys(doc, {"version", "socket", "events", "log", "rules", "block", "action", "container",
                                      "connectTimeoutSeconds", "agentSocket"},
                                source, ""));
  auto version = doc.find("version");
  if (version == doc.end()) return field_error(source, "version", "is required");
  if (!version->is_number_integer() || version->get<int64_t>() != 1) {
    return field_error(source, "version", "unsupported version (this runguard-monitor reads version 1)");
  }
  MonitorConfig cfg;
  RG_ASSIGN_OR_RETURN(cfg.socket_path, get_string(doc, "socket", source, "", true, true));
  if (cfg.socket_path.size() >= 108) return field_error(source, "socket", "path longer than 107 bytes (sun_path limit)");
  RG_ASSIGN_OR_RETURN(cfg.events_path, get_string(doc, "events", source, "", true, true));
  RG_ASSIGN_OR_RETURN(cfg.log_path, get_string(doc, "log", source, "", true, true));
  if (doc.contains("agentSocket")) {
    RG_ASSIGN_OR_RETURN(cfg.agent_socket, get_string(doc, "agentSocket", source, "", false, true));
    if (cfg.agent_socket.size() >= 108) return field_error(source, "agentSocket", "path longer than 107 bytes (sun_path limit)");
  }
  RG_RETURN_IF_ERROR(parse_rules(doc, source, &cfg.rule_files));
  RG_RETURN_IF_ERROR(parse_scalars(doc, source, &cfg));
  auto container = doc.find("container");
  if (container == doc.end()) return field_error(source, "container", "is required");
  RG_RETURN_IF_ERROR(parse_container(*container, source, &cfg.container));
  return cfg;
}

Result<MonitorConfig> load_monitor_config(const std::string& path) {
  RG_ASSIGN_OR_RETURN(std::string text, nsutil::read_file(path, kMaxConfigBytes + 1));
  return parse_monitor_config(text, path);
}

}  // namespace runguard::monitord
