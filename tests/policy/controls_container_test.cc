// Edge cases of the container-wide controls: hostNamespaces, privileged (the --privileged
// fingerprint), sensitiveMounts and readonlyRootfs.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "policy_test_util.h"
#include "runguard/policy/decision.h"

namespace {

using namespace rgtest;  // NOLINT(google-build-using-namespace)
using runguard::policy::evaluate_spec;

// ---- hostNamespaces ---------------------------------------------------------------------------

constexpr const char* kAllFive[] = {"pid", "network", "ipc", "uts", "mount"};

Json namespaces_without(const std::string& missing) {
  Json list = Json::array();
  for (const char* t : kAllFive) {
    if (t != missing) list.push_back({{"type", t}});
  }
  return Json{{"linux", {{"namespaces", list}}}};
}

Decision eval_hostns(const Json& spec, Action action, const ContainerContext& ctx = {}) {
  Policy p = only_defaults_off();
  p.controls.host_namespaces.action = action;
  return evaluate_spec(p, spec, ctx);
}

class MissingNamespaceTest : public ::testing::TestWithParam<const char*> {};

TEST_P(MissingNamespaceTest, IsReportedAndAdded) {
  std::string type = GetParam();
  Decision d = eval_hostns(namespaces_without(type), Action::kEnforce);
  ASSERT_EQ(d.findings.size(), 1u) << describe(d);
  EXPECT_EQ(d.findings[0].id, "RG-HOSTNS-001");
  EXPECT_NE(d.findings[0].message.find("host's " + type + " namespace"), std::string::npos) << d.findings[0].message;
  EXPECT_EQ(d.findings[0].pointer, "/linux/namespaces");
  const Json& list = d.result["linux"]["namespaces"];
  ASSERT_EQ(list.size(), 5u);
  EXPECT_EQ(list[4], Json({{"type", type}}));
}

INSTANTIATE_TEST_SUITE_P(HostNamespaces, MissingNamespaceTest, ::testing::ValuesIn(kAllFive),
                         [](const auto& info) { return std::string(info.param); });

TEST(HostNamespaces, UserCgroupAndTimeMayBeAbsent) {
  Decision d = eval_hostns(namespaces_without(""), Action::kDeny);
  EXPECT_TRUE(d.findings.empty()) << describe(d);
  EXPECT_TRUE(d.allowed);
}

struct NsPathCase {
  const char* name;
  const char* type;
  const char* path;
  bool host;
};
RG_PRINT_BY_NAME(NsPathCase)

class NamespacePathTest : public ::testing::TestWithParam<NsPathCase> {};

TEST_P(NamespacePathTest, HostPathsAreFlagged) {
  const NsPathCase& c = GetParam();
  Json spec = namespaces_without("");
  spec["linux"]["namespaces"].push_back({{"type", "user"}});
  spec["linux"]["namespaces"].push_back({{"type", "cgroup"}});
  for (auto& n : spec["linux"]["namespaces"]) {
    if (n["type"] == c.type) n["path"] = c.path;
  }
  ContainerContext ctx;
  ctx.host_namespace_paths.insert("/run/netns/host-alias");
  Decision d = eval_hostns(spec, Action::kEnforce, ctx);
  if (!c.host) {
    EXPECT_TRUE(d.findings.empty()) << describe(d);
    EXPECT_EQ(d.result, spec);
    return;
  }
  ASSERT_EQ(d.findings.size(), 1u) << describe(d);
  EXPECT_NE(d.findings[0].message.find(c.path), std::string::npos) << d.findings[0].message;
  EXPECT_EQ(d.findings[0].pointer.substr(d.findings[0].pointer.size() - 5), "/path");
  for (const auto& n : d.result["linux"]["namespaces"]) EXPECT_FALSE(n.contains("path")) << n.dump();
}

INSTANTIATE_TEST_SUITE_P(
    HostNamespaces, NamespacePathTest,
    ::testing::Values(NsPathCase{"proc1_net", "network", "/proc/1/ns/net", true},
                      NsPathCase{"proc1_pid", "pid", "/proc/1/ns/pid", true},
                      NsPathCase{"proc1_unnormalised", "ipc", "/proc//1/./ns/ipc", true},
                      NsPathCase{"proc_self", "uts", "/proc/self/ns/uts", true},
                      NsPathCase{"proc_thread_self", "mount", "/proc/thread-self/ns/mnt", true},
                      NsPathCase{"proc1_user", "user", "/proc/1/ns/user", true},
                      NsPathCase{"proc1_cgroup", "cgroup", "/proc/1/ns/cgroup", true},
                      NsPathCase{"ctx_host_path", "network", "/run/netns/host-alias", true},
                      NsPathCase{"pod_sandbox_netns", "network", "/var/run/netns/cni-1234", false},
                      NsPathCase{"other_process", "network", "/proc/4242/ns/net", false},
                      NsPathCase{"proc10_not_proc1", "network", "/proc/10/ns/net", false}),
    [](const auto& info) { return std::string(info.param.name); });

// ---- privileged -------------------------------------------------------------------------------

struct PrivilegedCase {
  const char* name;
  const char* spec;  // "@ALLCAPS@" = every capability
  bool flagged;
};
RG_PRINT_BY_NAME(PrivilegedCase)

constexpr const char* kMasked = R"("maskedPaths":["/proc/kcore"],"readonlyPaths":["/proc/sys"])";

class PrivilegedTest : public ::testing::TestWithParam<PrivilegedCase> {};

TEST_P(PrivilegedTest, Fingerprint) {
  const PrivilegedCase& c = GetParam();
  Policy p = only_defaults_off();
  p.controls.privileged.action = Action::kDeny;
  Json spec = parse_with_caps(c.spec);
  ASSERT_TRUE(runguard::policy::validate_spec(spec, "config.json").is_ok());
  Decision d = evaluate_spec(p, spec, {});
  EXPECT_EQ(count_id(d, "RG-PRIV-001"), c.flagged ? 1u : 0u) << describe(d);
  EXPECT_EQ(d.allowed, !c.flagged);
}

std::string caps_spec(const std::string& linux) {
  return R"({"process":{"capabilities":{"bounding":"@ALLCAPS@"}},"linux":{)" + linux + "}}";
}

const std::string kPrivSpecs[] = {
    caps_spec(""),                                                                      // no seccomp, masked, ro
    caps_spec(R"("seccomp":{"defaultAction":"SCMP_ACT_ERRNO"},"maskedPaths":[])"),      // masked + ro
    caps_spec(R"("seccomp":{"defaultAction":"SCMP_ACT_ALLOW"},)" + std::string(kMasked) +
              R"(,"resources":{"devices":[{"allow":true,"type":"a","access":"rwm"}]})"),  // unconfined + devices
    caps_spec(R"("seccomp":{"defaultAction":"SCMP_ACT_ERRNO"},)" + std::string(kMasked)),  // only caps
    caps_spec(std::string(kMasked)),                                                     // caps + no seccomp only
    caps_spec(R"("seccomp":{"defaultAction":"SCMP_ACT_ERRNO"},)" + std::string(kMasked) +
              R"(,"resources":{"devices":[{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}]})"),
    R"({"process":{"capabilities":{"bounding":["CAP_SYS_ADMIN","CAP_NET_ADMIN"]}},"linux":{}})",  // few caps
};

INSTANTIATE_TEST_SUITE_P(
    Privileged, PrivilegedTest,
    ::testing::Values(PrivilegedCase{"all_caps_nothing_else", kPrivSpecs[0].c_str(), true},
                      PrivilegedCase{"all_caps_no_masked_no_ro", kPrivSpecs[1].c_str(), true},
                      PrivilegedCase{"all_caps_unconfined_all_devices", kPrivSpecs[2].c_str(), true},
                      PrivilegedCase{"all_caps_but_hardened", kPrivSpecs[3].c_str(), false},
                      PrivilegedCase{"all_caps_one_sign_only", kPrivSpecs[4].c_str(), false},
                      PrivilegedCase{"one_device_is_not_all_devices", kPrivSpecs[5].c_str(), false},
                      PrivilegedCase{"sys_admin_but_few_caps", kPrivSpecs[6].c_str(), false}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Privileged, EnforceRestoresMasksAndDeviceRule) {
  Policy p = only_defaults_off();
  p.controls.privileged.action = Action::kEnforce;
  Json spec = parse_with_caps(caps_spec(R"("resources":{"devices":[{"allow":false,"access":"rwm"},
      {"allow":true,"access":"rwm"}]})"));
  Decision d = evaluate_spec(p, spec, {});
  ASSERT_EQ(count_id(d, "RG-PRIV-001"), 1u) << describe(d);
  EXPECT_NE(d.findings[0].message.find("all devices allowed"), std::string::npos) << d.findings[0].message;
  EXPECT_EQ(d.result["linux"]["resources"]["devices"][0], spec["linux"]["resources"]["devices"][0]);
  EXPECT_EQ(d.result["linux"]["resources"]["devices"][1], parse(R"({"allow":false,"access":"rwm"})"));
  const Json& masked = d.result["linux"]["maskedPaths"];
  EXPECT_NE(std::find(masked.begin(), masked.end(), "/proc/kcore"), masked.end());
  // The capabilities themselves are the capability control's business.
  EXPECT_EQ(d.result["process"], spec["process"]);
}

// ---- sensitiveMounts --------------------------------------------------------------------------

struct MountCase {
  const char* name;
  const char* mount;  // one mounts[] entry
  bool flagged;
  const char* reason = "";  // substring of the finding message
};
RG_PRINT_BY_NAME(MountCase)

class SensitiveMountTest : public ::testing::TestWithParam<MountCase> {};

Decision eval_mounts(const Json& spec, Action action, const ContainerContext& ctx = {},
                     std::vector<std::string> allow = {}) {
  Policy p = only_defaults_off();
  p.controls.sensitive_mounts.action = action;
  p.controls.sensitive_mounts.allow = std::move(allow);
  return evaluate_spec(p, spec, ctx);
}

TEST_P(SensitiveMountTest, Classifies) {
  const MountCase& c = GetParam();
  Json spec = parse(std::string(R"({"mounts":[)") + c.mount + "]}");
  ContainerContext ctx;
  ctx.resolved_sources["/srv/link-to-sock"] = "/var/run/docker.sock";
  ctx.resolved_sources["/srv/link-to-data"] = "/srv/data";
  Decision d = eval_mounts(spec, Action::kEnforce, ctx);
  if (!c.flagged) {
    EXPECT_TRUE(d.findings.empty()) << describe(d);
    EXPECT_EQ(d.result, spec);
    return;
  }
  ASSERT_EQ(d.findings.size(), 1u) << describe(d);
  EXPECT_EQ(d.findings[0].pointer, "/mounts/0");
  EXPECT_NE(d.findings[0].message.find(c.reason), std::string::npos) << d.findings[0].message;
  EXPECT_EQ(d.result["mounts"], Json::array());
}

INSTANTIATE_TEST_SUITE_P(
    SensitiveMounts, SensitiveMountTest,
    ::testing::Values(
        MountCase{"root", R"({"destination":"/h","type":"bind","source":"/","options":["rbind"]})", true, "directory"},
        MountCase{"etc", R"({"destination":"/h","type":"bind","source":"/etc"})", true, "sensitive host directory"},
        MountCase{"etc_trailing_slash", R"({"destination":"/h","source":"/etc/","options":["bind"]})", true, ""},
        MountCase{"etc_shadow", R"({"destination":"/s","source":"/etc/shadow","options":["rbind","ro"]})", true,
                  "credential file"},
        MountCase{"var_run_docker_sock", R"({"destination":"/d","source":"/var/run/docker.sock","options":["rbind"]})",
                  true, "container runtime socket"},
        MountCase{"run_docker_sock", R"({"destination":"/d","source":"/run/docker.sock","type":"bind"})", true,
                  "/run/docker.sock"},
        MountCase{"containerd_sock", R"({"destination":"/c","source":"/run/containerd/containerd.sock","type":"bind"})",
                  true, "/run/containerd/containerd.sock"},
        MountCase{"crio_sock_elsewhere", R"({"destination":"/c","source":"/opt/crio/crio.sock","type":"bind"})", true,
                  "socket"},
        MountCase{"proc_sys", R"({"destination":"/p","source":"/proc/sys","options":["rbind"]})", true, "tree"},
        MountCase{"proc_dotdot", R"({"destination":"/p","source":"/data/../proc/1/root","type":"bind"})", true, "tree"},
        MountCase{"sys_kernel", R"({"destination":"/k","source":"/sys/kernel","type":"bind"})", true, "tree"},
        MountCase{"symlink_to_sock", R"({"destination":"/d","source":"/srv/link-to-sock","type":"bind"})", true,
                  "/srv/link-to-sock (-> /run/docker.sock)"},
        MountCase{"proc_fs_not_bind", R"({"destination":"/proc","type":"proc","source":"proc"})", false},
        MountCase{"tmpfs_named_etc", R"({"destination":"/etc","type":"tmpfs","source":"/etc"})", false},
        MountCase{"sysfs_not_bind", R"({"destination":"/sys","type":"sysfs","source":"sysfs","options":["ro"]})", false},
        MountCase{"data_bind", R"({"destination":"/data","type":"bind","source":"/data","options":["rbind"]})", false},
        MountCase{"etc_hosts_file", R"({"destination":"/etc/hosts","type":"bind","source":"/etc/hosts"})", false},
        MountCase{"symlink_to_data", R"({"destination":"/d","source":"/srv/link-to-data","type":"bind"})", false},
        MountCase{"docker_sock_lookalike", R"({"destination":"/d","source":"/srv/docker.sock.bak","type":"bind"})", false}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(SensitiveMounts, AllowListExemptsExactPath) {
  Json spec = parse(R"({"mounts":[{"destination":"/e","type":"bind","source":"/etc"},
                                  {"destination":"/v","type":"bind","source":"/var"}]})");
  Decision d = eval_mounts(spec, Action::kDeny, {}, {"/etc"});
  ASSERT_EQ(d.findings.size(), 1u) << describe(d);
  EXPECT_EQ(d.findings[0].pointer, "/mounts/1");
  EXPECT_FALSE(d.allowed);
}

TEST(SensitiveMounts, EnforceRemovesOnlyTheSensitiveOnes) {
  Json spec = parse(R"({"mounts":[{"destination":"/a","type":"bind","source":"/etc"},
      {"destination":"/b","type":"bind","source":"/data"},{"destination":"/c","type":"bind","source":"/proc/1"},
      {"destination":"/d","type":"bind","source":"/srv"}]})");
  Decision d = eval_mounts(spec, Action::kEnforce);
  EXPECT_EQ(d.result["mounts"], Json::array({spec["mounts"][1], spec["mounts"][3]}));
  EXPECT_EQ(d.findings.size(), 2u) << describe(d);
}

