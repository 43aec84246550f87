// Sigstore bundles: every accepted media type, the key hint, keyless and messageSignature bundles
// refused, and real bundles from sigstore-go and sigstore-conformance (../shared/corpora).
#include "runguard/attest/bundle.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "attest_test_util.h"
#include "runguard/attest/statement.h"
#include "runguard/attest/verify.h"
#include "runguard/common/base64.h"

namespace runguard::attest {
namespace {

using rgattest::Kind;
using rgattest::test_key;

constexpr char kInToto[] = "application/vnd.in-toto+json";
const std::string kPayload = R"({"_type":"https://in-toto.io/Statement/v1"})";

PublicKey load(Kind kind, int slot = 0) {
  auto k = PublicKey::from_file(test_key(kind, slot).public_pem);
  EXPECT_TRUE(k.is_ok()) << k.status().message();
  if (!k.is_ok()) std::abort();
  return *k;
}

// One signed bundle, built once (signing goes through the openssl CLI).
const Json& p256_bundle() {
  static const Json b = rgattest::sigstore_bundle(kInToto, kPayload, test_key(Kind::kP256));
  return b;
}

void expect_invalid(const Json& j, const std::string& part) {
  auto r = parse_bundle(j, "b.json");
  ASSERT_FALSE(r.is_ok()) << j.dump();
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().message().rfind("b.json: ", 0), 0u) << r.status().message();
  EXPECT_NE(r.status().message().find(part), std::string::npos) << r.status().message();
}

TEST(IsSigstoreBundle, ByMediaType) {
  EXPECT_TRUE(is_sigstore_bundle(p256_bundle()));
  EXPECT_TRUE(is_sigstore_bundle({{"mediaType", "application/vnd.dev.sigstore.bundle+json;version=9"}}));
  EXPECT_FALSE(is_sigstore_bundle(rgattest::dsse_envelope(kInToto, "x", {})));
  EXPECT_FALSE(is_sigstore_bundle({{"mediaType", "application/json"}}));
  EXPECT_FALSE(is_sigstore_bundle({{"mediaType", 3}}));
  EXPECT_FALSE(is_sigstore_bundle(Json::array()));
  EXPECT_FALSE(is_sigstore_bundle("application/vnd.dev.sigstore.bundle.v0.3+json"));
}

struct MediaCase {
  const char* media_type;
  const char* version;
};

class BundleVersions : public ::testing::TestWithParam<MediaCase> {};

TEST_P(BundleVersions, ParseAndVerify) {
  Json b = p256_bundle();
  b["mediaType"] = GetParam().media_type;
  auto parsed = parse_bundle(b, "b.json");
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().message();
  EXPECT_EQ(parsed->version, GetParam().version);
  EXPECT_EQ(parsed->media_type, GetParam().media_type);
  EXPECT_EQ(parsed->public_key_hint, load(Kind::kP256).hint());
  EXPECT_EQ(parsed->tlog_entries, 0u);
  EXPECT_EQ(parsed->envelope.payload, kPayload);
  ASSERT_EQ(parsed->envelope.signatures.size(), 1u);

  auto v = KeyVerifier({load(Kind::kP384), load(Kind::kP256)}, 1).verify(b.dump(), "b.json");
  ASSERT_TRUE(v.is_ok()) << v.status().message();
  EXPECT_EQ(v->format, std::string("sigstore-bundle/") + GetParam().version);
  EXPECT_EQ(v->payload, kPayload);
  EXPECT_EQ(v->payload_type, kInToto);
  ASSERT_EQ(v->signers.size(), 1u);
  EXPECT_EQ(v->signers[0].id, load(Kind::kP256).id());
}

INSTANTIATE_TEST_SUITE_P(MediaTypes, BundleVersions,
                         ::testing::Values(MediaCase{"application/vnd.dev.sigstore.bundle+json;version=0.1", "0.1"},
                                           MediaCase{"application/vnd.dev.sigstore.bundle+json;version=0.2", "0.2"},
                                           MediaCase{"application/vnd.dev.sigstore.bundle+json;version=0.3", "0.3"},
                                           MediaCase{"application/vnd.dev.sigstore.bundle.v0.3+json", "0.3"}));

TEST(ParseBundle, UnknownVersionRefused) {
  for (const char* mt : {"application/vnd.dev.sigstore.bundle+json;version=0.4", "application/vnd.dev.sigstore.bundle.v0.4+json",
                         "application/vnd.dev.sigstore.bundle+json"}) {
    Json b = p256_bundle();
    b["mediaType"] = mt;
    expect_invalid(b, std::string("unknown sigstore bundle mediaType \"") + mt + "\"");
    // Through the verifier too: kInvalidArgument, not a signature verdict.
    auto v = KeyVerifier({load(Kind::kP256)}, 1).verify(b.dump(), "b.json");
    ASSERT_FALSE(v.is_ok());
    EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
  }
}

TEST(ParseBundle, HintMustMatchKeyid) {
  Json b = p256_bundle();
  b["verificationMaterial"]["publicKey"]["hint"] = load(Kind::kP256, 1).hint();
  expect_invalid(b, "does not match verificationMaterial.publicKey.hint");
  // Either one empty: nothing to compare (the hint is opaque; trust comes from the key).
  Json no_keyid = p256_bundle();
  no_keyid["dsseEnvelope"]["signatures"][0]["keyid"] = "";
  EXPECT_TRUE(parse_bundle(no_keyid, "b.json").is_ok());
  Json no_hint = p256_bundle();
  no_hint["verificationMaterial"]["publicKey"] = Json::object();
  auto r = parse_bundle(no_hint, "b.json");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->public_key_hint, "");
  // A matching but foreign hint does not make a foreign key trusted.
  auto v = KeyVerifier({load(Kind::kP256, 1)}, 1).verify(p256_bundle().dump(), "b.json");
  ASSERT_FALSE(v.is_ok());
  EXPECT_EQ(v.status().code(), Code::kDenied);
}

