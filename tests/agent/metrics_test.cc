// The agent's Prometheus exposition: exact rendering of every family, label escaping, the
// histogram's cumulative buckets, the per-family series cap, and a line-by-line parse check.

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runguard/agent/metrics.h"

namespace {

using runguard::Code;
using runguard::agent::kMaxSeriesPerFamily;
using runguard::agent::Metrics;
using runguard::agent::notify_round_trip_buckets;

// The exposition of a registry nothing has touched yet.
const char* kFresh =
    "# HELP runguard_agent_up 1 while runguardd is serving.\n"
    "# TYPE runguard_agent_up gauge\n"
    "runguard_agent_up 1\n"
    "# HELP runguard_agent_start_time_seconds When runguardd started, in seconds since the Unix epoch.\n"
    "# TYPE runguard_agent_start_time_seconds gauge\n"
    "# HELP runguard_policy_loaded_timestamp_seconds When the policy in force was loaded, in seconds since the Unix epoch.\n"
    "# TYPE runguard_policy_loaded_timestamp_seconds gauge\n"
    "# HELP runguard_containers_created_total Containers runguard allowed to be created, by engine.\n"
    "# TYPE runguard_containers_created_total counter\n"
    "# HELP runguard_containers_denied_total Containers runguard refused, one count per denying control id.\n"
    "# TYPE runguard_containers_denied_total counter\n"
    "# HELP runguard_findings_total Policy findings in decision records, by control id and action.\n"
    "# TYPE runguard_findings_total counter\n"
    "# HELP runguard_attestation_verdicts_total Image attestation verdicts in decision records.\n"
    "# TYPE runguard_attestation_verdicts_total counter\n"
    "# HELP runguard_monitor_events_total Runtime monitor rule matches, by rule and action.\n"
    "# TYPE runguard_monitor_events_total counter\n"
    "# HELP runguard_monitor_notify_round_trip_seconds Seccomp notification round trip in the runtime monitors "
    "(notification received to answer sent).\n"
    "# TYPE runguard_monitor_notify_round_trip_seconds histogram\n"
    "runguard_monitor_notify_round_trip_seconds_bucket{le=\"5e-06\"} 0\n"
    "runguard_monitor_notify_round_trip_seconds_bucket{le=\"1e-05\"} 0\n"
    "runguard_monitor_notify_round_trip_seconds_bucket{le=\"2.5e-05\"} 0\n"
    "runguard_monitor_notify_round_trip_seconds_bucket{le=\"5e-05\"} 0\n"
    "runguard_monitor_notify_round_trip_seconds_bucket{le=\"0.0001\"} 0\n"
    "runguard_monitor_notify_round_trip_seconds_bucket{le=\"0.00025\"} 0\n"
    "runguard_monitor_notify_round_trip_seconds_bucket{le=\"0.0005\"} 0\n"
    "runguard_monitor_notify_round_trip_seconds_bucket{le=\"0.001\"} 0\n"
    "runguard_monitor_notify_round_trip_seconds_bucket{le=\"0.0025\"} 0\n"
    "runguard_monitor_notify_round_trip_seconds_bucket{le=\"0.01\"} 0\n"
    "runguard_monitor_notify_round_trip_seconds_bucket{le=\"0.1\"} 0\n"
    "runguard_monitor_notify_round_trip_seconds_bucket{le=\"+Inf\"} 0\n"
    "runguard_monitor_notify_round_trip_seconds_sum 0\n"
    "runguard_monitor_notify_round_trip_seconds_count 0\n"
    "# HELP runguard_containers_known Containers the agent holds a decision record for.\n"
    "# TYPE runguard_containers_known gauge\n"
    "# HELP runguard_containers_monitored Containers with a live runtime monitor.\n"
    "# TYPE runguard_containers_monitored gauge\n"
    "# HELP runguard_events_ring_size Events held in the agent's replay ring.\n"
    "# TYPE runguard_events_ring_size gauge\n"
    "# HELP runguard_internal_frames_total Frames received on the internal socket, by op.\n"
    "# TYPE runguard_internal_frames_total counter\n"
    "# HELP runguard_internal_bad_frames_total Malformed frames on the internal socket (the connection was closed).\n"
    "# TYPE runguard_internal_bad_frames_total counter\n"
    "runguard_internal_bad_frames_total 0\n"
    "# HELP runguard_digest_lookups_total Image digest lookups, by result (hit, miss, error).\n"
    "# TYPE runguard_digest_lookups_total counter\n"
    "# HELP runguard_secret_fetches_total secrets.fetch requests, by result (ok, denied, not_found, unavailable, invalid).\n"
    "# TYPE runguard_secret_fetches_total counter\n"
    "# HELP runguard_secret_leases Vault leases runguardd renews for containers' secret files.\n"
    "# TYPE runguard_secret_leases gauge\n"
    "# HELP runguard_secret_lease_renewals_total Vault lease renewals, by result (ok, error).\n"
    "# TYPE runguard_secret_lease_renewals_total counter\n"
    "# HELP runguard_secret_refreshes_total Containers' secret files re-fetched and rewritten, by result (ok, error).\n"
    "# TYPE runguard_secret_refreshes_total counter\n"
    "# HELP runguard_secret_revocations_total Vault leases revoked, by result (ok, error); one count per lease.\n"
    "# TYPE runguard_secret_revocations_total counter\n";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The lines of one family's samples (HELP/TYPE excluded), in order.
std::vector<std::string> samples(const std::string& text, const std::string& family) {
  std::vector<std::string> out;
  for (const auto& l : lines_of(text)) {
    if (l.rfind(family, 0) == 0 && (l.size() == family.size() || l[family.size()] == '{' || l[family.size()] == ' ' ||
                                    l[family.size()] == '_')) {
      out.push_back(l);
    }
  }
  return out;
}

// Text format 0.0.4: every line is a comment (HELP/TYPE) or `name{labels} value`, label values
// quoted with only \\, \" and \n escapes; each family's TYPE comes before its samples, once.
void expect_parses(const std::string& text) {
  static const std::regex sample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*\})? (NaN|[+-]Inf|-?[0-9]+(\.[0-9]+)?(e[+-][0-9]+)?)$)");
  static const std::regex help(R"(^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$)");
  static const std::regex type(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  ASSERT_FALSE(text.empty());
  ASSERT_EQ(text.back(), '\n');
  std::set<std::string> typed;
  for (const auto& l : lines_of(text)) {
    std::smatch m;
    if (std::regex_match(l, m, type)) {
      EXPECT_TRUE(typed.insert(m[1]).second) << "TYPE twice: " << l;
    } else if (!std::regex_match(l, help)) {
      ASSERT_TRUE(std::regex_match(l, m, sample)) << "not a sample line: " << l;
      std::string name = m[1];
      bool known = typed.count(name) != 0;
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        std::string s = suffix;
        if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
          known = known || typed.count(name.substr(0, name.size() - s.size())) != 0;
        }
      }
      EXPECT_TRUE(known) << "sample before its TYPE: " << l;
    }
  }
}

