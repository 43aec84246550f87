// The control catalog: every control's stable ids and the external controls it implements.
// Printed by `runguardctl controls` and cited in every finding through its id.
#pragma once

#include <string>
#include <vector>

namespace runguard::policy {

struct ControlInfo {
  const char* name;    // policy key under `controls:` (`secrets` and `attestation` are top-level sections)
  const char* id;      // primary finding id
  const char* title;
  std::vector<const char*> cis;   // CIS Docker Benchmark v1.6.0 items
  std::vector<const char*> pss;   // Pod Security Standards controls (level: control)
};

const std::vector<ControlInfo>& control_catalog();
const ControlInfo* find_control(const std::string& name);
std::vector<std::string> control_names();

}  // namespace runguard::policy
