#include "agent_client.h"

#include <optional>

#include "runguard/common/frame.h"
#include "runguard/nsutil/unix_socket.h"

namespace runguard::pipeline::internal {
namespace {

using Clock = std::chrono::steady_clock;

// Connects and sends one frame before `deadline`; the connected socket for a reply.
Result<nsutil::UniqueFd> send_frame(const std::string& path, const Json& message, nsutil::Deadline deadline) {
  RG_ASSIGN_OR_RETURN(std::string bytes, frame::encode(message));
  auto fd = nsutil::connect_unix(path, deadline);
  if (!fd.is_ok()) {
    const Status& s = fd.status();
    if (nsutil::is_not_listening(s)) return Status(Code::kUnavailable, "agent not running at " + path, s.error_number());
    return Status(s).with_context("agent at " + path);
  }
  RG_RETURN_IF_ERROR(nsutil::send_all(fd->get(), bytes, deadline, "agent at " + path));
  return std::move(*fd);
}

Status malformed(const std::string& path, const std::string& what) {
  return Status(Code::kUnavailable, "agent at " + path + " sent a malformed reply: " + what);
}

// The reply's string member `key`: `fallback` when absent, nullopt when it is not a string.
std::optional<std::string> reply_string(const Json& reply, const char* key, std::string fallback) {
  auto it = reply.find(key);
  if (it == reply.end()) return fallback;
  if (!it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// Every member is checked for its type before it is read: a reply is the agent's (or whatever
// listens at the socket's) and nlohmann throws on a wrong-typed read.
Status check_reply(const Json& reply, const std::string& path) {
  if (!reply.is_object()) return malformed(path, "a JSON " + std::string(json_type_name(reply)) + ", expected an object");
  auto v = reply.find("v");
  if (v == reply.end() || !v->is_number_integer() || v->get<int64_t>() != frame::kProtocolVersion) {
    return Status(Code::kUnavailable, "agent at " + path + " answered with another protocol version (" +
                                          (v == reply.end() ? std::string("none") : dump_json(*v)) + "); this runtime speaks " +
                                          std::to_string(frame::kProtocolVersion));
  }
  auto ok = reply.find("ok");
  if (ok == reply.end() || !ok->is_boolean()) return malformed(path, "no boolean \"ok\"");
  if (ok->get<bool>()) return Status::ok();
  auto error = reply_string(reply, "error", "no reason given");
  if (!error) return malformed(path, "\"error\" is a " + std::string(json_type_name(*reply.find("error"))) + ", expected a string");
  auto code = reply_string(reply, "code", "");
  if (!code) return malformed(path, "\"code\" is a " + std::string(json_type_name(*reply.find("code"))) + ", expected a string");
  return Status(agent_error_code(*code), "agent: " + *error);
}

}  // namespace

Status check_agent_reply(const Json& reply, const std::string& path) { return check_reply(reply, path); }

Code agent_error_code(const std::string& code) {
  if (code == "not_found") return Code::kNotFound;
  if (code == "invalid") return Code::kInvalidArgument;
  if (code == "denied") return Code::kDenied;
  return Code::kUnavailable;
}

bool agent_not_running(const Status& s) { return nsutil::is_not_listening(s); }

Result<Json> AgentClient::request(const Json& message, std::chrono::milliseconds timeout) const {
  const auto deadline = nsutil::deadline_after(timeout);
  std::string op = "?";
  if (message.is_object()) {
    if (auto it = message.find("op"); it != message.end() && it->is_string()) op = it->get<std::string>();
  }
  RG_ASSIGN_OR_RETURN(nsutil::UniqueFd fd, send_frame(path_, message, deadline));
  frame::FrameDecoder decoder;
  char buf[16384];
  for (;;) {
    auto next = decoder.next();
    if (!next.is_ok()) return Status(Code::kUnavailable, "agent at " + path_ + " sent a malformed reply: " + next.status().message());
    if (*next) {
      RG_RETURN_IF_ERROR(check_agent_reply(**next, path_));
      return std::move(**next);
    }
    auto n = nsutil::read_some(fd.get(), buf, sizeof buf, deadline, "agent at " + path_);
    if (!n.is_ok()) {
      if (nsutil::is_timeout(n.status())) {
        return Status(Code::kUnavailable,
                      "agent at " + path_ + " did not answer \"" + op + "\" within " + std::to_string(timeout.count()) + " ms",
                      n.status().error_number());
      }
      return n.status();
    }
    if (*n == 0) return Status(Code::kUnavailable, "agent at " + path_ + " closed the connection without answering \"" + op + "\"");
    decoder.feed(std::string_view(buf, *n));
  }
}

Status AgentClient::notify(const Json& message, std::chrono::milliseconds timeout) const {
  auto fd = send_frame(path_, message, nsutil::deadline_after(timeout));
  return fd.is_ok() ? Status::ok() : fd.status();
}

}  // namespace runguard::pipeline::internal
