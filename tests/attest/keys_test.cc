// PublicKey: loading PEM public keys (and refusing everything else), ids, hints, and verification
// of signatures made by the openssl CLI for every supported scheme.
#include "runguard/attest/keys.h"

#include <gtest/gtest.h>
#include <openssl/err.h>

#include "attest_test_util.h"
#include "runguard/attest/limits.h"

namespace runguard::attest {
namespace {

using rgattest::Kind;
using rgattest::TempDir;
using rgattest::test_key;

PublicKey must_load(const std::string& path) {
  auto k = PublicKey::from_file(path);
  EXPECT_TRUE(k.is_ok()) << k.status().message();
  if (!k.is_ok()) std::abort();
  return *k;
}

// "sha256:<hex>" of the key's DER SubjectPublicKeyInfo, computed by the openssl CLI.
std::string openssl_key_id(const std::string& pub) {
  TempDir tmp;
  rgattest::sh("openssl pkey -pubin -in " + pub + " -outform DER -out " + tmp.file("der") + " && openssl dgst -sha256 -r " +
               tmp.file("der") + " | cut -d' ' -f1 > " + tmp.file("hex"));
  std::string hex = rgattest::read_all(tmp.file("hex"));
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == ' ')) hex.pop_back();
  return "sha256:" + hex;
}

// Generates a key pair with `genpkey_args`; returns the path of the public key (or of the key file
// itself with `pubout` false).
std::string gen_key(const TempDir& dir, const std::string& name, const std::string& genpkey_args, bool pubout = true) {
  std::string priv = dir.file(name + ".pem"), pub = dir.file(name + ".pub");
  rgattest::sh("openssl genpkey " + genpkey_args + " -out " + priv);
  if (!pubout) return priv;
  rgattest::sh("openssl pkey -in " + priv + " -pubout -out " + pub);
  return pub;
}

struct KindCase {
  Kind kind;
  KeyType type;
};

class PublicKeyEveryType : public ::testing::TestWithParam<KindCase> {};

TEST_P(PublicKeyEveryType, LoadsWithIdAndHintFromTheDerSpki) {
  const auto& tk = test_key(GetParam().kind);
  PublicKey k = must_load(tk.public_pem);
  EXPECT_EQ(k.type(), GetParam().type);
  EXPECT_EQ(k.id(), openssl_key_id(tk.public_pem));
  EXPECT_EQ(k.hint(), rgattest::key_hint(tk));
  EXPECT_EQ(k.source(), tk.public_pem);
}

TEST_P(PublicKeyEveryType, VerifiesOpensslSignaturesAndNothingElse) {
  const auto& tk = test_key(GetParam().kind);
  PublicKey k = must_load(tk.public_pem);
  const std::string msg = "DSSEv1 10 text/plain 13 hello, world!";
  std::string sig = rgattest::openssl_sign(tk, msg);
  ASSERT_FALSE(sig.empty());
  EXPECT_TRUE(k.verify(msg, sig));
  EXPECT_FALSE(k.verify(msg + " ", sig)) << "other message";
  EXPECT_FALSE(k.verify(msg.substr(1), sig)) << "truncated message";
  std::string flipped = sig;
  flipped[flipped.size() / 2] ^= 0x01;
  EXPECT_FALSE(k.verify(msg, flipped)) << "tampered signature";
  EXPECT_FALSE(k.verify(msg, sig.substr(0, sig.size() - 1))) << "truncated signature";
  EXPECT_FALSE(k.verify(msg, sig + std::string(1, '\0'))) << "trailing byte after the signature";
  EXPECT_FALSE(k.verify(msg, "")) << "empty signature";
  EXPECT_FALSE(k.verify(msg, std::string(64, 'x'))) << "garbage";
  // Failed verifications leave nothing in OpenSSL's error queue for the next caller to misread.
  EXPECT_EQ(ERR_peek_error(), 0u);
  // Another key of the same type does not verify it.
  PublicKey other = must_load(test_key(GetParam().kind, 1).public_pem);
  EXPECT_NE(other.id(), k.id());
  EXPECT_FALSE(other.verify(msg, sig));
}

