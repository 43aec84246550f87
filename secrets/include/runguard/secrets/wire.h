// What the runtime asks runguardd (frame ops "secrets.fetch", "secrets.revoke", notification
// "secrets.attached") or the one-shot helper (`runguardctl helper secrets fetch|revoke --request
// JSON`) for, and what comes back. References and lease ids travel; values travel only in a
// FetchReply, base64-encoded, over the agent's 0600 socket or the helper's stdout pipe.
//
//   FetchRequest  {"container":ID,"namespace":NS,"secrets":[{"name":N,"ref":"vault:PATH?version=V#KEY"}],
//                  "kubernetesTokenFile":PATH}
//   FetchReply    {"secrets":[{"name":N,"value":BASE64,"leaseId":L,"leaseDuration":S,"renewable":B}]}
//   RevokeRequest {"container":ID,"leases":[L...],"kubernetesTokenFile":PATH}
//
// Pure: no I/O. Parsers check every field's type before reading it and bound counts (at most
// kMaxSecrets secrets / leases) and sizes (a value at most kMaxValueBytes).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runguard/common/json.h"
#include "runguard/common/status.h"

namespace runguard::secrets {

inline constexpr size_t kMaxSecrets = 64;
inline constexpr size_t kMaxValueBytes = 256u << 10;

struct RequestedSecret {
  std::string name;
  std::string ref;  // canonical reference (policy::secret_ref_to_string)
};

struct FetchRequest {
  std::string container;
  std::string k8s_namespace;
  std::vector<RequestedSecret> secrets;
  std::string kubernetes_token_file;  // "" unless secrets.vault.auth.method is kubernetes
};

struct FetchedSecret {
  std::string name;
  std::string value;          // raw bytes; never logged
  std::string lease_id;       // "" for KV and other lease-less reads
  int64_t lease_duration = 0; // seconds
  bool renewable = false;
};

struct RevokeRequest {
  std::string container;
  std::vector<std::string> leases;
  std::string kubernetes_token_file;
};

Json fetch_request_to_json(const FetchRequest& r);
Result<FetchRequest> fetch_request_from_json(const Json& j);
Json fetched_to_json(const std::vector<FetchedSecret>& secrets);           // {"secrets":[...]}
Result<std::vector<FetchedSecret>> fetched_from_json(const Json& j);       // reads j["secrets"]
Json revoke_request_to_json(const RevokeRequest& r);
Result<RevokeRequest> revoke_request_from_json(const Json& j);

// Overwrites the values' bytes before they are released.
void wipe(std::vector<FetchedSecret>& secrets);

}  // namespace runguard::secrets
