// check_store (latest verified scan decides) and the verdict cache: hits read no attestation
// bytes, entries expire at valid_until_s, the cache is bounded.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "attest_test_util.h"
#include "gate_test_util.h"
#include "runguard/attest/gate.h"
#include "runguard/attest/limits.h"

namespace runguard::attest {
namespace {

using namespace rgattest;

// A MemoryVerdictCache that counts what the gate asks of it. remember_file is called only after a
// store file was read, so its count is the number of attestation files read.
class CountingCache final : public VerdictCache {
 public:
  std::optional<GateResult> get(const std::string& key, int64_t now_s) override {
    ++gets;
    auto r = inner.get(key, now_s);
    hits += r.has_value();
    return r;
  }
  void put(const std::string& key, const GateResult& r) override {
    ++puts;
    inner.put(key, r);
  }
  std::optional<std::string> file_digest(const std::string& path, const FileIdentity& id) override { return inner.file_digest(path, id); }
  void remember_file(const std::string& path, const FileIdentity& id, const std::string& digest) override {
    ++files_read;
    inner.remember_file(path, id, digest);
  }
  MemoryVerdictCache inner;
  int gets = 0, hits = 0, puts = 0, files_read = 0;
};

struct StoreFixture : GateFixture {
  TempDir store;
  std::string dir() const { return store.path() + "/sha256/" + image.digest.substr(7); }
  std::string put(const std::string& name, const std::string& bytes) {
    std::filesystem::create_directories(dir());
    write_all(dir() + "/" + name, bytes);
    return dir() + "/" + name;
  }
};

TEST(Store, NewerFailingScanBeatsOlderPassingOne) {
  StoreFixture fx;
  // Names sort the other way round: the scan time decides, not the file name.
  fx.put("b-old.json", fx.cosign_attestation(trivy_report({}), "2026-11-27T10:00:00Z"));
  std::string newer = fx.put("a-new.json", fx.cosign_attestation(trivy_report({{"CVE-2026-1", "openssl", "CRITICAL", "3.2"}}), "2026-11-28T10:00:00Z"));
  GateResult r = check_store(fx.setup(), fx.store.path(), fx.image, fx.now);
  EXPECT_TRUE(r.verified);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.detail["attestation"], newer);
  EXPECT_NE(r.summary.find("CVE-2026-1 (CRITICAL, fixable: openssl 1.0.0 -> 3.2)"), std::string::npos) << r.summary;
  ASSERT_EQ(r.detail["considered"].size(), 2u);
  EXPECT_EQ(r.detail["considered"][0]["file"], newer);
  EXPECT_EQ(r.detail["considered"][1]["reason"].get<std::string>().rfind("passed: ", 0), 0u);
}

TEST(Store, NewerPassingScanBeatsOlderFailingOneAndBadFilesAreListed) {
  StoreFixture fx;
  fx.put("1.json", fx.cosign_attestation(trivy_report({{"CVE-2026-1", "openssl", "CRITICAL", "3.2"}}), "2026-11-27T10:00:00Z"));
  fx.put("2.json", fx.cosign_attestation(trivy_report({}), "2026-11-28T11:00:00Z"));
  fx.put("3.json", fx.cosign_attestation(trivy_report({}), "2026-11-28T11:30:00Z", "sha256:" + std::string(64, 'e')));  // another image, newer
  fx.put("4.json", "not json");
  fx.put("notes.txt", "ignored: not *.json");
  GateResult r = check_store(fx.setup(), fx.store.path(), fx.image, fx.now);
  EXPECT_TRUE(r.passed) << r.summary;
  EXPECT_EQ(r.detail["attestation"], fx.dir() + "/2.json");
  ASSERT_EQ(r.detail["considered"].size(), 4u);
  EXPECT_FALSE(r.detail["considered"][2]["verified"]);
  EXPECT_NE(r.detail["considered"][2]["reason"].get<std::string>().find("signed for another image"), std::string::npos);
  EXPECT_FALSE(r.detail["considered"][3]["verified"]);
}

// Review finding: keeping the first 64 files by name let copies of an old passing scan push a
// newer failing one ("z-…") out of the window. More than the limit now fails the image.
TEST(Store, MoreFilesThanTheLimitFailsClosed) {
  StoreFixture fx;
  std::string passing = fx.cosign_attestation(trivy_report({}), "2026-11-27T10:00:00Z");
  for (size_t i = 0; i < runguard::attest::kMaxStoreFiles; ++i) fx.put("a-" + std::to_string(1000 + i) + ".json", passing);
  GateResult r = check_store(fx.setup(), fx.store.path(), fx.image, fx.now);
  EXPECT_TRUE(r.passed) << r.summary;  // exactly the limit: every file read
  fx.put("z-newest.json", fx.cosign_attestation(trivy_report({{"CVE-2026-1", "openssl", "CRITICAL", "3.2"}}), "2026-11-28T10:00:00Z"));
  r = check_store(fx.setup(), fx.store.path(), fx.image, fx.now);
  EXPECT_FALSE(r.passed);
  EXPECT_NE(r.summary.find("more than 64 attestation files"), std::string::npos) << r.summary;
}

TEST(Store, MissingEmptyAndNothingVerifying) {
  StoreFixture fx;
  std::string want = "no attestation for " + fx.image.digest + " in " + fx.store.path();
  GateResult r = check_store(fx.setup(), fx.store.path(), fx.image, fx.now);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.summary, want);
  EXPECT_EQ(r.detail["reasons"][0], want);
  std::filesystem::create_directories(fx.dir());
  EXPECT_EQ(check_store(fx.setup(), fx.store.path(), fx.image, fx.now).summary, want);