INSTANTIATE_TEST_SUITE_P(Keys, PublicKeyEveryType,
                         ::testing::Values(KindCase{Kind::kP256, KeyType::kEcdsaP256}, KindCase{Kind::kP384, KeyType::kEcdsaP384},
                                           KindCase{Kind::kEd25519, KeyType::kEd25519}, KindCase{Kind::kRsa, KeyType::kRsa},
                                           KindCase{Kind::kRsaPss, KeyType::kRsa}),
                         [](const auto& info) {
                           std::string n = rgattest::kind_name(info.param.kind);
                           for (char& c : n) c = c == '-' ? '_' : c;
                           return n;
                         });

TEST(PublicKey, TheKeyFixesTheHashNotTheSignature) {
  // A P-256 key verifies SHA-256 only: a valid ECDSA signature over the SHA-384 digest is refused.
  TempDir tmp;
  const auto& tk = test_key(Kind::kP256);
  rgattest::write_all(tmp.file("msg"), "message");
  rgattest::sh("openssl dgst -sha384 -sign " + tk.private_pem + " -out " + tmp.file("sig") + " " + tmp.file("msg"));
  EXPECT_FALSE(must_load(tk.public_pem).verify("message", rgattest::read_all(tmp.file("sig"))));
  // And RSA with SHA-512 PKCS#1 v1.5 is not one of the two RSA schemes.
  const auto& rsa = test_key(Kind::kRsa);
  rgattest::sh("openssl dgst -sha512 -sign " + rsa.private_pem + " -out " + tmp.file("rsig") + " " + tmp.file("msg"));
  EXPECT_FALSE(must_load(rsa.public_pem).verify("message", rgattest::read_all(tmp.file("rsig"))));
}

TEST(PublicKey, RsaPssWithAFixedSaltLengthVerifies) {
  // in-toto signers use PSS with the digest-length salt; cosign uses the maximum: both verify.
  TempDir tmp;
  const auto& rsa = test_key(Kind::kRsa);
  rgattest::write_all(tmp.file("msg"), "message");
  rgattest::sh("openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -sign " + rsa.private_pem +
               " -out " + tmp.file("sig") + " " + tmp.file("msg"));
  EXPECT_TRUE(must_load(rsa.public_pem).verify("message", rgattest::read_all(tmp.file("sig"))));
}

TEST(PublicKey, SameKeySameIdAcrossLoads) {
  const auto& tk = test_key(Kind::kEd25519);
  auto a = PublicKey::from_pem(rgattest::read_all(tk.public_pem), "inline");
  ASSERT_TRUE(a.is_ok()) << a.status().message();
  EXPECT_EQ(a->id(), must_load(tk.public_pem).id());
  EXPECT_EQ(a->source(), "inline");
  // Leading text before the PEM block (a comment) is fine, as with openssl itself.
  auto b = PublicKey::from_pem("# ci signing key\n" + rgattest::read_all(tk.public_pem), "commented");
  ASSERT_TRUE(b.is_ok()) << b.status().message();
  EXPECT_EQ(b->id(), a->id());
}

void expect_refused(const Result<PublicKey>& r, const std::string& source, const std::string& part) {
  ASSERT_FALSE(r.is_ok()) << "accepted " << source;
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << r.status().message();
  EXPECT_NE(r.status().message().find(source), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find(part), std::string::npos) << r.status().message();
}

TEST(PublicKey, RefusesPrivateKeys) {
  for (Kind kind : {Kind::kP256, Kind::kEd25519, Kind::kRsa}) {
    const auto& tk = test_key(kind);
    expect_refused(PublicKey::from_file(tk.private_pem), tk.private_pem, "private key");
  }
  // The traditional "EC PRIVATE KEY" / "RSA PRIVATE KEY" spellings too.
  TempDir tmp;
  rgattest::sh("openssl ec -in " + test_key(Kind::kP256).private_pem + " -out " + tmp.file("ec.pem"));
  rgattest::sh("openssl rsa -traditional -in " + test_key(Kind::kRsa).private_pem + " -out " + tmp.file("rsa.pem"));
  expect_refused(PublicKey::from_file(tmp.file("ec.pem")), tmp.file("ec.pem"), "private key");
  expect_refused(PublicKey::from_file(tmp.file("rsa.pem")), tmp.file("rsa.pem"), "private key");
}

