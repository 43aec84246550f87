// Rule files: the YAML loader, the condition parser, the compiler and one evaluation. Every error
// must come back as a Status (with a location), never a crash, hang or unbounded recursion. The
// first byte picks the mode: odd = the input is a condition (wrapped in a rule), even = a file.
#include <cstddef>
#include <cstdint>
#include <string>

#include "runguard/monitor/condition.h"
#include "runguard/monitor/eval.h"
#include "runguard/monitor/ruleset.h"

using namespace runguard::monitor;  // NOLINT(google-build-using-namespace)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) != 0) {
    (void)parse_condition(text);
    // A block scalar keeps the condition verbatim (no YAML quoting to break).
    std::string indented;
    for (char c : text) indented += c == '\n' ? std::string("\n    ") : std::string(1, c);
    text = "- macro: m\n  condition: proc.name = sh\n- list: l\n  items: [a, b]\n- rule: r\n  desc: d\n"
           "  output: \"%proc.name %evt.arg[0] %proc.aname[2]\"\n  priority: INFO\n  condition: |-\n    " + indented + "\n";
  }
  auto rs = load_rules({RuleFile{"fuzz.yaml", text}});
  if (rs.is_ok()) {
    Event ev;
    ev.type = "execve";
    ev.proc.name = "sh";
    ev.proc.args = {"-i"};
    ev.args = {{"filename", "/bin/sh", std::nullopt}};
    ev.ancestors = {{"bash", "bash", "/bin/bash", "bash", 1}};
    (void)evaluate(*rs, ev);
    ev.type = "ptrace";
    (void)evaluate(*rs, ev);
  }
  return 0;
}
