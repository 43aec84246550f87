// The agent's store, event model and event ring: records from decision records, bounds, seq,
// filters, priorities, replay, and slow watchers.
#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <thread>

#include "agent_test_util.h"
#include "event.h"
#include "event_ring.h"
#include "store.h"
#include "runguard/common/utf8.h"

namespace {

using namespace runguard::agent;
using rgagent_test::decision_event;
using rgagent_test::decision_record;
using rgagent_test::monitor_event;
using runguard::Json;
using runguard::repaired_utf8;
using runguard::utf8_prefix;
using runguard::valid_utf8;

Event ev(const std::string& container, const std::string& rule, const std::string& priority,
         EventKind kind = EventKind::kMonitor, size_t pad = 0) {
  Event e;
  e.kind = kind;
  e.container = container;
  e.rule = rule;
  e.priority = priority;
  e.action = "alert";
  e.json = std::string(pad, 'x');
  return e;
}

std::vector<uint64_t> seqs(const std::vector<EventPtr>& v) {
  std::vector<uint64_t> out;
  for (const auto& e : v) out.push_back(e->seq);
  return out;
}

TEST(EventModel, Rfc3339) {
  EXPECT_EQ(parse_rfc3339_ns("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339_ns("2026-11-29T08:00:00.123456789Z"), int64_t{1795939200} * 1000000000 + 123456789);
  EXPECT_EQ(parse_rfc3339_ns("2026-11-29T10:00:00.5+02:00"), int64_t{1795939200} * 1000000000 + 500000000);
  EXPECT_EQ(parse_rfc3339_ns("2026-11-29T08:00:00.1234567891234Z"), int64_t{1795939200} * 1000000000 + 123456789);
  for (const char* bad : {"", "2026-11-29", "2026-11-29T08:00:00", "2026-13-01T00:00:00Z", "2026-11-29T08:00:00.Z",
                          "2026-11-29T08:00:00Zjunk", "x026-11-29T08:00:00Z"}) {
    EXPECT_FALSE(parse_rfc3339_ns(bad)) << bad;
  }
  EXPECT_EQ(format_rfc3339_ns(int64_t{1795939200} * 1000000000 + 42), "2026-11-29T08:00:00.000000042Z");
}

// Regression: secs * 1e9 overflowed (UB) for years past 2262; such times are not times the
// agent can hold, and a line carrying one gets its receive time.
TEST(EventModel, TimesOutsideInt64NanosecondsAreRejected) {
  for (const char* bad : {"9999-12-31T23:59:59Z", "2263-01-01T00:00:00Z", "2262-04-11T23:47:17Z", "1969-12-31T23:59:59Z",
                          "0000-01-01T00:00:00Z", "1970-01-01T00:30:00+01:00"}) {
    EXPECT_FALSE(parse_rfc3339_ns(bad)) << bad;
  }
  EXPECT_EQ(parse_rfc3339_ns("2262-04-11T23:47:16.854775807Z"), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(parse_rfc3339_ns("2262-01-01T00:00:00Z"), int64_t{9214646400} * 1000000000);
  Json line = monitor_event("c", "r", "Notice");
  line["time"] = "9999-12-31T23:59:59.999999999Z";
  auto e = event_from_line(line, "", 42);
  ASSERT_TRUE(e.is_ok());
  EXPECT_EQ(e->time_ns, 42);
}

// Regression: a line kept verbatim that is not valid UTF-8 went into proto3 string fields.
TEST(EventModel, InvalidUtf8LinesAreRepaired) {
  std::string text = "{\"output\":\"bad \xff\",\"priority\":\"Notice\",\"rule\":\"r\xc3\"}";
  auto j = runguard::parse_json(text, "line");
  ASSERT_TRUE(j.is_ok()) << j.status().message();
  auto e = event_from_line(*j, text, 1);
  ASSERT_TRUE(e.is_ok());
  EXPECT_TRUE(valid_utf8(e->json)) << e->json;
  EXPECT_TRUE(valid_utf8(e->output));
  EXPECT_TRUE(valid_utf8(e->rule));
  EXPECT_EQ(e->json, runguard::dump_json(*j));
  EXPECT_NE(e->output.find("\xEF\xBF\xBD"), std::string::npos);
  // A valid line is kept as written.
  std::string ok = R"({"rule":"r",  "priority":"Notice"})";
  EXPECT_EQ(event_from_line(*runguard::parse_json(ok, "ok"), ok, 1)->json, ok);
}

TEST(EventModel, Utf8Helpers) {
  EXPECT_TRUE(valid_utf8("plain \xc3\xa9"));
  EXPECT_FALSE(valid_utf8("\xc3"));
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));  // a surrogate
  EXPECT_EQ(repaired_utf8("a\xff" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(utf8_prefix("abc", 5), "abc");
  EXPECT_EQ(utf8_prefix("ab\xc3\xa9", 3), "ab");  // never half a character
  EXPECT_EQ(utf8_prefix("ab\xc3\xa9", 4), "ab\xc3\xa9");
}

TEST(EventModel, Priorities) {
  EXPECT_EQ(priority_rank("Emergency"), 0);
  EXPECT_EQ(priority_rank("warning"), 4);
  EXPECT_EQ(priority_rank("Informational"), 6);
  EXPECT_EQ(priority_rank("Info"), 6);
  EXPECT_EQ(priority_rank("DEBUG"), 7);
  EXPECT_FALSE(priority_rank("Severe"));
  EXPECT_FALSE(priority_rank(""));
}

TEST(EventModel, MonitorLine) {
  Json line = monitor_event("c1", "Terminal shell in container", "Notice", "block");
  auto e = event_from_line(line, "the text", 7);
  ASSERT_TRUE(e.is_ok()) << e.status().message();
  EXPECT_EQ(e->kind, EventKind::kMonitor);
  EXPECT_EQ(e->container, "c1");
  EXPECT_EQ(e->rule, "Terminal shell in container");
  EXPECT_EQ(e->priority, "Notice");
  EXPECT_EQ(e->action, "block");
  EXPECT_EQ(e->json, "the text");
  EXPECT_EQ(e->time_ns, *parse_rfc3339_ns("2026-11-29T08:00:01Z"));

  // Older lines: no kind at all means monitor; a missing time means the arrival time.
  Json old = monitor_event("c2", "r", "Warning", "alert", false);
  old.erase("time");
  auto o = event_from_line(old, "", 7);
  ASSERT_TRUE(o.is_ok());
  EXPECT_EQ(o->kind, EventKind::kMonitor);
  EXPECT_EQ(o->time_ns, 7);
  EXPECT_EQ(o->json, runguard::dump_json(old));
}

TEST(EventModel, DecisionLineAndErrors) {
  auto e = event_from_line(decision_event("web-1", false), "", 0);
  ASSERT_TRUE(e.is_ok());
  EXPECT_EQ(e->kind, EventKind::kDecision);
  EXPECT_EQ(e->container, "web-1");
  EXPECT_EQ(e->action, "denied");
  EXPECT_EQ(e->priority, "Warning");

  // The nested form of older decision lines.
  Json nested = {{"rule", "runguard decision"},
                 {"priority", "Warning"},
                 {"runguard", {{"kind", "decision"}, {"container", "web-9"}, {"action", "denied"}, {"decision", {{"allowed", false}}}}}};
  auto n = event_from_line(nested, "", 0);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(n->kind, EventKind::kDecision);
  EXPECT_EQ(n->container, "web-9");
  EXPECT_EQ(n->action, "denied");
  auto nr = record_from_decision_event(nested);
  ASSERT_TRUE(nr.is_ok()) << nr.status().message();
  EXPECT_EQ(nr->id, "web-9");

  EXPECT_FALSE(event_from_line(Json::array(), "", 0).is_ok());
  Json weird = monitor_event("c", "r", "Notice");
  weird["runguard.kind"] = "telepathy";
  auto w = event_from_line(weird, "", 0);
  ASSERT_FALSE(w.is_ok());
  EXPECT_NE(w.status().message().find("telepathy"), std::string::npos);
  weird["runguard.kind"] = "dropped";  // only the agent makes those
  EXPECT_FALSE(event_from_line(weird, "", 0).is_ok());
  // Wrong types are treated as absent, never thrown.
  Json odd = {{"rule", 5}, {"priority", Json::array()}, {"runguard", "x"}, {"output_fields", 3}};
  EXPECT_TRUE(event_from_line(odd, "", 0).is_ok());
}

TEST(EventModel, Filter) {
  EventFilter f;
  f.min_priority = priority_rank("Warning");
  EXPECT_TRUE(f.matches(ev("a", "r", "Critical")));
  EXPECT_TRUE(f.matches(ev("a", "r", "warning")));
  EXPECT_FALSE(f.matches(ev("a", "r", "Notice")));
  EXPECT_FALSE(f.matches(ev("a", "r", "")));  // no priority: not "Warning and above"
  EXPECT_TRUE(f.matches(ev("", "", "", EventKind::kDropped)));  // always delivered
  f = EventFilter{};
  f.container = "a";
  f.rule = "r";
  f.kinds = {EventKind::kDecision};
  EXPECT_TRUE(f.matches(ev("a", "r", "Notice", EventKind::kDecision)));
  EXPECT_FALSE(f.matches(ev("a", "r", "Notice", EventKind::kMonitor)));
  EXPECT_FALSE(f.matches(ev("b", "r", "Notice", EventKind::kDecision)));
  EXPECT_FALSE(f.matches(ev("a", "rr", "Notice", EventKind::kDecision)));
}

// Regression (soak, issue 9): a dumped line kept up to twice its length in spare capacity for as
// long as the ring held it (9.3 kB of heap per 5.7 kB decision line), and bytes() counted only the
// length, so the ring's byte bound undercounted what runguardd's heap held.
TEST(EventModel, RingEntriesHoldNoSpareCapacity) {
  Json line = decision_event("web-1", true);
  line["output"] = std::string(5000, 'o');  // about the size of a real decision line
  std::string dumped = runguard::dump_json(line);
  for (const std::string& text : {std::string(), dumped}) {
    auto e = event_from_line(line, text, 1);
    ASSERT_TRUE(e.is_ok()) << e.status().message();
    EXPECT_EQ(e->json, dumped);
    EXPECT_EQ(e->json.capacity(), e->json.size());
    EXPECT_GE(e->bytes(), e->json.capacity() + e->output.capacity());
  }
  Event l = lifecycle_event(std::string(200, 'c'), "deleted", 1, "node");
  EXPECT_EQ(l.json.capacity(), l.json.size());
  Event d = dropped_event(3, 9, 1);
  EXPECT_EQ(d.json.capacity(), d.json.size());
}

TEST(EventRing, SeqAndCapacity) {
  EventRing ring(5);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(ring.publish(ev("c", "r", "Notice"))->seq, uint64_t(i + 1));
  EXPECT_EQ(ring.size(), 5u);
  EXPECT_EQ(ring.last_seq(), 20u);
  EXPECT_EQ(seqs(ring.replay({}, 100)), (std::vector<uint64_t>{16, 17, 18, 19, 20}));
  EXPECT_EQ(seqs(ring.replay({}, 2)), (std::vector<uint64_t>{19, 20}));
  EXPECT_TRUE(ring.replay({}, 0).empty());
}

TEST(EventRing, ByteBound) {
  EventRing ring(1000, 10000);
  for (int i = 0; i < 100; ++i) ring.publish(ev("c", "r", "Notice", EventKind::kMonitor, 1000));
  EXPECT_LT(ring.size(), 10u);
  EXPECT_GE(ring.size(), 1u);
  // One event larger than the whole budget is still kept (the newest always is).
  ring.publish(ev("c", "r", "Notice", EventKind::kMonitor, 50000));
  EXPECT_EQ(ring.size(), 1u);
}

TEST(EventRing, ReplayFilters) {
  EventRing ring(100);
  ring.publish(ev("a", "shell", "Notice"));
  ring.publish(ev("b", "shell", "Critical"));
  ring.publish(ev("a", "ptrace", "Warning"));
  ring.publish(ev("a", "runguard decision", "Notice", EventKind::kDecision));
  ring.publish(ev("a", "shell", "Debug"));
  EventFilter f;
  f.container = "a";
  EXPECT_EQ(seqs(ring.replay(f, 10)), (std::vector<uint64_t>{1, 3, 4, 5}));
  EXPECT_EQ(seqs(ring.replay(f, 2)), (std::vector<uint64_t>{4, 5}));
  f.rule = "shell";
  EXPECT_EQ(seqs(ring.replay(f, 10)), (std::vector<uint64_t>{1, 5}));
  EventFilter p;
  p.min_priority = priority_rank("Warning");
  EXPECT_EQ(seqs(ring.replay(p, 10)), (std::vector<uint64_t>{2, 3}));
  EventFilter k;
  k.kinds = {EventKind::kDecision};
  EXPECT_EQ(seqs(ring.replay(k, 10)), (std::vector<uint64_t>{4}));
}

TEST(EventRing, SubscribeReplaysThenFollowsWithoutGap) {
  EventRing ring(100);
  for (int i = 0; i < 3; ++i) ring.publish(ev("c", "r", "Notice"));
  auto sub = ring.subscribe({}, 2);
  EXPECT_EQ(ring.watchers(), 1u);
  ring.publish(ev("c", "r", "Notice"));
  ring.publish(ev("other", "r", "Notice"));
  EXPECT_EQ(seqs(sub->next(std::chrono::milliseconds(100))), (std::vector<uint64_t>{2, 3, 4, 5}));
  EXPECT_TRUE(sub->next(std::chrono::milliseconds(10)).empty());

  EventFilter only_c;
  only_c.container = "c";
  auto sub2 = ring.subscribe(only_c, 0);
  std::thread producer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ring.publish(ev("other", "r", "Notice"));
    ring.publish(ev("c", "r", "Notice"));
  });
  auto got = sub2->next(std::chrono::milliseconds(2000));
  producer.join();
  if (got.size() < 1) got = sub2->next(std::chrono::milliseconds(100));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]->seq, 7u);
  sub.reset();
  sub2.reset();
  EXPECT_EQ(ring.watchers(), 0u);
}

