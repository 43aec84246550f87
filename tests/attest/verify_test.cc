// KeyVerifier: size -> parse -> signatures -> threshold -> payloadType, with keys of every type,
// tampering of each signed part, thresholds of distinct keys, and hostile documents.
#include "runguard/attest/verify.h"

#include <gtest/gtest.h>

#include <thread>

#include "attest_test_util.h"
#include "runguard/attest/limits.h"
#include "runguard/common/base64.h"

namespace runguard::attest {
namespace {

using rgattest::Kind;
using rgattest::test_key;

constexpr char kInToto[] = "application/vnd.in-toto+json";
const std::string kPayload = R"({"_type":"https://in-toto.io/Statement/v1","subject":[]})";

PublicKey load(Kind kind, int slot = 0) {
  auto k = PublicKey::from_file(test_key(kind, slot).public_pem);
  EXPECT_TRUE(k.is_ok()) << k.status().message();
  if (!k.is_ok()) std::abort();
  return *k;
}

std::string envelope(const std::vector<const rgattest::TestKey*>& keys, const std::string& type = kInToto,
                     const std::string& payload = kPayload) {
  return rgattest::dsse_envelope(type, payload, keys).dump();
}

void expect_error(const Result<VerifiedPayload>& r, Code code, const std::string& message) {
  ASSERT_FALSE(r.is_ok()) << "verified";
  EXPECT_EQ(r.status().code(), code) << r.status().message();
  EXPECT_EQ(r.status().message(), message);
}

void expect_error_containing(const Result<VerifiedPayload>& r, Code code, const std::string& part) {
  ASSERT_FALSE(r.is_ok()) << "verified";
  EXPECT_EQ(r.status().code(), code) << r.status().message();
  EXPECT_NE(r.status().message().find(part), std::string::npos) << r.status().message();
}

class KeyVerifierEveryType : public ::testing::TestWithParam<Kind> {};

TEST_P(KeyVerifierEveryType, SignedEnvelopeVerifies) {
  const auto& tk = test_key(GetParam());
  PublicKey key = load(GetParam());
  std::string doc = envelope({&tk});
  auto r = KeyVerifier({load(Kind::kP384, 1), key}, 1).verify(doc, "att.json");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->format, "dsse");
  EXPECT_EQ(r->payload, kPayload);
  EXPECT_EQ(r->payload_type, kInToto);
  EXPECT_EQ(r->document_digest, sha256_digest(doc));
  ASSERT_EQ(r->signers.size(), 1u);
  EXPECT_EQ(r->signers[0].id, key.id());
  EXPECT_EQ(r->signers[0].source, tk.public_pem);
  EXPECT_EQ(r->signers[0].type, key_type_name(key.type()));
}

TEST_P(KeyVerifierEveryType, WrongKeyDenied) {
  std::string doc = envelope({&test_key(GetParam())});
  expect_error(KeyVerifier({load(GetParam(), 1)}, 1).verify(doc, "att.json"), Code::kDenied,
               "att.json: not signed by a trusted key");
}

INSTANTIATE_TEST_SUITE_P(Keys, KeyVerifierEveryType, ::testing::Values(Kind::kP256, Kind::kP384, Kind::kEd25519, Kind::kRsa, Kind::kRsaPss),
                         [](const auto& info) {
                           std::string n = rgattest::kind_name(info.param);
                           for (char& c : n) c = c == '-' ? '_' : c;
                           return n;
                         });

TEST(KeyVerifier, DocumentDigestIsOfTheBytes) {
  rgattest::TempDir tmp;
  std::string doc = envelope({&test_key(Kind::kEd25519)});
  rgattest::write_all(tmp.file("doc"), doc);
  rgattest::sh("openssl dgst -sha256 -r " + tmp.file("doc") + " | cut -d' ' -f1 | tr -d '\\n' > " + tmp.file("hex"));
  auto r = KeyVerifier({load(Kind::kEd25519)}, 1).verify(doc, "att.json");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->document_digest, "sha256:" + rgattest::read_all(tmp.file("hex")));
}

