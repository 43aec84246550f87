// runguardctl's node commands end to end, in process: against a fake runguardd (a real gRPC
// server on a unix socket), against the node's files when no agent runs, and the one-shot
// helper against a fake containerd. Output is captured from std::cout / std::cerr.

#include <grpcpp/grpcpp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent_cmds.h"
#include "containerd/services/containers/v1/containers.grpc.pb.h"
#include "containerd/services/images/v1/images.grpc.pb.h"
#include "runguard/common/json.h"
#include "runguard/v1/agent.grpc.pb.h"

namespace {

using runguard::Json;
namespace cli = runguard::cli;
namespace v1 = runguard::v1;

const std::string kDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

struct Captured {
  int rc;
  std::string out, err;
};

// Runs a command with std::cout and std::cerr captured.
template <typename F>
Captured run(F&& f) {
  std::ostringstream out, err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  int rc = f();
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  return {rc, out.str(), err.str()};
}

bool has(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

Json record(const std::string& id, const std::string& time) {
  return {{"version", 1},
          {"id", id},
          {"time", time},
          {"command", "create"},
          {"policy", {{"source", "/etc/runguard/policy.yaml"}}},
          {"context", {{"id", id}, {"engine", "containerd-cri"}, {"image", "nginx:1.27"}, {"imageDigest", kDigest},
                       {"namespace", "shop"}, {"pod", id + "-pod"}}},
          {"decision", {{"allowed", true}, {"mode", "enforce"}, {"override", nullptr},
                        {"findings", Json::array({{{"id", "RG-USER-001"}, {"control", "user"}, {"severity", "high"},
                                                   {"action", "enforce"}, {"message", "process runs as root"},
                                                   {"pointer", "/process/user/uid"}}})},
                        {"mutations", Json::array({{{"id", "RG-USER-001"}, {"control", "user"}, {"op", "replace"},
                                                    {"pointer", "/process/user/uid"}, {"value", 65532},
                                                    {"applied", true}}})}}}};
}

std::string event_line(const std::string& container, const std::string& rule, const std::string& priority, int n) {
  return runguard::dump_json({{"time", "2026-11-29T08:00:0" + std::to_string(n) + "Z"},
                              {"rule", rule},
                              {"priority", priority},
                              {"source", "syscall"},
                              {"output", "event " + std::to_string(n)},
                              {"runguard.action", "alert"},
                              {"runguard.container", {{"id", container}}}});
}

std::string denied_line(const std::string& id) {
  return runguard::dump_json(
      {{"time", "2026-11-29T09:00:00Z"},
       {"rule", "runguard decision"},
       {"priority", "Warning"},
       {"output", "09:00:00.000000000: Warning container " + id + " denied"},
       {"output_fields", {{"container.id", id}, {"container.image", "evil:1"}}},
       {"runguard", {{"kind", "decision"}, {"container", id}, {"action", "denied"}, {"policy", "/p.yaml"},
                     {"decision", {{"allowed", false}, {"mode", "enforce"},
                                   {"findings", Json::array({{{"id", "RG-PRIV-001"}, {"control", "privileged"},
                                                              {"severity", "critical"}, {"action", "deny"},
                                                              {"message", "privileged containers are refused"},
                                                              {"pointer", "/linux/privileged"}}})},
                                   {"mutations", Json::array()}}}}}});
}

// A decision line as the runtime writes it (flat "runguard.<key>" members,
// pipeline/src/decision_event.cc).
std::string flat_decision_line(const std::string& id, const std::string& time, bool allowed) {
  Json findings = Json::array();
  if (!allowed) {
    findings.push_back({{"id", "RG-PRIV-001"}, {"control", "privileged"}, {"severity", "critical"}, {"action", "deny"},
                        {"message", "privileged containers are refused"}, {"pointer", "/linux/privileged"}});
  }
  return runguard::dump_json(
      {{"time", time},
       {"rule", "runguard decision"},
       {"priority", allowed ? "Notice" : "Warning"},
       {"source", "runguard"},
       {"output", "container " + id + (allowed ? " allowed" : " denied")},
       {"output_fields", {{"container.id", id}, {"container.image", "evil:2"}}},
       {"runguard.kind", "decision"},
       {"runguard.action", allowed ? "allowed" : "denied"},
       {"runguard.policy", "/p.yaml"},
       {"runguard.container", {{"id", id}, {"name", "app"}, {"image", "evil:2"}, {"namespace", "ns"}, {"pod", id + "-pod"}}},
       {"runguard.decision", {{"allowed", allowed}, {"mode", "enforce"}, {"findings", findings}, {"mutations", Json::array()}}}});
}

// A node in a temporary directory: policy file, stateDir, events file, agent socket path.
class Node {
 public:
  Node() {
    char tmpl[] = "/tmp/rg-cli-XXXXXX";
    dir = ::mkdtemp(tmpl);
    state = dir + "/state";
    events = dir + "/events.jsonl";
    socket = dir + "/agent.sock";
    policy = dir + "/policy.yaml";
    std::ofstream(policy) << "stateDir: " << state << "\nlibDir: " << dir << "/lib\nevents:\n  path: " << events
                          << "\nagent:\n  socket: " << socket << "\n";
    (void)std::system(("mkdir -p " + state).c_str());
  }
  ~Node() { (void)std::system(("rm -rf " + dir).c_str()); }

  void add_record(const Json& r, const std::string& resources = "") {
    std::string d = state + "/" + r["id"].get<std::string>();
    (void)std::system(("mkdir -p " + d).c_str());
    std::ofstream(d + "/decision.json") << runguard::dump_json(r, 2);
    if (!resources.empty()) std::ofstream(d + "/resources.json") << resources;
  }
  void add_events(const std::vector<std::string>& lines) {
    std::ofstream f(events, std::ios::app);
    for (const auto& l : lines) f << l << "\n";
  }
  // The command line's common flags.
  std::vector<std::string> args(std::vector<std::string> a) const {
    a.push_back("--config");
    a.push_back(policy);
    return a;
  }

  std::string dir, state, events, socket, policy;
};

class FakeAgent final : public v1::Agent::Service {
 public:
  grpc::Status Status(grpc::ServerContext*, const v1::StatusRequest*, v1::StatusResponse* r) override {
    r->set_version("9.9.9");
    r->set_policy_source("/etc/runguard/policy.yaml");
    r->set_policy_digest(kDigest);
    r->set_uptime_seconds(3725);
    r->set_containers_known(2);
    r->set_containers_monitored(1);
    (*r->mutable_counters())["events_received"] = 7;
    r->set_events_in_ring(7);
    r->set_ring_capacity(100);
    r->mutable_started_at()->set_seconds(1764403200);
    return grpc::Status::OK;
  }
  grpc::Status ListContainers(grpc::ServerContext*, const v1::ListContainersRequest* req,
                              v1::ListContainersResponse* r) override {
    include_deleted = req->include_deleted();
    for (const auto& [id, c] : containers) *r->add_containers() = c;
    return grpc::Status::OK;
  }
  grpc::Status GetContainer(grpc::ServerContext*, const v1::GetContainerRequest* req, v1::GetContainerResponse* r) override {
    auto it = containers.find(req->id());
    if (it == containers.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "runguardd has no record of container \"" + req->id() + "\"");
    *r->mutable_container() = it->second;
    return grpc::Status::OK;
  }
  grpc::Status WatchEvents(grpc::ServerContext*, const v1::WatchEventsRequest* req, grpc::ServerWriter<v1::Event>* w) override {
    {
      std::lock_guard<std::mutex> lock(mu);
      last_watch = *req;
    }
    for (const auto& e : events) w->Write(e);
    return grpc::Status::OK;
  }
  grpc::Status ReloadPolicy(grpc::ServerContext*, const v1::ReloadPolicyRequest* req, v1::ReloadPolicyResponse* r) override {
    reloaded_yaml = req->policy_yaml();
    if (has(req->policy_yaml(), "bogus")) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "policy_yaml:1:7: mode: \"bogus\"");
    r->set_policy_source("/etc/runguard/policy.yaml");
    r->set_policy_digest(kDigest);
    r->set_changed(!req->policy_yaml().empty());
    return grpc::Status::OK;
  }

  std::map<std::string, v1::Container> containers;
  std::vector<v1::Event> events;
  bool include_deleted = false;
  std::string reloaded_yaml;
  std::mutex mu;
  v1::WatchEventsRequest last_watch;
};

class CliCommands : public ::testing::Test {
 protected:
  void start_agent() {
    grpc::ServerBuilder b;
    b.AddListeningPort("unix:" + node.socket, grpc::InsecureServerCredentials());
    b.RegisterService(&agent);
    server = b.BuildAndStart();
    ASSERT_NE(server, nullptr);
  }
  void TearDown() override {
    if (server) server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }

