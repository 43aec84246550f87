#include "vault_reply.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>

#include "runguard/common/strings.h"
#include "runguard/secrets/value.h"

namespace runguard::secrets::vault {
namespace {

constexpr size_t kMaxMessageBytes = 400;

Status unexpected(const std::string& why) { return Status(Code::kUnavailable, "unexpected response: " + why); }

// "1 error occurred:\n\t* permission denied\n\n" -> "permission denied"; "a\nb" -> "a; b".
std::string unwrap(std::string_view s) {
  if (size_t p = s.find(" occurred:"); p != std::string_view::npos && p < 32 && !s.empty() && std::isdigit(static_cast<unsigned char>(s[0]))) {
    s.remove_prefix(p + 10);
  }
  std::string out;
  for (const std::string& raw : split(s, '\n')) {
    std::string_view line = raw;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t' || line.front() == '*' || line.front() == '\r')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.remove_suffix(1);
    if (line.empty()) continue;
    if (!out.empty()) out += "; ";
    out += line;
  }
  return out;
}

std::string display_path(const ReplyContext& ctx) {
  return ctx.path + (ctx.version != 0 ? "?version=" + std::to_string(ctx.version) : "");
}

// 404 of a KV v2 version that exists but was deleted or destroyed: the envelope says which.
std::string deleted_version(const Json& body, const ReplyContext& ctx) {
  if (!body.is_object()) return "";
  auto d = body.find("data");
  if (d == body.end() || !d->is_object()) return "";
  auto m = d->find("metadata");
  if (m == d->end() || !m->is_object()) return "";
  uint64_t version = ctx.version;
  if (auto v = m->find("version"); v != m->end() && v->is_number_integer() && v->get<int64_t>() > 0) version = v->get<uint64_t>();
  std::string which = version != 0 ? "version " + std::to_string(version) : "the latest version";
  if (auto x = m->find("destroyed"); x != m->end() && x->is_boolean() && x->get<bool>()) {
    return which + " of " + ctx.path + " was destroyed; read another version";
  }
  if (auto t = m->find("deletion_time"); t != m->end() && t->is_string() && !t->get<std::string>().empty()) {
    // The server's text goes into the error (runc's log, containerd's message): only an RFC 3339
    // time is shown, not whatever else a reply carries there (found by fuzz_vault: 400 bytes of
    // binary went into the message unbounded, past what vault_errors() allows).
    const std::string& when = t->get<std::string>();
    bool stamp = when.size() <= 40 && std::all_of(when.begin(), when.end(), [](char c) {
                   return std::isdigit(static_cast<unsigned char>(c)) || std::string_view("-:.TZ+").find(c) != std::string_view::npos;
                 });
    return which + " of " + ctx.path + " was deleted" + (stamp ? " at " + when : std::string()) +
           "; undelete it or read another version";
  }
  return "";
}

}  // namespace

Result<Envelope> parse_envelope(const Json& body) {
  Envelope e;
  if (body.is_null()) return e;
  if (!body.is_object()) return unexpected(std::string("the reply is a JSON ") + json_type_name(body) + ", not an object");
  auto str = [&](const Json& obj, const char* k, std::string& out) -> Status {
    auto it = obj.find(k);
    if (it == obj.end() || it->is_null()) return Status::ok();
    if (!it->is_string()) return unexpected(std::string(k) + " is not a string");
    out = it->get<std::string>();
    return Status::ok();
  };
  auto num = [&](const Json& obj, const char* k, int64_t& out) -> Status {
    auto it = obj.find(k);
    if (it == obj.end() || it->is_null()) return Status::ok();
    if (!it->is_number_integer() || it->get<int64_t>() < 0) return unexpected(std::string(k) + " is not a non-negative integer");
    out = it->get<int64_t>();
    return Status::ok();
  };
  RG_RETURN_IF_ERROR(str(body, "lease_id", e.lease_id));
  RG_RETURN_IF_ERROR(num(body, "lease_duration", e.lease_duration));
  if (auto r = body.find("renewable"); r != body.end() && !r->is_null()) {
    if (!r->is_boolean()) return unexpected("renewable is not a boolean");
    e.renewable = r->get<bool>();
  }
  if (auto d = body.find("data"); d != body.end() && !d->is_null()) {
    if (!d->is_object()) return unexpected("data is not an object");
    e.data = *d;
  }
  if (auto a = body.find("auth"); a != body.end() && !a->is_null()) {
    if (!a->is_object()) return unexpected("auth is not an object");
    RG_RETURN_IF_ERROR(str(*a, "client_token", e.client_token));
    RG_RETURN_IF_ERROR(num(*a, "lease_duration", e.auth_lease_duration));
  }
  return e;
}

std::string vault_errors(const Json& body) {
  if (!body.is_object()) return "";
  auto it = body.find("errors");
  if (it == body.end() || !it->is_array()) return "";
  std::string out;
  for (const Json& e : *it) {
    if (!e.is_string()) continue;
    std::string one = unwrap(e.get<std::string>());
    if (one.empty()) continue;
    if (!out.empty()) out += "; ";
    out += one;
  }
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  if (out.size() > kMaxMessageBytes) {
    size_t cut = kMaxMessageBytes;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xc0) == 0x80) --cut;  // not inside a UTF-8 sequence
    out = out.substr(0, cut) + "...";
  }
  return out;
}

