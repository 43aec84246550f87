// The image scan attestation gate: verify -> bind to the image -> freshness -> severity ceilings,
// exceptions and VEX -> a verdict that lists its reasons.
//
// For one attestation (check_document):
//   1. verify (verify.h): trusted keys, threshold; failure -> not verified;
//   2. bind: an in-toto statement's subjects must name the image digest (statement_covers); a bare
//      report must name it among its own digests (ScanReport::image_digests). "signed for another
//      image" is a failure even when every signature is good;
//   3. age: now - scan finish must be within maxAge (a scan finished in the future by more than
//      5 minutes of clock skew fails too; no scan time fails);
//   4. findings: each finding is suppressed (by the scanner's own not_affected, an unexpired
//      exception whose images match — expired ones are reported — or a VEX statement), else it
//      blocks when its severity (UNKNOWN ranked as unknownAs) is above the ceiling for its fix state:
//      maxSeverity.fixable for fixable findings, maxSeverity.unfixable otherwise.
// For an image (check_store): every <store>/sha256/<hex>/*.json file (more than kMaxStoreFiles fails) is
// checked; among those that verify and bind, the one with the latest scan decides (a newer scan
// that finds a new CVE fails the image even though an older scan passed). None verifying: fail,
// with each file's reason. No directory or no files: fail, "no attestation for sha256:… in STORE".
//
// Verdict detail (verdict JSON, the CLI's --format json, and the decision record's "attestation"):
//   {"image":…, "imageDigest":…, "required":bool, "verified":bool, "passed":bool,
//    "attestation":FILE, "format":…, "documentDigest":…, "signers":[{id,source,type}],
//    "scanner":…, "scannerVersion":…, "scanFinishedOn":…, "age":"26h3m0s", "ageSeconds":N,
//    "maxAge":"168h0m0s", "findings":{"total":N, "blocking":[finding+{"rule"}], "suppressed":[finding+{"by"}],
//    "blockingCount":N, "suppressedCount":N}, "expiredExceptions":[{id,until,reason}],
//    "reasons":[…], "considered":[{"file","verified","reason"}]}
// "blocking" and "suppressed" list at most 20 each (highest severity first, then id); the counts are
// complete. reasons[0] is the one-line summary.
//
// Reasons are sentences with stable phrases (tests, alerts and docs match them):
//   "no attestation for sha256:<hex> in <store>"
//   "<file>: not signed by a trusted key"              (no signature verified)
//   "<file>: signed by <n> of the required <m> distinct trusted keys"
//   "<file>: signed for another image (subjects: sha256:…)"
//   "<file>: unsupported predicateType \"…\""  /  "<file>: not a DSSE envelope or sigstore bundle: …"
//   "<file>: <n> bytes, above the limit of <limit> bytes"
//   "scan finished <age> ago, older than maxAge <maxAge>"
//   "scan finished in the future (<time>)"  /  "the attestation has no scan time"
//   "<n> finding(s) above the severity ceiling: CVE-… (CRITICAL, fixable: pkg 1.0 -> 1.1), …" (top 5)
//   "exception <id> expired on <until>"                (listed, and the finding judged as if none)
// A passing summary: "passed: signed by <n> trusted key(s), scan <age> old, 0 blocking, <k> suppressed".
//
// Pure apart from reading the key, VEX and attestation files it is given (and stat-ing store
// files for the cache). Time is passed in (unix seconds). Thread-safety: a GateSetup is immutable
// after load(); check_* may run concurrently when the cache is thread-safe (MemoryVerdictCache is).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runguard/attest/verify.h"
#include "runguard/attest/vex.h"
#include "runguard/common/json.h"
#include "runguard/common/status.h"
#include "runguard/policy/policy.h"

namespace runguard::attest {

// Everything the gate needs, loaded once per policy: the keys, the VEX documents, and a digest
// over all of it (settings, key ids, VEX bytes) that keys the cache.
struct GateSetup {
  policy::AttestationSettings settings;
  std::shared_ptr<const KeyVerifier> verifier;
  std::shared_ptr<const VexIndex> vex;
  std::string digest;  // "sha256:<hex>"

  // kInvalidArgument/kNotFound naming the key or VEX file, and the policy field
  // ("attestation.keys[1]: /etc/runguard/keys/ci.pub: not a PEM public key"). Threshold above the
  // number of keys is refused here too. Call only when settings.enabled().
  static Result<GateSetup> load(const policy::AttestationSettings& s);
};

// Whether requireFor selects this container: its image reference matches one of the globs (an
// unknown image "" matches only "*"), and it is not a CRI sandbox unless requireFor.sandboxes.
bool attestation_required(const policy::AttestationSettings& s, const std::string& image, const std::string& container_type);

// The outcome in the form that is cached, recorded and printed.
struct GateResult {
  bool verified = false;
  bool passed = false;
  std::string summary;        // one line (reasons[0])
  Json detail;                // the verdict detail above
  int64_t valid_until_s = 0;  // this result holds until then (scan age limit, an exception's expiry)
};

// "(document digest, setup digest, image digest, image name)" results, bounded, expiring at
// valid_until_s; plus a memo of store files' identities -> document digest, so a cache hit reads no
// attestation file. Thread-safe.
struct FileIdentity {
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  bool operator==(const FileIdentity&) const = default;
};

class VerdictCache {
 public:
  virtual ~VerdictCache() = default;
  virtual std::optional<GateResult> get(const std::string& key, int64_t now_s) = 0;
  virtual void put(const std::string& key, const GateResult& r) = 0;
  virtual std::optional<std::string> file_digest(const std::string& path, const FileIdentity& id) = 0;
  virtual void remember_file(const std::string& path, const FileIdentity& id, const std::string& digest) = 0;
};

class MemoryVerdictCache final : public VerdictCache {
 public:
  explicit MemoryVerdictCache(size_t capacity = 1024) : capacity_(capacity) {}
  std::optional<GateResult> get(const std::string& key, int64_t now_s) override;
  void put(const std::string& key, const GateResult& r) override;
  std::optional<std::string> file_digest(const std::string& path, const FileIdentity& id) override;
  void remember_file(const std::string& path, const FileIdentity& id, const std::string& digest) override;

 private:
  size_t capacity_;
  std::mutex mu_;
  std::unordered_map<std::string, GateResult> results_;
  std::unordered_map<std::string, std::pair<FileIdentity, std::string>> files_;
};

// The cache key of one document's result for one image.
std::string verdict_cache_key(const std::string& document_digest, const GateSetup& g, const ImageRef& image);

// One attestation document's bytes (`source` names it). Never fails: every problem is a reason in
// a failed result (input errors included; `input_error` is set true for those so the CLI can exit 2).
GateResult check_document(const GateSetup& g, std::string_view bytes, const ImageRef& image, int64_t now_s,
                          const std::string& source, VerdictCache* cache = nullptr, bool* input_error = nullptr);

// The store's attestations for the image (see above).
GateResult check_store(const GateSetup& g, const std::string& store_dir, const ImageRef& image, int64_t now_s,
                       VerdictCache* cache = nullptr);

// Go-style duration for messages and JSON ("26h3m0s", "168h0m0s", "45s").
std::string format_duration_s(int64_t seconds);

}  // namespace runguard::attest
