// A tiny stand-in for runguardd's internal socket, for the runtime's and the monitor's tests: a
// thread that accepts connections on a unix socket, decodes frames (common/frame.h), records
// them, and answers each with what the test's handler returns (nothing, a reply, or raw bytes).
// Header-only.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runguard/common/frame.h"
#include "runguard/common/json.h"

namespace rgtest {

class FakeAgent {
 public:
  // Bytes to write back for one received frame; nullopt: no answer. kClose: close the connection.
  using Handler = std::function<std::optional<std::string>(const runguard::Json&)>;
  static inline const std::string kClose = "\x01close";

  // Answers every frame with `reply` (nullptr: never answers).
  static Handler replying(runguard::Json reply) {
    return [reply](const runguard::Json&) -> std::optional<std::string> { return runguard::frame::encode(reply).value(); };
  }
  static Handler silent() {
    return [](const runguard::Json&) -> std::optional<std::string> { return std::nullopt; };
  }

  FakeAgent(std::string path, Handler handler) : path_(std::move(path)), handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    ::unlink(path_.c_str());
    ok_ = ::bind(listen_fd_, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) == 0 && ::listen(listen_fd_, 64) == 0;
    int p[2];
    ok_ = ok_ && ::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0;
    stop_rd_ = p[0];
    stop_wr_ = p[1];
    if (ok_) thread_ = std::thread([this] { loop(); });
  }
  ~FakeAgent() { stop(); }

  // Stops serving, closes every connection and removes the socket (an agent going away).
  void stop() {
    if (thread_.joinable()) {
      (void)!::write(stop_wr_, "x", 1);
      thread_.join();
    }
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
    for (int fd : {stop_rd_, stop_wr_}) {
      if (fd >= 0) ::close(fd);
    }
    stop_rd_ = stop_wr_ = -1;
    ::unlink(path_.c_str());
  }

  bool ok() const { return ok_; }

  std::vector<runguard::Json> frames() const {
    std::lock_guard<std::mutex> lock(mu_);
    return frames_;
  }
  size_t connections() const { return connections_.load(); }

  // Waits until at least `n` frames arrived; false on timeout.
  bool wait_for_frames(size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return frames_.size() >= n; });
  }

 private:
  struct Conn {
    int fd;
    runguard::frame::FrameDecoder decoder;
  };

  void loop() {
    std::vector<std::unique_ptr<Conn>> conns;
    for (;;) {
      std::vector<struct pollfd> fds = {{stop_rd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
      for (const auto& c : conns) fds.push_back({c->fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 1000) < 0) continue;
      if (fds[0].revents) break;
      // Only the connections polled above have an entry in fds (ASan: accepting first and then
      // indexing fds by the grown list read past its end).
      const size_t polled = conns.size();
      if (fds[1].revents & POLLIN) {
        for (int fd; (fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) {
          conns.push_back(std::make_unique<Conn>(Conn{fd, runguard::frame::FrameDecoder()}));
          ++connections_;
        }
      }
      for (size_t i = 0; i < polled; ++i) {
        if (fds[2 + i].revents == 0) continue;
        if (!serve(*conns[i])) {
          ::close(conns[i]->fd);
          conns[i].reset();
        }
      }
      conns.erase(std::remove(conns.begin(), conns.end(), nullptr), conns.end());
    }
    for (const auto& c : conns) ::close(c->fd);
  }

  // False: close the connection.
  bool serve(Conn& c) {
    char buf[65536];
    ssize_t n = ::read(c.fd, buf, sizeof buf);
    if (n <= 0) return false;
    c.decoder.feed(std::string_view(buf, static_cast<size_t>(n)));
    for (;;) {
      auto next = c.decoder.next();
      if (!next.is_ok()) return false;
      if (!*next) return true;
      {
        std::lock_guard<std::mutex> lock(mu_);
        frames_.push_back(**next);
      }
      cv_.notify_all();
      auto reply = handler_(**next);
      if (!reply) continue;
      if (*reply == kClose) return false;
      if (::write(c.fd, reply->data(), reply->size()) != static_cast<ssize_t>(reply->size())) return false;
    }
  }

  std::string path_;
  Handler handler_;
  int listen_fd_ = -1, stop_rd_ = -1, stop_wr_ = -1;
  bool ok_ = false;
  std::thread thread_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<runguard::Json> frames_;
  std::atomic<size_t> connections_{0};
};

}  // namespace rgtest
