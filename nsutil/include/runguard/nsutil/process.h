// Process and namespace facts the create path needs from the kernel. Part of nsutil.
#pragma once

#include <string>
#include <vector>

#include "runguard/common/status.h"

namespace runguard::nsutil {

// Replaces the current process with `path` running `argv` (argv[0] included) and the current
// environment. Inherited file descriptors stay open. Returns only on failure.
Status exec_program(const std::string& path, const std::vector<std::string>& argv);

// Runs `path` with `argv` (and the current environment and file descriptors) as a child and
// waits for it; returns its exit status (128+signal when killed).
Result<int> run_and_wait(const std::string& path, const std::vector<std::string>& argv);

// True when the namespace file at `ns_path` (e.g. "/proc/1234/ns/net") is the same namespace as
// the host's of `ns_file` ("net", "pid", "ipc", "uts", "mnt", "user", "cgroup", "time"): pid 1's,
// or runguard's own (which are the host's when an engine runs it). An unreadable `ns_path` is
// reported as false: the runtime itself fails on it.
bool is_host_namespace(const std::string& ns_path, const std::string& ns_file);

}  // namespace runguard::nsutil
