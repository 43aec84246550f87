// Every control under each of its four actions, table-driven: for one violating spec per row,
//   enforce: the finding says "enforce" and the mutation is in the result,
//   deny:    allowed is false and the result is the spec unchanged,
//   audit:   the finding is recorded and nothing changes,
//   off:     no finding at all.
// All other controls are switched off so each row sees only its own control. Control-specific
// edge cases live in controls_process_test.cc, controls_container_test.cc and secrets_in_env_test.cc.

#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "policy_test_util.h"
#include "runguard/policy/catalog.h"
#include "runguard/policy/decision.h"

namespace {

using namespace rgtest;  // NOLINT(google-build-using-namespace)
using runguard::policy::decision_to_json;
using runguard::policy::evaluate_spec;

struct ControlCase {
  const char* name;                          // test name suffix
  const char* control;                       // policy key, as in findings
  const char* id;                            // the finding id this row must produce
  const char* spec;                          // violating spec ("@ALLCAPS@" = every capability)
  void (*set)(Controls&, Action);            // switches the control under test to an action
  bool (*fixed)(const Json& result);         // true once the enforce mutation is in place
  void (*context)(ContainerContext&) = nullptr;
};
RG_PRINT_BY_NAME(ControlCase)

void set_user(Controls& c, Action a) { c.user.action = a; }
void set_userns(Controls& c, Action a) { c.user_namespace.action = a; }
void set_caps(Controls& c, Action a) { c.capabilities.action = a; }
void set_nnp(Controls& c, Action a) { c.no_new_privileges.action = a; }
void set_seccomp(Controls& c, Action a) { c.seccomp.action = a; }
void set_resources(Controls& c, Action a) { c.resources.action = a; }
void set_hostns(Controls& c, Action a) { c.host_namespaces.action = a; }
void set_priv(Controls& c, Action a) { c.privileged.action = a; }
void set_mounts(Controls& c, Action a) { c.sensitive_mounts.action = a; }
void set_rofs(Controls& c, Action a) { c.readonly_rootfs.action = a; }
void set_env(Controls& c, Action a) { c.secrets_in_env.action = a; }

bool eq(const Json& doc, const char* pointer, const Json& want) {
  auto v = at(doc, pointer);
  return v && *v == want;
}

// True when linux.namespaces has an entry of `type` without a path (a fresh namespace).
bool has_own_namespace(const Json& doc, const std::string& type) {
  auto list = at(doc, "/linux/namespaces");
  if (!list || !list->is_array()) return false;
  for (const auto& n : *list) {
    if (n.value("type", "") == type && !n.contains("path")) return true;
  }
  return false;
}

// The pool's first range (the default policy's, as an offline check sees it) for uid and gid.
bool mapped_to_first_range(const Json& doc) {
  Json map = Json::array({{{"containerID", 0}, {"hostID", 1073741824u}, {"size", 65536}}});
  return has_own_namespace(doc, "user") && eq(doc, "/linux/uidMappings", map) && eq(doc, "/linux/gidMappings", map);
}

bool mounts_empty(const Json& doc) {
  auto m = at(doc, "/mounts");
  return m && m->is_array() && m->empty();
}

bool seccomp_is_default(const Json& doc) {
  auto s = at(doc, "/linux/seccomp");
  return s && *s == defaults().controls.seccomp.profile_json;
}

const ControlCase kCases[] = {
    // userNamespace
    {"userns_absent", "userNamespace", "RG-USERNS-001", R"({"linux":{"namespaces":[{"type":"pid"}]}})", set_userns,
     mapped_to_first_range},
    {"userns_no_mappings", "userNamespace", "RG-USERNS-001", R"({"linux":{"namespaces":[{"type":"user"}]}})", set_userns,
     mapped_to_first_range},
    {"userns_host_path", "userNamespace", "RG-USERNS-001",
     R"({"linux":{"namespaces":[{"type":"user","path":"/proc/1/ns/user"}]}})", set_userns, mapped_to_first_range},
    // user
    {"user_uid0", "user", "RG-USER-001", R"({"process":{"user":{"uid":0,"gid":0}}})", set_user,
     [](const Json& r) { return eq(r, "/process/user/uid", 65532) && eq(r, "/process/user/gid", 65532); }},
    {"user_absent", "user", "RG-USER-001", R"({"process":{"args":["sh"]}})", set_user,
     [](const Json& r) { return eq(r, "/process/user/uid", 65532) && eq(r, "/process/user/gid", 65532); }},
    {"user_gid0", "user", "RG-USER-002", R"({"process":{"user":{"uid":1000,"gid":0}}})", set_user,
     [](const Json& r) { return eq(r, "/process/user/uid", 1000) && eq(r, "/process/user/gid", 65532); }},
    {"user_additional_gid0", "user", "RG-USER-003",
     R"({"process":{"user":{"uid":1000,"gid":1000,"additionalGids":[0,5,0]}}})", set_user,
     [](const Json& r) { return eq(r, "/process/user/additionalGids", Json::array({5})); }},
    // capabilities
    {"caps_extra", "capabilities", "RG-CAPS-001",
     R"({"process":{"capabilities":{"bounding":["CAP_SYS_ADMIN","CAP_NET_BIND_SERVICE"],
        "effective":["CAP_NET_RAW"],"ambient":["CAP_NET_BIND_SERVICE"]}}})",
     set_caps, [](const Json& r) {
       return eq(r, "/process/capabilities/bounding", Json::array({"CAP_NET_BIND_SERVICE"})) &&
              eq(r, "/process/capabilities/effective", Json::array()) &&
              eq(r, "/process/capabilities/ambient", Json::array({"CAP_NET_BIND_SERVICE"}));
     }},
    // noNewPrivileges
    {"nnp_false", "noNewPrivileges", "RG-NNP-001", R"({"process":{"noNewPrivileges":false}})", set_nnp,
     [](const Json& r) { return eq(r, "/process/noNewPrivileges", true); }},
    {"nnp_absent", "noNewPrivileges", "RG-NNP-001", R"({"process":{}})", set_nnp,
     [](const Json& r) { return eq(r, "/process/noNewPrivileges", true); }},
    // seccomp
    {"seccomp_absent", "seccomp", "RG-SECCOMP-001", R"({"linux":{}})", set_seccomp, seccomp_is_default},
    {"seccomp_null", "seccomp", "RG-SECCOMP-001", R"({"linux":{"seccomp":null}})", set_seccomp, seccomp_is_default},
    {"seccomp_allow_all", "seccomp", "RG-SECCOMP-001",
     R"({"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_LOG"}]}}})",
     set_seccomp, seccomp_is_default},
    // resources
    {"memory_absent", "resources", "RG-RES-001", R"({"linux":{"resources":{"cpu":{"shares":512}}}})", set_resources,
     [](const Json& r) { return eq(r, "/linux/resources/memory/limit", 512LL << 20); }},
    {"memory_unlimited", "resources", "RG-RES-001", R"({"linux":{"resources":{"memory":{"limit":-1}}}})",
     set_resources, [](const Json& r) { return eq(r, "/linux/resources/memory/limit", 512LL << 20); }},
    {"memory_above_max", "resources", "RG-RES-001",
     R"({"linux":{"resources":{"memory":{"limit":17179869184}}}})", set_resources,
     [](const Json& r) { return eq(r, "/linux/resources/memory/limit", 8LL << 30); }},
    {"pids_absent", "resources", "RG-RES-003", R"({"linux":{"resources":{}}})", set_resources,
     [](const Json& r) { return eq(r, "/linux/resources/pids/limit", 1024); }},
    {"pids_above_max", "resources", "RG-RES-003", R"({"linux":{"resources":{"pids":{"limit":100000}}}})",
     set_resources, [](const Json& r) { return eq(r, "/linux/resources/pids/limit", 32768); }},
    {"cpu_shares_absent", "resources", "RG-RES-002", R"({"linux":{"resources":{"cpu":{}}}})", set_resources,
     [](const Json& r) { return eq(r, "/linux/resources/cpu/shares", 1024); }},
    {"rlimit_nofile_absent", "resources", "RG-RES-004",
     R"({"process":{"rlimits":[{"type":"RLIMIT_CORE","hard":0,"soft":0}]}})", set_resources, [](const Json& r) {
       return eq(r, "/process/rlimits/1", Json{{"type", "RLIMIT_NOFILE"}, {"hard", 16384}, {"soft", 16384}}) &&
              eq(r, "/process/rlimits/0/type", "RLIMIT_CORE");
     }},
    {"rlimits_list_absent", "resources", "RG-RES-004", R"({"process":{}})", set_resources, [](const Json& r) {
       return eq(r, "/process/rlimits", Json::array({{{"type", "RLIMIT_NOFILE"}, {"hard", 16384}, {"soft", 16384}}}));
     }},
    // hostNamespaces
    {"hostns_pid_missing", "hostNamespaces", "RG-HOSTNS-001",
     R"({"linux":{"namespaces":[{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}]}})", set_hostns,
     [](const Json& r) { return has_own_namespace(r, "pid"); }},
    {"hostns_all_missing", "hostNamespaces", "RG-HOSTNS-001", R"({"linux":{}})", set_hostns, [](const Json& r) {
       for (const char* t : {"pid", "network", "ipc", "uts", "mount"}) {
         if (!has_own_namespace(r, t)) return false;
       }
       return true;
     }},
    {"hostns_proc1_net", "hostNamespaces", "RG-HOSTNS-001",
     R"({"linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/proc/1/ns/net"},{"type":"ipc"},
        {"type":"uts"},{"type":"mount"}]}})",
     set_hostns, [](const Json& r) { return has_own_namespace(r, "network"); }},
    {"hostns_ctx_path", "hostNamespaces", "RG-HOSTNS-001",
     R"({"linux":{"namespaces":[{"type":"pid"},{"type":"network"},{"type":"ipc","path":"/run/ipcns/host"},
        {"type":"uts"},{"type":"mount"}]}})",
     set_hostns, [](const Json& r) { return has_own_namespace(r, "ipc"); },
     [](ContainerContext& c) { c.host_namespace_paths.insert("/run/ipcns/host"); }},
    // privileged: every capability, no seccomp, no masked paths, no read-only paths, all devices
    {"privileged", "privileged", "RG-PRIV-001",
     R"({"process":{"capabilities":{"bounding":"@ALLCAPS@"}},
        "linux":{"resources":{"devices":[{"allow":true,"access":"rwm"}]}}})",
     set_priv, [](const Json& r) {
       auto m = at(r, "/linux/maskedPaths"), ro = at(r, "/linux/readonlyPaths");
       return m && m->size() >= 10 && ro && ro->size() >= 5 && eq(r, "/linux/resources/devices/0/allow", false);
     }},
    // sensitiveMounts
    {"mount_root", "sensitiveMounts", "RG-MOUNT-001",
     R"({"mounts":[{"destination":"/host","type":"bind","source":"/","options":["rbind"]}]})", set_mounts,
     mounts_empty},
    {"mount_docker_sock", "sensitiveMounts", "RG-MOUNT-001",
     R"({"mounts":[{"destination":"/var/run/docker.sock","source":"/var/run/docker.sock","options":["rbind","rw"]}]})",
     set_mounts, mounts_empty},
    // readonlyRootfs
    {"rootfs_writable", "readonlyRootfs", "RG-ROFS-001", R"({"root":{"path":"rootfs","readonly":false}})", set_rofs,
     [](const Json& r) { return eq(r, "/root/readonly", true) && eq(r, "/root/path", "rootfs"); }},
    {"rootfs_absent", "readonlyRootfs", "RG-ROFS-001", R"({"ociVersion":"1.0.2"})", set_rofs,
     [](const Json& r) { return eq(r, "/root/readonly", true); }},
    // secretsInEnv
    {"env_password", "secretsInEnv", "RG-ENV-001",
     R"({"process":{"env":["PATH=/usr/bin","DB_PASSWORD=correct-horse-battery","HOME=/root"]}})", set_env,
     // enforce moves it into a file under secrets.mountPath (docs/secrets.md)
     [](const Json& r) {
       return eq(r, "/process/env", Json::array({"PATH=/usr/bin", "DB_PASSWORD_FILE=/run/secrets/DB_PASSWORD", "HOME=/root"}));
     }},
};

