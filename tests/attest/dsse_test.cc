// DSSE: PAE bytes, envelope parsing (every required field, both base64 alphabets, limits) and
// which distinct keys signed; plus the DSSE protocol test vectors from ../shared/corpora.
#include "runguard/attest/dsse.h"

#include <gtest/gtest.h>

#include "attest_test_util.h"
#include "runguard/attest/limits.h"
#include "runguard/attest/verify.h"
#include "runguard/common/base64.h"

namespace runguard::attest {
namespace {

using rgattest::Kind;
using rgattest::test_key;

constexpr char kInToto[] = "application/vnd.in-toto+json";

PublicKey load(Kind kind, int slot = 0) {
  auto k = PublicKey::from_file(test_key(kind, slot).public_pem);
  EXPECT_TRUE(k.is_ok()) << k.status().message();
  if (!k.is_ok()) std::abort();
  return *k;
}

std::string hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string unhex(std::string_view h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out += static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16));
  return out;
}

TEST(Pae, SpecExampleAndByteLengths) {
  EXPECT_EQ(pae("http://example.com/HelloWorld", "hello world"), "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
  EXPECT_EQ(pae(kInToto, ""), "DSSEv1 28 application/vnd.in-toto+json 0 ");
  EXPECT_EQ(pae("", ""), "DSSEv1 0  0 ");
  // LEN counts bytes, not characters: "ä" is two bytes in UTF-8.
  EXPECT_EQ(pae("application/vnd.ex\xc3\xa4mple+json", "x"), "DSSEv1 29 application/vnd.ex\xc3\xa4mple+json 1 x");
  std::string binary("a\0b", 3);
  EXPECT_EQ(pae("t", binary), std::string("DSSEv1 1 t 3 a\0b", 16));
}

Json envelope(const std::string& payload = "hello", const Json& sigs = Json::array({{{"sig", "AAAA"}}})) {
  return {{"payloadType", kInToto}, {"payload", base64_encode(payload)}, {"signatures", sigs}};
}

void expect_invalid(const Json& j, const std::string& part) {
  auto r = parse_dsse(j, "att.json");
  ASSERT_FALSE(r.is_ok()) << j.dump();
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().message().rfind("att.json: ", 0), 0u) << r.status().message();
  EXPECT_NE(r.status().message().find(part), std::string::npos) << r.status().message();
}

TEST(ParseDsse, ReadsEveryField) {
  Json j = envelope("payload \xff bytes", Json::array({{{"sig", base64_encode("s1")}, {"keyid", "k1"}}, {{"sig", base64_encode("s2")}}}));
  j["unknownField"] = {{"ignored", true}};
  auto r = parse_dsse(j, "att.json");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->payload_type, kInToto);
  EXPECT_EQ(r->payload, "payload \xff bytes");
  ASSERT_EQ(r->signatures.size(), 2u);
  EXPECT_EQ(r->signatures[0].sig, "s1");
  EXPECT_EQ(r->signatures[0].keyid, "k1");
  EXPECT_EQ(r->signatures[1].sig, "s2");
  EXPECT_EQ(r->signatures[1].keyid, "");
}

TEST(ParseDsse, EmptyValuesParse) {
  Json j = {{"payloadType", ""}, {"payload", ""}, {"signatures", Json::array()}};
  auto r = parse_dsse(j, "att.json");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_TRUE(r->payload.empty());
  EXPECT_TRUE(r->signatures.empty());
  Json null_keyid = envelope("x", Json::array({{{"sig", ""}, {"keyid", nullptr}}}));
  ASSERT_TRUE(parse_dsse(null_keyid, "att.json").is_ok());
}

TEST(ParseDsse, UrlSafeAndUnpaddedBase64) {
  std::string payload = "\xfb\xff\xbf>?";  // "+/+/Pj8=" standard, "-_-_Pj8" URL-safe unpadded
  ASSERT_EQ(base64_encode(payload), "+/+/Pj8=");
  Json j = {{"payloadType", kInToto}, {"payload", "-_-_Pj8"}, {"signatures", Json::array({{{"sig", "-_-_Pj8="}}})}};
  auto r = parse_dsse(j, "att.json");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->payload, payload);
  EXPECT_EQ(r->signatures[0].sig, payload);
}

TEST(ParseDsse, MissingOrMistypedFields) {
  expect_invalid(Json::array(), "must be a JSON object, not array");
  expect_invalid("text", "must be a JSON object, not string");
  for (const char* field : {"payloadType", "payload", "signatures"}) {
    Json j = envelope();
    j.erase(field);
    expect_invalid(j, std::string(field) + ": missing");
  }
  Json j = envelope();
  j["payload"] = 12;
  expect_invalid(j, "payload: must be a string, not number");
  j = envelope();
  j["payloadType"] = nullptr;
  expect_invalid(j, "payloadType: must be a string, not null");
  j = envelope();
  j["signatures"] = Json::object();
  expect_invalid(j, "signatures: must be an array, not object");
  expect_invalid(envelope("x", Json::array({"AAAA"})), "signatures[0]: must be an object, not string");
  expect_invalid(envelope("x", Json::array({{{"sig", "AAAA"}}, {{"keyid", "k"}}})), "signatures[1].sig: missing");
  expect_invalid(envelope("x", Json::array({{{"sig", 5}}})), "signatures[0].sig: must be a string, not number");
  expect_invalid(envelope("x", Json::array({{{"sig", "AAAA"}, {"keyid", 7}}})), "signatures[0].keyid: must be a string");
}

