// Vault's HTTP API for the fetcher: one logical call (a read, a login, a lease operation) with
// the headers every request carries, retries, a 307 followed once, and the reply turned into an
// Envelope or a Status (vault_reply.h).
//
// Headers: X-Vault-Request: true; X-Vault-Token when the call has a token; X-Vault-Namespace
// when vault.namespace is set. Retries: a transport error worth retrying (transport.h), 429,
// 500, 502 and 503 are tried again up to vault.retries times, after 100 ms, 300 ms, 900 ms (at
// most 1 s), and only while the backoff ends before the deadline. A 307 whose Location keeps the
// scheme is followed once (a standby node pointing at the active one); the token goes with it.
// Messages name the address and path; the call's token is scrubbed from any message.
//
// Thread-safety: call() is const and may run concurrently.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "runguard/common/json.h"
#include "runguard/common/status.h"
#include "runguard/policy/policy.h"
#include "http_response.h"
#include "transport.h"
#include "url.h"
#include "vault_reply.h"

namespace runguard::secrets::vault {

struct VaultCall {
  std::string method;     // "GET", "PUT", "POST"
  std::string path;       // below /v1/: "kv/data/app/db", "auth/approle/login"
  uint64_t version = 0;   // KV v2 ?version=, 0 for none
  std::optional<Json> body;
  std::string token;      // "" for a login
  std::string action;     // "reading", "logging in at": for messages
};

// A reply as call() returns it: 2xx with Vault's JSON -> its Envelope (a body-less 204, or a 200
// with Content-Length: 0, an empty one); any other status -> reply_error(); a 2xx body that is not
// JSON, or JSON that is not Vault's envelope -> kUnavailable "vault ORIGIN: ACTION PATH: unexpected
// response ...". `r.body` and the parsed copy are wiped either way (they may hold values). Pure.
Result<Envelope> interpret_reply(HttpResponse& r, const ReplyContext& ctx);

class VaultClient {
 public:
  // Parses vault.address and loads the CA (https only). kInvalidArgument when either is wrong.
  static Result<std::unique_ptr<VaultClient>> create(const policy::VaultSettings& settings);

  // Makes the call within `deadline`. A 2xx reply is its Envelope (empty for a body-less 204);
  // anything else is reply_error's Status, or kUnavailable for a transport failure or a body that
  // is not Vault's JSON ("unexpected response").
  Result<Envelope> call(const VaultCall& c, Deadline deadline) const;

  const std::string& origin() const { return origin_; }  // "https://vault:8200", for messages

 private:
  VaultClient(Url base, std::shared_ptr<TlsContext> tls, std::string ns, int64_t retries, int64_t timeout_ms)
      : base_(std::move(base)), tls_(std::move(tls)), namespace_(std::move(ns)), retries_(retries), timeout_ms_(timeout_ms),
        origin_(base_.origin()) {}
  Url base_;
  std::shared_ptr<TlsContext> tls_;  // null for an http:// address
  std::string namespace_;
  int64_t retries_;
  int64_t timeout_ms_;
  std::string origin_;
};

}  // namespace runguard::secrets::vault
