// Metrics: the registry behind runguardd's /metrics (metrics.h).
//
// One mutex guards everything: updates are a map lookup and an add, a scrape renders a few
// kilobytes; neither is hot enough to need anything finer. Families are declared up front (the
// list in metrics.h) so every family's HELP and TYPE appear from the first scrape, and their order
// is the declaration order. A name that is not declared is still kept, as a family of its own
// after the declared ones (counter for add(), gauge for set()), so a misspelt metric in the agent
// shows up on /metrics instead of vanishing; at most kMaxUndeclaredFamilies of those exist.
#include <cmath>
#include <charconv>
#include <cstdio>
#include <limits>
#include <mutex>

#include "runguard/agent/metrics.h"
#include "runguard/common/utf8.h"

namespace runguard::agent {
namespace {

using Labels = std::map<std::string, std::string>;

constexpr size_t kMaxUndeclaredFamilies = 64;
constexpr const char* kNotifyHistogram = "runguard_monitor_notify_round_trip_seconds";

enum class Type { kCounter, kGauge, kHistogram };

const char* type_name(Type t) {
  switch (t) {
    case Type::kCounter: return "counter";
    case Type::kGauge: return "gauge";
    case Type::kHistogram: return "histogram";
  }
  return "untyped";
}

struct Declared {
  const char* name;
  Type type;
  const char* help;
};

// The families of metrics.h, in exposition order.
const std::vector<Declared>& declared_families() {
  static const std::vector<Declared> d = {
      {"runguard_agent_up", Type::kGauge, "1 while runguardd is serving."},
      {"runguard_agent_start_time_seconds", Type::kGauge, "When runguardd started, in seconds since the Unix epoch."},
      {"runguard_policy_loaded_timestamp_seconds", Type::kGauge,
       "When the policy in force was loaded, in seconds since the Unix epoch."},
      {"runguard_containers_created_total", Type::kCounter, "Containers runguard allowed to be created, by engine."},
      {"runguard_containers_denied_total", Type::kCounter,
       "Containers runguard refused, one count per denying control id."},
      {"runguard_findings_total", Type::kCounter, "Policy findings in decision records, by control id and action."},
      {"runguard_attestation_verdicts_total", Type::kCounter, "Image attestation verdicts in decision records."},
      {"runguard_monitor_events_total", Type::kCounter, "Runtime monitor rule matches, by rule and action."},
      {kNotifyHistogram, Type::kHistogram,
       "Seccomp notification round trip in the runtime monitors (notification received to answer sent)."},
      {"runguard_containers_known", Type::kGauge, "Containers the agent holds a decision record for."},
      {"runguard_containers_monitored", Type::kGauge, "Containers with a live runtime monitor."},
      {"runguard_events_ring_size", Type::kGauge, "Events held in the agent's replay ring."},
      {"runguard_internal_frames_total", Type::kCounter, "Frames received on the internal socket, by op."},
      {"runguard_internal_bad_frames_total", Type::kCounter,
       "Malformed frames on the internal socket (the connection was closed)."},
      {"runguard_digest_lookups_total", Type::kCounter, "Image digest lookups, by result (hit, miss, error)."},
      {"runguard_secret_fetches_total", Type::kCounter,
       "secrets.fetch requests, by result (ok, denied, not_found, unavailable, invalid)."},
      {"runguard_secret_leases", Type::kGauge, "Vault leases runguardd renews for containers' secret files."},
      {"runguard_secret_lease_renewals_total", Type::kCounter, "Vault lease renewals, by result (ok, error)."},
      {"runguard_secret_refreshes_total", Type::kCounter, "Containers' secret files re-fetched and rewritten, by result (ok, error)."},
      {"runguard_secret_revocations_total", Type::kCounter, "Vault leases revoked, by result (ok, error); one count per lease."},
  };
  return d;
}

bool valid_name(const std::string& s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// Label names may not contain ':' and may not start with "__" (reserved); anything else that
// is not [a-zA-Z_][a-zA-Z0-9_]* has its bad bytes replaced, so a caller's typo cannot make the
// whole exposition unparseable.
std::string label_name(const std::string& s) {
  std::string out = s.empty() ? std::string("_") : s;
  for (size_t i = 0; i < out.size(); ++i) {
    char c = out[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) out[i] = '_';
  }
  if (out.rfind("__", 0) == 0) out = "x" + out;
  return out;
}

// At most kMaxLabelValueBytes of the value, cut at a UTF-8 boundary, then "…" (metrics.h);
// invalid UTF-8 is repaired (the exposition format is UTF-8).
std::string label_value(const std::string& v) {
  std::string out(utf8_prefix(v, kMaxLabelValueBytes));
  if (out.size() < v.size()) out += "\xE2\x80\xA6";  // "…"
  repair_utf8(out);
  return out;
}

Labels clean_labels(const Labels& in) {
  Labels out;
  for (const auto& [k, v] : in) out[label_name(k)] = label_value(v);
  return out;
}

std::string escape_label_value(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// Go's strconv.FormatFloat(v, 'g', -1, 64), which Prometheus' own clients use for sample values
// and `le` bounds: shortest round-trip digits, exponent form below 1e-4 and from 1e6 up (so
// le="0.0001" and le="5e-06" read exactly as in other exporters). Integral values below 1e15
// print as integers ("1", "1764403200"): equally valid, easier to read.
std::string format_metric_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == 0) return "0";
  if (std::floor(v) == v && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // "-1.2345e-05"
  size_t e = sci.find('e');
  std::string mantissa = sci.substr(0, e);
  int exp = std::stoi(sci.substr(e + 1));
  bool neg = mantissa[0] == '-';
  if (neg) mantissa.erase(0, 1);
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits += c;
  }
  std::string out;
  if (exp < -4 || exp >= 6) {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char ebuf[16];
    std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    out += ebuf;
  } else if (exp < 0) {
    out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
  } else {
    size_t int_digits = static_cast<size_t>(exp) + 1;
    if (digits.size() <= int_digits) {
      out = digits + std::string(int_digits - digits.size(), '0');
    } else {
      out = digits.substr(0, int_digits) + "." + digits.substr(int_digits);
    }
  }
  return neg ? "-" + out : out;
}

}  // namespace

struct Metrics::Impl {
  struct Family {
    std::string name;
    Type type;
    std::string help;
    std::map<Labels, uint64_t> counters;
    std::map<Labels, double> gauges;
  };

