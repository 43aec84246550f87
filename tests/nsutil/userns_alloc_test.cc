#include "runguard/nsutil/userns_alloc.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "runguard/nsutil/fd.h"
#include "runguard/nsutil/fs.h"

namespace runguard::nsutil {
namespace {

using std::chrono::milliseconds;

const UsernsAllocator::Alive kAllAlive = [](const UsernsMember&) { return true; };

UsernsPool small_pool(uint32_t count = 4) {
  UsernsPool pool;
  pool.first = 100000;
  pool.size = 1000;
  pool.count = count;
  return pool;
}

UsernsClaim claim(const std::string& id, const std::string& group = "", std::vector<IdRange> fixed = {}) {
  UsernsClaim c;
  c.member.id = id;
  c.member.runtime_root = "/run/runc";
  c.member.state_dir = "/run/runguard/" + id;
  c.member.created = 4242;  // seconds of CLOCK_BOOTTIME in the caller; opaque to the allocator
  c.member.boot_id = "boot-1";
  c.group = group;
  c.fixed = std::move(fixed);
  return c;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
}

// Every pair of ranges belonging to different groups is disjoint.
void expect_disjoint(const std::vector<UsernsAllocation>& allocs) {
  for (size_t i = 0; i < allocs.size(); ++i) {
    for (size_t j = i + 1; j < allocs.size(); ++j) {
      EXPECT_NE(allocs[i].group, allocs[j].group);
      for (const IdRange& a : allocs[i].ranges) {
        for (const IdRange& b : allocs[j].ranges) {
          EXPECT_FALSE(overlaps(a, b)) << allocs[i].group << " " << a.start << "+" << a.size << " vs " << allocs[j].group
                                       << " " << b.start << "+" << b.size;
        }
      }
    }
  }
}

class UsernsAlloc : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rg-userns-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/userns";
  }
  void TearDown() override { ASSERT_TRUE(remove_tree(root_).is_ok()); }

  std::vector<UsernsAllocation> listed(const UsernsAllocator& a) {
    auto l = a.list();
    EXPECT_TRUE(l.is_ok()) << l.status().to_string();
    return l.is_ok() ? *l : std::vector<UsernsAllocation>{};
  }

  std::string root_;
  std::string dir_;
};

TEST_F(UsernsAlloc, OverlapsIsHalfOpenAndIgnoresEmptyRanges) {
  EXPECT_TRUE(overlaps({10, 5}, {14, 1}));
  EXPECT_FALSE(overlaps({10, 5}, {15, 1}));
  EXPECT_FALSE(overlaps({10, 5}, {12, 0}));
  EXPECT_TRUE(overlaps({4294967294u, 1}, {4294967000u, 4294}));  // no 32-bit wrap
}

TEST_F(UsernsAlloc, AllocatesDisjointRangesAndReleases) {
  UsernsAllocator alloc(dir_);
  EXPECT_TRUE(listed(alloc).empty());  // missing dir: empty, and not created
  EXPECT_FALSE(path_exists(dir_));

  auto a = alloc.acquire(claim("a"), small_pool(), kAllAlive);
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  EXPECT_EQ(a->group, "a");
  EXPECT_FALSE(a->fixed);
  ASSERT_EQ(a->ranges.size(), 1u);
  EXPECT_EQ(a->ranges[0], (IdRange{100000, 1000}));
  ASSERT_EQ(a->members.size(), 1u);
  EXPECT_EQ(a->members[0].id, "a");
  EXPECT_EQ(a->members[0].runtime_root, "/run/runc");
  EXPECT_EQ(a->members[0].state_dir, "/run/runguard/a");
  // Stored as the claim gives them: the allocator reads no clock.
  EXPECT_EQ(a->members[0].created, 4242);
  EXPECT_EQ(a->members[0].boot_id, "boot-1");

  auto b = alloc.acquire(claim("b"), small_pool(), kAllAlive);
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_EQ(b->ranges[0], (IdRange{101000, 1000}));

  struct stat st{};
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((dir_ + "/ranges.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // A second instance reads the same state.
  UsernsAllocator other(dir_);
  auto all = listed(other);
  ASSERT_EQ(all.size(), 2u);
  expect_disjoint(all);

  ASSERT_TRUE(alloc.release("a").is_ok());
  all = listed(alloc);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].group, "b");
  ASSERT_TRUE(alloc.release("b").is_ok());
  EXPECT_TRUE(listed(alloc).empty());
}

