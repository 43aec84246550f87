// Test support for the Vault client: the stand-in server (integration/vault_standin.py) run as a
// child process per test, a scripted one-connection-at-a-time server for replies the stand-in
// does not make (307, chunked), per-test temp dirs and a certificate maker (openssl CLI).
#pragma once

#include <gtest/gtest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http_client.h"
#include "runguard/common/json.h"
#include "runguard/nsutil/fs.h"
#include "runguard/policy/policy.h"
#include "runguard/secrets/vault.h"
#include "runguard/secrets/wire.h"

namespace runguard::secrets::vault::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::getenv("TMPDIR") != nullptr ? std::string(std::getenv("TMPDIR")) : "/tmp") + "/rg-vault-XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    if (p != nullptr) path_ = p;
  }
  ~TempDir() {
    if (!path_.empty()) (void)nsutil::remove_tree(path_);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void write_file(const std::string& path, const std::string& content) {
  ASSERT_TRUE(nsutil::write_file_atomic(path, content, 0600).is_ok()) << path;
}

// Runs a shell command; true when it exits 0.
inline bool run_shell(const std::string& cmd) { return std::system(cmd.c_str()) == 0; }

// A self-signed certificate (its own CA) for IP `ip`, as <dir>/<name>.pem and <name>-key.pem.
inline bool make_cert(const std::string& dir, const std::string& name, const std::string& ip) {
  return run_shell("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=" + ip +
                   " -addext subjectAltName=IP:" + ip + " -keyout " + dir + "/" + name + "-key.pem -out " + dir + "/" + name +
                   ".pem >/dev/null 2>&1");
}

// The stand-in, started by the test and killed (by its pid) when it ends.
class Standin {
 public:
  // TLS when `cert` is given (and then the control API is spoken over TLS trusting `cert`).
  Standin(const std::string& dir, const std::string& cert = "", const std::string& key = "") : tls_(!cert.empty()) {
    std::string port_file = dir + "/standin.port";
    std::string log = dir + "/standin.log";
    ::unlink(port_file.c_str());  // a previous stand-in's
    std::string script = std::string(RUNGUARD_SOURCE_DIR) + "/integration/vault_standin.py";
    std::vector<std::string> args = {"python3", script, "--port-file", port_file};
    if (tls_) args.insert(args.end(), {"--tls-cert", cert, "--tls-key", key});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {  // only async-signal-safe calls until exec
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execvp("python3", argv.data());
      ::_exit(127);
    }
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < until) {
      auto text = nsutil::read_file(port_file, 64);
      if (text.is_ok() && !text->empty() && text->back() == '\n') {
        port_ = static_cast<uint16_t>(std::stoi(*text));
        break;
      }
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (tls_) {
      auto ctx = TlsContext::create(cert);
      if (ctx.is_ok()) ctx_ = *ctx;
    }
  }
  ~Standin() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  Standin(const Standin&) = delete;
  Standin& operator=(const Standin&) = delete;

  bool running() const { return pid_ > 0 && port_ != 0; }
  uint16_t port() const { return port_; }
  std::string address() const { return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_); }

  // The control API (/__standin/<endpoint>): the answer's JSON, or null (and a test failure).
  Json control(const std::string& method, const std::string& endpoint, const Json& body = nullptr) {
    Url u;
    u.tls = tls_;
    u.host = "127.0.0.1";
    u.port = port_;
    HttpRequest req;
    req.method = method;
    req.target = "/__standin/" + endpoint;
    if (!body.is_null()) req.body = dump_json(body);
    auto r = http_exchange(u, ctx_.get(), req, std::chrono::steady_clock::now() + std::chrono::seconds(10));
    if (!r.is_ok()) {
      ADD_FAILURE() << "stand-in control " << endpoint << ": " << r.status().message();
      return nullptr;
    }
    if (r->status != 200) {
      ADD_FAILURE() << "stand-in control " << endpoint << ": HTTP " << r->status << " " << r->body;
      return nullptr;
    }
    auto j = parse_json(r->body, "stand-in");
    return j.is_ok() ? *j : Json();
  }
  Json post(const std::string& endpoint, const Json& body) { return control("POST", endpoint, body); }
  Json get(const std::string& endpoint) { return control("GET", endpoint); }

  // The recorded /v1 requests whose path (after /v1/) matches exactly `vpath` ("" = all).
  std::vector<Json> requests(const std::string& vpath = "") {
    std::vector<Json> out;
    Json all = get("requests");
    if (!all.is_array()) return out;
    for (const Json& r : all) {
      if (vpath.empty() || r.value("path", "") == "/v1/" + vpath) out.push_back(r);
    }
    return out;
  }

 private:
  bool tls_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::shared_ptr<TlsContext> ctx_;
};

