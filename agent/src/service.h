// The gRPC operator API, runguard.v1.Agent (proto/runguard/v1/agent.proto), over the Agent core,
// served with gRPC's synchronous server on `agent.socket` (unix, mode 0600).
//
// WatchEvents holds one server thread per stream. It waits on its subscription in short slices
// so a cancelled client ends the stream within a second, and a stopping agent (EventRing::close)
// ends every stream with UNAVAILABLE. Non-reading clients cannot starve the unary calls:
//   - at most Agent::max_watchers() WatchEvents streams are open at once, following or not
//     (more get RESOURCE_EXHAUSTED); the slot is taken atomically before anything can block;
//   - the server has max_watchers + kUnaryThreads threads, so unary calls always find one;
//   - a stream whose Write has not completed within Agent::watch_stall_timeout() (its client
//     stopped reading and HTTP/2 flow control holds the write) is cancelled by a watchdog
//     thread and ends with CANCELLED, freeing its thread and slot.
// ListContainers leaves record_json out (GetContainer carries it). Every string copied into a
// message from frames, files or paths is made valid UTF-8 (proto3 requires it).
// ReloadPolicy maps PolicyState's errors: a policy that does not load -> INVALID_ARGUMENT with
// the loader's message; no writable policy file -> FAILED_PRECONDITION.
//
// Thread-safety: gRPC calls the service from its own threads; the Agent is thread-safe.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>

#include "runguard/common/status.h"

namespace grpc {
class Server;
}

namespace runguard::agent {

// Server threads kept beyond the WatchEvents streams' (unary calls and gRPC's pollers).
inline constexpr size_t kUnaryThreads = 16;

class Agent;
class AgentService;

class GrpcServer {
 public:
  // Applies the stale-socket rule (unix_socket.h), serves on "unix:" + socket_path, chmod 0600.
  // `agent` must outlive the server.
  static Result<std::unique_ptr<GrpcServer>> start(const std::string& socket_path, Agent& agent);
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // Cancels open calls (after a 300 ms grace), waits for the handlers, removes the socket if it is
  // still the one this server bound. Idempotent.
  void stop();

 private:
  GrpcServer() = default;
  std::string path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::unique_ptr<AgentService> service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace runguard::agent
