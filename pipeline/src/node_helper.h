// Internal: asking runguardd, else the one-shot `runguardctl helper` next to the runtime, for
// something that needs the network (DESIGN.md: the runtime links no curl or gRPC).
//
// ask_agent_or_helper() sends the frame op/fields to agent.internalSocket within `agent_timeout`;
// only when no agent is running there it runs `<dir of runguard>/runguardctl <helper_args...>`,
// which must print ONE JSON line: {"ok":true,...} or {"ok":false,"error":E,"code":C}. The helper's
// stdout is a pipe, so whatever it returns (secret values) never touches a file; `wipe` the reply
// when done with it. Errors: the agent's or helper's own (codes as agent_client.h), kUnavailable
// when neither could answer.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "runguard/common/json.h"
#include "runguard/common/status.h"

namespace runguard::pipeline::internal {

struct NodeAsk {
  std::string agent_socket;
  std::string op;
  Json fields = Json::object();
  std::chrono::milliseconds agent_timeout{250};
  std::vector<std::string> helper_args;  // argv after "runguardctl"
  std::chrono::milliseconds helper_timeout{3000};
  size_t max_reply = 8u << 20;
};

struct NodeAnswer {
  Json reply;        // the {"ok":true,...} object
  std::string via;   // "agent" | "helper"
};

Result<NodeAnswer> ask_agent_or_helper(const NodeAsk& ask);

// The helper's stdout as ask_agent_or_helper() reads it: its first line, a JSON object with
// "ok": true (returned), else an error from its "error" and "code" (agent_error_code); anything
// else is kUnavailable naming `exit_code`. `output` is wiped either way (it may hold values). Pure.
Result<Json> parse_helper_reply(std::string& output, int exit_code);

// runguardctl beside the running executable ("" when /proc/self/exe cannot be read).
std::string helper_beside_self();

}  // namespace runguard::pipeline::internal