TEST_F(UsernsAlloc, ReacquireIsIdempotent) {
  UsernsAllocator alloc(dir_);
  auto first = alloc.acquire(claim("a"), small_pool(), kAllAlive);
  ASSERT_TRUE(first.is_ok());
  auto again = alloc.acquire(claim("a"), small_pool(), kAllAlive);
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  EXPECT_EQ(again->ranges, first->ranges);
  EXPECT_EQ(again->members.size(), 1u);
  EXPECT_EQ(listed(alloc).size(), 1u);

  auto elsewhere = alloc.acquire(claim("a", "pod"), small_pool(), kAllAlive);
  ASSERT_FALSE(elsewhere.is_ok());
  EXPECT_NE(elsewhere.status().message().find("already holds"), std::string::npos) << elsewhere.status().message();
}

TEST_F(UsernsAlloc, ReacquireRefreshesTheMemberAndPersistsIt) {
  UsernsAllocator alloc(dir_);
  auto first = alloc.acquire(claim("a", "pod"), small_pool(), kAllAlive);
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  ASSERT_TRUE(alloc.acquire(claim("b", "pod"), small_pool(), kAllAlive).is_ok());
  // After a reboot the same container is created again: new boot, new timestamp, maybe new dirs.
  UsernsClaim again = claim("a", "pod");
  again.member.created = 7;
  again.member.boot_id = "boot-2";
  again.member.runtime_root = "/run/other-runc";
  again.member.state_dir = "/run/other-runguard/a";
  auto second = alloc.acquire(again, small_pool(), kAllAlive);
  ASSERT_TRUE(second.is_ok()) << second.status().to_string();
  EXPECT_EQ(second->ranges, first->ranges);  // still idempotent
  ASSERT_EQ(second->members.size(), 2u);
  auto check = [](const UsernsMember& m) {
    EXPECT_EQ(m.created, 7);
    EXPECT_EQ(m.boot_id, "boot-2");
    EXPECT_EQ(m.runtime_root, "/run/other-runc");
    EXPECT_EQ(m.state_dir, "/run/other-runguard/a");
  };
  check(second->members[0]);
  auto all = listed(UsernsAllocator(dir_));  // read back from ranges.json
  ASSERT_EQ(all.size(), 1u);
  ASSERT_EQ(all[0].members.size(), 2u);
  EXPECT_EQ(all[0].members[0].id, "a");
  check(all[0].members[0]);
  EXPECT_EQ(all[0].members[1].created, 4242);  // the other member is untouched
  EXPECT_EQ(all[0].members[1].boot_id, "boot-1");
}

TEST_F(UsernsAlloc, MembersWithoutBootIdStillLoad) {
  ASSERT_TRUE(make_dirs(dir_).is_ok());
  spit(dir_ + "/ranges.json",
       R"({"version":1,"allocations":[{"group":"g","fixed":false,"ranges":[{"start":100000,"size":1000}],)"
       R"("members":[{"id":"a","runtimeRoot":"/r","stateDir":"/s","created":9}]}]})");
  UsernsAllocator alloc(dir_);
  auto all = listed(alloc);
  ASSERT_EQ(all.size(), 1u);
  ASSERT_EQ(all[0].members.size(), 1u);
  EXPECT_EQ(all[0].members[0].boot_id, "");
  EXPECT_EQ(all[0].members[0].created, 9);
  spit(dir_ + "/ranges.json",
       R"({"version":1,"allocations":[{"group":"g","fixed":false,"ranges":[{"start":100000,"size":1000}],)"
       R"("members":[{"id":"a","runtimeRoot":"/r","stateDir":"/s","created":9,"bootId":3}]}]})");
  auto bad = alloc.list();
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("allocations[0].members[0].bootId is number, expected string"), std::string::npos)
      << bad.status().message();
}

TEST_F(UsernsAlloc, ReleaseIsIdempotentAndCreatesNothing) {
  UsernsAllocator alloc(dir_);
  EXPECT_TRUE(alloc.release("nobody").is_ok());
  EXPECT_FALSE(path_exists(dir_));
  auto gc = alloc.collect_garbage(kAllAlive);
  ASSERT_TRUE(gc.is_ok());
  EXPECT_EQ(*gc, 0u);
  EXPECT_FALSE(path_exists(dir_));

  ASSERT_TRUE(make_dirs(dir_).is_ok());
  EXPECT_TRUE(alloc.release("nobody").is_ok());
  EXPECT_FALSE(path_exists(dir_ + "/ranges.json"));
  ASSERT_TRUE(alloc.acquire(claim("a"), small_pool(), kAllAlive).is_ok());
  EXPECT_TRUE(alloc.release("nobody").is_ok());
  EXPECT_EQ(listed(alloc).size(), 1u);
}

