#include "runguard/pipeline/runc_args.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>

namespace runguard::pipeline {
namespace {

struct FlagSpec {
  std::set<std::string> value;  // flags that take a value; everything else is boolean
  std::map<std::string, std::string> aliases;  // short -> long
  // The command's boolean flags, for the commands whose every flag runguard must understand
  // (create, run, exec, update): any other flag there is reported as unknown.
  std::optional<std::set<std::string>> boolean = std::nullopt;
};

const std::set<std::string> kGlobalValueFlags = {"log", "log-format", "root", "criu", "rootless"};

const std::set<std::string> kCommands = {"checkpoint", "create", "delete", "events", "exec", "features", "init",
                                         "kill", "list", "pause", "ps", "restore", "resume", "run", "spec",
                                         "start", "state", "update", "help", "h"};

const FlagSpec& spec_for(const std::string& cmd) {
  static const std::map<std::string, FlagSpec> kSpecs = {
      {"create",
       {{"bundle", "config", "console-socket", "pid-file", "preserve-fds", "pidfd-socket"},
        {{"b", "bundle"}},
        std::set<std::string>{"no-pivot", "no-new-keyring"}}},
      {"run",
       {{"bundle", "config", "console-socket", "pid-file", "preserve-fds", "pidfd-socket"},
        {{"b", "bundle"}, {"d", "detach"}},
        std::set<std::string>{"detach", "keep", "no-subreaper", "no-pivot", "no-new-keyring"}}},
      {"restore",
       {{"console-socket", "image-path", "work-path", "bundle", "pid-file", "manage-cgroups-mode", "empty-ns",
         "lsm-profile", "lsm-mount-context", "parent-path"},
        {{"b", "bundle"}, {"d", "detach"}}}},
      {"exec",
       {{"console-socket", "cwd", "env", "process", "pid-file", "process-label", "apparmor", "user", "additional-gids",
         "cap", "preserve-fds", "cgroup", "pidfd-socket"},
        {{"e", "env"}, {"p", "process"}, {"u", "user"}, {"g", "additional-gids"}, {"c", "cap"}, {"t", "tty"}, {"d", "detach"}},
        std::set<std::string>{"tty", "detach", "no-new-privs", "ignore-paused"}}},
      {"update",
       {{"resources", "blkio-weight", "cpu-period", "cpu-quota", "cpu-share", "cpu-rt-period", "cpu-rt-runtime",
         "cpuset-cpus", "cpuset-mems", "kernel-memory", "kernel-memory-tcp", "memory", "memory-reservation",
         "memory-swap", "pids-limit", "l3-cache-schema", "mem-bw-schema", "cpu-idle", "cpu-burst"},
        {{"r", "resources"}},
        std::set<std::string>{}}},
      {"delete", {{}, {{"f", "force"}}}},
      {"kill", {{}, {{"a", "all"}}}},
      {"ps", {{"format"}, {{"f", "format"}}}},
      {"list", {{"format"}, {{"f", "format"}, {"q", "quiet"}}}},
      {"events", {{"interval"}, {}}},
      {"checkpoint",
       {{"image-path", "work-path", "parent-path", "page-server", "manage-cgroups-mode", "empty-ns"}, {}}},
      {"spec", {{"bundle"}, {{"b", "bundle"}}}},
  };
  static const FlagSpec kEmpty;
  auto it = kSpecs.find(cmd);
  return it == kSpecs.end() ? kEmpty : it->second;
}

// "-x", "--x", "-x=v", "--x=v" -> {"x", "v", has_value}; not a flag -> nullopt.
std::optional<std::tuple<std::string, std::string, bool>> split_flag(const std::string& word) {
  if (word.size() < 2 || word[0] != '-' || word == "--") return std::nullopt;
  std::string body = word.substr(word[1] == '-' ? 2 : 1);
  if (body.empty() || body[0] == '-') return std::nullopt;
  auto eq = body.find('=');
  if (eq == std::string::npos) return std::make_tuple(body, std::string(), false);
  return std::make_tuple(body.substr(0, eq), body.substr(eq + 1), true);
}

}  // namespace

std::optional<std::string> RuncArgs::flag(const std::string& name) const {
  std::optional<std::string> out;
  for (const auto& f : flags) {
    if (f.name == name) out = f.value;
  }
  return out;
}

std::vector<const FlagUse*> RuncArgs::all(const std::string& name) const {
  std::vector<const FlagUse*> out;
  for (const auto& f : flags) {
    if (f.name == name) out.push_back(&f);
  }
  return out;
}

RuncArgs parse_runc_args(const std::vector<std::string>& argv) {
  RuncArgs a;
  a.argv = argv;
  size_t i = 1;
  for (; i < argv.size(); ++i) {
    const std::string& w = argv[i];
    auto f = split_flag(w);
    if (!f) {
      // A word that is no command is taken as the value of an unknown global flag; scanning on
      // means a create hidden behind one is still intercepted (runc itself would reject it).
      if (!kCommands.count(w)) continue;
      a.command = w;
      a.command_index = i;
      break;
    }
    auto [name, value, has_value] = *f;
    if (kGlobalValueFlags.count(name) && !has_value && i + 1 < argv.size()) value = argv[++i];
    if (name == "root") a.root = value;
    else if (name == "log") a.log = value;
    else if (name == "log-format") a.log_format = value == "json" ? LogFormat::kJson : LogFormat::kText;
    else if (name == "debug") a.debug = !has_value || value == "true";
    else if (name == "systemd-cgroup") a.systemd_cgroup = !has_value || value == "true";
  }
  if (a.command.empty()) return a;
  const FlagSpec& spec = spec_for(a.command);
  // urfave/cli v1.22 (runc 1.1/1.2) moves flags written after positionals to the front, so
  // `runc create ID --bundle B` is `runc create --bundle B ID`; runc turns that off for exec
  // only, whose positionals after the id are the command to run.
  const bool reorder = a.command != "exec";
  for (i = a.command_index + 1; i < argv.size(); ++i) {
    const std::string& w = argv[i];
    if (w == "--") {
      for (++i; i < argv.size(); ++i) a.positional.push_back(argv[i]);
      break;
    }
    auto f = split_flag(w);
    if (!f) {
      if (!reorder) {
        for (; i < argv.size(); ++i) a.positional.push_back(argv[i]);
        break;
      }
      a.positional.push_back(w);
      continue;
    }
    auto [name, value, has_value] = *f;
    if (auto al = spec.aliases.find(name); al != spec.aliases.end()) name = al->second;
    FlagUse use{name, value, i, i, has_value};
    if (spec.value.count(name) && !has_value && i + 1 < argv.size()) {
      use.value = argv[++i];
      use.value_index = i;
    }
    if (name == "help" || name == "h") a.help = true;
    else if (spec.boolean && !spec.value.count(name) && !spec.boolean->count(name)) a.unknown_flags.push_back(w);
    a.flags.push_back(std::move(use));
  }
  return a;
}

Status check_container_id(const std::string& id) {
  if (id.empty()) return invalid("container id is empty");
  if (id == "." || id == ".." || id.size() > 1024) return invalid("invalid container id \"" + id + "\"");
  for (char c : id) {
    // runc's pattern ^[\w+-\.]+$ holds the range '+'..'.', which includes ','.
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '+' || c == ',' || c == '-' || c == '.')) {
      return invalid("invalid container id \"" + id + "\": only letters, digits, _ + , - . are allowed");
    }
  }
  return Status::ok();
}

}  // namespace runguard::pipeline
