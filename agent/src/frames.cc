// Agent: the internal protocol's ops (docs/agent.md#internal-protocol).
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "runguard/pipeline/runc_args.h"

namespace runguard::agent {
namespace {

constexpr const char* kKnownOps[] = {"ping",    "image.digest",   "decision",       "event",           "monitor.stats",
                                     "deleted", "secrets.fetch", "secrets.revoke", "secrets.attached"};

bool known_op(const std::string& op) {
  for (const char* k : kKnownOps) {
    if (op == k) return true;
  }
  return false;
}

// A string field: absent -> "", wrong type -> nullopt.
std::optional<std::string> opt_string(const Json& m, const char* key) {
  auto it = m.find(key);
  if (it == m.end() || it->is_null()) return std::string();
  if (!it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

Json coded_error(const std::string& error, const char* code) {
  Json r = frame::error_reply(error);
  r["code"] = code;
  return r;
}

const char* lookup_code(Code c) {
  switch (c) {
    case Code::kNotFound: return "not_found";
    case Code::kInvalidArgument: return "invalid";
    default: return "unavailable";
  }
}

std::string or_unknown(const std::string& s) { return s.empty() ? "unknown" : s; }

bool regular_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

bool Agent::decision_file_exists(const std::string& id) const { return regular_file(state_dir_of(id) + "/decision.json"); }

bool Agent::on_frame(const std::string& op, const Json& msg, InternalServer::ReplyFn reply) {
  ++counters_.frames_received;
  metrics_.add("runguard_internal_frames_total", {{"op", known_op(op) ? op : "unknown"}});
  if (op == "ping") {
    reply(frame::ok_reply({{"agent", RUNGUARD_VERSION}, {"pid", static_cast<int64_t>(::getpid())}}));
    return true;
  }
  if (op == "image.digest") return handle_digest(msg, reply);
  if (op == "secrets.fetch") return handle_secrets_fetch(msg, reply);
  if (op == "secrets.revoke") return handle_secrets_revoke(msg, reply);
  if (op == "decision") handle_decision(msg);
  else if (op == "event") handle_event(msg);
  else if (op == "monitor.stats") handle_stats(msg);
  else if (op == "deleted") handle_deleted(msg);
  else if (op == "secrets.attached") handle_secrets_attached(msg);
  else {
    std::string known;
    for (const char* k : kKnownOps) known += std::string(known.empty() ? "" : ", ") + k;
    reply(frame::error_reply("unknown op \"" + op + "\" (runguardd " RUNGUARD_VERSION " knows " + known + ")"));
    return true;
  }
  return false;
}

void Agent::on_bad_frame(const std::string& reason) {
  ++counters_.bad_frames;
  metrics_.add("runguard_internal_bad_frames_total", {});
  log_.debug("internal socket: bad frame: " + reason);
}

void Agent::invalid_notification(const std::string& op, const std::string& why) {
  ++counters_.invalid_notifications;
  log_.debug("internal socket: ignoring a \"" + op + "\" frame: " + why);
}

bool Agent::handle_digest(const Json& msg, InternalServer::ReplyFn& reply) {
  auto ns = opt_string(msg, "namespace");
  auto container = opt_string(msg, "container");
  auto image = opt_string(msg, "image");
  if (!ns || !container || !image) {
    reply(coded_error("image.digest: namespace, container and image must be strings", "invalid"));
    return true;
  }
  if (ns->empty() || (container->empty() && image->empty())) {
    reply(coded_error("image.digest needs \"namespace\" and \"container\" or \"image\"", "invalid"));
    return true;
  }
  // Checked here too (ContainerdClient checks again): a bad value gets its answer at once, and
  // nothing from the frame reaches gRPC metadata, the log or the cache unchecked.
  Status valid = check_containerd_namespace(*ns);
  if (valid.is_ok() && !container->empty()) valid = check_lookup_name("container id", *container);
  if (valid.is_ok() && !image->empty()) valid = check_lookup_name("image name", *image);
  if (!valid.is_ok()) {
    reply(coded_error("image.digest: " + valid.message(), "invalid"));
    return true;
  }
  auto timeout = std::chrono::milliseconds(settings_->agent.helper_timeout_ms);
  std::shared_ptr<DigestResolver> resolver = resolver_;
  Metrics* metrics = &metrics_;
  AgentCounters* counters = &counters_;
  const Logger* log = &log_;
  // The pool is stopped (and its threads joined) before the agent's members go away.
  auto task = [resolver, metrics, counters, log, timeout, ns = *ns, container = *container, image = *image, reply]() {
    ++counters->digest_lookups;
    auto r = resolver->resolve(ns, container, image, timeout);
    std::string what = "image.digest " + ns + "/" + (image.empty() ? "container " + container : image);
    if (!r.is_ok()) {
      ++counters->digest_lookup_errors;
      metrics->add("runguard_digest_lookups_total", {{"result", "error"}});
      log->debug(what + ": " + r.status().message());
      reply(coded_error(r.status().message(), lookup_code(r.status().code())));
      return;
    }
    log->debug(what + ": " + r->digest + (r->cached ? " (cached)" : ""));
    metrics->add("runguard_digest_lookups_total", {{"result", r->cached ? "hit" : "miss"}});
    reply(frame::ok_reply({{"image", r->image}, {"digest", r->digest}, {"mediaType", r->media_type}, {"cached", r->cached}}));
  };
  if (!lookups_ || !lookups_->submit(task)) {
    reply(coded_error("runguardd is busy (" + std::to_string(options_.lookup_queue) + " image lookups waiting); fall back", "unavailable"));
  }
  return true;
}

void Agent::handle_decision(const Json& msg) {
  ++counters_.decisions_received;
  auto rec_it = msg.find("record");
  if (rec_it != msg.end() && rec_it->is_object()) {
    auto rec = record_from_json(*rec_it, "");
    if (rec.is_ok() && rec->allowed && !decision_file_exists(rec->id)) {
      // The runtime writes <stateDir>/<id>/decision.json before it sends the frame: an allowed
      // record without one names no container (live records are not capped, so a frame alone
      // must not make one). The event still reaches the ring below.
      invalid_notification("decision", "allowed record of " + rec->id + " has no " + state_dir_of(rec->id) + "/decision.json");
    } else if (rec.is_ok()) {
      ContainerRecord r = std::move(rec).value();
      if (r.allowed) {
        ++counters_.containers_created;
        metrics_.add("runguard_containers_created_total", {{"engine", or_unknown(r.engine)}});
      } else {
        ++counters_.containers_denied;
        auto controls = r.denying_controls();
        if (controls.empty()) controls.push_back("unknown");
        for (const auto& c : controls) metrics_.add("runguard_containers_denied_total", {{"control", c}});
      }
      for (const auto& f : r.findings) metrics_.add("runguard_findings_total", {{"control", or_unknown(f.id)}, {"action", or_unknown(f.action)}});
      if (!r.attestation_verdict.empty()) metrics_.add("runguard_attestation_verdicts_total", {{"verdict", r.attestation_verdict}});
      log_.info("container " + r.id + (r.allowed ? " allowed" : " denied") + " (policy " + r.policy_source + "): " +
                std::to_string(r.findings.size()) + " findings, " + std::to_string(r.mutations.size()) + " changes");
      std::string id = r.id;
      int pid = r.monitor_pid;
      bool live = r.state == "created";
      store_.put(std::move(r));
      if (live) refresh_monitor(id, pid);
    } else {
      invalid_notification("decision", rec.status().message());
    }
  } else {
    invalid_notification("decision", "no \"record\" object");
  }
  if (auto ev = msg.find("event"); ev != msg.end() && ev->is_object()) {
    auto e = event_from_line(*ev, "", unix_now_ns());
    if (!e.is_ok()) invalid_notification("decision", e.status().message());
    else if (first_sighting(*ev)) ring_->publish(std::move(e).value());
  }
  update_gauges();
}

void Agent::handle_event(const Json& msg) {
  auto ev = msg.find("event");
  if (ev == msg.end() || !ev->is_object()) return invalid_notification("event", "no \"event\" object");
  auto e = event_from_line(*ev, "", unix_now_ns());
  if (!e.is_ok()) return invalid_notification("event", e.status().message());
  ++counters_.events_received;
  if (e->kind == EventKind::kMonitor) {
    if (!e->container.empty()) store_.count_monitor_event(e->container);
    metrics_.add("runguard_monitor_events_total", {{"rule", or_unknown(e->rule)}, {"action", or_unknown(e->action)}});
  }
  if (log_.enabled(LogLevel::kDebug)) log_.debug("event from " + or_unknown(e->container) + ": " + e->output);
  if (first_sighting(*ev)) ring_->publish(std::move(e).value());
  metrics_.set("runguard_events_ring_size", {}, static_cast<double>(ring_->size()));
}

void Agent::handle_stats(const Json& msg) {
  auto counts = msg.find("counts");
  auto sum = msg.find("sum");
  if (counts == msg.end() || !counts->is_array() || sum == msg.end() || !sum->is_number() || sum->get<double>() < 0) {
    return invalid_notification("monitor.stats", "needs \"counts\" (array) and \"sum\" (seconds, >= 0)");
  }
  std::vector<uint64_t> v;
  for (const Json& c : *counts) {
    if (!c.is_number_unsigned() && !(c.is_number_integer() && c.get<int64_t>() >= 0)) {
      return invalid_notification("monitor.stats", "counts must be non-negative integers");
    }
    v.push_back(c.get<uint64_t>());
  }
  if (Status s = metrics_.merge_notify_histogram(v, sum->get<double>()); !s.is_ok()) invalid_notification("monitor.stats", s.message());
}

void Agent::handle_deleted(const Json& msg) {
  auto id = opt_string(msg, "container");
  if (!id || !pipeline::check_container_id(*id).is_ok()) return invalid_notification("deleted", "no valid \"container\" id");
  if (store_.mark_deleted(*id, unix_now_ns())) publish_deleted(*id);
  secrets_->drop(*id);
  update_gauges();
}

}  // namespace runguard::agent
