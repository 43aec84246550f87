// The attestation gate in the create path (pipeline/src/attestation_gate.cc): which digest names
// the image (containerd, CRI-O's ImageRef, a trusted digest annotation) and which annotations are
// not believed; the verdicts the gate hands the policy (not required, digest unknown, a real
// store check with keys made by the openssl CLI); a node misconfiguration as kInvalidArgument (never opened); and
// the persistent verdict cache (round trip, expiry, corruption, file memos, the size bound).
#include "../../pipeline/src/attestation_gate.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <fstream>
#include <string>

#include "../attest/attest_test_util.h"
#include "runguard/attest/keys.h"
#include "runguard/policy/engine.h"

namespace runguard::pipeline::internal {
namespace {

using policy::ContainerContext;
using Verdict = ContainerContext::Attestation;

const std::string kHex = "4b825dc642cb6eb9a060e54bf8d69288fbee4904d1a2c6e6a7c0a1b2c3d4e5f6";
const std::string kDigest = "sha256:" + kHex;
constexpr int64_t kNow = 1795946400;        // 2026-11-29T10:00:00Z
constexpr const char* kScanned = "2026-11-28T10:00:00Z";  // a day before

policy::Policy gate_policy(const std::vector<std::string>& keys = {"/etc/runguard/keys/ci.pub"}) {
  policy::Policy p;
  p.source = "/etc/runguard/policy.yaml";
  p.attestation.present = true;
  p.attestation.keys = keys;
  return p;
}

ContainerContext with_engine(const std::string& engine, std::map<std::string, std::string> annotations = {}) {
  ContainerContext c;
  c.id = "c1";
  c.engine = engine;
  c.container_type = "container";
  c.image = "registry.example/app:1";
  c.annotations = std::move(annotations);
  return c;
}

// --- identity ---

TEST(AttestationIdentity, ImageRefForms) {
  EXPECT_EQ(digest_from_image_ref(kHex), kDigest);
  EXPECT_EQ(digest_from_image_ref(kDigest), kDigest);
  EXPECT_FALSE(digest_from_image_ref(""));
  EXPECT_FALSE(digest_from_image_ref(kHex.substr(1)));
  EXPECT_FALSE(digest_from_image_ref("sha512:" + kHex));
  EXPECT_FALSE(digest_from_image_ref("SHA256:" + kHex));
  std::string upper = kHex;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_FALSE(digest_from_image_ref(upper));
  EXPECT_FALSE(digest_from_image_ref("registry.example/app@" + kDigest));
}

TEST(AttestationIdentity, ContainerdDigestIsKept) {
  policy::Policy p = gate_policy();
  p.trusted_annotations = {"runguard.dev/image-digest"};
  ContainerContext c = with_engine("containerd-cri", {{"runguard.dev/image-digest", "sha256:" + std::string(64, 'b')}});
  c.image_digest = kDigest;
  c.image_digest_source = "containerd";
  DigestSearch s = digest_from_annotations(p, c, "");
  EXPECT_TRUE(s.failures.empty());
  EXPECT_EQ(c.image_digest, kDigest) << "an annotation never overrides containerd's answer";
  EXPECT_EQ(c.image_digest_source, "containerd");
}

TEST(AttestationIdentity, CriOImageRef) {
  policy::Policy p = gate_policy();
  for (const std::string& value : {kHex, kDigest}) {
    ContainerContext c = with_engine("cri-o", {{"io.kubernetes.cri-o.ImageRef", value}});
    DigestSearch s = digest_from_annotations(p, c, "");
    EXPECT_EQ(c.image_digest, kDigest) << value;
    EXPECT_EQ(c.image_digest_source, "annotation:io.kubernetes.cri-o.ImageRef");
    EXPECT_TRUE(s.failures.empty());
  }
  ContainerContext bad = with_engine("cri-o", {{"io.kubernetes.cri-o.ImageRef", "not-a-digest\n"}});
  DigestSearch s = digest_from_annotations(p, bad, "");
  EXPECT_EQ(bad.image_digest, "");
  ASSERT_EQ(s.failures.size(), 2u);
  EXPECT_EQ(s.failures[0], "annotation io.kubernetes.cri-o.ImageRef: \"not-a-digest?\" is not an image id (64 hex digits)");
  EXPECT_EQ(s.failures[1], "annotation runguard.dev/image-digest: absent");
}

// Only CRI-O sets ImageRef: on any other engine whoever wrote the spec wrote it.
TEST(AttestationIdentity, CriOImageRefIgnoredForOtherEngines) {
  policy::Policy p = gate_policy();
  for (const char* engine : {"podman", "unknown", "containerd"}) {
    ContainerContext c = with_engine(engine, {{"io.kubernetes.cri-o.ImageRef", kHex}});
    DigestSearch s = digest_from_annotations(p, c, "containerd socket /x does not exist");
    EXPECT_EQ(c.image_digest, "") << engine;
    EXPECT_FALSE(s.failures.empty());
  }
}

TEST(AttestationIdentity, DigestAnnotationOnlyWhenTrusted) {
  policy::Policy p = gate_policy();
  ContainerContext untrusted = with_engine("podman", {{"runguard.dev/image-digest", kDigest}});
  DigestSearch s = digest_from_annotations(p, untrusted, "");
  EXPECT_EQ(untrusted.image_digest, "");
  EXPECT_TRUE(s.untrusted_annotation);
  EXPECT_EQ(s.failures, (std::vector<std::string>{"engine podman names no image digest",
                                                  "annotation runguard.dev/image-digest: ignored, not listed in trustedAnnotations"}));

  p.trusted_annotations = {"runguard.dev/image-digest"};
  ContainerContext trusted = with_engine("podman", {{"runguard.dev/image-digest", kDigest}});
  s = digest_from_annotations(p, trusted, "");
  EXPECT_EQ(trusted.image_digest, kDigest);
  EXPECT_EQ(trusted.image_digest_source, "annotation:runguard.dev/image-digest");
  EXPECT_FALSE(s.untrusted_annotation);

  ContainerContext malformed = with_engine("podman", {{"runguard.dev/image-digest", "sha256:abc"}});
  s = digest_from_annotations(p, malformed, "");
  EXPECT_EQ(malformed.image_digest, "");
  EXPECT_EQ(s.failures.back(), "annotation runguard.dev/image-digest: \"sha256:abc\" is not an image digest (sha256:<64 hex>)");
}

TEST(AttestationIdentity, CustomDigestAnnotationAfterContainerdFailed) {
  policy::Policy p = gate_policy();
  p.attestation.digest_annotation = "example.com/digest";
  p.trusted_annotations = {"example.com/digest"};
  ContainerContext c = with_engine("containerd", {{"runguard.dev/image-digest", "sha256:" + std::string(64, 'c')},
                                                  {"example.com/digest", kDigest}});
  DigestSearch s = digest_from_annotations(p, c, "agent timed out");
  EXPECT_EQ(c.image_digest, kDigest);
  EXPECT_EQ(c.image_digest_source, "annotation:example.com/digest");
  EXPECT_TRUE(s.failures.empty());
}

// --- the gate without a store check (no keys needed) ---

TEST(AttestationGate, OffLeavesNoVerdict) {
  policy::Policy p = gate_policy({});
  ContainerContext c = with_engine("podman");
  ASSERT_TRUE(run_attestation_gate(p, c, {}, kNow, nullptr, nullptr).is_ok());
  EXPECT_FALSE(c.attestation.has_value());
  policy::Policy none;
  ASSERT_TRUE(gate_container(none, c, "", nullptr).is_ok());
  EXPECT_FALSE(c.attestation.has_value());
}

TEST(AttestationGate, DigestUnknownFailsWithEverySourceNamed) {
  policy::Policy p = gate_policy();
  ContainerContext c = with_engine("containerd-cri", {{"runguard.dev/image-digest", kDigest}});
  std::vector<std::string> warnings;
  DigestSearch s = digest_from_annotations(p, c, "runguardctl helper: container c1 not found");
  ASSERT_TRUE(run_attestation_gate(p, c, s, kNow, nullptr, &warnings).is_ok());
  ASSERT_TRUE(c.attestation.has_value());
  const Verdict& v = *c.attestation;
  EXPECT_TRUE(v.required);
  EXPECT_FALSE(v.passed);
  EXPECT_EQ(v.summary,
            "image digest unknown (containerd: runguardctl helper: container c1 not found; annotation runguard.dev/image-digest: "
            "ignored, not listed in trustedAnnotations); cannot check its scan attestation");
  EXPECT_EQ(v.detail["passed"], false);
  EXPECT_EQ(v.detail["verified"], false);
  EXPECT_EQ(v.detail["reasons"][0], v.summary);
  EXPECT_TRUE(v.detail["findings"]["blocking"].is_array());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("annotation runguard.dev/image-digest ignored: it is not listed in trustedAnnotations"), std::string::npos)
      << warnings[0];

