// VaultFetcher: authentication, reads, leases (vault.h). The HTTP and reply details are in
// vault_client.h; the credential caches in vault_auth.h.
#include "runguard/secrets/vault.h"

#include <algorithm>
#include <chrono>

#include "http_client.h"
#include "runguard/policy/secrets.h"
#include "runguard/secrets/value.h"
#include "vault_auth.h"
#include "vault_client.h"

namespace runguard::secrets {
namespace {

using vault::Deadline;
using vault::Envelope;
using vault::VaultCall;
using Method = policy::VaultAuth::Method;

// Revoking what a failed fetch took gets what is left of the budget, but at least this much.
constexpr auto kMinCleanupTime = std::chrono::milliseconds(250);

bool contains(const std::string& s, const char* needle) { return s.find(needle) != std::string::npos; }

Status with_prefix(const Status& s, const std::string& prefix) { return Status(s.code(), prefix + s.message()); }

}  // namespace

struct VaultFetcher::Impl {
  // Whose credentials: a Kubernetes login is per container (a pod's containers share one JWT, and
  // revoking one container's login token must not take its siblings' leases with it).
  struct Who {
    const std::string& container;
    const std::string& token_file;
  };

  struct Credential {
    std::string token;
    std::string cache_key;  // "" for the token file
    bool from_cache = false;
    ~Credential() { vault::wipe_string(token); }
  };

  policy::SecretsSettings settings;
  Status init;
  std::unique_ptr<vault::VaultClient> client;
  vault::TokenFile token_file;
  vault::LoginCache logins;

  Deadline deadline() const {
    int64_t ms = settings.vault.timeout_ms > 0 ? settings.vault.timeout_ms : 5000;
    return std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  }

  const std::string& mount_or(const char* dflt) const {
    static const std::string kApprole = "approle", kKubernetes = "kubernetes";
    if (!settings.vault.auth.mount.empty()) return settings.vault.auth.mount;
    return std::string_view(dflt) == "approle" ? kApprole : kKubernetes;
  }

  // POST auth/<mount>/login; caches the token under `key`.
  Result<std::string> login(const std::string& mount, Json body, const std::string& key, Deadline d) {
    VaultCall c{"POST", "auth/" + mount + "/login", 0, std::move(body), "", "logging in at"};
    auto e = client->call(c, d);
    vault::cleanse_json(*c.body);
    if (!e.is_ok()) return e.status();
    if (e->client_token.empty()) {
      return Status(Code::kUnavailable, "vault " + client->origin() + ": logging in at " + c.path + ": the reply has no auth.client_token");
    }
    logins.put(key, e->client_token, e->auth_lease_duration);
    std::string token = std::move(e->client_token);
    return token;
  }

  static std::string kubernetes_key(const std::string& container, const std::string& jwt) {
    return "kubernetes:" + container + ":" + vault::sha256_hex(jwt);
  }

  // The cached login for c.cache_key. One past 2/3 of its TTL is renewed (auth/token/renew-self)
  // rather than replaced: Vault revokes a token's leases when it expires, so the token that took
  // a container's leases must live as long as they do. False when there is none or it cannot be
  // renewed (the caller logs in again).
  bool cached(Credential& c, Deadline d) {
    auto hit = logins.lookup(c.cache_key);
    if (!hit.has_value()) return false;
    if (!hit->second) {
      VaultCall renew{"POST", "auth/token/renew-self", 0, std::nullopt, hit->first, "renewing the login token at"};
      auto e = client->call(renew, d);
      vault::wipe_string(renew.token);
      if (!e.is_ok() || e->auth_lease_duration <= 0) {
        vault::wipe_string(hit->first);
        return false;
      }
      logins.put(c.cache_key, hit->first, e->auth_lease_duration);
    }
    c.token = std::move(hit->first);
    c.from_cache = true;
    return true;
  }