TEST_F(UsernsAlloc, ReusesLowestFreeSlot) {
  UsernsAllocator alloc(dir_);
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(alloc.acquire(claim(id), small_pool(), kAllAlive).is_ok());
  ASSERT_TRUE(alloc.release("b").is_ok());
  ASSERT_TRUE(alloc.release("a").is_ok());
  auto d = alloc.acquire(claim("d"), small_pool(), kAllAlive);
  ASSERT_TRUE(d.is_ok());
  EXPECT_EQ(d->ranges[0].start, 100000u);
  auto e = alloc.acquire(claim("e"), small_pool(), kAllAlive);
  ASSERT_TRUE(e.is_ok());
  EXPECT_EQ(e->ranges[0].start, 101000u);
  auto f = alloc.acquire(claim("f"), small_pool(), kAllAlive);
  ASSERT_TRUE(f.is_ok());
  EXPECT_EQ(f->ranges[0].start, 103000u);
}

TEST_F(UsernsAlloc, ExhaustionNamesTheKnob) {
  UsernsAllocator alloc(dir_);
  UsernsPool pool = small_pool(2);
  ASSERT_TRUE(alloc.acquire(claim("a"), pool, kAllAlive).is_ok());
  ASSERT_TRUE(alloc.acquire(claim("b"), pool, kAllAlive).is_ok());
  auto c = alloc.acquire(claim("c"), pool, kAllAlive);
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().code(), Code::kUnavailable);
  const std::string& msg = c.status().message();
  EXPECT_NE(msg.find("all 2 ranges of 1000 ids from 100000 are allocated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("raise userNamespace.count or delete containers"), std::string::npos) << msg;
  EXPECT_EQ(listed(alloc).size(), 2u);  // a failed acquire changes nothing
  // A pod member joins its group even when the pool is full.
  EXPECT_TRUE(alloc.acquire(claim("a2", "a"), pool, kAllAlive).is_ok());
}

TEST_F(UsernsAlloc, SkipsExcludedRanges) {
  UsernsAllocator alloc(dir_);
  UsernsPool pool = small_pool(4);
  pool.excluded = {{100500, 1}, {102999, 2}, {50, 0}};  // hits slots 0, 2 and 3; the empty one nothing
  auto a = alloc.acquire(claim("a"), pool, kAllAlive);
  ASSERT_TRUE(a.is_ok());
  EXPECT_EQ(a->ranges[0].start, 101000u);
  auto b = alloc.acquire(claim("b"), pool, kAllAlive);
  ASSERT_FALSE(b.is_ok());
  EXPECT_EQ(b.status().code(), Code::kUnavailable);
}

TEST_F(UsernsAlloc, PoolSkipsRangesFromOtherConfigurations) {
  UsernsAllocator alloc(dir_);
  UsernsPool big = small_pool(4);
  big.size = 1500;  // slot 1 = 101500-102999
  ASSERT_TRUE(alloc.acquire(claim("old0"), big, kAllAlive).is_ok());
  auto old1 = alloc.acquire(claim("old1"), big, kAllAlive);
  ASSERT_TRUE(old1.is_ok());
  ASSERT_TRUE(alloc.release("old0").is_ok());
  auto fixed = alloc.acquire(claim("fx", "", {{100000, 10}}), small_pool(), kAllAlive);
  ASSERT_TRUE(fixed.is_ok());
  // small pool slots: 100000 (fixed overlaps), 101000 and 102000 (old1 overlaps), 103000 free.
  auto n = alloc.acquire(claim("new"), small_pool(), kAllAlive);
  ASSERT_TRUE(n.is_ok()) << n.status().to_string();
  EXPECT_EQ(n->ranges[0].start, 103000u);
  expect_disjoint(listed(alloc));
}

TEST_F(UsernsAlloc, PoolValidation) {
  UsernsAllocator alloc(dir_);
  UsernsPool pool = small_pool();
  pool.size = 0;
  auto r = alloc.acquire(claim("a"), pool, kAllAlive);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("userNamespace.size"), std::string::npos) << r.status().message();

  pool = small_pool(0);
  r = alloc.acquire(claim("a"), pool, kAllAlive);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("userNamespace.count"), std::string::npos) << r.status().message();

  pool.first = 4294901760u;  // 2^32 - 65536: one slot would include 4294967295
  pool.size = 65536;
  pool.count = 1;
  r = alloc.acquire(claim("a"), pool, kAllAlive);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("4294967294"), std::string::npos) << r.status().message();

  pool.first = 0;
  pool.count = 70000;  // 64-bit product: would wrap in 32 bits
  r = alloc.acquire(claim("a"), pool, kAllAlive);
  ASSERT_FALSE(r.is_ok());
  EXPECT_FALSE(path_exists(dir_));  // validation precedes any side effect

  pool.first = 4294901759u;  // the last slot ends exactly at 4294967294
  pool.count = 1;
  r = alloc.acquire(claim("a"), pool, kAllAlive);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->ranges[0], (IdRange{4294901759u, 65536}));

  auto anon = alloc.acquire(claim(""), small_pool(), kAllAlive);
  EXPECT_FALSE(anon.is_ok());
}

