// runguard-hook: OCI hook entry points that runguard adds to the containers it creates.
//
//   runguard-hook poststop --state-dir DIR      (OCI state JSON on stdin)
//
// poststop runs in `runc delete` and when a foreground `runc run` ends, so what create took is
// released even when nobody calls `runguard delete` (runc run, or runc used directly). It must
// never fail the runtime's delete: errors are reported on stderr (runc logs them as warnings).
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "runguard/common/json.h"
#include "runguard/nsutil/fs.h"
#include "runguard/pipeline/runc_args.h"

namespace {

int poststop(const std::vector<std::string>& args) {
  std::string state_dir;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--state-dir" && i + 1 < args.size()) state_dir = args[++i];
  }
  if (state_dir.empty() || state_dir[0] != '/') {
    std::cerr << "runguard-hook poststop: --state-dir ABSOLUTE_DIR is required\n";
    return 2;
  }
  std::string input;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(STDIN_FILENO, buf, sizeof buf)) > 0 && input.size() < (16u << 20)) input.append(buf, static_cast<size_t>(n));
  auto state = runguard::parse_json(input, "hook state on stdin");
  if (!state.is_ok() || !state->is_object() || !state->contains("id") || !(*state)["id"].is_string()) {
    std::cerr << "runguard-hook poststop: " << (state.is_ok() ? "state has no string \"id\"" : state.status().message()) << "\n";
    return 2;
  }
  std::string id = (*state)["id"];
  if (runguard::Status s = runguard::pipeline::check_container_id(id); !s.is_ok()) {
    std::cerr << "runguard-hook poststop: " << s.message() << "\n";
    return 2;
  }
  if (runguard::Status s = runguard::nsutil::remove_tree(state_dir + "/" + id); !s.is_ok()) {
    std::cerr << "runguard-hook poststop: " << s.to_string() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "poststop") return poststop({args.begin() + 1, args.end()});
  std::cerr << "usage: runguard-hook poststop --state-dir DIR   (OCI state on stdin)\n";
  return 2;
}
