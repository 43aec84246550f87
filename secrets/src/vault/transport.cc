#include "transport.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace runguard::secrets::vault {
namespace {

struct Addr {
  struct sockaddr_storage ss;
  socklen_t len = 0;
  std::string text;  // "127.0.0.1:8200"
  bool loopback = false;
};

std::string openssl_error() {
  unsigned long e = ERR_peek_last_error();
  if (e == 0) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// A Status from nsutil's socket calls, as a transport error (kUnavailable, errno kept).
Status transport_error(const Status& s) {
  std::string msg = s.code() == Code::kIo ? s.to_string() : s.message();
  return Status(Code::kUnavailable, msg, s.error_number() != 0 ? s.error_number() : EIO);
}

std::vector<Addr> addresses(const struct addrinfo* list) {
  std::vector<Addr> out;
  for (const struct addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    Addr a;
    std::memcpy(&a.ss, ai->ai_addr, ai->ai_addrlen);
    a.len = ai->ai_addrlen;
    char host[INET6_ADDRSTRLEN] = "";
    uint16_t port = 0;
    if (ai->ai_family == AF_INET) {
      auto* in = reinterpret_cast<const struct sockaddr_in*>(ai->ai_addr);
      ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
      port = ntohs(in->sin_port);
      a.text = std::string(host) + ":" + std::to_string(port);
    } else {
      auto* in6 = reinterpret_cast<const struct sockaddr_in6*>(ai->ai_addr);
      ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
      port = ntohs(in6->sin6_port);
      a.text = "[" + std::string(host) + "]:" + std::to_string(port);
    }
    a.loopback = is_loopback_ip(host);
    out.push_back(a);
  }
  return out;
}

// getaddrinfo in a thread the caller may walk away from when the deadline passes.
Result<std::vector<Addr>> resolve(const Url& url, Deadline deadline) {
  std::string port = std::to_string(url.port);
  struct addrinfo hints = {};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  struct addrinfo* res = nullptr;
  if (::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &res) == 0) {
    auto out = addresses(res);
    ::freeaddrinfo(res);
    return out;
  }
  struct Lookup {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    int rc = 0;
    std::vector<Addr> addrs;
  };
  auto lookup = std::make_shared<Lookup>();
  try {
    std::thread([lookup, host = url.host, port] {
      struct addrinfo h = {};
      h.ai_socktype = SOCK_STREAM;
      h.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
      struct addrinfo* r = nullptr;
      int rc = ::getaddrinfo(host.c_str(), port.c_str(), &h, &r);
      std::vector<Addr> found = rc == 0 ? addresses(r) : std::vector<Addr>();
      if (r != nullptr) ::freeaddrinfo(r);
      std::lock_guard<std::mutex> g(lookup->mu);
      lookup->rc = rc;
      lookup->addrs = std::move(found);
      lookup->done = true;
      lookup->cv.notify_all();
    }).detach();
  } catch (const std::system_error& e) {
    return Status(Code::kUnavailable, "resolving " + url.host + ": cannot start a thread: " + e.what(), EAGAIN);
  }
  std::unique_lock<std::mutex> lock(lookup->mu);
  if (!lookup->cv.wait_until(lock, deadline, [&] { return lookup->done; })) {
    return Status(Code::kUnavailable, "resolving " + url.host + ": no answer before the deadline", ETIMEDOUT);
  }
  if (lookup->rc != 0) {
    int err = lookup->rc == EAI_AGAIN ? EAGAIN : 0;  // a temporary failure is worth another try
    return Status(Code::kUnavailable, "resolving " + url.host + ": " + ::gai_strerror(lookup->rc), err);
  }
  if (lookup->addrs.empty()) return Status(Code::kUnavailable, "resolving " + url.host + ": no IPv4 or IPv6 address");
  return std::move(lookup->addrs);
}

Result<nsutil::UniqueFd> connect_one(const Addr& a, Deadline deadline) {
  nsutil::UniqueFd fd(::socket(a.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status(Code::kUnavailable, std::string("socket: ") + std::strerror(errno), errno);
  int one = 1;
  (void)::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd.get(), reinterpret_cast<const struct sockaddr*>(&a.ss), a.len) == 0) return fd;
  if (errno != EINPROGRESS && errno != EINTR) {
    int err = errno;
    return Status(Code::kUnavailable, "connecting to " + a.text + ": " + std::strerror(err), err);
  }
  for (;;) {
    int left = nsutil::poll_timeout_ms(deadline);
    struct pollfd pfd = {fd.get(), POLLOUT, 0};
    int r = ::poll(&pfd, 1, left);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status(Code::kUnavailable, std::string("poll: ") + std::strerror(errno), errno);
    if (r > 0) break;
    if (left == 0) return Status(Code::kUnavailable, "connecting to " + a.text + ": no connection before the deadline", ETIMEDOUT);
  }
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) return Status(Code::kUnavailable, "connecting to " + a.text + ": " + std::strerror(err), err);
  return fd;
}

}  // namespace

