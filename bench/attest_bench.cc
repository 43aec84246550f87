// The attestation gate's in-process cost (docs/benchmarks.md, "Attestation gate"):
//   BM_VerifyAndGate_2MB   check_document on a cosign vuln/v1 attestation carrying a ~2 MB Trivy
//                          report (3000 findings): parse the envelope, verify an ECDSA P-256
//                          signature over PAE, parse the statement and report, judge every finding;
//   BM_CheckStore_CacheHit check_store for the same image with a warmed MemoryVerdictCache
//                          (stat + two map lookups, no attestation bytes read);
//   BM_ParseTrivy_2MB      the report alone, as the gate reads a bare signed report: the fast
//                          reader (unused members skipped) + normalisation;
//   BM_ParseTrivy_2MB_Dom  the same through common/json.h's full nlohmann DOM, for comparison
//                          (why attest/src/fast_json.h exists).
// The key is generated and the envelope signed in-process with OpenSSL at start-up.
// Run: attest_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include "runguard/attest/gate.h"
#include "runguard/attest/keys.h"
#include "runguard/attest/report.h"
#include "runguard/common/base64.h"
#include "runguard/common/json.h"

namespace {

using runguard::Json;
namespace attest = runguard::attest;

constexpr int kFindings = 1800;
const char* const kSeverities[] = {"LOW", "MEDIUM", "LOW", "MEDIUM", "HIGH", "UNKNOWN", "LOW"};

// A realistic Trivy report: debian packages, descriptions, CVSS blocks, references.
Json big_trivy_report(const std::string& image_digest) {
  Json vulns = Json::array();
  std::string description =
      "A flaw in the parser lets crafted input cause an out-of-bounds read; a remote attacker supplying such input to an "
      "application linked against the affected version could crash it (denial of service).";
  for (int i = 0; i < kFindings; ++i) {
    std::string pkg = "libpkg" + std::to_string(i % 400);
    std::string sev = kSeverities[i % 7];
    bool fixable = sev != "HIGH" && sev != "UNKNOWN" && i % 3 != 0;
    Json v = {{"VulnerabilityID", "CVE-2024-" + std::to_string(10000 + i)},
              {"PkgID", pkg + "@1.2." + std::to_string(i % 17) + "-1"},
              {"PkgName", pkg},
              {"PkgIdentifier", {{"PURL", "pkg:deb/debian/" + pkg + "@1.2." + std::to_string(i % 17) + "-1?arch=amd64&distro=debian-12"}, {"UID", std::to_string(i * 7919)}}},
              {"InstalledVersion", "1.2." + std::to_string(i % 17) + "-1"},
              {"Status", fixable ? "fixed" : "affected"},
              {"Layer", {{"DiffID", "sha256:" + std::string(64, 'a' + i % 6)}}},
              {"SeveritySource", "debian"},
              {"PrimaryURL", "https://avd.aquasec.com/nvd/cve-2024-" + std::to_string(10000 + i)},
              {"DataSource", {{"ID", "debian"}, {"Name", "Debian Security Tracker"}, {"URL", "https://salsa.debian.org/security-tracker-team"}}},
              {"Title", pkg + ": crafted input leads to out-of-bounds read in parser"},
              {"Description", description},
              {"Severity", sev},
              {"CweIDs", {"CWE-125"}},
              {"VendorSeverity", {{"debian", 1 + i % 3}, {"nvd", 2 + i % 2}}},
              {"CVSS", {{"nvd", {{"V3Vector", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}, {"V3Score", 7.5}}}}},
              {"References", {"https://nvd.nist.gov/vuln/detail/CVE-2024-" + std::to_string(10000 + i)}},
              {"PublishedDate", "2024-03-01T15:15:00Z"},
              {"LastModifiedDate", "2024-06-11T09:00:00Z"}};
    if (fixable) v["FixedVersion"] = "1.2." + std::to_string(i % 17) + "-2";
    vulns.push_back(std::move(v));
  }
  return {{"SchemaVersion", 2},
          {"Trivy", {{"Version", "0.50.0"}}},
          {"CreatedAt", "2026-11-28T10:00:00Z"},
          {"ArtifactName", "registry.example/app:1"},
          {"ArtifactType", "container_image"},
          {"Metadata", {{"RepoDigests", {"registry.example/app@" + image_digest}}}},
          {"Results", {{{"Target", "registry.example/app:1 (debian 12.5)"}, {"Class", "os-pkgs"}, {"Type", "debian"}, {"Vulnerabilities", vulns}}}}};
}

std::string pae(const std::string& type, const std::string& body) {
  return "DSSEv1 " + std::to_string(type.size()) + " " + type + " " + std::to_string(body.size()) + " " + body;
}

struct Fixture {
  std::string dir;
  std::string report_bytes;
  std::string attestation;
  attest::ImageRef image{"sha256:3c19aa980a9c5709a2c96c2d0779febf6e5e453b92b172ce84cb85fdaf695373", "registry.example/app:1"};
  int64_t now = *attest::parse_rfc3339("2026-11-28T12:00:00Z");
  std::unique_ptr<attest::GateSetup> setup;