  // The policy turns it into the denial users see.
  policy::Decision d = policy::evaluate_spec(p, Json{{"process", {{"args", {"sh"}}}}}, c);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.denial_summary().find("image registry.example/app:1@(digest unknown): scan attestation check failed: image digest unknown ("),
            std::string::npos)
      << d.denial_summary();
}

TEST(AttestationGate, NotRequiredImagesAndSandboxes) {
  policy::Policy p = gate_policy();
  p.attestation.require_images = {"registry.example/prod/*"};
  ContainerContext c = with_engine("podman");
  ASSERT_TRUE(run_attestation_gate(p, c, {}, kNow, nullptr, nullptr).is_ok());
  ASSERT_TRUE(c.attestation.has_value());
  EXPECT_FALSE(c.attestation->required);
  EXPECT_EQ(policy::attestation_gate_state(p, c)["reason"], "image not selected by attestation.requireFor");

  policy::Policy all = gate_policy();
  ContainerContext sandbox = with_engine("containerd-cri");
  sandbox.container_type = "sandbox";
  ASSERT_TRUE(run_attestation_gate(all, sandbox, {}, kNow, nullptr, nullptr).is_ok());
  ASSERT_TRUE(sandbox.attestation.has_value());
  EXPECT_FALSE(sandbox.attestation->required) << "pause containers only with requireFor.sandboxes";
}