bool is_retryable_transport_error(const Status& s) { return s.code() == Code::kUnavailable && s.error_number() != 0; }

Result<std::shared_ptr<TlsContext>> TlsContext::create(const std::string& ca_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return Status(Code::kInternal, "creating a TLS context: " + openssl_error());
  std::shared_ptr<TlsContext> out(new TlsContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  // Vault delimits every body (Content-Length or chunked), and the parser notices a response cut
  // short; a body that runs to the end of the connection and is cut fails as JSON.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  ERR_clear_error();
  if (ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      return Status(Code::kInvalidArgument, "loading the system CA store: " + openssl_error() + "; set vault.caFile");
    }
  } else if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    return Status(Code::kInvalidArgument, "vault.caFile " + ca_file + " does not load as a PEM CA bundle: " + openssl_error());
  }
  return out;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

Result<std::unique_ptr<Connection>> Connection::open(const Url& url, const TlsContext* tls, Deadline deadline) {
  RG_ASSIGN_OR_RETURN(std::vector<Addr> addrs, resolve(url, deadline));
  if (!url.tls) {
    for (const Addr& a : addrs) {
      if (!a.loopback) {
        return Status(Code::kInvalidArgument, "http:// is only allowed for a loopback address, and " + url.host +
                                                  " resolves to " + a.text + "; use https://");
      }
    }
  }
  Status last(Code::kUnavailable, "no address to connect to", EHOSTUNREACH);
  for (const Addr& a : addrs) {
    auto fd = connect_one(a, deadline);
    if (!fd.is_ok()) {
      last = fd.status();
      if (last.error_number() == ETIMEDOUT) break;
      continue;
    }
    std::unique_ptr<Connection> c(new Connection(std::move(fd).value(), a.text));
    if (url.tls) {
      if (tls == nullptr) return Status(Code::kInternal, "https without a TLS context");
      RG_RETURN_IF_ERROR(c->start_tls(url, *tls, deadline));
    }
    return c;
  }
  return last;
}

Connection::~Connection() {
  if (ssl_ != nullptr) SSL_free(ssl_);
}

Status Connection::start_tls(const Url& url, const TlsContext& tls, Deadline deadline) {
  ssl_ = SSL_new(tls.get());
  if (ssl_ == nullptr) return Status(Code::kInternal, "SSL_new: " + openssl_error());
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  if (rbio == nullptr || wbio == nullptr) {
    BIO_free(rbio);
    BIO_free(wbio);
    return Status(Code::kInternal, "BIO_new: " + openssl_error());
  }
  SSL_set_bio(ssl_, rbio, wbio);  // the SSL owns both now
  SSL_set_connect_state(ssl_);
  bool ok = url.host_is_ip() ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), url.host.c_str()) == 1
                             : SSL_set_tlsext_host_name(ssl_, url.host.c_str()) == 1 && SSL_set1_host(ssl_, url.host.c_str()) == 1;
  if (!ok) return Status(Code::kInternal, "setting the TLS peer name " + url.host + ": " + openssl_error());
  auto r = drive_tls([this] { return SSL_connect(ssl_); }, deadline, "TLS handshake");
  if (r.is_ok()) {
    if (*r > 0) return Status::ok();
    return Status(Code::kUnavailable, "TLS handshake with " + peer_ + ": the connection closed", ECONNRESET);
  }
  long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    return Status(Code::kUnavailable, "TLS handshake with " + peer_ + ": the server's certificate is not trusted (" +
                                          X509_verify_cert_error_string(verify) + "); check vault.caFile and vault.address");
  }
  return r.status();
}

