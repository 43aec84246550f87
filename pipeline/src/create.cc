// create / run / restore: the create path of DESIGN.md.
//
//   load policy -> read config.json -> context -> state dir -> user-namespace range -> image
//   digest (containerd only: agent, else runguardctl helper, else unknown; then CRI-O's ImageRef or
//   a trusted digest annotation) -> attestation gate (attestation_gate.h) -> decision ->
//   [denied: decision event, undo, report, exit 1] -> idmapped rootfs -> secret files (tmpfs;
//   Vault through the agent or helper) -> monitor -> decision record -> config.json (atomic) ->
//   decision event -> execve runtime with the original argv.
//
// Decision events (allowed and denied) are appended to the events file and then offered to
// runguardd; neither can fail or hold up the create beyond agent.requestTimeout.
//
// Every side effect before the exec is undone if a later step fails, so a failed create leaves
// config.json as it was and nothing in stateDir.
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <optional>

#include "runguard/common/frame.h"
#include "runguard/nsutil/events_file.h"
#include "runguard/nsutil/fs.h"
#include "runguard/nsutil/process.h"
#include "runguard/pipeline/commands.h"
#include "runguard/pipeline/config.h"
#include "runguard/policy/engine.h"
#include "host_facts.h"
#include "runguard/pipeline/release.h"
#include "agent_client.h"
#include "attestation_gate.h"
#include "decision_event.h"
#include "image_digest.h"
#include "monitor_setup.h"
#include "resources.h"
#include "secrets_setup.h"
#include "support.h"
#include "userns_setup.h"

