// The gate end to end over attestations signed with the openssl CLI: verify, bind, age, ceilings,
// exceptions, VEX, bare reports, and the store.
#include <gtest/gtest.h>

#include <filesystem>

#include "attest_test_util.h"
#include "gate_test_util.h"
#include "runguard/attest/gate.h"
#include "runguard/attest/limits.h"

namespace runguard::attest {
namespace {

using namespace rgattest;

TEST(Gate, PassListsSignersAgeAndSummary) {
  GateFixture fx;
  // LOW fixable (ceiling MEDIUM) and HIGH unfixable (ceiling HIGH): both allowed.
  std::string att = fx.cosign_attestation(trivy_report({{"CVE-2024-1", "zlib", "LOW", "1.1"}, {"CVE-2024-2", "bash", "HIGH", ""}}));
  bool input_error = true;
  GateResult r = check_document(fx.setup(), att, fx.image, fx.now, "att.json", nullptr, &input_error);
  EXPECT_FALSE(input_error);
  EXPECT_TRUE(r.verified);
  ASSERT_TRUE(r.passed) << r.summary;
  EXPECT_EQ(r.summary, "passed: signed by 1 trusted key(s), scan 2h0m0s old, 0 blocking, 0 suppressed");
  const Json& d = r.detail;
  for (const char* key : {"image", "imageDigest", "required", "verified", "passed", "attestation", "format", "documentDigest", "signers", "scanner",
                          "scannerVersion", "scanFinishedOn", "age", "ageSeconds", "maxAge", "findings", "expiredExceptions", "reasons", "considered"}) {
    EXPECT_TRUE(d.contains(key)) << key;
  }
  EXPECT_EQ(d["age"], "2h0m0s");
  EXPECT_EQ(d["ageSeconds"], 7200);
  EXPECT_EQ(d["maxAge"], "168h0m0s");
  EXPECT_EQ(d["format"], "dsse");
  EXPECT_EQ(d["scanFinishedOn"], "2026-11-28T10:00:00Z");
  EXPECT_EQ(d["documentDigest"], sha256_digest(att));
  ASSERT_EQ(d["signers"].size(), 1u);
  EXPECT_EQ(d["signers"][0]["source"], test_key(Kind::kP256).public_pem);
  EXPECT_EQ(d["signers"][0]["type"], "ecdsa-p256");
  EXPECT_EQ(d["findings"]["total"], 2);
  EXPECT_EQ(d["findings"]["blockingCount"], 0);
  EXPECT_EQ(d["reasons"][0], r.summary);
  // valid until the scan turns older than maxAge
  EXPECT_EQ(r.valid_until_s, *parse_rfc3339("2026-11-28T10:00:00Z") + 168 * 3600 + 1);
}

TEST(Gate, FailsOnFixableAboveCeilingAndListsTopFindings) {
  GateFixture fx;
  std::string att = fx.cosign_attestation(trivy_report({{"CVE-2024-9", "openssl", "HIGH", "3.0.12"},
                                                        {"CVE-2024-8", "glibc", "CRITICAL", ""},
                                                        {"CVE-2024-7", "zlib", "MEDIUM", "1.3"}}));
  GateResult r = check_document(fx.setup(), att, fx.image, fx.now, "att.json");
  EXPECT_TRUE(r.verified);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.summary,
            "2 finding(s) above the severity ceiling: CVE-2024-8 (CRITICAL, not-fixed: glibc 1.0.0), "
            "CVE-2024-9 (HIGH, fixable: openssl 1.0.0 -> 3.0.12)");
  const Json& b = r.detail["findings"]["blocking"];
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0]["id"], "CVE-2024-8");
  EXPECT_EQ(b[0]["rule"], "maxSeverity.unfixable: HIGH");
  EXPECT_EQ(b[1]["rule"], "maxSeverity.fixable: MEDIUM");
  EXPECT_EQ(r.detail["findings"]["blockingCount"], 2);
}

TEST(Gate, UnknownSeverityRanksAsUnknownAs) {
  GateFixture fx;
  std::string att = fx.cosign_attestation(trivy_report({{"CVE-2024-5", "x", "UNKNOWN", ""}}));
  fx.settings.unknown_as = VulnSeverity::kCritical;
  GateResult r = check_document(fx.setup(), att, fx.image, fx.now, "att.json");
  EXPECT_FALSE(r.passed);
  EXPECT_NE(r.summary.find("CVE-2024-5 (UNKNOWN as CRITICAL, "), std::string::npos) << r.summary;
  fx.settings.unknown_as = VulnSeverity::kMedium;
  EXPECT_TRUE(check_document(fx.setup(), att, fx.image, fx.now, "att.json").passed);
}