// Review finding: an audit rollout (attestation.action: audit, or mode: audit) with a mistyped
// key path refused every container; it now records a failed verdict and refuses nothing.
TEST(AttestationGate, MissingKeyFileUnderAuditIsAFailedVerdictNotARefusal) {
  for (bool gate_audit : {true, false}) {
    policy::Policy p = gate_policy({"/nonexistent/runguard-test/ci.pub"});
    if (gate_audit) p.attestation.action = policy::AttestationSettings::GateAction::kAudit;
    else p.mode = policy::Mode::kAudit;
    ContainerContext c = with_engine("podman");
    c.image_digest = kDigest;
    std::vector<std::string> warnings;
    Status s = run_attestation_gate(p, c, {}, kNow, nullptr, &warnings);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    ASSERT_TRUE(c.attestation.has_value());
    EXPECT_TRUE(c.attestation->required);
    EXPECT_FALSE(c.attestation->passed);
    EXPECT_NE(c.attestation->summary.find("/nonexistent/runguard-test/ci.pub"), std::string::npos) << c.attestation->summary;
    ASSERT_EQ(warnings.size(), 1u);
  }
}

TEST(AttestationGate, MissingKeyFileIsRefusedAndNamesIt) {
  policy::Policy p = gate_policy({"/nonexistent/runguard-test/ci.pub"});
  ContainerContext c = with_engine("podman");
  c.image_digest = kDigest;
  Status s = run_attestation_gate(p, c, {}, kNow, nullptr, nullptr);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("/nonexistent/runguard-test/ci.pub"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().rfind("attestation gate: ", 0), 0u) << s.message();
}

// --- the gate against a real store ---

