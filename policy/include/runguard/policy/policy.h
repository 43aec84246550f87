// The policy: what runguard enforces on every container, as loaded from policy.yaml.
//
// A Policy is a plain value produced by the loader (loader.h) after full validation; nothing in
// it is unchecked. Every control has an Action; a control the YAML does not mention keeps its
// built-in default, the secure setting (see defaults()). Overrides are resolved at load time into
// complete Controls, so evaluation never merges anything: it picks the first matching override's
// controls, or the top-level ones.
//
// Thread-safety: immutable after loading; share freely.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runguard/common/json.h"

namespace runguard::policy {

// What a control does when the spec violates it.
enum class Action {
  kEnforce,  // change the spec so it complies
  kDeny,     // refuse the container
  kAudit,    // record the violation only
  kOff,      // do not check
};
const char* action_name(Action a);

// Global mode: kEnforce applies actions as configured; kAudit downgrades every enforce/deny to a
// record of what would have happened and changes nothing.
enum class Mode { kEnforce, kAudit };

// What an internal error (not a denial) does to the container: closed refuses it, open lets it
// start unmodified with an error logged.
enum class FailurePolicy { kClosed, kOpen };

struct UserControl {
  Action action = Action::kEnforce;
  uint32_t uid = 65532;
  uint32_t gid = 65532;
  // uid/gid 0 is allowed when the container has a user namespace of its own (root inside,
  // an unprivileged host id outside).
  bool allow_root_in_user_namespace = false;
};

// Every container gets its own user namespace with a private range of host ids (a Kubernetes pod
// one range for all its containers), from a pool of `count` ranges of `range_size` ids starting
// at host id `first_host_id`. Specs that bring their own mappings keep them if they map nothing
// below `min_host_id` and overlap no other container's range.
struct UserNamespaceControl {
  enum class Fallback { kNone, kChown };
  Action action = Action::kEnforce;
  uint32_t range_size = 65536;
  uint32_t first_host_id = 1073741824u;  // 2^30: above login users and subuid ranges, below 2^31 (ps and
                                         // other tools print larger uids as negative numbers)
  uint32_t count = 4096;
  uint32_t min_host_id = 65536;  // host ids below are the host's own (system and login accounts)
  // When the rootfs's filesystem cannot be idmapped: kNone refuses the container, kChown gives it
  // a chowned private copy (plain-directory rootfs only).
  Fallback fallback = Fallback::kNone;
};

struct CapabilitiesControl {
  Action action = Action::kEnforce;
  std::vector<std::string> allow = {"CAP_NET_BIND_SERVICE"};  // canonical "CAP_X" names
};

struct SimpleControl {
  Action action = Action::kEnforce;
};

struct SeccompControl {
  Action action = Action::kEnforce;
  std::string profile = "default";  // "default" (embedded) or an absolute path to an OCI profile
  Json profile_json;                // the loaded, validated linux.seccomp object
};

struct LimitSetting {
  std::optional<int64_t> default_value;  // applied when the spec sets no limit
  std::optional<int64_t> max;            // a larger (or unlimited) request is clamped to this
};

struct RlimitSetting {
  std::optional<uint64_t> default_value;  // soft = hard = default when the spec lacks this rlimit
  std::optional<uint64_t> max;            // soft and hard are clamped to this
};

struct ResourcesControl {
  Action action = Action::kEnforce;
  LimitSetting memory{512LL << 20, 8LL << 30};
  LimitSetting pids{1024, 32768};
  std::optional<uint64_t> cpu_default_shares = 1024;
  std::map<std::string, RlimitSetting> rlimits = {{"RLIMIT_NOFILE", {16384, std::nullopt}}};
};

struct SensitiveMountsControl {
  Action action = Action::kDeny;
  std::vector<std::string> allow;  // host paths exempted by the administrator (exact, normalised)
};

// The runtime monitor (runguard-monitor): the listed syscalls are sent to it through seccomp user
// notification and checked against Falco-style rules. enforce: a rule with `runguard.action:
// block` answers EPERM when `block` is true; audit: rules only alert; off: no monitor.
struct MonitorControl {
  Action action = Action::kEnforce;
  std::vector<std::string> syscalls = {"execve", "execveat", "ptrace", "mount", "umount2", "setns", "unshare",
                                       "memfd_create", "init_module", "finit_module", "bpf"};
  std::vector<std::string> rules;  // rule files, in load order; empty = runguard's default rules
  bool block = true;
};

struct Controls {
  UserNamespaceControl user_namespace;
  UserControl user;
  CapabilitiesControl capabilities;
  SimpleControl no_new_privileges{Action::kEnforce};
  SeccompControl seccomp;
  ResourcesControl resources;
  SimpleControl host_namespaces{Action::kDeny};
  SimpleControl privileged{Action::kDeny};
  SensitiveMountsControl sensitive_mounts;
  SimpleControl readonly_rootfs{Action::kAudit};
  SimpleControl secrets_in_env{Action::kDeny};
  MonitorControl monitor;
};

// Which containers an override applies to. Every present field must match; an empty match
// matches everything.
struct Match {
  std::optional<std::string> container_type;             // "sandbox" | "container"
  std::optional<std::string> namespace_;                 // Kubernetes namespace (glob)
  std::optional<std::string> image;                      // image reference (glob)
  std::map<std::string, std::string> annotations;        // key -> value glob
};

struct Override {
  std::string name;      // "overrides[0]" unless the YAML gives `name:`
  Match match;
  Controls controls;     // complete: the top-level controls with this override's changes applied
};

// Top-level `agent:` (docs/agent.md): where runguardd listens and what it talks to. The runtime
// reads it too, to find the agent; every path is a unix socket.
struct AgentSettings {
  std::string socket = "/run/runguard/runguardd.sock";                   // gRPC operator API, 0600
  std::string internal_socket = "/run/runguard/runguardd.internal.sock";  // frames (common/frame.h), 0600
  std::string metrics = "127.0.0.1:9447";  // "host:port" on loopback, "unix:/path", or "" (off)
  std::string containerd = "/run/containerd/containerd.sock";
  int64_t event_ring = 10000;              // events kept in memory for WatchEvents' replay
  int64_t digest_cache_ttl_ms = 60000;     // an image name's digest is reused this long (tags move)
  int64_t request_timeout_ms = 250;        // the runtime's wait for the agent before falling back
  int64_t helper_timeout_ms = 3000;        // the one-shot runguardctl helper's whole budget
};

// Top-level `secrets:` (docs/secrets.md): where secret files come from, who may ask for what,
// and how they reach the container. Requests come from `secrets.runguard.dev/<name>` annotations
// (granted only by an `allow` entry), from `attach` entries (the administrator's own), and from
// the secretsInEnv control's enforce action (a credential moved out of the environment).
struct VaultAuth {
  enum class Method { kToken, kAppRole, kKubernetes };
  Method method = Method::kToken;
  std::string token_file = "/etc/runguard/vault-token";  // token
  std::string role_id;                                    // approle
  std::string secret_id_file;                             // approle
  std::string role;                                       // kubernetes: the Vault role to log in as
  std::string mount;                                      // auth mount; "" = "approle" / "kubernetes"
};

struct VaultSettings {
  std::string address;        // "https://vault.example:8200" (http only for loopback)
  std::string namespace_;     // X-Vault-Namespace, "" for none
  std::string ca_file;        // PEM bundle trusted for the server's certificate; "" = system store
  int64_t timeout_ms = 5000;  // the whole budget of one fetch, retries included
  int64_t retries = 2;        // extra attempts after a connection error, 429, 500, 502, 503
  VaultAuth auth;
};

// An `allow` or `attach` entry's match: every present field must match (globs); {} matches all.
struct SecretsMatch {
  std::optional<std::string> namespace_;  // Kubernetes namespace
  std::optional<std::string> image;       // image reference
};

struct SecretsAllow {
  SecretsMatch match;
  std::vector<std::string> paths;  // globs over a reference's path ("kv/data/app/*"; * crosses /)
};

struct SecretsAttach {
  SecretsMatch match;
  std::map<std::string, std::string> files;  // file name -> reference, as in an annotation value
};

struct SecretsSettings {
  enum class Backend { kFile, kVault };
  Backend backend = Backend::kFile;
  std::string mount_path = "/run/secrets";  // where the container sees its files (read-only)
  int64_t size = 1 << 20;                   // the per-container tmpfs's size limit, bytes
  std::string file_dir = "/etc/runguard/secrets";  // `file: { dir }`
  VaultSettings vault;
  int64_t refresh_ms = 0;                   // > 0: runguardd re-reads and rewrites the files this often
  std::vector<SecretsAllow> allow;          // first entry whose match matches decides
  std::vector<SecretsAttach> attach;        // every matching entry's files are added
};

// Top-level `attestation:` (docs/attestation.md): the image scan attestation gate. Every
// container whose image matches requireFor must have a signed (by `threshold` distinct keys of
// `keys`), fresh (scan finished within maxAge), passing scan attestation in the store. Off when the
// section is absent, when action is off, or when no keys are listed (nothing could be trusted):
// enabled() says which, and the decision record and `runguardctl check` report it.
//
// Vulnerability severities, lowest first. kNone is only a ceiling ("nothing allowed"); kUnknown
// is a finding's severity when the scanner gave none, ranked as `unknown_as`.
enum class VulnSeverity { kNone, kNegligible, kLow, kMedium, kHigh, kCritical, kUnknown };
const char* vuln_severity_name(VulnSeverity s);  // "NONE" ... "CRITICAL", "UNKNOWN"

struct AttestationException {
  std::string id;                   // vulnerability id (CVE-…, GHSA-…); matched against ids and aliases
  std::optional<int64_t> until_s;   // end of the day (23:59:59 UTC) of `until: YYYY-MM-DD`, unix s; unset = no expiry
  std::string until;                // as written, for messages
  std::vector<std::string> images;  // globs over the image reference; empty = every image
  std::string reason;
};

struct AttestationSettings {
  enum class GateAction { kEnforce, kAudit, kOff };
  bool present = false;                 // the policy has an `attestation:` section
  GateAction action = GateAction::kEnforce;
  std::vector<std::string> keys;        // PEM public key files (absolute)
  int64_t threshold = 1;
  int64_t max_age_ms = 168LL * 3600 * 1000;
  VulnSeverity max_fixable = VulnSeverity::kMedium;    // maxSeverity.fixable
  VulnSeverity max_unfixable = VulnSeverity::kHigh;    // maxSeverity.unfixable
  VulnSeverity unknown_as = VulnSeverity::kHigh;       // maxSeverity.unknownAs: how UNKNOWN ranks
  std::vector<AttestationException> exceptions;
  std::vector<std::string> vex;         // OpenVEX files or directories of *.json
  std::string store = "/var/lib/runguard/attestations";  // <store>/sha256/<hex>/*.json
  std::vector<std::string> require_images = {"*"};       // requireFor.images (globs)
  bool require_sandboxes = false;       // requireFor.sandboxes: CRI sandbox (pause) containers too
  std::string digest_annotation = "runguard.dev/image-digest";  // believed only when in trustedAnnotations

