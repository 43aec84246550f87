// Internal: the image digest of a container containerd started, looked up before the policy is
// evaluated so the decision record (and later the attestation gate) has it.
//
// containerd writes no digest into config.json (reference/runtime-plumbing.md §4); only its API
// knows it, and the runtime links no gRPC (DESIGN.md). So, in order:
//   1. runguardd's "image.digest" request on agent.internalSocket, within agent.requestTimeout;
//   2. when no agent is running (nothing listens at its socket), the one-shot helper next to the
//      runtime: `runguardctl helper image-digest --containerd SOCK --namespace NS --container ID
//      [--image NAME] --timeout-ms N`, killed at agent.helperTimeout. It prints ONE JSON line:
//      {"image":"…","digest":"sha256:…","mediaType":"…"} and exits 0, or
//      {"error":"…","code":"not_found|unavailable|invalid"} and exits 1. The first line is the
//      answer: reading stops there, and a helper that has not exited shortly after it is killed
//      (nsutil::run_captured_line), not reported as timed out;
//   3. otherwise the digest stays unknown ("") and a warning goes to runc's --log.
// A failed lookup never refuses the container here and never turns anything off. Containers of
// other engines (podman, CRI-O, plain runc) cost nothing: no lookup at all; nor when the
// configured containerd socket does not exist (one stat).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "runguard/common/json.h"
#include "runguard/common/runc_log.h"
#include "runguard/common/status.h"
#include "runguard/pipeline/runc_args.h"
#include "runguard/policy/context.h"
#include "runguard/policy/policy.h"

namespace runguard::pipeline::internal {

// The containerd namespace of a container containerd's shim started ("k8s.io", "default", …),
// "" for any other engine. From the bundle (…/io.containerd.runtime.v2.task/<ns>/<id>), else the
// last component of runc's --root (the shim uses <root>/<ns>, e.g. /run/containerd/runc/k8s.io).
std::string containerd_namespace(const policy::ContainerContext& ctx, const std::string& runtime_root);

// "sha256:" and 64 lowercase hex digits, or "sha512:" and 128 (the OCI registered algorithms).
bool is_image_digest(std::string_view digest);

struct ImageLookup {
  std::string image;       // the image name containerd has for the container ("" if not said)
  std::string digest;      // manifest or index digest
  std::string media_type;
  std::string via;         // "agent" | "helper"
};

// A successful answer of the agent or the helper ({"digest":…,"image":…,"mediaType":…}).
Result<ImageLookup> image_lookup_from_json(const Json& j, const std::string& via);

// The helper's stdout (its first line) and exit code (-1: unknown, or killed after its line) as a
// lookup or its error; the error's code follows the helper's "code" (not_found -> kNotFound,
// invalid -> kInvalidArgument, else kUnavailable). A line whose members have the wrong types
// (an "error" that is not a string, a "digest" that is a number, ...) is kUnavailable, malformed.
Result<ImageLookup> parse_helper_output(const std::string& output, int exit_code);

// The helper's argv (argv[0] "runguardctl").
std::vector<std::string> helper_argv(const policy::AgentSettings& agent, const std::string& ns,
                                     const policy::ContainerContext& ctx);

// Steps 1 and 2 above: the agent, and the helper at `helper` when the agent is not running.
Result<ImageLookup> lookup_image_digest(const policy::AgentSettings& agent, const std::string& ns,
                                        const policy::ContainerContext& ctx, const std::string& helper);

// The whole of it for create: fills ctx.image_digest (and image_digest_source "containerd"), and
// ctx.image when it was empty, or logs a warning to `log`. Never fails. `why` (optional) receives
// why no digest came back for a containerd container ("" when found, or not a containerd one):
// the attestation gate's "image digest unknown" verdict quotes it.
void resolve_image_digest(const RuncArgs& args, const policy::Policy& p, const RuncLog& log,
                          policy::ContainerContext& ctx, std::string* why = nullptr);
// The same for a runtime root given directly (runguard-hook has no runc argv).
void resolve_image_digest(const std::string& runtime_root, const policy::Policy& p, const RuncLog& log,
                          policy::ContainerContext& ctx, std::string* why = nullptr);

}  // namespace runguard::pipeline::internal
