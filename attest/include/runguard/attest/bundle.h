// Sigstore bundles whose content is a DSSE envelope (reference/attestations.md §4).
//
// mediaType: application/vnd.dev.sigstore.bundle+json;version=0.1|0.2|0.3 or
// application/vnd.dev.sigstore.bundle.v0.3+json. verificationMaterial.publicKey{hint} is the only
// verification material supported for now: a bundle with a certificate or certificate chain
// (keyless, Fulcio) is refused with "keyless verification (a Fulcio certificate) is not supported yet"
// (kInvalidArgument)
// rather than accepted unverified, and a messageSignature bundle is refused as not an attestation.
// tlogEntries and timestampVerificationData are parsed for their count only: with a key, trust
// comes from the key (transparency-log verification is the keyless step's).
// In a bundle the envelope must carry exactly one signature, and when the key hint is set the
// signature's keyid must equal it (when the keyid is set). Pure: no I/O.
#pragma once

#include <string>

#include "runguard/attest/dsse.h"
#include "runguard/common/json.h"
#include "runguard/common/status.h"

namespace runguard::attest {

struct SigstoreBundle {
  std::string media_type;
  std::string version;          // "0.1" | "0.2" | "0.3"
  std::string public_key_hint;  // "" when absent
  size_t tlog_entries = 0;
  DsseEnvelope envelope;
};

// Whether `j` looks like a bundle (an object with a string "mediaType" naming a sigstore bundle)
// rather than a bare DSSE envelope.
bool is_sigstore_bundle(const Json& j);

Result<SigstoreBundle> parse_bundle(const Json& j, const std::string& source);

}  // namespace runguard::attest
