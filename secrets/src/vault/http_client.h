// One HTTP/1.1 exchange: connect, send the request, read the response, close
// (`Connection: close`, one request per connection: Vault calls are few, and this keeps the
// client free of connection state). The whole exchange is bounded by one Deadline.
//
// Errors: those of Connection (transport.h) and ResponseParser (http_response.h), all
// kUnavailable except a refused http:// address (kInvalidArgument).
//
// Thread-safety: free function; `tls` may be shared.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "http_response.h"
#include "runguard/common/status.h"
#include "transport.h"
#include "url.h"

namespace runguard::secrets::vault {

struct HttpRequest {
  std::string method;   // "GET", "PUT", "POST"
  std::string target;   // "/v1/kv/data/app?version=2"
  std::vector<std::pair<std::string, std::string>> headers;  // besides Host, Connection, Content-*
  std::string body;     // sent with Content-Type: application/json when not empty
};

// Sends `req` to `url`'s host (its target is ignored: `req.target` is sent). The request text,
// which may hold a token, is wiped from memory once sent.
Result<HttpResponse> http_exchange(const Url& url, const TlsContext* tls, const HttpRequest& req, Deadline deadline);

// Overwrites a string's bytes (OPENSSL_cleanse) before it is released.
void wipe_string(std::string& s);

}  // namespace runguard::secrets::vault
