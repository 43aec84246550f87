// Scanner reports -> findings: Trivy, Grype, cosign vuln/v1, in-toto vulns; the real corpora.
#include <gtest/gtest.h>

#include <map>

#include "attest_test_util.h"
#include "runguard/attest/limits.h"
#include "runguard/attest/report.h"

namespace runguard::attest {
namespace {

using rgattest::corpora_dir;
using rgattest::read_all;

ScanReport must_parse_file(const std::string& rel) {
  auto j = parse_json(read_all(corpora_dir() + "/" + rel), rel);
  EXPECT_TRUE(j.is_ok()) << j.status().message();
  auto r = report_from_json(*j, rel);
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return r.is_ok() ? *r : ScanReport{};
}

std::map<std::string, int> severity_counts(const ScanReport& r) {
  std::map<std::string, int> out;
  for (const auto& f : r.findings) {
    switch (f.severity) {
      case VulnSeverity::kCritical: out["CRITICAL"]++; break;
      case VulnSeverity::kHigh: out["HIGH"]++; break;
      case VulnSeverity::kMedium: out["MEDIUM"]++; break;
      case VulnSeverity::kLow: out["LOW"]++; break;
      case VulnSeverity::kNegligible: out["NEGLIGIBLE"]++; break;
      case VulnSeverity::kUnknown: out["UNKNOWN"]++; break;
      case VulnSeverity::kNone: out["NONE"]++; break;
    }
  }
  return out;
}

std::map<std::string, int> fix_counts(const ScanReport& r) {
  std::map<std::string, int> out;
  for (const auto& f : r.findings) out[fix_state_name(f.fix_state)]++;
  return out;
}

using Counts = std::map<std::string, int>;

TEST(Rfc3339, ParsesFractionsZuluAndOffsets) {
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339("2021-08-25T12:20:30.000000005Z"), 1629894030);
  EXPECT_EQ(parse_rfc3339("2024-02-22T19:46:26.372724916+01:00"), 1708627586);
  EXPECT_EQ(parse_rfc3339("2023-01-16T19:07:16.853479631-06:00"), 1673917636);
  EXPECT_EQ(parse_rfc3339("2024-02-29t00:00:00z"), 1709164800);  // leap day, lowercase
}

TEST(Rfc3339, RejectsGarbage) {
  for (const char* bad : {"", "2021-08-25", "2021-08-25T12:20:30", "2021-08-25T12:20:30.Z", "2021-13-01T00:00:00Z",
                          "2023-02-29T00:00:00Z", "2021-08-25T24:00:00Z", "2021-08-25T12:20:30+0100", "2021-08-25T12:20:30Zjunk",
                          "2021-08-25T12:20:30+01:00x", "yesterday", "2021-08-25 12:20:30 UTC"}) {
    EXPECT_FALSE(parse_rfc3339(bad).has_value()) << bad;
  }
}

TEST(Severity, ScannerNamesCaseInsensitive) {
  EXPECT_EQ(severity_from_scanner("CRITICAL"), VulnSeverity::kCritical);
  EXPECT_EQ(severity_from_scanner("High"), VulnSeverity::kHigh);
  EXPECT_EQ(severity_from_scanner("medium"), VulnSeverity::kMedium);
  EXPECT_EQ(severity_from_scanner("Negligible"), VulnSeverity::kNegligible);
  EXPECT_EQ(severity_from_scanner("Unknown"), VulnSeverity::kUnknown);
  EXPECT_EQ(severity_from_scanner(""), VulnSeverity::kUnknown);
  EXPECT_EQ(severity_from_scanner("severe"), VulnSeverity::kUnknown);
}

TEST(TrivyReport, FieldsAndDigests) {
  Json rep = rgattest::trivy_report({{"CVE-2024-1", "openssl", "HIGH", "3.0.9"}, {"CVE-2024-2", "zlib", "LOW", ""}});
  rep["Metadata"] = {{"RepoDigests", {"registry.example/app@sha256:ABCDEF0123", ""}}, {"ImageID", "sha256:0011"}};
  rep["Results"][0]["Vulnerabilities"][0]["VendorIDs"] = {"DSA-5417-1"};
  auto r = report_from_json(rep, "r.json");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->format, "trivy");
  EXPECT_EQ(r->envelope, "bare");
  EXPECT_EQ(r->finished_s, parse_rfc3339("2026-11-28T10:00:00Z"));
  EXPECT_EQ(r->image_digests, (std::vector<std::string>{"sha256:abcdef0123", "sha256:0011"}));
  ASSERT_EQ(r->findings.size(), 2u);
  const VulnFinding& f = r->findings[0];
  EXPECT_EQ(f.id, "CVE-2024-1");
  EXPECT_EQ(f.aliases, std::vector<std::string>{"DSA-5417-1"});
  EXPECT_EQ(f.package, "openssl");
  EXPECT_EQ(f.purl, "pkg:deb/debian/openssl@1.0.0");
  EXPECT_EQ(f.installed_version, "1.0.0");
  EXPECT_EQ(f.fixed_version, "3.0.9");
  EXPECT_EQ(f.severity, VulnSeverity::kHigh);
  EXPECT_TRUE(f.fixable());
  EXPECT_EQ(f.target, "registry.example/app:1 (debian 12)");
  EXPECT_EQ(r->findings[1].fix_state, FixState::kNotFixed);
  Json fj = finding_to_json(f);
  EXPECT_EQ(fj["severity"], "HIGH");
  EXPECT_EQ(fj["fixState"], "fixed");
  EXPECT_EQ(fj["fixed"], "3.0.9");
}

