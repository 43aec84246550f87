#include "event.h"

#include <ctime>
#include <cstdio>

#include <array>
#include <cctype>
#include <limits>

#include "runguard/common/event_time.h"
#include "runguard/common/utf8.h"

namespace runguard::agent {

const char* event_kind_name(EventKind kind) {
  switch (kind) {
    case EventKind::kMonitor: return "monitor";
    case EventKind::kDecision: return "decision";
    case EventKind::kLifecycle: return "lifecycle";
    case EventKind::kDropped: return "dropped";
  }
  return "monitor";
}

std::optional<EventKind> parse_event_kind(std::string_view text) {
  for (EventKind k : {EventKind::kMonitor, EventKind::kDecision, EventKind::kLifecycle, EventKind::kDropped}) {
    if (text == event_kind_name(k)) return k;
  }
  return std::nullopt;
}

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

// `n` decimal digits at text[pos], advancing pos; -1 when they are not all digits.
int64_t digits(std::string_view text, size_t& pos, size_t n) {
  if (pos + n > text.size()) return -1;
  int64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  pos += n;
  return v;
}

bool expect(std::string_view text, size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

// A string member of `obj`, "" when absent or of another type.
std::string str(const Json& obj, const char* key) {
  if (!obj.is_object()) return {};
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const Json* member(const Json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

// The container id in any of the shapes the producers use.
std::string container_of(const Json& line, const Json* nested) {
  if (nested != nullptr) {
    if (const Json* c = member(*nested, "container")) {
      if (c->is_string()) return c->get<std::string>();
      if (std::string id = str(*c, "id"); !id.empty()) return id;
    }
  }
  if (const Json* c = member(line, "runguard.container")) {
    if (c->is_string()) return c->get<std::string>();
    if (std::string id = str(*c, "id"); !id.empty()) return id;
  }
  if (const Json* f = member(line, "output_fields")) return str(*f, "container.id");
  return {};
}

}  // namespace

std::optional<int> priority_rank(std::string_view p) {
  static constexpr std::array<std::string_view, 8> kNames = {"Emergency", "Alert",  "Critical",      "Error",
                                                             "Warning",   "Notice", "Informational", "Debug"};
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (iequals(p, kNames[i])) return static_cast<int>(i);
  }
  if (iequals(p, "Info")) return 6;
  return std::nullopt;
}

std::optional<int64_t> parse_rfc3339_ns(std::string_view t) {
  size_t pos = 0;
  int64_t year = digits(t, pos, 4);
  // Unix nanoseconds in an int64 cover 1970 .. 2262-04-11: anything else is not a time the agent
  // can hold (and secs * 1e9 below would overflow).
  if (year < 1970 || year > 2262 || !expect(t, pos, '-')) return std::nullopt;
  int64_t month = digits(t, pos, 2);
  if (month < 1 || month > 12 || !expect(t, pos, '-')) return std::nullopt;
  int64_t day = digits(t, pos, 2);
  if (day < 1 || day > 31) return std::nullopt;
  if (pos >= t.size() || (t[pos] != 'T' && t[pos] != 't' && t[pos] != ' ')) return std::nullopt;
  ++pos;
  int64_t hour = digits(t, pos, 2);
  if (hour < 0 || hour > 23 || !expect(t, pos, ':')) return std::nullopt;
  int64_t minute = digits(t, pos, 2);
  if (minute < 0 || minute > 59 || !expect(t, pos, ':')) return std::nullopt;
  int64_t second = digits(t, pos, 2);
  if (second < 0 || second > 60) return std::nullopt;
  int64_t nanos = 0;
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    size_t n = 0;
    for (; pos < t.size() && t[pos] >= '0' && t[pos] <= '9'; ++pos, ++n) {
      if (n < 9) nanos = nanos * 10 + (t[pos] - '0');
    }
    if (n == 0) return std::nullopt;
    for (; n < 9; ++n) nanos *= 10;
  }
  int64_t offset = 0;
  if (pos < t.size() && (t[pos] == 'Z' || t[pos] == 'z')) {
    ++pos;
  } else if (pos < t.size() && (t[pos] == '+' || t[pos] == '-')) {
    int sign = t[pos] == '-' ? -1 : 1;
    ++pos;
    int64_t oh = digits(t, pos, 2);
    if (oh < 0 || oh > 23 || !expect(t, pos, ':')) return std::nullopt;
    int64_t om = digits(t, pos, 2);
    if (om < 0 || om > 59) return std::nullopt;
    offset = sign * (oh * 3600 + om * 60);
  } else {
    return std::nullopt;
  }
  if (pos != t.size()) return std::nullopt;
  int64_t secs = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 + hour * 3600 +
                 minute * 60 + second - offset;
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  if (secs < 0 || secs > kMax / 1000000000 || (secs == kMax / 1000000000 && nanos > kMax % 1000000000)) return std::nullopt;
  return secs * 1000000000 + nanos;
}

std::string format_rfc3339_ns(int64_t unix_ns) {
  int64_t secs = unix_ns / 1000000000;
  int64_t nanos = unix_ns % 1000000000;
  if (nanos < 0) {
    nanos += 1000000000;
    --secs;
  }
  time_t tt = static_cast<time_t>(secs);
  struct tm tm = {};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<long long>(nanos));
  return buf;
}

