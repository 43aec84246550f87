// A container's secret files on the node: the per-container tmpfs, the files in it, and the
// record of what was put there (<stateDir>/<id>/secrets.json, 0600, names/references/leases,
// never values). Used by the runtime (create, delete) and by runguardd (refresh, renewal).
//
// The tmpfs lives at <stateDir>/<id>/secrets: size-limited, nosuid,nodev,noexec, its root 0500
// owned by the container user's host uid/gid; files are 0400 owned by the same ids. The runtime
// bind-mounts it read-only at secrets.mountPath through the spec's mounts.
//
// Thread-safety: functions are independent; two writers of one directory must not overlap.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runguard/common/json.h"
#include "runguard/common/status.h"
#include "runguard/secrets/wire.h"

namespace runguard::secrets {

struct SecretsRecord {
  struct File {
    std::string name;
    std::string source;   // "annotation" | "attach" | "env"
    std::string ref;      // canonical reference; "" for env
    std::string lease_id;
    int64_t lease_duration = 0;
    bool renewable = false;
  };
  std::string container;
  std::string k8s_namespace;
  std::string dir;                    // the tmpfs
  std::string mount_path;             // where the container sees it
  uint32_t uid = 0;                   // host ids owning the files
  uint32_t gid = 0;
  std::string kubernetes_token_file;  // for Vault's Kubernetes auth; "" otherwise
  bool mounted = false;               // the tmpfs was mounted (release unmounts it)
  // How release reaches Vault to revoke the leases without loading the policy again (it may
  // have changed or broken since): the agent's internal socket, else `runguardctl helper secrets
  // revoke --config policy_file`, each bounded by timeout_ms.
  std::string agent_socket;
  std::string policy_file;
  int64_t timeout_ms = 5000;
  std::vector<File> files;
};

Json secrets_record_to_json(const SecretsRecord& r);
Result<SecretsRecord> secrets_record_from_json(const Json& j, const std::string& what);
std::string secrets_record_path(const std::string& container_state_dir);  // <dir>/secrets.json
Status write_secrets_record(const std::string& container_state_dir, const SecretsRecord& r);
// kNotFound when there is none.
Result<SecretsRecord> read_secrets_record(const std::string& container_state_dir);

// Creates `dir` (0700) and mounts the tmpfs on it (size bytes; mode 0500 uid:gid).
Status mount_secrets_tmpfs(const std::string& dir, int64_t size, uint32_t uid, uint32_t gid);

// Writes each secret as <dir>/<name>, 0400 uid:gid, replacing an existing file atomically (a
// temporary file beside it, fsync, rename): a reader sees the old or the new content, never a
// part. Names are checked again (policy::check_secret_name). ENOSPC says the tmpfs is full.
Status write_secret_files(const std::string& dir, const std::vector<FetchedSecret>& files, uint32_t uid, uint32_t gid);

// Zeroes and unlinks every file in `dir`, unmounts the tmpfs and removes the directory. Nothing
// there (already released) is success.
Status wipe_secrets_dir(const std::string& dir);

}  // namespace runguard::secrets
