// The gRPC operator API, runguard.v1.Agent (proto/runguard/v1/agent.proto), over the Agent core,
// served with gRPC's synchronous server on `agent.socket` (unix, mode 0600).
//
// WatchEvents holds one server thread per stream. It waits on its subscription in short slices
// so a cancelled client ends the stream within a second, and a stopping agent (EventRing::close)
// ends every stream with UNAVAILABLE. At most Agent::max_watchers() streams follow at once (more
// get RESOURCE_EXHAUSTED). ReloadPolicy maps PolicyState's errors: a policy that does not load
// -> INVALID_ARGUMENT with the loader's message; no writable policy file -> FAILED_PRECONDITION.
//
// Thread-safety: gRPC calls the service from its own threads; the Agent is thread-safe.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "runguard/common/status.h"

namespace grpc {
class Server;
}

namespace runguard::agent {

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
