// Trusted public keys and signature verification, through OpenSSL's EVP interface.
//
// Supported keys and the one scheme each implies (a key never picks its hash from the data):
//   ECDSA P-256 -> SHA-256, ECDSA P-384 -> SHA-384, ASN.1 DER signatures (cosign, sigstore-go);
//   Ed25519 -> pure Ed25519 over the message (RFC 8032);
//   RSA (>= 2048 bits) -> SHA-256 with PKCS#1 v1.5, or with PSS (MGF1-SHA-256, any salt length):
//     both are tried, because cosign and in-toto signers differ and the key file does not say.
// Keys come from PEM "PUBLIC KEY" (SubjectPublicKeyInfo) files; anything else (a private key, a
// certificate, another curve, RSA below 2048 bits) is refused with the file named.
//
// A key's id is "sha256:<hex>" of its DER SubjectPublicKeyInfo: stable, derived from the key
// itself, and what verdicts report as the signer. hint() is sigstore's convention for the same
// digest (standard base64), compared with a bundle's publicKey.hint.
//
// Thread-safety: a PublicKey is immutable after loading; verify() may be called concurrently.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "runguard/common/status.h"

namespace runguard::attest {

enum class KeyType { kEcdsaP256, kEcdsaP384, kEd25519, kRsa };
const char* key_type_name(KeyType t);  // "ecdsa-p256" | "ecdsa-p384" | "ed25519" | "rsa"

class PublicKey {
 public:
  // `source` names the key in messages and verdicts (its path, or "inline").
  static Result<PublicKey> from_pem(std::string_view pem, const std::string& source);
  // Reads at most 64 KiB; kNotFound when the file does not exist.
  static Result<PublicKey> from_file(const std::string& path);

  KeyType type() const { return type_; }
  const std::string& id() const { return id_; }          // "sha256:<hex of DER SPKI>"
  const std::string& hint() const { return hint_; }      // base64(sha256(DER SPKI))
  const std::string& source() const { return source_; }

  // True when `signature` is a valid signature of `message` under this key's scheme. Never throws;
  // malformed signatures are simply false.
  bool verify(std::string_view message, std::string_view signature) const;

 private:
  std::shared_ptr<void> key_;  // EVP_PKEY*, freed with EVP_PKEY_free
  KeyType type_ = KeyType::kEcdsaP256;
  std::string id_;
  std::string hint_;
  std::string source_;
};

// "sha256:<64 lowercase hex>" of `bytes` (OpenSSL's SHA-256).
std::string sha256_digest(std::string_view bytes);

}  // namespace runguard::attest
