// Metrics: the agent's counters and histograms, rendered in the Prometheus text exposition format
// (version 0.0.4) and served on `agent.metrics` (a loopback HOST:PORT or unix:PATH) at /metrics.
//
// Families (docs/agent.md#metrics):
//   runguard_agent_up                                       gauge 1
//   runguard_agent_start_time_seconds                       gauge
//   runguard_policy_loaded_timestamp_seconds                gauge
//   runguard_containers_created_total{engine}               counter (allowed creates)
//   runguard_containers_denied_total{control}               counter (one per denying control id)
//   runguard_findings_total{control,action}                 counter
//   runguard_attestation_verdicts_total{verdict}            counter (decision records' attestation.verdict)
//   runguard_monitor_events_total{rule,action}              counter
//   runguard_monitor_notify_round_trip_seconds              histogram (from monitors' stats frames)
//   runguard_containers_known / runguard_containers_monitored   gauges
//   runguard_events_ring_size                               gauge
//   runguard_internal_frames_total{op}, runguard_internal_bad_frames_total   counters
//   runguard_digest_lookups_total{result="hit|miss|error"}  counter
//   runguard_secret_fetches_total{result="ok|denied|not_found|unavailable|invalid"}  counter
//   runguard_secret_leases                                  gauge (leases the agent renews)
//   runguard_secret_lease_renewals_total{result="ok|error"}, runguard_secret_refreshes_total{result},
//   runguard_secret_revocations_total{result} (per lease)   counters
//
// Label values are escaped per the exposition format (\\, \", \n). Label cardinality is bounded:
// at most kMaxSeriesPerFamily series per family, later ones are folded into a series with the
// label value "other" so a hostile rule file or a flood of ids cannot grow the agent without bound.
// Label values are bounded too (rule names, control ids, engines and verdicts come from frames
// of up to 1 MiB): a value longer than kMaxLabelValueBytes keeps its first kMaxLabelValueBytes
// bytes, cut at a UTF-8 character boundary, followed by "…" (U+2026), so values sharing that
// prefix share a series; invalid UTF-8 is replaced by U+FFFD. A family is thereby bounded in
// bytes as well as in series.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runguard/common/status.h"

namespace runguard::agent {

inline constexpr size_t kMaxSeriesPerFamily = 1000;
inline constexpr size_t kMaxLabelValueBytes = 128;

// Upper bounds (seconds) of the notify round-trip histogram's buckets; +Inf is implicit.
inline const std::vector<double>& notify_round_trip_buckets() {
  static const std::vector<double> b = {0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025,
                                        0.0005,   0.001,   0.0025,   0.01,    0.1};
  return b;
}

class Metrics {
 public:
  Metrics();

  // Counter `name` (a family declared in the list above) with these labels, += delta.
  void add(const std::string& name, const std::map<std::string, std::string>& labels, uint64_t delta = 1);
  // Gauge `name` = value.
  void set(const std::string& name, const std::map<std::string, std::string>& labels, double value);
  // Merges a histogram delta for the notify round trip: counts[i] observations <= buckets[i]
  // (same bounds as notify_round_trip_buckets(), counts.size() == bounds + 1 for +Inf, NOT
  // cumulative), plus the sum of observed seconds. Mismatched sizes are ignored (kInvalidArgument).
  Status merge_notify_histogram(const std::vector<uint64_t>& counts, double sum_seconds);

  // The whole exposition, families in a stable order, HELP and TYPE lines included.
  std::string render() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Serves GET /metrics (and GET / with a pointer to it) over HTTP/1.1 on `address` ("HOST:PORT"
// loopback or "unix:/path"), one short request per connection, on its own thread. Requests are
// bounded (8 KiB of headers, 5 s to send them); anything else gets 400/404/405 and the
// connection is closed. Stop() (or the destructor) joins the thread and removes a unix socket.
class MetricsServer {
 public:
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& address, const Metrics& metrics);
  ~MetricsServer();
  void stop();
  // The bound address ("127.0.0.1:9447", "unix:/run/...") — with port 0 the kernel's choice.
  std::string address() const;

 private:
  MetricsServer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace runguard::agent
