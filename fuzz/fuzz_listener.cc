// The seccomp listener message as runc sends it: the first byte picks a chunk size, the rest is
// the stream, fed to ListenerMessageReader chunk by chunk; every framed object is parsed.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runguard/nsutil/listener.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t chunk = size_t{data[0]} + 1;
  std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  runguard::nsutil::ListenerMessageReader reader(64 * 1024);
  size_t framed = 0;
  for (size_t at = 0; at < stream.size(); at += chunk) {
    if (!reader.append(stream.substr(at, chunk)).is_ok()) break;
    while (auto msg = reader.take_message()) {
      // A framed message is one balanced object: it starts with '{' and ends with '}' or ']'.
      if (msg->empty() || msg->front() != '{' || (msg->back() != '}' && msg->back() != ']')) __builtin_trap();
      framed += msg->size();
      if (framed > stream.size()) __builtin_trap();
      auto state = runguard::nsutil::parse_container_process_state(*msg);
      if (state.is_ok() && state->fds.size() > runguard::nsutil::kMaxListenerFds) __builtin_trap();
    }
  }
  return 0;
}
