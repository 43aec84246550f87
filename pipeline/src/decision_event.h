// Internal: the event line of a create decision (docs/agent.md "Event lines"), appended to the
// events file next to the monitors' Falco events and offered to runguardd:
//
//   {"time":"<RFC 3339, ns, UTC>","rule":"runguard decision","priority":"Notice"|"Warning",
//    "source":"runguard","hostname":H,"tags":["runguard","decision"],
//    "output":"<HH:MM:SS.nnnnnnnnn>: <Priority> container <id> allowed|denied (policy <source>): N changes, M denials",
//    "output_fields":{"container.id","container.image","container.image.digest","k8s.ns.name","k8s.pod.name"},
//    "runguard.kind":"decision","runguard.action":"allowed"|"denied","runguard.policy":<source>,
//    "runguard.container":{"id","name","image","imageDigest","namespace","pod"},
//    "runguard.decision":<policy::decision_to_json>,
//    "runguard.attestation":{"gate","required","passed","summary"|"evaluated","reason"} (spec decisions)}
//
// The runguard.* keys are flat, like the monitor's event lines. Notice for allowed containers,
// Warning for denied ones. Like the decision record, it never holds an environment value:
// decision_to_json names variables only.
//
// Thread-safety: pure.
#pragma once

#include <time.h>

#include <string>

#include "runguard/common/json.h"
#include "runguard/policy/context.h"
#include "runguard/policy/decision.h"
#include "runguard/policy/policy.h"

namespace runguard::pipeline::internal {

// `time`: CLOCK_REALTIME of the decision; `hostname`: the node's.
Json decision_event(const policy::Policy& p, const policy::ContainerContext& ctx, const policy::Decision& d,
                    const struct timespec& time, const std::string& hostname);

}  // namespace runguard::pipeline::internal
