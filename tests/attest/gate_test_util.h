// A gate under test: settings trusting the P-256 test key, an image, a fixed "now", and
// attestations for it signed with the openssl CLI (attest_test_util.h). Header-only.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "attest_test_util.h"
#include "runguard/attest/gate.h"

namespace rgattest {

struct GateFixture {
  runguard::policy::AttestationSettings settings;
  runguard::attest::ImageRef image{"sha256:3c19aa980a9c5709a2c96c2d0779febf6e5e453b92b172ce84cb85fdaf695373", "registry.example/app:1"};
  int64_t now = *runguard::attest::parse_rfc3339("2026-11-28T12:00:00Z");

  GateFixture() {
    settings.present = true;
    settings.keys = {test_key(Kind::kP256).public_pem};
  }

  // Loads the current settings (each call reloads, so a test may change settings in between).
  const runguard::attest::GateSetup& setup() {
    auto g = runguard::attest::GateSetup::load(settings);
    if (!g.is_ok()) ADD_FAILURE() << "GateSetup::load: " << g.status().message();
    loaded_ = g.is_ok() ? *g : runguard::attest::GateSetup{};
    return *loaded_;
  }

  // A DSSE envelope over `payload` signed by `keys` (default: the trusted P-256 key).
  std::string signed_payload(const std::string& type, const std::string& payload, std::vector<const TestKey*> keys = {}) {
    if (keys.empty()) keys = {&test_key(Kind::kP256)};
    return runguard::dump_json(dsse_envelope(type, payload, keys));
  }

  // A cosign vuln/v1 statement for `digest` (default: the image) wrapping `report`, signed.
  std::string cosign_attestation(const Json& report, const std::string& finished = "2026-11-28T10:00:00Z", const std::string& digest = "",
                                 std::vector<const TestKey*> keys = {}) {
    Json st = statement(digest.empty() ? image.digest : digest, "https://cosign.sigstore.dev/attestation/vuln/v1",
                        cosign_vuln_predicate(report, finished));
    return signed_payload("application/vnd.in-toto+json", runguard::dump_json(st), std::move(keys));
  }

 private:
  std::optional<runguard::attest::GateSetup> loaded_;
};

}  // namespace rgattest
