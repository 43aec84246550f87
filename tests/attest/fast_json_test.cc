// The fast JSON reader (attest/src/fast_json.h) against nlohmann's parser: same values, same
// refusals, and pruning that never changes a judged report.
#include "fast_json.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "attest_test_util.h"
#include "runguard/attest/report.h"
#include "runguard/common/json.h"

namespace {

using runguard::Json;
using runguard::attest::internal::parse_json_fast;
using runguard::attest::internal::report_prune_set;

Json nlohmann_parse(const std::string& text) {
  auto r = runguard::parse_json(text, "t");
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return r.is_ok() ? *r : Json();
}

TEST(FastJson, SameValuesAsNlohmann) {
  const std::string docs[] = {
      R"({"a":1,"b":-2,"c":1.5,"d":"x\u00e9\n","e":[true,false,null,{}],"f":{"g":[[]]},"h":18446744073709551615})",
      R"([])", R"("just a string")", R"(0)", R"(  {"dup":1,"dup":2}  )", R"({"big":-9223372036854775808})",
      R"({"esc":"\"\\\/\b\f\r\t\ud83d\ude00"})"};
  for (const auto& d : docs) {
    auto fast = parse_json_fast(d, "t");
    ASSERT_TRUE(fast.is_ok()) << d << ": " << fast.status().message();
    EXPECT_EQ(*fast, nlohmann_parse(d)) << d;
    EXPECT_EQ(runguard::dump_json(*fast), runguard::dump_json(nlohmann_parse(d))) << d;
  }
}

TEST(FastJson, RefusesWhatNlohmannRefuses) {
  const std::string bad[] = {"", "{", R"({"a":1)", R"({"a":1}x)", R"({"a":1} {})", "[1,]", R"({"a" 1})", "nul",
                             R"({"a":NaN})", "[01]", "'x'"};
  for (const auto& b : bad) {
    auto fast = parse_json_fast(b, "doc.json");
    EXPECT_FALSE(fast.is_ok()) << "accepted: " << b;
    if (!fast.is_ok()) EXPECT_NE(fast.status().message().find("doc.json"), std::string::npos) << fast.status().message();
    EXPECT_FALSE(runguard::parse_json(b, "t").is_ok()) << "nlohmann accepts: " << b;
  }
}

// A NUL byte ends the text for both parsers' C-string paths; here it is refused wherever it is
// (common/json.h stops at it and ignores the rest).
TEST(FastJson, RefusesNulBytes) {
  for (const std::string b : {std::string("{}\0{}", 5), std::string("{\"a\":\"x\0\"}", 10), std::string("\0", 1)}) {
    auto fast = parse_json_fast(b, "doc.json");
    ASSERT_FALSE(fast.is_ok());
    EXPECT_NE(fast.status().message().find("NUL byte"), std::string::npos) << fast.status().message();
  }
}

// Stricter than common/json.h (which replaces invalid UTF-8 when it writes): a signed document
// whose strings are not UTF-8 is refused outright.
TEST(FastJson, RefusesInvalidUtf8) {
  for (const std::string b : {"\"\xff\xfe\"", "\"\xc0\xaf\"", "{\"k\xed\xa0\x80\":1}"}) {
    auto fast = parse_json_fast(b, "doc.json");
    EXPECT_FALSE(fast.is_ok());
  }
}

// fuzz_attest finding (ASan, heap-buffer-overflow in RapidJSON's SSE2 string scan): the scan reads
// aligned 16-byte blocks past the terminating NUL, so the parse buffer is padded. Documents ending
// at every offset within a block, each string running to the end: meaningful under make test-asan.
TEST(FastJson, StringsEndingAtEveryOffsetOfABlock) {
  for (size_t n = 0; n < 48; ++n) {
    std::string doc = "\"" + std::string(n, 'x') + "\"";
    auto fast = parse_json_fast(doc, "t");
    ASSERT_TRUE(fast.is_ok()) << n;
    EXPECT_EQ(fast->get<std::string>().size(), n);
    EXPECT_FALSE(parse_json_fast("\"" + std::string(n, 'x'), "t").is_ok()) << n;  // unterminated
  }
}

TEST(FastJson, DeepNestingIsRefusedNotACrash) {
  for (int depth : {runguard::kMaxJsonDepth + 1, 100000, 1000000}) {
    std::string doc(depth, '[');
    doc += std::string(depth, ']');
    auto fast = parse_json_fast(doc, "deep.json");
    ASSERT_FALSE(fast.is_ok()) << depth;
    EXPECT_NE(fast.status().message().find("nested deeper than"), std::string::npos) << fast.status().message();
  }
  std::string ok(runguard::kMaxJsonDepth, '[');
  ok += std::string(runguard::kMaxJsonDepth, ']');
  EXPECT_TRUE(parse_json_fast(ok, "t").is_ok());
}

TEST(FastJson, PruneSkipsOnlyTheNamedMembersValues) {
  const std::string d = R"({"keep":{"Description":{"deep":[1,{"x":"y"}]},"Title":"t","n":[{"References":["a"],"id":"CVE-1"}]},"z":2})";
  auto fast = parse_json_fast(d, "t", &report_prune_set());
  ASSERT_TRUE(fast.is_ok()) << fast.status().message();
  EXPECT_EQ(*fast, nlohmann_parse(R"({"keep":{"n":[{"id":"CVE-1"}]},"z":2})"));
}

// What a report is judged on: every normalised finding, the scan time and the image digests.
Json judged(const runguard::attest::ScanReport& r) {
  Json findings = Json::array();
  for (const auto& f : r.findings) findings.push_back(runguard::attest::finding_to_json(f));
  return {{"findings", findings}, {"finished", r.finished}, {"digests", r.image_digests}, {"format", r.format},
          {"scanner", r.scanner}, {"version", r.scanner_version}};
}

// Pruning must never change a judged report: every real Trivy and Grype report, bare and inside a
// cosign vuln/v1 statement, normalises the same through the pruned fast reader as through nlohmann.
TEST(FastJson, PruningNeverChangesAJudgedReport) {
  RG_REQUIRE_CORPORA();
  int checked = 0;
  for (const char* dir : {"trivy", "grype"}) {
    for (const auto& e : std::filesystem::directory_iterator(rgattest::corpora_dir() + "/" + dir)) {
      std::string text = rgattest::read_all(e.path());
      Json j = nlohmann_parse(text);
      auto full = runguard::attest::report_from_json(j, e.path());
      if (!full.is_ok()) continue;  // not an image report the gate reads (checked in report_test)
      auto pruned = runguard::attest::report_from_payload("application/json", text, e.path());
      ASSERT_TRUE(pruned.is_ok()) << e.path() << ": " << pruned.status().message();
      EXPECT_EQ(judged(*pruned), judged(*full)) << e.path();

      Json st = rgattest::statement("sha256:" + std::string(64, 'a'), "https://cosign.sigstore.dev/attestation/vuln/v1",
                                    rgattest::cosign_vuln_predicate(j, "2026-11-28T10:00:00Z", dir));
      auto in_statement = runguard::attest::report_from_payload("application/vnd.in-toto+json", runguard::dump_json(st), e.path());
      ASSERT_TRUE(in_statement.is_ok()) << e.path() << ": " << in_statement.status().message();
      EXPECT_EQ(judged(*in_statement)["findings"], judged(*full)["findings"]) << e.path();
      ++checked;
    }
  }
  EXPECT_GE(checked, 12);
}

}  // namespace