TEST_F(UsernsAlloc, PodMembersShareOneRange) {
  UsernsAllocator alloc(dir_);
  auto a = alloc.acquire(claim("c1", "sandbox"), small_pool(), kAllAlive);
  auto b = alloc.acquire(claim("c2", "sandbox"), small_pool(), kAllAlive);
  ASSERT_TRUE(a.is_ok());
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(a->group, "sandbox");
  EXPECT_EQ(a->ranges, b->ranges);
  EXPECT_EQ(b->members.size(), 2u);
  auto other = alloc.acquire(claim("x"), small_pool(), kAllAlive);
  ASSERT_TRUE(other.is_ok());
  EXPECT_NE(other->ranges, a->ranges);

  ASSERT_TRUE(alloc.release("c1").is_ok());
  auto all = listed(alloc);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].group, "sandbox");
  ASSERT_EQ(all[0].members.size(), 1u);
  EXPECT_EQ(all[0].members[0].id, "c2");
  // The range is still taken: a new container does not get it.
  auto y = alloc.acquire(claim("y"), small_pool(), kAllAlive);
  ASSERT_TRUE(y.is_ok());
  EXPECT_NE(y->ranges, a->ranges);

  ASSERT_TRUE(alloc.release("c2").is_ok());
  auto z = alloc.acquire(claim("z"), small_pool(), kAllAlive);
  ASSERT_TRUE(z.is_ok());
  EXPECT_EQ(z->ranges, a->ranges);  // freed with the last member, and lowest
}

TEST_F(UsernsAlloc, GarbageCollectsDeadMembers) {
  UsernsAllocator alloc(dir_);
  for (const char* id : {"a", "b"}) ASSERT_TRUE(alloc.acquire(claim(id), small_pool(), kAllAlive).is_ok());
  ASSERT_TRUE(alloc.acquire(claim("p1", "pod"), small_pool(), kAllAlive).is_ok());
  ASSERT_TRUE(alloc.acquire(claim("p2", "pod"), small_pool(), kAllAlive).is_ok());
  std::set<std::string> dead = {"a", "p1"};
  std::set<std::string> asked;
  auto alive = [&](const UsernsMember& m) {
    asked.insert(m.id);
    EXPECT_EQ(m.state_dir, "/run/runguard/" + m.id);
    return dead.count(m.id) == 0;
  };
  auto dropped = alloc.collect_garbage(alive);
  ASSERT_TRUE(dropped.is_ok()) << dropped.status().to_string();
  EXPECT_EQ(*dropped, 2u);
  EXPECT_EQ(asked, (std::set<std::string>{"a", "b", "p1", "p2"}));
  auto all = listed(alloc);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].group, "b");
  EXPECT_EQ(all[1].group, "pod");
  ASSERT_EQ(all[1].members.size(), 1u);
  EXPECT_EQ(all[1].members[0].id, "p2");

  auto none = alloc.collect_garbage(kAllAlive);
  ASSERT_TRUE(none.is_ok());
  EXPECT_EQ(*none, 0u);
}

TEST_F(UsernsAlloc, ExhaustedPoolRecoversThroughGc) {
  UsernsAllocator alloc(dir_);
  UsernsPool pool = small_pool(2);
  ASSERT_TRUE(alloc.acquire(claim("a"), pool, kAllAlive).is_ok());
  ASSERT_TRUE(alloc.acquire(claim("b"), pool, kAllAlive).is_ok());
  ASSERT_FALSE(alloc.acquire(claim("c"), pool, kAllAlive).is_ok());
  // "a" vanished without a delete (a crash): the next acquire reclaims its range.
  auto alive = [](const UsernsMember& m) { return m.id != "a"; };
  auto c = alloc.acquire(claim("c"), pool, alive);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->ranges[0].start, 100000u);
  std::set<std::string> groups;
  for (const auto& a : listed(alloc)) groups.insert(a.group);
  EXPECT_EQ(groups, (std::set<std::string>{"b", "c"}));
}

TEST_F(UsernsAlloc, AcquireNeverCollectsTheClaimant) {
  UsernsAllocator alloc(dir_);
  ASSERT_TRUE(alloc.acquire(claim("a"), small_pool(), kAllAlive).is_ok());
  auto nobody_alive = [](const UsernsMember&) { return false; };
  // Re-acquiring while the liveness check cannot see the container yet keeps its range.
  auto again = alloc.acquire(claim("a"), small_pool(), nobody_alive);
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->ranges[0].start, 100000u);
  auto fresh = alloc.acquire(claim("b"), small_pool(), nobody_alive);
  ASSERT_TRUE(fresh.is_ok());
  auto all = listed(alloc);
  ASSERT_EQ(all.size(), 1u);  // "a" was collected by b's acquire, b itself kept
  EXPECT_EQ(all[0].group, "b");
  EXPECT_EQ(fresh->ranges[0].start, 100000u);
}

