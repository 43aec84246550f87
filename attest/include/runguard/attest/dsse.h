// DSSE envelopes (secure-systems-lab/dsse v1.0, reference/attestations.md §1).
//
//   {"payload": b64, "payloadType": str, "signatures": [{"keyid": str?, "sig": b64}, ...]}
//
// payload, payloadType, signatures and every sig are required (possibly empty); keyid is optional
// and never used for a security decision; unknown fields are ignored. Base64 may be standard or
// URL-safe, padded or not. Signatures are over PAE(payloadType, payload):
//   "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body   (LEN = decimal byte length)
// Pure: no I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runguard/attest/keys.h"
#include "runguard/common/json.h"
#include "runguard/common/status.h"

namespace runguard::attest {

struct DsseSignature {
  std::string keyid;  // "" when absent
  std::string sig;    // decoded bytes
};

struct DsseEnvelope {
  std::string payload_type;
  std::string payload;  // decoded bytes: exactly what was signed
  std::vector<DsseSignature> signatures;
};

// kInvalidArgument naming `source` and the field ("…: signatures[1].sig: not base64").
// An envelope with no signatures parses (verification then fails with "not signed").
Result<DsseEnvelope> parse_dsse(const Json& j, const std::string& source);

std::string pae(std::string_view payload_type, std::string_view payload);

// Which of `keys` signed: every distinct key (by id) with at least one signature that verifies over
// PAE. The same key signing twice counts once. `unverified` counts signatures no key verified.
struct DsseCheck {
  std::vector<const PublicKey*> signers;  // pointers into `keys`, in key order
  size_t unverified = 0;                  // signatures no trusted key verified
};
DsseCheck check_dsse_signatures(const DsseEnvelope& env, const std::vector<PublicKey>& keys);

}  // namespace runguard::attest
