// runguardctl: the operator's and CI's tool. Thin: parse the verb, call the library.
#include <iostream>
#include <string>
#include <vector>

#include "agent_cmds.h"
#include "attest_cmd.h"
#include "check.h"

namespace {

int usage() {
  std::cerr << "usage: runguardctl COMMAND [ARGS]\n"
               "  check [--policy FILE] [--format text|json|sarif] BUNDLE_DIR|CONFIG_JSON\n"
               "        evaluate a bundle offline (exit 0 allowed, 1 denied, 2 usage or input error)\n"
               "  attest verify --policy P --image-digest sha256:HEX (--attestation FILE | --store DIR)\n"
               "         [--image NAME] [--now RFC3339] [--format text|json]\n"
               "                             check an image's signed scan attestation as the runtime's gate does\n"
               "                             (exit 0 pass, 1 fail, 2 input error)\n"
               "  attest inspect FILE [--format text|json]\n"
               "                             the findings of an attestation or scanner report (signature not verified)\n"
               "  validate POLICY_FILE       check a policy file (exit 0 valid, 2 invalid)\n"
               "  controls [--format json]   list the controls with their CIS / PSS references\n"
               "  userns [list|gc] [--lib-dir DIR] [--format json]\n"
               "                             user-namespace ranges and their containers; gc frees dead ones\n"
               "  rules check [--strict] FILE...\n"
               "                             load runtime rule files; list loaded and skipped rules\n"
               "  status [--format text|json]\n"
               "                             runguardd's status; without it, the policy, records and events on disk\n"
               "  ps [--all] [--format text|json]\n"
               "                             containers runguard created or refused (--all: also the deleted)\n"
               "  explain ID [--format text|json]\n"
               "                             why a container was changed or refused: controls, CIS / PSS items\n"
               "  events [--follow] [--container ID] [--rule R] [--priority P] [--last N] [--format text|json]\n"
               "                             decisions and runtime monitor events (default: the last 20)\n"
               "  policy reload [FILE]       have runguardd validate and load a policy (FILE, or its own file again)\n"
               "  helper image-digest --containerd SOCK --namespace NS --container ID [--image NAME] [--timeout-ms N]\n"
               "                             the runtime's one-shot containerd lookup (one JSON line)\n"
               "  helper secrets fetch|revoke --request JSON [--config FILE] [--timeout-ms N]\n"
               "                             the runtime's one-shot Vault client (one JSON line)\n"
               "  version                    print the version\n"
               "\n"
               "status, ps, explain, events and policy ask runguardd on agent.socket (--agent SOCKET to override)\n"
               "and read the node's files when it is not running; --config FILE names the policy file (default\n"
               "$RUNGUARD_CONFIG, else /etc/runguard/policy.yaml). Exit 0 ok, 1 error, 2 usage.\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string verb = argv[1];
  std::vector<std::string> rest(argv + 2, argv + argc);
  if (verb == "check") return runguard::cli::cmd_check(rest);
  if (verb == "attest") return runguard::cli::cmd_attest(rest);
  if (verb == "controls") return runguard::cli::cmd_controls(rest);
  if (verb == "validate") return runguard::cli::cmd_validate(rest);
  if (verb == "userns") return runguard::cli::cmd_userns(rest);
  if (verb == "rules") return runguard::cli::cmd_rules(rest);
  if (verb == "status") return runguard::cli::cmd_status(rest);
  if (verb == "ps") return runguard::cli::cmd_ps(rest);
  if (verb == "explain") return runguard::cli::cmd_explain(rest);
  if (verb == "events") return runguard::cli::cmd_events(rest);
  if (verb == "policy") return runguard::cli::cmd_policy(rest);
  if (verb == "helper") return runguard::cli::cmd_helper(rest);
  if (verb == "help" || verb == "--help" || verb == "-h") {
    usage();
    return 0;
  }
  if (verb == "version" || verb == "--version") {
    std::cout << "runguardctl " << RUNGUARD_VERSION << "\n";
    return 0;
  }
  std::cerr << "runguardctl: unknown command \"" << verb << "\"\n";
  return usage();
}