// An administrator exempting the Docker socket writes the path the way mounts name it.
TEST(SensitiveMounts, AllowListEntryUnderVarRunExemptsTheSocket) {
  Json spec = parse(R"({"mounts":[{"destination":"/d","type":"bind","source":"/var/run/docker.sock"}]})");
  Decision d = eval_mounts(spec, Action::kDeny, {}, {"/var/run/docker.sock"});
  EXPECT_FALSE(!d.findings.empty()) << "regression: policy/src/mount_controls.cc check_sensitive_mounts compares the allow list with "
                    "canonical(source) (/var/run -> /run) but the loader stores allow entries only "
                    "normalize_path()ed, so `allow: [/var/run/docker.sock]` never matches; canonicalise allow entries too";
  EXPECT_TRUE(d.allowed);
}

// What containerd's CRI plugin mounts into every Kubernetes container: the pod's hostname,
// resolv.conf and /dev/shm live below containerd's own state directories, the rest below kubelet's.
TEST(SensitiveMounts, ContainerdCriPerPodFilesAreNotSensitive) {
  Json spec = parse(R"({"mounts":[
    {"destination":"/etc/hosts","type":"bind","source":"/var/lib/kubelet/pods/5f1c/etc-hosts","options":["rbind","rprivate","rw"]},
    {"destination":"/dev/termination-log","type":"bind","source":"/var/lib/kubelet/pods/5f1c/containers/app/0d2e","options":["rbind","rprivate","rw"]},
    {"destination":"/etc/hostname","type":"bind","source":"/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/9a7b/hostname","options":["rbind","rprivate","rw"]},
    {"destination":"/etc/resolv.conf","type":"bind","source":"/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/9a7b/resolv.conf","options":["rbind","rprivate","rw"]},
    {"destination":"/dev/shm","type":"bind","source":"/run/containerd/io.containerd.grpc.v1.cri/sandboxes/9a7b/shm","options":["rbind","rprivate","rw"]},
    {"destination":"/var/run/secrets/kubernetes.io/serviceaccount","type":"bind","source":"/var/lib/kubelet/pods/5f1c/volumes/kubernetes.io~projected/kube-api-access-x","options":["rbind","rprivate","ro"]}]})");
  Decision d = eval_mounts(spec, Action::kDeny);
  EXPECT_TRUE(d.findings.empty()) << describe(d);
  EXPECT_TRUE(d.allowed);
}

