// DSSE envelopes: parsing, PAE and signature checks (dsse.h has the contract).
#include "runguard/attest/dsse.h"

#include "runguard/attest/limits.h"
#include "runguard/common/base64.h"

namespace runguard::attest {
namespace {

Status field_error(const std::string& source, const std::string& field, const std::string& why) {
  return invalid(source + ": " + field + ": " + why);
}

// A required string member of `obj`, or an error naming it.
Result<std::string> required_string(const Json& obj, const char* key, const std::string& source, const std::string& prefix) {
  auto it = obj.find(key);
  std::string field = prefix + key;
  if (it == obj.end()) return field_error(source, field, "missing (required, even when empty)");
  if (!it->is_string()) return field_error(source, field, std::string("must be a string, not ") + json_type_name(*it));
  return it->get<std::string>();
}

Result<DsseSignature> parse_signature(const Json& j, size_t index, const std::string& source) {
  std::string prefix = "signatures[" + std::to_string(index) + "].";
  if (!j.is_object()) {
    return field_error(source, "signatures[" + std::to_string(index) + "]", std::string("must be an object, not ") + json_type_name(j));
  }
  DsseSignature sig;
  RG_ASSIGN_OR_RETURN(std::string sig_b64, required_string(j, "sig", source, prefix));
  RG_ASSIGN_OR_RETURN(sig.sig, base64_decode(sig_b64, source + ": " + prefix + "sig"));
  // keyid is optional and "unset == empty"; proto3 JSON may also spell unset as null.
  auto it = j.find("keyid");
  if (it != j.end() && !it->is_null()) {
    if (!it->is_string()) return field_error(source, prefix + "keyid", std::string("must be a string, not ") + json_type_name(*it));
    sig.keyid = it->get<std::string>();
  }
  return sig;
}

}  // namespace

Result<DsseEnvelope> parse_dsse(const Json& j, const std::string& source) {
  if (!j.is_object()) return invalid(source + ": a DSSE envelope must be a JSON object, not " + json_type_name(j));
  DsseEnvelope env;
  RG_ASSIGN_OR_RETURN(env.payload_type, required_string(j, "payloadType", source, ""));
  RG_ASSIGN_OR_RETURN(std::string payload_b64, required_string(j, "payload", source, ""));
  RG_ASSIGN_OR_RETURN(env.payload, base64_decode(payload_b64, source + ": payload"));
  auto sigs = j.find("signatures");
  if (sigs == j.end()) return field_error(source, "signatures", "missing (required, even when empty)");
  if (!sigs->is_array()) return field_error(source, "signatures", std::string("must be an array, not ") + json_type_name(*sigs));
  if (sigs->size() > kMaxSignatures) {
    return field_error(source, "signatures",
                       std::to_string(sigs->size()) + " signatures, above the limit of " + std::to_string(kMaxSignatures));
  }
  env.signatures.reserve(sigs->size());
  for (size_t i = 0; i < sigs->size(); ++i) {
    RG_ASSIGN_OR_RETURN(DsseSignature sig, parse_signature((*sigs)[i], i, source));
    env.signatures.push_back(std::move(sig));
  }
  return env;
}

std::string pae(std::string_view payload_type, std::string_view payload) {
  std::string out = "DSSEv1 ";
  out.reserve(out.size() + payload_type.size() + payload.size() + 48);
  out += std::to_string(payload_type.size());
  out += ' ';
  out += payload_type;
  out += ' ';
  out += std::to_string(payload.size());
  out += ' ';
  out += payload;
  return out;
}

DsseCheck check_dsse_signatures(const DsseEnvelope& env, const std::vector<PublicKey>& keys) {
  // keyid is an unauthenticated hint (DSSE protocol): every key is tried on every signature, so a
  // wrong or missing keyid can neither reject a good signature nor select a key.
  std::string message = pae(env.payload_type, env.payload);
  std::vector<bool> verified(env.signatures.size(), false);
  DsseCheck check;
  for (size_t k = 0; k < keys.size(); ++k) {
    bool duplicate = false;
    for (size_t e = 0; e < k && !duplicate; ++e) duplicate = keys[e].id() == keys[k].id();
    if (duplicate) continue;  // the same key listed twice is one signer
    bool signed_by_key = false;
    for (size_t s = 0; s < env.signatures.size(); ++s) {
      // A signature one key verified cannot be another distinct key's: skip the extra verify.
      if (verified[s]) continue;
      if (keys[k].verify(message, env.signatures[s].sig)) {
        verified[s] = true;
        signed_by_key = true;
      }
    }
    if (signed_by_key) check.signers.push_back(&keys[k]);
  }
  for (bool v : verified) check.unverified += v ? 0 : 1;
  return check;
}

}  // namespace runguard::attest
