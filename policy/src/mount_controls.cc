// Sensitive host paths and runtime sockets in bind mounts (CIS Docker 5.6, 5.32), and the
// read-only root filesystem (5.13).
#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "eval.h"
#include "runguard/common/strings.h"

namespace runguard::policy::internal {
namespace {

// Host directories that must never be bind-mounted whole (CIS 5.6 plus the system directories
// and runtime state that give the same power).
constexpr std::array<std::string_view, 28> kSensitiveExact = {
    "/", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/sys", "/usr", "/bin", "/sbin",
    "/root", "/var", "/var/lib", "/run", "/var/lib/kubelet", "/var/lib/kubelet/pods", "/var/lib/docker",
    "/var/lib/containerd", "/var/lib/containers", "/run/containerd", "/run/docker", "/run/crio", "/run/podman",
    "/run/containers", "/usr/lib"};

// Trees whose every entry is sensitive: kernel interfaces, boot files, credentials, runguard's own
// state. Not the engines' state trees: containerd, CRI-O, podman and Docker bind-mount each
// container's own hostname, resolv.conf and /dev/shm from below them (under
// /var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/<id>/ and /run/containerd/...); those
// trees are sensitive only whole (kSensitiveExact) or through their sockets (kSocketNames).
// (/run/containerd/s holds every shim's control socket; /var/lib/etcd is the cluster's database.)
constexpr std::array<std::string_view, 12> kSensitiveTrees = {
    "/proc", "/sys", "/boot", "/etc/kubernetes", "/etc/ssh", "/etc/runguard", "/var/lib/runguard",
    "/var/lib/kubelet/pki", "/root/.ssh", "/etc/sudoers.d", "/run/containerd/s", "/var/lib/etcd"};

constexpr std::array<std::string_view, 3> kSensitiveFiles = {"/etc/shadow", "/etc/gshadow", "/etc/sudoers"};

// Sockets that hand over the node: CIS 5.32 and the CRI runtimes (Kyverno disallow-cri-sock-mount).
constexpr std::array<std::string_view, 7> kSocketNames = {"docker.sock", "containerd.sock", "containerd.sock.ttrpc",
                                                          "crio.sock", "cri-dockerd.sock", "podman.sock", "dockershim.sock"};

// /var/run is a symlink to /run on every current distribution.
std::string canonical(const std::string& path) {
  std::string p = normalize_path(path);
  if (path_within(p, "/var/run")) p = "/run" + p.substr(8);
  return p;
}

const char* sensitive_reason(const std::string& p) {
  for (auto s : kSensitiveExact) {
    if (p == s) return "a sensitive host directory";
  }
  for (auto s : kSensitiveFiles) {
    if (p == s) return "a host credential file";
  }
  for (auto s : kSensitiveTrees) {
    if (path_within(p, s)) return "inside a sensitive host tree";
  }
  std::string_view base = std::string_view(p).substr(p.rfind('/') + 1);
  for (auto s : kSocketNames) {
    if (base == s) return "a container runtime socket";
  }
  return nullptr;
}

// Filesystems that expose nothing of the host's: the kernel makes a fresh instance per mount.
constexpr std::array<std::string_view, 8> kPseudoFilesystems = {"proc",   "sysfs", "tmpfs",   "devpts",
                                                                "mqueue", "cgroup", "cgroup2", "ramfs"};

bool is_pseudo(std::string_view type) {
  return std::find(kPseudoFilesystems.begin(), kPseudoFilesystems.end(), type) != kPseudoFilesystems.end();
}

// runguard's own state (own_state_paths), as written and, where the node resolves it elsewhere
// (a symlinked directory on the way), as resolved.
struct OwnPath {
  std::string path;
  const char* what;
};
std::vector<OwnPath> own_paths(const Policy& p, const ContainerContext& ctx) {
  std::vector<OwnPath> out;
  for (const auto& o : own_state_paths(p)) {
    if (normalize_path(o.path) == "/") continue;
    out.push_back({canonical(o.path), o.what});
    if (auto it = ctx.resolved_own_paths.find(o.path); it != ctx.resolved_own_paths.end() && normalize_path(it->second) != "/") {
      out.push_back({canonical(it->second), o.what});
    }
  }
  return out;
}

const char* own_path_reason(const std::string& cand, const std::vector<OwnPath>& own) {
  for (const auto& o : own) {
    if (path_within(cand, o.path) || path_within(o.path, cand)) return o.what;
  }
  return nullptr;
}

// runc resolves a relative bind source against the bundle directory.
std::string host_path(const std::string& source, const std::string& bundle) {
  if (!source.empty() && source[0] == '/') return source;
  return (bundle.empty() ? std::string(".") : bundle) + "/" + source;
}

bool is_bind(const Json& m) {
  if (str_member(m, "type") == "bind") return true;
  if (const auto it = m.find("options"); it != m.end() && it->is_array()) {
    for (const auto& o : *it) {
      if (o == "bind" || o == "rbind") return true;
    }
  }
  return false;
}

}  // namespace

void check_sensitive_mounts(const SensitiveMountsControl& c, Eval& e, const Policy& p) {
  if (c.action == Action::kOff) return;
  const Json* mounts = at(e.doc(), "/mounts");
  if (mounts == nullptr || !mounts->is_array()) return;
  std::vector<std::string> allow;
  for (const auto& a : c.allow) allow.push_back(canonical(a));
  const std::vector<OwnPath> own = own_paths(p, e.ctx());
  // The container's own secrets tmpfs, which the secrets control (evaluated first) just added.
  const std::string own_secrets = e.secrets().host_dir;
  std::vector<size_t> to_remove;
  for (size_t i = 0; i < mounts->size(); ++i) {
    const Json& m = (*mounts)[i];
    std::string destination = has_member(m, "destination") ? str_member(m, "destination") : std::string("?");
    std::string type = str_member(m, "type");
    if (!is_bind(m)) {
      // A block device, overlay, NFS, ... mount gives the container a host filesystem directly.
      if (is_pseudo(type)) continue;
      if (e.violation("sensitiveMounts", "RG-MOUNT-002", Severity::kCritical, c.action,
                      "mount of a host filesystem (type \"" + type + "\" from \"" + str_member(m, "source") + "\") at " +
                          destination + ": only bind mounts and " + "proc, sysfs, tmpfs, devpts, mqueue, cgroup, ramfs are allowed",
                      "/mounts/" + std::to_string(i))) {
        to_remove.push_back(i);
      }
      continue;
    }
    if (!has_member(m, "source")) continue;
    std::string source = str_member(m, "source");
    if (!own_secrets.empty() && source == own_secrets) continue;
    std::vector<std::string> candidates = {canonical(host_path(source, e.ctx().bundle))};
    if (auto it = e.ctx().resolved_sources.find(source); it != e.ctx().resolved_sources.end()) {
      candidates.push_back(canonical(it->second));
    }
    for (const auto& cand : candidates) {
      if (std::find(allow.begin(), allow.end(), cand) != allow.end()) break;
      const char* why = sensitive_reason(cand);
      std::string own_why;
      if (why == nullptr) {
        const char* own_what = own_path_reason(cand, own);
        if (own_what == nullptr) continue;
        own_why = std::string("holds or is inside ") + own_what;
        why = own_why.c_str();
      }
      std::string shown = cand == source ? source : source + " (-> " + cand + ")";
      if (e.violation("sensitiveMounts", "RG-MOUNT-001", Severity::kCritical, c.action,
                      "bind mount of " + shown + " at " + destination + ": " + why,
                      "/mounts/" + std::to_string(i))) {
        to_remove.push_back(i);
      }
      break;
    }
  }
  for (auto it = to_remove.rbegin(); it != to_remove.rend(); ++it) e.remove("/mounts/" + std::to_string(*it));
}

void check_readonly_rootfs(const SimpleControl& c, Eval& e) {
  if (c.action == Action::kOff) return;
  const Json* ro = at(e.doc(), "/root/readonly");
  if (ro != nullptr && ro->is_boolean() && ro->get<bool>()) return;
  if (e.violation("readonlyRootfs", "RG-ROFS-001", Severity::kLow, c.action, "the root filesystem is writable",
                  "/root/readonly")) {
    e.set("/root/readonly", true);
  }
}

}  // namespace runguard::policy::internal

namespace runguard::policy {

std::vector<OwnStatePath> own_state_paths(const Policy& p) {
  std::vector<OwnStatePath> out;
  auto add = [&](const std::string& path, const char* what) {
    if (!path.empty() && path[0] == '/') out.push_back({path, what});
  };
  add(p.state_dir, "runguard's stateDir (every container's secrets, monitor socket and record)");
  add(p.lib_dir, "runguard's libDir");
  add(p.secrets.file_dir, "runguard's secrets.file.dir");
  add(p.agent.socket, "runguardd's socket");
  add(p.agent.internal_socket, "runguardd's internal socket");
  // The Vault credentials are read only when the Vault backend is in use, but a token file is a
  // credential wherever it lies.
  add(p.secrets.vault.auth.token_file, "runguard's Vault token file");
  add(p.secrets.vault.auth.secret_id_file, "runguard's Vault AppRole secret-id file");
  add(p.secrets.vault.ca_file, "runguard's Vault CA file");
  return out;
}

}  // namespace runguard::policy
