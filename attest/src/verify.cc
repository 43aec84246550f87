// KeyVerifier: an attestation file's bytes to a payload signed by enough trusted keys (verify.h).
#include "fast_json.h"
#include "runguard/attest/verify.h"

#include "runguard/attest/bundle.h"
#include "runguard/attest/dsse.h"
#include "runguard/attest/limits.h"
#include "runguard/attest/statement.h"
#include "runguard/common/json.h"

namespace runguard::attest {
namespace {

// The envelope and how it was carried ("dsse" or "sigstore-bundle/<version>").
struct Unwrapped {
  std::string format;
  DsseEnvelope envelope;
};

Result<Unwrapped> unwrap(const Json& j, const std::string& source) {
  if (!j.is_object()) {
    return invalid(source + ": not a DSSE envelope or sigstore bundle: the document is a JSON " + json_type_name(j) +
                   ", not an object");
  }
  if (is_sigstore_bundle(j)) {
    RG_ASSIGN_OR_RETURN(SigstoreBundle b, parse_bundle(j, source));
    return Unwrapped{"sigstore-bundle/" + b.version, std::move(b.envelope)};
  }
  if (j.contains("mediaType") && !j.contains("payload")) {
    return invalid(source + ": not a DSSE envelope or sigstore bundle: mediaType " + dump_json(j["mediaType"]) +
                   " is not a sigstore bundle's");
  }
  if (!j.contains("payload") && !j.contains("payloadType") && !j.contains("signatures")) {
    return invalid(source +
                   ": not a DSSE envelope or sigstore bundle: no payload, payloadType or signatures, and no sigstore "
                   "bundle mediaType");
  }
  RG_ASSIGN_OR_RETURN(DsseEnvelope env, parse_dsse(j, source));
  return Unwrapped{"dsse", std::move(env)};
}

}  // namespace

bool is_supported_payload_type(std::string_view payload_type) {
  return is_in_toto_payload_type(payload_type) || payload_type == "application/json" ||
         payload_type == "application/vnd.aquasec.trivy+json" || payload_type == "application/vnd.anchore.grype+json";
}

Result<VerifiedPayload> KeyVerifier::verify(std::string_view document, const std::string& source,
                                            std::string_view known_digest) const {
  // A threshold outside [1, keys] would make "enough signers" meaningless (0 passes anything).
  if (threshold_ < 1 || static_cast<size_t>(threshold_) > keys_.size()) {
    return invalid(source + ": attestation threshold " + std::to_string(threshold_) +
                   " must be between 1 and the number of trusted keys (" + std::to_string(keys_.size()) + ")");
  }
  if (document.size() > kMaxAttestationBytes) {
    return invalid(source + ": " + std::to_string(document.size()) + " bytes, above the limit of " +
                   std::to_string(kMaxAttestationBytes) + " bytes");
  }
  // The envelope is mostly one multi-megabyte base64 string: the fast reader (fast_json.h).
  RG_ASSIGN_OR_RETURN(Json j, internal::parse_json_fast(document, source));
  RG_ASSIGN_OR_RETURN(Unwrapped u, unwrap(j, source));

  DsseCheck check = check_dsse_signatures(u.envelope, keys_);
  if (check.signers.empty()) return Status(Code::kDenied, source + ": not signed by a trusted key");
  if (check.signers.size() < static_cast<size_t>(threshold_)) {
    return Status(Code::kDenied, source + ": signed by " + std::to_string(check.signers.size()) + " of the required " +
                                     std::to_string(threshold_) + " distinct trusted keys");
  }
  // After the signature check, as DSSE orders it: payloadType is inside PAE, so a swapped type has
  // already failed above; this refuses signed content we do not know how to read.
  if (!is_supported_payload_type(u.envelope.payload_type)) {
    return Status(Code::kDenied, source + ": unsupported payloadType \"" + u.envelope.payload_type +
                                     "\" (expected an in-toto statement, application/json, "
                                     "application/vnd.aquasec.trivy+json or application/vnd.anchore.grype+json)");
  }

  VerifiedPayload out;
  out.format = std::move(u.format);
  out.document_digest = known_digest.empty() ? sha256_digest(document) : std::string(known_digest);
  out.payload_type = std::move(u.envelope.payload_type);
  out.payload = std::move(u.envelope.payload);
  out.signers.reserve(check.signers.size());
  for (const PublicKey* k : check.signers) out.signers.push_back(Signer{k->id(), k->source(), key_type_name(k->type())});
  return out;
}

}  // namespace runguard::attest
