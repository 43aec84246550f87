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
  virtual Result<int64_t> renew(const std::string& lease_id, int64_t increment_seconds,
                                const std::string& kubernetes_token_file) = 0;
};

}  // namespace runguard::secrets
