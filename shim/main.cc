// runguard: the OCI runtime. A drop-in for runc; see DESIGN.md "The create path".
#include <string>
#include <vector>

#include "runguard/pipeline/commands.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  return runguard::pipeline::dispatch(runguard::pipeline::parse_runc_args(args));
}
