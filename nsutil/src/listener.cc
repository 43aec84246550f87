#include "runguard/nsutil/listener.h"

#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "runguard/common/json.h"

namespace runguard::nsutil {
namespace {

bool json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string printable(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", u);
  return hex;
}

Status field_error(const std::string& field, const std::string& want, const Json& got) {
  return invalid("listener message: field \"" + field + "\" must be " + want + ", got " + json_type_name(got));
}

// Reads an optional string member; absent or null leaves `out` as is.
Status get_string(const Json& obj, const char* key, const std::string& path, bool required, std::string& out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) return invalid("listener message: missing field \"" + path + "\"");
    return Status::ok();
  }
  if (!it->is_string()) return field_error(path, "a string", *it);
  out = it->get<std::string>();
  return Status::ok();
}

Status get_pid(const Json& obj, const char* key, const std::string& path, bool required, pid_t& out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) return invalid("listener message: missing field \"" + path + "\"");
    return Status::ok();
  }
  if (!it->is_number_integer()) return field_error(path, "an integer", *it);
  long long v = it->get<long long>();
  if (v < 0 || v > (1LL << 22) || (required && v == 0)) {  // PID_MAX_LIMIT is 2^22
    return invalid("listener message: field \"" + path + "\" is not a valid pid: " + std::to_string(v));
  }
  out = static_cast<pid_t>(v);
  return Status::ok();
}

}  // namespace

// ---- ListenerMessageReader ----

Status ListenerMessageReader::append(std::string_view bytes) {
  if (!error_.is_ok()) return error_;
  buf_.append(bytes.data(), bytes.size());
  return scan();
}

Status ListenerMessageReader::scan() {
  while (end_ == std::string::npos && pos_ < buf_.size()) {
    char c = buf_[pos_];
    if (!started_) {
      if (json_space(c)) {
        ++pos_;
        continue;
      }
      if (c != '{') {
        error_ = invalid("listener message: expected a JSON object, got " + printable(c) + " at byte " +
                         std::to_string(pos_));
        return error_;
      }
      started_ = true;
      start_ = pos_;
      depth_ = 0;
    }
    if (in_string_) {
      if (escaped_) escaped_ = false;
      else if (c == '\\') escaped_ = true;
      else if (c == '"') in_string_ = false;
    } else if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      ++depth_;
    } else if (c == '}' || c == ']') {
      if (--depth_ == 0) end_ = pos_ + 1;
    }
    ++pos_;
  }
  size_t pending = started_ ? (end_ != std::string::npos ? end_ : pos_) - start_ : 0;
  if (pending > max_bytes_) {
    error_ = invalid("listener message: larger than " + std::to_string(max_bytes_) +
                     " bytes (the runtime's state message carries every annotation; raise the cap if this is legitimate)");
    return error_;
  }
  // Bytes past a complete object are bounded too: they are the start of another message.
  if (end_ != std::string::npos && buf_.size() - end_ > max_bytes_) {
    error_ = invalid("listener message: more than " + std::to_string(max_bytes_) + " bytes after the message");
    return error_;
  }
  return Status::ok();
}

std::optional<std::string> ListenerMessageReader::take_message() {
  if (end_ == std::string::npos) return std::nullopt;
  std::string msg = buf_.substr(start_, end_ - start_);
  buf_.erase(0, end_);
  pos_ = 0;
  start_ = 0;
  end_ = std::string::npos;
  started_ = in_string_ = escaped_ = false;
  depth_ = 0;
  (void)scan();  // frames what followed; an error there is sticky and reported by the next append
  return msg;
}

// ---- parsing ----

std::optional<size_t> ContainerProcessState::seccomp_fd_index() const {
  for (size_t i = 0; i < fds.size(); ++i) {
    if (fds[i] == kSeccompFdName) return i;
  }
  return std::nullopt;
}

