#include "node_context.h"

#include <iostream>

#include "runguard/common/strings.h"

namespace runguard::cli {

Result<Flags> parse_flags(const std::vector<std::string>& args, std::set<std::string> value_flags,
                          const std::set<std::string>& bool_flags) {
  value_flags.insert({"--format", "--config", "--agent"});
  Flags out;
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (flags_done || a.size() < 2 || a[0] != '-') {
      out.positional.push_back(a);
      continue;
    }
    if (a == "--") {
      flags_done = true;
      continue;
    }
    if (a == "-h" || a == "--help") {
      out.help = true;
      continue;
    }
    std::string name = a.substr(0, a.find('='));
    if (value_flags.count(name) != 0) {
      if (name.size() < a.size()) {
        out.values[name] = a.substr(name.size() + 1);
      } else if (i + 1 < args.size()) {
        out.values[name] = args[++i];
      } else {
        return invalid(name + " needs a value");
      }
    } else if (bool_flags.count(a) != 0) {
      out.bools.insert(a);
    } else {
      std::vector<std::string> known(value_flags.begin(), value_flags.end());
      known.insert(known.end(), bool_flags.begin(), bool_flags.end());
      return invalid("unknown flag " + a + did_you_mean(name, known));
    }
  }
  return out;
}

Result<NodeContext> node_context(const Flags& flags) {
  NodeContext n;
  auto fmt = flags.values.find("--format");
  if (fmt != flags.values.end()) {
    if (fmt->second != "text" && fmt->second != "json") return invalid("--format must be text or json");
    n.json = fmt->second == "json";
  }
  n.source = pipeline::config_source();
  if (auto c = flags.values.find("--config"); c != flags.values.end()) n.source = {c->second, true, "--config"};
  auto p = pipeline::load_policy(n.source);
  policy::Policy defaults;
  const policy::Policy& used = p.is_ok() ? *p : defaults;
  if (p.is_ok()) n.policy = *p;
  else n.policy_error = p.status().to_string();
  n.socket = used.agent.socket;
  if (auto a = flags.values.find("--agent"); a != flags.values.end()) n.socket = a->second;
  n.state_dir = used.state_dir;
  n.events_path = used.events_path;
  return n;
}

std::unique_ptr<AgentClient> connect_agent(const NodeContext& node, std::string* why) {
  auto c = AgentClient::connect(node.socket);
  if (c.is_ok()) return std::move(c).value();
  *why = c.status().message();
  return nullptr;
}

void note_fallback(const NodeContext& node, const std::string& message) {
  if (!node.policy_error.empty()) {
    std::cerr << "runguardctl: warning: the policy does not load (" << node.policy_error
              << "); using the default paths\n";
  }
  if (!node.json) std::cerr << "runguardctl: " << message << "\n";
}

void print_json(const Json& j) { std::cout << dump_json(j, 2) << "\n"; }

int fail(const std::string& cmd, const std::string& message, int code) {
  std::cerr << "runguardctl " << cmd << ": " << printable(message) << "\n";  // it may quote a record or the agent
  return code;
}

}  // namespace runguard::cli