TEST_F(UsernsAlloc, FixedClaimReservesGivenRanges) {
  UsernsAllocator alloc(dir_);
  // uid and gid mappings naming the same host ids, listed twice, are one reservation.
  auto f = alloc.acquire(claim("f", "", {{200000, 65536}, {200000, 65536}}), small_pool(0), kAllAlive);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();  // a fixed claim needs no pool
  EXPECT_TRUE(f->fixed);
  EXPECT_EQ(f->ranges, (std::vector<IdRange>{{200000, 65536}}));

  auto g = alloc.acquire(claim("g", "", {{300010, 10}, {300000, 15}, {400000, 1}}), small_pool(), kAllAlive);
  ASSERT_TRUE(g.is_ok()) << g.status().to_string();
  EXPECT_EQ(g->ranges, (std::vector<IdRange>{{300000, 20}, {400000, 1}}));
  expect_disjoint(listed(alloc));

  ASSERT_TRUE(alloc.release("f").is_ok());
  EXPECT_EQ(listed(alloc).size(), 1u);
}

TEST_F(UsernsAlloc, FixedClaimOverlappingAnotherGroupIsRefused) {
  UsernsAllocator alloc(dir_);
  ASSERT_TRUE(alloc.acquire(claim("pooled", "sandbox-1"), small_pool(), kAllAlive).is_ok());  // 100000-100999
  auto r = alloc.acquire(claim("f", "", {{100999, 5}}), small_pool(), kAllAlive);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  const std::string& msg = r.status().message();
  EXPECT_NE(msg.find("\"sandbox-1\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("100999-101003"), std::string::npos) << msg;

  ASSERT_TRUE(alloc.acquire(claim("f1", "", {{500000, 100}}), small_pool(), kAllAlive).is_ok());
  r = alloc.acquire(claim("f2", "", {{500050, 100}}), small_pool(), kAllAlive);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("\"f1\""), std::string::npos) << r.status().message();
  EXPECT_EQ(listed(alloc).size(), 2u);
}

TEST_F(UsernsAlloc, FixedClaimJoinsWithinItsGroup) {
  UsernsAllocator alloc(dir_);
  ASSERT_TRUE(alloc.acquire(claim("c1", "pod", {{500000, 100}, {500100, 50}}), small_pool(), kAllAlive).is_ok());
  auto inside = alloc.acquire(claim("c2", "pod", {{500050, 100}}), small_pool(), kAllAlive);  // spans both
  ASSERT_TRUE(inside.is_ok()) << inside.status().to_string();
  EXPECT_EQ(inside->members.size(), 2u);
  auto outside = alloc.acquire(claim("c3", "pod", {{500100, 51}}), small_pool(), kAllAlive);
  ASSERT_FALSE(outside.is_ok());
  EXPECT_NE(outside.status().message().find("outside the ranges of group \"pod\""), std::string::npos)
      << outside.status().message();
}

TEST_F(UsernsAlloc, PoolClaimNeverJoinsAFixedGroup) {
  UsernsAllocator alloc(dir_);
  ASSERT_TRUE(alloc.acquire(claim("c1", "pod", {{500000, 100}}), small_pool(), kAllAlive).is_ok());
  auto pooled = alloc.acquire(claim("c2", "pod"), small_pool(), kAllAlive);
  ASSERT_FALSE(pooled.is_ok());
  EXPECT_EQ(pooled.status().code(), Code::kInvalidArgument);
  const std::string& msg = pooled.status().message();
  EXPECT_NE(msg.find("container \"c2\" asks for a user-namespace range from the pool"), std::string::npos) << msg;
  EXPECT_NE(msg.find("group \"pod\" holds the spec's own mappings"), std::string::npos) << msg;
  EXPECT_NE(msg.find("500000-500099"), std::string::npos) << msg;
  // The member of the fixed group cannot switch kinds by re-acquiring either.
  EXPECT_FALSE(alloc.acquire(claim("c1", "pod"), small_pool(), kAllAlive).is_ok());
  auto all = listed(alloc);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].members.size(), 1u);
}

TEST_F(UsernsAlloc, FixedClaimNeverJoinsAPoolGroup) {
  UsernsAllocator alloc(dir_);
  ASSERT_TRUE(alloc.acquire(claim("d1", "pool-pod"), small_pool(), kAllAlive).is_ok());  // 100000-100999
  // Even mappings lying inside the group's slot.
  auto fixed = alloc.acquire(claim("d2", "pool-pod", {{100000, 1000}}), small_pool(), kAllAlive);
  ASSERT_FALSE(fixed.is_ok());
  EXPECT_EQ(fixed.status().code(), Code::kInvalidArgument);
  const std::string& msg = fixed.status().message();
  EXPECT_NE(msg.find("container \"d2\" brings its own user-namespace mappings"), std::string::npos) << msg;
  EXPECT_NE(msg.find("group \"pool-pod\" holds a range from the pool (100000-100999)"), std::string::npos) << msg;
  EXPECT_FALSE(alloc.acquire(claim("d1", "pool-pod", {{100000, 1000}}), small_pool(), kAllAlive).is_ok());
  auto all = listed(alloc);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].members.size(), 1u);
  EXPECT_FALSE(all[0].fixed);
}

