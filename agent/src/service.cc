#include "service.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/resource_quota.h>
#include <sys/stat.h>

#include "agent.h"
#include "runguard/v1/agent.grpc.pb.h"
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

void to_proto(const ContainerRecord& r, v1::Container* c) {
  c->set_id(r.id);
  c->set_image(r.image);
  c->set_image_digest(r.image_digest);
  c->set_engine(r.engine);
  auto* k = c->mutable_kubernetes();
  k->set_namespace_(r.k8s_namespace);
  k->set_pod(r.pod);
  k->set_container(r.container_name);
  k->set_sandbox_id(r.sandbox_id);
  k->set_container_type(r.container_type);
  c->set_state(r.state);
  c->set_allowed(r.allowed);
  c->set_mode(r.mode);
  c->set_override(r.override_name);
  for (const auto& f : r.findings) {
    auto* pf = c->add_findings();
    pf->set_id(f.id);
    pf->set_control(f.control);
    pf->set_severity(f.severity);
    pf->set_action(f.action);
    pf->set_message(f.message);
    pf->set_pointer(f.pointer);
    for (const auto& b : f.benchmarks) pf->add_benchmarks(b);
  }
  for (const auto& m : r.mutations) {
    auto* pm = c->add_mutations();
    pm->set_id(m.id);
    pm->set_control(m.control);
    pm->set_op(m.op);
    pm->set_pointer(m.pointer);
    pm->set_value_json(m.value_json);
    pm->set_applied(m.applied);
  }
  if (r.decided_at_ns != 0) set_time(c->mutable_decided_at(), r.decided_at_ns);
  c->set_policy_source(r.policy_source);
  c->set_monitored(r.monitored);
  c->set_monitor_events(r.monitor_events);
  c->set_record_json(r.record_json);
  c->set_command(r.command);
}

void to_proto(const Event& e, v1::Event* p) {
  p->set_seq(e.seq);
  set_time(p->mutable_time(), e.time_ns);
  p->set_kind(event_kind_name(e.kind));
  p->set_container_id(e.container);
  p->set_rule(e.rule);
  p->set_priority(e.priority);
  p->set_action(e.action);
  p->set_output(e.output);
  p->set_json(e.json);
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

}  // namespace

class AgentService final : public v1::Agent::Service {
 public:
  explicit AgentService(Agent& agent) : agent_(agent) {}

  grpc::Status Status(grpc::ServerContext*, const v1::StatusRequest*, v1::StatusResponse* resp) override {
    AgentStatus s = agent_.status();
    resp->set_version(s.version);
    resp->set_policy_source(s.policy.source);
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
    for (const auto& r : agent_.store().list(req->include_deleted(), req->kubernetes_namespace())) to_proto(r, resp->add_containers());
    return grpc::Status::OK;
  }

  grpc::Status GetContainer(grpc::ServerContext*, const v1::GetContainerRequest* req, v1::GetContainerResponse* resp) override {
    if (req->id().empty()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "id is empty");
    auto r = agent_.store().get(req->id());
    if (!r) return grpc::Status(grpc::StatusCode::NOT_FOUND, "runguardd has no record of container \"" + req->id() + "\"");
    to_proto(*r, resp->mutable_container());
    return grpc::Status::OK;
  }

  grpc::Status WatchEvents(grpc::ServerContext* ctx, const v1::WatchEventsRequest* req, grpc::ServerWriter<v1::Event>* writer) override {
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
    v1::Event out;
    if (req->no_follow()) {
      for (const auto& e : agent_.ring().replay(filter, req->last())) {
        to_proto(*e, &out);
        if (!writer->Write(out)) break;
      }
      return grpc::Status::OK;
    }
    if (agent_.ring().watchers() >= agent_.max_watchers()) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          std::to_string(agent_.max_watchers()) + " WatchEvents streams are open already; close one and retry");
    }
    auto sub = agent_.ring().subscribe(filter, req->last());
    while (!ctx->IsCancelled()) {
      auto batch = sub->next(kWatchSlice);
      for (const auto& e : batch) {
        to_proto(*e, &out);
        if (!writer->Write(out)) return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
      }
      if (batch.empty() && sub->closed()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "runguardd is stopping");
    }
    return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
  }

  grpc::Status ReloadPolicy(grpc::ServerContext*, const v1::ReloadPolicyRequest* req, v1::ReloadPolicyResponse* resp) override {
    auto r = agent_.reload_policy(req->policy_yaml());
    if (!r.is_ok()) return to_grpc(r.status());
    resp->set_policy_source(r->snapshot.source);
    resp->set_policy_digest(r->snapshot.digest);
    set_time(resp->mutable_policy_loaded_at(), r->snapshot.loaded_at_ns);
    resp->set_changed(r->changed);
    return grpc::Status::OK;
  }

 private:
  Agent& agent_;
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
  quota.SetMaxThreads(static_cast<int>(agent.max_watchers()) + 16);  // every watcher holds a thread
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
    if (ino_ != 0) unlink_if_same(path_, dev_, ino_);
    else ::unlink(path_.c_str());
  }
}

}  // namespace runguard::agent
