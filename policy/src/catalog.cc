#include "runguard/policy/catalog.h"

#include <string_view>

namespace runguard::policy {

const std::vector<ControlInfo>& control_catalog() {
  static const std::vector<ControlInfo> kCatalog = {
      {"userNamespace", "RG-USERNS-001", "containers run in a user namespace of their own, on a private host id range",
       {"5.31"}, {}},
      {"user", "RG-USER-001", "containers do not run as root",
       {"4.1", "5.24"}, {"restricted: Running as Non-root", "restricted: Running as Non-root user"}},
      {"capabilities", "RG-CAPS-001", "capabilities are limited to an allow list",
       {"5.4", "5.23"}, {"baseline: Capabilities", "restricted: Capabilities"}},
      {"noNewPrivileges", "RG-NNP-001", "processes cannot gain privileges (no_new_privs)",
       {"5.26"}, {"restricted: Privilege Escalation"}},
      {"seccomp", "RG-SECCOMP-001", "a restrictive seccomp profile is installed",
       {"5.22"}, {"baseline: Seccomp", "restricted: Seccomp"}},
      {"resources", "RG-RES-001", "memory, pids, cpu and rlimits are bounded",
       {"5.11", "5.12", "5.19", "5.29"}, {}},
      {"hostNamespaces", "RG-HOSTNS-001", "no namespace is shared with the host",
       {"5.10", "5.16", "5.17", "5.21", "5.31"}, {"baseline: Host Namespaces"}},
      {"privileged", "RG-PRIV-001", "no privileged containers",
       {"5.5"}, {"baseline: Privileged Containers"}},
      {"sensitiveMounts", "RG-MOUNT-001", "no sensitive host paths or runtime sockets are mounted",
       {"5.6", "5.32"}, {"baseline: HostPath Volumes"}},
      {"readonlyRootfs", "RG-ROFS-001", "the root filesystem is read-only",
       {"5.13"}, {}},
      {"secretsInEnv", "RG-ENV-001", "no credentials in environment variables",
       {"4.10"}, {}},
      {"secrets", "RG-SECRETS-001", "secrets reach the container as read-only tmpfs files, only those the policy allows",
       {"4.10"}, {}},
      {"attestation", "RG-ATTEST-001", "images start only with a signed, fresh, passing vulnerability scan attestation",
       {"4.4", "4.5"}, {}},
      {"monitor", "RG-MON-001", "exec, ptrace, mount, namespace and module syscalls go to the runtime monitor's rules",
       {}, {}},
  };
  return kCatalog;
}

const ControlInfo* find_control(const std::string& name) {
  for (const auto& c : control_catalog()) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

std::vector<std::string> control_names() {
  std::vector<std::string> out;
  for (const auto& c : control_catalog()) {
    // `secrets:` and `attestation:` are top-level sections, not entries under `controls:`.
    if (std::string_view(c.name) != "secrets" && std::string_view(c.name) != "attestation") out.emplace_back(c.name);
  }
  return out;
}

}  // namespace runguard::policy
