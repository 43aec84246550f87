#include "node_helper.h"

#include <string.h>

#include "runguard/common/frame.h"
#include "runguard/nsutil/fs.h"
#include "runguard/nsutil/process.h"
#include "agent_client.h"

namespace runguard::pipeline::internal {
namespace {

// The helper's one line, parsed; its text is wiped either way (it may hold values).
Result<Json> helper_reply(std::string& output, int exit_code) {
  size_t nl = output.find('\n');
  auto j = parse_json(std::string_view(output).substr(0, nl), "runguardctl helper output");
  bool empty = output.empty();
  if (!output.empty()) explicit_bzero(output.data(), output.size());
  if (!j.is_ok() || !j->is_object()) {
    return Status(Code::kUnavailable, "runguardctl helper exited " + std::to_string(exit_code) +
                                          (empty ? " without a result" : " without a JSON result"));
  }
  auto ok = j->find("ok");
  if (ok != j->end() && ok->is_boolean() && ok->get<bool>()) return std::move(*j);
  auto error = j->find("error");
  auto code = j->find("code");
  if (error == j->end() || !error->is_string()) {
    return Status(Code::kUnavailable, "runguardctl helper exited " + std::to_string(exit_code) + " without an error message");
  }
  std::string c = code != j->end() && code->is_string() ? code->get<std::string>() : "";
  return Status(agent_error_code(c), "runguardctl helper: " + error->get<std::string>());
}

}  // namespace

Result<Json> parse_helper_reply(std::string& output, int exit_code) { return helper_reply(output, exit_code); }

std::string helper_beside_self() {
  auto self = nsutil::real_path("/proc/self/exe");
  return self.is_ok() ? self->substr(0, self->rfind('/') + 1) + "runguardctl" : "";
}

Result<NodeAnswer> ask_agent_or_helper(const NodeAsk& ask) {
  AgentClient client(ask.agent_socket);
  auto reply = client.request(frame::message(ask.op, ask.fields), ask.agent_timeout);
  if (reply.is_ok()) return NodeAnswer{std::move(*reply), "agent"};
  // A busy agent says so ("runguardd is busy ...; fall back"): the helper does the work instead.
  bool busy = reply.status().message().find("runguardd is busy") != std::string::npos;
  if (!agent_not_running(reply.status()) && !busy) return reply.status();

  std::string helper = helper_beside_self();
  if (helper.empty() || !nsutil::path_exists(helper)) {
    return Status(Code::kUnavailable, reply.status().message() + ", and runguardctl (the one-shot helper) is not installed at " +
                                          (helper.empty() ? std::string("the runtime's directory") : helper));
  }
  std::vector<std::string> argv = {"runguardctl"};
  argv.insert(argv.end(), ask.helper_args.begin(), ask.helper_args.end());
  auto run = nsutil::run_captured_line(helper, argv, ask.helper_timeout, ask.max_reply);
  if (!run.is_ok()) return Status(run.status()).with_context("runguardctl helper");
  if (run->timed_out) {
    if (!run->output.empty()) explicit_bzero(run->output.data(), run->output.size());
    return Status(Code::kUnavailable, "runguardctl helper did not answer within " + std::to_string(ask.helper_timeout.count()) +
                                          " ms and was killed");
  }
  auto parsed = helper_reply(run->output, run->killed_after_line ? -1 : run->exit_code);
  if (!parsed.is_ok()) return parsed.status();
  return NodeAnswer{std::move(*parsed), "helper"};
}

}  // namespace runguard::pipeline::internal
