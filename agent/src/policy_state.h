// PolicyState: the policy the agent serves (source, digest, load time) and its reloads.
//
// The agent does not evaluate containers itself (the runtime does, from the same file); it loads
// the policy to know its own settings (`agent:`, stateDir, events.path), to report what policy
// is in force, and to validate a new policy before it is written over the file the runtime reads.
//
// Digest: "sha256:<hex>" of the policy file's bytes. The embedded defaults are what an empty
// policy file means, so their digest is that of the empty document.
//
// Settings the agent only reads at start (agent.*, stateDir, events.path) are not applied by a
// reload: reload results list the ones that changed so the caller can warn that they need a
// restart.
//
// Thread-safety: every method may be called from any thread; reloads are serialised.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runguard/common/status.h"
#include "runguard/pipeline/config.h"
#include "runguard/policy/policy.h"

namespace runguard::agent {

inline constexpr const char* kEmbeddedDefaultsSource = "<embedded defaults>";

struct PolicySnapshot {
  std::shared_ptr<const policy::Policy> policy;
  std::string source;       // the policy file, or kEmbeddedDefaultsSource
  std::string digest;       // "sha256:<hex>"
  int64_t loaded_at_ns = 0;  // Unix ns
  bool embedded() const { return source == kEmbeddedDefaultsSource; }
};

struct ReloadOutcome {
  PolicySnapshot snapshot;
  bool changed = false;                    // digest differs from the previous policy's
  std::vector<std::string> restart_needed; // settings that differ but apply only at start
};

// "sha256:<64 hex>" of `bytes`.
std::string sha256_digest(const std::string& bytes);

class PolicyState {
 public:
  // Loads through pipeline::load_policy (a missing default file means the embedded defaults).
  // The loader's error when the policy does not load.
  static Result<std::unique_ptr<PolicyState>> load(pipeline::ConfigSource source);

  PolicySnapshot current() const;
  const pipeline::ConfigSource& source() const { return source_; }

  // Re-reads the policy from the same source. On error the current policy stays.
  Result<ReloadOutcome> reload_from_file();

  // Validates `yaml` (written to a temporary file next to the policy file and loaded from
  // there), then renames it over the policy file (fsynced) and swaps it in. Errors: the loader's
  // message with the temporary file named "policy_yaml" (kInvalidArgument; nothing changes);
  // kNotFound when there is no policy file runguardd may write: it runs on the embedded
  // defaults, or the file is a symlink (a mounted ConfigMap is changed at its source);
  // kIo when writing fails.
  Result<ReloadOutcome> replace(const std::string& yaml);

 private:
  PolicyState(pipeline::ConfigSource source, PolicySnapshot snap) : source_(std::move(source)), snap_(std::move(snap)) {}
  ReloadOutcome swap_in(PolicySnapshot next);

  pipeline::ConfigSource source_;
  std::mutex reload_mu_;    // one reload at a time
  mutable std::mutex mu_;   // guards snap_
  PolicySnapshot snap_;
};

}  // namespace runguard::agent
