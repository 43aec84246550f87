#include "url.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "runguard/common/strings.h"

namespace runguard::secrets::vault {
namespace {

// Control bytes as '?', for messages (a Location is the server's text).
std::string printable(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return out;
}

Result<Url> parse_url(std::string_view text, const char* what) {
  auto bad = [&](const std::string& why) {
    return invalid(std::string(what) + " \"" + printable(text) + "\": " + why);
  };
  Url u;
  size_t sep = text.find("://");
  if (sep == std::string_view::npos) return bad("not a URL (expected https://HOST[:PORT])");
  std::string scheme = to_lower(text.substr(0, sep));
  if (scheme == "https") u.tls = true;
  else if (scheme == "http") u.tls = false;
  else return bad("scheme must be https or http");
  std::string_view rest = text.substr(sep + 3);
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view tail = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (tail.find('#') != std::string_view::npos) return bad("a fragment (#) is not allowed");
  if (!is_request_target_text(tail)) return bad("the path has a space or a control character (not percent-encoded)");
  if (authority.find('@') != std::string_view::npos) return bad("user information (user@) is not allowed");
  std::string_view port_text;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated [IPv6] literal");
    u.host = std::string(authority.substr(1, close - 1));
    // inet_pton reads a C string: a NUL would hide what follows it ("[::1<NUL><CR><LF>X: y]"),
    // which would then reach the Host header. An IPv6 literal is hex digits, ':' and '.' only.
    bool v6_chars = std::all_of(u.host.begin(), u.host.end(),
                                [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.'; });
    struct in6_addr a6;
    if (!v6_chars || ::inet_pton(AF_INET6, u.host.c_str(), &a6) != 1) {
      return bad("\"" + printable(u.host) + "\" is not an IPv6 address");
    }
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after[0] != ':') return bad("unexpected text after the IPv6 literal");
    if (!after.empty()) port_text = after.substr(1);
    if (!after.empty() && port_text.empty()) return bad("empty port");
  } else {
    size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return bad("empty port");
    }
    for (char c : u.host) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')) {
        return bad("host \"" + u.host + "\" has a character that is not allowed in a host name");
      }
    }
  }
  if (u.host.empty()) return bad("no host");
  u.port = u.tls ? 443 : 80;
  if (!port_text.empty()) {
    auto p = parse_u32(port_text);
    if (!p.has_value() || *p == 0 || *p > 65535) return bad("port \"" + std::string(port_text) + "\" is not 1..65535");
    u.port = static_cast<uint16_t>(*p);
  }
  u.target = std::string(tail);
  return u;
}

}  // namespace

bool Url::host_is_ip() const {
  unsigned char buf[sizeof(struct in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::string Url::authority() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string Url::origin() const { return std::string(tls ? "https://" : "http://") + authority(); }

Result<Url> parse_base_url(std::string_view text) {
  RG_ASSIGN_OR_RETURN(Url u, parse_url(text, "vault.address"));
  if (u.target.find('?') != std::string::npos) return invalid("vault.address \"" + std::string(text) + "\": a query is not allowed");
  while (!u.target.empty() && u.target.back() == '/') u.target.pop_back();
  if (!u.tls && u.host_is_ip() && !is_loopback_ip(u.host)) {
    return invalid("vault.address \"" + std::string(text) + "\": http:// is only allowed for a loopback address; use https://");
  }
  return u;
}

Result<Url> parse_location(std::string_view text) {
  RG_ASSIGN_OR_RETURN(Url u, parse_url(text, "redirect location"));
  if (u.target.empty() || u.target[0] != '/') u.target = "/" + u.target;
  return u;
}

bool is_request_target_text(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

bool is_loopback_ip(std::string_view ip) {
  std::string s(ip);
  unsigned char a4[4];
  if (::inet_pton(AF_INET, s.c_str(), a4) == 1) return a4[0] == 127;
  unsigned char a6[16];
  if (::inet_pton(AF_INET6, s.c_str(), a6) != 1) return false;
  static const unsigned char kLoop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a6, kLoop, 16) == 0) return true;
  return std::memcmp(a6, kMapped, 12) == 0 && a6[12] == 127;
}

}  // namespace runguard::secrets::vault