constexpr Action kActions[] = {Action::kEnforce, Action::kDeny, Action::kAudit, Action::kOff};

class ControlActionTest : public ::testing::TestWithParam<std::tuple<ControlCase, Action>> {};

TEST_P(ControlActionTest, AppliesAction) {
  const auto& [c, action] = GetParam();
  Policy p = only_defaults_off();
  c.set(p.controls, action);
  Json spec = parse_with_caps(c.spec);
  ContainerContext ctx;
  if (c.context) c.context(ctx);
  ASSERT_TRUE(runguard::policy::validate_spec(spec, "config.json").is_ok());
  ASSERT_FALSE(c.fixed(spec)) << "the row's spec must violate the control";

  Decision d = evaluate_spec(p, spec, ctx);
  auto mine = findings_with(d, c.id);
  SCOPED_TRACE(describe(d));
  for (const auto& f : d.findings) EXPECT_EQ(f.control, c.control) << "only the control under test is on";

  switch (action) {
    case Action::kEnforce:
      ASSERT_FALSE(mine.empty());
      for (const auto* f : mine) EXPECT_EQ(f->action, Action::kEnforce);
      EXPECT_TRUE(d.allowed);
      EXPECT_TRUE(c.fixed(d.result)) << d.result.dump();
      ASSERT_FALSE(d.mutations.empty());
      for (const auto& m : d.mutations) {
        EXPECT_TRUE(m.applied);
        if (m.id == "RG-SECRETS-001" && c.control == std::string("secretsInEnv")) continue;  // the moved variable's mount
        EXPECT_EQ(m.control, c.control);
      }
      EXPECT_EQ(decision_to_json(d)["findings"][0]["action"], "enforce");
      break;
    case Action::kDeny:
      ASSERT_FALSE(mine.empty());
      for (const auto* f : mine) EXPECT_EQ(f->action, Action::kDeny);
      EXPECT_FALSE(d.allowed);
      EXPECT_EQ(d.result, spec);
      for (const auto& m : d.mutations) EXPECT_FALSE(m.applied);
      EXPECT_NE(d.denial_summary().find(c.id), std::string::npos) << d.denial_summary();
      EXPECT_EQ(decision_to_json(d)["allowed"], false);
      break;
    case Action::kAudit:
      ASSERT_FALSE(mine.empty());
      for (const auto* f : mine) EXPECT_EQ(f->action, Action::kAudit);
      EXPECT_TRUE(d.allowed);
      EXPECT_EQ(d.result, spec);
      EXPECT_TRUE(d.mutations.empty());
      EXPECT_EQ(decision_to_json(d)["findings"][0]["action"], "audit");
      break;
    case Action::kOff:
      EXPECT_TRUE(d.findings.empty());
      EXPECT_TRUE(d.mutations.empty());
      EXPECT_TRUE(d.allowed);
      EXPECT_EQ(d.result, spec);
      break;
  }
}