class AttestationStore : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = tmp_.file("store");
    std::filesystem::create_directories(store_ + "/sha256/" + kHex);
    key_ = &rgattest::test_key(rgattest::Kind::kP256);
  }
  void put(const std::string& name, const std::vector<rgattest::Vuln>& vulns, const std::string& digest = kDigest) {
    Json st = rgattest::statement(digest, "https://cosign.sigstore.dev/attestation/vuln/v1",
                                  rgattest::cosign_vuln_predicate(rgattest::trivy_report(vulns, kScanned), kScanned));
    Json env = rgattest::dsse_envelope("application/vnd.in-toto+json", st.dump(), {key_});
    rgattest::write_all(store_ + "/sha256/" + kHex + "/" + name, env.dump());
  }
  policy::Policy policy() {
    policy::Policy p = gate_policy({key_->public_pem});
    p.attestation.store = store_;
    p.lib_dir = tmp_.file("lib");
    return p;
  }
  rgattest::TempDir tmp_;
  std::string store_;
  const rgattest::TestKey* key_ = nullptr;
};

TEST_F(AttestationStore, PassingAttestationPasses) {
  put("scan.json", {{"CVE-2024-0001", "zlib", "LOW", "1.0.1"}});
  ContainerContext c = with_engine("podman");
  c.image_digest = kDigest;
  DirectoryVerdictCache cache(tmp_.file("cache"));
  ASSERT_TRUE(cache.prepare().is_ok());
  ASSERT_TRUE(run_attestation_gate(policy(), c, {}, kNow, &cache, nullptr).is_ok());
  ASSERT_TRUE(c.attestation.has_value());
  EXPECT_TRUE(c.attestation->required);
  EXPECT_TRUE(c.attestation->passed) << c.attestation->summary << "\n" << c.attestation->detail.dump(2);
  EXPECT_EQ(c.attestation->detail["verified"], true);
  // The second container of the image: the same verdict, from the cache.
  ContainerContext again = with_engine("podman");
  again.image_digest = kDigest;
  ASSERT_TRUE(run_attestation_gate(policy(), again, {}, kNow, &cache, nullptr).is_ok());
  ASSERT_TRUE(again.attestation.has_value());
  EXPECT_TRUE(again.attestation->passed);
  EXPECT_EQ(again.attestation->summary, c.attestation->summary);
}

TEST_F(AttestationStore, CriticalFixableFindingFails) {
  put("scan.json", {{"CVE-2024-9999", "openssl", "CRITICAL", "3.0.2"}});
  ContainerContext c = with_engine("podman");
  c.image_digest = kDigest;
  ASSERT_TRUE(run_attestation_gate(policy(), c, {}, kNow, nullptr, nullptr).is_ok());
  ASSERT_TRUE(c.attestation.has_value());
  EXPECT_FALSE(c.attestation->passed);
  EXPECT_NE(c.attestation->summary.find("CVE-2024-9999"), std::string::npos) << c.attestation->summary;
}

TEST_F(AttestationStore, NoAttestationFails) {
  ContainerContext c = with_engine("podman");
  c.image_digest = "sha256:" + std::string(64, 'e');
  ASSERT_TRUE(run_attestation_gate(policy(), c, {}, kNow, nullptr, nullptr).is_ok());
  ASSERT_TRUE(c.attestation.has_value());
  EXPECT_FALSE(c.attestation->passed);
  EXPECT_NE(c.attestation->summary.find("no attestation for sha256:" + std::string(64, 'e')), std::string::npos)
      << c.attestation->summary;
}

