// `runguardctl check`: the policy engine offline, as a CI gate.
#pragma once

#include <string>
#include <vector>

namespace runguard::cli {

// runguardctl check [--policy P] [--format text|json|sarif] BUNDLE_DIR|CONFIG_JSON
// Exit 0 allowed, 1 denied, 2 usage or input error.
int cmd_check(const std::vector<std::string>& args);

// runguardctl validate POLICY_FILE: loads and fully validates a policy (exit 0 valid, 2 invalid),
// so an installer never puts a policy on a node that would refuse every container.
int cmd_validate(const std::vector<std::string>& args);

// runguardctl controls [--format text|json]: the control catalog with CIS / PSS references.
int cmd_controls(const std::vector<std::string>& args);

// runguardctl userns [list|gc] [--lib-dir DIR] [--format text|json]: the user-namespace ranges
// (libDir from the policy unless given), or collect those of containers that no longer exist.
int cmd_userns(const std::vector<std::string>& args);

// runguardctl rules check [--strict] FILE...: loads Falco-format rule files (in order) with the
// monitor's field registry; prints loaded / skipped (with reasons) / disabled rules. Exit 0 when
// the files load (skips allowed), 1 with --strict and any skip, 2 on a load error (file:line:col).
int cmd_rules(const std::vector<std::string>& args);

}  // namespace runguard::cli