  // The token to send: the token file's, or a (cached) AppRole / Kubernetes login. `fresh` skips the cache.
  Result<Credential> credential(const Who& who, Deadline d, bool fresh) {
    const policy::VaultAuth& a = settings.vault.auth;
    Credential c;
    switch (a.method) {
      case Method::kToken: {
        RG_ASSIGN_OR_RETURN(c.token, token_file.token(a.token_file));
        return c;
      }
      case Method::kAppRole: {
        c.cache_key = "approle";
        if (!fresh && cached(c, d)) return c;
        RG_ASSIGN_OR_RETURN(std::string secret_id, vault::read_credential_file(a.secret_id_file, "vault.auth.secretIdFile"));
        Json body = {{"role_id", a.role_id}, {"secret_id", secret_id}};
        vault::wipe_string(secret_id);
        RG_ASSIGN_OR_RETURN(c.token, login(mount_or("approle"), std::move(body), c.cache_key, d));
        return c;
      }
      case Method::kKubernetes: {
        if (who.token_file.empty()) {
          return invalid("vault.auth.method is kubernetes, but the request names no service-account token file "
                         "(is the container in a Kubernetes pod with a service-account token mounted?)");
        }
        RG_ASSIGN_OR_RETURN(std::string jwt, vault::read_service_account_token(who.token_file));
        Status shape = vault::check_jwt(jwt, who.token_file);
        c.cache_key = kubernetes_key(who.container, jwt);
        if (!shape.is_ok()) {
          vault::wipe_string(jwt);
          return shape;
        }
        if (!fresh && cached(c, d)) {
          vault::wipe_string(jwt);
          return c;
        }
        Json body = {{"role", a.role}, {"jwt", jwt}};
        vault::wipe_string(jwt);
        RG_ASSIGN_OR_RETURN(c.token, login(mount_or("kubernetes"), std::move(body), c.cache_key, d));
        return c;
      }
    }
    return Status(Code::kInternal, "unknown vault.auth.method");
  }

  // Makes `c` with the right token; a cached login token Vault calls invalid is replaced once.
  Result<Envelope> authed_call(VaultCall c, const Who& who, Deadline d) {
    RG_ASSIGN_OR_RETURN(Credential cred, credential(who, d, false));
    c.token = cred.token;
    auto r = client->call(c, d);
    if (!r.is_ok() && r.status().code() == Code::kDenied && contains(r.status().message(), "invalid token")) {
      if (cred.from_cache) {
        (void)logins.take(cred.cache_key);
        vault::wipe_string(c.token);
        RG_ASSIGN_OR_RETURN(Credential again, credential(who, d, true));
        c.token = again.token;
        r = client->call(c, d);
      } else if (settings.vault.auth.method == Method::kToken) {
        r = Status(Code::kDenied, r.status().message() + " (the token in vault.auth.tokenFile " + settings.vault.auth.token_file +
                                      " is not valid: renew or replace it)");
      }
    }
    vault::wipe_string(c.token);
    return r;
  }

  Status revoke_lease(const std::string& lease, const Who& who, Deadline d) {
    VaultCall c{"PUT", "sys/leases/revoke", 0, Json{{"lease_id", lease}}, "", "revoking lease " + lease + " at"};
    auto r = authed_call(std::move(c), who, d);
    if (r.is_ok() || r.status().code() == Code::kNotFound) return Status::ok();  // not found: already gone
    if (r.status().code() == Code::kDenied && !contains(r.status().message(), "invalid token")) {
      // Vault's default policy grants renew and lookup, not revoke.
      return Status(Code::kDenied, r.status().message() + " (the token's Vault policy must allow update on sys/leases/revoke)");
    }
    return r.status();
  }

  void revoke_taken(const std::vector<FetchedSecret>& taken, const Who& who, Deadline d) {
    Deadline cleanup = std::max(d, std::chrono::steady_clock::now() + kMinCleanupTime);
    for (const FetchedSecret& s : taken) {
      if (!s.lease_id.empty()) (void)revoke_lease(s.lease_id, who, cleanup);
    }
  }

