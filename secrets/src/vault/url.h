// The Vault address (vault.address) and a 307's Location, split into what a connection needs.
//
// Grammar: scheme "://" host [":" port] [path], scheme "http" | "https" (lowercase or not), host a
// name, an IPv4 literal or a bracketed IPv6 literal ("[::1]"), port 1..65535 (default 443 / 80).
// No userinfo ("user@"), no fragment, no space or control character in the path (the bytes of a
// host and a path go into the request line and the Host header). A base address's path is a
// prefix put before "/v1/" (a Vault behind a path-routing proxy); a Location's path and query are
// kept as the request target.
//
// Pure: no I/O. Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "runguard/common/status.h"

namespace runguard::secrets::vault {

struct Url {
  bool tls = true;      // https
  std::string host;     // without brackets
  uint16_t port = 0;
  std::string target;   // "/prefix" for a base address ("" when none), "/v1/x?y" for a Location

  bool host_is_ip() const;
  std::string authority() const;  // host:port, brackets around an IPv6 literal (the Host header)
  std::string origin() const;     // "https://host:port", for messages
};

// vault.address. The target is the path prefix without a trailing "/"; a query is refused.
Result<Url> parse_base_url(std::string_view text);

// A 307's Location: an absolute URL whose target is sent as is ("/" when it has no path).
Result<Url> parse_location(std::string_view text);

// True when `s` may be sent as (part of) a request target: no space, control character or DEL,
// which would split or end the request line (RFC 9112 3.2; such bytes must be percent-encoded).
bool is_request_target_text(std::string_view s);

// True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104 given as text ("127.0.0.1", "::1").
bool is_loopback_ip(std::string_view ip);

}  // namespace runguard::secrets::vault
