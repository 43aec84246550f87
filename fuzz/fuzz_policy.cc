// Policy YAML: the full loader (every error path must be a Status with a location) and the
// pass-through line scanner (must never disagree with yaml-cpp when it answers; checked in
// tests/policy/settings_scan_test.cc, here only for crashes).
#include <cstddef>
#include <cstdint>
#include <string>

#include "runguard/policy/loader.h"

using namespace runguard;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto reader = [](const std::string& path) -> Result<std::string> {
    return std::string(R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]})");
  };
  (void)policy::parse_policy(text, "fuzz.yaml", reader);
  (void)policy::peek_runtime_settings(text);
  return 0;
}
