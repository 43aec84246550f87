// Internal helpers shared by the command implementations.
#pragma once

#include <cstdint>
#include <optional>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "runguard/common/runc_log.h"
#include "runguard/common/status.h"
#include "runguard/pipeline/runc_args.h"
#include "runguard/policy/context.h"
#include "runguard/policy/decision.h"
#include "runguard/policy/policy.h"

namespace runguard::pipeline::internal {

RuncLog log_for(const RuncArgs& args);

// Reports `status` as "runguard: <message>" (error level in --log, and on stderr); returns 1.
int report_failure(const RuncLog& log, const Status& status);

// Replaces the process with `runtime`, argv[0] set to the runtime's path. Returns 1 (after
// reporting) only if execve fails.
int exec_runtime(const RuncLog& log, const std::string& runtime, std::vector<std::string> argv);

// Resolves the real runtime from a loaded policy, or reports and returns nullopt-like empty.
Result<std::string> runtime_for(const policy::Policy& p);

// <stateDir>/<id>
std::string container_state_dir(const std::string& state_dir, const std::string& id);

// The runtime's own directory for container `id` under its --root `root` (runc's default
// /run/runc when empty); runc keeps state.json there (crun: status) while it knows the container.
std::string runtime_container_dir(const std::string& root, const std::string& id);

// The shape of exec and update: load the policy and the runtime, look up the container's stored
// context, let `harden` rewrite argv, then exec the runtime. An invalid id goes to the runtime
// unchanged (it reports the usage error); a failure of any step is reported and returns 1.
using Harden = std::function<Status(const policy::Policy&, const policy::ContainerContext&, std::vector<std::string>& argv)>;
int run_hardened(const RuncArgs& args, const Harden& harden);

// Reads the context stored at create time, for exec and update; a container created before
// runguard was installed has none and gets a context with only its id.
policy::ContainerContext stored_context(const std::string& state_dir, const std::string& id);

// Sets the value of one flag use in argv, keeping its form ("--x=v" or "--x v").
void replace_flag_value(std::vector<std::string>& argv, const FlagUse& flag, const std::string& value);

// "N changes, M findings" style summary for the info line in --log.
std::string summarize(const policy::Decision& d);

// Reads a bundle's config.json (64 MiB at most). Stricter than runc, which follows a symlink
// there: runguard replaces the file in place and restores it on failure, so it must be the
// bundle's own regular file. A symlink, FIFO or device is refused (kInvalidArgument, never
// "opened" by failurePolicy) without being followed or opened for reading.
Result<std::string> read_bundle_config(const std::string& path);

// --- reading documents the way runc does (json.NewDecoder(f).Decode: the first value only) ---

// Tracks where the first JSON object or array in a growing buffer ends: brace/bracket depth
// outside strings. Feed it the whole buffer each time; it resumes where it stopped.
struct JsonValueScan {
  size_t pos = 0;     // bytes of the buffer scanned so far
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  bool started = false;
  // True once the value is complete (it is buf[0, pos)) or buf starts with something other than
  // '{' or '[' after whitespace (then `started` is false and pos is that byte's offset).
  bool done(std::string_view buf);
};

// Reads from `fd` up to the end of the first JSON object or array, never past `max_bytes`, and
// returns exactly that text: a writer may hold the file open (stdin, a FIFO) after it, as runc
// stops there too. EOF before the value is complete returns what was read (the JSON parser then
// reports it). `source` names the input in errors.
Result<std::string> read_json_value(int fd, const std::string& source, size_t max_bytes = 16u << 20);

// Opens `path` (a regular file, FIFO, /proc/self/fd/N ...) once and reads its first JSON value.
Result<std::string> read_json_value_at(const std::string& path, size_t max_bytes = 16u << 20);

// Hands runc `content` instead of the file a flag names: a sealed memfd, inherited across exec,
// whose /proc/self/fd/N replaces the flag's value in argv (the flag keeps its form).
Status pass_as_memfd(std::vector<std::string>& argv, const FlagUse& flag, const std::string& content);

// --- parsing flag values the way runc (Go) does ---

// An id for `exec -u UID[:GID]` / `-g GID`: decimal digits, 0..4294967294. runc takes any int and
// casts it with uint32(...), so larger (or negative) values would silently wrap; they are refused,
// as is 4294967295, which is (uid_t)-1 ("unchanged") to the kernel.
std::optional<uint32_t> parse_id(std::string_view s);

// strconv.ParseInt(s, 0, 64): optional sign, 0x/0o/0b prefixes, leading-0 octal, '_' between
// digits. nullopt for anything else, including out-of-range values.
std::optional<int64_t> parse_go_int(std::string_view s);

// strconv.ParseBool: 1 t T TRUE true True / 0 f F FALSE false False.
std::optional<bool> parse_go_bool(std::string_view s);

// docker/go-units RAMInBytes, which runc uses for --memory: "512m", "1g", "1.5GiB", "1 kb". Refuses
// sizes beyond int64 (runc's float-to-int64 conversion would not keep them).
Result<int64_t> ram_in_bytes(const std::string& v);

}  // namespace runguard::pipeline::internal