int64_t unix_now_ns() {
  struct timespec ts = {};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

size_t Event::bytes() const {
  return sizeof(Event) + container.capacity() + rule.capacity() + priority.capacity() + action.capacity() +
         output.capacity() + json.capacity();
}

namespace {

// A serialisation grows its string by doubling, so a dumped line can hold up to twice its length
// for as long as the ring keeps it: measured under load, 9.3 kB of runguardd's heap per 5.7 kB
// decision line, about 90 MB for a full default ring (10000 events). Ring entries are kept exact.
std::string exact(std::string s) {
  s.shrink_to_fit();
  return s;
}

}  // namespace

Result<Event> event_from_line(const Json& line, std::string text, int64_t now_ns) {
  if (!line.is_object()) return invalid(std::string("event line is a JSON ") + json_type_name(line) + ", expected an object");
  const Json* nested = member(line, "runguard");
  if (nested != nullptr && !nested->is_object()) nested = nullptr;
  Event e;
  std::string kind = nested != nullptr ? str(*nested, "kind") : std::string();
  if (kind.empty()) kind = str(line, "runguard.kind");
  if (kind.empty()) {
    e.kind = EventKind::kMonitor;  // lines written before runguard.kind existed
  } else {
    auto k = parse_event_kind(kind);
    if (!k || *k == EventKind::kDropped) {
      return invalid("event line has runguard.kind \"" + kind + "\" (expected monitor, decision or lifecycle)");
    }
    e.kind = *k;
  }
  auto t = parse_rfc3339_ns(str(line, "time"));
  e.time_ns = t ? *t : now_ns;
  e.container = container_of(line, nested);
  e.rule = str(line, "rule");
  e.priority = str(line, "priority");
  e.action = nested != nullptr ? str(*nested, "action") : std::string();
  if (e.action.empty()) e.action = str(line, "runguard.action");
  e.output = str(line, "output");
  // Event's strings end up in proto3 `string` fields, which must be valid UTF-8. A line kept
  // verbatim that is not (parse_json repaired it before parsing) is replaced by the repaired
  // serialisation of what was parsed.
  for (std::string* s : {&e.container, &e.rule, &e.priority, &e.action, &e.output}) repair_utf8(*s);
  e.json = exact(text.empty() || !valid_utf8(text) ? dump_json(line) : std::move(text));
  return e;
}

Event lifecycle_event(const std::string& container, const std::string& action, int64_t now_ns, const std::string& hostname) {
  std::string time = format_rfc3339_ns(now_ns);
  std::string output = time.substr(11, 18) + ": Informational container " + container + " " + action;
  Json line = {{"time", time},
               {"rule", "runguard lifecycle"},
               {"priority", "Informational"},
               {"source", "runguard"},
               {"hostname", hostname},
               {"output", output},
               {"output_fields", {{"container.id", container}}},
               {"tags", {"runguard", "lifecycle"}},
               {"runguard", {{"kind", "lifecycle"}, {"container", container}, {"action", action}}}};
  Event e;
  e.time_ns = now_ns;
  e.kind = EventKind::kLifecycle;
  e.container = container;
  e.rule = "runguard lifecycle";
  e.priority = "Informational";
  e.action = action;
  e.output = std::move(output);
  e.json = exact(dump_json(line));
  return e;
}

Event dropped_event(uint64_t count, uint64_t seq, int64_t now_ns) {
  Event e;
  e.seq = seq;
  e.time_ns = now_ns;
  e.kind = EventKind::kDropped;
  e.priority = "Warning";
  e.action = "dropped";
  e.output = std::to_string(count) + " event" + (count == 1 ? "" : "s") +
             " dropped: this watcher read too slowly and lost the oldest events it had not read";
  Json line = {{"time", format_rfc3339_ns(now_ns)},
               {"rule", "runguard dropped events"},
               {"priority", "Warning"},
               {"source", "runguard"},
               {"output", e.output},
               {"runguard", {{"kind", "dropped"}, {"dropped", count}, {"lastDroppedSeq", seq}}}};
  e.rule = "runguard dropped events";
  e.json = exact(dump_json(line));
  return e;
}

bool EventFilter::matches(const Event& e) const {
  if (e.kind == EventKind::kDropped) return true;
  if (!kinds.empty() && kinds.count(e.kind) == 0) return false;
  if (!container.empty() && e.container != container) return false;
  if (!rule.empty() && e.rule != rule) return false;
  if (min_priority) {
    auto rank = priority_rank(e.priority);
    if (!rank || *rank > *min_priority) return false;
  }
  return true;
}

}  // namespace runguard::agent
