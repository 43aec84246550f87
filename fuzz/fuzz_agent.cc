// runguardd's handlers of the internal protocol (agent/src/frames.cc, secrets_frames.cc) fed
// decoded frames, as a monitor, the runtime or any root process on the socket could send them.
// fuzz_frame covers the byte stream; this covers what each op does with the object it decoded to.
// The first byte picks the frame's op from the known ones (its fields are the rest, a JSON
// object), or, past them, the rest is the whole frame. A real Agent (policy, store, ring, metrics,
// secrets manager) in a temporary directory, not started: no socket, no gRPC, no threads, so the
// requests that need a worker pool (image.digest, secrets.*) validate their payload and then
// answer "busy". Invariants: nothing crashes or throws; a handler that says it replies (a
// request) replies exactly once, one that says it does not (a notification) never does; a
// reply is a version-1 frame with a boolean "ok".
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "agent.h"
#include "runguard/common/frame.h"

using namespace runguard;  // NOLINT(google-build-using-namespace)

namespace {

constexpr const char* kOps[] = {"ping",    "image.digest",  "decision",       "event",           "monitor.stats",
                                "deleted", "secrets.fetch", "secrets.revoke", "secrets.attached"};
constexpr size_t kOpCount = sizeof kOps / sizeof kOps[0];

struct Setup {
  std::string dir;
  agent::Logger log{agent::LogLevel::kDebug, -1};  // debug: the messages are built, then dropped
  std::unique_ptr<agent::Agent> agent;
};

Setup& setup() {
  static Setup* s = [] {
    auto* st = new Setup;
    char tmpl[] = "/tmp/fuzz-agent.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) __builtin_trap();
    st->dir = tmpl;
    std::string policy = st->dir + "/policy.yaml";
    std::ofstream(policy) << "stateDir: " << st->dir << "/state\n"
                          << "events:\n  path: " << st->dir << "/events.jsonl\n"
                          << "agent:\n  socket: " << st->dir << "/agent.sock\n  internalSocket: " << st->dir
                          << "/internal.sock\n  metrics: \"\"\n  containerd: " << st->dir << "/containerd.sock\n";
    agent::AgentOptions o;
    o.config = {policy, true, "fuzz"};
    o.proc_root = st->dir + "/proc";
    auto a = agent::Agent::create(o, st->log);
    if (!a.is_ok()) __builtin_trap();
    st->agent = std::move(a).value();
    // Loaded: nothing reads the file again (no reload) and nothing is created below the directory
    // before start(), so nothing is left behind in /tmp.
    ::unlink(policy.c_str());
    ::rmdir(st->dir.c_str());
    return st;
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Setup& s = setup();
  auto doc = parse_json(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), "frame");
  if (!doc.is_ok() || !doc->is_object()) return 0;
  Json msg = std::move(doc).value();
  if (data[0] < kOpCount) {
    msg["v"] = frame::kProtocolVersion;
    msg["op"] = kOps[data[0]];
  }
  // What the server checks before a handler sees a frame (internal_server.cc).
  if (!frame::check_envelope(msg).is_ok()) return 0;
  const std::string op = msg["op"].get<std::string>();
  int replies = 0;
  bool bad_reply = false;
  bool request = s.agent->frame_handler().on_frame(op, msg, [&](Json r) {
    ++replies;
    auto ok = r.find("ok");
    if (!r.is_object() || r.value("v", 0) != frame::kProtocolVersion || ok == r.end() || !ok->is_boolean()) bad_reply = true;
    if (!frame::encode(r).is_ok()) bad_reply = true;  // every reply must fit in a frame
  });
  if (bad_reply || replies != (request ? 1 : 0)) __builtin_trap();
  return 0;
}
