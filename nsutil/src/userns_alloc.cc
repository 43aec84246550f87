#include "runguard/nsutil/userns_alloc.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <set>
#include <thread>
#include <utility>

#include "runguard/common/json.h"
#include "runguard/nsutil/fd.h"
#include "runguard/nsutil/fs.h"

namespace runguard::nsutil {
namespace {

using Allocations = std::vector<UsernsAllocation>;
using Clock = std::chrono::steady_clock;

// Exclusive upper bound of usable host ids: 4294967295 is (uid_t)-1, which the kernel reads as
// "no id", so no range may contain it.
constexpr uint64_t kIdEnd = 4294967295u;
constexpr int64_t kFormatVersion = 1;
constexpr size_t kMaxStateBytes = 64u << 20;
constexpr const char* kStateName = "ranges.json";
constexpr const char* kLockName = "lock";
// Temp files of a writer that died between create and rename; only ever present while that writer
// held the lock, so whoever holds it now may remove them.
constexpr const char* kStaleTempPrefixes[] = {"ranges.json.tmp.", "ranges.json.runguard-"};
constexpr const char* kRecovery =
    "; repair it, or stop every runguard container and remove it (ranges are allocated afresh)";

uint64_t end_of(const IdRange& r) { return uint64_t{r.start} + r.size; }

std::string describe(const IdRange& r) {
  return std::to_string(r.start) + "-" + std::to_string(end_of(r) - 1);
}

std::string state_path(const std::string& dir) { return dir + "/" + kStateName; }

// ---- locking ----------------------------------------------------------------------------------

// Takes flock(`op`) on <dir>/lock, polling so the wait is bounded by `timeout`. The lock lives as
// long as the returned fd.
Result<UniqueFd> lock_dir(const std::string& dir, int op, std::chrono::milliseconds timeout) {
  std::string path = dir + "/" + kLockName;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return io_error("open lock file " + path, errno);
  Clock::time_point deadline = Clock::now() + timeout;
  std::chrono::milliseconds pause(1);
  for (;;) {
    if (::flock(fd.get(), op | LOCK_NB) == 0) return fd;
    if (errno != EWOULDBLOCK && errno != EINTR) return io_error("flock " + path, errno);
    Clock::time_point now = Clock::now();
    if (now >= deadline) {
      return Status(Code::kUnavailable, "timed out after " + std::to_string(timeout.count()) +
                                            "ms waiting for the lock on " + path +
                                            "; another runguard holds it (find it with `fuser " + path +
                                            "`) and retry when it finishes");
    }
    std::this_thread::sleep_for(std::min<Clock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, std::chrono::milliseconds(20));
  }
}

// ---- reading ranges.json ----------------------------------------------------------------------

Status corrupt(const std::string& path, const std::string& field, const std::string& problem) {
  return Status(Code::kInvalidArgument, path + ": " + field + " " + problem + kRecovery);
}

std::string join(const std::string& where, const char* key) { return where.empty() ? key : where + "." + key; }

Result<const Json*> field(const Json& object, const char* key, const std::string& where,
                          const std::string& path) {
  auto it = object.find(key);
  if (it == object.end()) return corrupt(path, join(where, key), "is missing");
  return &*it;
}

enum class Kind { kInteger, kString, kBoolean, kArray };

bool is_kind(const Json& value, Kind kind) {
  switch (kind) {
    case Kind::kInteger: return value.is_number_integer();
    case Kind::kString: return value.is_string();
    case Kind::kBoolean: return value.is_boolean();
    case Kind::kArray: return value.is_array();
  }
  return false;
}

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::kInteger: return "integer";
    case Kind::kString: return "string";
    case Kind::kBoolean: return "boolean";
    case Kind::kArray: return "array";
  }
  return "?";
}

