// The Vault client runguardd and `runguardctl helper secrets` use (never the runtime binary: it
// links no curl, DESIGN.md). HTTP API: reference/hardening-and-vault.md part B; docs/secrets.md.
//
// VaultFetcher reads a container's secrets: it authenticates (token file, AppRole, or Kubernetes
// with the pod's own service-account JWT), reads each reference (KV v2 `<mount>/data/<path>` with
// `?version=`, KV v1, dynamic secrets such as `database/creds/<role>` that carry a lease), picks
// the `#key` (or the whole data object as JSON), and returns the values. All or nothing: when one
// read fails, the leases the others took are revoked before the error is returned.
//
// Every request sends X-Vault-Request: true, X-Vault-Token (not for logins) and X-Vault-Namespace
// when configured; TLS verifies the server against vault.caFile (or the system store). One fetch
// never takes longer than vault.timeout in total; connection errors, 429, 500, 502 and 503 are
// retried at most vault.retries times with a short backoff inside that budget; a 307 is followed
// once when it keeps the scheme. Errors are Status values naming the address, the path and
// Vault's own message, never a token or a value:
//   403 -> kDenied ("permission denied" / "invalid token"), 404 -> kNotFound (also a KV v2 version
//   that was deleted or destroyed, said so), 503 "Vault is sealed" -> kUnavailable ("vault is
//   sealed"), 429 -> kUnavailable ("rate limited"), unreachable/timeout -> kUnavailable, a body that
//   is not Vault's JSON -> kUnavailable ("unexpected response").
//
// Revoking a lease needs `update` on sys/leases/revoke in the token's Vault policy (Vault's
// default policy grants renew and lookup, not revoke); without it revoke() is kDenied and says so.
// The revocations after a failed fetch get what is left of the budget, but at least 250 ms, and
// are best effort (a lease that cannot be revoked expires at its TTL). Vault is reached directly:
// HTTP(S)_PROXY is ignored (a proxy would see tokens and values). Implementation:
// secrets/src/vault/ (url, http_response, transport, http_client, vault_reply, vault_client,
// vault_auth, vault.cc).
//
// Tokens: the token file is re-read when it changes. An AppRole login is shared; a Kubernetes login
// is kept per container and service-account JWT (by digest): a pod's containers share a JWT, and
// revoking one container's login must not revoke its siblings' leases. A login past 2/3 of its TTL
// is renewed (auth/token/renew-self) and replaced by a new login only when that fails, because
// Vault revokes every lease a token took when the token expires; keep_alive() does that for
// runguardd between lease renewals. No token is ever written anywhere.
//
// Thread-safety: all methods may be called concurrently (the agent's workers share one fetcher).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runguard/common/status.h"
#include "runguard/policy/policy.h"
#include "runguard/secrets/source.h"
#include "runguard/secrets/wire.h"

namespace runguard::secrets {

class VaultFetcher final : public SecretSource {
 public:
  explicit VaultFetcher(policy::SecretsSettings settings);
  ~VaultFetcher();
  VaultFetcher(const VaultFetcher&) = delete;
  VaultFetcher& operator=(const VaultFetcher&) = delete;

  // Reads every secret in `r` (only "vault:" references; others are kInvalidArgument).
  Result<std::vector<FetchedSecret>> fetch(const FetchRequest& r) override;

  // PUT sys/leases/revoke for each lease (with the token that would read them: the node's, or a
  // Kubernetes login with r.kubernetes_token_file). For a Kubernetes login token the fetcher
  // holds for this JWT, also revokes that token (auth/token/revoke-self). Continues past failures
  // and returns the first.
  Status revoke(const RevokeRequest& r) override;

  // PUT sys/leases/renew; returns the new lease_duration in seconds.
  Result<int64_t> renew(const std::string& container, const std::string& lease_id, int64_t increment_seconds,
                        const std::string& kubernetes_token_file) override;
  Status keep_alive(const std::string& container, const std::string& kubernetes_token_file) override;

  const policy::SecretsSettings& settings() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace runguard::secrets
