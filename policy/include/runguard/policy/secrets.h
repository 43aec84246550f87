// Secret requests: which files a container gets under secrets.mountPath, decided by policy.
//
// A container asks with annotations `secrets.runguard.dev/<name>: "<reference>"`; an annotation
// alone grants nothing: the first `secrets.allow` entry whose match matches the container must
// list a glob covering the reference's path. `secrets.attach` entries add files the administrator
// chose. The secretsInEnv control's enforce action moves credentials out of process.env into
// files too. All of it is pure: the plan names files and references, never a value.
//
// Reference grammar (docs/secrets.md):
//   reference = [backend ":"] path ["?version=" N] ["#" key]
//   backend   = "vault" | "file"        (absent: secrets.backend)
//   path      = segment *("/" segment)  segment = 1*(ALPHA / DIGIT / "." / "_" / "-" / "@" / "+" / "=")
//               not "." or "..", at most 512 bytes in all
//   N         = 1..2^31 (KV v2 only);  key = 1*(ALPHA / DIGIT / "." / "_" / "-"), at most 256 bytes
//   name      = 1*(ALPHA / DIGIT / "." / "_" / "-"), not starting with ".", at most 128 bytes
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runguard/common/json.h"
#include "runguard/common/status.h"
#include "runguard/policy/policy.h"

namespace runguard::policy {

inline constexpr std::string_view kSecretAnnotationPrefix = "secrets.runguard.dev/";

struct SecretRef {
  SecretsSettings::Backend backend = SecretsSettings::Backend::kFile;
  std::string path;
  uint64_t version = 0;  // 0: latest
  std::string key;       // "" = the whole data object as JSON
};

// `default_backend` applies when the text has no "vault:"/"file:" prefix. Errors say what is wrong.
Result<SecretRef> parse_secret_ref(std::string_view text, SecretsSettings::Backend default_backend);
std::string secret_ref_to_string(const SecretRef& r);  // canonical form, always with the backend
Status check_secret_name(std::string_view name);
const char* backend_name(SecretsSettings::Backend b);

struct PlannedSecret {
  enum class Source { kAnnotation, kAttach, kEnv };
  std::string name;   // file name below mountPath
  Source source = Source::kAnnotation;
  SecretRef ref;      // kAnnotation, kAttach
  std::string env_var;   // kEnv: the variable moved out of process.env
  size_t env_index = 0;  // kEnv: its index in the *evaluated* spec's process.env
};
const char* source_name(PlannedSecret::Source s);

// What create materialises: the files, where they live on the host and in the container.
struct SecretsPlan {
  std::vector<PlannedSecret> files;
  std::string host_dir;      // <stateDir>/<id>/secrets (a tmpfs)
  std::string mount_path;    // secrets.mountPath
  // Kubernetes auth: the pod's service-account token file on the host (the source of the spec's
  // mount at /var/run/secrets/kubernetes.io/serviceaccount, plus "/token"); "" otherwise.
  std::string kubernetes_token_file;
  // Destinations of the spec's mounts below mount_path, relative to it: their mount points are
  // made in the tmpfs (the container sees it read-only, so runc could not make them).
  std::vector<std::string> mount_points;
  std::vector<std::string> mount_point_sources;  // the same mounts' sources (a file wants a file mount point)
  bool empty() const { return files.empty(); }
};

// {"mountPath","hostDir","files":[{"name","source","ref"|"env"}]} — names and references only.
Json secrets_plan_to_json(const SecretsPlan& plan);

// The per-container secrets directory below the runtime's state directory.
std::string secrets_host_dir(const std::string& state_dir, const std::string& id);

}  // namespace runguard::policy
