// The agent's internal protocol (common/frame.h) as a hostile peer would send it: the first byte
// picks a chunk size, the rest is the byte stream, fed to a FrameDecoder chunk by chunk. Every
// decoded frame must be a JSON object that re-encodes to a frame the decoder reads back equal;
// the decoder never holds more than one frame's worth beyond what it was fed.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runguard/common/frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t chunk = size_t{data[0]} + 1;
  std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  runguard::frame::FrameDecoder decoder(64 * 1024);
  for (size_t at = 0; at < stream.size(); at += chunk) {
    decoder.feed(stream.substr(at, chunk));
    for (;;) {
      auto msg = decoder.next();
      if (!msg.is_ok()) return 0;  // the connection would be closed here
      if (!msg->has_value()) break;
      const runguard::Json& m = **msg;
      if (!m.is_object()) __builtin_trap();
      (void)runguard::frame::check_envelope(m);
      auto again = runguard::frame::encode(m);
      if (!again.is_ok()) continue;  // re-encoding may grow (escapes) past the limit
      runguard::frame::FrameDecoder round;
      round.feed(*again);
      auto back = round.next();
      if (!back.is_ok() || !back->has_value() || **back != m) __builtin_trap();
    }
    if (decoder.pending() > stream.size()) __builtin_trap();
  }
  return 0;
}