  v1::Container container(const std::string& id, const std::string& state, bool monitored) {
    v1::Container c;
    c.set_id(id);
    c.set_image("nginx:1.27");
    c.set_image_digest(kDigest);
    c.set_engine("containerd-cri");
    c.mutable_kubernetes()->set_namespace_("shop");
    c.mutable_kubernetes()->set_pod(id + "-pod");
    c.set_state(state);
    c.set_allowed(state != "denied");
    c.set_mode("enforce");
    c.set_monitored(monitored);
    c.set_monitor_events(4);
    auto* f = c.add_findings();
    f->set_id("RG-CAPS-001");
    f->set_control("capabilities");
    f->set_action(state == "denied" ? "deny" : "enforce");
    f->set_message("bounding capabilities not in the allow list: CAP_SYS_ADMIN");
    auto* m = c.add_mutations();
    m->set_id("RG-CAPS-001");
    m->set_control("capabilities");
    m->set_op("replace");
    m->set_pointer("/process/capabilities/bounding");
    m->set_value_json("[\"CAP_NET_BIND_SERVICE\"]");
    m->set_applied(state != "denied");
    return c;
  }

  Node node;
  FakeAgent agent;
  std::unique_ptr<grpc::Server> server;
};

// ---- status ----

TEST_F(CliCommands, StatusFromTheAgent) {
  start_agent();
  auto r = run([&] { return cli::cmd_status(node.args({})); });
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(has(r.out, "runguardd   9.9.9 at " + node.socket + ", up 1h2m (since 2025-11-29T08:00:00Z)")) << r.out;
  EXPECT_TRUE(has(r.out, "containers  2 known, 1 monitored")) << r.out;
  EXPECT_TRUE(has(r.out, "counters    events_received 7")) << r.out;
  EXPECT_EQ(r.err, "");
  r = run([&] { return cli::cmd_status(node.args({"--format", "json"})); });
  Json j = Json::parse(r.out);
  EXPECT_EQ(j["source"], "agent");
  EXPECT_EQ(j["status"]["version"], "9.9.9");
  EXPECT_EQ(j["status"]["counters"]["events_received"], 7);
}

TEST_F(CliCommands, StatusFromDiskWhenNoAgentRuns) {
  node.add_record(record("web-1", "2026-11-29T08:00:00Z"));
  node.add_record(record("web-2", "2026-11-29T08:01:00Z"));
  node.add_events({event_line("web-1", "r", "Notice", 1)});
  auto r = run([&] { return cli::cmd_status(node.args({})); });
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(has(r.err, "runguardd is not running at " + node.socket + " (no socket there); showing on-disk state")) << r.err;
  EXPECT_TRUE(has(r.out, "runguardd   not running at " + node.socket)) << r.out;
  EXPECT_TRUE(has(r.out, "policy      " + node.policy + " (sha256:")) << r.out;
  EXPECT_TRUE(has(r.out, "containers  2 container records in " + node.state)) << r.out;
  EXPECT_TRUE(has(r.out, "events      " + node.events + " (")) << r.out;
  r = run([&] { return cli::cmd_status(node.args({"--format=json"})); });
  Json j = Json::parse(r.out);
  EXPECT_EQ(j["source"], "disk");
  EXPECT_EQ(j["agent"]["running"], false);
  EXPECT_EQ(j["stateDir"]["containerRecords"], 2);
  EXPECT_GT(j["events"]["size"].get<int>(), 0);
  EXPECT_EQ(j["policy"]["valid"], true);
  EXPECT_EQ(r.err, "") << "JSON mode says it in the document";
}

TEST_F(CliCommands, StaleSocketFallsBackAtOnce) {
  // A socket file nobody listens on (a killed agent).
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strcpy(sa.sun_path, node.socket.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ::close(fd);
  auto t0 = std::chrono::steady_clock::now();
  auto r = run([&] { return cli::cmd_ps(node.args({})); });
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500));
  EXPECT_EQ(r.rc, 0);
  EXPECT_TRUE(has(r.err, "nothing listens on it")) << r.err;
}

