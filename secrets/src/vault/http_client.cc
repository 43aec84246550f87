#include "http_client.h"

#include <openssl/crypto.h>

#include <cerrno>

namespace runguard::secrets::vault {

void wipe_string(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

Result<HttpResponse> http_exchange(const Url& url, const TlsContext* tls, const HttpRequest& req, Deadline deadline) {
  std::string text = req.method + " " + req.target + " HTTP/1.1\r\nHost: " + url.authority() +
                     "\r\nUser-Agent: runguard\r\nAccept: application/json\r\nConnection: close\r\n";
  for (const auto& [k, v] : req.headers) text += k + ": " + v + "\r\n";
  if (!req.body.empty()) text += "Content-Type: application/json\r\n";
  if (!req.body.empty() || req.method != "GET") text += "Content-Length: " + std::to_string(req.body.size()) + "\r\n";
  text += "\r\n";
  text += req.body;

  auto conn = Connection::open(url, tls, deadline);
  if (!conn.is_ok()) {
    wipe_string(text);
    return conn.status();
  }
  Status sent = (*conn)->write_all(text, deadline);
  wipe_string(text);
  // A server may answer (an error) and close before reading the whole request: read on regardless.
  ResponseParser parser;
  char buf[16384];
  while (!parser.complete()) {
    auto n = (*conn)->read_some(buf, sizeof buf, deadline);
    if (!n.is_ok()) return sent.is_ok() ? n.status() : sent;
    if (*n == 0) {
      Status fin = parser.finish();
      // Closed early: a connection error, worth another attempt (transport.h).
      if (!fin.is_ok()) return sent.is_ok() ? Status(Code::kUnavailable, fin.message(), ECONNRESET) : sent;
      break;
    }
    Status fed = parser.feed(std::string_view(buf, *n));
    OPENSSL_cleanse(buf, *n);
    RG_RETURN_IF_ERROR(fed);
  }
  return std::move(parser.response());
}

}  // namespace runguard::secrets::vault
