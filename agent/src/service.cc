#include "service.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/resource_quota.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "agent.h"
#include "runguard/v1/agent.grpc.pb.h"
#include "runguard/common/utf8.h"
#include "unix_socket.h"

namespace runguard::agent {
namespace {

void set_time(google::protobuf::Timestamp* ts, int64_t unix_ns) {
  int64_t secs = unix_ns / 1000000000;
  int64_t nanos = unix_ns % 1000000000;
  if (nanos < 0) {
    nanos += 1000000000;
    --secs;
  }
  ts->set_seconds(secs);
  ts->set_nanos(static_cast<int32_t>(nanos));
}

// proto3 strings must be valid UTF-8 or the client's parser rejects the whole message: every
// string that comes from frames, files or paths passes through here on its way out.
std::string clean(std::string s) {
  repair_utf8(s);
  return s;
}

// Moves r's strings into the message. record_json only when `with_record` (GetContainer).
void to_proto(ContainerRecord&& r, v1::Container* c, bool with_record) {
  c->set_id(clean(std::move(r.id)));
  c->set_image(clean(std::move(r.image)));
  c->set_image_digest(clean(std::move(r.image_digest)));
  c->set_engine(clean(std::move(r.engine)));
  auto* k = c->mutable_kubernetes();
  k->set_namespace_(clean(std::move(r.k8s_namespace)));
  k->set_pod(clean(std::move(r.pod)));
  k->set_container(clean(std::move(r.container_name)));
  k->set_sandbox_id(clean(std::move(r.sandbox_id)));
  k->set_container_type(clean(std::move(r.container_type)));
  c->set_state(clean(std::move(r.state)));
  c->set_allowed(r.allowed);
  c->set_mode(clean(std::move(r.mode)));
  c->set_override(clean(std::move(r.override_name)));
  for (auto& f : r.findings) {
    auto* pf = c->add_findings();
    pf->set_id(clean(std::move(f.id)));
    pf->set_control(clean(std::move(f.control)));
    pf->set_severity(clean(std::move(f.severity)));
    pf->set_action(clean(std::move(f.action)));
    pf->set_message(clean(std::move(f.message)));
    pf->set_pointer(clean(std::move(f.pointer)));
    for (auto& b : f.benchmarks) pf->add_benchmarks(clean(std::move(b)));
  }
  for (auto& m : r.mutations) {
    auto* pm = c->add_mutations();
    pm->set_id(clean(std::move(m.id)));
    pm->set_control(clean(std::move(m.control)));
    pm->set_op(clean(std::move(m.op)));
    pm->set_pointer(clean(std::move(m.pointer)));
    pm->set_value_json(clean(std::move(m.value_json)));
    pm->set_applied(m.applied);
  }
  if (r.decided_at_ns != 0) set_time(c->mutable_decided_at(), r.decided_at_ns);
  c->set_policy_source(clean(std::move(r.policy_source)));
  c->set_monitored(r.monitored);
  c->set_monitor_events(r.monitor_events);
  if (with_record) c->set_record_json(clean(std::move(r.record_json)));
  c->set_command(clean(std::move(r.command)));
}

void to_proto(const Event& e, v1::Event* p) {
  p->set_seq(e.seq);
  set_time(p->mutable_time(), e.time_ns);
  p->set_kind(event_kind_name(e.kind));
  p->set_container_id(clean(e.container));
  p->set_rule(clean(e.rule));
  p->set_priority(clean(e.priority));
  p->set_action(clean(e.action));
  p->set_output(clean(e.output));
  p->set_json(clean(e.json));
}

grpc::Status to_grpc(const runguard::Status& s) {
  switch (s.code()) {
    case Code::kOk: return grpc::Status::OK;
    case Code::kInvalidArgument: return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, s.to_string());
    case Code::kNotFound: return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, s.to_string());
    case Code::kUnavailable: return grpc::Status(grpc::StatusCode::UNAVAILABLE, s.to_string());
    default: return grpc::Status(grpc::StatusCode::INTERNAL, s.to_string());
  }
}

// How long WatchEvents waits before looking at the client's cancellation again.
constexpr std::chrono::milliseconds kWatchSlice{200};

// Takes a WatchEvents slot for the life of the call.
class WatchSlot {
 public:
  explicit WatchSlot(Agent& agent) : agent_(agent), held_(agent.acquire_watch_stream()) {}
  ~WatchSlot() {
    if (held_) agent_.release_watch_stream();
  }
  WatchSlot(const WatchSlot&) = delete;
  WatchSlot& operator=(const WatchSlot&) = delete;
  bool held() const { return held_; }

 private:
  Agent& agent_;
  bool held_;
};

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

class AgentService final : public v1::Agent::Service {
 public:
  explicit AgentService(Agent& agent) : agent_(agent) {
    watchdog_ = std::thread([this] { watchdog_loop(); });
  }
  ~AgentService() override { stop_watchdog(); }

