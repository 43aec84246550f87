// SecretSource: where runguardd and the helper get Vault secrets from. VaultFetcher (vault.h) is
// the real one; tests give the agent a fake. Contracts are VaultFetcher's (see vault.h).
//
// Thread-safety: implementations must allow concurrent calls.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runguard/common/status.h"
#include "runguard/secrets/wire.h"

namespace runguard::secrets {

class SecretSource {
 public:
  virtual ~SecretSource() = default;
  virtual Result<std::vector<FetchedSecret>> fetch(const FetchRequest& r) = 0;
  virtual Status revoke(const RevokeRequest& r) = 0;
  virtual Result<int64_t> renew(const std::string& container, const std::string& lease_id, int64_t increment_seconds,
                                const std::string& kubernetes_token_file) = 0;
  // Keeps the login that holds `container`'s leases alive (renews it at 2/3 of its TTL). Called
  // by runguardd for every container with leases on each tick; cheap while the login is fresh.
  virtual Status keep_alive(const std::string& container, const std::string& kubernetes_token_file) {
    (void)container;
    (void)kubernetes_token_file;
    return Status::ok();
  }
};

}  // namespace runguard::secrets
