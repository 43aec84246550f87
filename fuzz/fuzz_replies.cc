// What the runtime reads back from other processes and from its own state directory, shaped by a
// wrong or broken peer, a crash or a full disk (pipeline/src/). The first byte picks the reader:
//   0: runguardd's reply frame -> check_agent_reply, then as an image.digest and a secrets.fetch
//      answer (image_lookup_from_json, fetched_from_json);
//   1: `runguardctl helper`'s stdout (the second byte is its exit code) -> parse_helper_output
//      (image-digest) and parse_helper_reply (secrets), then fetched_from_json;
//   2: <stateDir>/<id>/secrets.json -> secrets_record_from_json, which must round-trip;
//   3: <stateDir>/<id>/decision.json's context -> context_from_json (exec and update read it);
//   4: <stateDir>/<id>/resources.json -> read_resources (delete and the poststop hook read it),
//      from a file in a temporary directory.
// Nothing may crash or throw; what is accepted must be what callers rely on (a valid digest, an
// absolute secrets dir, a positive monitor pid, a helper's stdout wiped).
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>

#include "agent_client.h"
#include "image_digest.h"
#include "node_helper.h"
#include "resources.h"
#include "runguard/policy/context.h"
#include "runguard/secrets/files.h"
#include "runguard/secrets/wire.h"

using namespace runguard;  // NOLINT(google-build-using-namespace)
namespace internal = runguard::pipeline::internal;

namespace {

void answers(const Json& j, const std::string& via) {
  if (auto lookup = internal::image_lookup_from_json(j, via); lookup.is_ok() && !internal::is_image_digest(lookup->digest)) {
    __builtin_trap();
  }
  if (auto got = secrets::fetched_from_json(j); got.is_ok()) {
    if (got->size() > secrets::kMaxSecrets) __builtin_trap();
    secrets::wipe(*got);
  }
}

void agent_reply(std::string_view in) {
  auto j = parse_json(in, "reply");
  if (!j.is_ok()) return;
  Status s = internal::check_agent_reply(*j, "/run/runguard/agent-internal.sock");
  if (s.is_ok()) {
    if (!j->is_object() || !(*j)["ok"].get<bool>()) __builtin_trap();
    answers(*j, "agent");
  }
}

void helper_output(std::string_view in) {
  if (in.empty()) return;
  int exit_code = static_cast<int8_t>(in[0]);
  std::string output(in.substr(1));
  (void)internal::parse_helper_output(output, exit_code);
  auto reply = internal::parse_helper_reply(output, exit_code);
  for (char c : output) {
    if (c != '\0') __builtin_trap();  // it may have held secret values
  }
  if (reply.is_ok()) answers(*reply, "helper");
}

void secrets_record(std::string_view in) {
  auto j = parse_json(in, "secrets.json");
  if (!j.is_ok()) return;
  auto r = secrets::secrets_record_from_json(*j, "secrets.json");
  if (!r.is_ok()) return;
  if (r->dir.empty() || r->dir[0] != '/' || r->files.size() > secrets::kMaxSecrets) __builtin_trap();
  auto back = secrets::secrets_record_from_json(secrets::secrets_record_to_json(*r), "secrets.json");
  if (!back.is_ok() || back->dir != r->dir || back->files.size() != r->files.size() || back->uid != r->uid ||
      back->timeout_ms != r->timeout_ms) {
    __builtin_trap();
  }
}

void decision_context(std::string_view in) {
  auto j = parse_json(in, "decision.json");
  if (!j.is_ok()) return;
  const Json& ctx = j->is_object() && j->contains("context") ? (*j)["context"] : *j;
  policy::ContainerContext c = policy::context_from_json(ctx);
  (void)dump_json(policy::context_to_json(c));
}

void resources(std::string_view in) {
  // Never destroyed: the atexit handler runs after static destructors registered later.
  static const std::string& dir = *[] {
    char tmpl[] = "/tmp/fuzz-replies.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) __builtin_trap();
    auto* d = new std::string(tmpl);
    std::atexit([] {  // libFuzzer ends with exit(): nothing is left behind in /tmp
      ::unlink(internal::resources_path(dir).c_str());
      ::rmdir(dir.c_str());
    });
    return d;
  }();
  {
    std::ofstream f(internal::resources_path(dir), std::ios::binary | std::ios::trunc);
    f.write(in.data(), static_cast<std::streamsize>(in.size()));
  }
  auto r = internal::read_resources(dir);
  if (!r.is_ok()) return;
  if (r->monitor_pid < 0) __builtin_trap();  // a negative pid would name a process group
  // The pid recorded is the pid read, not a wrapped one (another process's pid).
  auto j = parse_json(in, "resources.json");
  if (r->monitor_pid > 0 && (!j.is_ok() || (*j)["monitorPid"].get<int64_t>() != r->monitor_pid)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0: agent_reply(in); break;
    case 1: helper_output(in); break;
    case 2: secrets_record(in); break;
    case 3: decision_context(in); break;
    default: resources(in); break;
  }
  return 0;
}