TEST_F(UsernsAlloc, FixedRangeOverTheCallersLimitIsRefused) {
  UsernsAllocator alloc(dir_);
  UsernsClaim big = claim("f", "", {{200000, 65537}});
  big.max_fixed_size = 65536;
  auto r = alloc.acquire(big, small_pool(), kAllAlive);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("200000-265536"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("65537 ids, more than the 65536 allowed"), std::string::npos)
      << r.status().message();
  EXPECT_FALSE(path_exists(dir_));  // refused before any side effect
  // Overlapping ranges are judged merged: two of 40000 sharing 10000 ids are one of 70000.
  UsernsClaim merged = claim("f", "", {{200000, 40000}, {230000, 40000}});
  merged.max_fixed_size = 65536;
  EXPECT_FALSE(alloc.acquire(merged, small_pool(), kAllAlive).is_ok());
  UsernsClaim at_limit = claim("f", "", {{200000, 65536}, {200000, 65536}});
  at_limit.max_fixed_size = 65536;
  EXPECT_TRUE(alloc.acquire(at_limit, small_pool(), kAllAlive).is_ok());
  UsernsClaim unlimited = claim("g", "", {{300000, 1000000}});  // 0 = no limit
  EXPECT_TRUE(alloc.acquire(unlimited, small_pool(), kAllAlive).is_ok());
}

TEST_F(UsernsAlloc, FixedRangesAreValidated) {
  UsernsAllocator alloc(dir_);
  auto empty = alloc.acquire(claim("f", "", {{1000, 0}}), small_pool(), kAllAlive);
  ASSERT_FALSE(empty.is_ok());
  EXPECT_NE(empty.status().message().find("size 0"), std::string::npos);
  auto wraps = alloc.acquire(claim("f", "", {{4294967200u, 96}}), small_pool(), kAllAlive);  // includes (uid_t)-1
  ASSERT_FALSE(wraps.is_ok());
  EXPECT_NE(wraps.status().message().find("4294967294"), std::string::npos);
  EXPECT_FALSE(path_exists(dir_));
  EXPECT_TRUE(alloc.acquire(claim("f", "", {{4294967200u, 95}}), small_pool(), kAllAlive).is_ok());
}

TEST_F(UsernsAlloc, StaleTempFileIsIgnoredAndRemoved) {
  UsernsAllocator alloc(dir_);
  ASSERT_TRUE(alloc.acquire(claim("a"), small_pool(), kAllAlive).is_ok());
  std::string tmp = dir_ + "/ranges.json.tmp.12345";
  std::string tmp2 = dir_ + "/ranges.json.runguard-AbC123";
  spit(tmp, "{\"version\": 1, \"allocations\": [garbage");
  spit(tmp2, "");
  auto all = listed(alloc);
  ASSERT_EQ(all.size(), 1u);
  auto b = alloc.acquire(claim("b"), small_pool(), kAllAlive);
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_EQ(b->ranges[0].start, 101000u);
  EXPECT_FALSE(path_exists(tmp));
  EXPECT_FALSE(path_exists(tmp2));
}

TEST_F(UsernsAlloc, CorruptFileFailsClosed) {
  UsernsAllocator alloc(dir_);
  ASSERT_TRUE(alloc.acquire(claim("a"), small_pool(), kAllAlive).is_ok());
  std::string path = dir_ + "/ranges.json";
  spit(path, "{\"version\": 1, \"allocations\": [");  // a torn write, as if not renamed atomically
  for (auto status : {alloc.acquire(claim("b"), small_pool(), kAllAlive).status(), alloc.release("a"),
                      alloc.list().status(), alloc.collect_garbage(kAllAlive).status()}) {
    ASSERT_FALSE(status.is_ok());
    EXPECT_NE(status.message().find(path), std::string::npos) << status.message();
    EXPECT_NE(status.message().find("remove it"), std::string::npos) << status.message();
  }
  EXPECT_EQ(slurp(path), "{\"version\": 1, \"allocations\": [");  // left for the operator to inspect
}

