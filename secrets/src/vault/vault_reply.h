// What Vault's JSON replies mean: the response envelope (reference/hardening-and-vault.md B),
// Vault's error strings made into one line, and the Status a failed reply turns into.
//
// Envelope: {"lease_id","lease_duration","renewable","data","auth":{"client_token",
// "lease_duration"},...}; every field may be absent or null (a 204 has no body at all).
//
// Pure: no I/O. Thread-safety: free functions.
#pragma once

#include <cstdint>
#include <string>

#include "runguard/common/json.h"
#include "runguard/common/status.h"
#include "runguard/policy/secrets.h"

namespace runguard::secrets::vault {

struct Envelope {
  Json data;                       // null when absent
  std::string lease_id;
  int64_t lease_duration = 0;      // seconds
  bool renewable = false;
  std::string client_token;        // auth.client_token (logins)
  int64_t auth_lease_duration = 0; // auth.lease_duration, seconds
};

// Checks the types of the fields above; kUnavailable ("unexpected response: ...") otherwise.
Result<Envelope> parse_envelope(const Json& body);

// Vault's `errors` on one line: each wrapped "1 error occurred:\n\t* permission denied\n\n" is
// unwrapped to "permission denied", several are joined with "; ", control characters become
// spaces, and the whole is cut to 400 bytes. "" when there are none.
std::string vault_errors(const Json& body);

// Where a failed reply came from, for its message.
struct ReplyContext {
  std::string origin;    // "https://vault:8200"
  std::string action;    // "reading", "logging in at", "revoking a lease at", ...
  std::string path;      // below /v1/, never with a token or value
  uint64_t version = 0;  // a KV v2 read's ?version=, 0 for none
};

// The Status for an HTTP status >= 300 (`body` null when it was not JSON):
//   403 kDenied (Vault's message, else "permission denied"); 404 kNotFound (a KV v2 version whose
//   metadata says deleted or destroyed: "version N of PATH was deleted"/"destroyed"); 503 with
//   "sealed" kUnavailable "vault is sealed", other 5xx kUnavailable; 429 kUnavailable "rate
//   limited"; other 4xx kInvalidArgument.
// Messages read "vault ORIGIN: ACTION PATH: what happened".
Status reply_error(int http_status, const Json& body, const ReplyContext& ctx);

// True when `data` has KV v2's shape: {"data": object|null, "metadata": {"version": N, ...}}.
bool is_kv2_data(const Json& data);

// The value a read's `data` holds for `ref`: KV v2's inner data.data (kNotFound when it is null,
// a deleted version), else KV v1's or a dynamic secret's data; then ref.key picked by
// select_value() (value.h). kNotFound "the reply has no data" when there is no object. `origin`
// names the server in messages.
Result<std::string> secret_value(const Json& data, const policy::SecretRef& ref, const std::string& origin);

// Overwrites every string in `j` (values, not keys) before it is released: replies hold secrets.
void cleanse_json(Json& j);

}  // namespace runguard::secrets::vault