Status reply_error(int http_status, const Json& body, const ReplyContext& ctx) {
  std::string where = "vault " + ctx.origin + ": " + ctx.action + " " + display_path(ctx);
  std::string said = vault_errors(body);
  std::string tail = said.empty() ? "" : ": " + said;
  std::string code = " (HTTP " + std::to_string(http_status) + ")";
  switch (http_status) {
    case 403: return Status(Code::kDenied, where + ": " + (said.empty() ? "permission denied" : said));
    case 404: {
      std::string gone = deleted_version(body, ctx);
      if (!gone.empty()) return Status(Code::kNotFound, "vault " + ctx.origin + ": " + gone);
      return Status(Code::kNotFound, where + ": not found" + tail);
    }
    case 429: return Status(Code::kUnavailable, where + ": rate limited" + code + tail);
    default: break;
  }
  if (http_status == 503 && to_lower(said).find("sealed") != std::string::npos) {
    return Status(Code::kUnavailable, where + ": vault is sealed");
  }
  if (http_status >= 500) return Status(Code::kUnavailable, where + ": server error" + code + tail);
  if (http_status >= 300 && http_status < 400) return Status(Code::kUnavailable, where + ": unexpected redirect" + code);
  return Status(Code::kInvalidArgument, where + ": refused" + code + tail);
}

bool is_kv2_data(const Json& data) {
  if (!data.is_object() || data.size() < 2) return false;
  auto d = data.find("data");
  auto m = data.find("metadata");
  if (d == data.end() || m == data.end()) return false;
  if (!(d->is_object() || d->is_null()) || !m->is_object()) return false;
  auto v = m->find("version");
  return v != m->end() && v->is_number_integer();
}

Result<std::string> secret_value(const Json& data, const policy::SecretRef& ref, const std::string& origin) {
  if (is_kv2_data(data)) {
    const Json& inner = data["data"];
    if (inner.is_null()) return Status(Code::kNotFound, "vault " + origin + ": " + ref.path + " has no data at that version (deleted?)");
    return select_value(inner, ref.key, policy::secret_ref_to_string(ref));
  }
  if (data.is_object()) return select_value(data, ref.key, policy::secret_ref_to_string(ref));
  return Status(Code::kNotFound, "vault " + origin + ": reading " + ref.path + ": the reply has no data");
}

void cleanse_json(Json& j) {
  if (j.is_string()) {
    auto& s = j.get_ref<std::string&>();
    if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  } else if (j.is_structured()) {
    for (auto& child : j) cleanse_json(child);
  }
}

}  // namespace runguard::secrets::vault