TEST(Metrics, FreshRegistryDeclaresEveryFamily) {
  Metrics m;
  EXPECT_EQ(m.render(), kFresh);
  expect_parses(m.render());
}

TEST(Metrics, CountersAndGaugesRenderSortedByLabels) {
  Metrics m;
  m.add("runguard_findings_total", {{"control", "RG-CAPS-001"}, {"action", "enforce"}});
  m.add("runguard_findings_total", {{"control", "RG-CAPS-001"}, {"action", "enforce"}}, 2);
  m.add("runguard_findings_total", {{"control", "RG-PRIV-001"}, {"action", "deny"}});
  m.add("runguard_findings_total", {{"control", "RG-CAPS-001"}, {"action", "audit"}});
  m.add("runguard_containers_created_total", {{"engine", "podman"}});
  m.add("runguard_containers_created_total", {{"engine", "containerd-cri"}}, 5);
  m.set("runguard_containers_known", {}, 7);
  m.set("runguard_containers_known", {}, 6);
  m.set("runguard_agent_start_time_seconds", {}, 1764403200.25);
  m.set("runguard_policy_loaded_timestamp_seconds", {}, 1764403200);
  std::string out = m.render();
  EXPECT_EQ(samples(out, "runguard_findings_total"),
            (std::vector<std::string>{R"(runguard_findings_total{action="audit",control="RG-CAPS-001"} 1)",
                                      R"(runguard_findings_total{action="deny",control="RG-PRIV-001"} 1)",
                                      R"(runguard_findings_total{action="enforce",control="RG-CAPS-001"} 3)"}));
  EXPECT_EQ(samples(out, "runguard_containers_created_total"),
            (std::vector<std::string>{R"(runguard_containers_created_total{engine="containerd-cri"} 5)",
                                      R"(runguard_containers_created_total{engine="podman"} 1)"}));
  EXPECT_EQ(samples(out, "runguard_containers_known"), (std::vector<std::string>{"runguard_containers_known 6"}));
  EXPECT_EQ(samples(out, "runguard_agent_start_time_seconds"),
            (std::vector<std::string>{"runguard_agent_start_time_seconds 1.76440320025e+09"}));
  EXPECT_EQ(samples(out, "runguard_policy_loaded_timestamp_seconds"),
            (std::vector<std::string>{"runguard_policy_loaded_timestamp_seconds 1764403200"}));
  // The family's HELP and TYPE come right before its samples.
  size_t type = out.find("# TYPE runguard_findings_total counter\n");
  ASSERT_NE(type, std::string::npos);
  EXPECT_EQ(out.find("runguard_findings_total{"), type + std::string("# TYPE runguard_findings_total counter\n").size());
  expect_parses(out);
  EXPECT_EQ(m.render(), out) << "rendering is stable";
}