  // After the server has stopped (no stream is registered any more).
  void stop_watchdog() {
    {
      std::lock_guard<std::mutex> lock(streams_mu_);
      stopping_ = true;
    }
    watchdog_cv_.notify_all();
    if (watchdog_.joinable()) watchdog_.join();
  }

  grpc::Status Status(grpc::ServerContext*, const v1::StatusRequest*, v1::StatusResponse* resp) override {
    AgentStatus s = agent_.status();
    resp->set_version(s.version);
    resp->set_policy_source(clean(s.policy.source));
    resp->set_policy_digest(s.policy.digest);
    set_time(resp->mutable_policy_loaded_at(), s.policy.loaded_at_ns);
    set_time(resp->mutable_started_at(), s.started_at_ns);
    resp->set_uptime_seconds(s.started_at_ns == 0 ? 0 : (unix_now_ns() - s.started_at_ns) / 1000000000);
    resp->set_containers_known(static_cast<uint32_t>(s.containers.known()));
    resp->set_containers_monitored(static_cast<uint32_t>(s.containers.monitored));
    for (const auto& [k, v] : s.counters) (*resp->mutable_counters())[k] = v;
    resp->set_events_in_ring(s.events_in_ring);
    resp->set_ring_capacity(s.ring_capacity);
    resp->set_watchers(static_cast<uint32_t>(s.watchers));
    return grpc::Status::OK;
  }

  grpc::Status ListContainers(grpc::ServerContext*, const v1::ListContainersRequest* req, v1::ListContainersResponse* resp) override {
    std::vector<ContainerRecord> records = agent_.store().list(req->include_deleted(), req->kubernetes_namespace());
    resp->mutable_containers()->Reserve(static_cast<int>(records.size()));
    for (auto& r : records) to_proto(std::move(r), resp->add_containers(), false);
    return grpc::Status::OK;
  }

  grpc::Status GetContainer(grpc::ServerContext*, const v1::GetContainerRequest* req, v1::GetContainerResponse* resp) override {
    if (req->id().empty()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "id is empty");
    auto r = agent_.store().get(req->id());
    if (!r) return grpc::Status(grpc::StatusCode::NOT_FOUND, "runguardd has no record of container \"" + req->id() + "\"");
    to_proto(std::move(*r), resp->mutable_container(), true);
    return grpc::Status::OK;
  }

