#include "agent_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "runguard/nsutil/unix_socket.h"

namespace runguard::cli {
namespace {

std::string seconds_text(std::chrono::milliseconds d) {
  auto ms = d.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

Status from_grpc(const grpc::Status& s, const std::string& what, const std::string& socket) {
  switch (s.error_code()) {
    case grpc::StatusCode::NOT_FOUND:
      return Status(Code::kNotFound, s.error_message());
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
      return Status(Code::kInvalidArgument, s.error_message());
    case grpc::StatusCode::UNAVAILABLE:
      return Status(Code::kUnavailable, what + ": runguardd at " + socket + " went away (" + s.error_message() + ")");
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Status(Code::kUnavailable, what + ": runguardd at " + socket + " did not answer in time");
    case grpc::StatusCode::UNIMPLEMENTED:
      return Status(Code::kUnavailable, what + ": runguardd at " + socket + " does not implement it (an older agent?)");
    default:
      return Status(Code::kUnavailable, what + ": " + s.error_message() + " (grpc code " +
                                            std::to_string(static_cast<int>(s.error_code())) + ")");
  }
}

void with_deadline(grpc::ClientContext& ctx, std::chrono::milliseconds timeout = kAgentCallTimeout) {
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
}

// A connect(2) of its own: tells "nothing there" from "something listens" without gRPC's
// retries. Non-blocking with a deadline (nsutil::connect_unix): a hung agent whose backlog is full
// would hold a blocking connect forever.
Status probe_socket(const std::string& path, nsutil::Deadline deadline) {
  auto fd = nsutil::connect_unix(path, deadline);
  if (fd.is_ok()) return Status::ok();
  const Status& s = fd.status();
  if (s.code() == Code::kInvalidArgument) return Status(Code::kUnavailable, "agent socket \"" + path + "\" is not a usable unix socket path");
  if (nsutil::is_timeout(s)) {
    return Status(Code::kUnavailable, "runguardd at " + path + " is not accepting connections (its backlog stayed full: hung?)",
                  ETIMEDOUT);
  }
  int err = s.error_number();
  std::string why = err == ENOENT         ? "no socket there"
                    : err == ECONNREFUSED ? "nothing listens on it"
                    : err == EACCES       ? "permission denied (the socket is root's: run as root)"
                    : err != 0            ? std::strerror(err)
                                          : s.message();
  return Status(Code::kUnavailable, "runguardd is not running at " + path + " (" + why + ")", err);
}

Json finding_json(const v1::Finding& f) {
  Json b = Json::array();
  for (const auto& x : f.benchmarks()) b.push_back(x);
  return {{"id", f.id()},       {"control", f.control()}, {"severity", f.severity()}, {"action", f.action()},
          {"message", f.message()}, {"pointer", f.pointer()}, {"benchmarks", b}};
}

Json mutation_json(const v1::Mutation& m) {
  Json j = {{"id", m.id()}, {"control", m.control()}, {"op", m.op()}, {"pointer", m.pointer()}, {"applied", m.applied()}};
  if (m.op() != "remove" && !m.value_json().empty()) {
    auto v = parse_json(m.value_json(), "mutation value");
    j["value"] = v.is_ok() ? *v : Json(m.value_json());
  }
  return j;
}

}  // namespace

std::string format_timestamp(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "";
  time_t secs = static_cast<time_t>(ts.seconds());
  struct tm tm {};
  if (::gmtime_r(&secs, &tm) == nullptr) return "";
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  if (ts.nanos() > 0) {
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%09d", ts.nanos());
    out += frac;
  }
  return out + "Z";
}

Result<std::unique_ptr<AgentClient>> AgentClient::connect(const std::string& socket, std::chrono::milliseconds timeout) {
  const auto deadline = nsutil::deadline_after(timeout);
  RG_RETURN_IF_ERROR(probe_socket(socket, deadline));
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);  // a local unix socket: never a proxy
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args);
  auto left = std::max(std::chrono::steady_clock::duration::zero(), deadline - std::chrono::steady_clock::now());
  if (!channel->WaitForConnected(std::chrono::system_clock::now() +
                                 std::chrono::duration_cast<std::chrono::system_clock::duration>(left))) {
    return Status(Code::kUnavailable, "runguardd at " + socket + " accepts connections but did not answer within " +
                                          seconds_text(timeout));
  }
  std::unique_ptr<AgentClient> c(new AgentClient());
  c->socket_ = socket;
  c->stub_ = v1::Agent::NewStub(channel);
  return c;
}

Result<v1::StatusResponse> AgentClient::status() {
  grpc::ClientContext ctx;
  with_deadline(ctx);
  v1::StatusResponse resp;
  grpc::Status s = stub_->Status(&ctx, v1::StatusRequest(), &resp);
  if (!s.ok()) return from_grpc(s, "Status", socket_);
  return resp;
}

Result<std::vector<v1::Container>> AgentClient::list_containers(bool include_deleted) {
  grpc::ClientContext ctx;
  with_deadline(ctx);
  v1::ListContainersRequest req;
  req.set_include_deleted(include_deleted);
  v1::ListContainersResponse resp;
  grpc::Status s = stub_->ListContainers(&ctx, req, &resp);
  if (!s.ok()) return from_grpc(s, "ListContainers", socket_);
  return std::vector<v1::Container>(resp.containers().begin(), resp.containers().end());
}

