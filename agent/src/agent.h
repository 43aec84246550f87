// Agent: runguardd's core. It owns what the agent knows (Store, EventRing), the policy it serves
// (PolicyState), its counters (Metrics), and the servers that expose them: the internal socket
// (frames from the runtime and monitors), the gRPC operator API and the metrics endpoint.
//
// Lifecycle: create() loads and validates the policy and touches nothing else; start() takes the
// agent lock (`<agent.internalSocket>.lock`, flock), loads what is on disk (live containers from
// `<stateDir>/*/decision.json`, the tail of the events file into the ring), binds the gRPC
// socket, the metrics endpoint and last the internal socket (once it answers a ping, everything
// is up), and starts the reconcile thread; stop() undoes it. Every path comes from the policy;
// `proc_root` stands in for /proc in tests.
//
// Reconcile (every `reconcile_interval`, and reconcile() on demand): state directories that
// appeared without a decision frame are loaded; a live container whose state directory is gone
// (and that the agent has known for at least `deleted_grace`) becomes "deleted" and a lifecycle
// event is published to the ring (not to the events file: only the runtime and monitors write
// it); each live container's monitor is checked (resources.json monitorPid, alive, and its
// command line is runguard-monitor serving that container).
//
// Thread-safety: start()/stop() from one thread; everything else from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "event_ring.h"
#include "internal_server.h"
#include "log.h"
#include "policy_state.h"
#include "runguard/agent/containerd_client.h"
#include "runguard/agent/metrics.h"
#include "runguard/nsutil/fd.h"
#include "runguard/pipeline/config.h"
#include "store.h"
#include "worker_pool.h"

namespace runguard::agent {

class GrpcServer;

struct AgentOptions {
  pipeline::ConfigSource config;
  std::string proc_root = "/proc";
  std::chrono::milliseconds reconcile_interval{2000};
  // A container the agent learned of less than this ago is not declared deleted for a missing
  // state directory (a decision frame can arrive before the directory is visible to a scan).
  std::chrono::milliseconds deleted_grace{5000};
  size_t lookup_threads = 4;
  size_t lookup_queue = 64;
  size_t max_watchers = 64;
  size_t events_tail_bytes = 16u << 20;  // how much of the events file is replayed at start
};

// The counters behind StatusResponse.counters.
struct AgentCounters {
  std::atomic<uint64_t> frames_received{0}, bad_frames{0}, decisions_received{0}, events_received{0},
      containers_created{0}, containers_denied{0}, containers_deleted{0}, digest_lookups{0}, digest_lookup_errors{0},
      invalid_notifications{0}, events_replayed{0}, policy_reloads{0}, policy_reload_failures{0};
};

struct AgentStatus {
  std::string version;
  PolicySnapshot policy;
  int64_t started_at_ns = 0;
  Store::Counts containers;
  std::map<std::string, uint64_t> counters;
  size_t events_in_ring = 0;
  size_t ring_capacity = 0;
  size_t watchers = 0;
};

class Agent final : private InternalServer::Handler {
 public:
  // Loads and validates the policy (the loader's error if it does not load). Binds nothing.
  static Result<std::unique_ptr<Agent>> create(AgentOptions options, const Logger& log);
  ~Agent() override;
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Errors name the socket or directory: another agent running (kUnavailable), a socket
  // directory that cannot be created (kIo), a path that is not a socket (kInvalidArgument).
  Status start();
  // Graceful: ends watch streams, stops accepting, removes the sockets it bound. Idempotent.
  void stop();

  // ReloadPolicy / SIGHUP: empty `yaml` re-reads the policy file, otherwise PolicyState::replace.
  // Logs the outcome, and a warning for settings that need a restart.
  Result<ReloadOutcome> reload_policy(const std::string& yaml);

  // One reconcile pass (see above).
  void reconcile();

  AgentStatus status() const;
  Store& store() { return store_; }
  EventRing& ring() { return *ring_; }
  Metrics& metrics() { return metrics_; }
  const Logger& log() const { return log_; }
  // The policy's settings as the agent started with them (sockets, stateDir, events.path).
  const policy::Policy& settings() const { return *settings_; }
  size_t max_watchers() const { return options_.max_watchers; }
  // The metrics server's bound address, "" when metrics are off or not started.
  std::string metrics_address() const;

 private:
  Agent(AgentOptions options, const Logger& log, std::unique_ptr<PolicyState> policy);

  // InternalServer::Handler (frames.cc)
  bool on_frame(const std::string& op, const Json& msg, InternalServer::ReplyFn reply) override;
  void on_bad_frame(const std::string& reason) override;
  bool handle_digest(const Json& msg, InternalServer::ReplyFn& reply);
  void handle_decision(const Json& msg);
  void handle_event(const Json& msg);
  void handle_stats(const Json& msg);
  void handle_deleted(const Json& msg);
  void invalid_notification(const std::string& op, const std::string& why);

  // reconcile.cc
  void replay_events_file();
  void refresh_monitor(const std::string& id, int known_pid);
  void publish_deleted(const std::string& id);
  void update_gauges();
  void reconcile_loop();

  std::string state_dir_of(const std::string& id) const { return settings_->state_dir + "/" + id; }

  AgentOptions options_;
  const Logger& log_;
  std::unique_ptr<PolicyState> policy_;
  std::shared_ptr<const policy::Policy> settings_;  // the policy at start (restart-only settings)
  std::string hostname_;
  int64_t started_at_ns_ = 0;

  Metrics metrics_;
  Store store_;
  std::unique_ptr<EventRing> ring_;
  AgentCounters counters_;
  std::shared_ptr<DigestResolver> resolver_;
  std::unique_ptr<WorkerPool> lookups_;

  nsutil::UniqueFd lock_;
  std::unique_ptr<InternalServer> internal_;
  std::unique_ptr<GrpcServer> grpc_;
  std::unique_ptr<MetricsServer> metrics_server_;

  std::mutex reconcile_mu_;  // one reconcile pass at a time
  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  bool loop_stop_ = false;
  std::thread loop_;
  bool started_ = false;
};

}  // namespace runguard::agent