  fx.put("a.json", fx.cosign_attestation(trivy_report({}), "2026-11-28T10:00:00Z", "", {&test_key(Kind::kP256, 1)}));
  r = check_store(fx.setup(), fx.store.path(), fx.image, fx.now);
  EXPECT_EQ(r.summary, fx.dir() + "/a.json: not signed by a trusted key");
  fx.put("b.json", "{}");
  r = check_store(fx.setup(), fx.store.path(), fx.image, fx.now);
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(r.summary, "none of the 2 attestations for " + fx.image.digest + " in " + fx.store.path() + " verified");
  ASSERT_EQ(r.detail["reasons"].size(), 3u);
  EXPECT_EQ(r.detail["reasons"][1], fx.dir() + "/a.json: not signed by a trusted key");
}

TEST(Store, Sha512DigestsAndMalformedDigests) {
  StoreFixture fx;
  fx.image.digest = "sha512:" + std::string(128, 'd');
  std::string d = fx.store.path() + "/sha512/" + std::string(128, 'd');
  std::filesystem::create_directories(d);
  Json st = statement("sha256:0", "https://cosign.sigstore.dev/attestation/vuln/v1", cosign_vuln_predicate(trivy_report({}), "2026-11-28T10:00:00Z"));
  st["subject"][0]["digest"] = {{"sha512", std::string(128, 'd')}};
  write_all(d + "/a.json", fx.signed_payload("application/vnd.in-toto+json", dump_json(st)));
  GateResult r = check_store(fx.setup(), fx.store.path(), fx.image, fx.now);
  EXPECT_TRUE(r.passed) << r.summary;

  fx.image.digest = "sha256:../../etc";
  r = check_store(fx.setup(), fx.store.path(), fx.image, fx.now);
  EXPECT_FALSE(r.passed);
  EXPECT_NE(r.summary.find("is not an image digest"), std::string::npos);
  fx.image.digest = "";
  EXPECT_NE(check_store(fx.setup(), fx.store.path(), fx.image, fx.now).summary.find("the image digest is unknown"), std::string::npos);
}