  bool enabled() const { return present && action != GateAction::kOff && !keys.empty(); }
};

struct Policy {
  std::string source;                 // file the policy came from, or "<embedded defaults>"
  // Annotation keys an override may match on *and* loosen controls through. Annotations are
  // written by whoever writes the pod spec, so without this an override matched through an
  // annotation may only tighten (checked at load).
  std::vector<std::string> trusted_annotations;
  std::string runtime_path;           // empty: first "runc" on PATH that is not runguard
  std::string state_dir = "/run/runguard";
  std::string lib_dir = "/var/lib/runguard";
  std::string events_path = "/var/log/runguard/events.jsonl";  // top-level `events: { path: ... }`
  AgentSettings agent;
  SecretsSettings secrets;
  AttestationSettings attestation;
  Mode mode = Mode::kEnforce;
  FailurePolicy failure_policy = FailurePolicy::kClosed;
  Controls controls;
  std::vector<Override> overrides;
};

// How `changed` is weaker than `base`, one line per control ("capabilities: allows CAP_SYS_ADMIN",
// "user: enforce -> off"); empty when `changed` is at least as strict. Action strength:
// off < audit < enforce = deny. Parameters widen when they allow more (capabilities, mount
// exemptions, larger or absent resource limits) or cannot be compared (another seccomp profile).
std::vector<std::string> loosenings(const Controls& base, const Controls& changed);

// runguard's own state on the node that `p` names: every container's secrets tmpfs, monitor
// socket and decision record (stateDir), the uid allocations and attestation cache (libDir), the
// file backend's secrets, the agent's sockets (which serve secrets to root peers) and the Vault
// credentials. A bind of one of them, or of a directory holding one, is a sensitive mount.
// Absolute paths only, as written in the policy; `what` describes each.
struct OwnStatePath {
  std::string path;
  const char* what;
};
std::vector<OwnStatePath> own_state_paths(const Policy& p);

}  // namespace runguard::policy
