// in-toto Statements: v0.1 and v1, required fields, subject digest matching, and cosign's
// vulnerability attestation fixtures (../shared/corpora/cosign-vuln).
#include "runguard/attest/statement.h"

#include <gtest/gtest.h>

#include "attest_test_util.h"
#include "runguard/attest/dsse.h"

namespace runguard::attest {
namespace {

const std::string kHex = "3c19aa980a9c5709a2c96c2d0779febf6e5e453b92b172ce84cb85fdaf695373";
const std::string kDigest = "sha256:" + kHex;
constexpr char kVulnV1[] = "https://cosign.sigstore.dev/attestation/vuln/v1";

Json v1_statement() { return rgattest::statement(kDigest, kVulnV1, {{"k", "v"}}, std::string(kStatementV1)); }

void expect_invalid(const Json& j, const std::string& part) {
  auto r = parse_statement(j, "payload");
  ASSERT_FALSE(r.is_ok()) << j.dump();
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().message().rfind("payload: ", 0), 0u) << r.status().message();
  EXPECT_NE(r.status().message().find(part), std::string::npos) << r.status().message();
}

TEST(IsInTotoPayloadType, Spellings) {
  EXPECT_TRUE(is_in_toto_payload_type("application/vnd.in-toto+json"));
  EXPECT_TRUE(is_in_toto_payload_type("application/vnd.in-toto.vulns+json"));
  EXPECT_FALSE(is_in_toto_payload_type("application/vnd.in-toto.+json"));
  EXPECT_FALSE(is_in_toto_payload_type("application/vnd.in-toto"));
  EXPECT_FALSE(is_in_toto_payload_type("application/vnd.in-toto+jsonx"));
  EXPECT_FALSE(is_in_toto_payload_type("application/json"));
  EXPECT_FALSE(is_in_toto_payload_type(""));
  EXPECT_FALSE(is_in_toto_payload_type("APPLICATION/VND.IN-TOTO+JSON"));
}

TEST(ParseStatement, V01AndV1) {
  for (const char* type : {"https://in-toto.io/Statement/v0.1", "https://in-toto.io/Statement/v1"}) {
    Json j = rgattest::statement(kDigest, kVulnV1, {{"k", "v"}}, type);
    j["unknownField"] = 1;
    auto r = parse_statement(j, "payload");
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ(r->type, type);
    EXPECT_EQ(r->predicate_type, kVulnV1);
    ASSERT_EQ(r->subjects.size(), 1u);
    EXPECT_EQ(r->subjects[0].name, "registry.example/app");
    EXPECT_EQ(r->subjects[0].digest.at("sha256"), kHex);
    EXPECT_EQ(r->predicate, Json({{"k", "v"}}));
  }
}

TEST(ParseStatement, NameRequiredOnlyInV01) {
  Json v1 = v1_statement();
  v1["subject"][0].erase("name");
  auto r = parse_statement(v1, "payload");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->subjects[0].name, "");
  Json v01 = rgattest::statement(kDigest, kVulnV1, nullptr);
  v01["subject"][0].erase("name");
  expect_invalid(v01, "subject[0].name: missing (required by Statement v0.1)");
  v01["subject"][0]["name"] = "";
  expect_invalid(v01, "subject[0].name: missing");
  Json typed = v1_statement();
  typed["subject"][0]["name"] = 3;
  expect_invalid(typed, "subject[0].name: must be a string");
}

TEST(ParseStatement, RequiredFields) {
  expect_invalid(Json::array(), "must be a JSON object, not array");
  Json j = v1_statement();
  j.erase("_type");
  expect_invalid(j, "_type: missing");
  j = v1_statement();
  j["_type"] = "https://in-toto.io/Statement/v2";
  expect_invalid(j, "_type \"https://in-toto.io/Statement/v2\" is not an in-toto statement");
  j = v1_statement();
  j.erase("subject");
  expect_invalid(j, "subject: missing");
  j["subject"] = Json::object();
  expect_invalid(j, "subject: must be an array, not object");
  j["subject"] = Json::array();
  expect_invalid(j, "subject: empty");
  j["subject"] = Json::array({"x"});
  expect_invalid(j, "subject[0]: must be an object, not string");
  j["subject"] = Json::array({{{"name", "a"}}});
  expect_invalid(j, "subject[0].digest: missing");
  j["subject"] = Json::array({{{"name", "a"}, {"digest", Json::object()}}});
  expect_invalid(j, "subject[0].digest: empty");
  j["subject"] = Json::array({{{"name", "a"}, {"digest", {{"sha256", 5}}}}});
  expect_invalid(j, "subject[0].digest.sha256: must be a string, not number");
  j["subject"] = Json::array({{{"name", "a"}, {"digest", Json::array({"sha256"})}}});
  expect_invalid(j, "subject[0].digest: must be an object, not array");
  j = v1_statement();
  j.erase("predicateType");
  expect_invalid(j, "predicateType: missing");
  j["predicateType"] = "";
  expect_invalid(j, "predicateType: empty");
  j = v1_statement();
  j.erase("predicate");
  auto r = parse_statement(j, "payload");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_TRUE(r->predicate.is_null());
}

