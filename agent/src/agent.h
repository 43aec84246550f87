// Agent: runguardd's core. It owns what the agent knows (Store, EventRing), the policy it serves
// (PolicyState), its counters (Metrics), and the servers that expose them: the internal socket
// (frames from the runtime and monitors), the gRPC operator API and the metrics endpoint.
//
// Lifecycle: create() loads and validates the policy and touches nothing else; start() takes the
// agent lock (`<agent.internalSocket>.lock`, flock), loads what is on disk (live containers from
// `<stateDir>/*/decision.json`, the tail of the events file into the ring), binds the gRPC
// socket, the metrics endpoint and last the internal socket (once it answers a ping, everything
// is up), publishes what was appended to the events file meanwhile (each line once, whether its
// frame arrived or not), and starts the reconcile thread; stop() undoes it. Every path comes from the policy;
// `proc_root` stands in for /proc in tests.
//
// Reconcile (every `reconcile_interval`, and reconcile() on demand): state directories that
// appeared without a decision frame are loaded; a live container whose state directory is gone
// (and that the agent has known for at least `deleted_grace`) becomes "deleted" and a lifecycle
// event is published to the ring (not to the events file: only the runtime and monitors write
// it); each live container's monitor is checked (resources.json monitorPid, alive, and its
// command line is runguard-monitor serving that container).
//
// Secrets (secrets_manager.h): `secrets.fetch`/`secrets.revoke` run on their own worker pool;
// the SecretsManager thread renews and refreshes the leases of containers whose secrets.json it
// read (scanned at start and after a reload, and on `secrets.attached`). The SecretSource is
// rebuilt from the policy's `secrets:` at each reload (the state directory stays the start's).
//
// Decision frames: a denied record is kept (capped, store.h); an allowed one only when
// `<stateDir>/<id>/decision.json` exists (the runtime writes it before it sends the frame), so
// frames alone cannot grow the uncapped live records. Either way the event reaches the ring.
//
// Thread-safety: start()/stop() from one thread; everything else from any thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_set>

