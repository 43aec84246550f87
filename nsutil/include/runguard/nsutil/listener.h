// The seccomp listener protocol: what runc sends to `linux.seccomp.listenerPath`. Part of nsutil.
//
// Wire format (runc 1.1.x `sendContainerProcessState`, libcontainer/process_linux.go@v1.1.15;
// runtime-spec config-linux.md@v1.1.0 "The Container Process State"; facts and sources in
// ../shared/reference/runtime-plumbing.md section 1):
//   - AF_UNIX SOCK_STREAM; runc dials once on create and once per `runc exec`, each time on a
//     new connection.
//   - The payload is one JSON object (`specs.ContainerProcessState`, json.Marshal'd: compact, no
//     newline), with NO length prefix, NO terminator, and NO reply.
//   - The notify fd travels in one SCM_RIGHTS control message on the first sendmsg; the spec allows
//     a runtime to split the payload over several sendmsg calls but the fds MUST be in the first.
//     `fds[i]` names the i-th fd of the SCM_RIGHTS array; today always exactly ["seccompFd"].
//   - runc 1.1 never closes the connection (fixed in 1.2.7/1.3.1/1.4.0), so a listener must not
//     wait for EOF: the message is complete when its top-level object closes.
//   - The size is unbounded (it carries every config.json annotation); runc's example agent reads
//     4096 bytes and fails on more. We accept up to kMaxListenerMessageBytes, over short reads.
//   Payload:
//     { "ociVersion": str, "fds": [str], "pid": int, "metadata": str (omitempty),
//       "state": { "ociVersion": str, "id": str, "status": str, "pid": int (omitempty),
//                  "bundle": str, "annotations": {str: str} (omitempty) } }
//   `pid` is the process the notify fd was created for (runc init on create, the exec'd process on
//   `runc exec`); `state.pid` is the container's init pid ("creating" on create, "running" later).
//
// Thread-safety: ListenerMessageReader and ListenerConnection are plain values owned by one
// thread (the monitor's event loop); the free functions are reentrant.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runguard/common/status.h"
#include "runguard/nsutil/fd.h"

namespace runguard::nsutil {

// One state message above this is refused (annotations included). Kubernetes caps all of a pod's
// annotations at 256 KiB, so 1 MiB leaves room without letting a peer grow us without bound.
inline constexpr size_t kMaxListenerMessageBytes = size_t{1} << 20;
// More fds than this on one connection is an error (and all of them are closed).
inline constexpr size_t kMaxListenerFds = 8;
// The name runtime-spec gives the seccomp notify fd in `fds`.
inline constexpr std::string_view kSeccompFdName = "seccompFd";

// Splits a byte stream into top-level JSON objects without parsing them: it tracks the brace and
// bracket depth outside strings (with backslash escapes), so it knows when an object is complete
// whatever the chunking. It only frames; `parse_container_process_state` validates.
//
// Grammar accepted between objects: JSON whitespace (space, tab, CR, LF). Any other byte there is
// an error ("garbage"), as is an object larger than `max_bytes`. Errors are sticky: once append()
// has failed, every later call fails the same way. Bytes after a complete object are kept for the
// next object (runc 1.1 sends one object per connection; a second one is framed, not merged);
// they are scanned only once the complete object is taken, so garbage after a valid message
// fails the call after take_message(), never the message itself.
class ListenerMessageReader {
 public:
  explicit ListenerMessageReader(size_t max_bytes = kMaxListenerMessageBytes) : max_bytes_(max_bytes) {}

  // Adds received bytes. Fails on garbage outside an object or an object over the size cap.
  Status append(std::string_view bytes);
  // True when at least one complete object is buffered.
  bool has_message() const { return end_ != std::string::npos; }
  // Moves out the first complete object (exact bytes, surrounding whitespace dropped); nullopt
  // if none is complete yet. What followed it stays buffered and is framed in turn.
  std::optional<std::string> take_message();
  // Bytes buffered that are not part of a taken message (for diagnostics and EOF checks).
  size_t buffered_bytes() const { return buf_.size(); }
  // True when the buffer holds only whitespace (nothing pending).
  bool idle() const { return !started_ && end_ == std::string::npos; }