// gate_container: the annotations, the wall clock, the cache under <libDir>/attest-cache.
TEST_F(AttestationStore, GateContainerUsesTheLibDirCache) {
  put("scan.json", {});
  policy::Policy p = policy();
  p.trusted_annotations = {"runguard.dev/image-digest"};
  ContainerContext c = with_engine("podman", {{"runguard.dev/image-digest", kDigest}});
  std::vector<std::string> warnings;
  ASSERT_TRUE(gate_container(p, c, "", &warnings).is_ok());
  EXPECT_EQ(c.image_digest_source, "annotation:runguard.dev/image-digest");
  ASSERT_TRUE(c.attestation.has_value());
  // The scan is from 2026-11-28; a wall clock far past maxAge fails it on age, before it passes it.
  EXPECT_TRUE(c.attestation->required);
  struct stat st {};
  ASSERT_EQ(::stat((p.lib_dir + "/attest-cache").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

// --- DirectoryVerdictCache ---

class VerdictCacheTest : public ::testing::Test {
 protected:
  attest::GateResult result(bool passed, int64_t valid_until) {
    attest::GateResult r;
    r.verified = true;
    r.passed = passed;
    r.summary = passed ? "passed: signed by 1 trusted key(s)" : "1 finding(s) above the severity ceiling";
    r.detail = {{"attestation", "/store/sha256/x/scan.json"}, {"passed", passed}, {"reasons", {r.summary}}};
    r.valid_until_s = valid_until;
    return r;
  }
  std::vector<std::string> files() {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir())) out.push_back(e.path().string());
    return out;
  }
  std::string dir() { return tmp_.file("cache"); }
  rgattest::TempDir tmp_;
};

TEST_F(VerdictCacheTest, RoundTripAndExpiry) {
  DirectoryVerdictCache c(dir());
  ASSERT_TRUE(c.prepare().is_ok());
  EXPECT_FALSE(c.get("k1", kNow));
  c.put("k1", result(true, kNow + 60));
  auto got = c.get("k1", kNow);
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->passed);
  EXPECT_TRUE(got->verified);
  EXPECT_EQ(got->summary, "passed: signed by 1 trusted key(s)");
  EXPECT_EQ(got->detail, (Json{{"attestation", "/store/sha256/x/scan.json"}, {"passed", true}, {"reasons", {"passed: signed by 1 trusted key(s)"}}}));
  EXPECT_EQ(got->valid_until_s, kNow + 60);
  // Another process sees it (it is on disk).
  DirectoryVerdictCache other(dir());
  ASSERT_TRUE(other.prepare().is_ok());
  EXPECT_TRUE(other.get("k1", kNow + 59).has_value());
  EXPECT_FALSE(other.get("k1", kNow + 60)) << "never outlives valid_until";
  EXPECT_FALSE(c.get("k1", kNow)) << "the expired file is gone";
  EXPECT_FALSE(c.get("k2", kNow));
}