Result<ContainerProcessState> parse_container_process_state(std::string_view text) {
  RG_ASSIGN_OR_RETURN(Json doc, parse_json(text, "listener message"));
  if (!doc.is_object()) return field_error("(top level)", "an object", doc);
  ContainerProcessState out;
  RG_RETURN_IF_ERROR(get_string(doc, "ociVersion", "ociVersion", true, out.oci_version));
  RG_RETURN_IF_ERROR(get_pid(doc, "pid", "pid", true, out.pid));
  RG_RETURN_IF_ERROR(get_string(doc, "metadata", "metadata", false, out.metadata));
  auto fds = doc.find("fds");
  if (fds == doc.end() || fds->is_null()) return invalid("listener message: missing field \"fds\"");
  if (!fds->is_array()) return field_error("fds", "an array of strings", *fds);
  if (fds->size() > kMaxListenerFds) {
    return invalid("listener message: " + std::to_string(fds->size()) + " fds named, at most " +
                   std::to_string(kMaxListenerFds) + " supported");
  }
  for (const auto& name : *fds) {
    if (!name.is_string()) return field_error("fds[]", "a string", name);
    out.fds.push_back(name.get<std::string>());
  }
  auto state = doc.find("state");
  if (state == doc.end() || state->is_null()) return invalid("listener message: missing field \"state\"");
  if (!state->is_object()) return field_error("state", "an object", *state);
  auto& s = out.state;
  RG_RETURN_IF_ERROR(get_string(*state, "ociVersion", "state.ociVersion", false, s.oci_version));
  RG_RETURN_IF_ERROR(get_string(*state, "id", "state.id", true, s.id));
  RG_RETURN_IF_ERROR(get_string(*state, "status", "state.status", true, s.status));
  RG_RETURN_IF_ERROR(get_string(*state, "bundle", "state.bundle", false, s.bundle));
  RG_RETURN_IF_ERROR(get_pid(*state, "pid", "state.pid", false, s.pid));
  if (s.id.empty()) return invalid("listener message: field \"state.id\" is empty");
  auto ann = state->find("annotations");
  if (ann != state->end() && !ann->is_null()) {
    if (!ann->is_object()) return field_error("state.annotations", "an object", *ann);
    for (const auto& [k, v] : ann->items()) {
      if (!v.is_string()) return field_error("state.annotations." + k, "a string", v);
      s.annotations.emplace(k, v.get<std::string>());
    }
  }
  return out;
}

// ---- ListenerConnection ----

Result<bool> ListenerConnection::read_some() {
  if (reader_.has_message()) return true;
  if (eof_) return invalid("listener connection: closed by the peer before a complete message");
  std::array<char, 16384> data;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxListenerFds)];
  struct iovec iov = {data.data(), data.size()};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = ::recvmsg(sock_.get(), &msg, MSG_CMSG_CLOEXEC);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return false;
    return io_error("listener connection: recvmsg", errno);
  }
  // Take ownership of every fd first, so none leaks whatever happens next.
  bool too_many = false;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      UniqueFd owned(fd);
      if (fds_.size() < kMaxListenerFds) fds_.push_back(std::move(owned));
      else too_many = true;  // `owned` closes it
    }
  }
  if (msg.msg_flags & MSG_CTRUNC) {
    fds_.clear();
    return invalid("listener connection: control data truncated (more fds than the " +
                   std::to_string(kMaxListenerFds) + " supported?)");
  }
  if (too_many) {
    fds_.clear();
    return invalid("listener connection: more than " + std::to_string(kMaxListenerFds) + " fds received");
  }
  if (n == 0) {
    eof_ = true;
    if (reader_.has_message()) return true;
    fds_.clear();
    return invalid("listener connection: closed by the peer after " + std::to_string(reader_.buffered_bytes()) +
                   " bytes, before a complete JSON object");
  }
  Status st = reader_.append(std::string_view(data.data(), static_cast<size_t>(n)));
  if (!st.is_ok()) {
    fds_.clear();
    return st;
  }
  return reader_.has_message();
}

Result<ListenerMessage> ListenerConnection::take_message() {
  std::vector<UniqueFd> fds = std::move(fds_);  // closed on every error path below
  fds_.clear();
  auto text = reader_.take_message();
  if (!text) return invalid("listener connection: no complete message");
  RG_ASSIGN_OR_RETURN(ContainerProcessState state, parse_container_process_state(*text));
  if (fds.size() != state.fds.size()) {
    return invalid("listener message names " + std::to_string(state.fds.size()) + " fds but " +
                   std::to_string(fds.size()) + " were received with it");
  }
  auto index = state.seccomp_fd_index();
  if (!index) return invalid("listener message: no \"seccompFd\" in fds");
  ListenerMessage out;
  out.seccomp_fd = std::move(fds[*index]);
  out.fds = std::move(fds);
  out.state = std::move(state);
  return out;
}

Result<ListenerMessage> receive_listener_message(int sock, std::chrono::milliseconds timeout, size_t max_bytes) {
  ListenerConnection conn(UniqueFd(sock), max_bytes);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  Result<ListenerMessage> result = invalid("unreachable");
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result = Status(Code::kUnavailable, "listener connection: timed out waiting for the state message", ETIMEDOUT);
      break;
    }
    struct pollfd p = {sock, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno != EINTR) {
      result = io_error("listener connection: poll", errno);
      break;
    }
    if (r <= 0) continue;
    auto got = conn.read_some();
    if (!got.is_ok()) {
      result = std::move(got).take_status();
      break;
    }
    if (*got) {
      result = conn.take_message();
      break;
    }
  }
  (void)conn.release_socket();  // the caller keeps owning `sock`
  return result;
}

Result<PeerCredentials> peer_credentials(int sock) {
  struct ucred cred = {};
  socklen_t len = sizeof cred;
  if (::getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return io_error("getsockopt SO_PEERCRED", errno);
  return PeerCredentials{cred.pid, cred.uid, cred.gid};
}

}  // namespace runguard::nsutil