TEST(EventRing, SlowSubscriberIsToldWhatItLost) {
  EventRing ring(100);
  auto sub = ring.subscribe({}, 0, 4);
  for (int i = 0; i < 10; ++i) ring.publish(ev("c", "r", "Notice"));
  auto got = sub->next(std::chrono::milliseconds(10));
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0]->kind, EventKind::kDropped);
  EXPECT_EQ(got[0]->seq, 6u);  // the last one dropped: the stream stays in seq order
  EXPECT_NE(got[0]->output.find("6 events dropped"), std::string::npos) << got[0]->output;
  EXPECT_NE(got[0]->json.find("\"dropped\":6"), std::string::npos) << got[0]->json;
  EXPECT_EQ(seqs({got.begin() + 1, got.end()}), (std::vector<uint64_t>{7, 8, 9, 10}));
  EXPECT_EQ(ring.dropped_total(), 6u);
  // Caught up: no more dropped events.
  ring.publish(ev("c", "r", "Notice"));
  got = sub->next(std::chrono::milliseconds(10));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]->seq, 11u);
}

TEST(EventRing, ProducersNeverWaitForAStalledWatcher) {
  EventRing ring(1000);
  auto stalled = ring.subscribe({}, 0);  // never read
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100000; ++i) ring.publish(ev("c", "r", "Notice"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  auto got = stalled->next(std::chrono::milliseconds(0));
  ASSERT_EQ(got.size(), kDefaultWatcherQueue + 1);
  EXPECT_EQ(got[0]->kind, EventKind::kDropped);
  EXPECT_EQ(got.back()->seq, 100000u);
}

TEST(EventRing, ReplayLargerThanTheQueueIsNotDropped) {
  EventRing ring(100);
  for (int i = 0; i < 50; ++i) ring.publish(ev("c", "r", "Notice"));
  auto sub = ring.subscribe({}, 50, 4);
  auto got = sub->next(std::chrono::milliseconds(10));
  ASSERT_EQ(got.size(), 50u);
  EXPECT_EQ(got.front()->seq, 1u);
}

// Regression: the caps raised to hold a replay stayed raised, so a watcher that stopped
// reading after its replay could pin a replay's worth of events (up to the ring's 128 MiB).
TEST(EventRing, ReplayCapsAreRestoredOnceTheReplayIsRead) {
  EventRing ring(100);
  for (int i = 0; i < 50; ++i) ring.publish(ev("c", "r", "Notice"));
  auto sub = ring.subscribe({}, 50, 4, 1u << 20);
  ring.publish(ev("c", "r", "Notice"));  // before the first read: queued behind the replay, nothing lost
  auto got = sub->next(std::chrono::milliseconds(10));
  ASSERT_EQ(got.size(), 51u);
  EXPECT_EQ(got.front()->seq, 1u);
  EXPECT_EQ(got.back()->seq, 51u);
  for (int i = 0; i < 20; ++i) ring.publish(ev("c", "r", "Notice"));
  got = sub->next(std::chrono::milliseconds(10));
  ASSERT_EQ(got.size(), 5u);  // the normal cap again: 4 events and the "dropped" notice
  EXPECT_EQ(got[0]->kind, EventKind::kDropped);
  EXPECT_EQ(got.back()->seq, 71u);

  // The byte cap as well.
  EventRing big(100);
  for (int i = 0; i < 20; ++i) big.publish(ev("c", "r", "Notice", EventKind::kMonitor, 10000));
  auto s2 = big.subscribe({}, 20, 1000, 25000);
  EXPECT_EQ(s2->next(std::chrono::milliseconds(10)).size(), 20u);
  for (int i = 0; i < 10; ++i) big.publish(ev("c", "r", "Notice", EventKind::kMonitor, 10000));
  got = s2->next(std::chrono::milliseconds(10));
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got[0]->kind, EventKind::kDropped);
  EXPECT_LE(got.size(), 3u);
}