TEST(ParseBundle, KeylessRefused) {
  const std::string expected =
      "keyless verification (a Fulcio certificate) is not supported yet: sign the attestation with a key listed in "
      "attestation.keys";
  Json cert = p256_bundle();
  cert["verificationMaterial"].erase("publicKey");
  cert["verificationMaterial"]["certificate"] = {{"rawBytes", "MIIB"}};
  expect_invalid(cert, expected);
  Json chain = p256_bundle();
  chain["verificationMaterial"].erase("publicKey");
  chain["verificationMaterial"]["x509CertificateChain"] = {{"certificates", Json::array({{{"rawBytes", "MIIB"}}})}};
  expect_invalid(chain, expected);
  // Through the verifier: kInvalidArgument even though the signature would verify with the key.
  auto v = KeyVerifier({load(Kind::kP256)}, 1).verify(cert.dump(), "b.json");
  ASSERT_FALSE(v.is_ok());
  EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
  EXPECT_NE(v.status().message().find(expected), std::string::npos);
}

TEST(ParseBundle, MessageSignatureIsNotAnAttestation) {
  Json b = p256_bundle();
  b.erase("dsseEnvelope");
  b["messageSignature"] = {{"messageDigest", {{"algorithm", "SHA2_256"}, {"digest", "AAAA"}}}, {"signature", "AAAA"}};
  expect_invalid(b, "not an attestation");
}

TEST(ParseBundle, StructureErrors) {
  Json b = p256_bundle();
  b.erase("verificationMaterial");
  expect_invalid(b, "verificationMaterial: missing");
  b = p256_bundle();
  b["verificationMaterial"] = "key";
  expect_invalid(b, "verificationMaterial: must be an object, not string");
  b = p256_bundle();
  b["verificationMaterial"].erase("publicKey");
  expect_invalid(b, "verificationMaterial.publicKey: missing");
  b = p256_bundle();
  b["verificationMaterial"]["publicKey"]["hint"] = 1;
  expect_invalid(b, "publicKey.hint: must be a string");
  b = p256_bundle();
  b["verificationMaterial"]["tlogEntries"] = Json::object();
  expect_invalid(b, "tlogEntries: must be an array");
  b = p256_bundle();
  b.erase("dsseEnvelope");
  expect_invalid(b, "dsseEnvelope: missing");
  b = p256_bundle();
  b["dsseEnvelope"].erase("payloadType");
  expect_invalid(b, "b.json: dsseEnvelope: payloadType: missing");
  b = p256_bundle();
  b["dsseEnvelope"]["signatures"][0]["sig"] = "@@@@";
  expect_invalid(b, "dsseEnvelope: signatures[0].sig: not valid base64");
  expect_invalid(Json::array(), "must be a JSON object");
}

TEST(ParseBundle, ExactlyOneSignature) {
  Json b = p256_bundle();
  b["dsseEnvelope"]["signatures"].push_back(b["dsseEnvelope"]["signatures"][0]);
  expect_invalid(b, "has 2 signatures; a sigstore bundle carries exactly one");
  b["dsseEnvelope"]["signatures"] = Json::array();
  expect_invalid(b, "has 0 signatures");
}

TEST(ParseBundle, CountsTlogEntries) {
  Json b = p256_bundle();
  b["verificationMaterial"]["tlogEntries"] = Json::array({{{"logIndex", "1"}}, {{"logIndex", "2"}}});
  auto r = parse_bundle(b, "b.json");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->tlog_entries, 2u);
}

// --- real bundles ---