Result<const Json*> typed_field(const Json& object, const char* key, Kind kind, const std::string& where,
                                const std::string& path) {
  RG_ASSIGN_OR_RETURN(const Json* value, field(object, key, where, path));
  if (!is_kind(*value, kind)) {
    return corrupt(path, join(where, key), std::string("is ") + json_type_name(*value) + ", expected " + kind_name(kind));
  }
  return value;
}

Result<uint32_t> u32_field(const Json& object, const char* key, const std::string& where,
                           const std::string& path) {
  RG_ASSIGN_OR_RETURN(const Json* value, typed_field(object, key, Kind::kInteger, where, path));
  if (!value->is_number_unsigned() || value->get<uint64_t>() > UINT32_MAX) {
    return corrupt(path, join(where, key), "is " + value->dump() + ", expected an id from 0 to 4294967295");
  }
  return static_cast<uint32_t>(value->get<uint64_t>());
}

Result<std::string> string_field(const Json& object, const char* key, const std::string& where,
                                 const std::string& path) {
  RG_ASSIGN_OR_RETURN(const Json* value, typed_field(object, key, Kind::kString, where, path));
  return value->get<std::string>();
}

Result<IdRange> decode_range(const Json& json, const std::string& where, const std::string& path) {
  if (!json.is_object()) return corrupt(path, where, std::string("is ") + json_type_name(json) + ", expected object");
  IdRange r;
  RG_ASSIGN_OR_RETURN(r.start, u32_field(json, "start", where, path));
  RG_ASSIGN_OR_RETURN(r.size, u32_field(json, "size", where, path));
  if (r.size == 0 || end_of(r) > kIdEnd) {
    return corrupt(path, where, "is " + std::to_string(r.start) + "+" + std::to_string(r.size) +
                                    ", expected a non-empty range below 4294967295");
  }
  return r;
}

Result<UsernsMember> decode_member(const Json& json, const std::string& where, const std::string& path) {
  if (!json.is_object()) return corrupt(path, where, std::string("is ") + json_type_name(json) + ", expected object");
  UsernsMember m;
  RG_ASSIGN_OR_RETURN(m.id, string_field(json, "id", where, path));
  RG_ASSIGN_OR_RETURN(m.runtime_root, string_field(json, "runtimeRoot", where, path));
  RG_ASSIGN_OR_RETURN(m.state_dir, string_field(json, "stateDir", where, path));
  RG_ASSIGN_OR_RETURN(const Json* created, typed_field(json, "created", Kind::kInteger, where, path));
  if (created->is_number_unsigned() && created->get<uint64_t>() > uint64_t{INT64_MAX}) {
    return corrupt(path, where + ".created", "is out of range");
  }
  m.created = created->get<int64_t>();
  // Optional: files written before boot ids were recorded have none.
  if (json.contains("bootId")) { RG_ASSIGN_OR_RETURN(m.boot_id, string_field(json, "bootId", where, path)); }
  if (m.id.empty()) return corrupt(path, where + ".id", "is empty");
  return m;
}

Result<UsernsAllocation> decode_allocation(const Json& json, const std::string& where, const std::string& path) {
  if (!json.is_object()) return corrupt(path, where, std::string("is ") + json_type_name(json) + ", expected object");
  UsernsAllocation a;
  RG_ASSIGN_OR_RETURN(a.group, string_field(json, "group", where, path));
  RG_ASSIGN_OR_RETURN(const Json* fixed, typed_field(json, "fixed", Kind::kBoolean, where, path));
  a.fixed = fixed->get<bool>();
  RG_ASSIGN_OR_RETURN(const Json* ranges, typed_field(json, "ranges", Kind::kArray, where, path));
  for (size_t i = 0; i < ranges->size(); ++i) {
    RG_ASSIGN_OR_RETURN(IdRange r, decode_range((*ranges)[i], where + ".ranges[" + std::to_string(i) + "]", path));
    a.ranges.push_back(r);
  }
  RG_ASSIGN_OR_RETURN(const Json* members, typed_field(json, "members", Kind::kArray, where, path));
  for (size_t i = 0; i < members->size(); ++i) {
    RG_ASSIGN_OR_RETURN(UsernsMember m, decode_member((*members)[i], where + ".members[" + std::to_string(i) + "]", path));
    a.members.push_back(std::move(m));
  }
  if (a.group.empty()) return corrupt(path, where + ".group", "is empty");
  if (a.ranges.empty()) return corrupt(path, where + ".ranges", "is empty");
  return a;
}