TEST_F(CliCommands, BrokenPolicyIsReportedByStatus) {
  std::ofstream(node.policy) << "mode: bogus\n";
  // --agent: with the policy broken, the default socket would be the host's agent.
  auto r = run([&] { return cli::cmd_status(node.args({"--agent", node.socket})); });
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.out, "DOES NOT LOAD")) << r.out;
  EXPECT_TRUE(has(r.err, "the policy does not load")) << r.err;
}

// ---- ps ----

TEST_F(CliCommands, PsFromTheAgent) {
  agent.containers["web-1"] = container("web-1", "created", true);
  agent.containers["bad-1"] = container("bad-1", "denied", false);
  start_agent();
  auto r = run([&] { return cli::cmd_ps(node.args({})); });
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(has(r.out, "ID     IMAGE       DIGEST        NAMESPACE/POD   STATE    CHANGES  FINDINGS  MONITORED\n")) << r.out;
  EXPECT_TRUE(has(r.out, "web-1  nginx:1.27  0123456789ab  shop/web-1-pod  created  1        1         yes\n")) << r.out;
  EXPECT_TRUE(has(r.out, "bad-1  nginx:1.27  0123456789ab  shop/bad-1-pod  denied   0        1         -\n")) << r.out;
  EXPECT_FALSE(agent.include_deleted);
  r = run([&] { return cli::cmd_ps(node.args({"--all", "--format", "json"})); });
  EXPECT_TRUE(agent.include_deleted);
  Json j = Json::parse(r.out);
  EXPECT_EQ(j["source"], "agent");
  ASSERT_EQ(j["containers"].size(), 2u);
}

