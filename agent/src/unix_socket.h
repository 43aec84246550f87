// Listening unix sockets for the agent, created safely, and the lock that keeps two agents
// from serving the same paths.
//
// Stale-socket rule: a socket file left at the path by an agent that crashed is removed; one that
// something still answers on is never touched (the start fails, naming the path). On stop, the
// agent removes a socket only if the path still names the inode it bound.
//
// Thread-safety: free functions.
#pragma once

#include <sys/types.h>

#include <string>

#include "runguard/common/status.h"
#include "runguard/nsutil/fd.h"

namespace runguard::agent {

// True when a unix stream socket at `path` accepts connections (or has a full backlog).
bool socket_answers(const std::string& path);

// Makes `path` ready for bind(): creates its directory (mode 0711) if missing; removes a socket
// nobody answers on. kUnavailable when another process serves on it, kInvalidArgument when the
// path exists and is not a socket or is too long, kIo when the directory cannot be created.
// `what` names the socket in messages ("agent.internalSocket").
Status prepare_socket_path(const std::string& path, const std::string& what);

struct BoundSocket {
  nsutil::UniqueFd fd;
  dev_t dev = 0;
  ino_t ino = 0;
};

// prepare_socket_path, then a non-blocking, close-on-exec SOCK_STREAM socket bound to `path`,
// chmod 0600 and listening.
Result<BoundSocket> listen_unix(const std::string& path, const std::string& what, int backlog = 1024);

// (dev, ino) of the file at `path`; false when it cannot be stat'ed.
bool file_identity(const std::string& path, dev_t& dev, ino_t& ino);

// Removes `path` if it still names (dev, ino).
void unlink_if_same(const std::string& path, dev_t dev, ino_t ino);

// An exclusive flock(2) on `path` (created 0600 if missing), held as long as the fd lives.
// kUnavailable when another process holds it.
Result<nsutil::UniqueFd> lock_file(const std::string& path);

}  // namespace runguard::agent