// The invariants every writer keeps: group names and member ids unique, ranges of different
// groups disjoint. A file breaking them was edited by hand or by something else; refuse it.
Status check_invariants(const Allocations& allocs, const std::string& path) {
  std::set<std::string> groups, members;
  std::vector<std::pair<IdRange, const std::string*>> ranges;
  for (const UsernsAllocation& a : allocs) {
    if (!groups.insert(a.group).second) return corrupt(path, "group \"" + a.group + "\"", "appears twice");
    for (const UsernsMember& m : a.members) {
      if (!members.insert(m.id).second) return corrupt(path, "member \"" + m.id + "\"", "appears twice");
    }
    for (const IdRange& r : a.ranges) ranges.emplace_back(r, &a.group);
  }
  std::sort(ranges.begin(), ranges.end(), [](const auto& x, const auto& y) { return x.first.start < y.first.start; });
  for (size_t i = 1; i < ranges.size(); ++i) {
    const auto& [prev, prev_group] = ranges[i - 1];
    const auto& [cur, cur_group] = ranges[i];
    if (overlaps(prev, cur)) {
      return corrupt(path, "range " + describe(cur) + " of group \"" + *cur_group + "\"",
                     "overlaps " + describe(prev) + " of group \"" + *prev_group + "\"");
    }
  }
  return Status::ok();
}

Result<Allocations> decode_state(const Json& json, const std::string& path) {
  if (!json.is_object()) return corrupt(path, "the document", std::string("is ") + json_type_name(json) + ", expected object");
  RG_ASSIGN_OR_RETURN(const Json* version, typed_field(json, "version", Kind::kInteger, "", path));
  if (*version != kFormatVersion) {
    return corrupt(path, "version", "is " + version->dump() + ", this runguard reads version " + std::to_string(kFormatVersion));
  }
  RG_ASSIGN_OR_RETURN(const Json* list, typed_field(json, "allocations", Kind::kArray, "", path));
  Allocations allocs;
  for (size_t i = 0; i < list->size(); ++i) {
    RG_ASSIGN_OR_RETURN(UsernsAllocation a, decode_allocation((*list)[i], "allocations[" + std::to_string(i) + "]", path));
    allocs.push_back(std::move(a));
  }
  RG_RETURN_IF_ERROR(check_invariants(allocs, path));
  return allocs;
}

// A missing ranges.json is an empty allocator; one that does not parse is an error.
Result<Allocations> load(const std::string& dir) {
  std::string path = state_path(dir);
  Result<std::string> text = read_file(path, kMaxStateBytes);
  if (!text.is_ok()) {
    if (text.status().error_number() == ENOENT) return Allocations{};
    return std::move(text).take_status();
  }
  Result<Json> json = parse_json(*text, path);
  if (!json.is_ok()) return Status(Code::kInvalidArgument, json.status().message() + kRecovery);
  return decode_state(*json, path);
}

// ---- writing ranges.json ----------------------------------------------------------------------

Json encode(const Allocations& allocs) {
  Json list = Json::array();
  for (const UsernsAllocation& a : allocs) {
    Json ranges = Json::array();
    for (const IdRange& r : a.ranges) ranges.push_back(Json{{"start", r.start}, {"size", r.size}});
    Json members = Json::array();
    for (const UsernsMember& m : a.members) {
      members.push_back(Json{{"id", m.id}, {"runtimeRoot", m.runtime_root}, {"stateDir", m.state_dir}, {"created", m.created},
                              {"bootId", m.boot_id}});
    }
    list.push_back(Json{{"group", a.group}, {"fixed", a.fixed}, {"ranges", std::move(ranges)}, {"members", std::move(members)}});
  }
  return Json{{"version", kFormatVersion}, {"allocations", std::move(list)}};
}