TEST(Gate, FailsOnAgeAndOnFutureScans) {
  GateFixture fx;
  std::string old = fx.cosign_attestation(trivy_report({}), "2026-11-20T12:00:00Z");
  GateResult r = check_document(fx.setup(), old, fx.image, fx.now, "att.json");
  EXPECT_TRUE(r.verified);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.summary, "scan finished 192h0m0s ago, older than maxAge 168h0m0s");

  std::string future = fx.cosign_attestation(trivy_report({}, "2026-11-28T13:00:00Z"), "2026-11-28T13:00:00Z");
  r = check_document(fx.setup(), future, fx.image, fx.now, "att.json");
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.summary, "scan finished in the future (2026-11-28T13:00:00Z)");
  // Until the clock catches up to within the 5-minute skew, then it passes.
  EXPECT_EQ(r.valid_until_s, *parse_rfc3339("2026-11-28T12:55:00Z"));
  EXPECT_TRUE(check_document(fx.setup(), future, fx.image, *parse_rfc3339("2026-11-28T12:55:00Z"), "att.json").passed);

  std::string skew = fx.cosign_attestation(trivy_report({}), "2026-11-28T12:04:00Z");
  EXPECT_TRUE(check_document(fx.setup(), skew, fx.image, fx.now, "att.json").passed);
}

TEST(Gate, BareReportWithoutScanTimeFails) {
  GateFixture fx;
  Json rep = trivy_report({});
  rep.erase("CreatedAt");
  rep["Metadata"] = {{"RepoDigests", {"registry.example/app@" + fx.image.digest}}};
  std::string att = fx.signed_payload("application/json", dump_json(rep));
  GateResult r = check_document(fx.setup(), att, fx.image, fx.now, "bare.json");
  EXPECT_TRUE(r.verified);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.summary, "the attestation has no scan time");
}

TEST(Gate, CorrectlySignedForAnotherImageIsRejected) {
  GateFixture fx;
  std::string other = "sha256:" + std::string(64, 'b');
  std::string att = fx.cosign_attestation(trivy_report({}), "2026-11-28T10:00:00Z", other);
  GateResult r = check_document(fx.setup(), att, fx.image, fx.now, "att.json");
  EXPECT_FALSE(r.verified);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.summary, "att.json: signed for another image (subjects: " + other + ")");
  EXPECT_EQ(r.detail["signers"].size(), 1u);  // the signature itself was good
}

TEST(Gate, TamperedPayloadSignatureAndWrongKey) {
  GateFixture fx;
  std::string att = fx.cosign_attestation(trivy_report({}));
  Json env = *parse_json(att, "a");

  Json tampered = env;
  std::string payload = *base64_decode(env["payload"].get<std::string>(), "p");
  payload.replace(payload.find("CreatedAt"), 9, "CreatedAX");
  tampered["payload"] = base64_encode(payload);
  GateResult r = check_document(fx.setup(), dump_json(tampered), fx.image, fx.now, "t.json");
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(r.summary, "t.json: not signed by a trusted key");

  Json badsig = env;
  std::string sig = *base64_decode(env["signatures"][0]["sig"].get<std::string>(), "s");
  sig[sig.size() / 2] ^= 0x01;
  badsig["signatures"][0]["sig"] = base64_encode(sig);
  r = check_document(fx.setup(), dump_json(badsig), fx.image, fx.now, "s.json");
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(r.summary, "s.json: not signed by a trusted key");

  std::string other_key = fx.cosign_attestation(trivy_report({}), "2026-11-28T10:00:00Z", "", {&test_key(Kind::kP256, 1)});
  r = check_document(fx.setup(), other_key, fx.image, fx.now, "k.json");
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(r.summary, "k.json: not signed by a trusted key");
}

TEST(Gate, ThresholdCountsDistinctKeys) {
  GateFixture fx;
  fx.settings.keys = {test_key(Kind::kP256).public_pem, test_key(Kind::kEd25519).public_pem};
  fx.settings.threshold = 2;
  std::string one = fx.cosign_attestation(trivy_report({}), "2026-11-28T10:00:00Z", "", {&test_key(Kind::kP256), &test_key(Kind::kP256)});
  GateResult r = check_document(fx.setup(), one, fx.image, fx.now, "one.json");
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(r.summary, "one.json: signed by 1 of the required 2 distinct trusted keys");

  std::string two = fx.cosign_attestation(trivy_report({}), "2026-11-28T10:00:00Z", "", {&test_key(Kind::kP256), &test_key(Kind::kEd25519)});
  r = check_document(fx.setup(), two, fx.image, fx.now, "two.json");
  EXPECT_TRUE(r.passed) << r.summary;
  EXPECT_EQ(r.detail["signers"].size(), 2u);
  EXPECT_EQ(r.summary, "passed: signed by 2 trusted key(s), scan 2h0m0s old, 0 blocking, 0 suppressed");
}