TEST_F(UsernsAlloc, WrongShapeNamesTheField) {
  UsernsAllocator alloc(dir_);
  ASSERT_TRUE(make_dirs(dir_).is_ok());
  std::string path = dir_ + "/ranges.json";
  struct Case {
    std::string doc;
    std::string field;
  };
  const std::string member = R"({"id":"a","runtimeRoot":"/r","stateDir":"/s","created":1})";
  std::vector<Case> cases = {
      {R"([])", "the document"},
      {R"({"allocations":[]})", "version is missing"},
      {R"({"version":2,"allocations":[]})", "version is 2"},
      {R"({"version":1,"allocations":{}})", "allocations is object, expected array"},
      {R"({"version":1,"allocations":[{"group":7,"fixed":false,"ranges":[],"members":[]}]})",
       "allocations[0].group is number, expected string"},
      {R"({"version":1,"allocations":[{"group":"g","fixed":"no","ranges":[],"members":[]}]})",
       "allocations[0].fixed is string, expected boolean"},
      {R"({"version":1,"allocations":[{"group":"g","fixed":false,"ranges":[{"start":"1","size":2}],"members":[]}]})",
       "allocations[0].ranges[0].start is string"},
      {R"({"version":1,"allocations":[{"group":"g","fixed":false,"ranges":[{"start":-1,"size":2}],"members":[]}]})",
       "allocations[0].ranges[0].start is -1"},
      {R"({"version":1,"allocations":[{"group":"g","fixed":false,"ranges":[{"start":1,"size":0}],"members":[]}]})",
       "allocations[0].ranges[0] is 1+0"},
      {R"({"version":1,"allocations":[{"group":"g","fixed":false,"ranges":[{"start":1,"size":2}],"members":[{"id":"a"}]}]})",
       "allocations[0].members[0].runtimeRoot is missing"},
      {R"({"version":1,"allocations":[{"group":"g","fixed":false,"ranges":[{"start":1,"size":2}],"members":[)" + member +
           R"(]},{"group":"h","fixed":false,"ranges":[{"start":2,"size":2}],"members":[]}]})",
       "range 2-3 of group \"h\" overlaps 1-2 of group \"g\""},
      {R"({"version":1,"allocations":[{"group":"g","fixed":false,"ranges":[{"start":1,"size":2}],"members":[)" + member +
           "," + member + "]}]}",
       "member \"a\" appears twice"},
  };
  for (const Case& c : cases) {
    spit(path, c.doc);
    auto r = alloc.list();
    ASSERT_FALSE(r.is_ok()) << c.doc;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(path + ": " + c.field), std::string::npos)
        << "want \"" << c.field << "\" in: " << r.status().message();
    EXPECT_NE(r.status().message().find("remove it"), std::string::npos) << r.status().message();
  }
}