// Best effort: a leftover temp file is harmless (it is never read), only untidy.
void remove_stale_temps(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), &::closedir);
  if (!d) return;
  while (dirent* entry = ::readdir(d.get())) {
    for (const char* prefix : kStaleTempPrefixes) {
      if (std::strncmp(entry->d_name, prefix, std::strlen(prefix)) == 0) ::unlinkat(::dirfd(d.get()), entry->d_name, 0);
    }
  }
}

// Call with the exclusive lock held.
Status store(const std::string& dir, const Allocations& allocs) {
  remove_stale_temps(dir);
  return write_file_atomic(state_path(dir), dump_json(encode(allocs), 1) + "\n", 0600);
}

// Runs `step` on the stored allocations under the exclusive lock; writes them back if it says it
// changed them.
Status update(const std::string& dir, std::chrono::milliseconds timeout,
              const std::function<Result<bool>(Allocations&)>& step) {
  RG_ASSIGN_OR_RETURN(UniqueFd lock, lock_dir(dir, LOCK_EX, timeout));
  RG_ASSIGN_OR_RETURN(Allocations allocs, load(dir));
  RG_ASSIGN_OR_RETURN(bool changed, step(allocs));
  if (!changed) return Status::ok();
  return store(dir, allocs);
}

Result<bool> dir_exists(const std::string& dir) {
  struct stat st{};
  if (::stat(dir.c_str(), &st) == 0) return true;
  if (errno == ENOENT) return false;
  return io_error("stat " + dir, errno);
}

// ---- allocation logic (pure) ------------------------------------------------------------------

// Drops members `alive` calls dead (never `keep`), then allocations left without members.
size_t drop_dead(Allocations& allocs, const UsernsAllocator::Alive& alive, const std::string& keep) {
  size_t dropped = 0;
  if (alive) {
    for (UsernsAllocation& a : allocs) {
      dropped += std::erase_if(a.members, [&](const UsernsMember& m) { return m.id != keep && !alive(m); });
    }
  }
  std::erase_if(allocs, [](const UsernsAllocation& a) { return a.members.empty(); });
  return dropped;
}

Status validate_pool(const UsernsPool& pool) {
  if (pool.size == 0) return invalid("userNamespace.size is 0; give each container a positive number of ids (65536 is usual)");
  if (pool.count == 0) return invalid("userNamespace.count is 0; set it to the number of containers that may run at once");
  uint64_t end = uint64_t{pool.first} + uint64_t{pool.count} * pool.size;
  if (end > kIdEnd) {
    return invalid("the user-namespace pool of " + std::to_string(pool.count) + " ranges of " + std::to_string(pool.size) +
                   " ids from " + std::to_string(pool.first) + " ends at " + std::to_string(end - 1) +
                   ", past the last usable host id 4294967294; lower userNamespace.first, .count or .size");
  }
  return Status::ok();
}