TEST(TrivyReport, TypeErrorsNameTheJsonPath) {
  Json rep = rgattest::trivy_report({{"CVE-1", "a", "LOW", ""}});
  rep["Results"][0]["Vulnerabilities"][0]["Severity"] = 3;
  auto r = report_from_json(rep, "r.json");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("r.json: Results[0].Vulnerabilities[0].Severity: expected a string"), std::string::npos)
      << r.status().message();

  Json stmt_pred = rgattest::cosign_vuln_predicate(rgattest::trivy_report({{"CVE-1", "a", "LOW", ""}, {"CVE-2", "b", "LOW", ""}}),
                                                   "2026-11-28T10:00:00Z");
  stmt_pred["scanner"]["result"]["Results"][0]["Vulnerabilities"][1]["PkgName"] = Json::array();
  Statement s{"https://in-toto.io/Statement/v0.1", {}, std::string(kCosignVulnPredicate), stmt_pred};
  auto r2 = report_from_statement(s, "att.json");
  ASSERT_FALSE(r2.is_ok());
  EXPECT_NE(r2.status().message().find("scanner.result.Results[0].Vulnerabilities[1].PkgName: expected a string"), std::string::npos)
      << r2.status().message();

  Json bad_results = rgattest::trivy_report({});
  bad_results["Results"] = "x";
  EXPECT_FALSE(report_from_json(bad_results, "r").is_ok());
  Json v1 = rgattest::trivy_report({});
  v1["SchemaVersion"] = 1;
  auto r3 = report_from_json(v1, "r");
  ASSERT_FALSE(r3.is_ok());
  EXPECT_NE(r3.status().message().find("SchemaVersion: 1 is not supported"), std::string::npos);
  Json bad_time = rgattest::trivy_report({}, "last tuesday");
  EXPECT_FALSE(report_from_json(bad_time, "r").is_ok());
}

TEST(TrivyReport, NeitherShapeIsRefused) {
  auto r = report_from_json(Json{{"hello", 1}}, "x.json");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("not a Trivy report"), std::string::npos);
  EXPECT_FALSE(report_from_json(Json::array(), "x.json").is_ok());
}

TEST(TrivyReport, MoreThanMaxFindingsIsRefused) {
  Json rep = rgattest::trivy_report({});
  Json vuln = {{"VulnerabilityID", "CVE-1"}, {"Severity", "LOW"}};
  Json list = Json::array();
  for (size_t i = 0; i < kMaxFindings / 2 + 1; ++i) list.push_back(vuln);
  rep["Results"] = Json::array({{{"Target", "a"}, {"Vulnerabilities", list}}, {{"Target", "b"}, {"Vulnerabilities", list}}});
  auto r = report_from_json(rep, "big.json");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("more than 500000 findings"), std::string::npos) << r.status().message();
}