TEST(Metrics, LabelValuesAreEscaped) {
  Metrics m;
  m.add("runguard_monitor_events_total", {{"rule", "a \"quoted\" back\\slash\nnew line"}, {"action", "block"}});
  std::string out = m.render();
  EXPECT_EQ(samples(out, "runguard_monitor_events_total"),
            (std::vector<std::string>{
                R"(runguard_monitor_events_total{action="block",rule="a \"quoted\" back\\slash\nnew line"} 1)"}));
  expect_parses(out);
}

// Regression: label values were unbounded (rule names come from frames of up to 1 MiB), so
// 1000 series could hold a gigabyte.
TEST(Metrics, LabelValuesAreCappedAtACharacterBoundary) {
  Metrics m;
  std::string huge(1u << 20, 'r');
  m.add("runguard_monitor_events_total", {{"rule", huge}, {"action", "alert"}});
  m.add("runguard_monitor_events_total", {{"rule", huge + "-other-tail"}, {"action", "alert"}});  // same first 128 bytes
  // 127 ASCII bytes then a 2-byte character that would straddle byte 128.
  m.add("runguard_containers_denied_total", {{"control", std::string(127, 'c') + "\xc3\xa9" + "tail"}});
  m.add("runguard_containers_created_total", {{"engine", std::string(128, 'e')}});  // exactly the cap: kept whole
  m.add("runguard_attestation_verdicts_total", {{"verdict", "bad \xff byte"}});
  std::string out = m.render();
  EXPECT_LT(out.size(), 8192u);
  EXPECT_EQ(samples(out, "runguard_monitor_events_total"),
            (std::vector<std::string>{"runguard_monitor_events_total{action=\"alert\",rule=\"" + std::string(128, 'r') +
                                      "\xE2\x80\xA6\"} 2"}));
  EXPECT_EQ(samples(out, "runguard_containers_denied_total"),
            (std::vector<std::string>{"runguard_containers_denied_total{control=\"" + std::string(127, 'c') + "\xE2\x80\xA6\"} 1"}));
  EXPECT_EQ(samples(out, "runguard_containers_created_total"),
            (std::vector<std::string>{"runguard_containers_created_total{engine=\"" + std::string(128, 'e') + "\"} 1"}));
  EXPECT_EQ(samples(out, "runguard_attestation_verdicts_total"),
            (std::vector<std::string>{"runguard_attestation_verdicts_total{verdict=\"bad \xEF\xBF\xBD byte\"} 1"}));
  expect_parses(out);
}

TEST(Metrics, BadLabelNamesAreMadeValid) {
  Metrics m;
  m.add("runguard_internal_frames_total", {{"op-name", "x"}, {"__reserved", "y"}, {"9lives", "z"}});
  std::string out = m.render();
  EXPECT_EQ(samples(out, "runguard_internal_frames_total"),
            (std::vector<std::string>{R"(runguard_internal_frames_total{_lives="z",op_name="x",x__reserved="y"} 1)"}));
  expect_parses(out);
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Metrics m;
  std::vector<uint64_t> counts(notify_round_trip_buckets().size() + 1, 0);
  counts[0] = 1;   // <= 5us
  counts[4] = 3;   // <= 100us
  counts[11] = 2;  // +Inf
  ASSERT_TRUE(m.merge_notify_histogram(counts, 0.5).is_ok());
  counts.assign(counts.size(), 0);
  counts[4] = 1;
  ASSERT_TRUE(m.merge_notify_histogram(counts, 0.25).is_ok());
  std::string out = m.render();
  std::string f = "runguard_monitor_notify_round_trip_seconds";
  EXPECT_EQ(samples(out, f), (std::vector<std::string>{
                                 f + "_bucket{le=\"5e-06\"} 1",   f + "_bucket{le=\"1e-05\"} 1",
                                 f + "_bucket{le=\"2.5e-05\"} 1", f + "_bucket{le=\"5e-05\"} 1",
                                 f + "_bucket{le=\"0.0001\"} 5",  f + "_bucket{le=\"0.00025\"} 5",
                                 f + "_bucket{le=\"0.0005\"} 5",  f + "_bucket{le=\"0.001\"} 5",
                                 f + "_bucket{le=\"0.0025\"} 5",  f + "_bucket{le=\"0.01\"} 5",
                                 f + "_bucket{le=\"0.1\"} 5",     f + "_bucket{le=\"+Inf\"} 7",
                                 f + "_sum 0.75",                 f + "_count 7",
                             }));
  expect_parses(out);
}

TEST(Metrics, HistogramRefusesMismatchedDeltas) {
  Metrics m;
  auto s = m.merge_notify_histogram({1, 2, 3}, 0.1);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("expected 12"), std::string::npos) << s.message();
  std::vector<uint64_t> ok(notify_round_trip_buckets().size() + 1, 1);
  EXPECT_EQ(m.merge_notify_histogram(ok, -1).code(), Code::kInvalidArgument);
  EXPECT_EQ(m.merge_notify_histogram(ok, std::numeric_limits<double>::quiet_NaN()).code(), Code::kInvalidArgument);
  EXPECT_EQ(m.render(), kFresh) << "a refused delta changes nothing";
}

