// runc's command line as runguard parses it: the input is split at NUL bytes into argv words.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "runguard/pipeline/runc_args.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> argv = {"runguard"};
  std::string word;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      argv.push_back(word);
      word.clear();
    } else {
      word += static_cast<char>(data[i]);
    }
  }
  argv.push_back(word);
  auto args = runguard::pipeline::parse_runc_args(argv);
  (void)runguard::pipeline::check_container_id(args.id());
  for (const auto& f : args.flags) {
    if (f.value_index >= argv.size() || f.name_index >= argv.size()) __builtin_trap();
  }
  return 0;
}