TEST_F(CliCommands, PsFromDisk) {
  node.add_record(record("web-2", "2026-11-29T08:01:00Z"), R"({"monitorPid": 999999})");
  node.add_record(record("web-1", "2026-11-29T08:00:00Z"), R"({"monitorPid": )" + std::to_string(::getpid()) + "}");
  (void)std::system(("mkdir -p " + node.state + "/broken && echo '{not json' > " + node.state + "/broken/decision.json").c_str());
  (void)std::system(("mkdir -p " + node.state + "/not-a-container").c_str());
  auto r = run([&] { return cli::cmd_ps(node.args({})); });
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(has(r.err, "(from on-disk records; runguardd is not running at " + node.socket)) << r.err;
  EXPECT_TRUE(has(r.err, "skipping " + node.state + "/broken/decision.json")) << r.err;
  // Oldest decision first; this test process is not a runguard-monitor, so its pid counts as dead.
  EXPECT_EQ(r.out,
            "ID     IMAGE       DIGEST        NAMESPACE/POD   STATE    CHANGES  FINDINGS  MONITORED\n"
            "web-1  nginx:1.27  0123456789ab  shop/web-1-pod  created  1        1         dead\n"
            "web-2  nginx:1.27  0123456789ab  shop/web-2-pod  created  1        1         dead\n");
  r = run([&] { return cli::cmd_ps(node.args({"--format", "json"})); });
  Json j = Json::parse(r.out);
  EXPECT_EQ(j["source"], "disk");
  EXPECT_EQ(j["containers"][1]["monitorPid"], 999999);
}

// Regression: without the agent, --all ignored refusals (they leave no state directory; the
// events file has them, and runguardd's --all lists them).
TEST_F(CliCommands, PsAllFromDiskListsRefusals) {
  node.add_record(record("web-1", "2026-11-29T08:00:00Z"));
  node.add_events({
      flat_decision_line("bad-2", "2026-11-29T08:30:00Z", false),   // the runtime's format
      denied_line("bad-1"),                                          // nested, older lines (09:00)
      flat_decision_line("fixed-1", "2026-11-29T07:00:00Z", false),  // refused, then allowed: not a refusal now
      flat_decision_line("fixed-1", "2026-11-29T07:10:00Z", true),
      flat_decision_line("web-1", "2026-11-29T07:59:00Z", false),    // refused once, live now (state dir)
      flat_decision_line("gone-1", "2026-11-29T07:20:00Z", true),    // allowed, later deleted: the agent
      event_line("bad-2", "r", "Notice", 1),                         //   lists it only after watching it go
  });
  auto r = run([&] { return cli::cmd_ps(node.args({})); });
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_FALSE(has(r.out, "bad-")) << "without --all: live containers only\n" << r.out;

  r = run([&] { return cli::cmd_ps(node.args({"--all"})); });
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out,
            "ID     IMAGE       DIGEST        NAMESPACE/POD   STATE    CHANGES  FINDINGS  MONITORED\n"
            "web-1  nginx:1.27  0123456789ab  shop/web-1-pod  created  1        1         no\n"
            "bad-2  evil:2      -             ns/bad-2-pod    denied   0        1         -\n"
            "bad-1  evil:1      -             -               denied   0        1         -\n")
      << r.out;

  r = run([&] { return cli::cmd_ps(node.args({"-a", "--format", "json"})); });
  Json j = Json::parse(r.out);
  EXPECT_EQ(j["source"], "disk");
  ASSERT_EQ(j["containers"].size(), 3u) << r.out;
  EXPECT_EQ(j["containers"][1]["id"], "bad-2");
  EXPECT_EQ(j["containers"][1]["state"], "denied");
  EXPECT_EQ(j["containers"][1]["allowed"], false);
  EXPECT_TRUE(j["containers"][1]["monitored"].is_null());
}

