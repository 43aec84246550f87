// Internal: the runtime's client of runguardd's internal socket (agent.internalSocket,
// docs/agent.md "Internal protocol"): one connection per exchange, one frame out and (for requests)
// one frame back, every step bounded by the caller's timeout. The agent is optional: a create never
// waits on it longer than agent.requestTimeout, and its absence costs one failed connect(2).
//
// Errors of request():
//   - nothing listens at the socket (no file, or a stale one): kUnavailable, agent_not_running()
//     is true: the caller may fall back (runguardctl's one-shot helper);
//   - the timeout passes (connecting, sending or waiting for the reply): kUnavailable with
//     ETIMEDOUT (nsutil::is_timeout);
//   - the agent answers {"ok":false,"error":E,"code":C}: C "not_found" -> kNotFound, "invalid" ->
//     kInvalidArgument, "denied" -> kDenied (Vault refused), "unavailable", another or no code ->
//     kUnavailable; the message is
//     "agent: E";
//   - a reply that is not a frame or not version 1: kUnavailable naming it; one with no boolean
//     "ok", or an "error" or "code" that is not a string: kUnavailable "agent at P sent a
//     malformed reply: ..." (no field of a reply is read before its type is checked).
//
// Thread-safety: an AgentClient holds only the path; calls on it are independent.
#pragma once

#include <chrono>
#include <string>

#include "runguard/common/json.h"
#include "runguard/common/status.h"

namespace runguard::pipeline::internal {

class AgentClient {
 public:
  explicit AgentClient(std::string socket_path) : path_(std::move(socket_path)) {}

  // Sends `message` (a frame object: frame::message(op, fields)) and returns the agent's reply
  // object ({"v":1,"ok":true,...}), all within `timeout`.
  Result<Json> request(const Json& message, std::chrono::milliseconds timeout) const;

  // A notification (no reply): connect and send within `timeout` in total, then close. When the
  // agent is not running this is one failed connect(2). The result is for logs; callers never
  // fail on it.
  Status notify(const Json& message, std::chrono::milliseconds timeout) const;

  const std::string& socket_path() const { return path_; }

 private:
  std::string path_;
};

// request()'s check of a decoded reply frame (the rules above); `path` names the socket. Pure.
Status check_agent_reply(const Json& reply, const std::string& path);

// True for request()/notify() errors that mean no agent is listening at the socket.
bool agent_not_running(const Status& s);

// The Code for a reply's "code" ("not_found", "invalid", "unavailable", anything else).
Code agent_error_code(const std::string& code);

}  // namespace runguard::pipeline::internal