 private:
  Status scan();

  size_t max_bytes_;
  std::string buf_;
  size_t pos_ = 0;                   // next byte of buf_ to scan
  size_t start_ = 0;                 // where the current object begins (valid when started_)
  size_t end_ = std::string::npos;   // one past the complete object's last byte
  int depth_ = 0;
  bool started_ = false, in_string_ = false, escaped_ = false;
  Status error_;
};

// The parsed state message. Unknown fields are ignored (a newer runtime may add some).
struct ContainerProcessState {
  std::string oci_version;
  std::vector<std::string> fds;  // names, index = position in the SCM_RIGHTS array
  pid_t pid = 0;                 // the process the notify fd belongs to
  std::string metadata;          // linux.seccomp.listenerMetadata, "" when absent
  struct State {
    std::string oci_version, id, status, bundle;
    pid_t pid = 0;  // container init; 0 when absent (omitempty)
    std::map<std::string, std::string> annotations;
  } state;

  // Index of "seccompFd" in `fds`, or nullopt.
  std::optional<size_t> seccomp_fd_index() const;
};

// Parses and validates one message (as framed by ListenerMessageReader). Required: ociVersion,
// fds (array of strings), pid (positive), state.id, state.status. Optional: metadata,
// state.pid/bundle/annotations/ociVersion. Wrong types are errors naming the field.
Result<ContainerProcessState> parse_container_process_state(std::string_view json);

// One received message with the fds that came with it.
struct ListenerMessage {
  ContainerProcessState state;
  std::vector<UniqueFd> fds;  // fds[i] is named state.fds[i]
  UniqueFd seccomp_fd;        // moved out of `fds` for convenience (never invalid on success)
};

// One accepted connection from the runtime: owns the socket, accumulates bytes and fds over as
// many recvmsg calls as it takes. Works with blocking and non-blocking sockets: use read_some()
// from an event loop when the fd polls readable, or receive_listener_message() to block.
// Received fds are O_CLOEXEC (MSG_CMSG_CLOEXEC) and owned here until take_message() moves them
// out; on any error they are closed. Fds received after a message completed belong to the next.
class ListenerConnection {
 public:
  explicit ListenerConnection(UniqueFd sock, size_t max_bytes = kMaxListenerMessageBytes)
      : sock_(std::move(sock)), reader_(max_bytes) {}

  int fd() const { return sock_.get(); }
  // Gives the socket back without closing it (buffered bytes and fds stay here).
  int release_socket() { return sock_.release(); }
  // One recvmsg. Returns true when a complete message is buffered. EAGAIN/EINTR are "not yet"
  // (false). EOF before a complete message, garbage, an oversized message, truncated control
  // data or more than kMaxListenerFds fds are errors.
  Result<bool> read_some();
  // True after the peer closed the connection.
  bool eof() const { return eof_; }
  // Parses the buffered complete message and pairs it with the fds received so far: the count
  // must equal `fds` in the JSON and "seccompFd" must be among them. Fails (closing the fds)
  // otherwise, or if no message is complete.
  Result<ListenerMessage> take_message();

 private:
  UniqueFd sock_;
  ListenerMessageReader reader_;
  std::vector<UniqueFd> fds_;
  bool eof_ = false;
};

// Blocking convenience over ListenerConnection: reads until one message is complete or
// `timeout` passes (poll-based, works for non-blocking sockets too). Does not take ownership.
Result<ListenerMessage> receive_listener_message(int sock, std::chrono::milliseconds timeout,
                                                 size_t max_bytes = kMaxListenerMessageBytes);

// Credentials of the peer of a connected AF_UNIX socket (SO_PEERCRED), so the monitor can refuse
// connections not made by root (runc runs as root in the init user namespace).
struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};
Result<PeerCredentials> peer_credentials(int sock);

}  // namespace runguard::nsutil