#include "event_ring.h"
#include "internal_server.h"
#include "log.h"
#include "policy_state.h"
#include "runguard/agent/containerd_client.h"
#include "runguard/agent/metrics.h"
#include "runguard/nsutil/fd.h"
#include "runguard/pipeline/config.h"
#include "runguard/secrets/source.h"
#include "secrets_manager.h"
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
  // WatchEvents streams open at once, following or not (service.h); the gRPC server keeps
  // max_watchers + kUnaryThreads threads so unary calls always find one.
  size_t max_watchers = 64;
  // A stream whose client has not taken a message for this long is cancelled (service.h).
  std::chrono::milliseconds watch_stall_timeout{10000};
  size_t events_tail_bytes = 16u << 20;  // how much of the events file is replayed at start
  // Tests: runs in start() after the events file was replayed, before the sockets are bound.
  std::function<void()> before_sockets;

  // Secrets (docs/agent.md#secrets). Builds the SecretSource for the policy's `secrets:` when
  // its backend is vault, at start and at each reload; empty: a secrets::VaultFetcher. Tests
  // pass a fake.
  std::function<std::shared_ptr<secrets::SecretSource>(const policy::SecretsSettings&)> secret_source;
  SecretsClock secrets_clock;                           // empty: steady_clock (secrets_manager.h)
  std::chrono::milliseconds secrets_tick{1000};         // the lease manager's period
  std::chrono::milliseconds secrets_pending_grace{120000};  // fetch -> attached, else revoked
  size_t secret_threads = 4;   // secrets.fetch / secrets.revoke run here, never on the socket loop
  size_t secret_queue = 64;    // more waiting: "unavailable" (the runtime falls back to the helper)
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
  size_t watchers = 0;  // WatchEvents streams open, following or not
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
  SecretsManager& secrets() { return *secrets_; }
  const Logger& log() const { return log_; }
  // The policy's settings as the agent started with them (sockets, stateDir, events.path).
  const policy::Policy& settings() const { return *settings_; }
  size_t max_watchers() const { return options_.max_watchers; }
  std::chrono::milliseconds watch_stall_timeout() const { return options_.watch_stall_timeout; }
  // One more WatchEvents stream, unless max_watchers are open (false). Atomic: concurrent
  // callers never take more than max_watchers slots together.
  bool acquire_watch_stream();
  void release_watch_stream();
  // The metrics server's bound address, "" when metrics are off or not started.
  std::string metrics_address() const;
  // The internal protocol's handler, to feed it decoded frames without a socket (fuzz/fuzz_agent.cc).
  // Before start() the requests that need a worker pool (image.digest, secrets.*) answer "busy".
  InternalServer::Handler& frame_handler() { return *this; }

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

  // secrets_frames.cc
  // The SecretSource for `s` (null unless backend is vault) and the refresh interval.
  void configure_secrets(const policy::SecretsSettings& s);
  bool handle_secrets_fetch(const Json& msg, InternalServer::ReplyFn& reply);
  bool handle_secrets_revoke(const Json& msg, InternalServer::ReplyFn& reply);
  void handle_secrets_attached(const Json& msg);

  // reconcile.cc
  struct ReplayCount {
    size_t replayed = 0, skipped = 0;
  };
  // Publishes the complete lines of `buf` (events file text) and rebuilds refusals' records;
  // with `skip_framed`, lines a frame already brought (first_sighting) are left out.
  ReplayCount replay_lines(const std::string& buf, const std::string& path, bool skip_framed);
  void replay_events_file();
  // Once the internal socket is bound: the lines appended to the events file since
  // replay_events_file() read it (their frames found no agent), bounded by events_tail_bytes.
  void catch_up_events_file();
  // Frames and the catch-up see some lines twice (appended, then sent once the socket was up):
  // each is published once. first_sighting() is asked by the frame handlers, caught_up() by
  // the catch-up; both false for a line the other one published.
  bool first_sighting(const Json& line);
  bool caught_up(size_t line_hash);
  void refresh_monitor(const std::string& id, int known_pid);
  void publish_deleted(const std::string& id);
  void update_gauges();
  void reconcile_loop();

  std::string state_dir_of(const std::string& id) const { return settings_->state_dir + "/" + id; }
  // <stateDir>/<id>/decision.json is a regular file (frames.cc).
  bool decision_file_exists(const std::string& id) const;

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
  std::unique_ptr<SecretsManager> secrets_;        // leases behind containers' secret files
  std::unique_ptr<WorkerPool> secret_workers_;     // secrets.fetch / secrets.revoke

  nsutil::UniqueFd lock_;
  std::unique_ptr<InternalServer> internal_;
  std::unique_ptr<GrpcServer> grpc_;
  std::unique_ptr<MetricsServer> metrics_server_;

  struct EventsFilePos {
    bool known = false;
    dev_t dev = 0;
    ino_t ino = 0;
    off_t offset = 0;  // just past the last complete line replayed
  };
  EventsFilePos events_pos_;
  std::set<std::string> replay_recovered_;  // refusals rebuilt by the replay and the catch-up (start() only)
  static constexpr std::chrono::seconds kCaughtUpMemory{30};  // how long a caught-up line waits for its frame
  std::mutex catch_up_mu_;
  bool catching_up_ = true;
  std::unordered_multiset<size_t> framed_;     // lines from frames while catching up
  std::unordered_multiset<size_t> caught_up_;  // lines the catch-up published
  std::chrono::steady_clock::time_point caught_up_expires_;

  std::atomic<size_t> watch_streams_{0};

  std::mutex reconcile_mu_;  // one reconcile pass at a time
  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  bool loop_stop_ = false;
  std::thread loop_;
  bool started_ = false;
};

}  // namespace runguard::agent
