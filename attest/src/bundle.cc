// Sigstore bundles holding a DSSE envelope, verified with a public key (bundle.h has the contract).
#include "runguard/attest/bundle.h"

#include <array>
#include <utility>

namespace runguard::attest {
namespace {

constexpr std::string_view kMediaTypePrefix = "application/vnd.dev.sigstore.bundle";

// Every spelling clients must accept (protobuf-specs sigstore_bundle.proto), and its version.
constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kMediaTypes = {{
    {"application/vnd.dev.sigstore.bundle+json;version=0.1", "0.1"},
    {"application/vnd.dev.sigstore.bundle+json;version=0.2", "0.2"},
    {"application/vnd.dev.sigstore.bundle+json;version=0.3", "0.3"},
    {"application/vnd.dev.sigstore.bundle.v0.3+json", "0.3"},
}};

Result<const Json*> member_object(const Json& obj, const char* key, const std::string& source, const std::string& field,
                                  bool required) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) return invalid(source + ": " + field + ": missing");
    return static_cast<const Json*>(nullptr);
  }
  if (!it->is_object()) return invalid(source + ": " + field + ": must be an object, not " + json_type_name(*it));
  return &*it;
}

// Verification material: a public key hint, or the keyless material we refuse.
Status parse_material(const Json& vm, const std::string& source, SigstoreBundle& out) {
  for (const char* keyless : {"certificate", "x509CertificateChain"}) {
    if (vm.contains(keyless)) {
      return invalid(source + ": verificationMaterial." + keyless +
                     ": keyless verification (a Fulcio certificate) is not supported yet: sign the attestation with a key "
                     "listed in attestation.keys");
    }
  }
  RG_ASSIGN_OR_RETURN(const Json* pk, member_object(vm, "publicKey", source, "verificationMaterial.publicKey", true));
  auto hint = pk->find("hint");
  if (hint != pk->end() && !hint->is_null()) {
    if (!hint->is_string()) {
      return invalid(source + ": verificationMaterial.publicKey.hint: must be a string, not " + json_type_name(*hint));
    }
    out.public_key_hint = hint->get<std::string>();
  }
  auto tlog = vm.find("tlogEntries");
  if (tlog != vm.end() && !tlog->is_null()) {
    if (!tlog->is_array()) {
      return invalid(source + ": verificationMaterial.tlogEntries: must be an array, not " + json_type_name(*tlog));
    }
    out.tlog_entries = tlog->size();
  }
  return Status::ok();
}

}  // namespace

bool is_sigstore_bundle(const Json& j) {
  if (!j.is_object()) return false;
  auto it = j.find("mediaType");
  if (it == j.end() || !it->is_string()) return false;
  const std::string& mt = it->get_ref<const std::string&>();
  return mt.compare(0, kMediaTypePrefix.size(), kMediaTypePrefix) == 0;
}

Result<SigstoreBundle> parse_bundle(const Json& j, const std::string& source) {
  if (!j.is_object()) return invalid(source + ": a sigstore bundle must be a JSON object, not " + std::string(json_type_name(j)));
  SigstoreBundle b;
  auto mt = j.find("mediaType");
  if (mt == j.end() || !mt->is_string()) return invalid(source + ": mediaType: missing or not a string");
  b.media_type = mt->get<std::string>();
  for (const auto& [name, version] : kMediaTypes) {
    if (b.media_type == name) b.version = version;
  }
  if (b.version.empty()) {
    return invalid(source + ": unknown sigstore bundle mediaType \"" + b.media_type +
                   "\" (supported: application/vnd.dev.sigstore.bundle+json;version=0.1|0.2|0.3 and "
                   "application/vnd.dev.sigstore.bundle.v0.3+json)");
  }
  if (j.contains("messageSignature")) {
    return invalid(source +
                   ": a messageSignature bundle signs a blob, it is not an attestation: attest the image with a DSSE "
                   "envelope (cosign attest)");
  }
  RG_ASSIGN_OR_RETURN(const Json* vm, member_object(j, "verificationMaterial", source, "verificationMaterial", true));
  RG_RETURN_IF_ERROR(parse_material(*vm, source, b));
  RG_ASSIGN_OR_RETURN(const Json* env, member_object(j, "dsseEnvelope", source, "dsseEnvelope", true));
  RG_ASSIGN_OR_RETURN(b.envelope, parse_dsse(*env, source + ": dsseEnvelope"));
  if (b.envelope.signatures.size() != 1) {
    return invalid(source + ": dsseEnvelope: has " + std::to_string(b.envelope.signatures.size()) +
                   " signatures; a sigstore bundle carries exactly one");
  }
  const std::string& keyid = b.envelope.signatures[0].keyid;
  if (!b.public_key_hint.empty() && !keyid.empty() && keyid != b.public_key_hint) {
    return invalid(source + ": dsseEnvelope.signatures[0].keyid \"" + keyid +
                   "\" does not match verificationMaterial.publicKey.hint \"" + b.public_key_hint + "\"");
  }
  return b;
}

}  // namespace runguard::attest
