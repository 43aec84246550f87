// runguardctl: the operator's and CI's tool. Thin: parse the verb, call the library.
#include <iostream>
#include <string>
#include <vector>

#include "check.h"

namespace {

int usage() {
  std::cerr << "usage: runguardctl COMMAND [ARGS]\n"
               "  check [--policy FILE] [--format text|json|sarif] BUNDLE_DIR|CONFIG_JSON\n"
               "        evaluate a bundle offline (exit 0 allowed, 1 denied, 2 usage or input error)\n"
               "  validate POLICY_FILE       check a policy file (exit 0 valid, 2 invalid)\n"
               "  controls [--format json]   list the controls with their CIS / PSS references\n"
               "  userns [list|gc] [--lib-dir DIR] [--format json]\n"
               "                             user-namespace ranges and their containers; gc frees dead ones\n"
               "  rules check [--strict] FILE...\n"
               "                             load runtime rule files; list loaded and skipped rules\n"
               "  version                    print the version\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string verb = argv[1];
  std::vector<std::string> rest(argv + 2, argv + argc);
  if (verb == "check") return runguard::cli::cmd_check(rest);
  if (verb == "controls") return runguard::cli::cmd_controls(rest);
  if (verb == "validate") return runguard::cli::cmd_validate(rest);
  if (verb == "userns") return runguard::cli::cmd_userns(rest);
  if (verb == "rules") return runguard::cli::cmd_rules(rest);
  if (verb == "version" || verb == "--version") {
    std::cout << "runguardctl " << RUNGUARD_VERSION << "\n";
    return 0;
  }
  std::cerr << "runguardctl: unknown command \"" << verb << "\"\n";
  return usage();
}
