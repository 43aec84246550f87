// runguardctl explain / events: a container's decision for humans, and the event stream; from the
// agent, else from <stateDir>/<id>/decision.json and the events file.
#include <chrono>
#include <iostream>
#include <thread>

#include "agent_cmds.h"
#include "disk_state.h"
#include "event_log.h"
#include "node_context.h"
#include "runguard/common/strings.h"

namespace runguard::cli {
namespace {

constexpr const char* kExplainUsage = "usage: runguardctl explain ID [--format text|json] [--config FILE] [--agent SOCKET]\n";
constexpr const char* kEventsUsage =
    "usage: runguardctl events [--follow] [--container ID] [--rule RULE] [--priority P] [--last N]\n"
    "                          [--format text|json] [--config FILE] [--agent SOCKET]\n"
    "  --priority P   P and more severe: Emergency Alert Critical Error Warning Notice Informational Debug\n"
    "  --last N       replay the last N matching events first (default 20)\n";
constexpr auto kFollowPoll = std::chrono::milliseconds(250);

int usage(const char* text, const std::string& why) {
  if (!why.empty()) std::cerr << "runguardctl: " << why << "\n";
  std::cerr << text;
  return why.empty() ? 0 : 2;
}

int print_explain(const NodeContext& node, const Json& record, const ExplainExtras& x) {
  if (node.json) {
    print_json({{"source", x.origin},
                {"state", x.state},
                {"monitored", x.monitored.has_value() ? Json(*x.monitored) : Json()},
                {"monitorEvents", x.monitor_events.has_value() ? Json(*x.monitor_events) : Json()},
                {"note", x.note.empty() ? Json() : Json(x.note)},
                {"record", record}});
  } else {
    std::cout << explain_text(record, x);
  }
  return 0;
}

// decision.json, then the newest decision event in the events file (a refused container has no
// state directory; a deleted one has only its events left).
int explain_from_disk(const NodeContext& node, const std::string& id, const std::string& agent_said) {
  std::vector<std::string> looked = {agent_said};
  auto rec = read_disk_record(node.state_dir, id);
  if (rec.is_ok()) {
    ExplainExtras x{"created", std::nullopt, std::nullopt, "disk", ""};
    std::string m = monitor_liveness(rec->monitor_pid);
    x.monitored = m == "yes";
    if (m == "dead") {
      x.note = "its monitor (pid " + std::to_string(rec->monitor_pid) +
               ") is not running: the container stopped, or the monitor died (its monitored syscalls then fail with ENOSYS)";
    }
    return print_explain(node, rec->record, x);
  }
  if (rec.status().code() == Code::kInvalidArgument && rec.status().message().find("is not a container id") != std::string::npos) {
    return fail("explain", rec.status().message(), 2);
  }
  looked.push_back(rec.status().code() == Code::kNotFound ? node.state_dir + "/" + id + "/decision.json: none"
                                                          : rec.status().to_string());
  auto ev = last_decision_event(node.events_path, id, kDefaultTailScanBytes);
  if (ev.is_ok() && ev->has_value()) {
    if (auto r = record_from_decision_event(**ev); r.has_value()) {
      bool allowed = true;
      if (auto d = r->find("decision"); d != r->end() && d->is_object()) {
        if (auto a = d->find("allowed"); a != d->end() && a->is_boolean()) allowed = a->get<bool>();
      }
      return print_explain(node, *r, ExplainExtras{allowed ? "deleted" : "denied", std::nullopt, std::nullopt, "events", ""});
    }
  }
  looked.push_back(!ev.is_ok() ? ev.status().to_string()
                               : node.events_path + ": no decision event for it in the last " +
                                     human_size(kDefaultTailScanBytes));
  return fail("explain", "no record of container " + id + " (" + join(looked, "; ") + ")");
}

}  // namespace

int cmd_explain(const std::vector<std::string>& args) {
  auto flags = parse_flags(args, {}, {});
  if (!flags.is_ok()) return usage(kExplainUsage, flags.status().message());
  if (flags->help) return usage(kExplainUsage, "");
  if (flags->positional.size() != 1) return usage(kExplainUsage, "explain needs exactly one container id");
  const std::string& id = flags->positional[0];
  auto node = node_context(*flags);
  if (!node.is_ok()) return usage(kExplainUsage, node.status().message());
  std::string why;
  auto agent = connect_agent(*node, &why);
  if (agent == nullptr) {
    note_fallback(*node, why + "; reading the records on disk");
    return explain_from_disk(*node, id, why);
  }
  auto c = agent->get_container(id);
  if (c.is_ok()) {
    ExplainExtras x{c->state(), std::nullopt, std::nullopt, "agent", ""};
    if (c->state() != "denied") {
      x.monitored = c->monitored();
      x.monitor_events = c->monitor_events();
    }
    return print_explain(*node, record_from_container(*c), x);
  }
  if (c.status().code() != Code::kNotFound) return fail("explain", c.status().to_string());
  // The agent may have started after the container, or forgotten an old refusal: the files may know.
  if (!node->json) std::cerr << "runguardctl: runguardd has no record of " << id << "; looking on disk\n";
  return explain_from_disk(*node, id, "runguardd: " + c.status().message());
}

namespace {

struct EventsOptions {
  EventFilter filter;
  std::string priority;  // canonical name, "" = any
  uint32_t last = 20;
  bool follow = false;
};

// Text mode: format_event_text() escapes what the container chose (process names, paths, argv).
void print_event(bool json, const std::string& container_id, const std::string& output, const std::string& raw) {
  if (json) std::cout << raw << "\n";
  else std::cout << format_event_text(container_id, output) << "\n";
}

int events_from_agent(const NodeContext& node, AgentClient& agent, const EventsOptions& o) {
  v1::WatchEventsRequest req;
  req.set_container_id(o.filter.container_id);
  req.set_rule(o.filter.rule);
  req.set_min_priority(o.priority);
  req.set_last(o.last);
  req.set_no_follow(!o.follow);
  Status s = agent.watch_events(req, [&](const v1::Event& e) {
    if (e.kind() == "dropped" && !node.json) {
      std::cerr << "runguardctl: " << (e.output().empty() ? "events were dropped (this reader fell behind)" : printable(e.output()))
                << "\n";
      return true;
    }
    print_event(node.json, e.container_id(), e.output(), event_json_line(e));
    std::cout.flush();
    return static_cast<bool>(std::cout);
  });
  if (!s.is_ok()) return fail("events", s.to_string());
  return 0;
}

int events_from_file(const NodeContext& node, const EventsOptions& o, const std::string& why) {
  std::cerr << "runguardctl: " << why << "; reading " << node.events_path << "\n";
  if (!node.policy_error.empty()) std::cerr << "runguardctl: warning: the policy does not load (" << node.policy_error << ")\n";
  auto keep = [&o](std::string_view line) {
    auto e = parse_event_line(line);
    return e.has_value() && event_matches(*e, o.filter);
  };
  auto show = [&](const std::string& line) {
    auto e = parse_event_line(line);
    if (e.has_value() && event_matches(*e, o.filter)) print_event(node.json, e->container_id, e->output, line);
  };
  auto t = tail_lines(node.events_path, o.last, keep);
  Tail start;
  if (t.is_ok()) {
    for (const auto& line : t->lines) show(line);
    if (t->scan_limit_reached) std::cerr << "runguardctl: (only the last " << human_size(kDefaultTailScanBytes) << " of the file searched)\n";
    start = *t;
  } else if (t.status().code() != Code::kNotFound) {
    return fail("events", t.status().to_string());
  } else if (!o.follow) {
    std::cerr << "runguardctl: no events file at " << node.events_path << " (nothing recorded yet)\n";
    return 0;
  }
  if (!o.follow) return 0;
  std::cout.flush();
  EventsFollower follower(node.events_path, start);
  for (;;) {
    auto lines = follower.poll();
    if (!lines.is_ok()) return fail("events", lines.status().to_string());
    for (const auto& line : *lines) show(line);
    std::cout.flush();
    if (!std::cout) return 1;  // stdout closed (a pager quit)
    std::this_thread::sleep_for(kFollowPoll);
  }
}

}  // namespace

int cmd_events(const std::vector<std::string>& args) {
  auto flags = parse_flags(args, {"--container", "--rule", "--priority", "--last"}, {"--follow", "-f"});
  if (!flags.is_ok()) return usage(kEventsUsage, flags.status().message());
  if (flags->help) return usage(kEventsUsage, "");
  if (!flags->positional.empty()) return usage(kEventsUsage, "unexpected argument \"" + flags->positional[0] + "\"");
  EventsOptions o;
  o.follow = flags->bools.count("--follow") != 0 || flags->bools.count("-f") != 0;
  auto value = [&](const char* k) { auto it = flags->values.find(k); return it == flags->values.end() ? std::string() : it->second; };
  o.filter.container_id = value("--container");
  o.filter.rule = value("--rule");
  if (std::string p = value("--priority"); !p.empty()) {
    auto rank = priority_rank(p);
    if (!rank.has_value()) {
      return usage(kEventsUsage, "--priority \"" + p + "\" is not a Falco priority" + did_you_mean(p, priority_names()));
    }
    o.filter.max_rank = rank;
    o.priority = priority_names()[static_cast<size_t>(*rank)];
  }
  if (std::string n = value("--last"); !n.empty()) {
    auto v = parse_u32(n);
    if (!v.has_value() || *v > 1000000) return usage(kEventsUsage, "--last \"" + n + "\" is not a number from 0 to 1000000");
    o.last = *v;
  }
  auto node = node_context(*flags);
  if (!node.is_ok()) return usage(kEventsUsage, node.status().message());
  std::string why;
  auto agent = connect_agent(*node, &why);
  if (agent != nullptr) return events_from_agent(*node, *agent, o);
  return events_from_file(*node, o, why);
}

}  // namespace runguard::cli