// A plain-HTTP server on 127.0.0.1 that answers each connection with the next canned reply (the
// last one repeats) and records the request heads it got.
class ScriptedServer {
 public:
  // IPv6 (::1) when `v6`; running() is false when the host has no IPv6 loopback.
  explicit ScriptedServer(std::vector<std::string> replies, bool v6 = false) : replies_(std::move(replies)), v6_(v6) {
    fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_storage ss = {};
    socklen_t len = v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    if (v6) {
      auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
      a6->sin6_family = AF_INET6;
      a6->sin6_addr = in6addr_loopback;
    } else {
      auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
      a4->sin_family = AF_INET;
      a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
      if (!v6) ADD_FAILURE() << "scripted server: cannot listen";
      return;
    }
    port_ = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  bool running() const { return port_ != 0; }
  uint16_t port() const { return port_; }
  std::string address() const { return std::string(v6_ ? "http://[::1]:" : "http://127.0.0.1:") + std::to_string(port_); }
  std::vector<std::string> heads() {
    std::lock_guard<std::mutex> g(mu_);
    return heads_;
  }

 private:
  void serve() {
    for (size_t n = 0; !stop_; ++n) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      std::string got;
      char buf[4096];
      while (got.find("\r\n\r\n") == std::string::npos) {
        ssize_t r = ::recv(c, buf, sizeof buf, 0);
        if (r <= 0) break;
        got.append(buf, static_cast<size_t>(r));
      }
      {
        std::lock_guard<std::mutex> g(mu_);
        heads_.push_back(got.substr(0, got.find("\r\n\r\n")));
      }
      const std::string& reply = replies_[std::min(n, replies_.size() - 1)];
      (void)::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      ::shutdown(c, SHUT_WR);
      while (::recv(c, buf, sizeof buf, 0) > 0) {
      }
      ::close(c);
    }
  }

  std::vector<std::string> replies_;
  bool v6_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> heads_;
};

// A test with its own temp dir, a stand-in, and settings for token auth against it.
class VaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    vault_ = std::make_unique<Standin>(dir_.path());
    ASSERT_TRUE(vault_->running()) << "the stand-in did not start; see " << dir_.file("standin.log");
    settings_.backend = policy::SecretsSettings::Backend::kVault;
    settings_.vault.address = vault_->address();
    settings_.vault.timeout_ms = 3000;
    settings_.vault.retries = 2;
    settings_.vault.auth.method = policy::VaultAuth::Method::kToken;
    settings_.vault.auth.token_file = dir_.file("vault-token");
  }

  // A token allowed `paths`, written to the token file; returns it.
  std::string use_token(const std::vector<std::string>& paths, int64_t ttl = 0) {
    Json r = vault_->post("token", {{"paths", paths}, {"ttl", ttl}});
    std::string t = r.value("token", "");
    EXPECT_FALSE(t.empty());
    write_file(settings_.vault.auth.token_file, t + "\n");
    return t;
  }

  static FetchRequest request(const std::vector<std::pair<std::string, std::string>>& secrets, const std::string& k8s = "") {
    FetchRequest r;
    r.container = "c1";
    r.k8s_namespace = "default";
    for (const auto& [name, ref] : secrets) r.secrets.push_back({name, ref});
    r.kubernetes_token_file = k8s;
    return r;
  }

  TempDir dir_;
  std::unique_ptr<Standin> vault_;
  policy::SecretsSettings settings_;
};

}  // namespace runguard::secrets::vault::testing
