#include "runguard/secrets/wire.h"

#include <string.h>

#include "runguard/common/base64.h"

namespace runguard::secrets {
namespace {

Result<std::string> str(const Json& j, const char* key, const std::string& what, bool required) {
  auto it = j.find(key);
  if (it == j.end()) {
    if (required) return invalid(what + ": \"" + key + "\" is missing");
    return std::string();
  }
  if (!it->is_string()) return invalid(what + ": \"" + key + "\" must be a string, not " + json_type_name(*it));
  return it->get<std::string>();
}

Result<const Json*> array(const Json& j, const char* key, const std::string& what) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return invalid(what + ": \"" + key + "\" must be an array");
  if (it->size() > kMaxSecrets) {
    return invalid(what + ": " + std::to_string(it->size()) + " entries in \"" + key + "\" (at most " + std::to_string(kMaxSecrets) + ")");
  }
  return &*it;
}

Status object(const Json& j, const std::string& what) {
  if (!j.is_object()) return invalid(what + ": expected an object, not " + std::string(json_type_name(j)));
  return Status::ok();
}

// Decodes into `out`, which the caller wipes on failure (it may hold values by then).
Status parse_fetched(const Json& j, std::vector<FetchedSecret>& out) {
  const std::string what = "secrets reply";
  RG_RETURN_IF_ERROR(object(j, what));
  RG_ASSIGN_OR_RETURN(const Json* list, array(j, "secrets", what));
  for (size_t i = 0; i < list->size(); ++i) {
    const Json& e = (*list)[i];
    // The message never quotes the value, only where it is.
    std::string item = what + ": secrets[" + std::to_string(i) + "]";
    RG_RETURN_IF_ERROR(object(e, item));
    FetchedSecret s;
    RG_ASSIGN_OR_RETURN(s.name, str(e, "name", item, true));
    auto v = e.find("value");
    if (v == e.end()) return invalid(item + ": \"value\" is missing");
    if (!v->is_string()) return invalid(item + ": \"value\" must be a string, not " + json_type_name(*v));
    const std::string& encoded = v->get_ref<const std::string&>();
    if (encoded.size() > kMaxValueBytes / 3 * 4 + 4) return invalid(item + ": value larger than " + std::to_string(kMaxValueBytes) + " bytes");
    auto value = base64_decode(encoded, item + ".value");
    if (!value.is_ok()) return invalid(item + ": value is not valid base64");
    s.value = std::move(*value);
    RG_ASSIGN_OR_RETURN(s.lease_id, str(e, "leaseId", item, false));
    if (auto d = e.find("leaseDuration"); d != e.end()) {
      if (!d->is_number_integer() || d->get<int64_t>() < 0) return invalid(item + ": leaseDuration must be a non-negative integer");
      s.lease_duration = d->get<int64_t>();
    }
    if (auto b = e.find("renewable"); b != e.end()) {
      if (!b->is_boolean()) return invalid(item + ": renewable must be a boolean");
      s.renewable = b->get<bool>();
    }
    out.push_back(std::move(s));
  }
  return Status::ok();
}

}  // namespace

Json fetch_request_to_json(const FetchRequest& r) {
  Json list = Json::array();
  for (const auto& s : r.secrets) list.push_back({{"name", s.name}, {"ref", s.ref}});
  Json j = {{"container", r.container}, {"namespace", r.k8s_namespace}, {"secrets", std::move(list)}};
  if (!r.kubernetes_token_file.empty()) j["kubernetesTokenFile"] = r.kubernetes_token_file;
  return j;
}

Result<FetchRequest> fetch_request_from_json(const Json& j) {
  const std::string what = "secrets request";
  RG_RETURN_IF_ERROR(object(j, what));
  FetchRequest r;
  RG_ASSIGN_OR_RETURN(r.container, str(j, "container", what, true));
  RG_ASSIGN_OR_RETURN(r.k8s_namespace, str(j, "namespace", what, false));
  RG_ASSIGN_OR_RETURN(r.kubernetes_token_file, str(j, "kubernetesTokenFile", what, false));
  RG_ASSIGN_OR_RETURN(const Json* list, array(j, "secrets", what));
  for (size_t i = 0; i < list->size(); ++i) {
    const Json& e = (*list)[i];
    std::string item = what + ": secrets[" + std::to_string(i) + "]";
    RG_RETURN_IF_ERROR(object(e, item));
    RequestedSecret s;
    RG_ASSIGN_OR_RETURN(s.name, str(e, "name", item, true));
    RG_ASSIGN_OR_RETURN(s.ref, str(e, "ref", item, true));
    r.secrets.push_back(std::move(s));
  }
  return r;
}

Json fetched_to_json(const std::vector<FetchedSecret>& secrets) {
  Json list = Json::array();
  for (const auto& s : secrets) {
    list.push_back({{"name", s.name},
                    {"value", base64_encode(s.value)},
                    {"leaseId", s.lease_id},
                    {"leaseDuration", s.lease_duration},
                    {"renewable", s.renewable}});
  }
  return {{"secrets", std::move(list)}};
}

Result<std::vector<FetchedSecret>> fetched_from_json(const Json& j) {
  std::vector<FetchedSecret> out;
  Status r = parse_fetched(j, out);
  if (!r.is_ok()) {
    wipe(out);
    return r;
  }
  return out;
}

Json revoke_request_to_json(const RevokeRequest& r) {
  Json j = {{"container", r.container}, {"leases", r.leases}};
  if (!r.kubernetes_token_file.empty()) j["kubernetesTokenFile"] = r.kubernetes_token_file;
  return j;
}

Result<RevokeRequest> revoke_request_from_json(const Json& j) {
  const std::string what = "secrets revoke request";
  RG_RETURN_IF_ERROR(object(j, what));
  RevokeRequest r;
  RG_ASSIGN_OR_RETURN(r.container, str(j, "container", what, true));
  RG_ASSIGN_OR_RETURN(r.kubernetes_token_file, str(j, "kubernetesTokenFile", what, false));
  RG_ASSIGN_OR_RETURN(const Json* list, array(j, "leases", what));
  for (size_t i = 0; i < list->size(); ++i) {
    if (!(*list)[i].is_string()) return invalid(what + ": leases[" + std::to_string(i) + "] must be a string");
    r.leases.push_back((*list)[i].get<std::string>());
  }
  return r;
}

void wipe(std::vector<FetchedSecret>& secrets) {
  for (auto& s : secrets) {
    if (!s.value.empty()) explicit_bzero(s.value.data(), s.value.size());
    s.value.clear();
  }
}

}  // namespace runguard::secrets
