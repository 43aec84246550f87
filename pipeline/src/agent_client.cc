#include "agent_client.h"

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

Status check_reply(const Json& reply, const std::string& path) {
  auto v = reply.find("v");
  if (v == reply.end() || !v->is_number_integer() || v->get<int64_t>() != frame::kProtocolVersion) {
    return Status(Code::kUnavailable, "agent at " + path + " answered with another protocol version (" +
                                          (v == reply.end() ? std::string("none") : dump_json(*v)) + "); this runtime speaks " +
                                          std::to_string(frame::kProtocolVersion));
  }
  auto ok = reply.find("ok");
  if (ok == reply.end() || !ok->is_boolean()) return Status(Code::kUnavailable, "agent at " + path + " sent a reply without \"ok\"");
  if (ok->get<bool>()) return Status::ok();
  std::string error = reply.value("error", std::string("no reason given"));
  std::string code = reply.contains("code") && reply["code"].is_string() ? reply["code"].get<std::string>() : "";
  return Status(agent_error_code(code), "agent: " + error);
}

}  // namespace

Code agent_error_code(const std::string& code) {
  if (code == "not_found") return Code::kNotFound;
  if (code == "invalid") return Code::kInvalidArgument;
  return Code::kUnavailable;
}

bool agent_not_running(const Status& s) { return nsutil::is_not_listening(s); }

Result<Json> AgentClient::request(const Json& message, std::chrono::milliseconds timeout) const {
  const auto deadline = nsutil::deadline_after(timeout);
  const std::string op = message.is_object() ? message.value("op", std::string("?")) : "?";
  RG_ASSIGN_OR_RETURN(nsutil::UniqueFd fd, send_frame(path_, message, deadline));
  frame::FrameDecoder decoder;
  char buf[16384];
  for (;;) {
    auto next = decoder.next();
    if (!next.is_ok()) return Status(Code::kUnavailable, "agent at " + path_ + " sent a malformed reply: " + next.status().message());
    if (*next) {
      RG_RETURN_IF_ERROR(check_reply(**next, path_));
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