TEST(GrypeReport, FieldsAliasesAndMissingSeverity) {
  Json rep = {{"matches",
               {{{"vulnerability", {{"id", "GHSA-xxxx"}, {"severity", "Critical"}, {"fix", {{"state", "fixed"}, {"versions", {"1.2", "2.0"}}}}}},
                 {"relatedVulnerabilities", {{{"id", "CVE-2024-9"}}}},
                 {"artifact", {{"name", "lodash"}, {"version", "1.0"}, {"purl", "pkg:npm/lodash@1.0"}, {"locations", {{{"path", "/app/package.json"}}}}}}},
                {{"vulnerability", {{"id", "CVE-2024-10"}, {"fix", {{"state", "wont-fix"}, {"versions", Json::array()}}}}},
                 {"artifact", {{"name", "bash"}, {"version", "5"}}}}}},
              {"ignoredMatches", {{{"vulnerability", {{"id", "CVE-IGNORED"}}}}}},
              {"source", {{"type", "image"}, {"target", {{"manifestDigest", "sha256:aa"}, {"repoDigests", {"r/app@sha256:BB"}}, {"imageID", "sha256:cc"}}}}},
              {"descriptor", {{"name", "grype"}, {"version", "0.96.0"}, {"timestamp", "2024-02-22T19:46:26.372724916+01:00"}}}};
  auto r = report_from_json(rep, "g.json");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->format, "grype");
  EXPECT_EQ(r->scanner_version, "0.96.0");
  EXPECT_EQ(r->finished_s, 1708627586);
  EXPECT_EQ(r->image_digests, (std::vector<std::string>{"sha256:aa", "sha256:bb", "sha256:cc"}));
  ASSERT_EQ(r->findings.size(), 2u);  // ignoredMatches are not findings
  EXPECT_EQ(r->findings[0].aliases, std::vector<std::string>{"CVE-2024-9"});
  EXPECT_EQ(r->findings[0].fixed_version, "1.2, 2.0");
  EXPECT_EQ(r->findings[0].purl, "pkg:npm/lodash@1.0");
  EXPECT_EQ(r->findings[0].target, "/app/package.json");
  EXPECT_EQ(r->findings[0].severity, VulnSeverity::kCritical);
  EXPECT_EQ(r->findings[1].severity, VulnSeverity::kUnknown);
  EXPECT_EQ(r->findings[1].fix_state, FixState::kWontFix);

  rep["matches"][0]["vulnerability"]["fix"]["versions"] = "1.2";
  auto bad = report_from_json(rep, "g.json");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("matches[0].vulnerability.fix.versions: expected an array"), std::string::npos)
      << bad.status().message();
}

TEST(CosignVuln, NullResultAndRequiredScanTime) {
  Statement s{"https://in-toto.io/Statement/v0.1", {}, std::string(kCosignVulnPredicate),
              rgattest::cosign_vuln_predicate(nullptr, "2026-01-02T03:04:05Z")};
  auto r = report_from_statement(s, "a.json");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_TRUE(r->findings.empty());
  EXPECT_EQ(r->envelope, "cosign-vuln/v1");
  EXPECT_EQ(r->format, "trivy");  // from scanner.uri
  EXPECT_EQ(r->finished_s, parse_rfc3339("2026-01-02T03:04:05Z"));

  s.predicate["metadata"].erase("scanFinishedOn");
  auto missing = report_from_statement(s, "a.json");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("metadata.scanFinishedOn: required"), std::string::npos) << missing.status().message();

  s.predicate["metadata"]["scanFinishedOn"] = "soon";
  EXPECT_FALSE(report_from_statement(s, "a.json").is_ok());
  s.predicate["metadata"]["scanFinishedOn"] = "2026-01-02T03:04:05Z";
  s.predicate["scanner"]["result"] = "text";
  EXPECT_FALSE(report_from_statement(s, "a.json").is_ok());
}

