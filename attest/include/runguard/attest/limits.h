// Bounds on everything attest/ reads. An attestation, a report or a VEX document is written by CI
// but travels through registries and sync jobs: a document above these limits is refused with a
// message naming the limit, before it is parsed.
#pragma once

#include <cstddef>

namespace runguard::attest {

// One attestation file (DSSE envelope or sigstore bundle). A 2 MB Trivy report base64-encoded in
// an envelope is ~2.7 MB; the largest real image reports seen are ~10 MB.
inline constexpr size_t kMaxAttestationBytes = 32u << 20;
// One VEX document, one key file.
inline constexpr size_t kMaxVexBytes = 8u << 20;
inline constexpr size_t kMaxKeyBytes = 64u << 10;
// Signatures looked at in one envelope (more are refused: nobody needs them, and each costs a verify).
inline constexpr size_t kMaxSignatures = 32;
// Attestation files for one image in the store. More fails the image ("remove old ones"): ignoring
// some would let copies of an old passing scan hide a newer failing one.
inline constexpr size_t kMaxStoreFiles = 64;
// Findings in one report (a report with more is refused, not truncated: truncation would pass).
inline constexpr size_t kMaxFindings = 500000;

}  // namespace runguard::attest