TEST(EventRing, CloseEndsSubscriptions) {
  EventRing ring(10);
  ring.publish(ev("c", "r", "Notice"));
  auto sub = ring.subscribe({}, 1);
  std::thread closer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    ring.close();
  });
  EXPECT_EQ(sub->next(std::chrono::milliseconds(1000)).size(), 1u);  // what was queued
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(sub->next(std::chrono::milliseconds(5000)).empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  closer.join();
  EXPECT_TRUE(sub->closed());
  EXPECT_TRUE(ring.subscribe({}, 0)->closed());
}

TEST(Records, FromDecisionRecord) {
  Json j = decision_record("web-1", true, "shop");
  j["attestation"] = {{"verdict", "pass"}};
  auto r = record_from_json(j, "TEXT");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->id, "web-1");
  EXPECT_EQ(r->state, "created");
  EXPECT_TRUE(r->allowed);
  EXPECT_EQ(r->image, "docker.io/library/nginx:1.27");
  EXPECT_EQ(r->image_digest, "sha256:" + std::string(64, 'a'));
  EXPECT_EQ(r->engine, "containerd-cri");
  EXPECT_EQ(r->k8s_namespace, "shop");
  EXPECT_EQ(r->pod, "web-0");
  EXPECT_EQ(r->container_name, "app");
  EXPECT_EQ(r->sandbox_id, "sb1");
  EXPECT_EQ(r->container_type, "container");
  EXPECT_EQ(r->mode, "enforce");
  EXPECT_EQ(r->override_name, "");
  EXPECT_EQ(r->policy_source, "/etc/runguard/policy.yaml");
  EXPECT_EQ(r->command, "create");
  EXPECT_EQ(r->attestation_verdict, "pass");
  EXPECT_EQ(r->decided_at_ns, *parse_rfc3339_ns("2026-11-29T08:00:00.000000001Z"));
  ASSERT_EQ(r->findings.size(), 1u);
  EXPECT_EQ(r->findings[0].id, "RG-CAPS-001");
  ASSERT_EQ(r->mutations.size(), 1u);
  EXPECT_EQ(r->mutations[0].value_json, "{\"bounding\":[]}");
  EXPECT_TRUE(r->mutations[0].applied);
  EXPECT_EQ(r->record_json, "TEXT");
  EXPECT_TRUE(r->denying_controls().empty());

  auto d = record_from_json(decision_record("web-2", false), "");
  ASSERT_TRUE(d.is_ok());
  EXPECT_EQ(d->state, "denied");
  EXPECT_EQ(d->denying_controls(), (std::vector<std::string>{"RG-PRIV-001", "RG-HOSTNS-001"}));
}