INSTANTIATE_TEST_SUITE_P(AllControls, ControlActionTest,
                         ::testing::Combine(::testing::ValuesIn(kCases), ::testing::ValuesIn(kActions)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) + "_" +
                                  runguard::policy::action_name(std::get<1>(info.param));
                         });

// Every control in the catalog has at least one row above.
TEST(ControlActionCoverage, EveryCatalogControlHasARow) {
  for (const auto& name : runguard::policy::control_names()) {
    // The monitor's actions mean "install and block" / "install, alert only" / "off", not the
    // enforce/deny/audit of a spec check: monitor_control_test.cc covers it.
    if (name == "monitor") continue;
    bool found = false;
    for (const auto& c : kCases) found |= name == c.control;
    EXPECT_TRUE(found) << "no action-table row for control " << name;
  }
}

// A spec that satisfies every control produces no finding under the default policy.
TEST(ControlActionCoverage, CompliantSpecHasNoFindings) {
  Policy p = defaults();
  Json spec = parse(R"({
    "process":{"user":{"uid":1000,"gid":1000},"args":["app"],"env":["PATH=/bin"],"noNewPrivileges":true,
               "capabilities":{"bounding":["CAP_NET_BIND_SERVICE"]},
               "rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}]},
    "root":{"path":"rootfs","readonly":true},
    "mounts":[{"destination":"/data","type":"bind","source":"/srv/data","options":["rbind","ro"]}],
    "linux":{"namespaces":[{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"user"}],
             "uidMappings":[{"containerID":0,"hostID":300000,"size":65536}],
             "gidMappings":[{"containerID":0,"hostID":300000,"size":65536}],
             "resources":{"memory":{"limit":1073741824},"pids":{"limit":100},"cpu":{"shares":256}},
             "seccomp":{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}}})");
  Decision d = evaluate_spec(p, spec, {});
  EXPECT_TRUE(d.findings.empty()) << describe(d);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.result, spec);
}

