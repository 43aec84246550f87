#include "image_digest.h"

#include <algorithm>
#include <exception>
#include <vector>

#include "runguard/common/frame.h"
#include "runguard/nsutil/fs.h"
#include "runguard/nsutil/process.h"
#include "agent_client.h"

namespace runguard::pipeline::internal {
namespace {

constexpr std::string_view kTaskDir = "/io.containerd.runtime.v2.task/";

bool usable_namespace(const std::string& ns) { return !ns.empty() && ns != "." && ns != ".."; }

std::string last_component(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The string member `key` of the object `j`: "" when absent; an error naming `who` when it is
// there but not a string (the answer is malformed: nothing of it is used).
Result<std::string> string_member(const Json& j, const char* key, const std::string& who) {
  auto it = j.find(key);
  if (it == j.end()) return std::string();
  if (!it->is_string()) {
    return Status(Code::kUnavailable, who + " sent a malformed answer: \"" + key + "\" is a " + json_type_name(*it) +
                                          ", expected a string");
  }
  return it->get<std::string>();
}

// Leaves a little of the kill deadline to the helper for reporting its own timeout.
int64_t helper_budget_ms(int64_t helper_timeout_ms) {
  return std::max<int64_t>(1, helper_timeout_ms - std::min<int64_t>(100, helper_timeout_ms / 10));
}

}  // namespace

std::string containerd_namespace(const policy::ContainerContext& ctx, const std::string& runtime_root) {
  if (ctx.engine != "containerd" && ctx.engine != "containerd-cri") return "";
  if (size_t at = ctx.bundle.find(kTaskDir); at != std::string::npos) {
    std::string rest = ctx.bundle.substr(at + kTaskDir.size());
    size_t slash = rest.find('/');
    if (slash != std::string::npos && slash + 1 < rest.size() && usable_namespace(rest.substr(0, slash))) {
      return rest.substr(0, slash);
    }
  }
  std::string ns = runtime_root.empty() ? "" : last_component(runtime_root);
  return usable_namespace(ns) ? ns : "";
}

bool is_image_digest(std::string_view digest) {
  size_t hex_len = 0;
  if (digest.rfind("sha256:", 0) == 0) hex_len = 64;
  else if (digest.rfind("sha512:", 0) == 0) hex_len = 128;
  else return false;
  std::string_view hex = digest.substr(7);
  if (hex.size() != hex_len) return false;
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<ImageLookup> image_lookup_from_json(const Json& j, const std::string& via) {
  if (!j.is_object()) return Status(Code::kUnavailable, via + " answered with a JSON " + std::string(json_type_name(j)) + ", expected an object");
  ImageLookup out;
  RG_ASSIGN_OR_RETURN(out.digest, string_member(j, "digest", via));
  if (!is_image_digest(out.digest)) {
    return Status(Code::kUnavailable, via + " answered with \"" + out.digest.substr(0, 80) + "\", which is not an image digest (sha256:<64 hex>)");
  }
  RG_ASSIGN_OR_RETURN(out.image, string_member(j, "image", via));
  RG_ASSIGN_OR_RETURN(out.media_type, string_member(j, "mediaType", via));
  out.via = via;
  return out;
}

Result<ImageLookup> parse_helper_output(const std::string& output, int exit_code) {
  std::string line = output.substr(0, output.find('\n'));
  auto j = parse_json(line, "runguardctl helper output");
  if (!j.is_ok() || !j->is_object()) {
    return Status(Code::kUnavailable, "runguardctl helper exited " + std::to_string(exit_code) + " without a JSON result" +
                                          (line.empty() ? "" : ": \"" + line.substr(0, 200) + "\""));
  }
  if (j->contains("error")) {
    RG_ASSIGN_OR_RETURN(std::string error, string_member(*j, "error", "runguardctl helper"));
    RG_ASSIGN_OR_RETURN(std::string code, string_member(*j, "code", "runguardctl helper"));
    return Status(agent_error_code(code), "runguardctl helper: " + error);
  }
  if (exit_code != 0 && exit_code != -1) {
    return Status(Code::kUnavailable, "runguardctl helper exited " + std::to_string(exit_code) + " without an error message");
  }
  return image_lookup_from_json(*j, "runguardctl helper");
}

std::vector<std::string> helper_argv(const policy::AgentSettings& agent, const std::string& ns,
                                     const policy::ContainerContext& ctx) {
  std::vector<std::string> argv = {"runguardctl", "helper", "image-digest", "--containerd", agent.containerd,
                                   "--namespace", ns,        "--container",  ctx.id};
  if (!ctx.image.empty()) {
    argv.push_back("--image");
    argv.push_back(ctx.image);
  }
  argv.push_back("--timeout-ms");
  argv.push_back(std::to_string(helper_budget_ms(agent.helper_timeout_ms)));
  return argv;
}

Result<ImageLookup> lookup_image_digest(const policy::AgentSettings& agent, const std::string& ns,
                                        const policy::ContainerContext& ctx, const std::string& helper) {
  AgentClient client(agent.internal_socket);
  Json request = frame::message("image.digest", {{"namespace", ns}, {"container", ctx.id}, {"image", ctx.image}});
  auto reply = client.request(request, std::chrono::milliseconds(agent.request_timeout_ms));
  if (reply.is_ok()) return image_lookup_from_json(*reply, "agent at " + agent.internal_socket);
  if (!agent_not_running(reply.status())) return reply.status();

  if (helper.empty() || !nsutil::path_exists(helper)) {
    return Status(Code::kUnavailable, reply.status().message() + ", and runguardctl (the one-shot helper) is not installed at " +
                                          (helper.empty() ? std::string("the runtime's directory") : helper));
  }
  // Its one line is the answer: a helper that printed it and is slow to exit (gRPC's threads
  // winding down) is killed, not reported as timed out.
  auto run = nsutil::run_captured_line(helper, helper_argv(agent, ns, ctx), std::chrono::milliseconds(agent.helper_timeout_ms));
  if (!run.is_ok()) return Status(run.status()).with_context("runguardctl helper");
  if (run->timed_out) {
    return Status(Code::kUnavailable, "runguardctl helper did not answer within agent.helperTimeout (" +
                                          std::to_string(agent.helper_timeout_ms) + " ms) and was killed");
  }
  auto parsed = parse_helper_output(run->output, run->killed_after_line ? -1 : run->exit_code);
  if (parsed.is_ok()) parsed->via = "helper";
  return parsed;
}

void resolve_image_digest(const RuncArgs& args, const policy::Policy& p, const RuncLog& log, policy::ContainerContext& ctx,
                          std::string* why) {
  resolve_image_digest(args.root, p, log, ctx, why);
}

void resolve_image_digest(const std::string& runtime_root, const policy::Policy& p, const RuncLog& log,
                          policy::ContainerContext& ctx, std::string* why) {
  std::string unused;
  std::string& reason = why != nullptr ? *why : unused;
  reason.clear();
  std::string ns = containerd_namespace(ctx, runtime_root);
  if (ns.empty()) return;
  const std::string what = "runguard: container " + ctx.id + ": image digest unknown";
  if (!nsutil::path_exists(p.agent.containerd)) {
    reason = "containerd socket " + p.agent.containerd + " does not exist";
    log.write("warning", what + ": containerd socket " + p.agent.containerd + " does not exist (set agent.containerd in " + p.source + ")");
    return;
  }
  std::string helper;
  if (auto self = nsutil::real_path("/proc/self/exe"); self.is_ok()) helper = self->substr(0, self->rfind('/') + 1) + "runguardctl";
  // Every reply is read type-safely; this only keeps an unforeseen throw (an allocation failure)
  // from aborting a create that already holds a state directory and an id range.
  Result<ImageLookup> found = Status(Code::kInternal, "lookup did not run");
  try {
    found = lookup_image_digest(p.agent, ns, ctx, helper);
  } catch (const std::exception& e) {
    found = Status(Code::kInternal, std::string("image digest lookup failed: ") + e.what());
  }
  if (!found.is_ok()) {
    reason = found.status().to_string();
    log.write("warning", what + " (" + found.status().to_string() + ")");
    return;
  }
  ctx.image_digest = found->digest;
  ctx.image_digest_source = "containerd";
  if (ctx.image.empty()) ctx.image = found->image;
}

}  // namespace runguard::pipeline::internal