template <typename Op>
Result<int> Connection::drive_tls(Op op, Deadline deadline, const char* what) {
  for (;;) {
    ERR_clear_error();
    int r = op();
    int err = r > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);
    std::string detail = err == SSL_ERROR_SSL ? openssl_error() : "";
    RG_RETURN_IF_ERROR(flush_tls(deadline));
    switch (err) {
      case SSL_ERROR_NONE: return r;
      case SSL_ERROR_WANT_READ: RG_RETURN_IF_ERROR(fill_tls(deadline)); continue;
      case SSL_ERROR_WANT_WRITE: continue;  // memory BIOs never refuse a write; flushed above
      case SSL_ERROR_ZERO_RETURN: return 0;
      case SSL_ERROR_SYSCALL:
        return Status(Code::kUnavailable, std::string(what) + " with " + peer_ + ": the connection closed", ECONNRESET);
      default: return Status(Code::kUnavailable, std::string(what) + " with " + peer_ + ": " + detail);
    }
  }
}

Status Connection::flush_tls(Deadline deadline) {
  BIO* wbio = SSL_get_wbio(ssl_);
  char buf[16384];
  while (BIO_ctrl_pending(wbio) > 0) {
    int n = BIO_read(wbio, buf, static_cast<int>(std::min(BIO_ctrl_pending(wbio), sizeof buf)));
    if (n <= 0) break;
    Status s = nsutil::send_all(fd_.get(), std::string_view(buf, static_cast<size_t>(n)), deadline, peer_);
    if (!s.is_ok()) return transport_error(s);
  }
  return Status::ok();
}

Status Connection::fill_tls(Deadline deadline) {
  if (eof_) return Status(Code::kUnavailable, peer_ + " closed the connection", ECONNRESET);
  char buf[16384];
  auto n = nsutil::read_some(fd_.get(), buf, sizeof buf, deadline, peer_);
  if (!n.is_ok()) return transport_error(n.status());
  BIO* rbio = SSL_get_rbio(ssl_);
  if (*n == 0) {
    eof_ = true;
    BIO_set_mem_eof_return(rbio, 0);  // an empty read BIO now means the end, not "try again"
    return Status::ok();
  }
  if (BIO_write(rbio, buf, static_cast<int>(*n)) != static_cast<int>(*n)) return Status(Code::kInternal, "BIO_write: " + openssl_error());
  return Status::ok();
}

Status Connection::write_all(std::string_view data, Deadline deadline) {
  if (ssl_ == nullptr) {
    Status s = nsutil::send_all(fd_.get(), data, deadline, peer_);
    return s.is_ok() ? s : transport_error(s);
  }
  while (!data.empty()) {
    int chunk = static_cast<int>(std::min<size_t>(data.size(), 1 << 20));
    RG_ASSIGN_OR_RETURN(int n, drive_tls([&] { return SSL_write(ssl_, data.data(), chunk); }, deadline, "TLS write"));
    if (n <= 0) return Status(Code::kUnavailable, peer_ + " closed the connection", ECONNRESET);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::ok();
}

Result<size_t> Connection::read_some(char* buf, size_t size, Deadline deadline) {
  if (ssl_ == nullptr) {
    auto n = nsutil::read_some(fd_.get(), buf, size, deadline, peer_);
    if (!n.is_ok()) return transport_error(n.status());
    return *n;
  }
  int want = static_cast<int>(std::min<size_t>(size, 1 << 20));
  RG_ASSIGN_OR_RETURN(int n, drive_tls([&] { return SSL_read(ssl_, buf, want); }, deadline, "TLS read"));
  return static_cast<size_t>(n);
}

}  // namespace runguard::secrets::vault
