// The attestation control (RG-ATTEST-001, policy/src/attestation_control.cc): the pipeline's
// verdict (ctx.attestation) as a finding, and the gate's state in the decision record, for every
// combination of gate state, verdict, attestation.action and policy mode.

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>

#include "policy_test_util.h"
#include "runguard/policy/catalog.h"

namespace {

using namespace rgtest;  // NOLINT(google-build-using-namespace)
using runguard::policy::AttestationSettings;
using runguard::policy::Mode;
using GateAction = AttestationSettings::GateAction;
using Verdict = ContainerContext::Attestation;

constexpr const char* kDigest = "sha256:4b825dc642cb6eb9a060e54bf8d69288fbee4904d1a2c6e6a7c0a1b2c3d4e5f6";

Json spec() { return parse(R"({"process":{"user":{"uid":0,"gid":0},"args":["sh"]},"root":{"path":"rootfs"}})"); }

ContainerContext ctx_with(std::optional<Verdict> v, const std::string& image = "registry.example/app:1",
                          const std::string& digest = kDigest) {
  ContainerContext c;
  c.id = "c1";
  c.image = image;
  c.image_digest = digest;
  c.attestation = std::move(v);
  return c;
}

Policy gate_policy(GateAction action = GateAction::kEnforce, Mode mode = Mode::kEnforce) {
  Policy p = only_defaults_off();
  p.mode = mode;
  p.attestation.present = true;
  p.attestation.action = action;
  p.attestation.keys = {"/etc/runguard/keys/ci.pub"};
  return p;
}

Verdict failed(const std::string& summary = "scan finished 200h0m0s ago, older than maxAge 168h0m0s") {
  return Verdict{true, false, summary, Json{{"passed", false}, {"reasons", {summary}}}};
}
Verdict passed() {
  return Verdict{true, true, "passed: signed by 1 trusted key(s), scan 2h0m0s old, 0 blocking, 0 suppressed", Json{{"passed", true}}};
}
Verdict not_required() { return Verdict{false, true, "image not selected by attestation.requireFor", Json::object()}; }

// --- the gate is off: three reasons, no finding whatever the context says ---

struct OffRow {
  const char* name;
  std::function<void(Policy&)> setup;
  const char* reason;
};
RG_PRINT_BY_NAME(OffRow)

const OffRow kOff[] = {
    {"no_section", [](Policy& p) { p.attestation = AttestationSettings{}; }, "no attestation section in the policy"},
    {"action_off", [](Policy& p) { p.attestation.action = GateAction::kOff; }, "attestation.action is off"},
    {"no_keys", [](Policy& p) { p.attestation.keys.clear(); }, "no keys in attestation.keys: nothing can be trusted"},
};

class AttestationGateOff : public ::testing::TestWithParam<OffRow> {};

TEST_P(AttestationGateOff, SaysWhyAndFindsNothing) {
  Policy p = gate_policy();
  GetParam().setup(p);
  // Even a failed verdict (a stale context) finds nothing when the gate is off.
  Decision d = evaluate_spec(p, spec(), ctx_with(failed()));
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(count_id(d, "RG-ATTEST-001"), 0u) << describe(d);
  EXPECT_EQ(d.attestation, (Json{{"gate", "off"}, {"reason", GetParam().reason}}));
  EXPECT_EQ(decision_to_json(d)["attestation"], d.attestation);
}

INSTANTIATE_TEST_SUITE_P(AttestationControl, AttestationGateOff, ::testing::ValuesIn(kOff),
                         [](const auto& info) { return std::string(info.param.name); });

// --- the gate is on: verdict x action x mode ---

struct OnRow {
  const char* name;
  GateAction action;
  Mode mode;
  std::optional<Verdict> verdict;
  bool allowed;
  std::optional<Action> finding;  // the RG-ATTEST-001 finding's action, none when nullopt
  bool would_deny;                // its message starts "would deny: "
};
RG_PRINT_BY_NAME(OnRow)

const OnRow kOn[] = {
    {"failed_enforce_denies", GateAction::kEnforce, Mode::kEnforce, failed(), false, Action::kDeny, false},
    {"failed_audit_action_records", GateAction::kAudit, Mode::kEnforce, failed(), true, Action::kAudit, false},
    {"failed_enforce_in_audit_mode_would_deny", GateAction::kEnforce, Mode::kAudit, failed(), true, Action::kAudit, true},
    {"failed_audit_action_in_audit_mode", GateAction::kAudit, Mode::kAudit, failed(), true, Action::kAudit, false},
    {"passed_enforce", GateAction::kEnforce, Mode::kEnforce, passed(), true, std::nullopt, false},
    {"passed_audit", GateAction::kAudit, Mode::kEnforce, passed(), true, std::nullopt, false},
    {"not_required_enforce", GateAction::kEnforce, Mode::kEnforce, not_required(), true, std::nullopt, false},
    // A not-required verdict never fails, even if marked not passed.
    {"not_required_unpassed", GateAction::kEnforce, Mode::kEnforce, Verdict{false, false, "x", Json()}, true, std::nullopt, false},
    {"no_verdict_offline", GateAction::kEnforce, Mode::kEnforce, std::nullopt, true, std::nullopt, false},
};

class AttestationGateOn : public ::testing::TestWithParam<OnRow> {};

TEST_P(AttestationGateOn, FindingAndDecision) {
  const OnRow& row = GetParam();
  Decision d = evaluate_spec(gate_policy(row.action, row.mode), spec(), ctx_with(row.verdict));
  EXPECT_EQ(d.allowed, row.allowed) << describe(d);
  auto found = findings_with(d, "RG-ATTEST-001");
  if (!row.finding) {
    EXPECT_TRUE(found.empty()) << describe(d);
    return;
  }
  ASSERT_EQ(found.size(), 1u) << describe(d);
  const Finding& f = *found[0];
  EXPECT_EQ(f.action, *row.finding);
  EXPECT_EQ(f.control, "attestation");
  EXPECT_EQ(f.severity, runguard::policy::Severity::kHigh);
  std::string expected = std::string("image registry.example/app:1@") + kDigest +
                         ": scan attestation check failed: scan finished 200h0m0s ago, older than maxAge 168h0m0s";
  EXPECT_EQ(f.message, (row.would_deny ? "would deny: " : "") + expected);
  if (!row.allowed) EXPECT_NE(d.denial_summary().find(expected + " [RG-ATTEST-001]"), std::string::npos) << d.denial_summary();
}

INSTANTIATE_TEST_SUITE_P(AttestationControl, AttestationGateOn, ::testing::ValuesIn(kOn),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(AttestationControl, StateOfAVerdict) {
  Verdict v = failed("1 finding(s) above the severity ceiling: CVE-2024-1 (CRITICAL, fixable: openssl 3.0.1 -> 3.0.2)");
  Decision d = evaluate_spec(gate_policy(), spec(), ctx_with(v));
  EXPECT_EQ(d.attestation["gate"], "enforce");
  EXPECT_EQ(d.attestation["required"], true);
  EXPECT_EQ(d.attestation["passed"], false);
  EXPECT_EQ(d.attestation["summary"], v.summary);
  EXPECT_EQ(d.attestation["detail"], v.detail);
  Decision a = evaluate_spec(gate_policy(GateAction::kAudit), spec(), ctx_with(passed()));
  EXPECT_EQ(a.attestation["gate"], "audit");
  EXPECT_EQ(a.attestation["passed"], true);
}

TEST(AttestationControl, StateWhenNotRequiredOrNotEvaluated) {
  Decision n = evaluate_spec(gate_policy(), spec(), ctx_with(not_required()));
  EXPECT_EQ(n.attestation, (Json{{"gate", "enforce"}, {"required", false}, {"reason", "image not selected by attestation.requireFor"}}));
  Decision o = evaluate_spec(gate_policy(GateAction::kAudit), spec(), ctx_with(std::nullopt));
  EXPECT_EQ(o.attestation["gate"], "audit");
  EXPECT_EQ(o.attestation["evaluated"], false);
  EXPECT_NE(o.attestation["reason"].get<std::string>().find("not checked"), std::string::npos) << o.attestation;
}

TEST(AttestationControl, MessageNamesUnknownPartsAndDoesNotRepeatAPinnedDigest) {
  auto message = [](const std::string& image, const std::string& digest) {
    Decision d = evaluate_spec(gate_policy(), spec(), ctx_with(failed("x"), image, digest));
    auto f = findings_with(d, "RG-ATTEST-001");
    return f.empty() ? std::string() : f[0]->message;
  };
  EXPECT_EQ(message("", ""), "image (unnamed)@(digest unknown): scan attestation check failed: x");
  EXPECT_EQ(message("app:1", ""), "image app:1@(digest unknown): scan attestation check failed: x");
  EXPECT_EQ(message(std::string("registry.example/app@") + kDigest, kDigest),
            std::string("image registry.example/app@") + kDigest + ": scan attestation check failed: x");
}

// The denial changes nothing else: other controls' mutations are rolled back as for any denial.
TEST(AttestationControl, DenialRollsBackOtherControls) {
  Policy p = gate_policy();
  p.controls.user.action = Action::kEnforce;
  Json s = spec();
  Decision d = evaluate_spec(p, s, ctx_with(failed()));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.result, s);
  EXPECT_GE(count_id(d, "RG-USER-001"), 1u) << describe(d);
}

TEST(AttestationControl, ExecAndUpdateDecisionsCarryNoGateState) {
  Policy p = gate_policy();
  Decision e = runguard::policy::evaluate_process(p, parse(R"({"user":{"uid":1000,"gid":1000},"args":["ls"]})"), ctx_with(failed()));
  EXPECT_TRUE(e.attestation.is_null());
  EXPECT_FALSE(decision_to_json(e).contains("attestation"));
  EXPECT_EQ(count_id(e, "RG-ATTEST-001"), 0u);
}

TEST(AttestationControl, CatalogEntry) {
  const auto* c = runguard::policy::find_control("attestation");
  ASSERT_NE(c, nullptr);
  EXPECT_STREQ(c->id, "RG-ATTEST-001");
  ASSERT_EQ(c->cis.size(), 2u);
  EXPECT_STREQ(c->cis[0], "4.4");
  EXPECT_STREQ(c->cis[1], "4.5");
  // A top-level section, not a key under controls:.
  auto names = runguard::policy::control_names();
  EXPECT_EQ(std::find(names.begin(), names.end(), "attestation"), names.end());
  auto r = runguard::policy::parse_policy("controls:\n  attestation: { action: deny }\n", "/p.yaml", no_files);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("controls.attestation: unknown key"), std::string::npos) << r.status().message();
}

TEST(AttestationControl, GateStateIsPublic) {
  Json s = runguard::policy::attestation_gate_state(defaults(), ContainerContext{});
  EXPECT_EQ(s, (Json{{"gate", "off"}, {"reason", "no attestation section in the policy"}}));
}

}  // namespace