TEST(Gate, ExceptionAppliesExpiresAndIsScopedByImage) {
  GateFixture fx;
  Json rep = trivy_report({{"CVE-2024-66", "openssl", "CRITICAL", "3.1"}});
  rep["Results"][0]["Vulnerabilities"][0]["VendorIDs"] = {"DSA-9999-1"};
  std::string att = fx.cosign_attestation(rep);

  policy::AttestationException e;
  e.id = "DSA-9999-1";  // matched through the finding's alias
  e.until = "2026-12-01";
  e.until_s = *parse_rfc3339("2026-12-01T23:59:59Z");
  e.images = {"registry.example/app*"};
  e.reason = "patched in the next release";
  fx.settings.exceptions = {e};
  GateResult r = check_document(fx.setup(), att, fx.image, fx.now, "att.json");
  ASSERT_TRUE(r.passed) << r.summary;
  EXPECT_EQ(r.summary, "passed: signed by 1 trusted key(s), scan 2h0m0s old, 0 blocking, 1 suppressed");
  EXPECT_EQ(r.detail["findings"]["suppressed"][0]["by"], "exception DSA-9999-1 (until 2026-12-01)");
  EXPECT_EQ(r.valid_until_s, *e.until_s + 1);  // the exception ends before maxAge does

  // expired: reported, and the finding judged as if there were none
  GateResult late = check_document(fx.setup(), fx.cosign_attestation(rep, "2026-12-02T10:00:00Z"), fx.image,
                                   *parse_rfc3339("2026-12-02T12:00:00Z"), "att.json");
  EXPECT_FALSE(late.passed);
  EXPECT_NE(late.summary.find("1 finding(s) above the severity ceiling: CVE-2024-66 (CRITICAL"), std::string::npos);
  ASSERT_EQ(late.detail["expiredExceptions"].size(), 1u);
  EXPECT_EQ(late.detail["expiredExceptions"][0]["id"], "DSA-9999-1");
  EXPECT_EQ(late.detail["expiredExceptions"][0]["reason"], "patched in the next release");
  bool reported = false;
  for (const auto& reason : late.detail["reasons"]) reported |= reason == "exception DSA-9999-1 expired on 2026-12-01";
  EXPECT_TRUE(reported) << late.detail["reasons"].dump();
  // ... and the one-line summary a refusal shows says so too
  EXPECT_NE(late.summary.find("; exception DSA-9999-1 expired on 2026-12-01"), std::string::npos) << late.summary;

  // another image: the exception does not apply (and is not this image's to report)
  ImageRef other{fx.image.digest, "registry.example/other:1"};
  GateResult scoped = check_document(fx.setup(), att, other, fx.now, "att.json");
  EXPECT_FALSE(scoped.passed);
  EXPECT_TRUE(scoped.detail["expiredExceptions"].empty());
}

TEST(Gate, VexSuppressesAndALaterAffectedStatementUnsuppresses) {
  GateFixture fx;
  std::string att = fx.cosign_attestation(trivy_report({{"CVE-2024-77", "openssl", "CRITICAL", "3.1"}}));
  TempDir dir;
  auto vex_doc = [&](const Json& statements) {
    return Json{{"@context", "https://openvex.dev/ns/v0.2.0"}, {"@id", "v"}, {"author", "sec"}, {"timestamp", "2026-11-01T00:00:00Z"},
                {"version", 1}, {"statements", statements}};
  };
  Json not_affected = {{"vulnerability", {{"name", "CVE-2024-77"}}},
                       {"products", {{{"@id", fx.image.digest}, {"subcomponents", {{{"@id", "pkg:deb/debian/openssl"}}}}}}},
                       {"status", "not_affected"},
                       {"justification", "vulnerable_code_not_in_execute_path"},
                       {"timestamp", "2026-11-02T00:00:00Z"}};
  write_all(dir.file("a.json"), dump_json(vex_doc(Json::array({not_affected}))));
  fx.settings.vex = {dir.file("a.json")};
  GateResult r = check_document(fx.setup(), att, fx.image, fx.now, "att.json");
  ASSERT_TRUE(r.passed) << r.summary;
  EXPECT_EQ(r.detail["findings"]["suppressed"][0]["by"], "vex " + dir.file("a.json") + ": not_affected (vulnerable_code_not_in_execute_path)");

  Json affected = not_affected;
  affected["status"] = "affected";
  affected.erase("justification");
  affected["timestamp"] = "2026-11-20T00:00:00Z";
  write_all(dir.file("b.json"), dump_json(vex_doc(Json::array({affected}))));
  fx.settings.vex = {dir.file("a.json"), dir.file("b.json")};
  r = check_document(fx.setup(), att, fx.image, fx.now, "att.json");
  EXPECT_FALSE(r.passed);
  EXPECT_NE(r.summary.find("CVE-2024-77"), std::string::npos);
}

