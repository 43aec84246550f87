// Process and namespace facts the create path needs from the kernel. Part of nsutil.
#pragma once

#include <chrono>
#include <cstddef>
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

// What run_captured saw.
struct CapturedRun {
  int exit_code = -1;      // the exit status, 128+signal when killed, -1 when unknown (SIGCHLD ignored)
  bool timed_out = false;  // still running at the deadline: killed with SIGKILL
  std::string output;      // standard output, at most max_output bytes
  bool killed_after_line = false;  // run_captured_line: killed after its line had been read
};

// Runs `path` with `argv` (argv[0] included) and the current environment as a child with stdin
// and stderr on /dev/null, stdout captured through a pipe, and no other descriptor (every fd >= 3
// is closed in the child: during create, fds 0-2 and any preserved fds belong to the container).
// The child is killed with SIGKILL if it is still running after `timeout` (or writes more than
// `max_output` bytes) and reaped in every case; the call returns within `timeout` plus a short
// grace for the kill to take effect. An error only when the child could not be started.
Result<CapturedRun> run_captured(const std::string& path, const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout, size_t max_output = 64u << 10);

// run_captured for a child that answers with one line: reading stops at the first '\n', and
// `output` is that line with its '\n'. A child still running then gets a short grace to exit on
// its own (its exit status is kept), and is otherwise killed with SIGKILL and reaped: the line is
// its answer, however slowly it exits. `timed_out` is set only when no complete line came before
// the deadline (`output` then has what came, if anything); `killed_after_line` when the child
// was killed after its line (`exit_code` is then 128+SIGKILL).
Result<CapturedRun> run_captured_line(const std::string& path, const std::vector<std::string>& argv,
                                      std::chrono::milliseconds timeout, size_t max_line = 64u << 10);

// True when the namespace file at `ns_path` (e.g. "/proc/1234/ns/net") is the same namespace as
// the host's of `ns_file` ("net", "pid", "ipc", "uts", "mnt", "user", "cgroup", "time"): pid 1's,
// or runguard's own (which are the host's when an engine runs it). An unreadable `ns_path` is
// reported as false: the runtime itself fails on it.
bool is_host_namespace(const std::string& ns_path, const std::string& ns_file);

}  // namespace runguard::nsutil
