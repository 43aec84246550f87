// OpenVEX documents as suppressions: products, subcomponents, purl matching, statement order, and
// the corpora (gomod + its VEX must equal the gomod-vex golden).
#include <gtest/gtest.h>

#include <set>
#include <tuple>

#include "attest_test_util.h"
#include "runguard/attest/limits.h"
#include "runguard/attest/vex.h"

namespace runguard::attest {
namespace {

using rgattest::corpora_dir;
using rgattest::read_all;

const std::string kDigest = "sha256:124c7d2707904eea7431fffe91522a01e5a861a624ee31d03372cc1d138a3126";

VulnFinding finding(const std::string& id, const std::string& purl) {
  VulnFinding f;
  f.id = id;
  f.purl = purl;
  return f;
}

Json doc(const Json& statements, const std::string& ts = "2024-01-01T00:00:00Z") {
  return {{"@context", "https://openvex.dev/ns/v0.2.0"}, {"@id", "x"}, {"author", "t"}, {"timestamp", ts}, {"version", 1}, {"statements", statements}};
}

TEST(Vex, ImageProductWithSubcomponents) {
  RG_REQUIRE_CORPORA();
  VexIndex idx;
  ASSERT_TRUE(idx.load_paths({corpora_dir() + "/openvex/go-vex-v0.2.0.json"}).is_ok());
  EXPECT_EQ(idx.size(), 5u);
  ImageRef img{kDigest, "alpine:3.17"};
  // not_affected for the listed subcomponent (purl match ignores qualifiers)
  auto s = idx.suppression(finding("CVE-2023-3446", "pkg:apk/alpine/libssl3@3.0.8-r3?arch=x86_64&distro=alpine-3.17"), img);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->status, "not_affected");
  EXPECT_EQ(s->justification, "vulnerable_code_not_present");
  // fixed suppresses too
  EXPECT_TRUE(idx.suppression(finding("CVE-2023-1255", "pkg:apk/alpine/libcrypto3@3.0.8-r3"), img).has_value());
  // another package of the image: the subcomponents do not name it
  EXPECT_FALSE(idx.suppression(finding("CVE-2023-3446", "pkg:apk/alpine/busybox@1.36"), img).has_value());
  // another version of the package
  EXPECT_FALSE(idx.suppression(finding("CVE-2023-3446", "pkg:apk/alpine/libssl3@3.1.0-r0"), img).has_value());
  // another image
  EXPECT_FALSE(idx.suppression(finding("CVE-2023-3446", "pkg:apk/alpine/libssl3@3.0.8-r3"), ImageRef{"sha256:" + std::string(64, 'b'), ""}).has_value());
  // another vulnerability
  EXPECT_FALSE(idx.suppression(finding("CVE-2023-9999", "pkg:apk/alpine/libssl3@3.0.8-r3"), img).has_value());
}

TEST(Vex, AliasesMatchBothWays) {
  RG_REQUIRE_CORPORA();
  VexIndex idx;
  ASSERT_TRUE(idx.load_paths({corpora_dir() + "/openvex/vexctl-sample-2vulns.openvex.json"}).is_ok());
  ImageRef nginx{"sha256:13d22ec63300e16014d4a42aed735207a8b33c223cff19627dd3042e5a10a3a0", ""};
  // the statement's alias equals the finding's id
  EXPECT_TRUE(idx.suppression(finding("SNYK-DEBIAN12-LIBDE265-3361563", "pkg:deb/debian/libde265@1"), nginx).has_value());
  // the finding's alias equals the statement's name
  VulnFinding f = finding("DSA-1", "");
  f.aliases = {"CVE-2007-5686"};
  auto s = idx.suppression(f, nginx);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->status, "fixed");
}

TEST(Vex, LaterStatementWinsUsingDocumentTimestamp) {
  RG_REQUIRE_CORPORA();
  VexIndex idx;
  ASSERT_TRUE(idx.load_paths({corpora_dir() + "/openvex/trivy-openvex-multiple.json"}).is_ok());
  // affected (2023-01-15) then not_affected inheriting the document's 2023-01-16: suppressed.
  auto s = idx.suppression(finding("CVE-2021-44228", "pkg:maven/org.springframework.boot/spring-boot@2.6.0"), ImageRef{kDigest, ""});
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->status, "not_affected");
  EXPECT_EQ(s->timestamp_s, *parse_rfc3339("2023-01-16T19:07:16.853479631-06:00"));
}

