#include "vault_client.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

#include "http_client.h"

namespace runguard::secrets::vault {
namespace {

bool retryable_status(int s) { return s == 429 || s == 500 || s == 502 || s == 503; }

std::chrono::milliseconds backoff(int attempt) {
  int64_t ms = 100;
  for (int i = 0; i < attempt && ms < 1000; ++i) ms *= 3;
  return std::chrono::milliseconds(std::min<int64_t>(ms, 1000));
}

// Sleeps `pause` when it ends before `deadline`; false (no sleep) otherwise.
bool sleep_within(std::chrono::milliseconds pause, Deadline deadline) {
  if (std::chrono::steady_clock::now() + pause >= deadline) return false;
  std::this_thread::sleep_for(pause);
  return true;
}

// Replaces every occurrence of `secret` in `s` (a token never belongs in a message).
std::string scrub(std::string s, const std::string& secret) {
  if (secret.size() < 4) return s;
  for (size_t p = s.find(secret); p != std::string::npos; p = s.find(secret, p)) {
    s.replace(p, secret.size(), "<token>");
    p += 7;
  }
  return s;
}

// The request holds the token and perhaps a secret_id or JWT: wiped on every way out.
struct WipedRequest {
  HttpRequest req;
  ~WipedRequest() {
    wipe_string(req.body);
    for (auto& h : req.headers) wipe_string(h.second);
  }
};

}  // namespace

Result<std::unique_ptr<VaultClient>> VaultClient::create(const policy::VaultSettings& s) {
  if (s.address.empty()) return invalid("secrets.vault.address is not set");
  RG_ASSIGN_OR_RETURN(Url base, parse_base_url(s.address));
  if (s.namespace_.find_first_of("\r\n") != std::string::npos) return invalid("secrets.vault.namespace has a line break");
  std::shared_ptr<TlsContext> tls;
  if (base.tls) {
    RG_ASSIGN_OR_RETURN(tls, TlsContext::create(s.ca_file));
  }
  return std::unique_ptr<VaultClient>(
      new VaultClient(std::move(base), std::move(tls), s.namespace_, std::max<int64_t>(s.retries, 0), s.timeout_ms));
}

Result<Envelope> interpret_reply(HttpResponse& r, const ReplyContext& ctx) {
  std::string where = "vault " + ctx.origin + ": " + ctx.action + " " + ctx.path;
  Json body;
  bool json_ok = false;
  if (!r.body.empty()) {
    auto j = parse_json(r.body, "vault reply");
    if (j.is_ok()) {
      body = std::move(j).value();
      json_ok = true;
    }
  }
  wipe_string(r.body);
  if (r.status < 200 || r.status >= 300) {
    Status s = reply_error(r.status, body, ctx);
    cleanse_json(body);
    return s;
  }
  if (!json_ok && r.status != 204 && !(r.status == 200 && r.header("content-length") == "0")) {
    return Status(Code::kUnavailable, where + ": unexpected response (HTTP " + std::to_string(r.status) + ", not JSON)");
  }
  auto e = parse_envelope(body);
  cleanse_json(body);
  if (!e.is_ok()) return Status(Code::kUnavailable, where + ": " + e.status().message());
  return e;
}

Result<Envelope> VaultClient::call(const VaultCall& c, Deadline deadline) const {
  ReplyContext ctx{origin_, c.action, c.path, c.version};
  WipedRequest w;
  HttpRequest& req = w.req;
  req.method = c.method;
  req.target = base_.target + "/v1/" + c.path + (c.version != 0 ? "?version=" + std::to_string(c.version) : "");
  req.headers.emplace_back("X-Vault-Request", "true");
  if (!c.token.empty()) req.headers.emplace_back("X-Vault-Token", c.token);
  if (!namespace_.empty()) req.headers.emplace_back("X-Vault-Namespace", namespace_);
  if (c.body.has_value()) req.body = dump_json(*c.body);

  std::string where = "vault " + origin_ + ": " + c.action + " " + c.path;
  Url url = base_;
  bool redirected = false;
  // Reading dynamic credentials or logging in makes something in Vault: after a reply that got
  // lost, a retry would orphan it (a database user alive until its TTL). Those are retried only
  // when Vault surely did nothing: no connection, 429, 503.
  bool idempotent = c.path.rfind("sys/leases/", 0) == 0 ||
                    (c.method == "GET" && c.path.find("/creds/") == std::string::npos && c.path.rfind("creds/", 0) != 0);
  auto nothing_sent = [](const Status& s) {
    return s.error_number() == ECONNREFUSED || s.error_number() == EHOSTUNREACH || s.error_number() == ENETUNREACH;
  };
  for (int attempt = 0;; ) {
    auto r = http_exchange(url, tls_.get(), req, deadline);
    if (!r.is_ok()) {
      const Status& s = r.status();
      if (is_retryable_transport_error(s) && (idempotent || nothing_sent(s)) && attempt < retries_ &&
          sleep_within(backoff(attempt), deadline)) {
        ++attempt;
        continue;
      }
      std::string msg = where + ": " + s.message();
      if (s.error_number() == ETIMEDOUT) msg += " (vault.timeout is " + std::to_string(timeout_ms_) + " ms)";
      if (attempt > 0) msg += " (after " + std::to_string(attempt + 1) + " attempts)";
      return Status(s.code() == Code::kInvalidArgument ? Code::kInvalidArgument : Code::kUnavailable, scrub(msg, c.token));
    }
    if (r->status == 307 && !redirected) {
      std::string loc = r->header("location");
      wipe_string(r->body);
      Url next = url;
      if (!loc.empty() && loc[0] == '/') {
        if (!is_request_target_text(loc)) {
          return Status(Code::kUnavailable, where + ": redirected (307) to a path with a space or a control character; not followed");
        }
        next.target = loc;
      } else {
        auto u = parse_location(loc);
        if (!u.is_ok()) return Status(Code::kUnavailable, where + ": redirected (307) to an unusable location: " + u.status().message());
        if (u->tls != url.tls) {
          return Status(Code::kUnavailable, where + ": redirected (307) to " + u->origin() + ", which changes the scheme; not followed");
        }
        next = *u;
      }
      req.target = next.target;
      url = next;
      redirected = true;
      continue;
    }
    if (retryable_status(r->status) && (idempotent || r->status == 429 || r->status == 503) && attempt < retries_ &&
        sleep_within(backoff(attempt), deadline)) {
      wipe_string(r->body);
      ++attempt;
      continue;
    }
    auto out = interpret_reply(*r, ctx);
    if (!out.is_ok()) return Status(out.status().code(), scrub(out.status().message(), c.token));
    return out;
  }
}

}  // namespace runguard::secrets::vault