// runc's own `runc spec` output, from the shared corpus.
TEST(RuncDefaultSpec, ExpectedFindingsUnderDefaultPolicy) {
  const std::string path = RUNGUARD_SHARED_DIR "/corpora/oci/runc-spec-default.json";
  auto text = read_text(path);
  if (!text) GTEST_SKIP() << "shared corpus not present (" << path << "); clone ../shared to run this test";
  Json spec = parse(*text);
  ASSERT_TRUE(runguard::policy::validate_spec(spec, path).is_ok());

  Decision d = evaluate_spec(defaults(), spec, {});
  // Root user; AUDIT_WRITE and KILL in four capability sets; no seccomp; no memory/pids/cpu limits.
  // Not flagged: privileged (3 caps), namespaces (all five own), NNP (true), rootfs (read-only),
  // mounts (no binds), env (PATH, TERM), RLIMIT_NOFILE (present, no max).
  std::vector<std::string> ids;
  for (const auto& f : d.findings) ids.push_back(f.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"RG-USERNS-001", "RG-USER-001", "RG-CAPS-001", "RG-CAPS-001", "RG-CAPS-001", "RG-CAPS-001",
                                           "RG-SECCOMP-001", "RG-RES-001", "RG-RES-003", "RG-RES-002",
                                           "RG-MON-001"}))
      << describe(d);
  EXPECT_TRUE(d.allowed) << d.denial_summary();
  const Json& r = d.result;
  EXPECT_EQ(r["process"]["user"]["uid"], 65532);
  EXPECT_EQ(r["process"]["user"]["gid"], 65532);
  for (const char* set : {"bounding", "effective", "permitted", "ambient"}) {
    EXPECT_EQ(r["process"]["capabilities"][set], Json::array({"CAP_NET_BIND_SERVICE"})) << set;
  }
  EXPECT_EQ(r["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_EQ(r["linux"]["resources"]["memory"]["limit"], 512LL << 20);
  EXPECT_EQ(r["linux"]["resources"]["pids"]["limit"], 1024);
  EXPECT_EQ(r["linux"]["resources"]["cpu"]["shares"], 1024);
  EXPECT_EQ(r["linux"]["resources"]["devices"], spec["linux"]["resources"]["devices"]);
  EXPECT_EQ(r["process"]["rlimits"], spec["process"]["rlimits"]);
  EXPECT_EQ(r["mounts"], spec["mounts"]);
  Json namespaces = spec["linux"]["namespaces"];
  namespaces.push_back({{"type", "user"}});
  EXPECT_EQ(r["linux"]["namespaces"], namespaces);
}

TEST(RuncDefaultSpec, RootlessSpecIsDeniedForHostNetworkAndSysBind) {
  const std::string path = RUNGUARD_SHARED_DIR "/corpora/oci/runc-spec-rootless.json";
  auto text = read_text(path);
  if (!text) GTEST_SKIP() << "shared corpus not present (" << path << "); clone ../shared to run this test";
  Json spec = parse(*text);
  ASSERT_TRUE(runguard::policy::validate_spec(spec, path).is_ok());
  Decision d = evaluate_spec(defaults(), spec, {});
  // `runc spec --rootless` shares the host's network namespace and rbinds the host's /sys.
  EXPECT_FALSE(d.allowed);
  ASSERT_EQ(count_id(d, "RG-HOSTNS-001"), 1u) << describe(d);
  EXPECT_NE(findings_with(d, "RG-HOSTNS-001")[0]->message.find("network"), std::string::npos);
  ASSERT_EQ(count_id(d, "RG-MOUNT-001"), 1u) << describe(d);
  EXPECT_EQ(findings_with(d, "RG-MOUNT-001")[0]->pointer, "/mounts/5");
  EXPECT_EQ(d.result, spec);
}

}  // namespace
