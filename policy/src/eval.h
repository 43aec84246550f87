// Internal: the state one evaluation threads through the controls, and the control functions.
#pragma once

#include <string>

#include "runguard/policy/catalog.h"
#include "runguard/policy/context.h"
#include "runguard/policy/decision.h"
#include "runguard/policy/policy.h"

namespace runguard::policy::internal {

// One evaluation. Controls call violation() for each problem they find; when it returns true the
// control applies its fix through set()/remove(). Fixes are applied to the document in place and
// journaled with the values they replaced, so rollback() restores the input exactly (audit mode,
// denial) without the cost of copying the whole document up front.
class Eval {
 public:
  Eval(Mode mode, Decision& d, Json& doc, const ContainerContext& ctx) : mode_(mode), d_(d), doc_(doc), ctx_(ctx) {}

  Json& doc() { return doc_; }
  const ContainerContext& ctx() const { return ctx_; }

  // Records a violation of `control` under `action`; true when the caller should fix it.
  bool violation(const char* control, const std::string& id, Severity sev, Action action, const std::string& message,
                 const std::string& pointer);

  // Files the secrets control and secretsInEnv's enforce action deliver (the decision's plan).
  SecretsPlan& secrets() { return d_.secrets; }

  // The attestation gate's state in the decision record (Decision::attestation).
  Json& attestation() { return d_.attestation; }

  // A change that fixes no violation (the secrets mount), recorded against `control`/`id`.
  void apply(const char* control, const std::string& id, const std::string& pointer, Json value, Json recorded = Json()) {
    control_ = control;
    id_ = id;
    set(pointer, std::move(value), std::move(recorded));
  }

  // Mutations, recorded against the control/id of the last violation().
  void set(const std::string& pointer, Json value, Json recorded = Json());
  void remove(const std::string& pointer);

  // Undoes every set()/remove() in reverse order.
  void rollback();

 private:
  void record(const std::string& op, const std::string& pointer, Json value);

  // What one change replaced. Holds old values (possibly secrets): never leaves the engine.
  struct Undo {
    enum Kind { kRestore, kErase, kInsert } kind;
    std::string pointer;
    Json old;
  };
  std::vector<Undo> journal_;

  Mode mode_;
  Decision& d_;
  Json& doc_;
  const ContainerContext& ctx_;
  std::string control_;
  std::string id_;
};

// Process-level controls take the JSON pointer of the process object ("/process" in a spec,
// "" in an exec process file).
void check_user(const UserControl& c, Eval& e, const std::string& proc, uint32_t min_host_id);
void check_capabilities(const CapabilitiesControl& c, Eval& e, const std::string& proc);
void check_no_new_privileges(const SimpleControl& c, Eval& e, const std::string& proc);
// In a spec (`files_dir` set: secrets.mountPath), enforce moves each credential into a file
// there: the entry becomes NAME_FILE=<dir>/NAME and the plan gets the file. In an exec process
// (nullptr) enforce removes it: the container's files already exist.
void check_secrets_in_env(const SimpleControl& c, Eval& e, const std::string& proc, const std::string* files_dir);
void check_rlimits(const ResourcesControl& c, Eval& e, const std::string& proc);

// Whether the process runs in a user namespace of the container's own in which root is not the
// host's root: from the spec's mappings, or for an exec process ("" pointer) from the context.
// Root counts as unprivileged only when it maps to a host id at or above `min_host_id`
// (userNamespace.minHostId).
bool runs_in_user_namespace(Eval& e, const std::string& proc, uint32_t min_host_id);

// Spec-level controls.
void check_user_namespace(const UserNamespaceControl& c, Eval& e);
void check_seccomp(const SeccompControl& c, Eval& e);
void check_resources(const ResourcesControl& c, Eval& e);
void check_host_namespaces(const SimpleControl& c, Eval& e);
void check_privileged(const SimpleControl& c, Eval& e);
// `p` names runguard's own state (stateDir, libDir, secrets.file.dir, the agent's sockets): a
// bind of it, or of a directory holding it, is sensitive too (other containers' secrets).
void check_sensitive_mounts(const SensitiveMountsControl& c, Eval& e, const Policy& p);
void check_readonly_rootfs(const SimpleControl& c, Eval& e);
// Secret files: checks the container's requests against secrets.allow, adds secrets.attach files,
// and mounts the per-container tmpfs at secrets.mountPath when there is any file to deliver.
void check_secrets(const Policy& p, Eval& e);
// The image scan attestation gate's verdict (ctx.attestation, computed by the pipeline) as a
// finding (RG-ATTEST-001), and the gate's state for the decision record (Decision::attestation).
void check_attestation(const Policy& p, Eval& e);
Json attestation_state(const Policy& p, const ContainerContext& ctx);
// Last: it rewrites the seccomp profile the seccomp control may have installed.
void check_monitor(const MonitorControl& c, Eval& e, const std::string& state_dir);

// Update: clamps a LinuxResources document at pointer "" to the maxima.
void check_update_resources(const ResourcesControl& c, Eval& e);

// Helpers shared by the controls. JSON null counts as absent everywhere (validate_spec accepts
// it: Go writers emit null for unset fields), so controls read through these, never
// Json::value(), which throws on null.
const Json* at(const Json& doc, const std::string& pointer);  // nullptr when absent or null
std::string str_member(const Json& obj, const char* key);       // "" unless a string
bool bool_member(const Json& obj, const char* key);             // false unless true
uint64_t uint_member(const Json& obj, const char* key);         // 0 unless an unsigned integer
bool has_member(const Json& obj, const char* key);              // present and not null
std::string env_name(const std::string& entry);                // "NAME" of "NAME=value"
bool looks_like_secret(const std::string& entry);              // by name or by value shape

}  // namespace runguard::policy::internal