TEST_F(CliCommands, ExplainRefusalFromTheRuntimesEventLine) {
  node.add_events({flat_decision_line("bad-2", "2026-11-29T08:30:00Z", false)});
  auto r = run([&] { return cli::cmd_explain(node.args({"bad-2"})); });
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(has(r.out, "  verdict     DENIED by 1 control\n")) << r.out;
  EXPECT_TRUE(has(r.out, "  state       denied\n")) << r.out;
}

// Regression: the liveness probe was a blocking connect(2), which waits for as long as a hung
// agent's listen backlog stays full. Now it gives up at the connect timeout and falls back.
TEST_F(CliCommands, HungAgentWithAFullBacklogFallsBackInTime) {
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strcpy(sa.sun_path, node.socket.c_str());
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(listener, 0), 0);  // never accepts
  std::vector<int> queued;
  for (int i = 0; i < 64; ++i) {
    int c = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (::connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      ::close(c);
      ASSERT_EQ(errno, EAGAIN) << std::strerror(errno);
      break;
    }
    queued.push_back(c);
  }
  ASSERT_FALSE(queued.empty());
  ASSERT_LT(queued.size(), 64u) << "the backlog never filled";

  std::promise<Captured> done;
  auto result = done.get_future();
  auto t0 = std::chrono::steady_clock::now();
  std::thread t([&] { done.set_value(run([&] { return cli::cmd_ps(node.args({})); })); });
  bool finished = result.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  auto elapsed = std::chrono::steady_clock::now() - t0;
  if (!finished) ::close(listener);  // wakes a blocked connect, so the thread can be joined
  t.join();
  if (finished) ::close(listener);
  for (int c : queued) ::close(c);
  ASSERT_TRUE(finished) << "runguardctl ps hung on an agent that does not accept";
  Captured r = result.get();
  EXPECT_LT(elapsed, std::chrono::milliseconds(2500));
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(has(r.err, "is not accepting connections")) << r.err;
}

// Regression: event output (process names, paths, argv: the container's to choose) was printed
// raw in text mode: terminal escapes and forged lines. JSON mode prints the line as stored.
TEST_F(CliCommands, EventsTextModeEscapesControlCharacters) {
  Json line = Json::parse(event_line("web\x1b-1", "A", "Notice", 1));
  line["output"] = "exec \x1b]0;pwned\x07 /bin/sh\nweb-2 forged";
  node.add_events({runguard::dump_json(line)});
  auto r = run([&] { return cli::cmd_events(node.args({})); });
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "web\\x1b-1 exec \\x1b]0;pwned\\x07 /bin/sh\\x0aweb-2 forged\n");
  r = run([&] { return cli::cmd_events(node.args({"--format", "json"})); });
  EXPECT_EQ(Json::parse(r.out)["output"], line["output"]);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1);
}

TEST_F(CliCommands, PsWithNoStateDirYet) {
  (void)std::system(("rm -rf " + node.state).c_str());
  auto r = run([&] { return cli::cmd_ps(node.args({})); });
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out, "ID  IMAGE  DIGEST  NAMESPACE/POD  STATE  CHANGES  FINDINGS  MONITORED\n");
}

// ---- explain ----

TEST_F(CliCommands, ExplainFromTheAgent) {
  agent.containers["web-1"] = container("web-1", "created", true);
  start_agent();
  auto r = run([&] { return cli::cmd_explain(node.args({"web-1"})); });
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(has(r.out, "container web-1\n  verdict     allowed, 1 change made\n")) << r.out;
  EXPECT_TRUE(has(r.out, "  state       created, monitored (4 monitor events)\n")) << r.out;
  EXPECT_TRUE(has(r.out, "  RG-CAPS-001  capabilities\n      bounding capabilities not in the allow list: CAP_SYS_ADMIN\n"
                         "      replace /process/capabilities/bounding = [\"CAP_NET_BIND_SERVICE\"]\n"
                         "      CIS 5.4, CIS 5.23, PSS baseline: Capabilities, PSS restricted: Capabilities\n"))
      << r.out;
  r = run([&] { return cli::cmd_explain(node.args({"web-1", "--format", "json"})); });
  Json j = Json::parse(r.out);
  EXPECT_EQ(j["source"], "agent");
  EXPECT_EQ(j["monitored"], true);
  EXPECT_EQ(j["record"]["decision"]["mutations"][0]["value"], Json::array({"CAP_NET_BIND_SERVICE"}));
}