TEST(Records, HostileRecordsAreRefused) {
  Json bad_id = decision_record("x", true);
  bad_id["id"] = "../../etc";
  auto r = record_from_json(bad_id, "");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("\"id\""), std::string::npos) << r.status().message();
  Json no_decision = decision_record("x", true);
  no_decision.erase("decision");
  EXPECT_NE(record_from_json(no_decision, "").status().message().find("decision"), std::string::npos);
  Json bad_allowed = decision_record("x", true);
  bad_allowed["decision"]["allowed"] = "yes";
  EXPECT_FALSE(record_from_json(bad_allowed, "").is_ok());
  EXPECT_FALSE(record_from_json(Json("string"), "").is_ok());
  Json junk_lists = decision_record("x", true);
  junk_lists["decision"]["findings"] = {1, "two", nullptr};
  junk_lists["context"] = 7;
  auto j = record_from_json(junk_lists, "");
  ASSERT_TRUE(j.is_ok());
  EXPECT_TRUE(j->findings.empty());
}

// Secret hygiene: annotation values that are not the engines' own are redacted, from frames
// (no text) and from disk (text) alike.
TEST(Records, AnnotationValuesAreRedacted) {
  Json j = decision_record("web-1", true);
  j["context"]["annotations"] = {
      {"kubectl.kubernetes.io/last-applied-configuration", R"({"env":[{"name":"DB","value":"hunter2"}],"password": "hunter2"})"},
      {"io.kubernetes.cri.sandbox-name", "web-0"},
      {"io.kubernetes.cri.pod-annotations", R"({"token":"hunter2"})"},
      {"io.kubernetes.cri-o.Annotations", R"({"token":"hunter2"})"},
      {"io.kubernetes.cri-o.ContainerType", "container"},
      {"io.containerd.image.name", "nginx"},
      {"org.opencontainers.image.source", "https://example.com/src"},
      {"io.podman.annotations.autoremove", "TRUE"},
      {"example.com/api-key", "hunter2"}};
  for (const std::string& text : {std::string(), runguard::dump_json(j, 2) + "\n"}) {
    auto r = record_from_json(j, text);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ(r->record_json.find("hunter2"), std::string::npos) << r->record_json;
    auto back = runguard::parse_json(r->record_json, "record_json");
    ASSERT_TRUE(back.is_ok());
    const Json& a = (*back)["context"]["annotations"];
    EXPECT_EQ(a["kubectl.kubernetes.io/last-applied-configuration"], kRedacted);
    EXPECT_EQ(a["io.kubernetes.cri.pod-annotations"], kRedacted);
    EXPECT_EQ(a["io.kubernetes.cri-o.Annotations"], kRedacted);
    EXPECT_EQ(a["example.com/api-key"], kRedacted);
    EXPECT_EQ(a["io.kubernetes.cri.sandbox-name"], "web-0");
    EXPECT_EQ(a["io.kubernetes.cri-o.ContainerType"], "container");
    EXPECT_EQ(a["io.containerd.image.name"], "nginx");
    EXPECT_EQ(a["org.opencontainers.image.source"], "https://example.com/src");
    EXPECT_EQ(a["io.podman.annotations.autoremove"], "TRUE");
    EXPECT_EQ((*back)["decision"], j["decision"]);  // the rest is untouched
    if (!text.empty()) {
      EXPECT_NE(r->record_json.find("\n  \"context\""), std::string::npos);  // still laid out like decision.json
    }
  }
}

