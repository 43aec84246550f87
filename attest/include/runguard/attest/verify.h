// From an attestation file's bytes to a payload signed by enough trusted keys.
//
// The file is a DSSE envelope or a sigstore bundle holding one (is_sigstore_bundle decides). Order,
// following DSSE's protocol: size limit -> parse -> signatures over PAE against the trusted keys ->
// threshold of distinct keys -> payloadType supported -> the verified bytes handed on as they are
// (never re-read from the envelope). The Verifier is an interface so keyless verification
// (Fulcio certificate + Rekor inclusion) can be added beside KeyVerifier without touching callers.
//
// Errors: kInvalidArgument when the document cannot be read as an attestation (too large, not JSON,
// a field missing or mistyped, an unknown bundle version, keyless material); kDenied when it is
// well-formed but not trusted (no signature by a trusted key, fewer distinct trusted signers than
// the threshold, payloadType not in-toto or a scanner report). Pure apart from the bytes given.
//
// Thread-safety: a KeyVerifier is immutable after construction; verify() may run concurrently.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runguard/attest/keys.h"
#include "runguard/common/status.h"

namespace runguard::attest {

// Payload types accepted after the signature check: in-toto statements, and a bare scanner report
// signed as it is (application/json, application/vnd.aquasec.trivy+json, application/vnd.anchore.grype+json).
bool is_supported_payload_type(std::string_view payload_type);

struct Signer {
  std::string id;      // key id "sha256:<hex>"
  std::string source;  // the key's file
  std::string type;    // key_type_name
};

struct VerifiedPayload {
  std::string format;           // "dsse" | "sigstore-bundle/0.1" | ".../0.2" | ".../0.3"
  std::string document_digest;  // "sha256:<hex>" of the file's bytes (the cache key)
  std::string payload_type;
  std::string payload;          // exactly the verified bytes
  std::vector<Signer> signers;  // distinct trusted keys that verified, in key order
};

class Verifier {
 public:
  virtual ~Verifier() = default;
  // `known_digest`: the document's "sha256:<hex>" when the caller already computed it (the store
  // hashes a file once to look its verdict up), else "" and the verifier computes it.
  virtual Result<VerifiedPayload> verify(std::string_view document, const std::string& source,
                                         std::string_view known_digest) const = 0;
  Result<VerifiedPayload> verify(std::string_view document, const std::string& source) const {
    return verify(document, source, {});
  }
};

// Trust = a set of public keys and a threshold of distinct keys (>= 1, <= keys.size()).
class KeyVerifier final : public Verifier {
 public:
  KeyVerifier(std::vector<PublicKey> keys, int threshold) : keys_(std::move(keys)), threshold_(threshold) {}
  using Verifier::verify;
  Result<VerifiedPayload> verify(std::string_view document, const std::string& source,
                                 std::string_view known_digest) const override;
  const std::vector<PublicKey>& keys() const { return keys_; }
  int threshold() const { return threshold_; }

 private:
  std::vector<PublicKey> keys_;
  int threshold_;
};

}  // namespace runguard::attest