TEST_F(CliCommands, ExplainPrefersTheAgentsRecordJson) {
  v1::Container c = container("web-1", "created", false);
  c.set_record_json(runguard::dump_json(record("web-1", "2026-11-29T08:00:00Z")));
  agent.containers["web-1"] = c;
  start_agent();
  auto r = run([&] { return cli::cmd_explain(node.args({"web-1"})); });
  EXPECT_TRUE(has(r.out, "process runs as root")) << r.out;
  EXPECT_TRUE(has(r.out, "  state       created, not monitored (4 monitor events)\n")) << r.out;
}

TEST_F(CliCommands, ExplainFallsBackToDiskWhenTheAgentHasNoRecord) {
  start_agent();
  node.add_record(record("web-1", "2026-11-29T08:00:00Z"));
  auto r = run([&] { return cli::cmd_explain(node.args({"web-1"})); });
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(has(r.err, "runguardd has no record of web-1; looking on disk")) << r.err;
  EXPECT_TRUE(has(r.out, "container web-1\n")) << r.out;
}

TEST_F(CliCommands, ExplainDeniedContainerFromTheEventsFile) {
  node.add_events({event_line("x", "r", "Notice", 1), denied_line("bad-1"), event_line("bad-1", "r", "Notice", 2)});
  auto r = run([&] { return cli::cmd_explain(node.args({"bad-1"})); });
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(has(r.out, "  verdict     DENIED by 1 control\n")) << r.out;
  EXPECT_TRUE(has(r.out, "  image       evil:1\n")) << r.out;
  EXPECT_TRUE(has(r.out, "RG-PRIV-001  privileged  (critical)\n      privileged containers are refused\n")) << r.out;
  r = run([&] { return cli::cmd_explain(node.args({"bad-1", "--format", "json"})); });
  Json j = Json::parse(r.out);
  EXPECT_EQ(j["source"], "events");
  EXPECT_EQ(j["state"], "denied");
}

TEST_F(CliCommands, ExplainUnknownContainerIsAnError) {
  node.add_events({"garbage", event_line("nope", "r", "Notice", 1)});
  auto r = run([&] { return cli::cmd_explain(node.args({"nope"})); });
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "no record of container nope")) << r.err;
  EXPECT_TRUE(has(r.err, node.state + "/nope/decision.json: none")) << r.err;
  EXPECT_EQ(run([&] { return cli::cmd_explain(node.args({"../etc"})); }).rc, 2);
  EXPECT_EQ(run([&] { return cli::cmd_explain(node.args({})); }).rc, 2);
}

// ---- events ----

TEST_F(CliCommands, EventsFromTheAgent) {
  v1::Event e;
  e.set_kind("monitor");
  e.set_container_id("web-1");
  e.set_output("08:00:00.000000000: Notice shell");
  e.set_json(event_line("web-1", "Terminal shell in container", "Notice", 1) + "\n");
  agent.events.push_back(e);
  v1::Event dropped;
  dropped.set_kind("dropped");
  dropped.set_output("3 events dropped");
  agent.events.push_back(dropped);
  start_agent();
  auto r = run([&] {
    return cli::cmd_events(node.args({"--container", "web-1", "--rule", "R", "--priority", "warning", "--last", "5"}));
  });
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "web-1 08:00:00.000000000: Notice shell\n");
  EXPECT_TRUE(has(r.err, "3 events dropped")) << r.err;
  EXPECT_EQ(agent.last_watch.container_id(), "web-1");
  EXPECT_EQ(agent.last_watch.rule(), "R");
  EXPECT_EQ(agent.last_watch.min_priority(), "Warning");
  EXPECT_EQ(agent.last_watch.last(), 5u);
  EXPECT_TRUE(agent.last_watch.no_follow());
  r = run([&] { return cli::cmd_events(node.args({"--format", "json"})); });
  EXPECT_EQ(agent.last_watch.last(), 20u) << "default --last";
  std::istringstream lines(r.out);
  std::string first;
  std::getline(lines, first);
  EXPECT_EQ(first, event_line("web-1", "Terminal shell in container", "Notice", 1)) << "the raw line, once";
}