// The older of the predicate's scanFinishedOn and the embedded report's own time: an old report
// wrapped in a freshly dated predicate is as old as the report (review finding).
TEST(CosignVuln, TheOlderOfPredicateAndReportTimeDecides) {
  Json rep = rgattest::trivy_report({{"CVE-1", "a", "HIGH", "2"}}, "2020-01-01T00:00:00Z");
  Statement s{"https://in-toto.io/Statement/v1", {}, std::string(kCosignVulnPredicate), rgattest::cosign_vuln_predicate(rep, "2026-01-01T00:00:00Z")};
  auto r = report_from_statement(s, "a.json");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->finished, "2020-01-01T00:00:00Z");
  EXPECT_EQ(r->scanner, "pkg:github/aquasecurity/trivy@0.50.0");
  EXPECT_EQ(r->findings.size(), 1u);
  s.predicate = rgattest::cosign_vuln_predicate(rgattest::trivy_report({}, "2026-02-01T00:00:00Z"), "2026-01-01T00:00:00Z");
  r = report_from_statement(s, "a.json");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->finished, "2026-01-01T00:00:00Z");
}

TEST(CosignVuln, UnsupportedPredicateType) {
  Statement s{"https://in-toto.io/Statement/v0.1", {}, "cosign.sigstore.dev/attestation/vuln/v1", Json::object()};
  auto r = report_from_statement(s, "m.json");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("m.json: unsupported predicateType \"cosign.sigstore.dev/attestation/vuln/v1\""), std::string::npos);
}

TEST(InTotoVulns, ScoresToBands) {
  Json pred = {{"scanner",
                {{"uri", "pkg:github/example/scanner@1"},
                 {"version", "1"},
                 {"result",
                  {{{"id", "CVE-A"}, {"severity", {{{"method", "nvd"}, {"score", "9.8"}}}}},
                   {{"id", "CVE-B"}, {"severity", {{{"method", "cvss_v3"}, {"score", 5.0}}, {{"method", "x"}, {"score", 7.2}}}}},
                   {{"id", "CVE-C"}, {"severity", {{{"method", "vendor"}, {"score", "LOW"}}}}},
                   {{"id", "CVE-D"}}}}}},
               {"metadata", {{"scanStartedOn", "2026-01-01T00:00:00Z"}, {"scanFinishedOn", "2026-01-01T00:10:00Z"}}}};
  Statement s{"https://in-toto.io/Statement/v1", {}, std::string(kInTotoVulnsV02), pred};
  auto r = report_from_statement(s, "i.json");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->envelope, "in-toto-vulns/v0.2");
  EXPECT_EQ(r->format, "in-toto-vulns");
  ASSERT_EQ(r->findings.size(), 4u);
  EXPECT_EQ(r->findings[0].severity, VulnSeverity::kCritical);
  EXPECT_EQ(r->findings[1].severity, VulnSeverity::kHigh);  // highest of the methods
  EXPECT_EQ(r->findings[2].severity, VulnSeverity::kLow);
  EXPECT_EQ(r->findings[3].severity, VulnSeverity::kUnknown);
  EXPECT_EQ(r->finished_s, parse_rfc3339("2026-01-01T00:10:00Z"));

  s.predicate_type = std::string(kInTotoVulnsV01);
  s.predicate["scanner"]["result"][0]["severity"][0]["score"] = true;
  auto bad = report_from_statement(s, "i.json");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("scanner.result[0].severity[0].score: expected a number or a string"), std::string::npos);
}

TEST(Payload, InTotoStatementOrBareReport) {
  std::string digest = "sha256:" + std::string(64, 'a');
  Json st = rgattest::statement(digest, std::string(kCosignVulnPredicate),
                                rgattest::cosign_vuln_predicate(rgattest::trivy_report({{"CVE-1", "a", "LOW", ""}}), "2026-01-01T00:00:00Z"));
  std::optional<Statement> stmt;
  auto r = report_from_payload("application/vnd.in-toto+json", dump_json(st), "a.json", &stmt);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_TRUE(stmt.has_value());
  EXPECT_TRUE(statement_covers(*stmt, digest));
  auto bare = report_from_payload("application/json", dump_json(rgattest::trivy_report({})), "b.json", &stmt);
  ASSERT_TRUE(bare.is_ok());
  EXPECT_FALSE(stmt.has_value());
  EXPECT_FALSE(report_from_payload("application/json", "{\"truncated\": ", "c.json").is_ok());
}

// --- the real corpora -----------------------------------------------------------------------