// Sorts and merges overlapping ranges (a spec's uid and gid mappings usually name the same host
// ids). Ranges must be non-empty, stay below 4294967295 and, merged, hold at most `max_size` ids
// each (0 = no limit).
Result<std::vector<IdRange>> normalize_fixed(std::vector<IdRange> ranges, uint32_t max_size) {
  for (const IdRange& r : ranges) {
    if (r.size == 0) {
      return invalid("user-namespace host range at " + std::to_string(r.start) +
                     " has size 0; give every uidMappings/gidMappings entry a positive size");
    }
    if (end_of(r) > kIdEnd) {
      return invalid("user-namespace host range " + std::to_string(r.start) + "+" + std::to_string(r.size) +
                     " runs past the last usable host id 4294967294; fix uidMappings/gidMappings");
    }
  }
  std::sort(ranges.begin(), ranges.end(), [](const IdRange& a, const IdRange& b) { return a.start < b.start; });
  std::vector<IdRange> out;
  for (const IdRange& r : ranges) {
    if (!out.empty() && r.start < end_of(out.back())) {
      out.back().size = static_cast<uint32_t>(std::max(end_of(out.back()), end_of(r)) - out.back().start);
    } else {
      out.push_back(r);
    }
  }
  for (const IdRange& r : out) {
    if (max_size != 0 && r.size > max_size) {
      return invalid("user-namespace host range " + describe(r) + " of uidMappings/gidMappings holds " +
                     std::to_string(r.size) + " ids, more than the " + std::to_string(max_size) +
                     " allowed for a spec's own mappings; map fewer host ids, or leave the mappings to the pool");
    }
  }
  return out;
}

// Sorted, merged union of `ranges` (empty ones dropped); adjacent ranges are joined too.
std::vector<IdRange> merged(std::vector<IdRange> ranges) {
  std::erase_if(ranges, [](const IdRange& r) { return r.size == 0; });
  std::sort(ranges.begin(), ranges.end(), [](const IdRange& a, const IdRange& b) { return a.start < b.start; });
  std::vector<IdRange> out;
  for (const IdRange& r : ranges) {
    if (!out.empty() && r.start <= end_of(out.back())) {
      uint64_t end = std::max(end_of(out.back()), end_of(r));
      out.back().size = static_cast<uint32_t>(std::min<uint64_t>(end - out.back().start, UINT32_MAX));
    } else {
      out.push_back(r);
    }
  }
  return out;
}

bool covered(const IdRange& range, const std::vector<IdRange>& by) {
  uint64_t pos = range.start;
  for (const IdRange& r : merged(by)) {
    if (r.start <= pos && pos < end_of(r)) pos = end_of(r);
  }
  return pos >= end_of(range);
}

// The lowest pool slot overlapping neither `pool.excluded` nor any allocation.
Result<IdRange> pick_slot(const Allocations& allocs, const UsernsPool& pool, const std::string& dir) {
  std::vector<IdRange> taken = pool.excluded;
  for (const UsernsAllocation& a : allocs) taken.insert(taken.end(), a.ranges.begin(), a.ranges.end());
  taken = merged(std::move(taken));
  size_t j = 0;
  uint64_t slot = 0;
  while (slot < pool.count) {
    IdRange candidate{static_cast<uint32_t>(pool.first + slot * pool.size), pool.size};
    while (j < taken.size() && end_of(taken[j]) <= candidate.start) ++j;
    if (j == taken.size() || taken[j].start >= end_of(candidate)) return candidate;
    // Skip every slot that starts inside taken[j].
    uint64_t past = end_of(taken[j]) - pool.first;
    slot = (past + pool.size - 1) / pool.size;
  }
  return Status(Code::kUnavailable, "all " + std::to_string(pool.count) + " ranges of " + std::to_string(pool.size) +
                                        " ids from " + std::to_string(pool.first) + " are allocated (" +
                                        state_path(dir) + "); raise userNamespace.count or delete containers");
}

std::string member_list(const UsernsAllocation& a) {
  std::string out;
  for (const UsernsMember& m : a.members) out += (out.empty() ? "" : ", ") + m.id;
  return out;
}

Status check_conflicts(const Allocations& allocs, const std::vector<IdRange>& ranges, const std::string& group) {
  for (const UsernsAllocation& a : allocs) {
    if (a.group == group) continue;
    for (const IdRange& mine : ranges) {
      for (const IdRange& theirs : a.ranges) {
        if (!overlaps(mine, theirs)) continue;
        return invalid("host ids " + describe(mine) + " of the user-namespace mappings overlap " + describe(theirs) +
                       ", allocated to group \"" + a.group + "\" (containers " + member_list(a) +
                       "); map other host ids in uidMappings/gidMappings, or delete those containers");
      }
    }
  }
  return Status::ok();
}

