// The agent's internal protocol: length-prefixed JSON frames on a unix socket.
//
// The runtime (`runguard create`/`delete`), the per-container monitors and runguardctl's one-shot
// helper talk to runguardd over `agent.internalSocket` with this protocol, because the runtime binary
// links no gRPC (DESIGN.md). The operator API is gRPC (proto/runguard/v1/agent.proto).
//
// Wire format (version 1, docs/agent.md#internal-protocol):
//   frame   = length payload
//   length  = 4 bytes, unsigned big-endian, 1 .. kMaxFrameBytes (the payload's size)
//   payload = one UTF-8 JSON object with at least {"v": <protocol version>, "op": "<name>"}
// Requests that expect an answer ("ping", "image.digest") get exactly one frame back,
// {"v":1,"ok":true,...} or {"v":1,"ok":false,"error":"..."}. Notifications ("event", "decision",
// "deleted", "monitor.stats") get none: the sender never waits on the agent for them.
// A peer that sends a version the agent does not speak gets
// {"v":1,"ok":false,"error":"...","versions":[1]} and the connection is closed.
//
// Everything here is pure (no I/O) so it can be unit tested and fuzzed.
// Thread-safety: a FrameDecoder is a plain value owned by one reader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "runguard/common/json.h"
#include "runguard/common/status.h"

namespace runguard::frame {

inline constexpr int kProtocolVersion = 1;
// Large enough for a decision record of a big Kubernetes spec, small enough that a hostile peer
// cannot make the agent buffer much.
inline constexpr uint32_t kMaxFrameBytes = 1u << 20;

// The 4-byte header followed by the compact JSON. kInvalidArgument if the payload would exceed
// kMaxFrameBytes (the caller drops or truncates what it was sending).
Result<std::string> encode(const Json& message);

// A request or notification: {"v":1,"op":op} plus `fields` (an object) merged in.
Json message(std::string_view op, Json fields = Json::object());

// {"v":1,"ok":true} plus fields / {"v":1,"ok":false,"error":error}.
Json ok_reply(Json fields = Json::object());
Json error_reply(std::string_view error);

// Incremental decoder for a byte stream. Feed what the socket gave, then call next() until it
// returns nullopt (need more bytes). A malformed frame (length 0 or over the limit, invalid JSON,
// not an object, no integer "v" or no string "op" for requests) is an error after which the
// stream cannot be resynchronised: the reader closes the connection.
class FrameDecoder {
 public:
  explicit FrameDecoder(uint32_t max_frame = kMaxFrameBytes) : max_frame_(max_frame) {}

  void feed(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete frame's JSON object, nullopt when incomplete.
  Result<std::optional<Json>> next();
  // Bytes received but not yet consumed (a peer that stops mid-frame leaves some here).
  size_t pending() const { return buffer_.size() - consumed_; }

 private:
  uint32_t max_frame_;
  std::string buffer_;
  size_t consumed_ = 0;
};

// Checks the envelope of a decoded request: "v" is an integer equal to kProtocolVersion and "op"
// a non-empty string. kInvalidArgument naming what is wrong; kUnavailable for another version.
Status check_envelope(const Json& message);

}  // namespace runguard::frame