Result<v1::Container> AgentClient::get_container(const std::string& id) {
  grpc::ClientContext ctx;
  with_deadline(ctx);
  v1::GetContainerRequest req;
  req.set_id(id);
  v1::GetContainerResponse resp;
  grpc::Status s = stub_->GetContainer(&ctx, req, &resp);
  if (!s.ok()) return from_grpc(s, "GetContainer " + id, socket_);
  return resp.container();
}

Status AgentClient::watch_events(const v1::WatchEventsRequest& req, const std::function<bool(const v1::Event&)>& on_event) {
  grpc::ClientContext ctx;
  if (req.no_follow()) with_deadline(ctx, std::chrono::seconds(60));
  auto reader = stub_->WatchEvents(&ctx, req);
  v1::Event ev;
  while (reader->Read(&ev)) {
    if (!on_event(ev)) {
      ctx.TryCancel();
      while (reader->Read(&ev)) {
      }
      (void)reader->Finish();
      return Status::ok();
    }
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return from_grpc(s, "WatchEvents", socket_);
  return Status::ok();
}

Result<v1::ReloadPolicyResponse> AgentClient::reload_policy(const std::string& policy_yaml) {
  grpc::ClientContext ctx;
  with_deadline(ctx);
  v1::ReloadPolicyRequest req;
  req.set_policy_yaml(policy_yaml);
  v1::ReloadPolicyResponse resp;
  grpc::Status s = stub_->ReloadPolicy(&ctx, req, &resp);
  if (!s.ok()) return from_grpc(s, "ReloadPolicy", socket_);
  return resp;
}

ContainerRow row_from_container(const v1::Container& c) {
  ContainerRow r;
  r.id = c.id();
  r.image = c.image();
  r.digest = c.image_digest();
  r.k8s_namespace = c.kubernetes().namespace_();
  r.pod = c.kubernetes().pod();
  r.engine = c.engine();
  r.state = c.state();
  r.mode = c.mode();
  r.time = format_timestamp(c.decided_at());
  r.allowed = c.allowed();
  r.findings = static_cast<size_t>(c.findings_size());
  if (c.allowed() && c.mode() != "audit") {
    for (const auto& m : c.mutations()) r.changes += m.applied() ? 1 : 0;
  }
  r.monitor = c.state() == "denied" || c.state() == "deleted" ? "" : (c.monitored() ? "yes" : "no");
  return r;
}

Json record_from_container(const v1::Container& c) {
  // A decision record has the decision.json layout (a "context" object). What the agent rebuilt
  // from a decision event (a refusal replayed from the events file) does not: use the fields.
  if (!c.record_json().empty()) {
    auto j = parse_json(c.record_json(), "the agent's record of " + c.id());
    if (j.is_ok() && j->is_object() && j->contains("context") && (*j)["context"].is_object()) return std::move(j).value();
  }
  Json findings = Json::array(), mutations = Json::array();
  for (const auto& f : c.findings()) findings.push_back(finding_json(f));
  for (const auto& m : c.mutations()) mutations.push_back(mutation_json(m));
  const auto& k = c.kubernetes();
  return {{"version", 1},
          {"id", c.id()},
          {"time", format_timestamp(c.decided_at())},
          {"command", c.command()},
          {"policy", {{"source", c.policy_source()}}},
          {"context",
           {{"id", c.id()}, {"engine", c.engine()}, {"image", c.image()}, {"imageDigest", c.image_digest()},
            {"namespace", k.namespace_()}, {"pod", k.pod()}, {"containerName", k.container()},
            {"sandboxId", k.sandbox_id()}, {"containerType", k.container_type()}}},
          {"decision",
           {{"allowed", c.allowed()}, {"mode", c.mode()}, {"override", c.override().empty() ? Json() : Json(c.override())},
            {"findings", findings}, {"mutations", mutations}}}};
}

Json status_to_json(const v1::StatusResponse& s) {
  Json counters = Json::object();
  for (const auto& [k, v] : s.counters()) counters[k] = v;
  return {{"version", s.version()},
          {"policySource", s.policy_source()},
          {"policyDigest", s.policy_digest()},
          {"policyLoadedAt", format_timestamp(s.policy_loaded_at())},
          {"startedAt", format_timestamp(s.started_at())},
          {"uptimeSeconds", s.uptime_seconds()},
          {"containersKnown", s.containers_known()},
          {"containersMonitored", s.containers_monitored()},
          {"counters", counters},
          {"eventsInRing", s.events_in_ring()},
          {"ringCapacity", s.ring_capacity()},
          {"watchers", s.watchers()}};
}

std::string event_json_line(const v1::Event& e) {
  if (!e.json().empty()) {
    std::string line = e.json();
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    return line;
  }
  return dump_json(Json{{"time", format_timestamp(e.time())},
                        {"rule", e.rule()},
                        {"priority", e.priority()},
                        {"output", e.output()},
                        {"runguard", {{"kind", e.kind()}, {"container", e.container_id()}, {"action", e.action()}, {"seq", e.seq()}}}});
}

}  // namespace runguard::cli