TEST(TrivyCorpus, ExactCountsPerFile) {
  RG_REQUIRE_CORPORA();
  struct Case {
    const char* file;
    Counts severities;
    Counts fix;
  };
  const Case cases[] = {
      {"trivy/alpine-39.json.golden", {{"CRITICAL", 2}, {"MEDIUM", 4}}, {{"fixed", 6}}},
      {"trivy/debian-buster.json.golden", {{"CRITICAL", 1}, {"LOW", 1}}, {{"fixed", 1}, {"not-fixed", 1}}},
      {"trivy/centos-7.json.golden", {{"LOW", 2}, {"MEDIUM", 1}}, {{"fixed", 2}, {"wont-fix", 1}}},
      {"trivy/debian-stretch.json.golden", {{"LOW", 1}, {"MEDIUM", 4}}, {{"fixed", 4}, {"not-fixed", 1}}},
      {"trivy/photon-30.json.golden", {{"CRITICAL", 2}, {"HIGH", 1}}, {{"fixed", 3}}},
      {"trivy/gomod.json.golden", {{"UNKNOWN", 4}, {"MEDIUM", 1}}, {{"fixed", 5}}},
      {"trivy/gomod-vex.json.golden", {{"UNKNOWN", 4}}, {{"fixed", 4}}},
      {"trivy/defectdojo-issue_9333.json", {{"LOW", 12}, {"MEDIUM", 1}}, {{"fixed", 1}, {"not-fixed", 12}}},
      {"trivy/defectdojo-all_statuses.json", {{"LOW", 8}}, {{"fixed", 1}, {"not-fixed", 3}, {"wont-fix", 1}, {"unknown", 3}}},
  };
  for (const auto& c : cases) {
    ScanReport r = must_parse_file(c.file);
    EXPECT_EQ(r.format, "trivy") << c.file;
    EXPECT_EQ(severity_counts(r), c.severities) << c.file;
    EXPECT_EQ(fix_counts(r), c.fix) << c.file;
    EXPECT_TRUE(r.finished_s.has_value()) << c.file;
  }
  // "every fixed entry has a FixedVersion and the others have none" in the goldens.
  for (const auto& f : must_parse_file("trivy/alpine-39.json.golden").findings) EXPECT_FALSE(f.fixed_version.empty()) << f.id;
  ScanReport alpine = must_parse_file("trivy/alpine-39.json.golden");
  EXPECT_EQ(alpine.finished_s, parse_rfc3339("2021-08-25T12:20:30Z"));
  EXPECT_EQ(alpine.image_digests, std::vector<std::string>{"sha256:055936d3920576da37aa9bc460d70c5f212028bda1c08c0879aedf03d7a66ea1"});
  // DefectDojo's RepoDigests is [""]: no digest from it, only the ImageID.
  EXPECT_EQ(must_parse_file("trivy/defectdojo-all_statuses.json").image_digests.size(), 1u);
}

TEST(TrivyCorpus, StatusMapping) {
  RG_REQUIRE_CORPORA();
  ScanReport r = must_parse_file("trivy/defectdojo-all_statuses.json");
  std::map<std::string, const VulnFinding*> by_status;
  for (const auto& f : r.findings) by_status[f.status] = &f;
  ASSERT_EQ(by_status.size(), 8u);
  EXPECT_EQ(by_status["fixed"]->fix_state, FixState::kFixed);  // no FixedVersion in this file, the status says a fix exists
  EXPECT_EQ(by_status["affected"]->fix_state, FixState::kNotFixed);
  EXPECT_EQ(by_status["fix_deferred"]->fix_state, FixState::kNotFixed);
  EXPECT_EQ(by_status["end_of_life"]->fix_state, FixState::kNotFixed);
  EXPECT_EQ(by_status["will_not_fix"]->fix_state, FixState::kWontFix);
  EXPECT_EQ(by_status["under_investigation"]->fix_state, FixState::kUnknown);
  EXPECT_EQ(by_status["unknown"]->fix_state, FixState::kUnknown);
  EXPECT_EQ(by_status["not_affected"]->fix_state, FixState::kUnknown);
  for (const auto& [status, f] : by_status) EXPECT_EQ(f->suppressed_by_scanner, status == "not_affected") << status;
}

