// Daemonising runguard-monitor, the ready-fd protocol, and the daemon's log.
//
// Ready-fd protocol (the contract with `runguard create`): the parent forks, the child execs
// runguard-monitor with fd N (a pipe's write end). Once the daemon listens it writes its final pid
// as decimal text and "\n" to N and closes it; on any startup failure it writes
// "error: <message>\n" instead and exits 1. The parent reads N until EOF (5 s timeout).
//
// daemonize(): setsid() (forking first if we already lead a group), fork again and let the
// intermediate exit, so the daemon is no child of runguard or runc and never the container's
// process; chdir("/"), umask(077); stdin from /dev/null, stdout/stderr appended to the log
// file; every other fd closed except the ready fd (moved above 2 if needed). Runs single-threaded
// before anything else is started.
//
// Thread-safety: process-wide effects; call from the main thread only. Log is single-threaded.
#pragma once

#include <string>

#include "runguard/common/status.h"

namespace runguard::monitord {

// The ready fd's writer. Owns the fd; every report closes it.
class ReadyPipe {
 public:
  explicit ReadyPipe(int fd) : fd_(fd) {}
  ReadyPipe(const ReadyPipe&) = delete;
  ReadyPipe& operator=(const ReadyPipe&) = delete;
  ~ReadyPipe();
  int fd() const { return fd_; }
  void set_fd(int fd) { fd_ = fd; }
  void report_ready(long pid);
  void report_error(const std::string& message);

 private:
  void write_and_close(const std::string& text);
  int fd_;
};

// See above. On success returns in the final daemon process (the intermediates have exited);
// `ready` may have been renumbered.
Status daemonize(ReadyPipe& ready, const std::string& log_path);

// A timestamped line "2026-11-29T06:21:58.123456789Z runguard-monitor[pid]: message\n" written
// to stderr (the log after daemonize) with one write(2).
void log_line(const std::string& message);

}  // namespace runguard::monitord
