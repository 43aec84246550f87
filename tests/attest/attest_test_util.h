// Helpers shared by the attest tests: keys of every supported type and signatures made with the
// `openssl` CLI (an implementation independent of the code under test), DSSE envelopes, sigstore
// bundles and in-toto statements built from them. Keys are generated once per test binary into a
// temporary directory removed at exit. Header-only.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "runguard/common/base64.h"
#include "runguard/common/json.h"

namespace rgattest {

using runguard::Json;

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// Runs a shell command; fails the test (and returns false) on a non-zero exit.
inline bool sh(const std::string& cmd) {
  int rc = std::system((cmd + " 2>/tmp/rg-attest-openssl.err").c_str());
  if (rc != 0) {
    ADD_FAILURE() << "command failed (" << rc << "): " << cmd << "\n" << read_all("/tmp/rg-attest-openssl.err");
    return false;
  }
  return true;
}

// A temporary directory removed with its contents when the object goes.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/rg-attest-XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    path_ = p ? p : "/tmp/rg-attest-failed";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Key kinds the tests use. kRsaPss signs with PSS, kRsa with PKCS#1 v1.5 (same key type).
enum class Kind { kP256, kP384, kEd25519, kRsa, kRsaPss };

inline const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kP256: return "p256";
    case Kind::kP384: return "p384";
    case Kind::kEd25519: return "ed25519";
    case Kind::kRsa: return "rsa";
    case Kind::kRsaPss: return "rsa-pss";
  }
  return "?";
}

struct TestKey {
  Kind kind;
  std::string private_pem;  // path
  std::string public_pem;   // path
};

// One directory of keys for the whole test binary; `slot` gives distinct keys of one kind
// (slot 0 and 1 of kP256 are two different keys).
class KeyRing {
 public:
  static KeyRing& get() {
    static KeyRing ring;
    return ring;
  }
  const TestKey& key(Kind kind, int slot = 0) {
    std::string name = std::string(kind_name(kind == Kind::kRsaPss ? Kind::kRsa : kind)) + "-" + std::to_string(slot);
    auto it = keys_.find(name);
    if (it == keys_.end()) {
      TestKey k{kind, dir_.file(name + ".pem"), dir_.file(name + ".pub")};
      std::string gen;
      switch (kind) {
        case Kind::kP256: gen = "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256"; break;
        case Kind::kP384: gen = "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384"; break;
        case Kind::kEd25519: gen = "openssl genpkey -algorithm ED25519"; break;
        case Kind::kRsa:
        case Kind::kRsaPss: gen = "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048"; break;
      }
      sh(gen + " -out " + k.private_pem);
      sh("openssl pkey -in " + k.private_pem + " -pubout -out " + k.public_pem);
      it = keys_.emplace(name, k).first;
    }
    TestKey k = it->second;
    k.kind = kind;
    scratch_.push_back(k);
    return scratch_.back();
  }
  std::string dir() const { return dir_.path(); }

 private:
  KeyRing() = default;
  TempDir dir_;
  std::map<std::string, TestKey> keys_;
  std::deque<TestKey> scratch_;  // stable references for callers (a deque never moves its elements)
};

inline const TestKey& test_key(Kind kind, int slot = 0) { return KeyRing::get().key(kind, slot); }

// Signs `message` with the key through the openssl CLI; returns the raw signature bytes.
inline std::string openssl_sign(const TestKey& key, const std::string& message) {
  TempDir tmp;
  std::string msg = tmp.file("msg"), sig = tmp.file("sig");
  write_all(msg, message);
  std::string cmd;
  switch (key.kind) {
    case Kind::kP256: cmd = "openssl dgst -sha256 -sign " + key.private_pem; break;
    case Kind::kP384: cmd = "openssl dgst -sha384 -sign " + key.private_pem; break;
    case Kind::kRsa: cmd = "openssl dgst -sha256 -sign " + key.private_pem; break;
    case Kind::kRsaPss:
      cmd = "openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1 -sign " + key.private_pem;
      break;
    case Kind::kEd25519: cmd = "openssl pkeyutl -sign -rawin -inkey " + key.private_pem + " -in " + msg + " -out " + sig; break;
  }
  if (key.kind != Kind::kEd25519) cmd += " -out " + sig + " " + msg;
  if (!sh(cmd)) return "";
  return read_all(sig);
}

inline std::string pae_bytes(const std::string& type, const std::string& body) {
  return "DSSEv1 " + std::to_string(type.size()) + " " + type + " " + std::to_string(body.size()) + " " + body;
}

