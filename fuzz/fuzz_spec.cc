// config.json / exec process / update resources documents through the runtime's whole in-process
// path: parse, validate, evaluate (spec, process, update) and serialise. Any input must end in a
// Status or a Decision, never a crash, an exception or a sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runguard/policy/engine.h"
#include "runguard/policy/loader.h"

using namespace runguard;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const policy::Policy kPolicy = *policy::default_policy();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto doc = parse_json(text, "fuzz");
  if (!doc.is_ok()) return 0;
  if (policy::validate_spec(*doc, "fuzz").is_ok()) {
    auto ctx = policy::context_from_spec(*doc, "id", "/bundle", "/run/containerd/runc/k8s.io");
    policy::Decision d = policy::evaluate_spec(kPolicy, *doc, ctx);
    (void)dump_json(policy::decision_to_json(d));
    (void)dump_json(d.result);
  }
  if (doc->is_object() && policy::validate_process(*doc, "fuzz").is_ok()) {
    (void)policy::evaluate_process(kPolicy, *doc, {});
  }
  if (doc->is_object() && policy::validate_resources(*doc, "fuzz").is_ok()) {
    (void)policy::evaluate_update(kPolicy, *doc, {});
  }
  return 0;
}