TEST(Vex, AffectedIssuedLaterBringsTheFindingBack) {
  VexIndex idx;
  std::string purl = "pkg:deb/debian/openssl@3.0.11";
  ASSERT_TRUE(idx.add_document(doc({{{"vulnerability", {{"name", "CVE-1"}}}, {"products", {{{"@id", kDigest}}}},
                                      {"status", "not_affected"}, {"justification", "component_not_present"}, {"timestamp", "2024-01-01T00:00:00Z"}},
                                     {{"vulnerability", {{"name", "CVE-1"}}}, {"products", {{{"@id", kDigest}}}},
                                      {"status", "affected"}, {"timestamp", "2024-02-01T00:00:00Z"}}}),
                               "inline")
                  .is_ok());
  EXPECT_FALSE(idx.suppression(finding("CVE-1", purl), ImageRef{kDigest, ""}).has_value());
  // A later document saying not_affected again suppresses.
  ASSERT_TRUE(idx.add_document(doc({{{"vulnerability", {{"name", "CVE-1"}}}, {"products", {{{"@id", kDigest}}}},
                                      {"status", "not_affected"}, {"impact_statement", "not reachable"}}},
                                   "2024-03-01T00:00:00Z"),
                               "inline2")
                  .is_ok());
  auto s = idx.suppression(finding("CVE-1", purl), ImageRef{kDigest, ""});
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->document, "inline2");
}

TEST(Vex, UnderInvestigationNeverSuppresses) {
  RG_REQUIRE_CORPORA();
  VexIndex idx;
  ASSERT_TRUE(idx.load_paths({corpora_dir() + "/openvex/go-vex-v020-1.vex.json"}).is_ok());
  EXPECT_FALSE(idx.suppression(finding("CVE-9876-54321", "pkg:apk/wolfi/bash@1.0.0"), ImageRef{kDigest, ""}).has_value());
}

TEST(Vex, ProductNamingTheImage) {
  VexIndex idx;
  std::string hex = kDigest.substr(7);
  ASSERT_TRUE(idx.add_document(
                     doc({{{"vulnerability", {{"name", "CVE-OCI"}}}, {"products", {{{"@id", "pkg:oci/app@sha256%3A" + hex + "?repository_url=r.example/app"}}}},
                           {"status", "fixed"}},
                          {{"vulnerability", {{"name", "CVE-HASH"}}}, {"products", {{{"hashes", {{"sha-256", hex}}}}}}, {"status", "fixed"}},
                          {{"vulnerability", {{"name", "CVE-TAG"}}}, {"products", {{{"@id", "registry.example/app:1"}}}}, {"status", "fixed"}},
                          {{"vulnerability", {{"name", "CVE-NOPRODUCT"}}}, {"status", "fixed"}}}),
                     "inline")
                  .is_ok());
  ImageRef img{kDigest, "registry.example/app:1"};
  EXPECT_TRUE(idx.suppression(finding("CVE-OCI", ""), img).has_value());
  EXPECT_TRUE(idx.suppression(finding("CVE-HASH", ""), img).has_value());
  EXPECT_TRUE(idx.suppression(finding("CVE-TAG", ""), img).has_value());
  EXPECT_FALSE(idx.suppression(finding("CVE-TAG", ""), ImageRef{kDigest, ""}).has_value());  // an unknown name matches nothing
  EXPECT_FALSE(idx.suppression(finding("CVE-NOPRODUCT", ""), img).has_value());
}

TEST(Vex, VersionlessPurlMeansEveryVersion) {
  VexIndex idx;
  ASSERT_TRUE(idx.add_document(doc({{{"vulnerability", {{"name", "CVE-2"}}}, {"products", {{{"@id", "pkg:npm/lodash"}}}},
                                      {"status", "not_affected"}, {"justification", "vulnerable_code_not_in_execute_path"}}}),
                               "inline")
                  .is_ok());
  EXPECT_TRUE(idx.suppression(finding("CVE-2", "pkg:npm/lodash@4.17.20"), ImageRef{kDigest, ""}).has_value());
  EXPECT_FALSE(idx.suppression(finding("CVE-2", "pkg:npm/lodash-es@4.17.20"), ImageRef{kDigest, ""}).has_value());
  EXPECT_FALSE(idx.suppression(finding("CVE-2", "pkg:pypi/lodash@1"), ImageRef{kDigest, ""}).has_value());
  EXPECT_FALSE(idx.suppression(finding("CVE-2", ""), ImageRef{kDigest, ""}).has_value());
}

TEST(Vex, InvalidDocumentsAreRefused) {
  VexIndex idx;
  auto st = idx.add_document(doc({{{"vulnerability", {{"name", "CVE-1"}}}, {"products", {{{"@id", kDigest}}}}, {"status", "not_affected"}}}), "a.json");
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("a.json: statements[0]: status not_affected needs a justification or an impact_statement"), std::string::npos)
      << st.message();
  st = idx.add_document(doc({{{"vulnerability", {{"name", "CVE-1"}}}, {"status", "maybe"}}}), "b.json");
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("statements[0].status"), std::string::npos);
  st = idx.add_document(Json{{"statements", Json::array()}}, "c.json");
  EXPECT_FALSE(st.is_ok());
  st = idx.add_document(doc({{{"vulnerability", {{"name", "CVE-1"}}}, {"status", "fixed"}, {"timestamp", "yesterday"}}}), "d.json");
  EXPECT_FALSE(st.is_ok());
  EXPECT_EQ(idx.size(), 0u);
  EXPECT_TRUE(idx.sources().empty());
}