TEST_F(VerdictCacheTest, PermissionsAreTheRuntimesOnly) {
  std::filesystem::create_directories(dir());
  ::chmod(dir().c_str(), 0755);
  DirectoryVerdictCache c(dir());
  ASSERT_TRUE(c.prepare().is_ok());
  c.put("k", result(true, kNow + 60));
  struct stat st {};
  ASSERT_EQ(::stat(dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  for (const auto& f : files()) {
    ASSERT_EQ(::stat(f.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u) << f;
  }
}

TEST_F(VerdictCacheTest, CorruptOrForeignFilesAreMisses) {
  DirectoryVerdictCache c(dir());
  ASSERT_TRUE(c.prepare().is_ok());
  c.put("k", result(true, kNow + 60));
  auto f = files();
  ASSERT_EQ(f.size(), 1u);
  const std::vector<std::string> bad = {
      "",
      "{\"version\":1,\"key\":\"k\",\"passed\":tr",
      "[1,2]",
      "{\"version\":2,\"key\":\"k\",\"passed\":true,\"verified\":true,\"summary\":\"s\",\"validUntil\":9999999999}",
      "{\"version\":1,\"key\":\"other\",\"passed\":true,\"verified\":true,\"summary\":\"s\",\"validUntil\":9999999999}",
      "{\"version\":1,\"key\":\"k\",\"passed\":\"yes\",\"verified\":true,\"summary\":\"s\",\"validUntil\":9999999999}",
      "{\"version\":1,\"key\":\"k\",\"passed\":true,\"verified\":true,\"summary\":\"s\",\"validUntil\":\"later\"}",
      "{\"version\":1,\"key\":\"k\",\"passed\":true,\"verified\":true,\"validUntil\":9999999999}",
      // review finding: a detail the store cannot read back (null, not an object, no "attestation")
      "{\"version\":1,\"key\":\"k\",\"passed\":true,\"verified\":true,\"summary\":\"s\",\"validUntil\":9999999999,\"detail\":null}",
      "{\"version\":1,\"key\":\"k\",\"passed\":true,\"verified\":true,\"summary\":\"s\",\"validUntil\":9999999999,\"detail\":[1]}",
      "{\"version\":1,\"key\":\"k\",\"passed\":true,\"verified\":true,\"summary\":\"s\",\"validUntil\":9999999999,\"detail\":{}}",
  };
  for (const auto& content : bad) {
    rgattest::write_all(f[0], content);
    EXPECT_FALSE(c.get("k", kNow)) << content;
  }
  // A miss is healed by the next put.
  c.put("k", result(false, kNow + 60));
  auto got = c.get("k", kNow);
  ASSERT_TRUE(got.has_value());
  EXPECT_FALSE(got->passed);
}

TEST_F(VerdictCacheTest, FileMemos) {
  DirectoryVerdictCache c(dir());
  ASSERT_TRUE(c.prepare().is_ok());
  attest::FileIdentity id{1, 2, 3, 4, 5};
  const std::string path = "/var/lib/runguard/attestations/sha256/" + kHex + "/a.json";
  EXPECT_FALSE(c.file_digest(path, id));
  c.remember_file(path, id, kDigest);
  EXPECT_EQ(c.file_digest(path, id), kDigest);
  attest::FileIdentity changed = id;
  changed.mtime_ns = 6;
  EXPECT_FALSE(c.file_digest(path, changed)) << "a rewritten file is read again";
  EXPECT_FALSE(c.file_digest(path + ".other", id));
  // A corrupt memo is a miss.
  for (const auto& f : files()) rgattest::write_all(f, "{\"version\":1,\"path\":\"" + path + "\",\"digest\":\"" + kDigest + "\"}");
  EXPECT_FALSE(c.file_digest(path, id));
}

TEST_F(VerdictCacheTest, BoundedByPruningTheOldest) {
  DirectoryVerdictCache c(dir(), 16);
  ASSERT_TRUE(c.prepare().is_ok());
  // File times tick coarsely: give each new file its own second, in put order.
  std::set<std::string> seen;
  auto base = std::filesystem::file_time_type::clock::now() - std::chrono::hours(1);
  for (int i = 0; i < 40; ++i) {
    c.put("key-" + std::to_string(i), result(true, kNow + 600));
    for (const auto& f : files()) {
      if (seen.insert(f).second) std::filesystem::last_write_time(f, base + std::chrono::seconds(i));
    }
    EXPECT_LE(files().size(), 16u) << "after put " << i;
  }
  EXPECT_TRUE(c.get("key-39", kNow).has_value()) << "the newest stays";
  EXPECT_FALSE(c.get("key-0", kNow).has_value()) << "the oldest went";
}

TEST_F(VerdictCacheTest, UnpreparedCacheMissesAndDropsQuietly) {
  rgattest::write_all(tmp_.file("file"), "x");
  DirectoryVerdictCache c(tmp_.file("file") + "/cache");  // below a regular file: cannot be created
  EXPECT_FALSE(c.prepare().is_ok());
  c.put("k", result(true, kNow + 60));
  EXPECT_FALSE(c.get("k", kNow));
  c.remember_file("/x", {}, kDigest);
  EXPECT_FALSE(c.file_digest("/x", {}));
}

TEST_F(VerdictCacheTest, RefusesADirectoryOfAnotherUserOrASymlink) {
  std::filesystem::create_directories(tmp_.file("real"));
  std::filesystem::create_directory_symlink(tmp_.file("real"), dir());
  DirectoryVerdictCache c(dir());
  Status s = c.prepare();
  EXPECT_FALSE(s.is_ok());
}

}  // namespace
}  // namespace runguard::pipeline::internal