TEST(PublicKey, RefusesWeakOrUnsupportedKeys) {
  TempDir tmp;
  std::string rsa1024 = gen_key(tmp, "rsa1024", "-algorithm RSA -pkeyopt rsa_keygen_bits:1024");
  expect_refused(PublicKey::from_file(rsa1024), rsa1024, "1024 bits is too weak");
  std::string p521 = gen_key(tmp, "p521", "-algorithm EC -pkeyopt ec_paramgen_curve:P-521");
  expect_refused(PublicKey::from_file(p521), p521, "secp521r1 is not supported");
  std::string k1 = gen_key(tmp, "k1", "-algorithm EC -pkeyopt ec_paramgen_curve:secp256k1");
  expect_refused(PublicKey::from_file(k1), k1, "secp256k1 is not supported");
  std::string ed448 = gen_key(tmp, "ed448", "-algorithm ED448");
  expect_refused(PublicKey::from_file(ed448), ed448, "unsupported key algorithm");
  std::string pss = gen_key(tmp, "pss", "-algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048");
  expect_refused(PublicKey::from_file(pss), pss, "RSA-PSS");
}

TEST(PublicKey, RefusesCertificatesAndOtherPemBlocks) {
  TempDir tmp;
  const auto& tk = test_key(Kind::kP256);
  rgattest::sh("openssl req -x509 -new -key " + tk.private_pem + " -subj /CN=ci -days 1 -out " + tmp.file("cert.pem"));
  expect_refused(PublicKey::from_file(tmp.file("cert.pem")), tmp.file("cert.pem"), "certificate");
  rgattest::sh("openssl rsa -pubin -in " + test_key(Kind::kRsa).public_pem + " -RSAPublicKey_out -out " + tmp.file("pkcs1.pem"));
  expect_refused(PublicKey::from_file(tmp.file("pkcs1.pem")), tmp.file("pkcs1.pem"), "RSA PUBLIC KEY");
  // Two keys in one file: which one is trusted would be a guess.
  std::string two = rgattest::read_all(tk.public_pem) + rgattest::read_all(test_key(Kind::kP256, 1).public_pem);
  expect_refused(PublicKey::from_pem(two, "two.pub"), "two.pub", "more than one PEM block");
  expect_refused(PublicKey::from_pem("not a key", "junk.pub"), "junk.pub", "not a PEM file");
  expect_refused(PublicKey::from_pem("", "empty.pub"), "empty.pub", "not a PEM file");
  expect_refused(PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "bad.pub"), "bad.pub",
                 "SubjectPublicKeyInfo");
  expect_refused(PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n", "b64.pub"), "b64.pub",
                 "cannot read PEM");
}

TEST(PublicKey, FileErrors) {
  auto missing = PublicKey::from_file("/nonexistent/runguard/ci.pub");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/runguard/ci.pub"), std::string::npos);

  TempDir tmp;
  auto dir = PublicKey::from_file(tmp.path());
  ASSERT_FALSE(dir.is_ok());
  EXPECT_NE(dir.status().message().find("not a regular file"), std::string::npos) << dir.status().message();

  // Above the size limit: refused from its size, with the limit named.
  std::string big = tmp.file("big.pub");
  rgattest::write_all(big, rgattest::read_all(test_key(Kind::kP256).public_pem) + std::string(kMaxKeyBytes, '\n'));
  expect_refused(PublicKey::from_file(big), big, "above the limit of 65536 bytes");
  expect_refused(PublicKey::from_pem(std::string(kMaxKeyBytes + 1, ' '), "inline"), "inline", "above the limit");
}

TEST(PublicKey, KeyTypeNames) {
  EXPECT_STREQ(key_type_name(KeyType::kEcdsaP256), "ecdsa-p256");
  EXPECT_STREQ(key_type_name(KeyType::kEcdsaP384), "ecdsa-p384");
  EXPECT_STREQ(key_type_name(KeyType::kEd25519), "ed25519");
  EXPECT_STREQ(key_type_name(KeyType::kRsa), "rsa");
}

TEST(PublicKey, CopiesShareTheKeyAndVerifyAfterTheOriginalIsGone) {
  const auto& tk = test_key(Kind::kEd25519);
  std::string sig = rgattest::openssl_sign(tk, "m");
  std::optional<PublicKey> copy;
  {
    PublicKey k = must_load(tk.public_pem);
    copy = k;
  }
  EXPECT_TRUE(copy->verify("m", sig));
}

}  // namespace
}  // namespace runguard::attest
