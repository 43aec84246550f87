// The pure half of the runtime monitor's wiring: which syscalls of a seccomp profile become
// SCMP_ACT_NOTIFY rules, and where the container's monitor listens.
#pragma once

#include <string>
#include <vector>

#include "runguard/common/json.h"

namespace runguard::policy {

struct NotifyPlan {
  Json profile;                        // the profile with the notify rule added
  std::vector<std::string> notified;   // syscalls now sent to the monitor
  std::vector<std::string> skipped;    // "name (why)": refused already, or allowed only conditionally
};

// Rewrites `profile` (nullptr or null: a profile allowing everything) so that each of `syscalls`
// it allows unconditionally is notified instead: removed from the allow rules that name it and
// added to one SCMP_ACT_NOTIFY rule. A syscall the profile refuses stays refused; one it allows
// only with argument checks is left alone (and reported). The default action never becomes
// NOTIFY.
NotifyPlan plan_notify(const Json* profile, const std::vector<std::string>& syscalls);

// <stateDir>/<id>/monitor.sock: linux.seccomp.listenerPath of a monitored container.
std::string monitor_socket(const std::string& state_dir, const std::string& id);

}  // namespace runguard::policy
