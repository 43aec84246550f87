// Decision: what the policy found and did, as data.
//
// A Finding is one violation of one control: a stable id (RG-CAPS-001), the control name, a
// severity, the action taken (enforce = fixed by a mutation, deny = refused, audit = recorded)
// and a JSON pointer into the evaluated document. A Mutation is one change to that document.
// Neither ever holds a secret value: env findings and mutations name the variable only.
#pragma once

#include <string>
#include <vector>

#include "runguard/common/json.h"
#include "runguard/policy/policy.h"
#include "runguard/policy/secrets.h"

namespace runguard::policy {

enum class Severity { kLow, kMedium, kHigh, kCritical };
const char* severity_name(Severity s);

struct Finding {
  std::string id;
  std::string control;
  Severity severity = Severity::kMedium;
  Action action = Action::kAudit;
  std::string message;
  std::string pointer;
};

struct Mutation {
  std::string id;
  std::string control;
  std::string op;        // "add" | "replace" | "remove"
  std::string pointer;
  Json value;            // new value (summarised for large values, never a secret); null for remove
  bool applied = true;   // false in audit mode: what would have changed
};

struct Decision {
  bool allowed = true;
  Mode mode = Mode::kEnforce;
  std::string override_name;    // matching override, "" for the top-level controls
  std::vector<Finding> findings;
  std::vector<Mutation> mutations;
  Json result;                  // the document after mutations (unchanged in audit mode or when denied)
  SecretsPlan secrets;          // files create puts under secrets.mountPath (names and references only)
  // The image scan attestation gate's state for this container (spec decisions only; null for
  // exec and update): {"gate":"off","reason"} | {"gate":"enforce"|"audit","required":false,"reason"}
  // | {"gate",..,"required":true,"passed","summary","detail"} | {"gate",..,"evaluated":false,"reason"}.
  Json attestation;

  // True when result differs from the input: at least one mutation was applied.
  bool changed() const;

  // The denial messages joined, for the one-line error users see.
  std::string denial_summary() const;
};

// {"allowed":..,"mode":..,"override":..,"findings":[{id,control,severity,action,message,pointer}],
//  "mutations":[{id,control,op,pointer,value,applied}], "secrets":.. (when any),
//  "attestation":.. (spec decisions)}
Json decision_to_json(const Decision& d);

}  // namespace runguard::policy
