#include "runguard/pipeline/userns_admin.h"

#include <ctime>

#include "runguard/nsutil/fs.h"

namespace runguard::pipeline {
namespace {

constexpr int64_t kCreateGraceSeconds = 300;

}  // namespace

bool userns_member_alive(const nsutil::UsernsMember& m) {
  std::string root = m.runtime_root.empty() ? "/run/runc" : m.runtime_root;
  if (nsutil::path_exists(root + "/" + m.id + "/state.json")) return true;
  return nsutil::path_exists(m.state_dir) && std::time(nullptr) - m.created < kCreateGraceSeconds;
}

Result<Json> userns_report(const std::string& lib_dir) {
  std::string dir = lib_dir + "/userns";
  RG_ASSIGN_OR_RETURN(auto allocations, nsutil::UsernsAllocator(dir).list());
  Json out = {{"dir", dir}, {"allocations", Json::array()}};
  for (const auto& a : allocations) {
    Json ranges = Json::array(), members = Json::array();
    for (const auto& r : a.ranges) ranges.push_back({{"start", r.start}, {"size", r.size}});
    for (const auto& m : a.members) {
      members.push_back({{"id", m.id}, {"runtimeRoot", m.runtime_root}, {"stateDir", m.state_dir}, {"created", m.created},
                         {"alive", userns_member_alive(m)}});
    }
    out["allocations"].push_back({{"group", a.group}, {"fixed", a.fixed}, {"ranges", ranges}, {"members", members}});
  }
  return out;
}

Result<size_t> userns_collect_garbage(const std::string& lib_dir) {
  return nsutil::UsernsAllocator(lib_dir + "/userns").collect_garbage(userns_member_alive);
}

}  // namespace runguard::pipeline
