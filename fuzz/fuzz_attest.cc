// Attestation documents as CI, a registry or a sync job could shape them (attest/): the first
// byte picks the reader, the rest is the document.
//   0: KeyVerifier::verify (DSSE envelope or sigstore bundle) and, when it verifies, the report;
//   1: report_from_payload as an in-toto statement;  2: as a bare Trivy/Grype report;
//   3: an OpenVEX document;  4: the gate over the document (check_document) with a fixed policy.
// Nothing may crash, throw or hang; a verified payload must be the bytes the envelope carried.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "runguard/attest/gate.h"
#include "runguard/attest/report.h"
#include "runguard/attest/verify.h"
#include "runguard/attest/vex.h"

namespace {

// A fixed P-256 key: nothing here verifies unless the fuzzer forges ECDSA.
constexpr char kKey[] = R"(-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEQxNuy9ViuSCaj5U5Hnj183MI2nWp
dL/HqBTtKC9HKmPQN6cZuCnpUybVk2LPDloBN7vEBHiqXTBt3b7VB9aCag==
-----END PUBLIC KEY-----)";

const runguard::attest::KeyVerifier& verifier() {
  static const runguard::attest::KeyVerifier v({*runguard::attest::PublicKey::from_pem(kKey, "fuzz.pub")}, 1);
  return v;
}

const runguard::attest::GateSetup& setup() {
  static const runguard::attest::GateSetup g = [] {
    runguard::attest::GateSetup s;
    s.settings.present = true;
    s.verifier = std::make_shared<runguard::attest::KeyVerifier>(verifier());
    s.vex = std::make_shared<runguard::attest::VexIndex>();
    s.digest = "sha256:" + std::string(64, '0');
    return s;
  }();
  return g;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view doc(reinterpret_cast<const char*>(data + 1), size - 1);
  const runguard::attest::ImageRef image{"sha256:" + std::string(64, 'a'), "registry.example/app:1"};
  switch (data[0] % 5) {
    case 0: {
      auto v = verifier().verify(doc, "fuzz.json");
      if (v.is_ok()) (void)runguard::attest::report_from_payload(v->payload_type, v->payload, "fuzz.json");
      break;
    }
    case 1:
      (void)runguard::attest::report_from_payload("application/vnd.in-toto+json", doc, "fuzz.json");
      break;
    case 2:
      (void)runguard::attest::report_from_payload("application/json", doc, "fuzz.json");
      break;
    case 3: {
      auto j = runguard::parse_json(doc, "fuzz.json");
      runguard::attest::VexIndex vex;
      if (j.is_ok() && vex.add_document(*j, "fuzz.json").is_ok()) {
        runguard::attest::VulnFinding f;
        f.id = "CVE-2024-1";
        f.purl = "pkg:deb/debian/openssl@3.0.2";
        (void)vex.suppression(f, image);
      }
      break;
    }
    default: {
      bool input_error = false;
      auto r = runguard::attest::check_document(setup(), doc, image, 1800000000, "fuzz.json", nullptr, &input_error);
      if (r.passed) __builtin_trap();  // nothing is signed by the fixed key
      break;
    }
  }
  return 0;
}
