// InternalServer: the agent's end of the internal protocol (docs/agent.md#internal-protocol,
// common/include/runguard/common/frame.h) on `agent.internalSocket`.
//
// One thread runs an epoll loop over the listening socket and every connection; all sockets are
// non-blocking, and each connection has its own FrameDecoder. The loop never waits on anything
// but epoll: a request whose answer takes time (image.digest asks containerd) is answered later
// through the ReplyFn the handler got, from any thread, and the loop writes the reply when it
// arrives. Limits, each protecting everyone else from one bad peer:
//   - at most `max_connections` connections; more are accepted and closed at once (after the
//     connections whose peers already hung up are reaped, so a burst of connect-and-close does
//     not lock out the next client);
//   - a frame must be complete within `partial_frame_timeout` of its first byte (slowloris),
//     and a connection with nothing pending is closed after `idle_timeout`, unless it has sent
//     a notification (Handler::on_frame returned false): monitors keep one connection for their
//     whole life and may be quiet for hours, and a frame sent just as the agent closed the
//     connection would be lost. Such a quiet sender is closed only to make room for a new
//     connection when all `max_connections` are taken, the longest quiet first, and only once
//     it has been quiet for `idle_timeout`;
//   - frames over `max_frame` bytes, of length 0, not JSON objects, or without "v"/"op" close
//     that connection only (Handler::on_bad_frame is told); another protocol version gets the
//     version error reply and the connection is closed once it is written;
//   - a peer that does not read its replies is closed once `max_write_buffer` bytes wait for it.
// Requests on one connection are answered in the order their replies become ready.
//
// Thread-safety: start()/stop() from one thread; a ReplyFn may be called from any thread, also
// after stop() (the reply is then dropped). Handler methods run on the loop thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "log.h"
#include "runguard/common/frame.h"
#include "runguard/common/json.h"
#include "runguard/common/status.h"

namespace runguard::agent {

class InternalServer {
 public:
  // Sends one reply frame on the connection the request came from; call at most once.
  using ReplyFn = std::function<void(Json reply)>;

  class Handler {
   public:
    virtual ~Handler() = default;
    // A well-formed version-1 frame. Return true when `reply` was or will be called exactly once
    // (a request), false when it never will be (a notification).
    virtual bool on_frame(const std::string& op, const Json& frame, ReplyFn reply) = 0;
    // A malformed frame closed a connection; `reason` says what was wrong.
    virtual void on_bad_frame(const std::string& reason) {}
  };

  struct Options {
    std::string socket_path;
    size_t max_connections = 256;
    std::chrono::milliseconds partial_frame_timeout{10000};
    std::chrono::milliseconds idle_timeout{60000};
    uint32_t max_frame = frame::kMaxFrameBytes;
    size_t max_write_buffer = 4u << 20;
  };

  // Binds the socket (0600; the stale-socket rule of unix_socket.h) and starts the loop thread.
  // `handler` and `log` must outlive the server.
  static Result<std::unique_ptr<InternalServer>> start(Options options, Handler& handler, const Logger& log);
  ~InternalServer();
  InternalServer(const InternalServer&) = delete;
  InternalServer& operator=(const InternalServer&) = delete;

  // Stops accepting, closes every connection, joins the thread and removes the socket if it is
  // still the one this server bound. Idempotent.
  void stop();

  // Open connections (approximate, for status and tests).
  size_t connections() const;
  const std::string& path() const;

 private:
  struct Impl;
  explicit InternalServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace runguard::agent
