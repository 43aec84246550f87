#include "secrets_setup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "runguard/common/frame.h"
#include "runguard/policy/secrets.h"
#include "runguard/policy/userns.h"
#include "runguard/secrets/file_backend.h"
#include "runguard/secrets/wire.h"
#include "agent_client.h"
#include "node_helper.h"

namespace runguard::pipeline::internal {
namespace {

using policy::PlannedSecret;
using secrets::FetchedSecret;

// The agent or helper gets the Vault budget plus a margin to report its own timeout.
constexpr int64_t kMarginMs = 500;

Result<uint32_t> member_id(const Json& spec, const char* key) {
  const Json* user = spec.contains("process") && spec["process"].is_object() && spec["process"].contains("user") ? &spec["process"]["user"] : nullptr;
  if (user == nullptr || !user->is_object() || !user->contains(key)) return uint32_t{0};
  const Json& v = (*user)[key];
  if (!v.is_number_unsigned() || v.get<uint64_t>() > UINT32_MAX) return invalid(std::string("process.user.") + key + " is not a valid id");
  return static_cast<uint32_t>(v.get<uint64_t>());
}

// Mount points below mountPath, made in the tmpfs (root-owned, 0555 directories; an empty 0444
// file for a file bind mount such as podman's --secret). Each component is checked: a spec's
// destination must not lead the mkdir out of the tmpfs.
Status make_mount_points(const std::string& dir, const std::vector<std::string>& points, const std::vector<std::string>& sources) {
  for (size_t n = 0; n < points.size(); ++n) {
    const std::string& rel = points[n];
    struct stat src {};
    bool file = n < sources.size() && ::stat(sources[n].c_str(), &src) == 0 && !S_ISDIR(src.st_mode);
    std::string cur = dir;
    size_t i = 0;
    while (i <= rel.size()) {
      size_t j = rel.find('/', i);
      if (j == std::string::npos) j = rel.size();
      std::string seg = rel.substr(i, j - i);
      if (seg.empty() || seg == "." || seg == "..") return invalid("mount destination below secrets.mountPath has a \"" + seg + "\" component: " + rel);
      cur += "/" + seg;
      bool last = j == rel.size();
      struct stat st {};
      if (::lstat(cur.c_str(), &st) == 0) {
        if (S_ISLNK(st.st_mode) || (!last && !S_ISDIR(st.st_mode))) return invalid(cur + ": two mounts below secrets.mountPath disagree about it");
      } else if (last && file) {
        int fd = ::open(cur.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
        if (fd < 0) return io_error("create " + cur, errno);
        ::close(fd);
      } else if (::mkdir(cur.c_str(), 0555) != 0) {
        return io_error("mkdir " + cur, errno);
      }
      i = j + 1;
    }
  }
  return Status::ok();
}

Result<std::string> env_value(const Json& env, const PlannedSecret& f) {
  if (!env.is_array() || f.env_index >= env.size() || !env[f.env_index].is_string()) {
    return Status(Code::kInternal, "process.env[" + std::to_string(f.env_index) + "] is gone (a runguard bug: please report it)");
  }
  const std::string& entry = env[f.env_index].get_ref<const std::string&>();
  if (entry.rfind(f.env_var + "=", 0) != 0) return Status(Code::kInternal, "process.env[" + std::to_string(f.env_index) + "] is not " + f.env_var);
  return entry.substr(f.env_var.size() + 1);
}

secrets::FetchRequest request_for(const policy::ContainerContext& ctx, const policy::SecretsPlan& plan, policy::SecretsSettings::Backend b) {
  secrets::FetchRequest r;
  r.container = ctx.id;
  r.k8s_namespace = ctx.k8s_namespace;
  r.kubernetes_token_file = plan.kubernetes_token_file;
  for (const auto& f : plan.files) {
    if (f.source != PlannedSecret::Source::kEnv && f.ref.backend == b) r.secrets.push_back({f.name, policy::secret_ref_to_string(f.ref)});
  }
  return r;
}

// Exactly one value per requested name, nothing else.
Status check_names(const secrets::FetchRequest& r, const std::vector<FetchedSecret>& got, const std::string& via) {
  std::map<std::string, int> seen;
  for (const auto& g : got) ++seen[g.name];
  for (const auto& s : r.secrets) {
    if (seen[s.name] != 1) return Status(Code::kUnavailable, via + " answered without (or twice with) secret " + s.name);
  }
  if (got.size() != r.secrets.size()) return Status(Code::kUnavailable, via + " answered with secrets that were not asked for");
  return Status::ok();
}

struct RevokeVia {
  std::string agent_socket;
  std::string policy_file;
  int64_t timeout_ms = 5000;
};

Status revoke(const RevokeVia& via, const secrets::RevokeRequest& req) {
  if (req.leases.empty() && req.kubernetes_token_file.empty()) {
    // Nothing to give back to Vault; a running agent still stops refreshing the container's
    // files (and finishes a write in progress) before they are wiped. No agent: nothing refreshes.
    AgentClient agent(via.agent_socket);
    (void)agent.request(frame::message("secrets.revoke", {{"request", secrets::revoke_request_to_json(req)}}),
                        std::chrono::milliseconds(via.timeout_ms + kMarginMs));
    return Status::ok();
  }
  NodeAsk ask;
  ask.agent_socket = via.agent_socket;
  ask.op = "secrets.revoke";
  ask.fields = {{"request", secrets::revoke_request_to_json(req)}};
  ask.agent_timeout = std::chrono::milliseconds(via.timeout_ms + kMarginMs);
  ask.helper_args = {"helper", "secrets", "revoke", "--request", dump_json(secrets::revoke_request_to_json(req)), "--timeout-ms",
                     std::to_string(via.timeout_ms)};
  if (!via.policy_file.empty()) {
    ask.helper_args.push_back("--config");
    ask.helper_args.push_back(via.policy_file);
  }
  ask.helper_timeout = std::chrono::milliseconds(via.timeout_ms + 2 * kMarginMs);
  auto answer = ask_agent_or_helper(ask);
  if (!answer.is_ok()) {
    return Status(answer.status().code(), "container " + req.container + ": " + std::to_string(req.leases.size()) +
                                              " Vault lease(s) not revoked (they expire at their TTL): " + answer.status().message());
  }
  return Status::ok();
}

Status revoke(const secrets::SecretsRecord& r) {
  secrets::RevokeRequest req;
  req.container = r.container;
  req.kubernetes_token_file = r.kubernetes_token_file;
  for (const auto& f : r.files) {
    if (!f.lease_id.empty()) req.leases.push_back(f.lease_id);
  }
  return revoke(RevokeVia{r.agent_socket, r.policy_file, r.timeout_ms}, req);
}

Result<std::vector<FetchedSecret>> fetch_vault(const policy::Policy& p, const secrets::FetchRequest& r) {
  int64_t budget = p.secrets.vault.timeout_ms;
  NodeAsk ask;
  ask.agent_socket = p.agent.internal_socket;
  ask.op = "secrets.fetch";
  ask.fields = {{"request", secrets::fetch_request_to_json(r)}};
  ask.agent_timeout = std::chrono::milliseconds(budget + kMarginMs);
  ask.helper_args = {"helper", "secrets", "fetch", "--request", dump_json(secrets::fetch_request_to_json(r)), "--timeout-ms", std::to_string(budget)};
  if (p.source.front() == '/') {
    ask.helper_args.push_back("--config");
    ask.helper_args.push_back(p.source);
  }
  ask.helper_timeout = std::chrono::milliseconds(budget + 2 * kMarginMs);
  RG_ASSIGN_OR_RETURN(NodeAnswer answer, ask_agent_or_helper(ask));
  auto got = secrets::fetched_from_json(answer.reply);
  // The reply's base64 copies of the values.
  if (auto list = answer.reply.find("secrets"); list != answer.reply.end() && list->is_array()) {
    for (auto& e : *list) {
      if (e.is_object() && e.contains("value") && e["value"].is_string()) {
        auto& v = e["value"].get_ref<std::string&>();
        explicit_bzero(v.data(), v.size());
      }
    }
  }
  if (!got.is_ok()) return Status(Code::kUnavailable, answer.via + ": " + got.status().message());
  if (Status names = check_names(r, *got, answer.via); !names.is_ok()) {
    secrets::RevokeRequest back{r.container, {}, r.kubernetes_token_file};
    for (const auto& g : *got) {
      if (!g.lease_id.empty()) back.leases.push_back(g.lease_id);
    }
    secrets::wipe(*got);
    if (!back.leases.empty()) (void)revoke(RevokeVia{p.agent.internal_socket, p.source.front() == '/' ? p.source : "", budget}, back);
    return names;
  }
  return got;
}

}  // namespace

Status SecretsDelivery::deliver(const policy::ContainerContext& ctx, const policy::Decision& d, const Json& original_env) {
  const policy::SecretsPlan& plan = d.secrets;
  RG_ASSIGN_OR_RETURN(uint32_t uid, member_id(d.result, "uid"));
  RG_ASSIGN_OR_RETURN(uint32_t gid, member_id(d.result, "gid"));
  auto host_uid = policy::host_id_of(d.result, uid, false);
  auto host_gid = policy::host_id_of(d.result, gid, true);
  if (!host_uid || !host_gid) return invalid("the container's user " + std::to_string(uid) + ":" + std::to_string(gid) + " is not mapped by its user namespace; its secret files would have no owner");

  record_.container = ctx.id;
  record_.k8s_namespace = ctx.k8s_namespace;
  record_.dir = plan.host_dir;
  record_.mount_path = plan.mount_path;
  record_.uid = *host_uid;
  record_.gid = *host_gid;
  record_.kubernetes_token_file = plan.kubernetes_token_file;
  record_.agent_socket = policy_.agent.internal_socket;
  record_.policy_file = policy_.source.front() == '/' ? policy_.source : "";
  record_.timeout_ms = policy_.secrets.vault.timeout_ms;
  for (const auto& f : plan.files) {
    secrets::SecretsRecord::File file;
    file.name = f.name;
    file.source = policy::source_name(f.source);
    if (f.source != PlannedSecret::Source::kEnv) file.ref = policy::secret_ref_to_string(f.ref);
    record_.files.push_back(std::move(file));
  }
  record_.mounted = true;  // before the mount: a crash in between leaves release a trace
  started_ = true;
  // runc mounts the tmpfs as the container's root when it has a user namespace: that host id
  // must be able to pass through the state directory (whose files stay 0600). Without one the
  // owner may be a host account (uid 1000 is a login user on many nodes): the directory stays
  // 0700, which runc, as the host's root, passes anyway.
  if ((*host_uid != uid || *host_gid != gid) && ::chmod(dir_.c_str(), 0711) != 0) return io_error("chmod " + dir_, errno);
  RG_RETURN_IF_ERROR(secrets::write_secrets_record(dir_, record_));
  RG_RETURN_IF_ERROR(secrets::mount_secrets_tmpfs(plan.host_dir, policy_.secrets.size, record_.uid, record_.gid));
  RG_RETURN_IF_ERROR(make_mount_points(plan.host_dir, plan.mount_points, plan.mount_point_sources));

  std::vector<FetchedSecret> values;
  struct Wiper {
    std::vector<FetchedSecret>& v;
    ~Wiper() { secrets::wipe(v); }
  } wiper{values};
  for (const auto& f : plan.files) {
    if (f.source != PlannedSecret::Source::kEnv) continue;
    RG_ASSIGN_OR_RETURN(std::string v, env_value(original_env, f));
    values.push_back({f.name, std::move(v), "", 0, false});
  }
  auto from_files = request_for(ctx, plan, policy::SecretsSettings::Backend::kFile);
  if (!from_files.secrets.empty()) {
    RG_ASSIGN_OR_RETURN(auto got, secrets::read_file_secrets(policy_.secrets.file_dir, from_files));
    for (auto& g : got) values.push_back(std::move(g));
  }
  auto from_vault = request_for(ctx, plan, policy::SecretsSettings::Backend::kVault);
  if (!from_vault.secrets.empty()) {
    auto got = fetch_vault(policy_, from_vault);
    if (!got.is_ok()) {
      return Status(got.status().code(), "secrets from Vault (" + policy_.secrets.vault.address + "): " + got.status().message());
    }
    for (auto& g : *got) {
      for (auto& f : record_.files) {
        if (f.name == g.name) {
          f.lease_id = g.lease_id;
          f.lease_duration = g.lease_duration;
          f.renewable = g.renewable;
        }
      }
      values.push_back(std::move(g));
    }
    // The leases are recorded before anything else can fail, so undo and release revoke them.
    RG_RETURN_IF_ERROR(secrets::write_secrets_record(dir_, record_));
  }
  RG_RETURN_IF_ERROR(secrets::write_secret_files(plan.host_dir, values, record_.uid, record_.gid));
  AgentClient agent(policy_.agent.internal_socket);
  Status told = agent.notify(frame::message("secrets.attached", {{"container", ctx.id}}), std::chrono::milliseconds(policy_.agent.request_timeout_ms));
  if (!told.is_ok() && !agent_not_running(told)) log_.write("warning", "runguard: container " + ctx.id + ": runguardd not told about its secrets: " + told.to_string());
  return Status::ok();
}

void SecretsDelivery::undo() {
  if (!started_) return;
  started_ = false;
  if (Status s = revoke(record_); !s.is_ok()) log_.write("warning", "runguard: " + s.to_string());
  if (Status s = secrets::wipe_secrets_dir(record_.dir); !s.is_ok()) log_.write("warning", "runguard: " + s.to_string());
  ::unlink(secrets::secrets_record_path(dir_).c_str());
}

Status release_secrets(const std::string& container_state_dir) {
  auto rec = secrets::read_secrets_record(container_state_dir);
  if (!rec.is_ok()) return rec.status().code() == Code::kNotFound ? Status::ok() : rec.status();
  Status first = revoke(*rec);
  Status wiped = secrets::wipe_secrets_dir(rec->dir);
  if (first.is_ok()) first = wiped;
  // The record goes only once the tmpfs is gone: it is what a second release would need.
  if (wiped.is_ok() && ::unlink(secrets::secrets_record_path(container_state_dir).c_str()) != 0 && errno != ENOENT && first.is_ok()) {
    first = io_error("unlink " + secrets::secrets_record_path(container_state_dir), errno);
  }
  return first;
}

void forget_previous_secrets(Json& spec, const std::string& state_dir) {
  if (!spec.contains("mounts") || !spec["mounts"].is_array()) return;
  Json& mounts = spec["mounts"];
  std::string prefix = state_dir + "/";
  for (size_t i = mounts.size(); i-- > 0;) {
    const Json& m = mounts[i];
    if (!m.is_object() || !m.contains("source") || !m["source"].is_string()) continue;
    const std::string& src = m["source"].get_ref<const std::string&>();
    if (src.rfind(prefix, 0) == 0 && src.size() > 8 && src.compare(src.size() - 8, 8, "/secrets") == 0) {
      mounts.erase(mounts.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
}

}  // namespace runguard::pipeline::internal