TEST(Cache, StoreHitReadsNoFileAndReturnsTheSameResult) {
  StoreFixture fx;
  std::string path = fx.put("a.json", fx.cosign_attestation(trivy_report({{"CVE-1", "zlib", "LOW", "1.1"}})));
  const GateSetup& g = fx.setup();
  CountingCache cache;
  GateResult first = check_store(g, fx.store.path(), fx.image, fx.now, &cache);
  ASSERT_TRUE(first.passed) << first.summary;
  EXPECT_EQ(cache.files_read, 1);
  EXPECT_EQ(cache.puts, 1);

  GateResult second = check_store(g, fx.store.path(), fx.image, fx.now + 60, &cache);
  EXPECT_EQ(cache.files_read, 1);  // identity unchanged: digest remembered, verdict reused
  EXPECT_EQ(cache.hits, 1);
  EXPECT_EQ(cache.puts, 1);
  EXPECT_EQ(second.passed, first.passed);
  EXPECT_EQ(second.summary, first.summary);
  EXPECT_EQ(second.detail, first.detail);

  // A replaced file has another identity: read again, and judged on its new content.
  write_all(path, fx.cosign_attestation(trivy_report({{"CVE-2", "openssl", "CRITICAL", "3.2"}})));
  GateResult third = check_store(g, fx.store.path(), fx.image, fx.now + 120, &cache);
  EXPECT_EQ(cache.files_read, 2);
  EXPECT_FALSE(third.passed);

  // Another policy (setup digest) does not reuse the verdict.
  fx.settings.max_fixable = VulnSeverity::kCritical;
  GateResult other_policy = check_store(fx.setup(), fx.store.path(), fx.image, fx.now + 180, &cache);
  EXPECT_TRUE(other_policy.passed) << other_policy.summary;
}

TEST(Cache, EntryExpiresWhenTheScanTurnsStale) {
  GateFixture fx;
  std::string att = fx.cosign_attestation(trivy_report({}));
  const GateSetup& g = fx.setup();
  MemoryVerdictCache cache;
  GateResult r = check_document(g, att, fx.image, fx.now, "a.json", &cache);
  ASSERT_TRUE(r.passed);
  int64_t stale = *parse_rfc3339("2026-11-28T10:00:00Z") + 168 * 3600 + 1;
  EXPECT_EQ(r.valid_until_s, stale);
  std::string key = verdict_cache_key(sha256_digest(att), g, fx.image);
  EXPECT_TRUE(cache.get(key, stale - 1).has_value());
  GateResult later = check_document(g, att, fx.image, stale, "a.json", &cache);
  EXPECT_FALSE(later.passed);
  EXPECT_EQ(later.summary, "scan finished 168h0m1s ago, older than maxAge 168h0m0s");
}

TEST(Cache, EntryExpiresWithTheException) {
  GateFixture fx;
  std::string att = fx.cosign_attestation(trivy_report({{"CVE-9", "openssl", "CRITICAL", "3.2"}}));
  policy::AttestationException e;
  e.id = "CVE-9";
  e.until = "2026-11-29";
  e.until_s = *parse_rfc3339("2026-11-29T23:59:59Z");
  fx.settings.exceptions = {e};
  const GateSetup& g = fx.setup();
  MemoryVerdictCache cache;
  ASSERT_TRUE(check_document(g, att, fx.image, fx.now, "a.json", &cache).passed);
  EXPECT_TRUE(check_document(g, att, fx.image, *e.until_s, "a.json", &cache).passed);
  GateResult after = check_document(g, att, fx.image, *e.until_s + 1, "a.json", &cache);
  EXPECT_FALSE(after.passed);
  EXPECT_EQ(after.detail["expiredExceptions"].size(), 1u);
}

TEST(Cache, InputErrorsAreNotCached) {
  GateFixture fx;
  CountingCache cache;
  bool input_error = false;
  check_document(fx.setup(), "garbage", fx.image, fx.now, "g.json", &cache, &input_error);
  EXPECT_TRUE(input_error);
  EXPECT_EQ(cache.puts, 0);
}

TEST(MemoryVerdictCache, ExpiryBoundAndEviction) {
  MemoryVerdictCache cache(2);
  GateResult a, b, c;
  a.summary = "a";
  a.valid_until_s = 100;
  b.summary = "b";
  b.valid_until_s = 200;
  c.summary = "c";
  c.valid_until_s = 300;
  cache.put("a", a);
  cache.put("b", b);
  EXPECT_EQ(cache.get("a", 99)->summary, "a");
  EXPECT_FALSE(cache.get("a", 100).has_value());  // valid while now < valid_until_s
  cache.put("a", a);
  cache.put("c", c);  // full: the entry expiring first ("a") goes
  EXPECT_FALSE(cache.get("a", 0).has_value());
  EXPECT_TRUE(cache.get("b", 0).has_value());
  EXPECT_TRUE(cache.get("c", 0).has_value());

  FileIdentity id{1, 2, 3, 4, 5};
  cache.remember_file("/s/a.json", id, "sha256:aa");
  EXPECT_EQ(cache.file_digest("/s/a.json", id), "sha256:aa");
  FileIdentity touched = id;
  touched.mtime_ns = 6;
  EXPECT_FALSE(cache.file_digest("/s/a.json", touched).has_value());
  cache.remember_file("/s/b.json", id, "sha256:bb");
  cache.remember_file("/s/c.json", id, "sha256:cc");  // bounded too
  int remembered = cache.file_digest("/s/a.json", id).has_value() + cache.file_digest("/s/b.json", id).has_value() +
                   cache.file_digest("/s/c.json", id).has_value();
  EXPECT_EQ(remembered, 2);
}