TEST(StatementCovers, DigestMatching) {
  auto st = parse_statement(v1_statement(), "payload");
  ASSERT_TRUE(st.is_ok());
  EXPECT_TRUE(statement_covers(*st, kDigest));
  std::string upper = kHex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(statement_covers(*st, "sha256:" + upper));
  EXPECT_TRUE(statement_covers(*st, "SHA256:" + kHex));
  std::string other = kHex;
  other.back() = '4';
  EXPECT_FALSE(statement_covers(*st, "sha256:" + other));
  EXPECT_FALSE(statement_covers(*st, "sha256:" + kHex.substr(0, 12)));  // a prefix is not a digest
  EXPECT_FALSE(statement_covers(*st, kHex));
  EXPECT_FALSE(statement_covers(*st, "sha256:"));
  EXPECT_FALSE(statement_covers(*st, ""));
  EXPECT_FALSE(statement_covers(*st, "sha512:" + kHex + kHex));
  EXPECT_FALSE(statement_covers(*st, "md5:" + kHex));

  // Uppercase hex in the statement; a second subject; sha512.
  Json j = v1_statement();
  j["subject"][0]["digest"]["sha256"] = upper;
  const std::string sha512 = kHex + kHex;
  j["subject"].push_back({{"name", "b"}, {"digest", {{"sha512", sha512}, {"sha1", kHex.substr(0, 40)}}}});
  st = parse_statement(j, "payload");
  ASSERT_TRUE(st.is_ok());
  EXPECT_TRUE(statement_covers(*st, kDigest));
  EXPECT_TRUE(statement_covers(*st, "sha512:" + sha512));
  EXPECT_FALSE(statement_covers(*st, "sha1:" + kHex.substr(0, 40)));  // not an image digest algorithm
}

// --- cosign fixtures ---

Statement fixture_statement(const std::string& name) {
  const std::string path = rgattest::corpora_dir() + "/cosign-vuln/" + name;
  auto j = parse_json(rgattest::read_all(path), path);
  EXPECT_TRUE(j.is_ok()) << j.status().message();
  auto env = parse_dsse(*j, path);
  EXPECT_TRUE(env.is_ok()) << env.status().message();
  EXPECT_EQ(env->payload_type, kInTotoPayloadType);
  EXPECT_EQ(env->signatures.size(), 1u);
  auto body = parse_json(env->payload, path + " payload");
  EXPECT_TRUE(body.is_ok()) << body.status().message();
  auto st = parse_statement(*body, path + " payload");
  EXPECT_TRUE(st.is_ok()) << st.status().message();
  if (!st.is_ok()) std::abort();
  return *st;
}

TEST(CosignFixtures, ValidVulnAttestation) {
  RG_REQUIRE_CORPORA();
  Statement st = fixture_statement("cosign-policy-valid-vuln.dsse.json");
  EXPECT_EQ(st.type, kStatementV01);
  EXPECT_EQ(st.predicate_type, kVulnV1);
  EXPECT_TRUE(statement_covers(st, kDigest));
  EXPECT_EQ(st.subjects[0].name, "registry.local:5000/knative/demo");
  EXPECT_TRUE(st.predicate.contains("metadata"));
  EXPECT_TRUE(st.predicate["metadata"].contains("scanFinishedOn"));
}

TEST(CosignFixtures, MalformedPredicateTypeIsNotTheVulnUri) {
  RG_REQUIRE_CORPORA();
  // The statement itself is well-formed; its predicateType lacks the https:// scheme, so it is not
  // cosign's vuln predicate and the gate (which matches predicateType exactly) does not read it.
  Statement st = fixture_statement("cosign-policy-malformed-vuln.dsse.json");
  EXPECT_EQ(st.predicate_type, "cosign.sigstore.dev/attestation/vuln/v1");
  EXPECT_NE(st.predicate_type, kVulnV1);
  EXPECT_TRUE(statement_covers(st, kDigest));
}

}  // namespace
}  // namespace runguard::attest