  Result<FetchedSecret> read_one(const RequestedSecret& req, const policy::SecretRef& ref, const Who& who, Deadline d) {
    RG_ASSIGN_OR_RETURN(Envelope e, authed_call({"GET", ref.path, ref.version, std::nullopt, "", "reading"}, who, d));
    FetchedSecret out{req.name, "", e.lease_id, e.lease_duration, e.renewable};
    Result<std::string> value = vault::secret_value(e.data, ref, client->origin());
    vault::cleanse_json(e.data);
    if (!value.is_ok()) {
      // A dynamic secret's lease was taken even though its value is of no use: give it back.
      if (!e.lease_id.empty()) revoke_taken({out}, who, d);
      return value.status();
    }
    out.value = std::move(value).value();
    return out;
  }
};

VaultFetcher::VaultFetcher(policy::SecretsSettings settings) : impl_(std::make_unique<Impl>()) {
  impl_->settings = std::move(settings);
  auto c = vault::VaultClient::create(impl_->settings.vault);
  if (c.is_ok()) impl_->client = std::move(c).value();
  else impl_->init = with_prefix(c.status(), "vault client: ");
}

VaultFetcher::~VaultFetcher() = default;

const policy::SecretsSettings& VaultFetcher::settings() const { return impl_->settings; }

Result<std::vector<FetchedSecret>> VaultFetcher::fetch(const FetchRequest& r) {
  RG_RETURN_IF_ERROR(impl_->init);
  Deadline d = impl_->deadline();
  if (r.secrets.size() > kMaxSecrets) {
    return invalid("a fetch asks for " + std::to_string(r.secrets.size()) + " secrets; at most " + std::to_string(kMaxSecrets));
  }
  std::vector<policy::SecretRef> refs;
  for (const RequestedSecret& s : r.secrets) {
    auto ref = policy::parse_secret_ref(s.ref, policy::SecretsSettings::Backend::kVault);
    if (!ref.is_ok()) return invalid("secret \"" + s.name + "\": " + ref.status().message());
    if (ref->backend != policy::SecretsSettings::Backend::kVault) {
      return invalid("secret \"" + s.name + "\": " + s.ref + " is not a vault: reference");
    }
    if (ref->version != 0 && ("/" + ref->path).find("/data/") == std::string::npos) {
      return invalid("secret \"" + s.name + "\": " + s.ref + ": ?version= needs a KV v2 path (<mount>/data/<path>)");
    }
    refs.push_back(std::move(ref).value());
  }
  std::vector<FetchedSecret> out;
  Impl::Who who{r.container, r.kubernetes_token_file};
  for (size_t i = 0; i < refs.size(); ++i) {
    auto one = impl_->read_one(r.secrets[i], refs[i], who, d);
    if (!one.is_ok()) {
      impl_->revoke_taken(out, who, d);
      wipe(out);
      return with_prefix(one.status(), "secret \"" + r.secrets[i].name + "\": ");
    }
    out.push_back(std::move(one).value());
  }
  return out;
}

Status VaultFetcher::revoke(const RevokeRequest& r) {
  RG_RETURN_IF_ERROR(impl_->init);
  Deadline d = impl_->deadline();
  Status first;
  Impl::Who who{r.container, r.kubernetes_token_file};
  for (const std::string& lease : r.leases) {
    Status s = impl_->revoke_lease(lease, who, d);
    if (!s.is_ok() && first.is_ok()) first = s;
  }
  if (impl_->settings.vault.auth.method != Method::kKubernetes || r.kubernetes_token_file.empty()) return first;
  // The login token this pod's JWT got: revoked too, so it does not outlive the container.
  auto jwt = vault::read_service_account_token(r.kubernetes_token_file);
  if (!jwt.is_ok()) return first;  // the pod is gone: its login token expires on its own
  std::string key = Impl::kubernetes_key(r.container, *jwt);
  vault::wipe_string(*jwt);
  auto token = impl_->logins.take(key);
  if (!token.has_value()) return first;
  VaultCall c{"POST", "auth/token/revoke-self", 0, std::nullopt, *token, "revoking the pod's login token at"};
  vault::wipe_string(*token);
  auto e = impl_->client->call(c, d);
  vault::wipe_string(c.token);
  if (!e.is_ok() && e.status().code() != Code::kDenied && first.is_ok()) first = e.status();  // denied: it already expired
  return first;
}

Result<int64_t> VaultFetcher::renew(const std::string& container, const std::string& lease_id, int64_t increment_seconds,
                                    const std::string& kubernetes_token_file) {
  RG_RETURN_IF_ERROR(impl_->init);
  if (lease_id.empty()) return invalid("renewing a lease: no lease id");
  Json body = {{"lease_id", lease_id}, {"increment", std::max<int64_t>(increment_seconds, 0)}};
  VaultCall c{"PUT", "sys/leases/renew", 0, std::move(body), "", "renewing lease " + lease_id + " at"};
  RG_ASSIGN_OR_RETURN(Envelope e, impl_->authed_call(std::move(c), Impl::Who{container, kubernetes_token_file}, impl_->deadline()));
  return e.lease_duration;
}

Status VaultFetcher::keep_alive(const std::string& container, const std::string& kubernetes_token_file) {
  RG_RETURN_IF_ERROR(impl_->init);
  if (impl_->settings.vault.auth.method == Method::kToken) return Status::ok();  // the token file's owner renews it
  auto c = impl_->credential(Impl::Who{container, kubernetes_token_file}, impl_->deadline(), false);
  return c.is_ok() ? Status::ok() : c.status();
}

}  // namespace runguard::secrets
