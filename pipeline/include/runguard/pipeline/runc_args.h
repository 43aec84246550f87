// runc's command line, parsed the way runc (urfave/cli v1 over Go's flag package) parses it.
//
//   runc [global flags] COMMAND [command flags] [--] ID [ARGS...]
//
// Flags may be written -name or --name, with the value as the next word or after '='. Flags after
// the positionals count too (urfave/cli v1.22 reorders them), except for exec, where parsing stops
// at the container id: what follows is the command. "--" ends the flags. Unknown global flags are kept and passed
// through untouched: a "--x=v" flag is self-contained, a bare "--x" is assumed boolean (the
// subcommand is found by name, so a guess there cannot misplace it). The original argv is kept
// verbatim; rewrites (exec -u, update --resources) replace single words by index.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runguard/common/runc_log.h"
#include "runguard/common/status.h"

namespace runguard::pipeline {

struct FlagUse {
  std::string name;          // long name without dashes ("bundle", "user")
  std::string value;         // "" for booleans given without "=value"
  size_t name_index = 0;     // argv index of the flag word
  size_t value_index = 0;    // argv index of the value word (== name_index for "--x=v" and booleans)
  bool inline_value = false; // "--x=v" form
};

struct RuncArgs {
  std::vector<std::string> argv;  // verbatim, argv[0] included

  // Global flags.
  std::string root;
  std::string log;
  LogFormat log_format = LogFormat::kText;
  bool debug = false;
  bool systemd_cgroup = false;

  std::string command;           // "" when none was given (runc prints help)
  size_t command_index = 0;
  std::vector<FlagUse> flags;    // the command's flags, in order
  std::vector<std::string> positional;  // ID first, then (exec) the command
  bool help = false;                     // -h / --help: runc prints usage, nothing to check
  // Flags of create/run/exec/update runguard does not know (from a newer runc, or mistyped):
  // those commands refuse them rather than guess what they change.
  std::vector<std::string> unknown_flags;

  // Last value of a command flag (by long or short name), if given.
  std::optional<std::string> flag(const std::string& name) const;
  std::vector<const FlagUse*> all(const std::string& name) const;
  std::string id() const { return positional.empty() ? "" : positional[0]; }
};

RuncArgs parse_runc_args(const std::vector<std::string>& argv);

// runc's container id rule (^[\w+-\.]+$), which also keeps ids safe as path components.
Status check_container_id(const std::string& id);

}  // namespace runguard::pipeline