  mutable std::mutex mu;
  std::vector<Family> families;             // declared, then undeclared in order of first use
  std::map<std::string, size_t> by_name;    // name -> index into families
  size_t undeclared = 0;
  std::vector<uint64_t> hist_counts;        // per bucket, not cumulative; last is +Inf
  uint64_t hist_total = 0;
  double hist_sum = 0;

  Family* family(const std::string& name, Type type_if_new) {
    if (auto it = by_name.find(name); it != by_name.end()) return &families[it->second];
    if (!valid_name(name) || undeclared >= kMaxUndeclaredFamilies) return nullptr;
    ++undeclared;
    by_name[name] = families.size();
    families.push_back(Family{name, type_if_new, "Undeclared runguard metric (see docs/agent.md#metrics).", {}, {}});
    return &families.back();
  }

  // The series key `labels` is stored under: itself, or all-"other" once the family is full.
  // One slot is kept for the "other" series, so a family never holds more than the cap.
  template <typename Map>
  static Labels series_key(const Map& series, Labels labels) {
    if (series.count(labels) != 0 || series.size() + 1 < kMaxSeriesPerFamily) return labels;
    for (auto& [k, v] : labels) v = "other";
    return labels;
  }
};

Metrics::Metrics() : impl_(std::make_shared<Impl>()) {
  for (const auto& d : declared_families()) {
    impl_->by_name[d.name] = impl_->families.size();
    impl_->families.push_back(Impl::Family{d.name, d.type, d.help, {}, {}});
  }
  impl_->hist_counts.assign(notify_round_trip_buckets().size() + 1, 0);
  // A process that renders this is up; a label-less counter starts at 0 so rate() has a base.
  impl_->families[impl_->by_name["runguard_agent_up"]].gauges[{}] = 1;
  impl_->families[impl_->by_name["runguard_internal_bad_frames_total"]].counters[{}] = 0;
}

void Metrics::add(const std::string& name, const std::map<std::string, std::string>& labels, uint64_t delta) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl::Family* f = impl_->family(name, Type::kCounter);
  if (f == nullptr) return;
  Labels clean = clean_labels(labels);
  if (f->type == Type::kCounter) {
    uint64_t& c = f->counters[Impl::series_key(f->counters, std::move(clean))];
    c = delta > std::numeric_limits<uint64_t>::max() - c ? std::numeric_limits<uint64_t>::max() : c + delta;
  } else if (f->type == Type::kGauge) {
    f->gauges[Impl::series_key(f->gauges, std::move(clean))] += static_cast<double>(delta);
  }
  // A histogram is fed only through merge_notify_histogram.
}