TEST(Gate, ScannerNotAffectedNeverBlocks) {
  GateFixture fx;
  Json rep = trivy_report({{"CVE-2024-3", "curl", "CRITICAL", ""}});
  rep["Results"][0]["Vulnerabilities"][0]["Status"] = "not_affected";
  GateResult r = check_document(fx.setup(), fx.cosign_attestation(rep), fx.image, fx.now, "att.json");
  ASSERT_TRUE(r.passed) << r.summary;
  EXPECT_EQ(r.detail["findings"]["suppressed"][0]["by"], "scanner: not_affected");
}

TEST(Gate, BareTrivyAndGrypeReportsBindThroughTheirOwnDigests) {
  GateFixture fx;
  Json trivy = trivy_report({{"CVE-1", "a", "LOW", ""}});
  trivy["Metadata"] = {{"RepoDigests", {"registry.example/app@" + fx.image.digest}}};
  GateResult r = check_document(fx.setup(), fx.signed_payload("application/vnd.aquasec.trivy+json", dump_json(trivy)), fx.image, fx.now, "t.json");
  EXPECT_TRUE(r.passed) << r.summary;
  EXPECT_EQ(r.detail["scanner"], "trivy");

  Json grype = {{"matches", {{{"vulnerability", {{"id", "CVE-2"}, {"severity", "Critical"}, {"fix", {{"state", "fixed"}, {"versions", {"2"}}}}}},
                              {"artifact", {{"name", "b"}, {"version", "1"}}}}}},
                {"source", {{"type", "image"}, {"target", {{"manifestDigest", fx.image.digest}}}}},
                {"descriptor", {{"name", "grype"}, {"version", "0.80.0"}, {"timestamp", "2026-11-28T11:00:00Z"}}}};
  r = check_document(fx.setup(), fx.signed_payload("application/json", dump_json(grype)), fx.image, fx.now, "g.json");
  EXPECT_TRUE(r.verified) << r.summary;
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.summary, "1 finding(s) above the severity ceiling: CVE-2 (CRITICAL, fixable: b 1 -> 2)");

  grype["source"]["target"]["manifestDigest"] = "sha256:" + std::string(64, 'c');
  r = check_document(fx.setup(), fx.signed_payload("application/json", dump_json(grype)), fx.image, fx.now, "g.json");
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(r.summary, "g.json: signed for another image (subjects: sha256:" + std::string(64, 'c') + ")");
}

TEST(Gate, SigstoreBundleAndInTotoVulns) {
  GateFixture fx;
  Json pred = {{"scanner", {{"uri", "pkg:github/example/scan@1"}, {"result", {{{"id", "CVE-1"}, {"severity", {{{"method", "nvd"}, {"score", 5.5}}}}}}}}},
               {"metadata", {{"scanFinishedOn", "2026-11-28T09:00:00Z"}}}};
  Json st = statement(fx.image.digest, "https://in-toto.io/attestation/vulns/v0.2", pred, "https://in-toto.io/Statement/v1");
  std::string bundle = dump_json(sigstore_bundle("application/vnd.in-toto+json", dump_json(st), test_key(Kind::kP256)));
  GateResult r = check_document(fx.setup(), bundle, fx.image, fx.now, "b.json");
  EXPECT_TRUE(r.passed) << r.summary;
  EXPECT_EQ(r.detail["format"], "sigstore-bundle/0.3");
  EXPECT_EQ(r.detail["age"], "3h0m0s");
}