TEST(ParseDsse, WrongBase64NamesTheField) {
  Json j = envelope();
  j["payload"] = "aGVsbG8*";
  expect_invalid(j, "att.json: payload: not valid base64");
  expect_invalid(envelope("x", Json::array({{{"sig", "AAAA"}}, {{"sig", "A"}}})), "att.json: signatures[1].sig: not valid base64");
  expect_invalid(envelope("x", Json::array({{{"sig", "AA+_"}}})), "mixes the standard and the URL-safe alphabet");
  expect_invalid(envelope("x", Json::array({{{"sig", "AA=A"}}})), "signatures[0].sig: not valid base64");
}

TEST(ParseDsse, SignatureCountIsBounded) {
  Json sigs = Json::array();
  for (size_t i = 0; i < kMaxSignatures; ++i) sigs.push_back({{"sig", "AAAA"}});
  ASSERT_TRUE(parse_dsse(envelope("x", sigs), "att.json").is_ok());
  sigs.push_back({{"sig", "AAAA"}});
  expect_invalid(envelope("x", sigs), "33 signatures, above the limit of 32");
}

DsseEnvelope signed_envelope(const std::vector<const rgattest::TestKey*>& keys, const std::string& keyid = "") {
  auto r = parse_dsse(rgattest::dsse_envelope(kInToto, "{}", keys, keyid), "att.json");
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return *r;
}

TEST(CheckDsseSignatures, DistinctSignersInKeyOrder) {
  DsseEnvelope env = signed_envelope({&test_key(Kind::kP256), &test_key(Kind::kEd25519)});
  std::vector<PublicKey> keys = {load(Kind::kRsa), load(Kind::kEd25519), load(Kind::kP256)};
  DsseCheck c = check_dsse_signatures(env, keys);
  ASSERT_EQ(c.signers.size(), 2u);
  EXPECT_EQ(c.signers[0], &keys[1]);
  EXPECT_EQ(c.signers[1], &keys[2]);
  EXPECT_EQ(c.unverified, 0u);
}

TEST(CheckDsseSignatures, SameKeyTwiceCountsOnce) {
  DsseEnvelope env = signed_envelope({&test_key(Kind::kP256), &test_key(Kind::kP256)});
  std::vector<PublicKey> keys = {load(Kind::kP256), load(Kind::kP384)};
  DsseCheck c = check_dsse_signatures(env, keys);
  ASSERT_EQ(c.signers.size(), 1u);
  EXPECT_EQ(c.signers[0], &keys[0]);
  EXPECT_EQ(c.unverified, 0u);
  // The same trusted key listed twice (two paths to one key) is still one signer.
  std::vector<PublicKey> dup = {load(Kind::kP256), load(Kind::kP256)};
  EXPECT_EQ(check_dsse_signatures(env, dup).signers.size(), 1u);
}

TEST(CheckDsseSignatures, KeyidIsNeverAFilter) {
  // A keyid naming another key, or garbage, does not stop the right key from verifying.
  PublicKey ed = load(Kind::kEd25519), p256 = load(Kind::kP256);
  DsseEnvelope env = signed_envelope({&test_key(Kind::kEd25519)}, p256.id());
  std::vector<PublicKey> keys = {p256, ed};
  DsseCheck c = check_dsse_signatures(env, keys);
  ASSERT_EQ(c.signers.size(), 1u);
  EXPECT_EQ(c.signers[0]->id(), ed.id());
}

TEST(CheckDsseSignatures, UnverifiedSignaturesAreCounted) {
  DsseEnvelope env = signed_envelope({&test_key(Kind::kP256), &test_key(Kind::kP256, 1), &test_key(Kind::kRsaPss)});
  env.signatures.push_back({"", "garbage"});
  std::vector<PublicKey> keys = {load(Kind::kRsa)};
  DsseCheck c = check_dsse_signatures(env, keys);
  ASSERT_EQ(c.signers.size(), 1u);
  EXPECT_EQ(c.unverified, 3u);
  EXPECT_TRUE(check_dsse_signatures(env, {}).signers.empty());
}

TEST(CheckDsseSignatures, SignatureCoversPayloadAndType) {
  std::vector<PublicKey> keys = {load(Kind::kP384)};
  DsseEnvelope env = signed_envelope({&test_key(Kind::kP384)});
  ASSERT_EQ(check_dsse_signatures(env, keys).signers.size(), 1u);
  DsseEnvelope payload = env;
  payload.payload = "{ }";
  EXPECT_TRUE(check_dsse_signatures(payload, keys).signers.empty());
  DsseEnvelope type = env;
  type.payload_type = "application/json";
  EXPECT_TRUE(check_dsse_signatures(type, keys).signers.empty());
  // A signature over the bare payload (no PAE) is not a DSSE signature.
  DsseEnvelope raw = env;
  raw.signatures[0].sig = rgattest::openssl_sign(test_key(Kind::kP384), env.payload);
  EXPECT_TRUE(check_dsse_signatures(raw, keys).signers.empty());
}