// Regression: Finding.benchmarks was always empty; the catalog knows them by finding id.
TEST(Records, FindingsCarryTheCatalogsBenchmarks) {
  EXPECT_EQ(finding_benchmarks("RG-PRIV-001", ""), (std::vector<std::string>{"CIS 5.5", "PSS baseline: Privileged Containers"}));
  EXPECT_EQ(finding_benchmarks("RG-RES-004", ""), finding_benchmarks("RG-RES-001", ""));  // the id's family
  EXPECT_EQ(finding_benchmarks("RG-USER-002", "").front(), "CIS 4.1");  // not RG-USERNS-
  EXPECT_EQ(finding_benchmarks("X-1", "readonlyRootfs"), (std::vector<std::string>{"CIS 5.13"}));  // the control name
  EXPECT_TRUE(finding_benchmarks("X-1", "nope").empty());
  auto d = record_from_json(decision_record("web-2", false), "");
  ASSERT_TRUE(d.is_ok());
  ASSERT_EQ(d->findings.size(), 3u);
  EXPECT_EQ(d->findings[0].benchmarks, (std::vector<std::string>{"CIS 5.5", "PSS baseline: Privileged Containers"}));
  EXPECT_EQ(d->findings[1].benchmarks.front(), "CIS 5.10");
  // Benchmarks in the record win.
  Json j = decision_record("web-3", false);
  j["decision"]["findings"][0]["benchmarks"] = {"mine"};
  EXPECT_EQ(record_from_json(j, "")->findings[0].benchmarks, (std::vector<std::string>{"mine"}));
}