TEST(Vex, LoadPathsDirectoriesLimitsAndDigest) {
  rgattest::TempDir dir;
  std::filesystem::create_directory(dir.file("vex"));
  Json d1 = doc({{{"vulnerability", {{"name", "CVE-1"}}}, {"products", {{{"@id", kDigest}}}}, {"status", "fixed"}}});
  rgattest::write_all(dir.file("vex/b.json"), dump_json(d1));
  rgattest::write_all(dir.file("vex/a.json"), dump_json(d1));
  rgattest::write_all(dir.file("vex/notes.txt"), "not json");
  VexIndex idx;
  ASSERT_TRUE(idx.load_paths({dir.file("vex")}).is_ok());
  EXPECT_EQ(idx.sources(), (std::vector<std::string>{dir.file("vex/a.json"), dir.file("vex/b.json")}));
  std::string before = idx.digest();
  EXPECT_EQ(before.rfind("sha256:", 0), 0u);

  VexIndex same;
  ASSERT_TRUE(same.load_paths({dir.file("vex")}).is_ok());
  EXPECT_EQ(same.digest(), before);
  rgattest::write_all(dir.file("vex/b.json"), dump_json(d1, 2));  // same statements, other bytes
  VexIndex changed;
  ASSERT_TRUE(changed.load_paths({dir.file("vex")}).is_ok());
  EXPECT_NE(changed.digest(), before);

  VexIndex missing;
  auto st = missing.load_paths({dir.file("nope.json")});
  EXPECT_EQ(st.code(), Code::kNotFound);

  rgattest::write_all(dir.file("bad.json"), "{\"@context\": ");
  VexIndex bad;
  EXPECT_FALSE(bad.load_paths({dir.file("bad.json")}).is_ok());

  rgattest::write_all(dir.file("huge.json"), std::string(kMaxVexBytes + 1, ' '));
  VexIndex huge;
  st = huge.load_paths({dir.file("huge.json")});
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("above the limit"), std::string::npos);
}

TEST(VexCorpus, EveryDocumentLoads) {
  RG_REQUIRE_CORPORA();
  for (const char* f : {"go-vex-v0.2.0.json", "go-vex-v020-1.vex.json", "vexctl-sample-2vulns.openvex.json", "trivy-openvex-multiple.json",
                        "trivy-integration-gomod-openvex.json", "trivy-project.openvex.json"}) {
    VexIndex idx;
    Status st = idx.load_paths({corpora_dir() + "/openvex/" + f});
    EXPECT_TRUE(st.is_ok()) << f << ": " << st.message();
    EXPECT_GT(idx.size(), 0u) << f;
  }
}

TEST(VexCorpus, GomodWithItsVexEqualsTheVexGolden) {
  RG_REQUIRE_CORPORA();
  auto load = [](const std::string& rel) {
    auto j = parse_json(read_all(corpora_dir() + "/" + rel), rel);
    EXPECT_TRUE(j.is_ok());
    auto r = report_from_json(*j, rel);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    return *r;
  };
  ScanReport before = load("trivy/gomod.json.golden");
  ScanReport golden = load("trivy/gomod-vex.json.golden");
  VexIndex idx;
  ASSERT_TRUE(idx.load_paths({corpora_dir() + "/openvex/trivy-integration-gomod-openvex.json"}).is_ok());
  // A repository scan: the product is the scanned module, named here as the reference.
  ImageRef root{"", "pkg:golang/github.com/testdata/testdata"};
  using Key = std::tuple<std::string, std::string, std::string>;
  std::multiset<Key> kept, suppressed, want;
  for (const auto& f : before.findings) {
    (idx.suppression(f, root) ? suppressed : kept).insert({f.id, f.package, f.target});
  }
  for (const auto& f : golden.findings) want.insert({f.id, f.package, f.target});
  EXPECT_EQ(suppressed, (std::multiset<Key>{{"CVE-2022-23628", "github.com/open-policy-agent/opa", "go.mod"}}));
  EXPECT_EQ(kept, want);
  // The same document does nothing for an image it does not name.
  for (const auto& f : before.findings) EXPECT_FALSE(idx.suppression(f, ImageRef{kDigest, "registry.example/app:1"}).has_value()) << f.id;
}

}  // namespace
}  // namespace runguard::attest
