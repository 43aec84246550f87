// `runguardctl attest`: the image scan attestation gate from the command line (docs/attestation.md).
//
//   attest verify --policy P --image-digest sha256:HEX (--attestation FILE | --store DIR)
//                 [--image NAME] [--now RFC3339] [--format text|json]
//       The policy's `attestation:` settings (a file may hold only that section) against one
//       attestation file or the store's attestations for the image, exactly as the runtime's gate
//       judges them. Exit 0 pass, 1 fail, 2 input error (bad flags, policy unreadable or its gate
//       off, a key file that does not load, an attestation that cannot be read as one).
//       --format json prints the verdict detail (attest/gate.h), which always has
//       {"verified","passed","signers","age","findings":{"blocking","suppressed"},"reasons"}.
//   attest inspect FILE [--format text|json]
//       Parses a DSSE envelope, sigstore bundle or bare Trivy/Grype report WITHOUT verifying any
//       signature (the output says so) and prints the normalised findings. Exit 0, 2 when the file
//       cannot be read as one.
#pragma once

#include <string>
#include <vector>

namespace runguard::cli {

int cmd_attest(const std::vector<std::string>& args);

}  // namespace runguard::cli
