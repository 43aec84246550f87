// Internal: delivering a decision's secret files (policy::SecretsPlan) before runc starts the
// process, and releasing them (docs/secrets.md).
//
// deliver(), in order, each step undone by undo() if a later one fails:
//   1. the owner: process.user's uid/gid as the host sees them (through the spec's mappings);
//   2. <stateDir>/<id>/secrets.json written first (mounted: true), so a crash leaves the trace
//      release needs; then the tmpfs mounted at <stateDir>/<id>/secrets (secrets.size,
//      nosuid,nodev,noexec, root 0500 owner) and the mount points of spec mounts below mountPath;
//   3. the values: moved environment variables from the spec as it was, `file:` references from
//      secrets.file.dir, `vault:` references from runguardd ("secrets.fetch") or, with no agent,
//      `runguardctl helper secrets fetch` — never from the runtime itself;
//   4. the files written 0400 (atomically), the values wiped from memory, the record updated with
//      the leases, and runguardd told ("secrets.attached") so it renews and refreshes them.
// Nothing here logs or returns a value; errors name the secret and its reference.
#pragma once

#include <string>
#include <vector>

#include "runguard/common/json.h"
#include "runguard/common/runc_log.h"
#include "runguard/common/status.h"
#include "runguard/policy/context.h"
#include "runguard/policy/decision.h"
#include "runguard/policy/policy.h"
#include "runguard/secrets/files.h"

namespace runguard::pipeline::internal {

class SecretsDelivery {
 public:
  SecretsDelivery(const policy::Policy& p, std::string container_state_dir, RuncLog log)
      : policy_(p), dir_(std::move(container_state_dir)), log_(std::move(log)) {}

  // `original_env`: process.env of the spec before evaluation (the moved variables' values).
  Status deliver(const policy::ContainerContext& ctx, const policy::Decision& d, const Json& original_env);

  // Revokes what was fetched, wipes the tmpfs and removes the record. Safe to call after any
  // failure of deliver() and more than once.
  void undo();

 private:
  const policy::Policy& policy_;
  std::string dir_;
  RuncLog log_;
  bool started_ = false;
  secrets::SecretsRecord record_;
};

// Revokes the leases of <container_state_dir>/secrets.json (agent, else helper), wipes and
// unmounts the tmpfs, removes the record. No record: nothing to do. Every step is attempted;
// the first error is returned.
Status release_secrets(const std::string& container_state_dir);

// A bundle runguard already created once has its secrets mount: removed, so the new create adds
// its own (and the sensitive-mount check does not see runguard's own state directory).
void forget_previous_secrets(Json& spec, const std::string& state_dir);

}  // namespace runguard::pipeline::internal
