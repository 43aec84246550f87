// One TCP connection to Vault, plain (loopback only) or TLS, every step bounded by a Deadline.
//
// Connecting: the host is resolved with getaddrinfo (a numeric host without a lookup; a name in a
// helper thread, abandoned when the deadline passes, since getaddrinfo cannot be interrupted),
// then each address is tried in turn with a non-blocking connect. Plain http is refused unless
// every address is a loopback one. No proxy support: Vault is reached directly (HTTP(S)_PROXY is
// ignored on purpose: a proxy would see the tokens and the values).
//
// TLS: peer verification is always on, TLS 1.2 at least; trust comes from the CA file (vault.caFile)
// or OpenSSL's default paths; the server's name (SNI and SSL_set1_host) or IP address
// (X509_VERIFY_PARAM_set1_ip_asc) must match its certificate. The socket is driven through memory
// BIOs so every send is MSG_NOSIGNAL (no SIGPIPE) and every wait a poll() against the deadline.
//
// Errors are kUnavailable. Those worth retrying (refused, reset, timed out, closed early) carry an
// errno; those that a retry cannot fix (the certificate is not trusted, http to a non-loopback
// address: kInvalidArgument) carry none.
//
// Thread-safety: a TlsContext is shared by concurrent connections; a Connection belongs to one thread.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "runguard/common/status.h"
#include "runguard/nsutil/fd.h"
#include "runguard/nsutil/unix_socket.h"
#include "url.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace runguard::secrets::vault {

using nsutil::Deadline;

// True for a transport error a new attempt may cure (see above).
bool is_retryable_transport_error(const Status& s);

class TlsContext {
 public:
  // `ca_file` "": OpenSSL's default verify paths. A CA file that does not load is kInvalidArgument.
  static Result<std::shared_ptr<TlsContext>> create(const std::string& ca_file);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  SSL_CTX* get() const { return ctx_; }

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

class Connection {
 public:
  // Connects to `url`'s host and port; with `url.tls`, completes the TLS handshake using `tls`.
  static Result<std::unique_ptr<Connection>> open(const Url& url, const TlsContext* tls, Deadline deadline);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Status write_all(std::string_view data, Deadline deadline);
  // Some bytes (at most `size`), waiting for them until `deadline`; 0 at the end of the stream.
  Result<size_t> read_some(char* buf, size_t size, Deadline deadline);

 private:
  Connection(nsutil::UniqueFd fd, std::string peer) : fd_(std::move(fd)), peer_(std::move(peer)) {}
  Status start_tls(const Url& url, const TlsContext& tls, Deadline deadline);
  template <typename Op>
  Result<int> drive_tls(Op op, Deadline deadline, const char* what);
  Status flush_tls(Deadline deadline);
  Status fill_tls(Deadline deadline);

  nsutil::UniqueFd fd_;
  std::string peer_;  // "127.0.0.1:8200", for messages
  SSL* ssl_ = nullptr;
  bool eof_ = false;  // the socket ended (TLS: fed to the read BIO)
};

}  // namespace runguard::secrets::vault