TEST_F(UsernsAlloc, LockTimeoutIsAnError) {
  UsernsAllocator alloc(dir_, milliseconds(200));
  ASSERT_TRUE(make_dirs(dir_).is_ok());
  UniqueFd held(::open((dir_ + "/lock").c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_TRUE(held.valid());
  ASSERT_EQ(::flock(held.get(), LOCK_EX), 0);
  auto start = std::chrono::steady_clock::now();
  auto r = alloc.acquire(claim("a"), small_pool(), kAllAlive);
  auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find(dir_ + "/lock"), std::string::npos) << r.status().message();
  EXPECT_GE(waited, milliseconds(190));
  EXPECT_LT(waited, milliseconds(2000));
  EXPECT_EQ(alloc.release("a").code(), Code::kUnavailable);
  EXPECT_EQ(alloc.list().status().code(), Code::kUnavailable);  // shared lock waits for exclusive too

  // A shared holder blocks writers but not readers.
  ASSERT_EQ(::flock(held.get(), LOCK_SH), 0);
  EXPECT_TRUE(alloc.list().is_ok());
  EXPECT_EQ(alloc.acquire(claim("a"), small_pool(), kAllAlive).status().code(), Code::kUnavailable);
  held.reset();
  EXPECT_TRUE(alloc.acquire(claim("a"), small_pool(), kAllAlive).is_ok());
}

// A model of the allocator: group -> (ranges, members), and the pool's slot order.
struct Model {
  std::map<std::string, std::pair<IdRange, std::set<std::string>>> groups;
  std::map<std::string, std::string> group_of;

  uint32_t lowest_free(const UsernsPool& pool) const {
    for (uint32_t i = 0; i < pool.count; ++i) {
      IdRange slot{pool.first + i * pool.size, pool.size};
      bool taken = false;
      for (const IdRange& e : pool.excluded) taken = taken || overlaps(slot, e);
      for (const auto& [g, v] : groups) taken = taken || overlaps(slot, v.first);
      if (!taken) return slot.start;
    }
    return 0;
  }
};

TEST_F(UsernsAlloc, RandomOperationsKeepRangesDisjoint) {
  UsernsAllocator alloc(dir_);
  UsernsPool pool;
  pool.first = 1u << 20;
  pool.size = 4096;
  pool.count = 64;
  pool.excluded = {{pool.first + 5 * 4096 + 17, 3}, {pool.first + 40 * 4096, 8192}};
  std::mt19937 rng(20240611);
  Model model;
  int next_id = 0;
  for (int step = 0; step < 1000; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    bool add = model.group_of.empty() || (model.group_of.size() < 50 ? rng() % 3 != 0 : rng() % 3 == 0);
    if (add) {
      std::string id = "c" + std::to_string(next_id++);
      std::string group = rng() % 3 == 0 ? "pod" + std::to_string(rng() % 8) : "";
      std::string key = group.empty() ? id : group;
      bool joins = model.groups.count(key) > 0;
      uint32_t expect_start = joins ? model.groups[key].first.start : model.lowest_free(pool);
      auto r = alloc.acquire(claim(id, group), pool, kAllAlive);
      ASSERT_TRUE(r.is_ok()) << r.status().to_string();
      ASSERT_EQ(r->ranges.size(), 1u);
      EXPECT_EQ(r->ranges[0].start, expect_start);
      EXPECT_EQ(r->ranges[0].size, pool.size);
      model.groups[key].first = r->ranges[0];
      model.groups[key].second.insert(id);
      model.group_of[id] = key;
    } else if (rng() % 10 == 0) {
      auto it = std::next(model.group_of.begin(), rng() % model.group_of.size());
      auto r = alloc.acquire(claim(it->first, it->second == it->first ? "" : it->second), pool, kAllAlive);
      ASSERT_TRUE(r.is_ok()) << r.status().to_string();
      EXPECT_EQ(r->ranges[0], model.groups[it->second].first);
    } else {
      auto it = std::next(model.group_of.begin(), rng() % model.group_of.size());
      std::string id = it->first, key = it->second;
      ASSERT_TRUE(alloc.release(id).is_ok());
      model.group_of.erase(it);
      model.groups[key].second.erase(id);
      if (model.groups[key].second.empty()) model.groups.erase(key);
    }
    auto all = listed(alloc);
    expect_disjoint(all);
    ASSERT_EQ(all.size(), model.groups.size());
    for (const UsernsAllocation& a : all) {
      ASSERT_TRUE(model.groups.count(a.group)) << a.group;
      const auto& [range, members] = model.groups[a.group];
      EXPECT_EQ(a.ranges, std::vector<IdRange>{range});
      std::set<std::string> ids;
      for (const auto& m : a.members) ids.insert(m.id);
      EXPECT_EQ(ids, members);
      for (const IdRange& e : pool.excluded) EXPECT_FALSE(overlaps(range, e));
    }
    if (HasFailure()) break;
  }
}

TEST_F(UsernsAlloc, ConcurrentProcessesNeverOverlap) {
  constexpr int kChildren = 8;
  constexpr int kCycles = 25;
  UsernsPool pool = small_pool(kChildren);  // exactly enough: a lost update would exhaust it
  // owner[slot] = child holding that slot, checked with compare-and-swap across processes.
  void* mem = ::mmap(nullptr, sizeof(std::atomic<int>) * kChildren, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto* owner = static_cast<std::atomic<int>*>(mem);
  for (int i = 0; i < kChildren; ++i) new (&owner[i]) std::atomic<int>(0);
  static_assert(std::atomic<int>::is_always_lock_free);

  std::vector<pid_t> pids;
  for (int child = 1; child <= kChildren; ++child) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      UsernsAllocator alloc(dir_);
      for (int i = 0; i < kCycles; ++i) {
        std::string id = "child" + std::to_string(child) + "-" + std::to_string(i);
        auto r = alloc.acquire(claim(id), pool, kAllAlive);
        if (!r.is_ok() || r->ranges.size() != 1) _exit(10);
        int slot = static_cast<int>((r->ranges[0].start - pool.first) / pool.size);
        int expected = 0;
        if (!owner[slot].compare_exchange_strong(expected, child)) _exit(11);  // someone else holds it
        auto all = alloc.list();
        if (!all.is_ok()) _exit(12);
        for (const auto& a : *all) {
          if (a.group != id && overlaps(a.ranges[0], r->ranges[0])) _exit(13);
        }
        expected = child;
        if (!owner[slot].compare_exchange_strong(expected, 0)) _exit(14);
        if (!alloc.release(id).is_ok()) _exit(15);
      }
      _exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child exit status " << WEXITSTATUS(status);
  }
  ::munmap(mem, sizeof(std::atomic<int>) * kChildren);
  UsernsAllocator alloc(dir_);
  EXPECT_TRUE(listed(alloc).empty());
  // Only the state and the lock remain: no temp files.
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) names.insert(entry.path().filename());
  EXPECT_EQ(names, (std::set<std::string>{"lock", "ranges.json"}));
}

}  // namespace
}  // namespace runguard::nsutil
