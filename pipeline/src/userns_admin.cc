#include "runguard/pipeline/userns_admin.h"

#include <time.h>

#include <ctime>

#include "runguard/nsutil/fs.h"
#include "runguard/pipeline/release.h"
#include "support.h"

namespace runguard::pipeline {
namespace {

constexpr int64_t kCreateGraceSeconds = 300;

}  // namespace

std::string current_boot_id() {
  auto id = nsutil::read_file("/proc/sys/kernel/random/boot_id", 128);
  if (!id.is_ok()) return "";
  std::string s = *id;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

int64_t boottime_seconds() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_BOOTTIME, &ts);
  return ts.tv_sec;
}

bool userns_member_alive(const nsutil::UsernsMember& m) {
  std::string dir = internal::runtime_container_dir(m.runtime_root, m.id);
  if (nsutil::path_exists(dir + "/state.json") || nsutil::path_exists(dir + "/status")) return true;
  if (!nsutil::path_exists(m.state_dir)) return false;
  return !m.boot_id.empty() && m.boot_id == current_boot_id() && boottime_seconds() - m.created < kCreateGraceSeconds;
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
                         {"bootId", m.boot_id}, {"alive", userns_member_alive(m)}});
    }
    out["allocations"].push_back({{"group", a.group}, {"fixed", a.fixed}, {"ranges", ranges}, {"members", members}});
  }
  return out;
}

Result<size_t> userns_collect_garbage(const std::string& lib_dir) {
  nsutil::UsernsAllocator alloc(lib_dir + "/userns");
  RG_ASSIGN_OR_RETURN(auto allocations, alloc.list());
  for (const auto& a : allocations) {
    for (const auto& m : a.members) {
      if (userns_member_alive(m) || !nsutil::path_exists(m.state_dir)) continue;
      std::string parent = m.state_dir.substr(0, m.state_dir.rfind('/'));
      ReleaseCaller caller;
      caller.runtime_root = m.runtime_root;
      RG_RETURN_IF_ERROR(release_container(parent, m.id, caller));
    }
  }
  return alloc.collect_garbage(userns_member_alive);
}

}  // namespace runguard::pipeline