// A DSSE envelope over `payload`, signed by each key (in order) over PAE, standard base64.
inline Json dsse_envelope(const std::string& payload_type, const std::string& payload, const std::vector<const TestKey*>& keys,
                          const std::string& keyid = "") {
  Json sigs = Json::array();
  for (const TestKey* k : keys) {
    sigs.push_back({{"keyid", keyid}, {"sig", runguard::base64_encode(openssl_sign(*k, pae_bytes(payload_type, payload)))}});
  }
  return {{"payloadType", payload_type}, {"payload", runguard::base64_encode(payload)}, {"signatures", sigs}};
}

// The sigstore hint of a public key file: base64(sha256(DER SPKI)), computed by openssl.
inline std::string key_hint(const TestKey& key) {
  TempDir tmp;
  sh("openssl pkey -pubin -in " + key.public_pem + " -outform DER -out " + tmp.file("der") + " && openssl dgst -sha256 -binary -out " +
     tmp.file("h") + " " + tmp.file("der"));
  return runguard::base64_encode(read_all(tmp.file("h")));
}

// A sigstore bundle v0.3 holding a DSSE envelope signed by `key`, key hint set, no tlog entries.
inline Json sigstore_bundle(const std::string& payload_type, const std::string& payload, const TestKey& key,
                            const std::string& media_type = "application/vnd.dev.sigstore.bundle.v0.3+json") {
  std::string hint = key_hint(key);
  Json env = dsse_envelope(payload_type, payload, {&key}, hint);
  return {{"mediaType", media_type},
          {"verificationMaterial", {{"publicKey", {{"hint", hint}}}, {"timestampVerificationData", Json::object()}}},
          {"dsseEnvelope", env}};
}

// An in-toto statement binding `predicate` to the image digest "sha256:<hex>".
inline Json statement(const std::string& image_digest, const std::string& predicate_type, const Json& predicate,
                      const std::string& type = "https://in-toto.io/Statement/v0.1") {
  std::string hex = image_digest.substr(image_digest.find(':') + 1);
  return {{"_type", type},
          {"subject", {{{"name", "registry.example/app"}, {"digest", {{"sha256", hex}}}}}},
          {"predicateType", predicate_type},
          {"predicate", predicate}};
}

// A cosign vuln/v1 predicate wrapping a scanner report, scanned at `finished` (RFC 3339).
inline Json cosign_vuln_predicate(const Json& report, const std::string& finished, const std::string& scanner = "trivy") {
  return {{"invocation", {{"parameters", nullptr}, {"uri", ""}, {"event_id", ""}, {"builder.id", ""}}},
          {"scanner", {{"uri", "pkg:github/aquasecurity/" + scanner + "@0.50.0"}, {"version", "0.50.0"},
                       {"db", {{"uri", ""}, {"version", ""}}}, {"result", report}}},
          {"metadata", {{"scanStartedOn", finished}, {"scanFinishedOn", finished}}}};
}

// A minimal Trivy report with the given (id, pkg, severity, fixedVersion) vulnerabilities.
struct Vuln {
  std::string id, pkg, severity, fixed;
};
inline Json trivy_report(const std::vector<Vuln>& vulns, const std::string& created = "2026-11-28T10:00:00Z") {
  Json list = Json::array();
  for (const auto& v : vulns) {
    Json j = {{"VulnerabilityID", v.id}, {"PkgName", v.pkg}, {"InstalledVersion", "1.0.0"}, {"Severity", v.severity},
              {"PkgIdentifier", {{"PURL", "pkg:deb/debian/" + v.pkg + "@1.0.0"}}}};
    if (!v.fixed.empty()) {
      j["FixedVersion"] = v.fixed;
      j["Status"] = "fixed";
    } else {
      j["Status"] = "affected";
    }
    list.push_back(j);
  }
  return {{"SchemaVersion", 2}, {"CreatedAt", created}, {"ArtifactName", "registry.example/app:1"},
          {"ArtifactType", "container_image"},
          {"Results", {{{"Target", "registry.example/app:1 (debian 12)"}, {"Class", "os-pkgs"}, {"Type", "debian"},
                        {"Vulnerabilities", list}}}}};
}

// Whether ../shared/corpora is present (a fresh clone has no ../shared).
inline std::string corpora_dir() { return std::string(RUNGUARD_SHARED_DIR) + "/corpora"; }
inline bool have_corpora() {
  struct stat st {};
  return ::stat(corpora_dir().c_str(), &st) == 0;
}
#define RG_REQUIRE_CORPORA()                                                                                 \
  do {                                                                                                        \
    if (!rgattest::have_corpora()) GTEST_SKIP() << "../shared/corpora not present (a fresh clone): skipped"; \
  } while (0)

}  // namespace rgattest
