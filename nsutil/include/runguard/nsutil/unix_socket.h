// Unix stream sockets with deadlines: the client side of the agent's internal socket, used by the
// runtime (which must never be held up by a slow or absent agent) and by the monitors (which must
// never block their notify loop). Part of nsutil.
//
// Every descriptor is SOCK_CLOEXEC and non-blocking; every wait is a poll(2) bounded by a Deadline
// (CLOCK_MONOTONIC); every send uses MSG_NOSIGNAL, so a peer that went away is an EPIPE error and
// never a SIGPIPE.
//
// Errors: nothing listening at the path (ENOENT, ECONNREFUSED) is kUnavailable with that errno, so
// callers can tell "not running" from other failures (see is_not_listening); a deadline that
// passes is kUnavailable with ETIMEDOUT; anything else is kIo with the errno.
//
// Thread-safety: free functions over descriptors the caller owns.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "runguard/common/status.h"
#include "runguard/nsutil/fd.h"

namespace runguard::nsutil {

using Deadline = std::chrono::steady_clock::time_point;

inline Deadline deadline_after(std::chrono::milliseconds timeout) { return std::chrono::steady_clock::now() + timeout; }

// Milliseconds left until `deadline` for poll(2): 0 once it has passed, rounded up otherwise.
int poll_timeout_ms(Deadline deadline);

// True for the Status of a connect to a path where nobody listens (no socket file, or a socket
// file nobody accepts on).
bool is_not_listening(const Status& s);

// True for the Status of a wait that ran out of time.
bool is_timeout(const Status& s);

// Connects to the unix stream socket at `path`, waiting until `deadline` at most (a listener
// whose backlog is full makes a non-blocking connect fail with EAGAIN: retried until then). The
// returned socket is non-blocking and close-on-exec. `path` must fit sun_path (107 bytes).
Result<UniqueFd> connect_unix(const std::string& path, Deadline deadline);

// One connect attempt that never waits: the connected socket, or the error (EAGAIN on a full
// backlog is kUnavailable). For event loops that retry on their own schedule.
Result<UniqueFd> try_connect_unix(const std::string& path);

// Sends all of `data` on the non-blocking socket `fd`, polling for room until `deadline`.
// `what` names the peer in errors ("agent at /run/runguard/runguardd.internal.sock").
Status send_all(int fd, std::string_view data, Deadline deadline, const std::string& what);

// Sends what fits now on the non-blocking socket `fd`: the number of bytes taken (0 when the
// socket buffer is full). EPIPE / ECONNRESET (the peer went away) are kUnavailable.
Result<size_t> send_some(int fd, std::string_view data, const std::string& what);

// Reads at most `size` bytes from the non-blocking socket `fd`, waiting until `deadline` for some
// to arrive: the count, 0 at end of stream.
Result<size_t> read_some(int fd, char* buf, size_t size, Deadline deadline, const std::string& what);

}  // namespace runguard::nsutil
