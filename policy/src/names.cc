#include "runguard/policy/names.h"

#include <cap-ng.h>
#include <seccomp.h>

#include <algorithm>

#include "runguard/common/strings.h"

namespace runguard::policy {

const std::vector<std::string>& all_capabilities() {
  static const std::vector<std::string> kAll = [] {
    std::vector<std::string> out;
    for (unsigned i = 0; i <= 63; ++i) {
      const char* n = capng_capability_to_name(i);
      if (n == nullptr) continue;
      std::string name = to_upper(n);
      if (name.rfind("UNKNOWN", 0) == 0 || name.find('[') != std::string::npos) continue;
      out.push_back("CAP_" + name);
    }
    return out;
  }();
  return kAll;
}

Result<std::string> canonical_capability(const std::string& name) {
  std::string upper = to_upper(name);
  std::string bare = upper.rfind("CAP_", 0) == 0 ? upper.substr(4) : upper;
  if (bare.empty() || capng_name_to_capability(to_lower(bare).c_str()) < 0) {
    return invalid("unknown capability \"" + name + "\"" + did_you_mean("CAP_" + bare, all_capabilities()));
  }
  return "CAP_" + bare;
}

Status check_syscall_name(const std::string& name) {
  if (seccomp_syscall_resolve_name(name.c_str()) != __NR_SCMP_ERROR) return Status::ok();
  std::vector<std::string> known;
  for (int nr = 0; nr < 1024; ++nr) {
    char* n = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    if (n != nullptr) {
      known.emplace_back(n);
      free(n);
    }
  }
  return invalid("unknown syscall \"" + name + "\"" + did_you_mean(name, known));
}

const std::vector<std::string>& rlimit_names() {
  static const std::vector<std::string> kNames = {
      "RLIMIT_AS",     "RLIMIT_CORE",   "RLIMIT_CPU",    "RLIMIT_DATA",   "RLIMIT_FSIZE",  "RLIMIT_LOCKS",
      "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_RSS",
      "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK"};
  return kNames;
}

bool is_rlimit_name(const std::string& name) {
  const auto& n = rlimit_names();
  return std::find(n.begin(), n.end(), name) != n.end();
}

}  // namespace runguard::policy