TEST(SensitiveMounts, DockerPerContainerFilesAreNotSensitive) {
  Json spec = parse(R"({"mounts":[
    {"destination":"/etc/resolv.conf","type":"bind","source":"/var/lib/docker/containers/ab12/resolv.conf","options":["rbind","rprivate"]},
    {"destination":"/etc/hostname","type":"bind","source":"/var/lib/docker/containers/ab12/hostname","options":["rbind","rprivate"]}]})");
  Decision d = eval_mounts(spec, Action::kDeny);
  EXPECT_TRUE(d.findings.empty()) << describe(d);
}

TEST(SensitiveMounts, EngineStateRootsStaySensitive) {
  for (const char* src : {"/var/lib/containerd", "/run/containerd", "/var/lib/docker", "/var/lib/kubelet",
                          "/var/lib/kubelet/pki/kubelet.key", "/var/run/crio"}) {
    Json spec = Json{{"mounts", {{{"destination", "/x"}, {"type", "bind"}, {"source", src}}}}};
    Decision d = eval_mounts(spec, Action::kDeny);
    EXPECT_EQ(d.findings.size(), 1u) << src << ": " << describe(d);
  }
}

// ---- readonlyRootfs ---------------------------------------------------------------------------

TEST(ReadonlyRootfs, ReadonlyTrueIsCompliant) {
  Policy p = only_defaults_off();
  p.controls.readonly_rootfs.action = Action::kDeny;
  Decision d = evaluate_spec(p, parse(R"({"root":{"path":"rootfs","readonly":true}})"), {});
  EXPECT_TRUE(d.findings.empty()) << describe(d);
}

TEST(ReadonlyRootfs, DefaultIsAudit) {
  Decision d = evaluate_spec(defaults(), parse(R"({"root":{"path":"rootfs"}})"), {});
  auto f = findings_with(d, "RG-ROFS-001");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0]->action, Action::kAudit);
  EXPECT_FALSE(d.result["root"].contains("readonly"));
}

}  // namespace
