// runguardctl's node commands: they ask runguardd (gRPC on agent.socket) and, when it is not
// running, read the node's files instead and say so (a note on stderr in text mode, "source":
// "disk" in JSON).
//
//   status [--format text|json]
//   ps [--all] [--format text|json]
//   explain ID [--format text|json]
//   events [--follow] [--container ID] [--rule R] [--priority P] [--last N] [--format text|json]
//   policy reload [FILE] [--format text|json]
//   helper image-digest --containerd SOCK --namespace NS --container ID [--image NAME] [--timeout-ms N]
//
// Each takes --config FILE (the policy file: where the agent's socket, stateDir and the events
// file are; default $RUNGUARD_CONFIG, else /etc/runguard/policy.yaml) and --agent SOCKET (the
// agent's socket, overriding the policy's agent.socket). Exit 0 ok, 1 error, 2 usage.
#pragma once

#include <string>
#include <vector>

namespace runguard::cli {

int cmd_status(const std::vector<std::string>& args);
int cmd_ps(const std::vector<std::string>& args);
int cmd_explain(const std::vector<std::string>& args);
int cmd_events(const std::vector<std::string>& args);
int cmd_policy(const std::vector<std::string>& args);

// The runtime's one-shot helper (pipeline/src/image_digest.h has the contract): one JSON line on
// stdout, {"image","digest","mediaType"} and exit 0, or {"error","code"} and exit 1 (2 for a
// usage error, also with a JSON line).
int cmd_helper(const std::vector<std::string>& args);

}  // namespace runguard::cli