// --- DSSE protocol test vectors (../shared/corpora/dsse/vectors.json) ---

// An Ed25519 public key given as 32 raw bytes (hex) as a PEM SubjectPublicKeyInfo.
std::string ed25519_pem(const std::string& public_hex) {
  std::string der = unhex("302a300506032b6570032100" + public_hex);
  std::string b64 = base64_encode(der);
  return "-----BEGIN PUBLIC KEY-----\n" + b64 + "\n-----END PUBLIC KEY-----\n";
}

TEST(DsseVectors, CorpusVectors) {
  RG_REQUIRE_CORPORA();
  auto doc = parse_json(rgattest::read_all(rgattest::corpora_dir() + "/dsse/vectors.json"), "vectors.json");
  ASSERT_TRUE(doc.is_ok()) << doc.status().message();
  std::map<std::string, PublicKey> keys;
  for (const auto& [name, k] : (*doc)["keys"].items()) {
    ASSERT_EQ(k["algorithm"], "ed25519");
    auto pk = PublicKey::from_pem(ed25519_pem(k["public"]), "vector key " + name);
    ASSERT_TRUE(pk.is_ok()) << pk.status().message();
    keys.emplace(name, *pk);
  }
  size_t seen = 0;
  for (const Json& v : (*doc)["vectors"]) {
    const std::string id = v["id"];
    SCOPED_TRACE(id);
    ++seen;
    auto env = parse_dsse(v["envelope"], id);
    ASSERT_TRUE(env.is_ok()) << env.status().message();
    std::vector<PublicKey> trusted;
    for (const auto& name : v["trustedKeys"]) trusted.push_back(keys.at(name));
    const int threshold = v["threshold"];
    // The bytes the signatures cover: for the swapped vector that is the ORIGINAL type's PAE, which
    // is why the envelope's claimed type fails.
    std::string our_pae = pae(env->payload_type, env->payload);
    if (id == "payload-type-swapped") {
      EXPECT_NE(hex(our_pae), v["pae"].get<std::string>());
    } else {
      EXPECT_EQ(hex(our_pae), v["pae"].get<std::string>());
    }
    bool signatures_pass = check_dsse_signatures(*env, trusted).signers.size() >= static_cast<size_t>(threshold);

    auto r = KeyVerifier(trusted, threshold).verify(v["envelope"].dump(), id);
    const bool accept = v["expect"] == "accept";
    // Mapping onto KeyVerifier: the vectors configure a verifier's supportedPayloadTypes; ours is
    // fixed (in-toto and scanner reports). So
    //  - non-ascii-payload-type (accept) is a PAE/length vector: its signature must verify, and
    //    KeyVerifier then refuses the exotic type as unsupported (kDenied);
    //  - empty-payload-type (reject) has a valid signature; it is rejected for its type (kDenied);
    //  - payload-type-swapped (reject) fails the signature: the type is inside PAE;
    //  - threshold-two-one-key-twice (reject) is below the threshold of distinct keys.
    if (id == "non-ascii-payload-type") {
      EXPECT_TRUE(signatures_pass);
      ASSERT_FALSE(r.is_ok());
      EXPECT_EQ(r.status().code(), Code::kDenied);
      EXPECT_NE(r.status().message().find("unsupported payloadType"), std::string::npos) << r.status().message();
    } else if (id == "empty-payload-type") {
      EXPECT_TRUE(signatures_pass);
      ASSERT_FALSE(r.is_ok());
      EXPECT_EQ(r.status().message().rfind(id + ": unsupported payloadType \"\"", 0), 0u) << r.status().message();
      EXPECT_EQ(r.status().code(), Code::kDenied);
    } else if (id == "payload-type-swapped") {
      EXPECT_FALSE(signatures_pass);
      ASSERT_FALSE(r.is_ok());
      EXPECT_EQ(r.status().message(), id + ": not signed by a trusted key");
    } else if (id == "threshold-two-one-key-twice") {
      EXPECT_FALSE(signatures_pass);
      ASSERT_FALSE(r.is_ok());
      EXPECT_EQ(r.status().message(), id + ": signed by 1 of the required 2 distinct trusted keys");
    } else {
      ASSERT_TRUE(accept) << "a reject vector this test does not map";
      EXPECT_TRUE(signatures_pass);
      ASSERT_TRUE(r.is_ok()) << r.status().message();
      EXPECT_EQ(r->payload, env->payload);
      EXPECT_EQ(r->signers.size(), static_cast<size_t>(threshold));
    }
    EXPECT_EQ(signatures_pass, accept || id == "empty-payload-type") << "signature-level verdict";
  }
  EXPECT_EQ(seen, 9u);
}

}  // namespace
}  // namespace runguard::attest