  Fixture() {
    char tmpl[] = "/tmp/rg-attest-bench-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
    dir = tmpl;

    EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    if (!key) throw std::runtime_error("keygen");
    std::string pub = dir + "/ci.pub";
    FILE* f = std::fopen(pub.c_str(), "w");
    PEM_write_PUBKEY(f, key);
    std::fclose(f);

    Json report = big_trivy_report(image.digest);
    report_bytes = runguard::dump_json(report);
    Json statement = {{"_type", "https://in-toto.io/Statement/v0.1"},
                      {"subject", {{{"name", "registry.example/app"}, {"digest", {{"sha256", image.digest.substr(7)}}}}}},
                      {"predicateType", "https://cosign.sigstore.dev/attestation/vuln/v1"},
                      {"predicate",
                       {{"invocation", {{"parameters", nullptr}, {"uri", ""}, {"event_id", ""}, {"builder.id", ""}}},
                        {"scanner", {{"uri", "pkg:github/aquasecurity/trivy@0.50.0"}, {"version", "0.50.0"}, {"db", {{"uri", ""}, {"version", ""}}}, {"result", report}}},
                        {"metadata", {{"scanStartedOn", "2026-11-28T10:00:00Z"}, {"scanFinishedOn", "2026-11-28T10:00:00Z"}}}}}};
    std::string payload = runguard::dump_json(statement);
    std::string type = "application/vnd.in-toto+json";
    std::string message = pae(type, payload);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t sig_len = 0;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
    EVP_DigestSign(ctx, nullptr, &sig_len, reinterpret_cast<const unsigned char*>(message.data()), message.size());
    std::string sig(sig_len, '\0');
    if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &sig_len, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) != 1) {
      throw std::runtime_error("sign");
    }
    sig.resize(sig_len);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    Json env = {{"payloadType", type}, {"payload", runguard::base64_encode(payload)}, {"signatures", {{{"keyid", ""}, {"sig", runguard::base64_encode(sig)}}}}};
    attestation = runguard::dump_json(env);

    std::string store_dir = dir + "/store/sha256/" + image.digest.substr(7);
    std::filesystem::create_directories(store_dir);
    std::ofstream(store_dir + "/scan.json", std::ios::binary) << attestation;

    runguard::policy::AttestationSettings s;
    s.present = true;
    s.keys = {pub};
    s.max_unfixable = runguard::policy::VulnSeverity::kHigh;
    s.max_fixable = runguard::policy::VulnSeverity::kMedium;
    auto g = attest::GateSetup::load(s);
    if (!g.is_ok()) throw std::runtime_error(g.status().message());
    setup = std::make_unique<attest::GateSetup>(std::move(g).value());
    attest::GateResult r = attest::check_document(*setup, attestation, image, now, "scan.json");
    if (!r.passed) throw std::runtime_error("fixture attestation does not pass: " + r.summary);
    std::fprintf(stderr, "attest_bench: report %zu bytes, attestation %zu bytes, %d findings\n", report_bytes.size(), attestation.size(), kFindings);
  }
  ~Fixture() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void BM_VerifyAndGate_2MB(benchmark::State& state) {
  Fixture& f = fixture();
  for (auto _ : state) {
    attest::GateResult r = attest::check_document(*f.setup, f.attestation, f.image, f.now, "scan.json");
    if (!r.passed) state.SkipWithError(r.summary.c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(f.attestation.size()));
}
BENCHMARK(BM_VerifyAndGate_2MB)->Unit(benchmark::kMillisecond);

void BM_CheckStore_CacheHit(benchmark::State& state) {
  Fixture& f = fixture();
  attest::MemoryVerdictCache cache;
  std::string store = f.dir + "/store";
  attest::check_store(*f.setup, store, f.image, f.now, &cache);  // warm
  for (auto _ : state) {
    attest::GateResult r = attest::check_store(*f.setup, store, f.image, f.now, &cache);
    if (!r.passed) state.SkipWithError(r.summary.c_str());
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_CheckStore_CacheHit)->Unit(benchmark::kMicrosecond);

void BM_ParseTrivy_2MB(benchmark::State& state) {
  Fixture& f = fixture();
  for (auto _ : state) {
    auto r = attest::report_from_payload("application/vnd.aquasec.trivy+json", f.report_bytes, "report.json");
    if (!r.is_ok() || r->findings.size() != kFindings) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(f.report_bytes.size()));
}
BENCHMARK(BM_ParseTrivy_2MB)->Unit(benchmark::kMillisecond);

void BM_ParseTrivy_2MB_Dom(benchmark::State& state) {
  Fixture& f = fixture();
  for (auto _ : state) {
    auto j = runguard::parse_json(f.report_bytes, "report.json");
    auto r = attest::report_from_json(*j, "report.json");
    if (!r.is_ok() || r->findings.size() != kFindings) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(f.report_bytes.size()));
}
BENCHMARK(BM_ParseTrivy_2MB_Dom)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