TEST(GrypeCorpus, ExactCountsPerFile) {
  RG_REQUIRE_CORPORA();
  struct Case {
    const char* file;
    Counts severities;
    Counts fix;
    size_t digests;
  };
  const Case cases[] = {
      {"grype/defectdojo-fix_not_available.json", {{"HIGH", 1}}, {{"unknown", 1}}, 2},
      {"grype/defectdojo-fix_available.json", {{"HIGH", 1}}, {{"fixed", 1}}, 2},
      {"grype/defectdojo-check_all_fields.json", {{"CRITICAL", 2}, {"HIGH", 3}, {"NEGLIGIBLE", 1}},
       {{"fixed", 2}, {"wont-fix", 3}, {"not-fixed", 1}}, 2},
      {"grype/defectdojo-issue_9618.json", {{"CRITICAL", 1}, {"HIGH", 18}, {"MEDIUM", 13}, {"LOW", 2}, {"UNKNOWN", 1}},
       {{"fixed", 23}, {"wont-fix", 1}, {"not-fixed", 11}}, 3},
      {"grype/defectdojo-many_vulns_with_epss_values.json", {{"CRITICAL", 1}, {"HIGH", 10}, {"MEDIUM", 2}, {"LOW", 2}},
       {{"fixed", 1}, {"unknown", 14}}, 3},
      {"grype/grype-TestJsonImgsPresenter.golden.json", {{"CRITICAL", 1}, {"LOW", 1}}, {{"fixed", 1}, {"unknown", 1}}, 2},
      {"grype/grype-TestJsonDirsPresenter.golden.json", {{"CRITICAL", 1}, {"LOW", 1}}, {{"fixed", 1}, {"unknown", 1}}, 0},
  };
  for (const auto& c : cases) {
    ScanReport r = must_parse_file(c.file);
    EXPECT_EQ(r.format, "grype") << c.file;
    EXPECT_EQ(severity_counts(r), c.severities) << c.file;
    EXPECT_EQ(fix_counts(r), c.fix) << c.file;
    EXPECT_EQ(r.image_digests.size(), c.digests) << c.file;  // a directory source names no image
  }
  ScanReport q = must_parse_file("grype/defectdojo-issue_9618.json");
  EXPECT_EQ(q.image_digests[0], "sha256:11557074a2e35fcbb2f367ffe1c6bb90968a56c3a08a48bf9370f8445ae2cc36");
  EXPECT_EQ(q.finished_s, parse_rfc3339("2024-02-22T18:46:26Z"));
  // Presenter snapshots have an empty timestamp: they parse, with no scan time.
  EXPECT_FALSE(must_parse_file("grype/grype-TestJsonImgsPresenter.golden.json").finished_s.has_value());
}

TEST(CosignCorpus, PredicateWithNullResultParses) {
  RG_REQUIRE_CORPORA();
  auto j = parse_json(read_all(corpora_dir() + "/cosign-vuln/cosign-vuln-predicate.json"), "p");
  ASSERT_TRUE(j.is_ok());
  Statement s{"https://in-toto.io/Statement/v0.1", {}, std::string(kCosignVulnPredicate), *j};
  auto r = report_from_statement(s, "cosign-vuln-predicate.json");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_TRUE(r->findings.empty());
  EXPECT_TRUE(r->finished_s.has_value());
}

TEST(CosignCorpus, ValidAndMalformedPolicyEnvelopes) {
  RG_REQUIRE_CORPORA();
  for (const char* name : {"cosign-policy-valid-vuln.dsse.json", "cosign-policy-malformed-vuln.dsse.json"}) {
    auto env = parse_json(read_all(corpora_dir() + "/cosign-vuln/" + name), name);
    ASSERT_TRUE(env.is_ok());
    auto payload = base64_decode((*env)["payload"].get<std::string>(), "payload");
    ASSERT_TRUE(payload.is_ok());
    auto r = report_from_payload((*env)["payloadType"].get<std::string>(), *payload, name);
    if (std::string(name).find("malformed") != std::string::npos) {
      ASSERT_FALSE(r.is_ok());
      EXPECT_NE(r.status().message().find("unsupported predicateType"), std::string::npos) << r.status().message();
    } else {
      EXPECT_TRUE(r.is_ok()) << r.status().message();
    }
  }
}

}  // namespace
}  // namespace runguard::attest