TEST(Records, DiskTextThatIsNotUtf8IsSerialisedAgain) {
  std::string text = runguard::dump_json(decision_record("web-1", true), 2) + "\n";
  text.insert(text.find("web-0"), "\xff");
  auto j = runguard::parse_json(text, "decision.json");
  ASSERT_TRUE(j.is_ok());
  auto r = record_from_json(*j, text);
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(valid_utf8(r->record_json));
  EXPECT_NE(r->record_json.find("\xEF\xBF\xBDweb-0"), std::string::npos);
}

TEST(Records, DeniedFromDecisionEvent) {
  auto r = record_from_decision_event(decision_event("web-3", false, "shop"));
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->state, "denied");
  EXPECT_EQ(r->k8s_namespace, "shop");
  EXPECT_EQ(r->image, "docker.io/library/nginx:1.27");
  EXPECT_EQ(r->image_digest, "sha256:" + std::string(64, 'a'));
  EXPECT_EQ(r->pod, "web-0");
  EXPECT_EQ(r->container_name, "app");
  EXPECT_EQ(r->policy_source, "/etc/runguard/policy.yaml");
  EXPECT_EQ(r->denying_controls().size(), 2u);
  EXPECT_FALSE(record_from_decision_event(decision_event("web-3", true)).is_ok());
  EXPECT_FALSE(record_from_decision_event(monitor_event("c", "r", "Notice")).is_ok());
}