TEST(Gate, InputErrorsAreReasonsNotCrashes) {
  GateFixture fx;
  bool input_error = false;
  GateResult r = check_document(fx.setup(), "{\"payload\": ", fx.image, fx.now, "x.json", nullptr, &input_error);
  EXPECT_TRUE(input_error);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.summary.rfind("x.json: not a DSSE envelope or sigstore bundle: ", 0), 0u) << r.summary;

  std::string huge(kMaxAttestationBytes + 1, ' ');
  r = check_document(fx.setup(), huge, fx.image, fx.now, "h.json", nullptr, &input_error);
  EXPECT_TRUE(input_error);
  EXPECT_EQ(r.summary, "h.json: " + std::to_string(huge.size()) + " bytes, above the limit of " + std::to_string(kMaxAttestationBytes) + " bytes");

  Json st = statement(fx.image.digest, "https://example.com/other", Json::object());
  r = check_document(fx.setup(), fx.signed_payload("application/vnd.in-toto+json", dump_json(st)), fx.image, fx.now, "p.json", nullptr, &input_error);
  EXPECT_TRUE(input_error);
  EXPECT_EQ(r.summary.rfind("p.json: unsupported predicateType \"https://example.com/other\"", 0), 0u) << r.summary;
}

TEST(GateSetup, LoadErrorsNameTheField) {
  GateFixture fx;
  fx.settings.keys = {test_key(Kind::kP256).public_pem, "/nonexistent/ci.pub"};
  auto g = GateSetup::load(fx.settings);
  ASSERT_FALSE(g.is_ok());
  EXPECT_EQ(g.status().code(), Code::kNotFound);
  EXPECT_EQ(g.status().message().rfind("attestation.keys[1]: ", 0), 0u) << g.status().message();
  EXPECT_NE(g.status().message().find("/nonexistent/ci.pub"), std::string::npos);

  fx.settings.keys = {test_key(Kind::kP256).public_pem, test_key(Kind::kP256).public_pem};
  fx.settings.threshold = 2;  // two entries, one distinct key
  g = GateSetup::load(fx.settings);
  ASSERT_FALSE(g.is_ok());
  EXPECT_NE(g.status().message().find("attestation.threshold: 2 is more than the 1 distinct trusted key(s)"), std::string::npos);

  fx.settings.threshold = 1;
  fx.settings.vex = {"/nonexistent/vex"};
  g = GateSetup::load(fx.settings);
  ASSERT_FALSE(g.is_ok());
  EXPECT_EQ(g.status().message().rfind("attestation.vex: ", 0), 0u) << g.status().message();
}

TEST(GateSetup, DigestCoversWhatAVerdictDependsOn) {
  GateFixture fx;
  std::string a = fx.setup().digest;
  EXPECT_EQ(GateSetup::load(fx.settings)->digest, a);
  fx.settings.max_fixable = VulnSeverity::kHigh;
  EXPECT_NE(GateSetup::load(fx.settings)->digest, a);
  fx.settings.max_fixable = VulnSeverity::kMedium;
  fx.settings.keys = {test_key(Kind::kP256, 1).public_pem};
  EXPECT_NE(GateSetup::load(fx.settings)->digest, a);
  fx.settings.keys = {test_key(Kind::kP256).public_pem};
  fx.settings.action = policy::AttestationSettings::GateAction::kAudit;  // how a verdict is used, not what it is
  EXPECT_EQ(GateSetup::load(fx.settings)->digest, a);
}

TEST(GateRequired, GlobsAndSandboxes) {
  policy::AttestationSettings s;
  s.require_images = {"registry.example/*"};
  EXPECT_TRUE(attestation_required(s, "registry.example/team/app:1", "container"));
  EXPECT_FALSE(attestation_required(s, "docker.io/library/nginx:1", "container"));
  EXPECT_FALSE(attestation_required(s, "", "container"));
  EXPECT_FALSE(attestation_required(s, "registry.example/pause:3.9", "sandbox"));
  s.require_sandboxes = true;
  EXPECT_TRUE(attestation_required(s, "registry.example/pause:3.9", "sandbox"));
  s.require_images = {"*"};
  EXPECT_TRUE(attestation_required(s, "", ""));
  s.require_images = {"registry.example/app:?"};
  EXPECT_TRUE(attestation_required(s, "registry.example/app:1", ""));
  EXPECT_FALSE(attestation_required(s, "registry.example/app:10", ""));
}

TEST(Duration, GoStyle) {
  EXPECT_EQ(format_duration_s(0), "0s");
  EXPECT_EQ(format_duration_s(45), "45s");
  EXPECT_EQ(format_duration_s(90), "1m30s");
  EXPECT_EQ(format_duration_s(3600), "1h0m0s");
  EXPECT_EQ(format_duration_s(26 * 3600 + 180), "26h3m0s");
  EXPECT_EQ(format_duration_s(168 * 3600), "168h0m0s");
  EXPECT_EQ(format_duration_s(-61), "-1m1s");
}

}  // namespace
}  // namespace runguard::attest
