// Shared plumbing of the node commands (agent_cmds.h): flag parsing, the node's paths from the
// policy file, and reaching the agent.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent_client.h"
#include "runguard/common/json.h"
#include "runguard/common/status.h"
#include "runguard/pipeline/config.h"
#include "runguard/policy/policy.h"

namespace runguard::cli {

struct Flags {
  std::map<std::string, std::string> values;  // "--last" -> "5"
  std::set<std::string> bools;                // "--follow"
  std::vector<std::string> positional;
  bool help = false;                          // -h / --help
};

// "--name value", "--name=value" for `value_flags`; "--name" for `bool_flags`; "--" ends the
// flags. Every command also accepts --format, --config and --agent. An unknown flag or a
// missing value is kInvalidArgument (with a did-you-mean).
Result<Flags> parse_flags(const std::vector<std::string>& args, std::set<std::string> value_flags,
                          const std::set<std::string>& bool_flags);

struct NodeContext {
  bool json = false;                       // --format json
  pipeline::ConfigSource source;           // the policy file
  std::optional<policy::Policy> policy;    // as loaded; empty when it does not load
  std::string policy_error;                // why it does not load
  std::string socket;                      // --agent, else agent.socket
  std::string state_dir;
  std::string events_path;
};

// The node's paths from --config (else $RUNGUARD_CONFIG, else the default file, else the embedded
// defaults) and --agent. A policy that does not load leaves the built-in default paths in place
// and its error in policy_error. kInvalidArgument for a --format other than text or json.
Result<NodeContext> node_context(const Flags& flags);

// The agent, or nullptr with `why` ("runguardd is not running at ... (no socket there)").
std::unique_ptr<AgentClient> connect_agent(const NodeContext& node, std::string* why);

// Text mode: "runguardctl: <message>" on stderr. Also warns (both modes) that the policy does not
// load when the on-disk paths come from the defaults.
void note_fallback(const NodeContext& node, const std::string& message);

// Prints `j` (pretty) on stdout.
void print_json(const Json& j);

// "runguardctl CMD: message" on stderr (message printable()); returns `code`.
int fail(const std::string& cmd, const std::string& message, int code = 1);

}  // namespace runguard::cli