ContainerRecord rec(const std::string& id, bool allowed, const std::string& ns = "default", int64_t t = 1) {
  auto r = record_from_json(decision_record(id, allowed, ns, format_rfc3339_ns(t)), "");
  EXPECT_TRUE(r.is_ok());
  return *r;
}

TEST(Store, PutGetListAndStates) {
  Store s;
  s.put(rec("b", true, "shop", 2));
  s.put(rec("a", true, "default", 3));
  s.put(rec("c", false, "shop", 1));
  EXPECT_EQ(s.counts().created, 2u);
  EXPECT_EQ(s.counts().denied, 1u);
  EXPECT_EQ(s.counts().known(), 3u);
  EXPECT_FALSE(s.get("nope"));
  ASSERT_TRUE(s.get("a"));
  EXPECT_EQ(s.get("a")->state, "created");

  auto all = s.list(false, "");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].id, "c");  // by decided_at
  EXPECT_EQ(all[2].id, "a");
  EXPECT_EQ(s.list(false, "shop").size(), 2u);

  EXPECT_TRUE(s.mark_deleted("a", 10));
  EXPECT_FALSE(s.mark_deleted("a", 11));  // already
  EXPECT_FALSE(s.mark_deleted("c", 11));  // denied containers are never "deleted"
  EXPECT_EQ(s.get("a")->state, "deleted");
  EXPECT_EQ(s.list(false, "").size(), 2u);
  EXPECT_EQ(s.list(true, "").size(), 3u);
  EXPECT_EQ(s.counts().known(), 2u);
  EXPECT_EQ(s.live().size(), 1u);
}

TEST(Store, ListLeavesRecordJsonOutGetHasIt) {
  Store s;
  s.put(rec("a", true));
  s.put(rec("b", false));
  for (const auto& r : s.list(true, "")) EXPECT_TRUE(r.record_json.empty()) << r.id;
  EXPECT_FALSE(s.get("a")->record_json.empty());
  EXPECT_FALSE(s.get("b")->record_json.empty());
}

