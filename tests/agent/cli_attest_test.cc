// runguardctl attest verify | inspect (cli/attest_cmd.cc), in process: argument parsing, exit
// codes (0 pass, 1 fail, 2 input error), the text and JSON shapes integration tests and docs rely
// on. Attestations are signed with the openssl CLI (tests/attest/attest_test_util.h).
#include <gtest/gtest.h>

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#ifndef RUNGUARD_SHARED_DIR
#define RUNGUARD_SHARED_DIR RUNGUARD_SOURCE_DIR "/../shared"
#endif
#include "../attest/attest_test_util.h"
#include "attest_cmd.h"
#include "records.h"
#include "runguard/common/json.h"

namespace {

using runguard::Json;
namespace cli = runguard::cli;

const std::string kHex = "4b825dc642cb6eb9a060e54bf8d69288fbee4904d1a2c6e6a7c0a1b2c3d4e5f6";
const std::string kDigest = "sha256:" + kHex;
const std::string kNow = "2026-11-29T10:00:00Z";
const std::string kScanned = "2026-11-28T10:00:00Z";

struct Captured {
  int rc;
  std::string out, err;
};

Captured run(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  int rc = cli::cmd_attest(args);
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  return {rc, out.str(), err.str()};
}

bool has(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

class AttestCli : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = &rgattest::test_key(rgattest::Kind::kP256);
    policy_ = tmp_.file("policy.yaml");
    rgattest::write_all(policy_, "attestation:\n  keys: [" + key_->public_pem + "]\n  maxAge: 72h\n");
    store_ = tmp_.file("store");
    std::filesystem::create_directories(store_ + "/sha256/" + kHex);
  }
  // A signed cosign vuln attestation for `digest` with these findings, written to `name`.
  std::string attestation(const std::string& name, const std::vector<rgattest::Vuln>& vulns, const std::string& digest = kDigest,
                          const rgattest::TestKey* key = nullptr) {
    Json st = rgattest::statement(digest, "https://cosign.sigstore.dev/attestation/vuln/v1",
                                  rgattest::cosign_vuln_predicate(rgattest::trivy_report(vulns, kScanned), kScanned));
    Json env = rgattest::dsse_envelope("application/vnd.in-toto+json", st.dump(), {key ? key : key_});
    std::string path = tmp_.file(name);
    rgattest::write_all(path, env.dump());
    return path;
  }
  std::vector<std::string> verify(const std::string& file, std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {"verify", "--policy", policy_, "--image-digest", kDigest, "--attestation", file, "--now", kNow};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  rgattest::TempDir tmp_;
  const rgattest::TestKey* key_ = nullptr;
  std::string policy_, store_;
};

TEST_F(AttestCli, PassText) {
  std::string f = attestation("ok.json", {{"CVE-2024-0001", "zlib", "LOW", "1.3.1"}});
  Captured c = run(verify(f, {"--image", "registry.example/app:1"}));
  EXPECT_EQ(c.rc, 0) << c.out << c.err;
  EXPECT_EQ(c.out.rfind("PASS: passed: signed by 1 trusted key(s), scan 24h0m0s old, 0 blocking", 0), 0u) << c.out;
  EXPECT_TRUE(has(c.out, "image: " + kDigest + " (registry.example/app:1)")) << c.out;
  EXPECT_TRUE(has(c.out, "signers: sha256:")) << c.out;
  EXPECT_TRUE(has(c.out, key_->public_pem)) << c.out;
  EXPECT_TRUE(has(c.out, "blocking findings: 0")) << c.out;
  EXPECT_TRUE(has(c.out, "reasons:\n  - passed: ")) << c.out;
}

TEST_F(AttestCli, PassJsonHasTheIssuesMembers) {
  std::string f = attestation("ok.json", {});
  Captured c = run(verify(f, {"--format", "json"}));
  EXPECT_EQ(c.rc, 0) << c.out << c.err;
  auto j = runguard::parse_json(c.out, "output");
  ASSERT_TRUE(j.is_ok()) << c.out;
  for (const char* k : {"verified", "passed", "signers", "age", "findings", "reasons"}) EXPECT_TRUE(j->contains(k)) << k << "\n" << c.out;
  EXPECT_EQ((*j)["verified"], true);
  EXPECT_EQ((*j)["passed"], true);
  EXPECT_EQ((*j)["age"], "24h0m0s");
  EXPECT_TRUE((*j)["findings"]["blocking"].is_array());
  EXPECT_TRUE((*j)["findings"]["suppressed"].is_array());
  ASSERT_EQ((*j)["signers"].size(), 1u);
  EXPECT_EQ((*j)["signers"][0]["source"], key_->public_pem);
}

TEST_F(AttestCli, FailOnSeverity) {
  std::string f = attestation("bad.json", {{"CVE-2024-9999", "openssl", "CRITICAL", "3.0.2"}, {"CVE-2024-0002", "zlib", "LOW", ""}});
  Captured c = run(verify(f));
  EXPECT_EQ(c.rc, 1) << c.out << c.err;
  EXPECT_EQ(c.out.rfind("FAIL: ", 0), 0u) << c.out;
  EXPECT_TRUE(has(c.out, "blocking findings: 1\n  CVE-2024-9999  CRITICAL  fixed  openssl 1.0.0 -> 3.0.2")) << c.out;
  Captured j = run(verify(f, {"--format=json"}));
  EXPECT_EQ(j.rc, 1);
  auto parsed = runguard::parse_json(j.out, "output");
  ASSERT_TRUE(parsed.is_ok()) << j.out;
  EXPECT_EQ((*parsed)["passed"], false);
  EXPECT_EQ((*parsed)["verified"], true);
  ASSERT_EQ((*parsed)["findings"]["blocking"].size(), 1u);
  EXPECT_EQ((*parsed)["findings"]["blocking"][0]["id"], "CVE-2024-9999");
}

TEST_F(AttestCli, FailOnAgeWrongSubjectAndWrongKey) {
  std::string f = attestation("ok.json", {});
  EXPECT_EQ(run(verify(f, {"--now", "2026-12-30T10:00:00Z"})).rc, 1) << "older than maxAge 72h";
  std::string other = attestation("other.json", {}, "sha256:" + std::string(64, 'f'));
  Captured c = run(verify(other));
  EXPECT_EQ(c.rc, 1);
  EXPECT_TRUE(has(c.out, "signed for another image")) << c.out;
  std::string forged = attestation("forged.json", {}, kDigest, &rgattest::test_key(rgattest::Kind::kP256, 1));
  Captured k = run(verify(forged));
  EXPECT_EQ(k.rc, 1);
  EXPECT_TRUE(has(k.out, "not signed by a trusted key")) << k.out;
}

TEST_F(AttestCli, UnparseableAttestationIsAnInputError) {
  std::string f = tmp_.file("truncated.json");
  rgattest::write_all(f, "{\"payloadType\":\"application/vnd.in-toto+json\",\"payload\":\"e30");
  Captured c = run(verify(f));
  EXPECT_EQ(c.rc, 2) << c.out << c.err;
  EXPECT_EQ(run(verify(tmp_.file("missing.json"))).rc, 2);
}

TEST_F(AttestCli, Store) {
  attestation("ok.json", {});
  std::filesystem::rename(tmp_.file("ok.json"), store_ + "/sha256/" + kHex + "/ok.json");
  std::vector<std::string> a = {"verify", "--policy", policy_, "--image-digest", kDigest, "--store", store_, "--now", kNow};
  Captured c = run(a);
  EXPECT_EQ(c.rc, 0) << c.out << c.err;
  a[4] = "sha256:" + std::string(64, '0');
  Captured none = run(a);
  EXPECT_EQ(none.rc, 1) << none.out;
  EXPECT_TRUE(has(none.out, "no attestation for sha256:" + std::string(64, '0') + " in " + store_)) << none.out;
}

struct UsageRow {
  const char* name;
  std::vector<std::string> args;
  const char* why;
};

TEST_F(AttestCli, UsageErrorsExit2) {
  std::string f = attestation("ok.json", {});
  const std::vector<UsageRow> rows = {
      {"no_subcommand", {}, "verify or inspect"},
      {"unknown_subcommand", {"check"}, "unknown subcommand"},
      {"no_digest", {"verify", "--policy", policy_, "--attestation", f}, "--image-digest is required"},
      {"bad_digest", {"verify", "--policy", policy_, "--image-digest", "sha256:abc", "--attestation", f}, "is not sha256:<64 lowercase hex>"},
      {"upper_digest", {"verify", "--policy", policy_, "--image-digest", "sha256:" + std::string(64, 'A'), "--attestation", f}, "lowercase"},
      {"neither_source", {"verify", "--policy", policy_, "--image-digest", kDigest}, "exactly one of --attestation FILE and --store DIR"},
      {"both_sources", {"verify", "--policy", policy_, "--image-digest", kDigest, "--attestation", f, "--store", store_}, "exactly one of"},
      {"bad_format", {"verify", "--policy", policy_, "--image-digest", kDigest, "--attestation", f, "--format", "sarif"}, "--format must be text or json"},
      {"bad_now", {"verify", "--policy", policy_, "--image-digest", kDigest, "--attestation", f, "--now", "yesterday"}, "is not an RFC 3339 time"},
      {"unknown_flag", {"verify", "--policy", policy_, "--image-digest", kDigest, "--attestation", f, "--key", "/k"}, "unknown flag --key"},
      {"missing_value", {"verify", "--policy", policy_, "--image-digest", kDigest, "--attestation"}, "--attestation needs a value"},
      {"stray_argument", {"verify", "--policy", policy_, "--image-digest", kDigest, "--attestation", f, "extra"}, "unexpected argument"},
      {"policy_missing", {"verify", "--policy", tmp_.file("nope.yaml"), "--image-digest", kDigest, "--attestation", f}, "nope.yaml"},
      {"inspect_no_file", {"inspect"}, "no attestation or report file given"},
      {"inspect_two_files", {"inspect", f, f}, "more than one file"},
      {"inspect_bad_format", {"inspect", f, "--format", "yaml"}, "--format must be text or json"},
  };
  for (const auto& row : rows) {
    Captured c = run(row.args);
    EXPECT_EQ(c.rc, 2) << row.name << "\n" << c.out << c.err;
    EXPECT_TRUE(has(c.err, row.why)) << row.name << ": " << c.err;
  }
}

TEST_F(AttestCli, GateOffPolicyIsAnInputErrorThatSaysWhy) {
  std::string f = attestation("ok.json", {});
  struct Row {
    std::string yaml;
    const char* why;
  };
  for (const Row& row : {Row{"mode: audit\n", "no attestation section in the policy"},
                         Row{"attestation:\n  keys: []\n", "no keys in attestation.keys: nothing can be trusted"},
                         Row{"attestation:\n  action: off\n  keys: [" + key_->public_pem + "]\n", "attestation.action is off"}}) {
    rgattest::write_all(policy_, row.yaml);
    Captured c = run(verify(f));
    EXPECT_EQ(c.rc, 2) << row.yaml << c.out;
    EXPECT_TRUE(has(c.err, "is off (" + std::string(row.why) + "): there is nothing to verify against")) << c.err;
  }
}

TEST_F(AttestCli, KeyFileThatDoesNotLoadIsAnInputError) {
  std::string f = attestation("ok.json", {});
  rgattest::write_all(policy_, "attestation:\n  keys: [" + tmp_.file("missing.pub") + "]\n");
  Captured c = run(verify(f));
  EXPECT_EQ(c.rc, 2) << c.out;
  EXPECT_TRUE(has(c.err, "missing.pub")) << c.err;
}

TEST_F(AttestCli, InspectTextAndJson) {
  std::string f = attestation("scan.json", {{"CVE-2024-0002", "zlib", "LOW", ""}, {"CVE-2024-9999", "openssl", "CRITICAL", "3.0.2"}});
  Captured t = run({"inspect", f});
  EXPECT_EQ(t.rc, 0) << t.err;
  EXPECT_TRUE(has(t.out, "signature not verified")) << t.out;
  EXPECT_TRUE(has(t.out, "dsse, payloadType application/vnd.in-toto+json, 1 signature(s)")) << t.out;
  EXPECT_TRUE(has(t.out, "findings: 2 (CRITICAL 1, LOW 1; 1 fixable)")) << t.out;
  EXPECT_TRUE(has(t.out, "ID\tSEVERITY\tFIX STATE\tPACKAGE\tINSTALLED\tFIXED\nCVE-2024-9999\tCRITICAL\tfixed\topenssl\t1.0.0\t3.0.2\n"))
      << t.out;
  Captured j = run({"inspect", "--format", "json", f});
  EXPECT_EQ(j.rc, 0);
  auto parsed = runguard::parse_json(j.out, "output");
  ASSERT_TRUE(parsed.is_ok()) << j.out;
  EXPECT_EQ((*parsed)["signatureVerified"], false);
  EXPECT_EQ((*parsed)["format"], "dsse");
  EXPECT_EQ((*parsed)["report"]["scanFinishedOn"], kScanned);
  ASSERT_EQ((*parsed)["findings"].size(), 2u);
  EXPECT_EQ((*parsed)["findings"][0]["id"], "CVE-2024-9999");
  EXPECT_EQ((*parsed)["findings"][0]["fixed"], "3.0.2");
  EXPECT_EQ((*parsed)["statement"]["subjects"][0]["digest"]["sha256"], kHex);
}

TEST_F(AttestCli, InspectBareReportAndBadInput) {
  std::string bare = tmp_.file("trivy.json");
  rgattest::write_all(bare, rgattest::trivy_report({{"CVE-2024-1", "curl", "HIGH", "8.0"}}, kScanned).dump());
  Captured c = run({"inspect", bare});
  EXPECT_EQ(c.rc, 0) << c.err;
  EXPECT_TRUE(has(c.out, bare + ": report (signature not verified)")) << c.out;
  EXPECT_TRUE(has(c.out, "CVE-2024-1\tHIGH")) << c.out;
  std::string junk = tmp_.file("junk.json");
  rgattest::write_all(junk, "{\"payloadType\": 1");
  EXPECT_EQ(run({"inspect", junk}).rc, 2);
  rgattest::write_all(junk, "{\"hello\": \"world\"}");
  EXPECT_EQ(run({"inspect", junk}).rc, 2);
  EXPECT_EQ(run({"inspect", tmp_.file("missing.json")}).rc, 2);
}

// `runguardctl explain` shows the gate's state from the decision record.
TEST(AttestExplain, GateLine) {
  auto record = [](const Json& attestation) {
    return Json{{"id", "c1"},
                {"context", {{"id", "c1"}, {"image", "registry.example/app:1"}, {"imageDigest", kDigest}}},
                {"decision",
                 {{"allowed", false},
                  {"mode", "enforce"},
                  {"findings", Json::array({{{"id", "RG-ATTEST-001"}, {"control", "attestation"}, {"severity", "high"},
                                             {"action", "deny"}, {"message", "image x: scan attestation check failed: stale"},
                                             {"pointer", "/root"}}})},
                  {"mutations", Json::array()},
                  {"attestation", attestation}}}};
  };
  std::string failed = cli::explain_text(record({{"gate", "enforce"}, {"required", true}, {"passed", false}, {"summary", "stale"}}), {});
  EXPECT_TRUE(has(failed, "attestation enforce, failed: stale")) << failed;
  EXPECT_TRUE(has(failed, "CIS 4.4, CIS 4.5")) << failed;
  std::string off = cli::explain_text(record({{"gate", "off"}, {"reason", "no attestation section in the policy"}}), {});
  EXPECT_TRUE(has(off, "attestation gate off (no attestation section in the policy)")) << off;
}

}  // namespace