namespace runguard::pipeline {
namespace {

using internal::report_failure;

// Adds runguard-hook's poststop entry, so the container's state is released however it ends
// (a foreground `run` is deleted by runc itself). The hook sits next to the runguard binary.
void add_release_hook(Json& spec, const std::string& state_dir, const RuncLog& log) {
  auto self = nsutil::real_path("/proc/self/exe");
  if (!self.is_ok()) return;
  std::string hook = self->substr(0, self->rfind('/') + 1) + "runguard-hook";
  if (!nsutil::path_exists(hook)) {
    log.write("warning", "runguard: " + hook + " not found; state of this container is released only by runguard delete");
    return;
  }
  Json entry = {{"path", hook}, {"args", {"runguard-hook", "poststop", "--state-dir", state_dir}}};
  Json& poststop = spec["hooks"]["poststop"];
  // A bundle created again (a restarted container) already has it.
  if (!poststop.is_array() || std::find(poststop.begin(), poststop.end(), entry) == poststop.end()) poststop.push_back(entry);
}

Json decision_record(const RuncArgs& args, const policy::Policy& p, const std::string& runtime,
                     const policy::ContainerContext& ctx, const policy::Decision& d) {
  Json r;
  r["version"] = 1;
  r["id"] = ctx.id;
  r["time"] = now_rfc3339();
  r["command"] = args.command;
  r["policy"] = {{"source", p.source}};
  r["runtime"] = runtime;
  r["context"] = policy::context_to_json(ctx);
  r["decision"] = policy::decision_to_json(d);
  return r;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

// Appends the decision's event line to the events file, then offers it and the record to the
// agent. Failures are warnings in --log: the container's fate is already decided.
void publish_decision(const RuncArgs& args, const policy::Policy& p, const policy::ContainerContext& ctx,
                      const policy::Decision& d, const Json& record) {
  RuncLog log = internal::log_for(args);
  struct timespec now = {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  Json event = internal::decision_event(p, ctx, d, now, host_name());
  auto file = nsutil::EventsFile::open(p.events_path);
  Status written = file.is_ok() ? file->append(dump_json(event) + "\n") : file.status();
  if (!written.is_ok()) log.write("warning", "runguard: container " + ctx.id + ": decision event not recorded: " + written.to_string());
  internal::AgentClient agent(p.agent.internal_socket);
  Status sent = agent.notify(frame::message("decision", {{"record", record}, {"event", std::move(event)}}),
                             std::chrono::milliseconds(p.agent.request_timeout_ms));
  if (!sent.is_ok() && !internal::agent_not_running(sent)) {
    log.write("warning", "runguard: container " + ctx.id + ": decision not sent to the agent: " + sent.to_string());
  }
}

struct Prepared {
  std::string config_path;
  std::string original;         // config.json as read
  std::string state_dir;        // <stateDir>/<id>, created by us
  bool state_created = false;
  bool config_written = false;
  internal::ResourcesRecord record;  // who the state directory belongs to (root, bundle)
  std::optional<internal::UsernsSetup> userns;
  std::optional<internal::SecretsDelivery> secrets;

  // Restores what this create changed, in reverse order.
  void undo() {
    if (config_written) (void)nsutil::write_file_atomic(config_path, original);
    if (record.monitor_pid > 0) internal::stop_monitor(record.monitor_pid, state_dir);
    if (secrets) secrets->undo();
    if (userns) userns->undo();
    // Never remove_tree over a mount (it would walk into the container's files).
    if (state_created && internal::detach_mounts_under(state_dir).is_ok()) (void)nsutil::remove_tree(state_dir);
  }
};

// A create younger than this whose runc has not written its state yet is still in progress
// (when the record does not say who claimed the directory, or cannot be checked from here).
constexpr time_t kCreateInProgressSeconds = 60;

std::string runc_state_file(const std::string& root, const std::string& id) {
  return internal::runtime_container_dir(root, id) + "/state.json";
}

// Whether an existing <stateDir>/<id> still belongs to someone: runc knows the container (under
// this create's --root, or the root its own create recorded: ids are unique per root only), or
// the runguard that claimed it still runs (it is runc by now, or about to be), or — when the
// record cannot say — a create of it started moments ago. Otherwise it is left over (a create
// killed before runc took over, a runtime that failed) and may be released.
Status check_state_dir_owner(const RuncArgs& args, const std::string& dir, const std::string& id,
                             const Result<internal::ResourcesRecord>& rec) {
  std::vector<std::string> roots = {args.root};
  if (rec.is_ok() && rec->runtime_root != args.root) roots.push_back(rec->runtime_root);
  for (const auto& root : roots) {
    std::string state = runc_state_file(root, id);
    if (nsutil::path_exists(state)) {
      return invalid("container " + id + " already exists (" + state + "); delete it first or use another id");
    }
  }
  if (std::optional<bool> creating = rec.is_ok() ? internal::creator_alive(*rec) : std::nullopt; creating) {
    if (!*creating) return Status::ok();
    return invalid("container " + id + " is being created by another runguard (pid " + std::to_string(rec->creator_pid) + ", " +
                   dir + "); retry, or use another id");
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0 && ::time(nullptr) - st.st_mtime < kCreateInProgressSeconds) {
    return invalid("container " + id + " is being created by another runguard (" + dir + "); retry, or use another id");
  }
  return Status::ok();
}

// <stateDir>/<id>, exclusively (mkdir, not mkdir -p): two creates of one id never share it.
// Under the claim lock from the check of a left-over directory to its first record: otherwise
// two creates after a killed one both find its dead creator, one reclaims and records itself,
// and the other's release then takes that fresh directory (and frees its range by id).
Status claim_state_dir(const RuncArgs& args, const policy::Policy& p, const std::string& id, const std::string& bundle,
                       Prepared& out) {
  out.state_dir = internal::container_state_dir(p.state_dir, id);
  RG_RETURN_IF_ERROR(nsutil::make_dirs(p.state_dir, 0711));
  RG_ASSIGN_OR_RETURN(nsutil::UniqueFd claim_lock, internal::lock_claims(p.state_dir, internal::kClaimLockTimeout));
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (::mkdir(out.state_dir.c_str(), 0700) == 0) {
      out.state_created = true;  // from here on the directory is ours to remove on failure
      out.record.runtime_root = args.root;
      out.record.bundle = bundle;
      internal::record_creator(out.record);
      return internal::write_resources(out.state_dir, out.record);
    }
    if (errno != EEXIST) return io_error("mkdir " + out.state_dir, errno);
    auto rec = internal::read_resources(out.state_dir);
    RG_RETURN_IF_ERROR(check_state_dir_owner(args, out.state_dir, id, rec));
    // Left by a container runc no longer has; released only while it still names the creator checked.
    RG_RETURN_IF_ERROR(rec.is_ok() ? internal::release_if_same_creator(p.state_dir, id, *rec) : release_container(p.state_dir, id));
    if (nsutil::path_exists(out.state_dir)) {
      return invalid("container " + id + ": could not release the state left in " + out.state_dir + " by an earlier container; see runguard's log");
    }
  }
  return invalid("container " + id + ": " + out.state_dir + " keeps reappearing; another create of the same id is racing this one");
}

// The pipeline up to (not including) the exec. Denial is reported with Code::kDenied.
Status prepare(const RuncArgs& args, const policy::Policy& p, const std::string& runtime, Prepared& out) {
  std::string id = args.id();
  RG_RETURN_IF_ERROR(check_container_id(id));
  if (args.flag("config")) {
    // A config.json outside the bundle (newer runc's --config) would bypass the one we check.
    return invalid("--config is not supported: put the spec in the bundle's config.json");
  }
  std::string bundle = args.flag("bundle").value_or("");
  if (bundle.empty()) bundle = ".";
  if (auto abs = nsutil::real_path(bundle); abs.is_ok()) bundle = *abs;
  else return Status(Code::kInvalidArgument, "bundle " + bundle + ": " + abs.status().to_string());
  out.config_path = bundle + "/config.json";

  RG_ASSIGN_OR_RETURN(out.original, internal::read_bundle_config(out.config_path));
  RG_ASSIGN_OR_RETURN(Json spec, parse_json(out.original, out.config_path));
  RG_RETURN_IF_ERROR(policy::validate_spec(spec, out.config_path));
  RG_RETURN_IF_ERROR(internal::forget_previous_userns(spec, p.state_dir));  // a bundle runguard already created once
  internal::forget_previous_monitor(spec, p.state_dir);
  internal::forget_previous_secrets(spec, p.state_dir);
  // The values of variables secretsInEnv moves into files; evaluation replaces them.
  Json original_env = spec.contains("process") && spec["process"].is_object() && spec["process"].contains("env")
                          ? spec["process"]["env"] : Json();

  policy::ContainerContext ctx = policy::context_from_spec(spec, id, bundle, args.root);
  internal::add_host_facts(spec, p, ctx);
  RG_RETURN_IF_ERROR(claim_state_dir(args, p, id, bundle, out));
  // The user-namespace range is taken before evaluation: the mappings the control writes are it.
  out.userns.emplace(p, args, out.state_dir, out.record);
  RG_RETURN_IF_ERROR(out.userns->acquire(spec, ctx));
  // Before evaluation, so the decision record has the digest and the gate's verdict.
  std::string digest_failure;
  internal::resolve_image_digest(args, p, internal::log_for(args), ctx, &digest_failure);
  std::vector<std::string> gate_warnings;
  Status gated = internal::gate_container(p, ctx, digest_failure, &gate_warnings);
  for (const auto& w : gate_warnings) internal::log_for(args).write("warning", "runguard: container " + id + ": " + w);
  RG_RETURN_IF_ERROR(gated);
  policy::Decision d = policy::evaluate_spec(p, std::move(spec), ctx);
  if (!d.allowed) {
    publish_decision(args, p, ctx, d, decision_record(args, p, runtime, ctx, d));
    return Status(Code::kDenied, "container " + id + " denied by policy " + p.source + ": " + d.denial_summary());
  }
  RG_RETURN_IF_ERROR(out.userns->idmap_rootfs(d.result, ctx));
  // Secret files are complete before runc can start the process (no startup race).
  if (p.mode == policy::Mode::kEnforce && !d.secrets.empty()) {
    out.secrets.emplace(p, out.state_dir, internal::log_for(args));
    // Never "opened" by failurePolicy: the unhardened spec would carry the moved credentials in
    // its environment and start without the files it asked for.
    if (Status s = out.secrets->deliver(ctx, d, original_env); !s.is_ok()) {
      return Status(Code::kDenied, "container " + id + " refused: its secrets could not be delivered: " + s.message());
    }
  }
  // The monitor must be listening before runc loads a profile that notifies it.
  if (p.mode == policy::Mode::kEnforce) RG_RETURN_IF_ERROR(internal::start_monitor(p, ctx, d.result, out.state_dir, out.record));
  Json record = decision_record(args, p, runtime, ctx, d);
  RG_RETURN_IF_ERROR(nsutil::write_file_atomic(out.state_dir + "/decision.json", dump_json(record, 2) + "\n", 0600));

  // Audit mode changes nothing, not even runguard's own plumbing.
  if (p.mode == policy::Mode::kEnforce) {
    add_release_hook(d.result, p.state_dir, internal::log_for(args));
    RG_RETURN_IF_ERROR(nsutil::write_file_atomic(out.config_path, dump_json(d.result)));
    out.config_written = true;
  }
  internal::log_for(args).write("info", "runguard: container " + id + ": " + internal::summarize(d) +
                                            " (record " + out.state_dir + "/decision.json)");
  publish_decision(args, p, ctx, d, record);
  return Status::ok();
}

}  // namespace

int cmd_create(const RuncArgs& args) {
  RuncLog log = internal::log_for(args);
  auto policy = load_policy(config_source());
  if (!policy.is_ok()) return report_failure(log, policy.status());
  auto runtime = internal::runtime_for(*policy);
  if (!runtime.is_ok()) return report_failure(log, runtime.status());

  Prepared prep;
  Status s = prepare(args, *policy, *runtime, prep);
  if (!s.is_ok()) {
    prep.undo();
    bool internal_error = s.code() != Code::kDenied && s.code() != Code::kInvalidArgument && s.code() != Code::kNotFound;
    if (internal_error && policy->failure_policy == policy::FailurePolicy::kOpen) {
      log.write("error", "runguard: " + s.to_string() + " (failurePolicy: open, starting the container unhardened)");
      return internal::exec_runtime(log, *runtime, args.argv);
    }
    return report_failure(log, s);
  }
  int rc = internal::exec_runtime(log, *runtime, args.argv);
  prep.undo();  // only reached when execve failed
  return rc;
}

}  // namespace runguard::pipeline
