#include "agent.h"

#include <unistd.h>

#include "runguard/nsutil/fs.h"
#include "service.h"
#include "unix_socket.h"

namespace runguard::agent {
namespace {

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

Result<std::unique_ptr<Agent>> Agent::create(AgentOptions options, const Logger& log) {
  RG_ASSIGN_OR_RETURN(std::unique_ptr<PolicyState> policy, PolicyState::load(options.config));
  return std::unique_ptr<Agent>(new Agent(std::move(options), log, std::move(policy)));
}

Agent::Agent(AgentOptions options, const Logger& log, std::unique_ptr<PolicyState> policy)
    : options_(std::move(options)), log_(log), policy_(std::move(policy)) {
  PolicySnapshot snap = policy_->current();
  settings_ = snap.policy;
  hostname_ = host_name();
  ring_ = std::make_unique<EventRing>(static_cast<size_t>(settings_->agent.event_ring));
  auto client = std::make_shared<ContainerdClient>(settings_->agent.containerd);
  resolver_ = std::make_shared<DigestResolver>(client, std::chrono::milliseconds(settings_->agent.digest_cache_ttl_ms));
  SecretsManagerOptions so;
  so.state_dir = settings_->state_dir;
  so.tick = options_.secrets_tick;
  so.pending_grace = options_.secrets_pending_grace;
  so.clock = options_.secrets_clock;
  secrets_ = std::make_unique<SecretsManager>(std::move(so), metrics_, log_);
}

Agent::~Agent() { stop(); }

Status Agent::start() {
  if (started_) return Status(Code::kInternal, "runguardd already started");
  started_ = true;
  started_at_ns_ = unix_now_ns();
  const policy::AgentSettings& a = settings_->agent;
  std::string lock_path = a.internal_socket + ".lock";
  auto fail = [this](Status s) {
    stop();
    return s;
  };
  if (Status s = nsutil::make_dirs(dir_of(a.internal_socket), 0711); !s.is_ok()) {
    return fail(std::move(s).with_context("cannot create the directory of agent.internalSocket " + a.internal_socket));
  }
  auto lock = lock_file(lock_path);
  if (!lock.is_ok()) return fail(lock.status());
  lock_ = std::move(lock).value();

  reconcile();
  configure_secrets(settings_->secrets);
  secrets_->scan();  // containers created while the agent was down: their leases are on disk
  replay_events_file();
  Store::Counts c = store_.counts();
  log_.info("loaded " + std::to_string(c.created) + " live containers from " + settings_->state_dir + ", " +
            std::to_string(c.denied) + " refusals and " + std::to_string(ring_->size()) + " events from " + settings_->events_path);

  metrics_.set("runguard_agent_up", {}, 1);
  metrics_.set("runguard_agent_start_time_seconds", {}, static_cast<double>(started_at_ns_) / 1e9);
  metrics_.set("runguard_policy_loaded_timestamp_seconds", {}, static_cast<double>(policy_->current().loaded_at_ns) / 1e9);
  update_gauges();
  if (options_.before_sockets) options_.before_sockets();

  // The internal socket comes last: once it answers a ping, the gRPC API and metrics are up too
  // (what the runtime, the integration tests and a restarted agent's clients rely on).
  auto grpc = GrpcServer::start(a.socket, *this);
  if (!grpc.is_ok()) return fail(grpc.status());
  grpc_ = std::move(grpc).value();

  if (!a.metrics.empty()) {
    auto ms = MetricsServer::start(a.metrics, metrics_);
    if (!ms.is_ok()) return fail(Status(ms.status()).with_context("agent.metrics " + a.metrics));
    metrics_server_ = std::move(ms).value();
  }

  lookups_ = std::make_unique<WorkerPool>(options_.lookup_threads, options_.lookup_queue);
  secret_workers_ = std::make_unique<WorkerPool>(options_.secret_threads, options_.secret_queue);
  secrets_->start();
  InternalServer::Options io;
  io.socket_path = a.internal_socket;
  auto internal = InternalServer::start(io, *this, log_);
  if (!internal.is_ok()) return fail(internal.status());
  internal_ = std::move(internal).value();
  // Lines appended between the replay and now had no agent to send their frames to.
  catch_up_events_file();

  {
    std::lock_guard<std::mutex> l(loop_mu_);
    loop_stop_ = false;
  }
  loop_ = std::thread([this] { reconcile_loop(); });
  log_.info("serving runguard.v1.Agent on " + a.socket + ", frames on " + a.internal_socket +
            (metrics_server_ ? ", metrics on " + metrics_server_->address() : std::string(", metrics off")) + " (policy " +
            policy_->current().source + ")");
  return Status::ok();
}

void Agent::stop() {
  {
    std::lock_guard<std::mutex> l(loop_mu_);
    loop_stop_ = true;
  }
  loop_cv_.notify_all();
  if (loop_.joinable()) loop_.join();
  ring_->close();  // WatchEvents streams end
  if (grpc_) grpc_->stop();
  if (internal_) internal_->stop();
  if (lookups_) lookups_->stop();
  if (secret_workers_) secret_workers_->stop();  // its tasks use the manager
  secrets_->stop();
  if (metrics_server_) metrics_server_->stop();
  grpc_.reset();
  internal_.reset();
  metrics_server_.reset();
  lock_.reset();  // the lock file stays: removing it would race with the next agent taking it
}

Result<ReloadOutcome> Agent::reload_policy(const std::string& yaml) {
  auto r = yaml.empty() ? policy_->reload_from_file() : policy_->replace(yaml);
  if (!r.is_ok()) {
    ++counters_.policy_reload_failures;
    log_.error("policy reload failed, keeping " + policy_->current().source + " (" + policy_->current().digest +
               "): " + r.status().to_string());
    return r;
  }
  ++counters_.policy_reloads;
  metrics_.set("runguard_policy_loaded_timestamp_seconds", {}, static_cast<double>(r->snapshot.loaded_at_ns) / 1e9);
  log_.info("policy " + r->snapshot.source + " loaded (" + r->snapshot.digest + (r->changed ? ", changed)" : ", unchanged)"));
  for (const auto& name : r->restart_needed) {
    log_.warning("policy setting " + name + " changed; runguardd keeps the value it started with until it is restarted");
  }
  configure_secrets(r->snapshot.policy->secrets);
  secrets_->request_scan();
  return r;
}

AgentStatus Agent::status() const {
  AgentStatus s;
  s.version = RUNGUARD_VERSION;
  s.policy = policy_->current();
  s.started_at_ns = started_at_ns_;
  s.containers = store_.counts();
  const AgentCounters& c = counters_;
  s.counters = {{"frames_received", c.frames_received},
                {"bad_frames", c.bad_frames},
                {"decisions_received", c.decisions_received},
                {"events_received", c.events_received},
                {"containers_created", c.containers_created},
                {"containers_denied", c.containers_denied},
                {"containers_deleted", c.containers_deleted},
                {"digest_lookups", c.digest_lookups},
                {"digest_lookup_errors", c.digest_lookup_errors},
                {"invalid_notifications", c.invalid_notifications},
                {"events_replayed", c.events_replayed},
                {"policy_reloads", c.policy_reloads},
                {"policy_reload_failures", c.policy_reload_failures},
                {"watcher_events_dropped", ring_->dropped_total()}};
  s.events_in_ring = ring_->size();
  s.ring_capacity = ring_->capacity();
  s.watchers = watch_streams_.load();
  return s;
}

bool Agent::acquire_watch_stream() {
  size_t n = watch_streams_.load();
  do {
    if (n >= options_.max_watchers) return false;
  } while (!watch_streams_.compare_exchange_weak(n, n + 1));
  return true;
}

void Agent::release_watch_stream() { watch_streams_.fetch_sub(1); }

std::string Agent::metrics_address() const { return metrics_server_ ? metrics_server_->address() : std::string(); }

}  // namespace runguard::agent
