// runguard.v1.Agent over a real unix socket: Status, containers, WatchEvents (replay, follow,
// filters, cancel, stop) and ReloadPolicy (good, bad, unchanged file, embedded defaults).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <thread>

#include "agent_fixture.h"
#include "policy_state.h"
#include "runguard/nsutil/fs.h"
#include "runguard/v1/agent.grpc.pb.h"

namespace {

using namespace runguard::agent;
using namespace rgagent_test;
using namespace std::chrono_literals;
using runguard::Json;
namespace frame = runguard::frame;
namespace v1 = runguard::v1;

class ServiceTest : public AgentFixture {
 protected:
  void SetUp() override {
    start_agent();
    channel = grpc::CreateChannel("unix:" + grpc_socket(), grpc::InsecureChannelCredentials());
    stub = v1::Agent::NewStub(channel);
  }
  std::unique_ptr<grpc::ClientContext> ctx(std::chrono::milliseconds deadline = 3s) {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + deadline);
    return c;
  }
  void send_frames(const std::vector<Json>& frames) {
    FrameClient c(internal_socket());
    for (const auto& f : frames) ASSERT_TRUE(c.send(f));
    ASSERT_TRUE(c.send(frame::message("ping")));
    ASSERT_TRUE(c.read());  // everything before it was handled
  }
  // An allowed decision's frame, after its decision.json (the runtime writes it first).
  Json decision(const std::string& id, bool allowed, const std::string& ns = "default") {
    if (allowed) write_text(state_dir() + "/" + id + "/decision.json", runguard::dump_json(decision_record(id, true, ns), 2) + "\n");
    return frame::message("decision", {{"record", decision_record(id, allowed, ns)}, {"event", decision_event(id, allowed, ns)}});
  }
  // A new agent on the same directory with `change` applied to its options.
  void restart(const std::function<void(AgentOptions&)>& change) {
    agent->stop();
    agent.reset();
    AgentOptions o = options();
    change(o);
    auto a = Agent::create(o, log);
    ASSERT_TRUE(a.is_ok());
    agent = std::move(a).value();
    ASSERT_TRUE(agent->start().is_ok());
    channel = grpc::CreateChannel("unix:" + grpc_socket(), grpc::InsecureChannelCredentials());
    stub = v1::Agent::NewStub(channel);
  }
  // `n` events of `bytes` each, straight into the ring.
  void fill_ring(size_t n, size_t bytes) {
    for (size_t i = 0; i < n; ++i) {
      Event e;
      e.kind = EventKind::kMonitor;
      e.container = "big";
      e.rule = "big";
      e.priority = "Notice";
      e.json = std::string(bytes, 'x');
      agent->ring().publish(std::move(e));
    }
  }
  // A channel whose HTTP/2 windows stay small (no BDP probing): a stream nobody reads fills up fast.
  std::unique_ptr<v1::Agent::Stub> small_window_stub() {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return v1::Agent::NewStub(grpc::CreateCustomChannel("unix:" + grpc_socket(), grpc::InsecureChannelCredentials(), args));
  }
  template <typename P>
  bool eventually(P pred, std::chrono::milliseconds within = 5s) {
    auto end = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < end) {
      if (pred()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return pred();
  }
  static Json monitor(const std::string& id, const std::string& rule, const std::string& prio) {
    return frame::message("event", {{"event", monitor_event(id, rule, prio)}});
  }

  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Agent::Stub> stub;
};

TEST_F(ServiceTest, Status) {
  send_frames({decision("a", true), decision("b", false)});
  v1::StatusResponse r;
  auto c = ctx();
  ASSERT_TRUE(stub->Status(c.get(), {}, &r).ok());
  EXPECT_EQ(r.version(), RUNGUARD_VERSION);
  EXPECT_EQ(r.policy_source(), policy_path());
  EXPECT_EQ(r.policy_digest(), sha256_digest(read_text(policy_path())));
  EXPECT_EQ(r.policy_digest().size(), 7u + 64u);
  EXPECT_GT(r.started_at().seconds(), 1700000000);
  EXPECT_EQ(r.containers_known(), 2u);
  EXPECT_EQ(r.containers_monitored(), 0u);
  EXPECT_EQ(r.counters().at("decisions_received"), 2u);
  EXPECT_EQ(r.events_in_ring(), 2u);
  EXPECT_EQ(r.ring_capacity(), 10000u);
  EXPECT_EQ(r.watchers(), 0u);
}

TEST_F(ServiceTest, ListAndGetContainers) {
  send_frames({decision("a", true, "shop"), decision("b", false, "shop"), decision("c", true, "other"),
               frame::message("deleted", {{"container", "c"}})});
  v1::ListContainersResponse list;
  auto c = ctx();
  ASSERT_TRUE(stub->ListContainers(c.get(), {}, &list).ok());
  EXPECT_EQ(list.containers_size(), 2);
  v1::ListContainersRequest req;
  req.set_include_deleted(true);
  c = ctx();
  ASSERT_TRUE(stub->ListContainers(c.get(), req, &list).ok());
  EXPECT_EQ(list.containers_size(), 3);
  req.set_kubernetes_namespace("shop");
  c = ctx();
  ASSERT_TRUE(stub->ListContainers(c.get(), req, &list).ok());
  EXPECT_EQ(list.containers_size(), 2);

  v1::GetContainerRequest g;
  g.set_id("b");
  v1::GetContainerResponse got;
  c = ctx();
  ASSERT_TRUE(stub->GetContainer(c.get(), g, &got).ok());
  const v1::Container& b = got.container();
  EXPECT_EQ(b.state(), "denied");
  EXPECT_FALSE(b.allowed());
  EXPECT_EQ(b.kubernetes().namespace_(), "shop");
  EXPECT_EQ(b.kubernetes().pod(), "web-0");
  EXPECT_EQ(b.image(), "docker.io/library/nginx:1.27");
  EXPECT_EQ(b.findings_size(), 3);
  EXPECT_EQ(b.findings(0).id(), "RG-PRIV-001");
  EXPECT_EQ(b.findings(0).action(), "deny");
  EXPECT_EQ(b.command(), "create");
  EXPECT_EQ(b.decided_at().seconds(), 1795939200);
  auto rec = runguard::parse_json(b.record_json(), "record_json");
  ASSERT_TRUE(rec.is_ok());
  EXPECT_EQ((*rec)["id"], "b");

  g.set_id("a");
  c = ctx();
  ASSERT_TRUE(stub->GetContainer(c.get(), g, &got).ok());
  EXPECT_EQ(got.container().mutations_size(), 1);
  EXPECT_EQ(got.container().mutations(0).value_json(), "{\"bounding\":[]}");

  g.set_id("nope");
  c = ctx();
  grpc::Status s = stub->GetContainer(c.get(), g, &got);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(s.error_message().find("nope"), std::string::npos);
}

TEST_F(ServiceTest, WatchEventsReplaysThenFollows) {
  send_frames({decision("a", true), monitor("a", "shell", "Notice"), monitor("a", "ptrace", "Critical"),
               monitor("b", "shell", "Warning")});
  v1::WatchEventsRequest req;
  req.set_last(2);
  auto c = ctx(5s);
  auto reader = stub->WatchEvents(c.get(), req);
  v1::Event e;
  ASSERT_TRUE(reader->Read(&e));
  EXPECT_EQ(e.seq(), 3u);
  EXPECT_EQ(e.rule(), "ptrace");
  EXPECT_EQ(e.kind(), "monitor");
  EXPECT_EQ(e.priority(), "Critical");
  EXPECT_EQ(e.container_id(), "a");
  EXPECT_EQ(e.time().seconds(), 1795939201);
  ASSERT_TRUE(reader->Read(&e));
  EXPECT_EQ(e.seq(), 4u);
  send_frames({monitor("c", "mount", "Error")});
  ASSERT_TRUE(reader->Read(&e));
  EXPECT_EQ(e.seq(), 5u);
  EXPECT_EQ(e.rule(), "mount");
  auto parsed = runguard::parse_json(e.json(), "json");
  ASSERT_TRUE(parsed.is_ok());
  EXPECT_EQ((*parsed)["rule"], "mount");
  c->TryCancel();
  while (reader->Read(&e)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(ServiceTest, WatchEventsFiltersAndNoFollow) {
  send_frames({decision("a", true), monitor("a", "shell", "Notice"), monitor("a", "ptrace", "Critical"),
               monitor("b", "shell", "Warning"), frame::message("deleted", {{"container", "a"}})});
  auto collect = [&](v1::WatchEventsRequest req) {
    req.set_no_follow(true);
    if (req.last() == 0) req.set_last(100);
    auto c = ctx();
    auto reader = stub->WatchEvents(c.get(), req);
    std::vector<v1::Event> out;
    v1::Event e;
    while (reader->Read(&e)) out.push_back(e);
    EXPECT_TRUE(reader->Finish().ok());
    return out;
  };
  v1::WatchEventsRequest r;
  EXPECT_EQ(collect(r).size(), 5u);
  r.set_container_id("a");
  EXPECT_EQ(collect(r).size(), 4u);
  r.set_rule("shell");
  EXPECT_EQ(collect(r).size(), 1u);
  r = {};
  r.set_min_priority("Warning");
  auto w = collect(r);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].rule(), "ptrace");
  EXPECT_EQ(w[1].rule(), "shell");
  r = {};
  r.add_kinds("decision");
  r.add_kinds("lifecycle");
  auto k = collect(r);
  ASSERT_EQ(k.size(), 2u);
  EXPECT_EQ(k[0].kind(), "decision");
  EXPECT_EQ(k[0].action(), "allowed");
  EXPECT_EQ(k[1].kind(), "lifecycle");
  EXPECT_EQ(k[1].action(), "deleted");
  r = {};
  r.set_last(1);
  EXPECT_EQ(collect(r).size(), 1u);

  v1::WatchEventsRequest bad;
  bad.set_min_priority("Loud");
  auto c = ctx();
  auto reader = stub->WatchEvents(c.get(), bad);
  v1::Event e;
  EXPECT_FALSE(reader->Read(&e));
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("Loud"), std::string::npos);
  bad = {};
  bad.add_kinds("dropped");
  c = ctx();
  reader = stub->WatchEvents(c.get(), bad);
  EXPECT_FALSE(reader->Read(&e));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServiceTest, CancelledWatchEndsOnTheServerWithinASecond) {
  auto c = ctx(10s);
  auto reader = stub->WatchEvents(c.get(), {});
  for (int i = 0; i < 200 && agent->ring().watchers() == 0; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(agent->ring().watchers(), 1u);
  auto start = std::chrono::steady_clock::now();
  c->TryCancel();
  v1::Event e;
  while (reader->Read(&e)) {
  }
  (void)reader->Finish();
  while (agent->ring().watchers() > 0 && std::chrono::steady_clock::now() - start < 3s) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(agent->ring().watchers(), 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
}

TEST_F(ServiceTest, StoppingTheAgentEndsStreams) {
  auto c = ctx(10s);
  auto reader = stub->WatchEvents(c.get(), {});
  for (int i = 0; i < 200 && agent->ring().watchers() == 0; ++i) std::this_thread::sleep_for(5ms);
  auto start = std::chrono::steady_clock::now();
  std::thread stopper([&] { agent->stop(); });
  v1::Event e;
  while (reader->Read(&e)) {
  }
  grpc::Status s = reader->Finish();
  stopper.join();
  EXPECT_FALSE(s.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_FALSE(runguard::nsutil::path_exists(grpc_socket()));
}

TEST_F(ServiceTest, ReloadPolicyFromTheFile) {
  std::string before = read_text(policy_path());
  v1::ReloadPolicyResponse r;
  auto c = ctx();
  ASSERT_TRUE(stub->ReloadPolicy(c.get(), {}, &r).ok());
  EXPECT_FALSE(r.changed());
  EXPECT_EQ(r.policy_source(), policy_path());
  write_text(policy_path(), before + "mode: audit\n");
  c = ctx();
  ASSERT_TRUE(stub->ReloadPolicy(c.get(), {}, &r).ok());
  EXPECT_TRUE(r.changed());
  EXPECT_EQ(r.policy_digest(), sha256_digest(before + "mode: audit\n"));
  EXPECT_EQ(agent->status().policy.policy->mode, runguard::policy::Mode::kAudit);
}

TEST_F(ServiceTest, ReloadPolicyWithTextWritesTheFile) {
  std::string text = policy_yaml(dir) + "mode: audit\n";
  v1::ReloadPolicyRequest req;
  req.set_policy_yaml(text);
  v1::ReloadPolicyResponse r;
  auto c = ctx();
  grpc::Status s = stub->ReloadPolicy(c.get(), req, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(r.changed());
  EXPECT_EQ(r.policy_digest(), sha256_digest(text));
  EXPECT_EQ(read_text(policy_path()), text);
  EXPECT_EQ(agent->status().policy.source, policy_path());
  // Settings that need a restart are kept (and warned about): the sockets still answer.
  req.set_policy_yaml(policy_yaml(dir, "  eventRing: 5\n"));
  c = ctx();
  ASSERT_TRUE(stub->ReloadPolicy(c.get(), req, &r).ok());
  EXPECT_EQ(agent->ring().capacity(), 10000u);
}

TEST_F(ServiceTest, BadPolicyIsRejectedAndTheFileIsUnchanged) {
  std::string before = read_text(policy_path());
  std::string digest_before = agent->status().policy.digest;
  v1::ReloadPolicyRequest req;
  req.set_policy_yaml(policy_yaml(dir) + "controls:\n  capabilities:\n    allow: [CAP_SYS_ADMN]\n");
  v1::ReloadPolicyResponse r;
  auto c = ctx();
  grpc::Status s = stub->ReloadPolicy(c.get(), req, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("CAP_SYS_ADMN"), std::string::npos) << s.error_message();
  EXPECT_NE(s.error_message().find("policy_yaml"), std::string::npos) << s.error_message();
  EXPECT_EQ(s.error_message().find(".reload-"), std::string::npos) << s.error_message();
  EXPECT_EQ(read_text(policy_path()), before);
  EXPECT_EQ(agent->status().policy.digest, digest_before);
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "etc")) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u);  // no temporary file left behind

  req.set_policy_yaml("key: [unclosed\n");
  c = ctx();
  EXPECT_EQ(stub->ReloadPolicy(c.get(), req, &r).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(read_text(policy_path()), before);

  // A broken file on disk is refused the same way; the old policy stays.
  write_text(policy_path(), "mode: sometimes\n");
  c = ctx();
  s = stub->ReloadPolicy(c.get(), {}, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find(policy_path()), std::string::npos) << s.error_message();
  EXPECT_EQ(agent->status().policy.digest, digest_before);
}

// A WatchEvents call whose client never reads.
struct IdleStream {
  std::unique_ptr<grpc::ClientContext> ctx = std::make_unique<grpc::ClientContext>();
  std::unique_ptr<grpc::ClientReader<v1::Event>> reader;
  ~IdleStream() {
    if (!reader) return;
    ctx->TryCancel();
    v1::Event e;
    while (reader->Read(&e)) {
    }
    (void)reader->Finish();
  }
};

// Regression: no_follow streams were not counted, a client that does not read blocked its
// stream's Write forever, and ~80 such streams took every server thread: Status, GetContainer
// and ReloadPolicy got RESOURCE_EXHAUSTED.
TEST_F(ServiceTest, NonReadingStreamsCannotStarveUnaryCalls) {
  send_frames({decision("a", true)});
  fill_ring(16, 256u << 10);  // 4 MiB to replay: far beyond what HTTP/2 buffers for an unread stream
  auto idle_stub = small_window_stub();
  constexpr int kStreams = 80;
  std::vector<std::unique_ptr<IdleStream>> streams;
  for (int i = 0; i < kStreams; ++i) {
    v1::WatchEventsRequest req;
    req.set_last(100);
    req.set_no_follow(i % 2 == 0);  // half replay-only, half following: both kinds count
    auto st = std::make_unique<IdleStream>();
    st->ctx->set_deadline(std::chrono::system_clock::now() + 60s);
    st->reader = idle_stub->WatchEvents(st->ctx.get(), req);
    streams.push_back(std::move(st));
  }
  // Every stream the server took is now blocked writing to a client that does not read.
  (void)eventually([&] { return agent->status().watchers == agent->max_watchers(); }, 3s);
  auto start = std::chrono::steady_clock::now();
  v1::StatusResponse status;
  auto c = ctx(2s);
  grpc::Status s = stub->Status(c.get(), {}, &status);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(status.watchers(), 64u);
  v1::GetContainerRequest g;
  g.set_id("a");
  v1::GetContainerResponse got;
  c = ctx(2s);
  EXPECT_TRUE(stub->GetContainer(c.get(), g, &got).ok());
  v1::ReloadPolicyResponse reloaded;
  c = ctx(2s);
  EXPECT_TRUE(stub->ReloadPolicy(c.get(), {}, &reloaded).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  // One more stream is refused at once; it does not wait for a thread.
  v1::WatchEventsRequest req;
  req.set_no_follow(true);
  c = ctx(2s);
  auto extra = stub->WatchEvents(c.get(), req);
  v1::Event e;
  EXPECT_FALSE(extra->Read(&e));
  EXPECT_EQ(extra->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  streams.clear();
  EXPECT_TRUE(eventually([&] { return agent->status().watchers == 0; }));
}

// A stream whose client stops reading is ended after watch_stall_timeout, freeing its slot; a
// client that reads is never cut off.
TEST_F(ServiceTest, StalledStreamIsCancelled) {
  restart([](AgentOptions& o) { o.watch_stall_timeout = 300ms; });
  fill_ring(16, 256u << 10);
  auto idle_stub = small_window_stub();
  IdleStream stalled;
  v1::WatchEventsRequest req;
  req.set_last(100);
  stalled.reader = idle_stub->WatchEvents(stalled.ctx.get(), req);

  v1::WatchEventsRequest follow;
  follow.set_container_id("busy");
  auto rc = ctx(20s);
  auto reader = stub->WatchEvents(rc.get(), follow);
  ASSERT_TRUE(eventually([&] { return agent->status().watchers == 2; }, 2s));
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    while (!stop) {
      Event ev;
      ev.container = "busy";
      ev.rule = "tick";
      ev.json = std::string(64u << 10, 'y');
      agent->ring().publish(std::move(ev));
      std::this_thread::sleep_for(5ms);
    }
  });
  // The stalled one goes; the reading one stays.
  size_t read = 0;
  v1::Event e;
  auto start = std::chrono::steady_clock::now();
  bool stalled_gone = false, reading = true;
  while (reading && std::chrono::steady_clock::now() - start < 3s) {
    reading = reader->Read(&e);
    read += reading ? 1 : 0;
    if (agent->status().watchers == 1) stalled_gone = true;
  }
  stop = true;
  producer.join();
  EXPECT_TRUE(reading) << "the reading client's stream ended";
  EXPECT_TRUE(stalled_gone);
  EXPECT_GT(read, 50u);
  EXPECT_EQ(agent->status().watchers, 1u);
  rc->TryCancel();
  while (reader->Read(&e)) {
  }
  (void)reader->Finish();
  // The stalled client learns its stream was cancelled.
  while (stalled.reader->Read(&e)) {
  }
  EXPECT_EQ(stalled.reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  stalled.reader.reset();
}

TEST_F(ServiceTest, ReplayOnlyStreamsCountAgainstTheWatcherCap) {
  restart([](AgentOptions& o) { o.max_watchers = 2; });
  fill_ring(16, 256u << 10);
  auto idle_stub = small_window_stub();
  std::vector<std::unique_ptr<IdleStream>> streams;
  for (int i = 0; i < 2; ++i) {
    v1::WatchEventsRequest req;
    req.set_last(100);
    req.set_no_follow(true);
    streams.push_back(std::make_unique<IdleStream>());
    streams.back()->reader = idle_stub->WatchEvents(streams.back()->ctx.get(), req);
  }
  ASSERT_TRUE(eventually([&] { return agent->status().watchers == 2; }));
  EXPECT_EQ(agent->ring().watchers(), 0u);  // no subscription: they only replay
  v1::WatchEventsRequest req;
  auto c = ctx();
  auto r = stub->WatchEvents(c.get(), req);
  v1::Event e;
  EXPECT_FALSE(r->Read(&e));
  EXPECT_EQ(r->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

// Regression: record_json (every decision record) went out in every ListContainers response.
TEST_F(ServiceTest, ListContainersLeavesRecordJsonOut) {
  send_frames({decision("a", true), decision("b", false)});
  v1::ListContainersRequest req;
  req.set_include_deleted(true);
  v1::ListContainersResponse list;
  auto c = ctx();
  ASSERT_TRUE(stub->ListContainers(c.get(), req, &list).ok());
  ASSERT_EQ(list.containers_size(), 2);
  for (const auto& ct : list.containers()) {
    EXPECT_TRUE(ct.record_json().empty()) << ct.id();
    EXPECT_FALSE(ct.findings().empty());
  }
  v1::GetContainerRequest g;
  g.set_id("b");
  v1::GetContainerResponse got;
  c = ctx();
  ASSERT_TRUE(stub->GetContainer(c.get(), g, &got).ok());
  EXPECT_FALSE(got.container().record_json().empty());
}

// Secret hygiene: annotation values that are not the engines' own never leave the agent.
TEST_F(ServiceTest, AnnotationSecretsAreRedacted) {
  Json annotations = {{"kubectl.kubernetes.io/last-applied-configuration", R"({"metadata":{},"password": "hunter2"})"},
                      {"io.kubernetes.cri.sandbox-name", "web-0"}};
  Json rec = decision_record("from-frame", true);
  rec["context"]["annotations"] = annotations;
  write_text(state_dir() + "/from-frame/decision.json", runguard::dump_json(rec, 2) + "\n");
  Json on_disk = decision_record("from-disk", true);
  on_disk["context"]["annotations"] = annotations;
  write_text(state_dir() + "/from-disk/decision.json", runguard::dump_json(on_disk, 2) + "\n");
  send_frames({frame::message("decision", {{"record", rec}})});
  agent->reconcile();  // picks up from-disk
  for (const char* id : {"from-frame", "from-disk"}) {
    v1::GetContainerRequest g;
    g.set_id(id);
    v1::GetContainerResponse got;
    auto c = ctx();
    ASSERT_TRUE(stub->GetContainer(c.get(), g, &got).ok()) << id;
    EXPECT_EQ(got.container().record_json().find("hunter2"), std::string::npos) << got.container().record_json();
    EXPECT_NE(got.container().record_json().find("<redacted>"), std::string::npos);
    EXPECT_NE(got.container().record_json().find("web-0"), std::string::npos);
    EXPECT_EQ(got.DebugString().find("hunter2"), std::string::npos);
  }
  v1::ListContainersRequest req;
  req.set_include_deleted(true);
  v1::ListContainersResponse list;
  auto c = ctx();
  ASSERT_TRUE(stub->ListContainers(c.get(), req, &list).ok());
  EXPECT_EQ(list.containers_size(), 2);
  EXPECT_EQ(list.SerializeAsString().find("hunter2"), std::string::npos);
}

// Regression: Finding.benchmarks was always empty.
TEST_F(ServiceTest, FindingsCarryCisAndPssItems) {
  send_frames({decision("b", false)});
  v1::GetContainerRequest g;
  g.set_id("b");
  v1::GetContainerResponse got;
  auto c = ctx();
  ASSERT_TRUE(stub->GetContainer(c.get(), g, &got).ok());
  const auto& f = got.container().findings(0);
  EXPECT_EQ(f.id(), "RG-PRIV-001");
  ASSERT_EQ(f.benchmarks_size(), 2);
  EXPECT_EQ(f.benchmarks(0), "CIS 5.5");
  EXPECT_EQ(f.benchmarks(1), "PSS baseline: Privileged Containers");
}

// Regression: an events file line with invalid UTF-8 went verbatim into Event.json, and the
// client could not parse the message.
TEST_F(ServiceTest, EventLinesThatAreNotUtf8ReachClientsRepaired) {
  std::string line = runguard::dump_json(monitor_event("c", "shell", "Notice"));
  line.insert(line.find("shell"), "\xff\xfe");
  write_text(events_path(), line + "\n");
  std::string record = runguard::dump_json(decision_record("web-9", true), 2) + "\n";
  record.insert(record.find("web-0"), "\xc3");
  write_text(state_dir() + "/web-9/decision.json", record);
  restart([](AgentOptions&) {});
  v1::WatchEventsRequest req;
  req.set_last(10);
  req.set_no_follow(true);
  auto c = ctx();
  auto reader = stub->WatchEvents(c.get(), req);
  v1::Event e;
  ASSERT_TRUE(reader->Read(&e));
  EXPECT_NE(e.output().find("\xEF\xBF\xBD\xEF\xBF\xBDshell"), std::string::npos) << e.output();
  EXPECT_TRUE(runguard::parse_json(e.json(), "json").is_ok());
  EXPECT_FALSE(reader->Read(&e));
  EXPECT_TRUE(reader->Finish().ok());
  v1::GetContainerRequest g;
  g.set_id("web-9");
  v1::GetContainerResponse got;
  c = ctx();
  grpc::Status s = stub->GetContainer(c.get(), g, &got);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_NE(got.container().record_json().find("\xEF\xBF\xBDweb-0"), std::string::npos);
}

TEST(PolicyState, EmbeddedDefaultsHaveNoFileToWrite) {
  TempDir dir;
  auto st = PolicyState::load({dir / "missing.yaml", false, ""});
  ASSERT_TRUE(st.is_ok()) << st.status().message();
  EXPECT_TRUE((*st)->current().embedded());
  EXPECT_EQ((*st)->current().digest, sha256_digest(""));
  auto r = (*st)->replace("mode: audit\n");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), runguard::Code::kNotFound);
  EXPECT_NE(r.status().message().find("--config FILE"), std::string::npos);
  EXPECT_FALSE(runguard::nsutil::path_exists(dir / "missing.yaml"));
  // The file appearing later is picked up by a reload from file.
  write_text(dir / "missing.yaml", "mode: audit\n");
  auto again = (*st)->reload_from_file();
  ASSERT_TRUE(again.is_ok());
  EXPECT_TRUE(again->changed);
  EXPECT_FALSE(again->snapshot.embedded());
}

TEST(PolicyState, SymlinkedPolicyIsNotReplaced) {
  TempDir dir;
  write_text(dir / "real.yaml", "mode: enforce\n");
  std::filesystem::create_symlink(dir / "real.yaml", dir / "policy.yaml");
  auto st = PolicyState::load({dir / "policy.yaml", true, "test"});
  ASSERT_TRUE(st.is_ok());
  auto r = (*st)->replace("mode: audit\n");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), runguard::Code::kNotFound);
  EXPECT_EQ(read_text(dir / "real.yaml"), "mode: enforce\n");
}

}  // namespace