TEST_F(CliCommands, EventsFromTheFileWithFilters) {
  node.add_events({event_line("web-1", "A", "Notice", 1), "not json", event_line("web-2", "B", "Critical", 2),
                   event_line("web-1", "B", "Warning", 3), denied_line("bad-1"), event_line("web-1", "A", "Debug", 4)});
  auto r = run([&] { return cli::cmd_events(node.args({})); });
  EXPECT_EQ(r.rc, 0);
  EXPECT_TRUE(has(r.err, "runguardd is not running at " + node.socket)) << r.err;
  EXPECT_EQ(r.out,
            "web-1 event 1\nweb-2 event 2\nweb-1 event 3\nbad-1 09:00:00.000000000: Warning container bad-1 denied\nweb-1 event 4\n");
  r = run([&] { return cli::cmd_events(node.args({"--container", "web-1", "--last", "2"})); });
  EXPECT_EQ(r.out, "web-1 event 3\nweb-1 event 4\n");
  r = run([&] { return cli::cmd_events(node.args({"--priority", "Warning"})); });
  EXPECT_EQ(r.out, "web-2 event 2\nweb-1 event 3\nbad-1 09:00:00.000000000: Warning container bad-1 denied\n");
  r = run([&] { return cli::cmd_events(node.args({"--rule", "B", "--format", "json"})); });
  EXPECT_EQ(r.out, event_line("web-2", "B", "Critical", 2) + "\n" + event_line("web-1", "B", "Warning", 3) + "\n");
}

TEST_F(CliCommands, EventsWithoutAFile) {
  auto r = run([&] { return cli::cmd_events(node.args({})); });
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(has(r.err, "no events file at " + node.events)) << r.err;
}

TEST_F(CliCommands, EventsUsageErrors) {
  EXPECT_EQ(run([&] { return cli::cmd_events(node.args({"--priority", "loud"})); }).rc, 2);
  EXPECT_EQ(run([&] { return cli::cmd_events(node.args({"--last", "-1"})); }).rc, 2);
  EXPECT_EQ(run([&] { return cli::cmd_events(node.args({"--last"})); }).rc, 2);
  auto r = run([&] { return cli::cmd_events(node.args({"--folow"})); });
  EXPECT_EQ(r.rc, 2);
  EXPECT_TRUE(has(r.err, "unknown flag --folow (did you mean --follow?)")) << r.err;
  EXPECT_EQ(run([&] { return cli::cmd_events(node.args({"extra"})); }).rc, 2);
  EXPECT_EQ(run([&] { return cli::cmd_ps(node.args({"--format", "yaml"})); }).rc, 2);
  EXPECT_EQ(run([&] { return cli::cmd_status(node.args({"--help"})); }).rc, 0);
}

// ---- policy reload ----

TEST_F(CliCommands, PolicyReloadThroughTheAgent) {
  start_agent();
  auto r = run([&] { return cli::cmd_policy(node.args({"reload"})); });
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(agent.reloaded_yaml, "");
  EXPECT_TRUE(has(r.out, "runguardd loaded /etc/runguard/policy.yaml (" + kDigest + "); unchanged")) << r.out;

  std::string file = node.dir + "/new.yaml";
  std::ofstream(file) << "mode: audit\n";
  r = run([&] { return cli::cmd_policy(node.args({"reload", file, "--format", "json"})); });
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(agent.reloaded_yaml, "mode: audit\n");
  EXPECT_EQ(Json::parse(r.out)["changed"], true);

  std::ofstream(file) << "mode: bogus\n";
  r = run([&] { return cli::cmd_policy(node.args({"reload", file})); });
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "runguardd refused the policy, the old one stays in force: policy_yaml:1:7")) << r.err;
}

TEST_F(CliCommands, PolicyReloadWithoutAnAgent) {
  std::string file = node.dir + "/new.yaml";
  std::ofstream(file) << "mode: audit\n";
  auto r = run([&] { return cli::cmd_policy(node.args({"reload", file})); });
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "no agent to reload")) << r.err;
  EXPECT_TRUE(has(r.err, file + " is valid; the runtime reads the policy file at every create, so installing it is: "
                                "install -m 0644 " + file + " " + node.policy))
      << r.err;
  std::ofstream(file) << "mode: bogus\n";
  r = run([&] { return cli::cmd_policy(node.args({"reload", file, "--format", "json"})); });
  EXPECT_EQ(r.rc, 1);
  Json j = Json::parse(r.out);
  EXPECT_EQ(j["valid"], false);
  EXPECT_EQ(j["source"], "disk");
  EXPECT_EQ(run([&] { return cli::cmd_policy(node.args({"reload", node.dir + "/missing.yaml"})); }).rc, 1);
  EXPECT_EQ(run([&] { return cli::cmd_policy(node.args({})); }).rc, 2);
  EXPECT_EQ(run([&] { return cli::cmd_policy(node.args({"relaod"})); }).rc, 2);
}

// ---- helper image-digest ----

namespace ctrs = containerd::services::containers::v1;
namespace imgs = containerd::services::images::v1;

std::string ns_of(grpc::ServerContext* ctx) {
  auto it = ctx->client_metadata().find("containerd-namespace");
  return it == ctx->client_metadata().end() ? "" : std::string(it->second.data(), it->second.size());
}

