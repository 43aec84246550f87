#include "runguard/policy/context.h"

#include <string_view>

namespace runguard::policy {
namespace {

std::string annotation(const ContainerContext& c, const char* key) {
  auto it = c.annotations.find(key);
  return it == c.annotations.end() ? "" : it->second;
}

constexpr std::string_view kTaskDir = "/io.containerd.runtime.v2.task/";
// containerd's CRI plugin keeps every Kubernetes container in this namespace (pkg/cri/constants).
constexpr std::string_view kCriNamespace = "k8s.io";

// The containerd namespace of a container its shim started: from the bundle
// (…/io.containerd.runtime.v2.task/<ns>/<id>), else from runc's root (/run/containerd/runc/<ns>).
std::string shim_namespace(const std::string& bundle, const std::string& runtime_root) {
  if (size_t at = bundle.find(kTaskDir); at != std::string::npos) {
    std::string rest = bundle.substr(at + kTaskDir.size());
    return rest.substr(0, rest.find('/'));
  }
  if (runtime_root.rfind("/run/containerd/", 0) == 0) {
    std::string root = runtime_root;
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    return root.substr(root.rfind('/') + 1);
  }
  return "";
}

}  // namespace

ContainerContext context_from_spec(const Json& spec, const std::string& id, const std::string& bundle,
                                   const std::string& runtime_root, CriAnnotations trust) {
  ContainerContext c;
  c.id = id;
  c.bundle = bundle;
  if (spec.is_object()) {
    if (auto it = spec.find("annotations"); it != spec.end() && it->is_object()) {
      for (const auto& [k, v] : it->items()) {
        if (v.is_string()) c.annotations[k] = v.get<std::string>();
      }
    }
  }
  // Annotations are only as trustworthy as whoever set them. containerd's CRI plugin sets the
  // io.kubernetes.cri.* keys itself, after any pod annotations, so they are believed for
  // containers containerd's CRI plugin started: its shim's bundles live under
  // .../io.containerd.runtime.v2.task/k8s.io/. Anywhere else they are ignored — in containerd's
  // other namespaces (`docker run --annotation` lands in "moby", `ctr`/nerdctl in "default"),
  // under podman --annotation, CRI-O copying pod annotations — so neither an override matching
  // containerType/namespace/image nor the attestation gate's sandbox exemption can be reached by
  // writing them.
  bool containerd = trust == CriAnnotations::kTrusted || runtime_root.rfind("/run/containerd/", 0) == 0 ||
                    bundle.find(kTaskDir) != std::string::npos;
  bool cri = trust == CriAnnotations::kTrusted || shim_namespace(bundle, runtime_root) == kCriNamespace;
  if (containerd) {
    if (cri) c.container_type = annotation(c, "io.kubernetes.cri.container-type");
    c.engine = c.container_type.empty() ? "containerd" : "containerd-cri";
    if (!c.container_type.empty()) {
      c.k8s_namespace = annotation(c, "io.kubernetes.cri.sandbox-namespace");
      c.pod_name = annotation(c, "io.kubernetes.cri.sandbox-name");
      c.sandbox_id = annotation(c, "io.kubernetes.cri.sandbox-id");
      c.container_name = annotation(c, "io.kubernetes.cri.container-name");
      c.image = annotation(c, "io.kubernetes.cri.image-name");
    }
  } else if (annotation(c, "io.container.manager") == "libpod") {
    c.engine = "podman";
  } else if (c.annotations.count("io.kubernetes.cri-o.ContainerType")) {
    c.engine = "cri-o";
    c.container_type = annotation(c, "io.kubernetes.cri-o.ContainerType");
    c.k8s_namespace = annotation(c, "io.kubernetes.pod.namespace");
    c.pod_name = annotation(c, "io.kubernetes.pod.name");
    c.sandbox_id = annotation(c, "io.kubernetes.cri-o.SandboxID");
    c.container_name = annotation(c, "io.kubernetes.container.name");
    c.image = annotation(c, "io.kubernetes.cri-o.Image");
  } else {
    c.engine = "unknown";
  }
  return c;
}

Json context_to_json(const ContainerContext& c) {
  Json j = {{"id", c.id},
            {"bundle", c.bundle},
            {"engine", c.engine},
            {"containerType", c.container_type},
            {"namespace", c.k8s_namespace},
            {"pod", c.pod_name},
            {"sandboxId", c.sandbox_id},
            {"containerName", c.container_name},
            {"image", c.image},
            {"imageDigest", c.image_digest}};
  if (!c.image_digest_source.empty()) j["imageDigestSource"] = c.image_digest_source;
  j["annotations"] = Json::object();
  for (const auto& [k, v] : c.annotations) j["annotations"][k] = v;
  if (c.userns) j["userNamespace"] = {{"hostId", c.userns->host_id}, {"size", c.userns->size}, {"fixed", c.userns->fixed}};
  return j;
}

ContainerContext context_from_json(const Json& j) {
  ContainerContext c;
  if (!j.is_object()) return c;
  auto str = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string(); };
  c.id = str("id");
  c.bundle = str("bundle");
  c.engine = str("engine");
  c.container_type = str("containerType");
  c.k8s_namespace = str("namespace");
  c.pod_name = str("pod");
  c.sandbox_id = str("sandboxId");
  c.container_name = str("containerName");
  c.image = str("image");
  c.image_digest = str("imageDigest");
  c.image_digest_source = str("imageDigestSource");
  if (j.contains("annotations") && j["annotations"].is_object()) {
    for (const auto& [k, v] : j["annotations"].items()) {
      if (v.is_string()) c.annotations[k] = v.get<std::string>();
    }
  }
  if (auto it = j.find("userNamespace"); it != j.end() && it->is_object()) {
    const Json& u = *it;
    auto num = [&](const char* k) { return u.contains(k) && u[k].is_number_unsigned() ? u[k].get<uint32_t>() : 0u; };
    c.userns = ContainerContext::UsernsRange{num("hostId"), num("size"), u.contains("fixed") && u["fixed"] == true};
  }
  return c;
}

}  // namespace runguard::policy
