// Internal: the image scan attestation gate in the create path (and runguard-hook's check):
// which image is this, and does it have a signed, fresh, passing scan attestation
// (docs/attestation.md). Runs after the containerd digest lookup and before evaluate_spec; its
// verdict goes into ctx.attestation, which the RG-ATTEST-001 control turns into a finding.
//
// Image identity, in order (the first that names a digest wins; ctx.image_digest_source says which):
//   1. containerd (resolve_image_digest: the agent, else the runguardctl helper)   "containerd"
//   2. CRI-O's io.kubernetes.cri-o.ImageRef annotation, only for containers CRI-O started
//      (ctx.engine "cri-o"): bare 64 hex or sha256:<hex>                         "annotation:io.kubernetes.cri-o.ImageRef"
//   3. the policy's attestation.digestAnnotation (runguard.dev/image-digest), ONLY when that key is
//      listed in trustedAnnotations (whoever writes the pod spec writes annotations: an untrusted
//      one could name any image's digest); it must be a valid digest           "annotation:<key>"
// An untrusted or malformed digest annotation is ignored, with a warning when the gate needs it.
//
// The gate, when attestation.enabled():
//   - not required (requireFor does not select the image): verdict {required:false};
//   - required, digest unknown: a failed verdict "image digest unknown (<how each source failed>);
//     cannot check its scan attestation";
//   - else attest::GateSetup::load (keys, VEX: a failure is a broken policy, returned as
//     kInvalidArgument naming the file: refused whatever failurePolicy says, since opening would
//     start the container with no control at all) and attest::check_store against
//     attestation.store, with the wall clock (the pipeline reads it; policy and attest do not) and
//     the persistent verdict cache below.
// attestation.action audit and policy mode audit run the gate all the same: the verdict is recorded.
//
// Thread-safety: functions are reentrant; a DirectoryVerdictCache may be shared by threads and by
// processes (atomic renames; a torn or foreign file is a miss).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runguard/attest/gate.h"
#include "runguard/common/status.h"
#include "runguard/policy/context.h"
#include "runguard/policy/policy.h"

namespace runguard::pipeline::internal {

inline constexpr const char* kCriOImageRefAnnotation = "io.kubernetes.cri-o.ImageRef";

// Identity steps 2 and 3 for a container containerd gave no digest for. Fills ctx.image_digest
// and image_digest_source when an annotation names it; returns how each source failed otherwise
// (`containerd_failure`: why resolve_image_digest found none, "" when it was not a containerd
// container), for the "image digest unknown" verdict. `untrusted_annotation` is set when the
// digest annotation is present but not in trustedAnnotations.
struct DigestSearch {
  std::vector<std::string> failures;
  bool untrusted_annotation = false;
};
DigestSearch digest_from_annotations(const policy::Policy& p, policy::ContainerContext& ctx, const std::string& containerd_failure);

// "sha256:<hex>" from a CRI-O ImageRef value (bare 64 hex, or sha256:<64 hex>); nullopt otherwise.
std::optional<std::string> digest_from_image_ref(const std::string& value);

// The gate as described above, with the time and the cache given. Fills ctx.attestation when the
// gate is enabled; `warnings` receives lines for runc's --log. Errors: kInvalidArgument when the
// gate's keys or VEX documents cannot be loaded.
Status run_attestation_gate(const policy::Policy& p, policy::ContainerContext& ctx, const DigestSearch& search, int64_t now_s,
                            attest::VerdictCache* cache, std::vector<std::string>* warnings);

// Identity + gate for create and runguard-hook: the annotations after containerd, the wall clock,
// and a DirectoryVerdictCache under <libDir>/attest-cache (no cache when it cannot be created).
Status gate_container(const policy::Policy& p, policy::ContainerContext& ctx, const std::string& containerd_failure,
                      std::vector<std::string>* warnings);

// attest::VerdictCache in a directory: one small JSON file per result (r-<sha256 of key>.json:
// {"version","key","passed","verified","summary","detail","validUntil"}) and per store-file memo
// (f-<sha256 of path>.json: {"version","path","dev","ino","size","mtimeNs","ctimeNs","digest"}).
// The directory is 0700, files 0600, written atomically (nsutil::write_file_atomic); at most
// `max_files` files (the oldest by mtime are removed past it). A file that is unreadable, corrupt,
// for another key, or expired is a miss, never an error; a failed write is ignored (a cache).
class DirectoryVerdictCache final : public attest::VerdictCache {
 public:
  static constexpr size_t kDefaultMaxFiles = 512;
  static constexpr size_t kMaxFileBytes = 1u << 20;

  explicit DirectoryVerdictCache(std::string dir, size_t max_files = kDefaultMaxFiles)
      : dir_(std::move(dir)), max_files_(max_files) {}

  // Creates the directory (0700; an existing one is set to 0700). Call before use; a cache that
  // could not be prepared misses every get and drops every put.
  Status prepare();

  std::optional<attest::GateResult> get(const std::string& key, int64_t now_s) override;
  void put(const std::string& key, const attest::GateResult& r) override;
  std::optional<std::string> file_digest(const std::string& path, const attest::FileIdentity& id) override;
  void remember_file(const std::string& path, const attest::FileIdentity& id, const std::string& digest) override;

  const std::string& dir() const { return dir_; }

 private:
  std::string file_for(char kind, const std::string& key) const;
  std::optional<Json> read(const std::string& file) const;
  void write(const std::string& file, const Json& j);
  void prune(const std::string& keep_file);  // never removes the file just written

  std::string dir_;
  size_t max_files_;
  bool ready_ = false;
};

}  // namespace runguard::pipeline::internal