TEST(Store, SameDecisionAgainKeepsMonitorCounts) {
  Store s;
  s.put(rec("a", true));
  EXPECT_TRUE(s.set_monitor("a", 1234, true));
  EXPECT_TRUE(s.count_monitor_event("a"));
  EXPECT_TRUE(s.count_monitor_event("a"));
  EXPECT_FALSE(s.count_monitor_event("zzz"));
  ContainerRecord again = rec("a", true);
  again.record_json = "pretty printed on disk";
  s.put(again);
  EXPECT_EQ(s.get("a")->monitor_events, 2u);
  EXPECT_TRUE(s.get("a")->monitored);
  EXPECT_EQ(s.counts().monitored, 1u);
  s.put(rec("a", true, "default", 99));  // a new container under the same id
  EXPECT_EQ(s.get("a")->monitor_events, 0u);
  EXPECT_FALSE(s.get("a")->monitored);
}

TEST(Store, DeniedAndDeletedAreBounded) {
  Store s(3, 2);
  for (int i = 0; i < 5; ++i) s.put(rec("d" + std::to_string(i), false));
  EXPECT_EQ(s.counts().denied, 3u);
  EXPECT_FALSE(s.get("d0"));
  EXPECT_FALSE(s.get("d1"));
  EXPECT_TRUE(s.get("d4"));
  for (int i = 0; i < 4; ++i) {
    s.put(rec("l" + std::to_string(i), true));
    EXPECT_TRUE(s.mark_deleted("l" + std::to_string(i), i));
  }
  EXPECT_EQ(s.counts().deleted, 2u);
  EXPECT_FALSE(s.get("l1"));
  EXPECT_TRUE(s.get("l3"));
  // Live records are never evicted.
  for (int i = 0; i < 50; ++i) s.put(rec("live" + std::to_string(i), true));
  EXPECT_EQ(s.counts().created, 50u);
}

TEST(Store, FlappingIdKeepsCountsRight) {
  Store s(3, 3);
  for (int i = 0; i < 3000; ++i) {
    s.put(rec("flap", false, "default", i));
    s.put(rec("flap", true, "default", i));
    if (i % 2 == 0) {
      EXPECT_TRUE(s.mark_deleted("flap", i));
    }
  }
  auto c = s.counts();
  EXPECT_EQ(c.created + c.denied + c.deleted, 1u);
  s.put(rec("x1", false));
  s.put(rec("x2", false));
  s.put(rec("x3", false));
  s.put(rec("x4", false));
  EXPECT_EQ(s.counts().denied, 3u);
  EXPECT_TRUE(s.get("flap"));
}

TEST(Store, ArchivedRecordsAreBoundedInBytes) {
  Store s(100, 100, 1000);
  auto big = [](const std::string& id, bool allowed, int64_t t) {
    ContainerRecord r = rec(id, allowed, "default", t);
    r.record_json = std::string(400, 'x');
    return r;
  };
  s.put(big("old-denied", false, 1));
  s.put(big("live", true, 2));
  EXPECT_TRUE(s.mark_deleted("live", 3));
  s.put(big("new-denied", false, 4));  // 1200 bytes archived: the oldest goes
  EXPECT_FALSE(s.get("old-denied"));
  EXPECT_TRUE(s.get("live"));
  EXPECT_TRUE(s.get("new-denied"));
  for (int i = 0; i < 10; ++i) s.put(big("live" + std::to_string(i), true, 10 + i));  // live ones are never counted
  EXPECT_EQ(s.counts().created, 10u);
  EXPECT_EQ(s.counts().deleted + s.counts().denied, 2u);
}

TEST(Store, PutIfAbsentAndEraseIf) {
  Store s;
  EXPECT_TRUE(s.put_if_absent(rec("a", false)));
  EXPECT_FALSE(s.put_if_absent(rec("a", true)));
  EXPECT_EQ(s.get("a")->state, "denied");
  EXPECT_FALSE(s.erase_if("a", "created"));
  EXPECT_TRUE(s.erase_if("a", "denied"));
  EXPECT_FALSE(s.get("a"));
  EXPECT_EQ(s.counts().denied, 0u);
}

}  // namespace