TEST(MemoryVerdictCache, ConcurrentUse) {
  MemoryVerdictCache cache(64);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string key = std::to_string((i * 7 + t) % 100);
        GateResult r;
        r.summary = key;
        r.valid_until_s = 1000;
        cache.put(key, r);
        if (auto got = cache.get(key, 1); got && got->summary != key) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(Cache, KeyNamesDocumentSetupAndImage) {
  GateSetup g;
  g.digest = "sha256:setup";
  std::string k1 = verdict_cache_key("sha256:doc", g, ImageRef{"sha256:img", "a:1"});
  EXPECT_NE(k1, verdict_cache_key("sha256:doc", g, ImageRef{"sha256:img", "b:1"}));
  EXPECT_NE(k1, verdict_cache_key("sha256:doc2", g, ImageRef{"sha256:img", "a:1"}));
  g.digest = "sha256:other";
  EXPECT_NE(k1, verdict_cache_key("sha256:doc", g, ImageRef{"sha256:img", "a:1"}));
}

// Review finding: a signed scan of this image that cannot be read (here: a Trivy report whose
// findings are not a list) was skipped, and an older passing scan decided.
TEST(Store, UnreadableSignedScanOfTheImageFailsIt) {
  StoreFixture fx;
  fx.put("a-old.json", fx.cosign_attestation(trivy_report({}), "2026-11-27T10:00:00Z"));
  Json broken = trivy_report({});
  broken["Results"][0]["Vulnerabilities"] = "not a list";
  std::string file = fx.put("b-new.json", fx.cosign_attestation(broken, "2026-11-28T10:00:00Z"));
  GateResult r = check_store(fx.setup(), fx.store.path(), fx.image, fx.now);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.detail["attestation"], file) << r.detail.dump();
  // ... while a signed statement of another kind (an SBOM) in the directory is ignored
  std::filesystem::remove(file);
  Json sbom = rgattest::statement(fx.image.digest, "https://spdx.dev/Document", Json::object());
  fx.put("c-sbom.json", fx.signed_payload("application/vnd.in-toto+json", runguard::dump_json(sbom)));
  r = check_store(fx.setup(), fx.store.path(), fx.image, fx.now);
  EXPECT_TRUE(r.passed) << r.summary;
}

// Review finding: wrapping an old report in a freshly dated predicate made it fresh.
TEST(Store, ReportOlderThanItsPredicateIsJudgedByTheReportsTime) {
  StoreFixture fx;
  fx.put("a.json", fx.cosign_attestation(trivy_report({}, "2026-01-01T00:00:00Z"), "2026-11-28T10:00:00Z"));
  GateResult r = check_store(fx.setup(), fx.store.path(), fx.image, fx.now);
  EXPECT_FALSE(r.passed);
  EXPECT_NE(r.summary.find("older than maxAge"), std::string::npos) << r.summary;
}

// Review finding: a predicate without scanner.result (a CI job whose scanner failed) read as clean.
TEST(Store, PredicateWithoutAScanResultFails) {
  StoreFixture fx;
  fx.put("a.json", fx.cosign_attestation(nullptr, "2026-11-28T10:00:00Z"));
  GateResult r = check_store(fx.setup(), fx.store.path(), fx.image, fx.now);
  EXPECT_FALSE(r.passed);
  EXPECT_NE(r.summary.find("no scan result"), std::string::npos) << r.summary;
}


}  // namespace
}  // namespace runguard::attest
