#include "image_digest.h"

#include <algorithm>
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

std::string optional_string(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
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
  out.digest = optional_string(j, "digest");
  if (!is_image_digest(out.digest)) {
    return Status(Code::kUnavailable, via + " answered with \"" + out.digest.substr(0, 80) + "\", which is not an image digest (sha256:<64 hex>)");
  }
  out.image = optional_string(j, "image");
  out.media_type = optional_string(j, "mediaType");
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
    return Status(agent_error_code(optional_string(*j, "code")), "runguardctl helper: " + optional_string(*j, "error"));
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
  auto run = nsutil::run_captured(helper, helper_argv(agent, ns, ctx), std::chrono::milliseconds(agent.helper_timeout_ms));
  if (!run.is_ok()) return Status(run.status()).with_context("runguardctl helper");
  if (run->timed_out) {
    return Status(Code::kUnavailable, "runguardctl helper did not finish within agent.helperTimeout (" +
                                          std::to_string(agent.helper_timeout_ms) + " ms) and was killed");
  }
  auto parsed = parse_helper_output(run->output, run->exit_code);
  if (parsed.is_ok()) parsed->via = "helper";
  return parsed;
}

void resolve_image_digest(const RuncArgs& args, const policy::Policy& p, const RuncLog& log, policy::ContainerContext& ctx) {
  std::string ns = containerd_namespace(ctx, args.root);
  if (ns.empty()) return;
  const std::string what = "runguard: container " + ctx.id + ": image digest unknown";
  if (!nsutil::path_exists(p.agent.containerd)) {
    log.write("warning", what + ": containerd socket " + p.agent.containerd + " does not exist (set agent.containerd in " + p.source + ")");
    return;
  }
  std::string helper;
  if (auto self = nsutil::real_path("/proc/self/exe"); self.is_ok()) helper = self->substr(0, self->rfind('/') + 1) + "runguardctl";
  auto found = lookup_image_digest(p.agent, ns, ctx, helper);
  if (!found.is_ok()) {
    log.write("warning", what + " (" + found.status().to_string() + ")");
    return;
  }
  ctx.image_digest = found->digest;
  if (ctx.image.empty()) ctx.image = found->image;
}

}  // namespace runguard::pipeline::internal