TEST(KeyVerifier, TamperedPayloadDenied) {
  Json j = rgattest::dsse_envelope(kInToto, kPayload, {&test_key(Kind::kP256)});
  std::string other = kPayload;
  other[other.find("v1")] = 'w';
  j["payload"] = base64_encode(other);
  expect_error(KeyVerifier({load(Kind::kP256)}, 1).verify(j.dump(), "att.json"), Code::kDenied,
               "att.json: not signed by a trusted key");
}

TEST(KeyVerifier, TamperedSignatureDenied) {
  for (Kind kind : {Kind::kP256, Kind::kEd25519, Kind::kRsa}) {
    Json j = rgattest::dsse_envelope(kInToto, kPayload, {&test_key(kind)});
    std::string sig = *base64_decode(j["signatures"][0]["sig"].get<std::string>(), "sig");
    sig[sig.size() - 3] ^= 0x40;
    j["signatures"][0]["sig"] = base64_encode(sig);
    expect_error(KeyVerifier({load(kind)}, 1).verify(j.dump(), "att.json"), Code::kDenied,
                 "att.json: not signed by a trusted key");
  }
}

TEST(KeyVerifier, TamperedPayloadTypeDenied) {
  // payloadType is inside PAE: changing it to another supported type breaks the signature.
  Json j = rgattest::dsse_envelope(kInToto, kPayload, {&test_key(Kind::kP256)});
  j["payloadType"] = "application/json";
  expect_error(KeyVerifier({load(Kind::kP256)}, 1).verify(j.dump(), "att.json"), Code::kDenied,
               "att.json: not signed by a trusted key");
}

TEST(KeyVerifier, UrlSafeUnpaddedBase64Verifies) {
  Json j = rgattest::dsse_envelope(kInToto, kPayload + "??>>", {&test_key(Kind::kP256)});
  auto url = [](std::string s) {
    for (char& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
    while (!s.empty() && s.back() == '=') s.pop_back();
    return s;
  };
  std::string payload = j["payload"], sig = j["signatures"][0]["sig"];
  ASSERT_NE(url(payload), payload);
  j["payload"] = url(payload);
  j["signatures"][0]["sig"] = url(sig);
  auto r = KeyVerifier({load(Kind::kP256)}, 1).verify(j.dump(), "att.json");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->payload, kPayload + "??>>");
}

TEST(KeyVerifier, ThresholdTwoDistinctKeys) {
  std::string doc = envelope({&test_key(Kind::kP256), &test_key(Kind::kEd25519)});
  auto r = KeyVerifier({load(Kind::kEd25519), load(Kind::kP256), load(Kind::kRsa)}, 2).verify(doc, "att.json");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ(r->signers.size(), 2u);
  EXPECT_EQ(r->signers[0].type, "ed25519");  // key order, not signature order
  EXPECT_EQ(r->signers[1].type, "ecdsa-p256");
  expect_error(KeyVerifier({load(Kind::kEd25519), load(Kind::kP256), load(Kind::kRsa)}, 3).verify(doc, "att.json"), Code::kDenied,
               "att.json: signed by 2 of the required 3 distinct trusted keys");
}

TEST(KeyVerifier, SameKeyTwiceIsOneSigner) {
  std::string doc = envelope({&test_key(Kind::kP256), &test_key(Kind::kP256)});
  expect_error(KeyVerifier({load(Kind::kP256), load(Kind::kEd25519)}, 2).verify(doc, "att.json"), Code::kDenied,
               "att.json: signed by 1 of the required 2 distinct trusted keys");
  // The same key configured twice (two files, one key) cannot meet a threshold of two either.
  std::string once = envelope({&test_key(Kind::kP256)});
  expect_error(KeyVerifier({load(Kind::kP256), load(Kind::kP256)}, 2).verify(once, "att.json"), Code::kDenied,
               "att.json: signed by 1 of the required 2 distinct trusted keys");
}

