// What Vault (or whatever answers at vault.address) and the secrets wire can shape
// (secrets/src/vault/, secrets/wire.h, policy/secrets.h). The first byte picks the reader:
//   0: an HTTP/1.1 response off the connection (the second byte picks a chunk size) ->
//      ResponseParser -> interpret_reply -> the secret's value (secret_value), as fetch reads it;
//   1: a reply body with the status the second byte picks (200, 204, 307, 403, 404, 429, 503, ...)
//      -> interpret_reply -> secret_value, and vault_errors() on it;
//   2: vault.address and a 307's Location -> parse_base_url / parse_location;
//   3: a secret reference (an annotation's value) and a secret name;
//   4: the secrets wire documents (fetch and revoke requests, a fetch reply).
// Nothing may crash or throw; a message never grows without bound; what parses must round-trip.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http_response.h"
#include "runguard/policy/secrets.h"
#include "runguard/secrets/wire.h"
#include "url.h"
#include "vault_client.h"
#include "vault_reply.h"

using namespace runguard;  // NOLINT(google-build-using-namespace)
namespace vault = runguard::secrets::vault;

namespace {

void urls(std::string_view in);

const vault::ReplyContext kCtx{"https://vault.example:8200", "reading", "kv/data/app/db", 0};

void use_reply(vault::HttpResponse& r) {
  auto e = vault::interpret_reply(r, kCtx);
  if (!r.body.empty() && r.body.find_first_not_of('\0') != std::string::npos) __builtin_trap();  // the body is wiped
  if (!e.is_ok()) {
    // Messages carry Vault's words cut to 400 bytes, plus where: never the whole body, no line break.
    if (e.status().message().size() > 1024) __builtin_trap();
    for (char c : e.status().message()) {
      if (static_cast<unsigned char>(c) < 0x20) __builtin_trap();
    }
    return;
  }
  if (e->lease_duration < 0 || e->auth_lease_duration < 0) __builtin_trap();
  for (const char* ref : {"vault:kv/data/app/db#password", "vault:kv/data/app/db?version=2", "vault:database/creds/app"}) {
    auto parsed = policy::parse_secret_ref(ref, policy::SecretsSettings::Backend::kVault);
    auto v = vault::secret_value(e->data, *parsed, kCtx.origin);
    if (v.is_ok() && v->size() > secrets::kMaxValueBytes) __builtin_trap();
  }
  vault::cleanse_json(e->data);
}

void http_stream(std::string_view in) {
  if (in.empty()) return;
  size_t chunk = size_t{static_cast<uint8_t>(in[0])} + 1;
  in.remove_prefix(1);
  vault::ResponseParser p;
  Status s;
  for (size_t at = 0; at < in.size() && s.is_ok() && !p.complete(); at += chunk) s = p.feed(in.substr(at, chunk));
  if (s.is_ok()) s = p.finish();
  if (!s.is_ok()) {
    // The server's bytes in a message are few and printable (runc's log, containerd's error).
    if (s.message().size() > 256) __builtin_trap();
    for (char c : s.message()) {
      if (static_cast<unsigned char>(c) < 0x20) __builtin_trap();
    }
    return;
  }
  vault::HttpResponse& r = p.response();
  if (r.body.size() > vault::kMaxBodyBytes || r.body.size() > in.size()) __builtin_trap();
  if (r.status >= 100 && r.status < 200) __builtin_trap();  // interim responses are skipped
  if (r.status == 307) urls(r.header("location"));  // call() follows it once
  use_reply(r);
}

void reply_body(std::string_view in) {
  static const int kStatus[] = {200, 204, 301, 307, 400, 401, 403, 404, 412, 429, 500, 502, 503, 504, 206, 299};
  if (in.empty()) return;
  vault::HttpResponse r;
  r.status = kStatus[static_cast<uint8_t>(in[0]) % 16];
  if (static_cast<uint8_t>(in[0]) >= 128) r.headers.emplace_back("content-length", "0");
  r.body = std::string(in.substr(1));
  auto j = parse_json(r.body, "fuzz");
  if (j.is_ok()) {
    std::string said = vault::vault_errors(*j);
    if (said.size() > 403) __builtin_trap();  // 400 bytes and "..."
    for (char c : said) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) __builtin_trap();  // one line
    }
  }
  use_reply(r);
}

void urls(std::string_view in) {
  for (auto parsed : {vault::parse_base_url(in), vault::parse_location(in)}) {
    if (!parsed.is_ok()) continue;
    const vault::Url& u = *parsed;
    if (u.host.empty() || u.port == 0) __builtin_trap();
    // The host goes into the Host header, SNI and getaddrinfo: no byte that ends or splits a line.
    for (char c : u.host) {
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '/') __builtin_trap();
    }
    // The target goes into the request line: nothing that splits or ends it.
    if (!vault::is_request_target_text(u.target)) __builtin_trap();
    (void)u.authority();
    (void)u.host_is_ip();
    (void)vault::is_loopback_ip(u.host);
  }
}

void refs(std::string_view in) {
  for (auto backend : {policy::SecretsSettings::Backend::kVault, policy::SecretsSettings::Backend::kFile}) {
    auto r = policy::parse_secret_ref(in, backend);
    if (!r.is_ok()) continue;
    // No segment climbs out of the mount or the file backend's directory ("..aa" is a name).
    if (r->path.empty() || r->path.front() == '/' || r->path.back() == '/') __builtin_trap();
    for (size_t start = 0; start <= r->path.size();) {
      size_t end = std::min(r->path.find('/', start), r->path.size());
      std::string_view seg = std::string_view(r->path).substr(start, end - start);
      if (seg.empty() || seg == "." || seg == "..") __builtin_trap();
      start = end + 1;
    }
    auto again = policy::parse_secret_ref(policy::secret_ref_to_string(*r), backend);
    if (!again.is_ok() || again->path != r->path || again->key != r->key || again->version != r->version ||
        again->backend != r->backend) {
      __builtin_trap();
    }
  }
  if (policy::check_secret_name(in).is_ok() && (in.empty() || in.find('/') != std::string_view::npos || in[0] == '.')) __builtin_trap();
}

void wire(std::string_view in) {
  auto j = parse_json(in, "fuzz");
  if (!j.is_ok()) return;
  if (auto f = secrets::fetch_request_from_json(*j); f.is_ok()) {
    auto back = secrets::fetch_request_from_json(secrets::fetch_request_to_json(*f));
    if (!back.is_ok() || back->secrets.size() != f->secrets.size() || back->container != f->container) __builtin_trap();
  }
  if (auto r = secrets::revoke_request_from_json(*j); r.is_ok()) {
    auto back = secrets::revoke_request_from_json(secrets::revoke_request_to_json(*r));
    if (!back.is_ok() || back->leases != r->leases) __builtin_trap();
  }
  if (auto got = secrets::fetched_from_json(*j); got.is_ok()) {
    if (got->size() > secrets::kMaxSecrets) __builtin_trap();
    auto back = secrets::fetched_from_json(secrets::fetched_to_json(*got));
    if (!back.is_ok() || back->size() != got->size()) __builtin_trap();
    for (size_t i = 0; i < got->size(); ++i) {
      if ((*back)[i].value != (*got)[i].value || (*back)[i].lease_id != (*got)[i].lease_id) __builtin_trap();
    }
    secrets::wipe(*got);
    secrets::wipe(*back);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0: http_stream(in); break;
    case 1: reply_body(in); break;
    case 2: urls(in); break;
    case 3: refs(in); break;
    default: wire(in); break;
  }
  return 0;
}