class FakeContainers final : public ctrs::Containers::Service {
  grpc::Status Get(grpc::ServerContext* ctx, const ctrs::GetContainerRequest* req, ctrs::GetContainerResponse* r) override {
    if (ns_of(ctx) != "k8s.io" || req->id() != "c1") return grpc::Status(grpc::StatusCode::NOT_FOUND, "container \"" + req->id() + "\": not found");
    r->mutable_container()->set_id("c1");
    r->mutable_container()->set_image("docker.io/library/nginx:1.27");
    return grpc::Status::OK;
  }
};

class FakeImages final : public imgs::Images::Service {
  grpc::Status Get(grpc::ServerContext* ctx, const imgs::GetImageRequest* req, imgs::GetImageResponse* r) override {
    if (req->name() == "slow:1") std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    if (req->name() == "docker.io/library/nginx:1.27" || req->name() == "slow:1") {
      r->mutable_image()->set_name(req->name());
      r->mutable_image()->mutable_target()->set_digest(kDigest);
      r->mutable_image()->mutable_target()->set_media_type("application/vnd.oci.image.index.v1+json");
      return grpc::Status::OK;
    }
    if (req->name() == "weird:1") {
      r->mutable_image()->mutable_target()->set_digest("md5:abc");
      return grpc::Status::OK;
    }
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "image \"" + req->name() + "\": not found");
  }
};

class CliHelper : public ::testing::Test {
 protected:
  void SetUp() override {
    sock = node.dir + "/containerd.sock";
    grpc::ServerBuilder b;
    b.AddListeningPort("unix:" + sock, grpc::InsecureServerCredentials());
    b.RegisterService(&containers);
    b.RegisterService(&images);
    server = b.BuildAndStart();
    ASSERT_NE(server, nullptr);
  }
  void TearDown() override { server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1)); }
  Captured helper(std::vector<std::string> args) {
    args.insert(args.begin(), "image-digest");
    return run([&] { return cli::cmd_helper(args); });
  }

  Node node;
  std::string sock;
  FakeContainers containers;
  FakeImages images;
  std::unique_ptr<grpc::Server> server;
};

TEST_F(CliHelper, DigestOfAContainersImage) {
  auto r = helper({"--containerd", sock, "--namespace", "k8s.io", "--container", "c1", "--timeout-ms", "2000"});
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_EQ(r.out, R"({"digest":")" + kDigest +
                       R"(","image":"docker.io/library/nginx:1.27","mediaType":"application/vnd.oci.image.index.v1+json"})" + "\n");
  // With the image name given, no container lookup (c2 does not exist).
  r = helper({"--containerd", sock, "--namespace", "other", "--container", "c2", "--image", "docker.io/library/nginx:1.27"});
  EXPECT_EQ(r.rc, 0) << r.out;
}

TEST_F(CliHelper, ErrorsAreOneJsonLineWithACode) {
  auto code = [](const Captured& c) {
    EXPECT_EQ(std::count(c.out.begin(), c.out.end(), '\n'), 1) << c.out;
    Json j = Json::parse(c.out);
    EXPECT_TRUE(j["error"].is_string() && !j["error"].get<std::string>().empty()) << c.out;
    return j["code"].get<std::string>();
  };
  auto r = helper({"--containerd", sock, "--namespace", "k8s.io", "--container", "c9"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(code(r), "not_found");
  r = helper({"--containerd", sock, "--namespace", "k8s.io", "--container", "c1", "--image", "weird:1"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(code(r), "invalid");
  r = helper({"--containerd", node.dir + "/none.sock", "--namespace", "k8s.io", "--container", "c1"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(code(r), "unavailable");
  auto t0 = std::chrono::steady_clock::now();
  r = helper({"--containerd", sock, "--namespace", "k8s.io", "--container", "c1", "--image", "slow:1", "--timeout-ms", "300"});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1200)) << "the budget bounds the lookup";
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(code(r), "unavailable");
}

TEST_F(CliHelper, UsageErrorsExit2WithAJsonLine) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"--namespace", "k8s.io", "--container", "c1"},
           {"--containerd", sock, "--container", "c1"},
           {"--containerd", sock, "--namespace", "k8s.io", "--container", "c1", "--timeout-ms", "0"},
           {"--containerd", sock, "--namespace", "k8s.io", "--container", "c1", "--bogus"},
       }) {
    auto r = helper(args);
    EXPECT_EQ(r.rc, 2) << r.out;
    EXPECT_EQ(Json::parse(r.out)["code"], "invalid") << r.out;
  }
  auto r = run([] { return cli::cmd_helper({"image-dgst"}); });
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(Json::parse(r.out)["code"], "invalid");
}

}  // namespace