TEST(KeyVerifier, ThresholdOutOfRangeIsAnError) {
  std::string doc = envelope({&test_key(Kind::kP256)});
  expect_error_containing(KeyVerifier({load(Kind::kP256)}, 0).verify(doc, "att.json"), Code::kInvalidArgument,
                          "threshold 0 must be between 1 and the number of trusted keys (1)");
  expect_error_containing(KeyVerifier({load(Kind::kP256)}, 2).verify(doc, "att.json"), Code::kInvalidArgument, "threshold 2");
  expect_error_containing(KeyVerifier({}, 1).verify(doc, "att.json"), Code::kInvalidArgument, "threshold 1");
}

TEST(KeyVerifier, NoSignatures) {
  std::string doc = rgattest::dsse_envelope(kInToto, kPayload, {}).dump();
  expect_error(KeyVerifier({load(Kind::kP256)}, 1).verify(doc, "att.json"), Code::kDenied, "att.json: not signed by a trusted key");
}

TEST(KeyVerifier, PayloadTypes) {
  for (const char* type : {"application/vnd.in-toto+json", "application/vnd.in-toto.vulns+json", "application/json",
                           "application/vnd.aquasec.trivy+json", "application/vnd.anchore.grype+json"}) {
    EXPECT_TRUE(is_supported_payload_type(type)) << type;
    auto r = KeyVerifier({load(Kind::kEd25519)}, 1).verify(envelope({&test_key(Kind::kEd25519)}, type), "att.json");
    ASSERT_TRUE(r.is_ok()) << type << ": " << r.status().message();
    EXPECT_EQ(r->payload_type, type);
  }
  for (const char* type : {"text/plain", "", "application/vnd.cyclonedx+json", "application/json; charset=utf-8"}) {
    EXPECT_FALSE(is_supported_payload_type(type)) << type;
    auto r = KeyVerifier({load(Kind::kEd25519)}, 1).verify(envelope({&test_key(Kind::kEd25519)}, type), "att.json");
    expect_error_containing(r, Code::kDenied, std::string("att.json: unsupported payloadType \"") + type + "\"");
  }
  // An unsupported type signed by an untrusted key reports the signature first (DSSE's order).
  auto r = KeyVerifier({load(Kind::kP256)}, 1).verify(envelope({&test_key(Kind::kEd25519)}, "text/plain"), "att.json");
  expect_error(r, Code::kDenied, "att.json: not signed by a trusted key");
}

TEST(KeyVerifier, VerifiedBytesAreHandedOnExactly) {
  const std::string payload("{\"a\":1}\n\0\xff trailing", 18);
  auto r = KeyVerifier({load(Kind::kP384)}, 1).verify(envelope({&test_key(Kind::kP384)}, kInToto, payload), "att.json");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->payload, payload);
}

// --- hostile and malformed documents ---

TEST(KeyVerifier, TruncatedJson) {
  std::string doc = envelope({&test_key(Kind::kP256)});
  for (size_t cut : {size_t{0}, size_t{1}, doc.size() / 2, doc.size() - 1}) {
    auto r = KeyVerifier({load(Kind::kP256)}, 1).verify(doc.substr(0, cut), "att.json");
    expect_error_containing(r, Code::kInvalidArgument, "att.json");
  }
}

TEST(KeyVerifier, WrongBase64) {
  Json j = rgattest::dsse_envelope(kInToto, kPayload, {&test_key(Kind::kP256)});
  j["signatures"][0]["sig"] = "MEUCIQ*x";
  expect_error_containing(KeyVerifier({load(Kind::kP256)}, 1).verify(j.dump(), "att.json"), Code::kInvalidArgument,
                          "att.json: signatures[0].sig: not valid base64");
  j = rgattest::dsse_envelope(kInToto, kPayload, {&test_key(Kind::kP256)});
  j["payload"] = "e30";
  j["payload"] = j["payload"].get<std::string>() + "=x";
  expect_error_containing(KeyVerifier({load(Kind::kP256)}, 1).verify(j.dump(), "att.json"), Code::kInvalidArgument,
                          "att.json: payload: not valid base64");
}

