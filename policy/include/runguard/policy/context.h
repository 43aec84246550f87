// ContainerContext: who the container is, as far as the policy needs to know.
//
// Built from argv, config.json annotations and facts the OS layer looked up (which namespace
// paths are the host's, where bind-mount sources really point). The policy core never looks
// anything up itself; it only reads this struct.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>

#include "runguard/common/json.h"

namespace runguard::policy {

struct ContainerContext {
  std::string id;
  std::string bundle;
  std::string engine;           // "containerd-cri", "containerd", "cri-o", "podman", "unknown"
  std::string container_type;   // "sandbox" | "container" (CRI); "" when unknown
  std::string k8s_namespace;
  std::string pod_name;
  std::string sandbox_id;
  std::string container_name;
  std::string image;            // reference as the engine named it; "" when unknown
  std::string image_digest;     // "sha256:..." resolved through containerd (agent or helper); "" when unknown
  std::string image_digest_source;  // where image_digest came from: "containerd" (agent|helper), "annotation:<key>", ""
  std::map<std::string, std::string> annotations;

  // The image scan attestation gate's verdict, computed by the pipeline (attest/) before evaluation
  // when the gate is enabled; unset when it is off or was not run (an offline check without a store).
  // The attestation control (RG-ATTEST-001) turns a failed verdict into a finding: denied under
  // `attestation.action: enforce`, recorded under audit. `detail` is the verdict's JSON
  // (attest::verdict_to_json), copied into the decision record.
  struct Attestation {
    bool required = false;  // the image matched requireFor
    bool passed = false;
    std::string summary;    // one line: why it failed, or what passed ("signed by 1 key, 26h old, 0 blocking")
    Json detail;
  };
  std::optional<Attestation> attestation;

  // The user-namespace range the runtime allocated for this container (its pod's, for a pod
  // member), set before evaluation; the userNamespace control maps container ids 0..size-1 to
  // host ids host_id.. with it. Unset (an offline check), the control shows the pool's first
  // range. `fixed`: the spec brought its own mappings and host_id/size describe the first one.
  struct UsernsRange {
    uint32_t host_id = 0;
    uint32_t size = 0;
    bool fixed = false;
  };
  std::optional<UsernsRange> userns;

  // OS facts, filled by the caller (nsutil); absent facts are simply empty.
  std::set<std::string> host_namespace_paths;            // linux.namespaces[].path that are the host's
  std::map<std::string, std::string> resolved_sources;   // mounts[].source -> realpath
  std::map<std::string, std::string> resolved_own_paths; // own_state_paths(policy)[].path -> realpath
};

// Whether the io.kubernetes.cri.* annotations describe the container: kDetect believes them only
// for containers containerd's shim started (their bundle is under io.containerd.runtime.v2.task/,
// or runc's root under /run/containerd/), where containerd's CRI plugin wrote them; kTrusted is
// for offline checks of a spec the user vouches for (runguardctl check).
enum class CriAnnotations { kDetect, kTrusted };

// Reads annotations and the engine's identity from a config.json into a context. Pure; wrong
// types in annotations are ignored here (the spec validator reports them).
ContainerContext context_from_spec(const Json& spec, const std::string& id, const std::string& bundle,
                                   const std::string& runtime_root, CriAnnotations trust = CriAnnotations::kDetect);

Json context_to_json(const ContainerContext& ctx);
ContainerContext context_from_json(const Json& j);

}  // namespace runguard::policy
