// `runguardctl helper secrets fetch|revoke`: the runtime's one-shot Vault client when runguardd
// is not running (cli/secrets_helper.cc has the contract).
#pragma once

#include <string>
#include <vector>

namespace runguard::cli {

// `args` are those after "secrets". Exit 0 ok, 1 error, 2 usage; exactly one JSON line on stdout.
int cmd_helper_secrets(const std::vector<std::string>& args);

}  // namespace runguard::cli