  grpc::Status WatchEvents(grpc::ServerContext* ctx, const v1::WatchEventsRequest* req, grpc::ServerWriter<v1::Event>* writer) override {
    // The slot is taken before anything can block: at most max_watchers streams hold a server
    // thread, whatever their clients do, and the threads kept for unary calls stay free.
    WatchSlot slot(agent_);
    if (!slot.held()) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          std::to_string(agent_.max_watchers()) + " WatchEvents streams are open already; close one and retry");
    }
    EventFilter filter;
    filter.container = req->container_id();
    filter.rule = req->rule();
    if (!req->min_priority().empty()) {
      filter.min_priority = priority_rank(req->min_priority());
      if (!filter.min_priority) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "min_priority \"" + req->min_priority() +
                                "\" is not a Falco priority (Emergency, Alert, Critical, Error, Warning, Notice, Informational, Debug)");
      }
    }
    for (const auto& k : req->kinds()) {
      auto kind = parse_event_kind(k);
      if (!kind || *kind == EventKind::kDropped) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "kinds: \"" + k + "\" is not monitor, decision or lifecycle");
      }
      filter.kinds.insert(*kind);
    }
    Stream stream(*this, ctx);
    grpc::Status result = stream_events(ctx, *req, filter, *writer, stream);
    // No TryCancel after this; one that happened must be answered with CANCELLED.
    if (stream.finish() && result.ok()) return grpc::Status(grpc::StatusCode::CANCELLED, "the client stopped reading");
    return result;
  }

  grpc::Status ReloadPolicy(grpc::ServerContext*, const v1::ReloadPolicyRequest* req, v1::ReloadPolicyResponse* resp) override {
    auto r = agent_.reload_policy(req->policy_yaml());
    if (!r.is_ok()) return to_grpc(r.status());
    resp->set_policy_source(clean(r->snapshot.source));
    resp->set_policy_digest(r->snapshot.digest);
    set_time(resp->mutable_policy_loaded_at(), r->snapshot.loaded_at_ns);
    resp->set_changed(r->changed);
    return grpc::Status::OK;
  }

 private:
  // One WatchEvents call as the watchdog sees it: when its current Write started (0: not
  // writing). A Write that has not completed within watch_stall_timeout means the client stopped
  // reading (HTTP/2 flow control holds the write): the watchdog cancels the call, the Write
  // fails and the thread and slot are free again.
  class Stream {
   public:
    Stream(AgentService& service, grpc::ServerContext* ctx) : service_(service), ctx_(ctx) {
      std::lock_guard<std::mutex> lock(service_.streams_mu_);
      service_.streams_.insert(this);
    }
    ~Stream() { (void)finish(); }
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    bool write(grpc::ServerWriter<v1::Event>& writer, const v1::Event& e) {
      writing_since_ms_.store(steady_ms());
      bool ok = writer.Write(e);
      writing_since_ms_.store(0);
      return ok;
    }
    // Unregisters (idempotent); true when the watchdog cancelled the call.
    bool finish() {
      std::lock_guard<std::mutex> lock(service_.streams_mu_);
      service_.streams_.erase(this);
      return cancelled_;
    }

   private:
    friend class AgentService;
    AgentService& service_;
    grpc::ServerContext* ctx_;
    std::atomic<int64_t> writing_since_ms_{0};
    bool cancelled_ = false;  // guarded by streams_mu_
  };

  grpc::Status stream_events(grpc::ServerContext* ctx, const v1::WatchEventsRequest& req, const EventFilter& filter,
                             grpc::ServerWriter<v1::Event>& writer, Stream& stream) {
    v1::Event out;
    if (req.no_follow()) {
      for (const auto& e : agent_.ring().replay(filter, req.last())) {
        to_proto(*e, &out);
        if (!stream.write(writer, out)) return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
      }
      return grpc::Status::OK;
    }
    auto sub = agent_.ring().subscribe(filter, req.last());
    while (!ctx->IsCancelled()) {
      auto batch = sub->next(kWatchSlice);
      for (const auto& e : batch) {
        to_proto(*e, &out);
        if (!stream.write(writer, out)) return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
      }
      if (batch.empty() && sub->closed()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "runguardd is stopping");
    }
    return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
  }

  void watchdog_loop() {
    const int64_t stall = agent_.watch_stall_timeout().count();
    const auto period = std::clamp<std::chrono::milliseconds>(agent_.watch_stall_timeout() / 4, std::chrono::milliseconds(20),
                                                              std::chrono::milliseconds(1000));
    std::unique_lock<std::mutex> lock(streams_mu_);
    while (!stopping_) {
      watchdog_cv_.wait_for(lock, period, [this] { return stopping_; });
      int64_t now = steady_ms();
      for (Stream* s : streams_) {
        int64_t since = s->writing_since_ms_.load();
        if (since != 0 && now - since >= stall && !s->cancelled_) {
          s->cancelled_ = true;
          s->ctx_->TryCancel();  // the stream is registered: its ServerContext is alive
          agent_.log().debug("WatchEvents: cancelling a stream whose client has not read for " + std::to_string(now - since) + "ms");
        }
      }
    }
  }

  Agent& agent_;
  std::mutex streams_mu_;
  std::set<Stream*> streams_;
  bool stopping_ = false;
  std::condition_variable watchdog_cv_;
  std::thread watchdog_;
};

Result<std::unique_ptr<GrpcServer>> GrpcServer::start(const std::string& socket_path, Agent& agent) {
  RG_RETURN_IF_ERROR(prepare_socket_path(socket_path, "agent.socket"));
  std::unique_ptr<GrpcServer> s(new GrpcServer());
  s->path_ = socket_path;
  s->service_ = std::make_unique<AgentService>(agent);
  grpc::ServerBuilder builder;
  int bound = 0;
  builder.AddListeningPort("unix:" + socket_path, grpc::InsecureServerCredentials(), &bound);
  builder.RegisterService(s->service_.get());
  builder.SetMaxReceiveMessageSize(8 << 20);  // a policy is at most 4 MiB
  grpc::ResourceQuota quota("runguardd");
  // Every WatchEvents stream holds a thread and at most max_watchers exist (WatchSlot): the
  // rest serve unary calls and the server's pollers, whatever the watchers' clients do.
  quota.SetMaxThreads(static_cast<int>(agent.max_watchers() + kUnaryThreads));
  builder.SetResourceQuota(quota);
  s->server_ = builder.BuildAndStart();
  if (!s->server_ || bound == 0) {
    s->server_.reset();
    return Status(Code::kUnavailable, "cannot serve runguard.v1.Agent on unix:" + socket_path + " (gRPC's message is above)");
  }
  if (::chmod(socket_path.c_str(), 0600) != 0) {
    int err = errno;
    s->stop();
    return io_error("chmod 0600 agent.socket " + socket_path, err);
  }
  file_identity(socket_path, s->dev_, s->ino_);
  return s;
}

GrpcServer::~GrpcServer() { stop(); }

void GrpcServer::stop() {
  if (server_) {
    // Streams have ended already (EventRing::close); unary calls are quick.
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
    server_->Wait();
    server_.reset();
    service_->stop_watchdog();
    if (ino_ != 0) unlink_if_same(path_, dev_, ino_);
    else ::unlink(path_.c_str());
  }
}

}  // namespace runguard::agent