TEST(BundleCorpus, SigstoreGoPublishBundleVerifiesWithItsKey) {
  RG_REQUIRE_CORPORA();
  const std::string dir = rgattest::corpora_dir() + "/dsse/";
  auto key = PublicKey::from_file(dir + "sigstore-go-publish_key.pub");
  ASSERT_TRUE(key.is_ok()) << key.status().message();
  EXPECT_EQ(key->type(), KeyType::kEcdsaP256);
  const std::string doc = rgattest::read_all(dir + "sigstore-go-bundle-publish.json");

  auto json = parse_json(doc, "publish");
  ASSERT_TRUE(json.is_ok());
  auto b = parse_bundle(*json, "publish");
  ASSERT_TRUE(b.is_ok()) << b.status().message();
  EXPECT_EQ(b->version, "0.1");
  EXPECT_EQ(b->tlog_entries, 1u);

  auto v = KeyVerifier({*key}, 1).verify(doc, "publish");
  ASSERT_TRUE(v.is_ok()) << v.status().message();
  EXPECT_EQ(v->format, "sigstore-bundle/0.1");
  EXPECT_EQ(v->payload_type, "application/vnd.in-toto+json");
  ASSERT_EQ(v->signers.size(), 1u);
  EXPECT_EQ(v->signers[0].type, "ecdsa-p256");
  EXPECT_EQ(v->document_digest, sha256_digest(doc));
  // The payload is an in-toto statement about an npm tarball (a sha512 subject).
  auto stmt_json = parse_json(v->payload, "payload");
  ASSERT_TRUE(stmt_json.is_ok());
  auto st = parse_statement(*stmt_json, "payload");
  ASSERT_TRUE(st.is_ok()) << st.status().message();
  EXPECT_EQ(st->subjects.at(0).name, "pkg:npm/sigstore@1.3.0");
  EXPECT_TRUE(statement_covers(*st, "sha512:" + st->subjects[0].digest.at("sha512")));

  // Any other key: denied. One changed payload byte: denied.
  EXPECT_EQ(KeyVerifier({load(Kind::kP256)}, 1).verify(doc, "publish").status().code(), Code::kDenied);
  Json tampered = *json;
  std::string payload = *base64_decode(tampered["dsseEnvelope"]["payload"].get<std::string>(), "payload");
  payload[payload.find("1.3.0")] = '2';
  tampered["dsseEnvelope"]["payload"] = base64_encode(payload);
  EXPECT_EQ(KeyVerifier({*key}, 1).verify(tampered.dump(), "publish").status().code(), Code::kDenied);
}

TEST(BundleCorpus, ConformanceManagedKeyBundlesAreNotAttestations) {
  RG_REQUIRE_CORPORA();
  // The key-based conformance cases are hashedrekord messageSignature bundles (a signed blob): an
  // attestation gate must refuse them as not an attestation, whatever their key.
  const std::string root = rgattest::corpora_dir() + "/sigstore-conformance/bundle-verify/";
  size_t cases = 0;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    if (!std::filesystem::exists(entry.path() / "key.pub")) continue;
    SCOPED_TRACE(entry.path().filename().string());
    ++cases;
    auto key = PublicKey::from_file((entry.path() / "key.pub").string());
    if (!key.is_ok()) {
      // managed-key-wrong-key_fail's key.pub is corrupt on purpose ("...++++wrongkey=="): the
      // loader refuses it, which fails the case at the earliest point.
      EXPECT_EQ(entry.path().filename(), "managed-key-wrong-key_fail");
      EXPECT_EQ(key.status().code(), Code::kInvalidArgument);
      EXPECT_NE(key.status().message().find("not a valid SubjectPublicKeyInfo"), std::string::npos) << key.status().message();
      continue;
    }
    auto v = KeyVerifier({*key}, 1).verify(rgattest::read_all((entry.path() / "bundle.sigstore.json").string()), "bundle");
    ASSERT_FALSE(v.is_ok());
    EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
    EXPECT_NE(v.status().message().find("not an attestation"), std::string::npos) << v.status().message();
  }
  EXPECT_GE(cases, 2u);
}

TEST(BundleCorpus, NoConformanceBundleIsAcceptedOrCrashes) {
  RG_REQUIRE_CORPORA();
  // Every case is keyless, a blob signature or malformed: with any key, none may verify, and each
  // must come back as a clear error. The DSSE ones are refused as keyless.
  const std::string root = rgattest::corpora_dir() + "/sigstore-conformance/bundle-verify/";
  std::vector<PublicKey> keys = {load(Kind::kP256), load(Kind::kEd25519)};
  auto managed = PublicKey::from_file(root + "managed-key-happy-path/key.pub");
  ASSERT_TRUE(managed.is_ok());
  keys.push_back(*managed);
  KeyVerifier verifier(keys, 1);
  size_t cases = 0;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    auto file = entry.path() / "bundle.sigstore.json";
    if (!std::filesystem::exists(file)) continue;
    const std::string name = entry.path().filename().string();
    SCOPED_TRACE(name);
    ++cases;
    auto v = verifier.verify(rgattest::read_all(file.string()), name);
    ASSERT_FALSE(v.is_ok());
    EXPECT_FALSE(v.status().message().empty());
    EXPECT_EQ(v.status().message().rfind(name + ":", 0), 0u) << v.status().message();
    if (name == "happy-path-intoto-in-dsse-v3" || name == "rekor2-dsse-happy-path") {
      EXPECT_NE(v.status().message().find("keyless verification"), std::string::npos) << v.status().message();
    }
    if (name == "bundle-unknown-version_fail") {
      EXPECT_NE(v.status().message().find("unknown sigstore bundle mediaType"), std::string::npos) << v.status().message();
    }
  }
  EXPECT_GE(cases, 60u);
}

}  // namespace
}  // namespace runguard::attest