TEST(Metrics, SeriesPerFamilyAreCappedWithOther) {
  Metrics m;
  for (size_t i = 0; i < kMaxSeriesPerFamily + 500; ++i) {
    m.add("runguard_monitor_events_total", {{"rule", "rule " + std::to_string(i)}, {"action", "alert"}});
  }
  // An existing series keeps counting after the cap is reached.
  m.add("runguard_monitor_events_total", {{"rule", "rule 0"}, {"action", "alert"}}, 10);
  std::string out = m.render();
  auto s = samples(out, "runguard_monitor_events_total");
  EXPECT_EQ(s.size(), kMaxSeriesPerFamily);
  EXPECT_NE(std::find(s.begin(), s.end(), R"(runguard_monitor_events_total{action="other",rule="other"} 501)"), s.end());
  EXPECT_NE(std::find(s.begin(), s.end(), R"(runguard_monitor_events_total{action="alert",rule="rule 0"} 11)"), s.end());
  expect_parses(out);
}

TEST(Metrics, GaugesValuesRenderLikePrometheusClients) {
  Metrics m;
  auto gauge = [&](double v) {
    m.set("runguard_events_ring_size", {}, v);
    auto s = samples(m.render(), "runguard_events_ring_size");
    return s.empty() ? std::string() : s[0].substr(std::string("runguard_events_ring_size ").size());
  };
  EXPECT_EQ(gauge(0), "0");
  EXPECT_EQ(gauge(42), "42");
  EXPECT_EQ(gauge(-3), "-3");
  EXPECT_EQ(gauge(0.5), "0.5");
  EXPECT_EQ(gauge(0.0001), "0.0001");
  EXPECT_EQ(gauge(0.00001234), "1.234e-05");
  EXPECT_EQ(gauge(123.456), "123.456");
  EXPECT_EQ(gauge(1e21), "1e+21");
  EXPECT_EQ(gauge(1e14), "100000000000000");
  EXPECT_EQ(gauge(1e15), "1e+15");
  EXPECT_EQ(gauge(1234567.5), "1.2345675e+06");
  EXPECT_EQ(gauge(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(gauge(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(gauge(std::numeric_limits<double>::quiet_NaN()), "NaN");
  expect_parses(m.render());
}

TEST(Metrics, AddOnAGaugeIncrementsSetOnACounterIsIgnored) {
  Metrics m;
  m.set("runguard_containers_monitored", {}, 2);
  m.add("runguard_containers_monitored", {}, 3);
  m.set("runguard_internal_bad_frames_total", {}, 99);
  std::string out = m.render();
  EXPECT_EQ(samples(out, "runguard_containers_monitored"), (std::vector<std::string>{"runguard_containers_monitored 5"}));
  EXPECT_EQ(samples(out, "runguard_internal_bad_frames_total"),
            (std::vector<std::string>{"runguard_internal_bad_frames_total 0"}));
}

TEST(Metrics, UndeclaredNamesAppearAfterTheDeclaredFamilies) {
  Metrics m;
  m.add("runguard_typo_total", {{"x", "1"}});
  m.add("not a metric name", {});
  std::string out = m.render();
  EXPECT_EQ(out.rfind(kFresh, 0), 0u) << "declared families first, unchanged";
  EXPECT_NE(out.find("# TYPE runguard_typo_total counter\nrunguard_typo_total{x=\"1\"} 1\n"), std::string::npos);
  EXPECT_EQ(out.find("not a metric"), std::string::npos);
  expect_parses(out);
}

TEST(Metrics, ConcurrentUpdatesAreAllCounted) {
  Metrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&m, t] {
      for (int i = 0; i < 1000; ++i) {
        m.add("runguard_internal_frames_total", {{"op", t % 2 ? "event" : "decision"}});
        if (i % 100 == 0) (void)m.render();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(samples(m.render(), "runguard_internal_frames_total"),
            (std::vector<std::string>{R"(runguard_internal_frames_total{op="decision"} 2000)",
                                      R"(runguard_internal_frames_total{op="event"} 2000)"}));
}

TEST(Metrics, CopiesShareOneRegistry) {
  Metrics a;
  Metrics b = a;
  b.add("runguard_digest_lookups_total", {{"result", "hit"}});
  EXPECT_EQ(samples(a.render(), "runguard_digest_lookups_total"),
            (std::vector<std::string>{R"(runguard_digest_lookups_total{result="hit"} 1)"}));
}

}  // namespace