void Metrics::set(const std::string& name, const std::map<std::string, std::string>& labels, double value) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl::Family* f = impl_->family(name, Type::kGauge);
  if (f == nullptr || f->type != Type::kGauge) return;  // counters only go up, through add()
  f->gauges[Impl::series_key(f->gauges, clean_labels(labels))] = value;
}

Status Metrics::merge_notify_histogram(const std::vector<uint64_t>& counts, double sum_seconds) {
  size_t want = notify_round_trip_buckets().size() + 1;
  if (counts.size() != want) {
    return Status(Code::kInvalidArgument, "notify histogram has " + std::to_string(counts.size()) + " buckets, expected " +
                                              std::to_string(want) + " (the bounds of notify_round_trip_buckets() and +Inf)");
  }
  if (!std::isfinite(sum_seconds) || sum_seconds < 0) {
    return Status(Code::kInvalidArgument, "notify histogram sum " + format_metric_value(sum_seconds) +
                                              " is not a non-negative number of seconds");
  }
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (size_t i = 0; i < want; ++i) {
    uint64_t& c = impl_->hist_counts[i];
    c = counts[i] > kMax - c ? kMax : c + counts[i];
    impl_->hist_total = counts[i] > kMax - impl_->hist_total ? kMax : impl_->hist_total + counts[i];
  }
  impl_->hist_sum += sum_seconds;
  return Status::ok();
}

namespace {

std::string render_labels(const Labels& labels, const std::string& extra_name = "", const std::string& extra_value = "") {
  if (labels.empty() && extra_name.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ",";
    first = false;
    out += k + "=\"" + escape_label_value(v) + "\"";
  }
  if (!extra_name.empty()) out += std::string(first ? "" : ",") + extra_name + "=\"" + extra_value + "\"";
  return out + "}";
}

}  // namespace

std::string Metrics::render() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::string out;
  out.reserve(4096);
  for (const auto& f : impl_->families) {
    out += "# HELP " + f.name + " " + escape_help(f.help) + "\n";
    out += "# TYPE " + f.name + " " + type_name(f.type) + "\n";
    switch (f.type) {
      case Type::kCounter:
        for (const auto& [labels, v] : f.counters) out += f.name + render_labels(labels) + " " + std::to_string(v) + "\n";
        break;
      case Type::kGauge:
        for (const auto& [labels, v] : f.gauges) out += f.name + render_labels(labels) + " " + format_metric_value(v) + "\n";
        break;
      case Type::kHistogram: {
        const auto& bounds = notify_round_trip_buckets();
        uint64_t cumulative = 0;
        for (size_t i = 0; i <= bounds.size(); ++i) {
          cumulative += impl_->hist_counts[i];
          std::string le = i < bounds.size() ? format_metric_value(bounds[i]) : "+Inf";
          out += f.name + "_bucket" + render_labels({}, "le", le) + " " + std::to_string(cumulative) + "\n";
        }
        out += f.name + "_sum " + format_metric_value(impl_->hist_sum) + "\n";
        out += f.name + "_count " + std::to_string(impl_->hist_total) + "\n";
        break;
      }
    }
  }
  return out;
}

}  // namespace runguard::agent
