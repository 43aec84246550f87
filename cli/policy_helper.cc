// runguardctl policy reload, and the runtime's one-shot helpers (helper image-digest; helper secrets in secrets_helper.cc).
#include <chrono>
#include <iostream>

#include "agent_cmds.h"
#include "node_context.h"
#include "runguard/agent/containerd_client.h"
#include "runguard/common/strings.h"
#include "runguard/nsutil/fs.h"
#include "secrets_helper.h"

namespace runguard::cli {
namespace {

constexpr const char* kPolicyUsage =
    "usage: runguardctl policy reload [FILE] [--format text|json] [--config FILE] [--agent SOCKET]\n"
    "  with FILE: runguardd validates it and writes it over its policy file; without: it re-reads that file\n";
constexpr const char* kHelperUsage =
    "usage: runguardctl helper image-digest --containerd SOCK --namespace NS --container ID [--image NAME]\n"
    "                                       [--timeout-ms N]\n"
    "       runguardctl helper secrets fetch|revoke --request JSON [--config FILE] [--timeout-ms N]\n";

constexpr int64_t kDefaultHelperTimeoutMs = 3000;

int usage(const char* text, const std::string& why) {
  if (!why.empty()) std::cerr << "runguardctl: " << why << "\n";
  std::cerr << text;
  return why.empty() ? 0 : 2;
}

// No agent: nothing can be reloaded. Validate what the user has, and say how the runtime picks it up.
int reload_without_agent(const NodeContext& node, const std::string& file, const std::string& why) {
  std::string target = file.empty() ? node.source.path : file;
  auto p = file.empty() ? (node.policy.has_value() ? Result<policy::Policy>(*node.policy) : Result<policy::Policy>(invalid(node.policy_error)))
                        : pipeline::load_policy({file, true, "the command line"});
  std::string hint = file.empty() ? "the runtime reads " + node.source.path + " at every create, so there is nothing to reload"
                                  : "the runtime reads the policy file at every create, so installing it is: install -m 0644 " +
                                        file + " " + node.source.path;
  if (node.json) {
    print_json({{"source", "disk"},
                {"reloaded", false},
                {"agent", {{"socket", node.socket}, {"running", false}, {"error", why}}},
                {"policy", target},
                {"valid", p.is_ok()},
                {"error", p.is_ok() ? Json() : Json(p.status().to_string())},
                {"hint", hint}});
    return 1;
  }
  std::cerr << "runguardctl policy reload: " << why << "; no agent to reload\n";
  if (!p.is_ok()) {
    std::cerr << "runguardctl policy reload: " << target << " does not load: " << p.status().to_string() << "\n";
  } else {
    std::cerr << "runguardctl policy reload: " << (p->source == "<embedded defaults>" ? p->source : target) << " is valid; "
              << hint << "\n";
  }
  return 1;
}

}  // namespace

int cmd_policy(const std::vector<std::string>& args) {
  auto flags = parse_flags(args, {}, {});
  if (!flags.is_ok()) return usage(kPolicyUsage, flags.status().message());
  if (flags->help) return usage(kPolicyUsage, "");
  const auto& pos = flags->positional;
  if (pos.empty() || pos[0] != "reload") {
    return usage(kPolicyUsage, pos.empty() ? "policy needs a subcommand" : "unknown policy subcommand \"" + pos[0] + "\"");
  }
  if (pos.size() > 2) return usage(kPolicyUsage, "policy reload takes at most one FILE");
  std::string file = pos.size() == 2 ? pos[1] : "";
  auto node = node_context(*flags);
  if (!node.is_ok()) return usage(kPolicyUsage, node.status().message());

  std::string yaml;
  if (!file.empty()) {
    auto text = nsutil::read_file(file, 4u << 20);
    if (!text.is_ok()) return fail("policy reload", text.status().to_string());
    if (text->empty()) return fail("policy reload", file + " is empty (an empty document would mean re-reading the agent's file)");
    yaml = std::move(text).value();
  }
  std::string why;
  auto agent = connect_agent(*node, &why);
  if (agent == nullptr) return reload_without_agent(*node, file, why);
  auto r = agent->reload_policy(yaml);
  if (!r.is_ok()) {
    if (r.status().code() == Code::kInvalidArgument) {
      return fail("policy reload", "runguardd refused the policy, the old one stays in force: " + r.status().message());
    }
    return fail("policy reload", r.status().to_string());
  }
  if (node->json) {
    print_json({{"source", "agent"},
                {"reloaded", true},
                {"policySource", r->policy_source()},
                {"policyDigest", r->policy_digest()},
                {"policyLoadedAt", format_timestamp(r->policy_loaded_at())},
                {"changed", r->changed()}});
  } else {
    std::cout << "runguardd loaded " << r->policy_source() << " (" << r->policy_digest() << ")"
              << (r->changed() ? "" : "; unchanged from the policy in force") << "\n";
  }
  return 0;
}

namespace {

int helper_result(const Json& j, int code) {
  std::cout << dump_json(j) << "\n";
  std::cout.flush();
  return code;
}

int helper_error(const std::string& message, const std::string& code, int exit_code = 1) {
  return helper_result({{"error", message}, {"code", code}}, exit_code);
}

const char* helper_code(Code c) {
  switch (c) {
    case Code::kNotFound: return "not_found";
    case Code::kInvalidArgument: return "invalid";
    default: return "unavailable";
  }
}

}  // namespace

int cmd_helper(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "secrets") return cmd_helper_secrets(std::vector<std::string>(args.begin() + 1, args.end()));
  if (args.empty() || args[0] != "image-digest") {
    std::cerr << kHelperUsage;
    return helper_error(args.empty() ? "helper needs a subcommand (image-digest, secrets)" : "unknown helper \"" + args[0] + "\"",
                        "invalid", 2);
  }
  auto flags = parse_flags(std::vector<std::string>(args.begin() + 1, args.end()),
                           {"--containerd", "--namespace", "--container", "--image", "--timeout-ms"}, {});
  if (!flags.is_ok()) return helper_error(flags.status().message(), "invalid", 2);
  if (flags->help) return usage(kHelperUsage, "");
  if (!flags->positional.empty()) return helper_error("unexpected argument \"" + flags->positional[0] + "\"", "invalid", 2);
  auto value = [&](const char* k) { auto it = flags->values.find(k); return it == flags->values.end() ? std::string() : it->second; };
  std::string socket = value("--containerd"), ns = value("--namespace"), id = value("--container"), image = value("--image");
  if (socket.empty() || ns.empty() || (id.empty() && image.empty())) {
    return helper_error("--containerd, --namespace and --container (or --image) are required", "invalid", 2);
  }
  int64_t timeout_ms = kDefaultHelperTimeoutMs;
  if (std::string t = value("--timeout-ms"); !t.empty()) {
    auto v = parse_u32(t);
    if (!v.has_value() || *v == 0 || *v > 600000) return helper_error("--timeout-ms \"" + t + "\" is not 1..600000", "invalid", 2);
    timeout_ms = *v;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto left = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  };
  agent::ContainerdClient client(socket);
  if (image.empty()) {
    auto name = client.container_image(ns, id, left());
    if (!name.is_ok()) return helper_error(name.status().message(), helper_code(name.status().code()));
    image = *name;
  }
  if (left().count() <= 0) return helper_error("containerd lookup of " + ns + "/" + image + " ran out of time", "unavailable");
  auto d = client.image(ns, image, left());
  if (!d.is_ok()) return helper_error(d.status().message(), helper_code(d.status().code()));
  return helper_result({{"image", d->image}, {"digest", d->digest}, {"mediaType", d->media_type}}, 0);
}

}  // namespace runguard::cli
