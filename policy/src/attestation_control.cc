// The attestation control (RG-ATTEST-001): the image scan attestation gate's verdict as a finding.
//
// The verdict is computed before evaluation by the pipeline (attest/ reads keys, VEX and the
// store; the policy core reads nothing and no clock) and handed over in ctx.attestation. Here it
// only becomes data: a failed verdict for a required image is a HIGH finding, denied under
// `attestation.action: enforce` and recorded under `audit` (policy mode audit downgrades a denial
// as for every control); and the gate's state, whatever it is, goes into the decision record so
// an operator can always tell "passed" from "never checked" from "gate off".
#include "eval.h"
#include "runguard/policy/engine.h"

namespace runguard::policy::internal {
namespace {

constexpr const char* kControl = "attestation";
constexpr const char* kId = "RG-ATTEST-001";

const char* gate_name(const AttestationSettings& s) {
  return s.action == AttestationSettings::GateAction::kAudit ? "audit" : "enforce";
}

// Why the gate is off ("" when it is on).
std::string off_reason(const AttestationSettings& s) {
  if (!s.present) return "no attestation section in the policy";
  if (s.action == AttestationSettings::GateAction::kOff) return "attestation.action is off";
  if (s.keys.empty()) return "no keys in attestation.keys: nothing can be trusted";
  return "";
}

// "nginx:1.27@sha256:…"; an unknown part says so, a reference already pinned to the digest is not repeated.
std::string image_label(const ContainerContext& ctx) {
  std::string name = ctx.image.empty() ? "(unnamed)" : ctx.image;
  if (ctx.image_digest.empty()) return name + "@(digest unknown)";
  if (ctx.image.size() > ctx.image_digest.size() && ctx.image.ends_with("@" + ctx.image_digest)) return name;
  return name + "@" + ctx.image_digest;
}

}  // namespace

Json attestation_state(const Policy& p, const ContainerContext& ctx) {
  const AttestationSettings& s = p.attestation;
  if (std::string why = off_reason(s); !why.empty()) return {{"gate", "off"}, {"reason", why}};
  const char* gate = gate_name(s);
  if (!ctx.attestation) {
    return {{"gate", gate},
            {"evaluated", false},
            {"reason", "no verdict: the image's scan attestation was not checked here (an offline check); "
                       "runguardctl attest verify checks one"}};
  }
  const auto& v = *ctx.attestation;
  if (!v.required) return {{"gate", gate}, {"required", false}, {"reason", "image not selected by attestation.requireFor"}};
  return {{"gate", gate}, {"required", true}, {"passed", v.passed}, {"summary", v.summary}, {"detail", v.detail}};
}

void check_attestation(const Policy& p, Eval& e) {
  const ContainerContext& ctx = e.ctx();
  e.attestation() = attestation_state(p, ctx);
  if (!p.attestation.enabled() || !ctx.attestation) return;
  const auto& v = *ctx.attestation;
  if (!v.required || v.passed) return;
  Action action = p.attestation.action == AttestationSettings::GateAction::kAudit ? Action::kAudit : Action::kDeny;
  std::string summary = v.summary.empty() ? "no reason given" : v.summary;
  e.violation(kControl, kId, Severity::kHigh, action, "image " + image_label(ctx) + ": scan attestation check failed: " + summary, "/root");
}

}  // namespace runguard::policy::internal

namespace runguard::policy {

Json attestation_gate_state(const Policy& p, const ContainerContext& ctx) { return internal::attestation_state(p, ctx); }

}  // namespace runguard::policy