Status check_within_group(const UsernsAllocation& a, const std::vector<IdRange>& ranges) {
  for (const IdRange& r : ranges) {
    if (covered(r, a.ranges)) continue;
    std::string have;
    for (const IdRange& g : a.ranges) have += (have.empty() ? "" : ", ") + describe(g);
    return invalid("host ids " + describe(r) + " of the user-namespace mappings lie outside the ranges of group \"" +
                   a.group + "\" (" + have + "); containers of one pod must map host ids within them");
  }
  return Status::ok();
}

std::string range_list(const std::vector<IdRange>& ranges) {
  std::string out;
  for (const IdRange& r : ranges) out += (out.empty() ? "" : ", ") + describe(r);
  return out;
}

// A group's allocation is either the pool's or the spec's own mappings, never both: a pool claim
// joining a fixed group would run under host ids it never asked for, and a fixed claim joining a
// pool group ties the spec's mappings to whichever slot the pool happened to pick. Refuse both.
Status check_same_kind(const UsernsAllocation& a, const UsernsClaim& claim, const std::vector<IdRange>& fixed) {
  bool claim_fixed = !fixed.empty();
  if (claim_fixed == a.fixed) return Status::ok();
  if (a.fixed) {
    return invalid("container \"" + claim.member.id + "\" asks for a user-namespace range from the pool but its group \"" +
                   a.group + "\" holds the spec's own mappings (host ids " + range_list(a.ranges) +
                   "); give every container of the group the same uidMappings/gidMappings, or none");
  }
  return invalid("container \"" + claim.member.id + "\" brings its own user-namespace mappings (host ids " +
                 range_list(fixed) + ") but its group \"" + a.group + "\" holds a range from the pool (" +
                 range_list(a.ranges) + "); give every container of the group no uidMappings/gidMappings, or the same ones");
}

// Copies what the claim knows now over a listed member's record; returns whether anything changed.
bool refresh_member(UsernsAllocation& a, const UsernsMember& from) {
  for (UsernsMember& m : a.members) {
    if (m.id != from.id) continue;
    bool changed = m.runtime_root != from.runtime_root || m.state_dir != from.state_dir || m.created != from.created ||
                   m.boot_id != from.boot_id;
    m = from;
    return changed;
  }
  return false;
}

UsernsAllocation* find_group(Allocations& allocs, const std::string& group) {
  auto it = std::find_if(allocs.begin(), allocs.end(), [&](const UsernsAllocation& a) { return a.group == group; });
  return it == allocs.end() ? nullptr : &*it;
}

UsernsAllocation* find_member(Allocations& allocs, const std::string& id) {
  for (UsernsAllocation& a : allocs) {
    for (const UsernsMember& m : a.members) {
      if (m.id == id) return &a;
    }
  }
  return nullptr;
}

// Applies `claim` (already validated; `fixed` normalized) to `allocs`, filling `out`. Returns
// whether `allocs` changed.
Result<bool> apply_claim(Allocations& allocs, const UsernsClaim& claim, const std::string& group,
                         const std::vector<IdRange>& fixed, const UsernsPool& pool, const std::string& dir,
                         UsernsAllocation& out) {
  if (UsernsAllocation* held = find_member(allocs, claim.member.id)) {
    if (held->group != group) {
      return invalid("container \"" + claim.member.id + "\" already holds user-namespace ids in group \"" + held->group +
                     "\", not \"" + group + "\"; delete it before creating it again");
    }
    RG_RETURN_IF_ERROR(check_same_kind(*held, claim, fixed));
    RG_RETURN_IF_ERROR(check_within_group(*held, fixed));
    // A stale record (say from before a reboot) would give the liveness check an old timestamp.
    bool changed = refresh_member(*held, claim.member);
    out = *held;
    return changed;
  }
  UsernsMember member = claim.member;
  if (UsernsAllocation* existing = find_group(allocs, group)) {
    RG_RETURN_IF_ERROR(check_same_kind(*existing, claim, fixed));
    RG_RETURN_IF_ERROR(check_within_group(*existing, fixed));
    existing->members.push_back(std::move(member));
    out = *existing;
    return true;
  }
  UsernsAllocation fresh;
  fresh.group = group;
  fresh.members.push_back(std::move(member));
  if (!fixed.empty()) {
    RG_RETURN_IF_ERROR(check_conflicts(allocs, fixed, group));
    fresh.ranges = fixed;
    fresh.fixed = true;
  } else {
    RG_ASSIGN_OR_RETURN(IdRange slot, pick_slot(allocs, pool, dir));
    fresh.ranges = {slot};
  }
  out = fresh;
  allocs.push_back(std::move(fresh));
  return true;
}

}  // namespace

