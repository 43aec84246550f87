// Agent: the secrets ops of the internal protocol (docs/agent.md#secrets): secrets.fetch and
// secrets.revoke (requests, answered from the secrets worker pool: Vault can be slow) and
// secrets.attached (a notification: the runtime wrote the container's secrets.json).
// No value, token or JWT reaches a log line, a metric or an error: replies carry the values
// (base64), nothing else does.
#include "agent.h"
#include "runguard/pipeline/runc_args.h"
#include "runguard/policy/secrets.h"
#include "runguard/secrets/vault.h"

namespace runguard::agent {
namespace {

// The reply's "code" (pipeline/src/agent_client.cc agent_error_code reads it back).
const char* secret_code(Code c) {
  switch (c) {
    case Code::kDenied: return "denied";
    case Code::kNotFound: return "not_found";
    case Code::kInvalidArgument: return "invalid";
    default: return "unavailable";
  }
}

Json secret_error(const std::string& error, const char* code) {
  Json r = frame::error_reply(error);
  r["code"] = code;
  return r;
}

// Fields used as paths or file names are checked before anything else sees them.
Status check_fetch(const secrets::FetchRequest& r) {
  RG_RETURN_IF_ERROR(pipeline::check_container_id(r.container));
  for (const auto& s : r.secrets) RG_RETURN_IF_ERROR(policy::check_secret_name(s.name));
  if (!r.kubernetes_token_file.empty() && r.kubernetes_token_file[0] != '/') {
    return invalid("kubernetesTokenFile must be an absolute path, not \"" + r.kubernetes_token_file + "\"");
  }
  return Status::ok();
}

size_t leases_of(const std::vector<secrets::FetchedSecret>& got) {
  size_t n = 0;
  for (const auto& s : got) n += s.lease_id.empty() ? 0 : 1;
  return n;
}

}  // namespace

void Agent::configure_secrets(const policy::SecretsSettings& s) {
  std::shared_ptr<secrets::SecretSource> source;
  if (s.backend == policy::SecretsSettings::Backend::kVault) {
    source = options_.secret_source ? options_.secret_source(s) : std::make_shared<secrets::VaultFetcher>(s);
  }
  secrets_->configure(std::move(source), std::chrono::milliseconds(s.refresh_ms));
  log_.debug(std::string("secrets: backend ") + policy::backend_name(s.backend) +
             (s.refresh_ms > 0 ? ", files refreshed every " + std::to_string(s.refresh_ms) + " ms" : std::string()));
}

bool Agent::handle_secrets_fetch(const Json& msg, InternalServer::ReplyFn& reply) {
  Metrics* metrics = &metrics_;
  auto fail = [&](const std::string& error, const char* code) {
    metrics->add("runguard_secret_fetches_total", {{"result", code}});
    reply(secret_error(error, code));
    return true;
  };
  auto it = msg.find("request");
  if (it == msg.end()) return fail("secrets.fetch needs a \"request\" object", "invalid");
  auto req = secrets::fetch_request_from_json(*it);
  if (!req.is_ok()) return fail("secrets.fetch: " + req.status().message(), "invalid");
  if (Status s = check_fetch(*req); !s.is_ok()) return fail("secrets.fetch: " + s.message(), "invalid");
  std::shared_ptr<secrets::SecretSource> source = secrets_->source();
  if (!source) {
    return fail("secrets.fetch: secrets.backend is not vault in " + policy_->current().source +
                    "; runguardd fetches only Vault secrets (the runtime reads file secrets itself)",
                "invalid");
  }
  SecretsManager* manager = secrets_.get();
  const Logger* log = &log_;
  // The pool is stopped (its threads joined) before the manager and the metrics go away.
  auto task = [source, manager, metrics, log, req = std::move(req).value(), reply]() {
    std::string what = "secrets.fetch for container " + req.container + " (" + std::to_string(req.secrets.size()) + " secrets)";
    auto got = source->fetch(req);
    if (!got.is_ok()) {
      const char* code = secret_code(got.status().code());
      metrics->add("runguard_secret_fetches_total", {{"result", code}});
      log->info(what + ": " + code + ": " + got.status().message());
      reply(secret_error(got.status().message(), code));
      return;
    }
    manager->note_fetch(req, *got);  // before the reply: the runtime's `attached` may follow at once
    metrics->add("runguard_secret_fetches_total", {{"result", "ok"}});
    log->debug(what + ": ok, " + std::to_string(leases_of(*got)) + " leases");
    Json r = frame::ok_reply(secrets::fetched_to_json(*got));
    secrets::wipe(*got);
    reply(std::move(r));
  };
  if (!secret_workers_ || !secret_workers_->submit(task)) {
    return fail("runguardd is busy (" + std::to_string(options_.secret_queue) + " secrets requests waiting); fall back", "unavailable");
  }
  return true;
}

bool Agent::handle_secrets_revoke(const Json& msg, InternalServer::ReplyFn& reply) {
  auto it = msg.find("request");
  if (it == msg.end()) {
    reply(secret_error("secrets.revoke needs a \"request\" object", "invalid"));
    return true;
  }
  auto req = secrets::revoke_request_from_json(*it);
  Status valid = req.is_ok() ? pipeline::check_container_id(req->container) : req.status();
  if (!valid.is_ok()) {
    reply(secret_error("secrets.revoke: " + valid.message(), "invalid"));
    return true;
  }
  if (!secrets_->source()) {
    reply(secret_error("secrets.revoke: secrets.backend is not vault in " + policy_->current().source + "; runguardd holds no leases", "invalid"));
    return true;
  }
  SecretsManager* manager = secrets_.get();
  auto task = [manager, req = std::move(req).value(), reply]() {
    auto n = manager->revoke(req);
    if (!n.is_ok()) {
      reply(secret_error(n.status().message(), secret_code(n.status().code())));
      return;
    }
    reply(frame::ok_reply({{"revoked", static_cast<uint64_t>(*n)}}));
  };
  if (!secret_workers_ || !secret_workers_->submit(task)) {
    reply(secret_error("runguardd is busy (" + std::to_string(options_.secret_queue) + " secrets requests waiting); fall back", "unavailable"));
  }
  return true;
}

void Agent::handle_secrets_attached(const Json& msg) {
  auto it = msg.find("container");
  if (it == msg.end() || !it->is_string() || !pipeline::check_container_id(it->get<std::string>()).is_ok()) {
    return invalid_notification("secrets.attached", "no valid \"container\" id");
  }
  secrets_->attached(it->get<std::string>());
}

}  // namespace runguard::agent
