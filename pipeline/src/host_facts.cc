#include "host_facts.h"

#include <string>
#include <utility>

#include "runguard/nsutil/fs.h"
#include "runguard/nsutil/process.h"

namespace runguard::pipeline::internal {

void add_host_facts(const Json& spec, const policy::Policy& p, policy::ContainerContext& ctx) {
  // A path that does not exist yet (a stateDir created later) is compared as written.
  for (const auto& own : policy::own_state_paths(p)) {
    if (auto rp = nsutil::real_path(own.path); rp.is_ok() && *rp != own.path) ctx.resolved_own_paths[own.path] = *rp;
  }
  static const std::pair<const char*, const char*> kNsFiles[] = {
      {"pid", "pid"}, {"network", "net"}, {"ipc", "ipc"}, {"uts", "uts"},
      {"mount", "mnt"}, {"user", "user"}, {"cgroup", "cgroup"}, {"time", "time"}};
  if (auto l = spec.find("linux"); l != spec.end() && l->is_object()) {
    if (auto ns = l->find("namespaces"); ns != l->end() && ns->is_array()) {
      for (const auto& n : *ns) {
        if (!n.is_object() || !n.contains("path") || !n["path"].is_string()) continue;
        std::string type = n.contains("type") && n["type"].is_string() ? n["type"].get<std::string>() : "";
        std::string path = n["path"];
        for (auto [t, file] : kNsFiles) {
          if (type == t && nsutil::is_host_namespace(path, file)) ctx.host_namespace_paths.insert(path);
        }
      }
    }
  }
  if (auto m = spec.find("mounts"); m != spec.end() && m->is_array()) {
    for (const auto& mount : *m) {
      if (!mount.is_object() || !mount.contains("source") || !mount["source"].is_string()) continue;
      std::string src = mount["source"];
      if (src.empty()) continue;
      // runc resolves a relative source against the bundle, as the policy does.
      std::string path = src[0] == '/' ? src : ctx.bundle + "/" + src;
      if (auto rp = nsutil::real_path(path); rp.is_ok() && *rp != src) ctx.resolved_sources[src] = *rp;
    }
  }
}

}  // namespace runguard::pipeline::internal