bool overlaps(const IdRange& a, const IdRange& b) {
  return a.size != 0 && b.size != 0 && uint64_t{a.start} < end_of(b) && uint64_t{b.start} < end_of(a);
}

UsernsAllocator::UsernsAllocator(std::string dir, std::chrono::milliseconds lock_timeout)
    : dir_(std::move(dir)), lock_timeout_(lock_timeout) {}

Result<UsernsAllocation> UsernsAllocator::acquire(const UsernsClaim& claim, const UsernsPool& pool, const Alive& alive) {
  if (claim.member.id.empty()) return invalid("user-namespace claim without a container id");
  const std::string& group = claim.group.empty() ? claim.member.id : claim.group;
  RG_ASSIGN_OR_RETURN(std::vector<IdRange> fixed, normalize_fixed(claim.fixed, claim.max_fixed_size));
  if (fixed.empty()) RG_RETURN_IF_ERROR(validate_pool(pool));
  RG_RETURN_IF_ERROR(make_dirs(dir_, 0700));
  UsernsAllocation result;
  Status s = update(dir_, lock_timeout_, [&](Allocations& allocs) -> Result<bool> {
    bool collected = drop_dead(allocs, alive, claim.member.id) > 0;
    RG_ASSIGN_OR_RETURN(bool claimed, apply_claim(allocs, claim, group, fixed, pool, dir_, result));
    return collected || claimed;
  });
  if (!s.is_ok()) return s;
  return result;
}

Status UsernsAllocator::release(const std::string& container_id) {
  RG_ASSIGN_OR_RETURN(bool exists, dir_exists(dir_));
  if (!exists) return Status::ok();
  return update(dir_, lock_timeout_, [&](Allocations& allocs) -> Result<bool> {
    size_t removed = 0;
    for (UsernsAllocation& a : allocs) {
      removed += std::erase_if(a.members, [&](const UsernsMember& m) { return m.id == container_id; });
    }
    std::erase_if(allocs, [](const UsernsAllocation& a) { return a.members.empty(); });
    return removed > 0;
  });
}

Result<size_t> UsernsAllocator::collect_garbage(const Alive& alive) {
  RG_ASSIGN_OR_RETURN(bool exists, dir_exists(dir_));
  if (!exists) return size_t{0};
  size_t dropped = 0;
  RG_RETURN_IF_ERROR(update(dir_, lock_timeout_, [&](Allocations& allocs) -> Result<bool> {
    dropped = drop_dead(allocs, alive, "");
    return dropped > 0;
  }));
  return dropped;
}

Result<std::vector<UsernsAllocation>> UsernsAllocator::list() const {
  RG_ASSIGN_OR_RETURN(bool exists, dir_exists(dir_));
  if (!exists) return Allocations{};
  RG_ASSIGN_OR_RETURN(UniqueFd lock, lock_dir(dir_, LOCK_SH, lock_timeout_));
  return load(dir_);
}

}  // namespace runguard::nsutil
