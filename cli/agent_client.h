// runguardctl's client of runguardd's operator API (runguard.v1.Agent, proto/runguard/v1/
// agent.proto) on its unix socket, and the conversions of its messages into what the commands
// print (records.h).
//
// connect() first tries a connect(2) of its own on the socket (non-blocking, nsutil::connect_unix),
// so "no agent" (no socket file, nobody listening, not allowed to connect) is known at once and
// said in one line, and a hung agent whose listen backlog is full costs at most `timeout`; then it
// waits for the gRPC channel, both within `timeout` in total. Every call has a deadline except a
// followed WatchEvents.
//
// Thread-safety: one AgentClient per thread (the gRPC stub itself is thread-safe).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "records.h"
#include "runguard/common/json.h"
#include "runguard/common/status.h"
#include "runguard/v1/agent.grpc.pb.h"

namespace runguard::cli {

namespace v1 = ::runguard::v1;

inline constexpr std::chrono::milliseconds kAgentConnectTimeout{1000};
inline constexpr std::chrono::milliseconds kAgentCallTimeout{10000};

class AgentClient {
 public:
  // kUnavailable, with the reason ("no socket", "connection refused", "permission denied", "its
  // backlog stayed full"), when no agent answers at `socket` within `timeout`.
  static Result<std::unique_ptr<AgentClient>> connect(const std::string& socket,
                                                      std::chrono::milliseconds timeout = kAgentConnectTimeout);

  const std::string& socket() const { return socket_; }

  Result<v1::StatusResponse> status();
  Result<std::vector<v1::Container>> list_containers(bool include_deleted);
  // kNotFound when the agent has no record of `id`.
  Result<v1::Container> get_container(const std::string& id);
  // Streams events to `on_event` until the stream ends (no_follow), `on_event` returns false, or
  // the agent goes away (an error). Without no_follow there is no deadline.
  Status watch_events(const v1::WatchEventsRequest& req, const std::function<bool(const v1::Event&)>& on_event);
  // kInvalidArgument with the agent's message (file, line, key) when the policy does not load.
  Result<v1::ReloadPolicyResponse> reload_policy(const std::string& policy_yaml);

 private:
  AgentClient() = default;
  std::string socket_;
  std::unique_ptr<v1::Agent::Stub> stub_;
};

// "2026-11-29T08:00:00Z" (UTC, seconds; nanoseconds when not zero); "" for an unset timestamp.
std::string format_timestamp(const google::protobuf::Timestamp& ts);

// The agent's view of a container as a ps row (monitor "yes"/"no").
ContainerRow row_from_container(const v1::Container& c);

// The container's decision record: record_json when it is one (decision.json layout: it parses
// and has a "context" object), else one rebuilt from the message's fields in that layout, so
// explain renders both alike.
Json record_from_container(const v1::Container& c);

// The Status response as JSON (camelCase keys, timestamps as RFC 3339).
Json status_to_json(const v1::StatusResponse& s);

// An event's line as the events file has it: `json` when set, else one built from the fields.
std::string event_json_line(const v1::Event& e);

}  // namespace runguard::cli
