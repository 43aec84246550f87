#include "runguard/secrets/files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "runguard/nsutil/fs.h"
#include "runguard/nsutil/private_files.h"
#include "runguard/policy/secrets.h"

namespace runguard::secrets {
namespace {

Result<std::string> get_str(const Json& j, const char* key, const std::string& what) {
  auto it = j.find(key);
  if (it == j.end()) return std::string();
  if (!it->is_string()) return invalid(what + ": \"" + key + "\" must be a string");
  return it->get<std::string>();
}

Result<int64_t> get_int(const Json& j, const char* key, const std::string& what, int64_t max) {
  auto it = j.find(key);
  if (it == j.end()) return int64_t{0};
  if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > max) {
    return invalid(what + ": \"" + key + "\" must be an integer 0.." + std::to_string(max));
  }
  return it->get<int64_t>();
}

}  // namespace

Json secrets_record_to_json(const SecretsRecord& r) {
  Json files = Json::array();
  for (const auto& f : r.files) {
    files.push_back({{"name", f.name},
                     {"source", f.source},
                     {"ref", f.ref},
                     {"leaseId", f.lease_id},
                     {"leaseDuration", f.lease_duration},
                     {"renewable", f.renewable}});
  }
  return {{"version", 1},
          {"container", r.container},
          {"namespace", r.k8s_namespace},
          {"dir", r.dir},
          {"mountPath", r.mount_path},
          {"uid", r.uid},
          {"gid", r.gid},
          {"kubernetesTokenFile", r.kubernetes_token_file},
          {"mounted", r.mounted},
          {"agentSocket", r.agent_socket},
          {"policyFile", r.policy_file},
          {"timeoutMs", r.timeout_ms},
          {"files", std::move(files)}};
}

Result<SecretsRecord> secrets_record_from_json(const Json& j, const std::string& what) {
  if (!j.is_object()) return invalid(what + ": expected an object");
  SecretsRecord r;
  RG_ASSIGN_OR_RETURN(r.container, get_str(j, "container", what));
  RG_ASSIGN_OR_RETURN(r.k8s_namespace, get_str(j, "namespace", what));
  RG_ASSIGN_OR_RETURN(r.dir, get_str(j, "dir", what));
  RG_ASSIGN_OR_RETURN(r.mount_path, get_str(j, "mountPath", what));
  RG_ASSIGN_OR_RETURN(r.kubernetes_token_file, get_str(j, "kubernetesTokenFile", what));
  RG_ASSIGN_OR_RETURN(int64_t uid, get_int(j, "uid", what, UINT32_MAX));
  RG_ASSIGN_OR_RETURN(int64_t gid, get_int(j, "gid", what, UINT32_MAX));
  r.uid = static_cast<uint32_t>(uid);
  r.gid = static_cast<uint32_t>(gid);
  if (auto m = j.find("mounted"); m != j.end() && m->is_boolean()) r.mounted = m->get<bool>();
  RG_ASSIGN_OR_RETURN(r.agent_socket, get_str(j, "agentSocket", what));
  RG_ASSIGN_OR_RETURN(r.policy_file, get_str(j, "policyFile", what));
  if (j.contains("timeoutMs")) { RG_ASSIGN_OR_RETURN(r.timeout_ms, get_int(j, "timeoutMs", what, 600000)); }
  if (r.dir.empty() || r.dir[0] != '/') return invalid(what + ": \"dir\" must be an absolute path");
  auto files = j.find("files");
  if (files == j.end()) return r;
  if (!files->is_array() || files->size() > kMaxSecrets) return invalid(what + ": \"files\" must be an array of at most " + std::to_string(kMaxSecrets));
  for (size_t i = 0; i < files->size(); ++i) {
    const Json& e = (*files)[i];
    std::string item = what + ": files[" + std::to_string(i) + "]";
    if (!e.is_object()) return invalid(item + ": expected an object");
    SecretsRecord::File f;
    RG_ASSIGN_OR_RETURN(f.name, get_str(e, "name", item));
    if (Status ok = policy::check_secret_name(f.name); !ok.is_ok()) return invalid(item + ": " + ok.message());
    RG_ASSIGN_OR_RETURN(f.source, get_str(e, "source", item));
    RG_ASSIGN_OR_RETURN(f.ref, get_str(e, "ref", item));
    RG_ASSIGN_OR_RETURN(f.lease_id, get_str(e, "leaseId", item));
    RG_ASSIGN_OR_RETURN(f.lease_duration, get_int(e, "leaseDuration", item, INT32_MAX));
    if (auto b = e.find("renewable"); b != e.end() && b->is_boolean()) f.renewable = b->get<bool>();
    r.files.push_back(std::move(f));
  }
  return r;
}

std::string secrets_record_path(const std::string& container_state_dir) { return container_state_dir + "/secrets.json"; }

Status write_secrets_record(const std::string& container_state_dir, const SecretsRecord& r) {
  return nsutil::write_file_atomic(secrets_record_path(container_state_dir), dump_json(secrets_record_to_json(r), 2) + "\n", 0600);
}

Result<SecretsRecord> read_secrets_record(const std::string& container_state_dir) {
  std::string path = secrets_record_path(container_state_dir);
  if (!nsutil::path_exists(path)) return Status(Code::kNotFound, path + " does not exist");
  RG_ASSIGN_OR_RETURN(std::string text, nsutil::read_file(path, 1u << 20));
  RG_ASSIGN_OR_RETURN(Json j, parse_json(text, path));
  return secrets_record_from_json(j, path);
}

Status mount_secrets_tmpfs(const std::string& dir, int64_t size, uint32_t uid, uint32_t gid) {
  // size=0 would be an unlimited tmpfs.
  if (size <= 0) return invalid("secrets tmpfs size must be positive, not " + std::to_string(size));
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return io_error("mkdir " + dir, errno);
  return nsutil::mount_tmpfs(dir, size, 0500, uid, gid);
}

Status write_secret_files(const std::string& dir, const std::vector<FetchedSecret>& files, uint32_t uid, uint32_t gid) {
  for (const auto& f : files) {
    RG_RETURN_IF_ERROR(policy::check_secret_name(f.name));
    RG_RETURN_IF_ERROR(nsutil::write_owned_file_atomic(dir, f.name, f.value, 0400, uid, gid));
  }
  return Status::ok();
}

Status wipe_secrets_dir(const std::string& dir) {
  if (!nsutil::path_exists(dir)) return Status::ok();
  Status zeroed = nsutil::zero_and_unlink_files(dir);
  RG_RETURN_IF_ERROR(nsutil::unmount(dir));
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) return io_error("rmdir " + dir, errno);
  return zeroed;
}

}  // namespace runguard::secrets