TEST(KeyVerifier, HugeDocumentRefusedBySizeBeforeParsing) {
  // Unparseable (and nested far beyond the depth cap): the size message proves parsing never ran.
  std::string huge(kMaxAttestationBytes + 1, '[');
  expect_error(KeyVerifier({load(Kind::kP256)}, 1).verify(huge, "att.json"), Code::kInvalidArgument,
               "att.json: 33554433 bytes, above the limit of 33554432 bytes");
}

TEST(KeyVerifier, LargeSignedPayloadWithinTheLimitVerifies) {
  // A ~3 MB report, as a 2 MB Trivy report base64-encoded would be.
  std::string payload = "{\"pad\":\"" + std::string(3u << 20, 'x') + "\"}";
  auto r = KeyVerifier({load(Kind::kP256)}, 1).verify(envelope({&test_key(Kind::kP256)}, "application/json", payload), "att.json");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->payload.size(), payload.size());
}

TEST(KeyVerifier, DeeplyNestedJson) {
  KeyVerifier v({load(Kind::kP256)}, 1);
  for (size_t depth : {size_t{200}, size_t{100000}}) {
    std::string doc = std::string(depth, '[') + std::string(depth, ']');
    expect_error_containing(v.verify(doc, "att.json"), Code::kInvalidArgument, "att.json: JSON nested deeper than 128 levels");
    // Nested inside an unknown field of an otherwise valid envelope.
    Json j = rgattest::dsse_envelope(kInToto, kPayload, {&test_key(Kind::kP256)});
    std::string env = j.dump();
    env.insert(1, "\"x\":" + doc + ",");
    expect_error_containing(v.verify(env, "att.json"), Code::kInvalidArgument, "nested deeper");
  }
  // Within the cap: parsed, then refused as not an envelope (an array), not crashed.
  std::string ok = std::string(100, '[') + std::string(100, ']');
  expect_error_containing(v.verify(ok, "att.json"), Code::kInvalidArgument, "att.json: not a DSSE envelope or sigstore bundle");
}

TEST(KeyVerifier, NotAnEnvelopeOrBundle) {
  KeyVerifier v({load(Kind::kP256)}, 1);
  for (const char* doc : {"[]", "\"text\"", "42", "null", "{}", "{\"hello\":1}", "{\"mediaType\":\"application/json\"}"}) {
    expect_error_containing(v.verify(doc, "att.json"), Code::kInvalidArgument, "att.json: not a DSSE envelope or sigstore bundle: ");
  }
  // Looks like an envelope, misses a field: the field is named.
  expect_error_containing(v.verify(R"({"payload":"e30=","signatures":[]})", "att.json"), Code::kInvalidArgument,
                          "att.json: payloadType: missing");
  expect_error_containing(v.verify("", "att.json"), Code::kInvalidArgument, "att.json");
}

TEST(KeyVerifier, TooManySignaturesRefused) {
  Json j = rgattest::dsse_envelope(kInToto, kPayload, {&test_key(Kind::kEd25519)});
  for (size_t i = 0; i < kMaxSignatures; ++i) j["signatures"].push_back(j["signatures"][0]);
  expect_error_containing(KeyVerifier({load(Kind::kEd25519)}, 1).verify(j.dump(), "att.json"), Code::kInvalidArgument,
                          "above the limit of 32");
}

TEST(KeyVerifier, ConcurrentVerification) {
  const KeyVerifier v({load(Kind::kP256), load(Kind::kEd25519), load(Kind::kRsa)}, 2);
  const std::string good = envelope({&test_key(Kind::kRsaPss), &test_key(Kind::kEd25519)});
  const std::string bad = envelope({&test_key(Kind::kRsaPss), &test_key(Kind::kEd25519, 1)});
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        if (!v.verify(good, "good").is_ok()) ++failures;
        if (v.verify(bad, "bad").is_ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace runguard::attest
