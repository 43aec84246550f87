// Mount forms runc accepts that once slipped past sensitiveMounts (review findings).
#include <gtest/gtest.h>

#include "runguard/policy/engine.h"
#include "runguard/policy/loader.h"

namespace runguard::policy {
namespace {

Decision eval(const std::string& mounts, const std::string& bundle = "/b/bundle") {
  Policy p = *default_policy();
  ContainerContext ctx;
  ctx.bundle = bundle;
  return evaluate_spec(p, *parse_json(R"({"mounts":)" + mounts + "}", "t"), ctx);
}

bool has(const Decision& d, const std::string& id) {
  for (const auto& f : d.findings) {
    if (f.id == id) return true;
  }
  return false;
}

TEST(MountForms, RelativeBindSourceResolvesAgainstTheBundle) {
  // runc joins a relative bind source to the bundle: ../../.. from /b/bundle is the host's /.
  Decision d = eval(R"([{"type":"bind","source":"../../../../","destination":"/host","options":["rbind"]}])");
  EXPECT_FALSE(d.allowed);
  EXPECT_TRUE(has(d, "RG-MOUNT-001"));
  // A relative source that stays in the bundle is fine.
  EXPECT_FALSE(has(eval(R"([{"type":"bind","source":"data","destination":"/data","options":["rbind"]}])"), "RG-MOUNT-001"));
}

TEST(MountForms, HostFilesystemMountsAreRefused) {
  for (const char* m : {R"([{"type":"ext4","source":"/dev/loop0","destination":"/host"}])",
                        R"([{"type":"overlay","source":"overlay","destination":"/o","options":["lowerdir=/etc:/x"]}])",
                        R"([{"type":"nfs","source":"10.0.0.1:/export","destination":"/n"}])"}) {
    Decision d = eval(m);
    EXPECT_FALSE(d.allowed) << m;
    EXPECT_TRUE(has(d, "RG-MOUNT-002")) << m;
  }
}

TEST(MountForms, PseudoFilesystemsAreFine) {
  Decision d = eval(R"([{"type":"proc","source":"proc","destination":"/proc"},
                        {"type":"tmpfs","source":"tmpfs","destination":"/dev"},
                        {"type":"devpts","source":"devpts","destination":"/dev/pts"},
                        {"type":"mqueue","source":"mqueue","destination":"/dev/mqueue"},
                        {"type":"sysfs","source":"sysfs","destination":"/sys","options":["ro"]},
                        {"type":"cgroup","source":"cgroup","destination":"/sys/fs/cgroup"}])");
  EXPECT_FALSE(has(d, "RG-MOUNT-001"));
  EXPECT_FALSE(has(d, "RG-MOUNT-002"));
}

TEST(MountForms, ShimSocketsAndEtcdAreSensitive) {
  EXPECT_TRUE(has(eval(R"([{"type":"bind","source":"/run/containerd/s/abc","destination":"/s"}])"), "RG-MOUNT-001"));
  EXPECT_TRUE(has(eval(R"([{"type":"bind","source":"/var/lib/etcd/member","destination":"/e"}])"), "RG-MOUNT-001"));
  EXPECT_TRUE(has(eval(R"([{"type":"bind","source":"/var/lib/kubelet/pods","destination":"/p"}])"), "RG-MOUNT-001"));
  EXPECT_FALSE(has(eval(R"([{"type":"bind","source":"/var/lib/kubelet/pods/u/volumes/kubernetes.io~empty-dir/d","destination":"/d"}])"), "RG-MOUNT-001"));
}

}  // namespace
}  // namespace runguard::policy

namespace runguard::policy {
namespace {

TEST(Unified, KeysThatOverrideTheLimitsAreRemovedOrRefused) {
  Policy p = *default_policy();
  p.controls.host_namespaces.action = Action::kOff;  // the bare spec has no namespaces
  Json spec = *parse_json(R"({"linux":{"resources":{"unified":{"memory.max":"max","pids.max":"max","io.weight":"100"}}}})", "t");
  Decision d = evaluate_spec(p, spec, {});
  ASSERT_TRUE(d.result["linux"]["resources"].contains("unified"));
  EXPECT_FALSE(d.result["linux"]["resources"]["unified"].contains("memory.max"));
  EXPECT_FALSE(d.result["linux"]["resources"]["unified"].contains("pids.max"));
  EXPECT_EQ(d.result["linux"]["resources"]["unified"]["io.weight"], "100");
  Decision u = evaluate_update(p, *parse_json(R"({"unified":{"memory.max":"max"}})", "u"), {});
  EXPECT_FALSE(u.result["unified"].contains("memory.max"));
  p.controls.resources.action = Action::kDeny;
  EXPECT_FALSE(evaluate_update(p, *parse_json(R"({"unified":{"pids.max":"max"}})", "u"), {}).allowed);
}

}  // namespace
}  // namespace runguard::policy

namespace runguard::policy {
namespace {

TEST(Swap, UnlimitedOrAboveTheMaximumIsClamped) {
  Policy p = *default_policy();
  p.controls.host_namespaces.action = Action::kOff;
  Decision u = evaluate_update(p, *parse_json(R"({"memory":{"swap":-1}})", "u"), {});
  EXPECT_EQ(u.result["memory"]["swap"], 8LL << 30);
  u = evaluate_update(p, *parse_json(R"({"memory":{"limit":1073741824,"swap":107374182400}})", "u"), {});
  EXPECT_EQ(u.result["memory"]["swap"], 8LL << 30);
  u = evaluate_update(p, *parse_json(R"({"memory":{"swap":0}})", "u"), {});
  EXPECT_EQ(u.result["memory"]["swap"], 0);
  Decision s = evaluate_spec(p, *parse_json(R"({"linux":{"resources":{"memory":{"limit":1073741824,"swap":-1}}}})", "s"), {});
  EXPECT_EQ(s.result["linux"]["resources"]["memory"]["swap"], 8LL << 30);
  p.controls.resources.action = Action::kDeny;
  EXPECT_FALSE(evaluate_update(p, *parse_json(R"({"memory":{"swap":-1}})", "u"), {}).allowed);
}

}  // namespace
}  // namespace runguard::policy
