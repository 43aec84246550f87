// runguard-hook check: the deny-only verdict (pure) and hook_check on real files (a temporary
// bundle and policy; no container is started).

#include "runguard/pipeline/hook_check.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "../policy/policy_test_util.h"
#include "runguard/common/strings.h"
#include "runguard/policy/catalog.h"
#include "runguard/policy/engine.h"

namespace runguard::pipeline {
namespace {

using rgtest::parse;

// A spec every default control accepts: what podman writes for `run --user 65532:65532
// --cap-drop all --cap-add NET_BIND_SERVICE --security-opt no-new-privileges --memory 512m
// --pids-limit 1024 --cpu-shares 1024 --ulimit nofile=16384:16384`, trimmed.
Json compliant_spec() {
  return parse(R"({
    "ociVersion": "1.0.2-dev",
    "process": {
      "user": {"uid": 65532, "gid": 65532},
      "args": ["sh"], "cwd": "/",
      "env": ["PATH=/usr/bin:/bin", "container=podman"],
      "capabilities": {"bounding": ["CAP_NET_BIND_SERVICE"], "effective": ["CAP_NET_BIND_SERVICE"],
                       "permitted": ["CAP_NET_BIND_SERVICE"]},
      "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 16384, "soft": 16384}],
      "noNewPrivileges": true
    },
    "root": {"path": "rootfs"},
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
    "annotations": {"io.container.manager": "libpod"},
    "linux": {
      "resources": {"memory": {"limit": 536870912}, "pids": {"limit": 1024}, "cpu": {"shares": 1024}},
      "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"},
                     {"type": "user"}],
      "uidMappings": [{"containerID": 0, "hostID": 300000, "size": 65536}],
      "gidMappings": [{"containerID": 0, "hostID": 300000, "size": 65536}],
      "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                  "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]}
    }
  })");
}

policy::Decision evaluate(const policy::Policy& p, const Json& spec) {
  return policy::evaluate_spec(p, spec, policy::context_from_spec(spec, "c1", "/b", ""));
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

TEST(DenyOnlyVerdict, CompliantSpecIsAllowed) {
  policy::Policy p = rgtest::defaults();
  policy::Decision d = evaluate(p, compliant_spec());
  DenyOnlyVerdict v = deny_only_verdict(d, p.controls);
  EXPECT_TRUE(v.allowed) << rgtest::describe(d);
  EXPECT_TRUE(v.reasons.empty());
}

// Secret files need the runtime: a hook can only refuse, and says why.
TEST(DenyOnlyVerdict, SecretFilesNeedTheRuntime) {
  policy::Policy p = rgtest::defaults();
  policy::SecretsAttach attach;
  attach.files = {{"ca.pem", "file:shared/ca"}};
  p.secrets.attach.push_back(attach);
  policy::Decision d = evaluate(p, compliant_spec());
  ASSERT_TRUE(d.allowed) << rgtest::describe(d);
  DenyOnlyVerdict v = deny_only_verdict(d, p.controls);
  EXPECT_FALSE(v.allowed);
  ASSERT_EQ(v.reasons.size(), 1u);
  EXPECT_NE(v.reasons[0].find("1 secret file(s) for /run/secrets [RG-SECRETS-001]"), std::string::npos) << v.reasons[0];
  EXPECT_NE(v.reasons[0].find("runguard as its runtime"), std::string::npos) << v.reasons[0];
}

TEST(DenyOnlyVerdict, AuditFindingsRefuseNothing) {
  // readonlyRootfs is an audit control by default and the compliant spec's root is writable.
  policy::Policy p = rgtest::defaults();
  policy::Decision d = evaluate(p, compliant_spec());
  ASSERT_EQ(rgtest::count_id(d, "RG-ROFS-001"), 1u) << rgtest::describe(d);
  EXPECT_TRUE(deny_only_verdict(d, p.controls).allowed);
}

TEST(DenyOnlyVerdict, EnforceFindingRefusesAndSaysWhatToSet) {
  policy::Policy p = rgtest::defaults();
  Json spec = compliant_spec();
  spec["process"]["user"] = parse(R"({"uid": 0, "gid": 0})");
  policy::Decision d = evaluate(p, spec);
  ASSERT_TRUE(d.allowed) << "the runtime would fix this, not deny it";
  DenyOnlyVerdict v = deny_only_verdict(d, p.controls);
  EXPECT_FALSE(v.allowed);
  // The user control's fix sets uid and gid, so gid 0 is not reported again (RG-USER-002): the
  // remedy names both.
  ASSERT_EQ(v.reasons.size(), 1u) << join(v.reasons, "; ");
  EXPECT_EQ(v.reasons[0].rfind("process runs as root (uid 0); run it as uid 65532 [RG-USER-001] (deny-only hook: "
                               "set /process/user/uid", 0), 0u) << v.reasons[0];
  EXPECT_NE(v.reasons[0].find("podman run --user 65532:65532"), std::string::npos) << v.reasons[0];
  EXPECT_NE(v.reasons[0].find("securityContext.runAsUser: 65532"), std::string::npos) << v.reasons[0];
  EXPECT_NE(deny_only_verdict(evaluate(p, [] {
              Json s = compliant_spec();
              s["process"]["user"]["gid"] = 0u;
              return s;
            }()), p.controls).reasons.at(0).find("[RG-USER-002] (deny-only hook: set /process/user/gid"),
            std::string::npos);
}

TEST(DenyOnlyVerdict, DenyFindingKeepsTheRuntimesWording) {
  policy::Policy p = rgtest::defaults();
  Json spec = compliant_spec();
  spec["mounts"].push_back(parse(R"({"destination": "/host-etc", "type": "bind", "source": "/etc", "options": ["rbind"]})"));
  policy::Decision d = evaluate(p, spec);
  ASSERT_FALSE(d.allowed);
  DenyOnlyVerdict v = deny_only_verdict(d, p.controls);
  EXPECT_FALSE(v.allowed);
  ASSERT_EQ(v.reasons.size(), 1u);
  EXPECT_EQ(v.reasons[0], d.denial_summary());
}

TEST(DenyOnlyVerdict, OneRemedyPerFindingId) {
  // RG-CAPS-001 comes once per capability set; the remedy is said once.
  policy::Policy p = rgtest::defaults();
  Json spec = compliant_spec();
  for (const char* set : {"bounding", "effective", "permitted"}) spec["process"]["capabilities"][set].push_back("CAP_SYS_ADMIN");
  policy::Decision d = evaluate(p, spec);
  ASSERT_EQ(rgtest::count_id(d, "RG-CAPS-001"), 3u) << rgtest::describe(d);
  DenyOnlyVerdict v = deny_only_verdict(d, p.controls);
  ASSERT_EQ(v.reasons.size(), 3u);
  std::string all = join(v.reasons, "; ");
  EXPECT_EQ(count(all, "--cap-drop all --cap-add NET_BIND_SERVICE"), 1u) << all;
  EXPECT_EQ(count(all, "[RG-CAPS-001]"), 3u) << all;
}

TEST(DenyOnlyVerdict, AuditModeRefusesNothing) {
  auto p = policy::parse_policy("mode: audit\n", "policy.yaml", rgtest::no_files);
  ASSERT_TRUE(p.is_ok()) << p.status().message();
  Json spec = compliant_spec();
  spec["process"]["user"]["uid"] = 0u;
  spec["mounts"].push_back(parse(R"({"destination": "/h", "type": "bind", "source": "/etc", "options": ["rbind"]})"));
  policy::Decision d = evaluate(*p, spec);
  EXPECT_TRUE(deny_only_verdict(d, p->controls).allowed) << rgtest::describe(d);
}

TEST(DenyOnlyVerdict, RemediesUseThePolicysValues) {
  auto p = policy::parse_policy(
      "controls:\n"
      "  user: {uid: 1000, gid: 2000}\n"
      "  capabilities: {allow: [CHOWN, NET_RAW]}\n"
      "  resources: {memory: {default: 1Gi, max: 2Gi}, pids: {default: 300, max: 500},\n"
      "              rlimits: {RLIMIT_NPROC: {default: 64}}}\n",
      "policy.yaml", rgtest::no_files);
  ASSERT_TRUE(p.is_ok()) << p.status().message();
  Json spec = compliant_spec();
  spec["process"]["user"]["uid"] = 0u;  // unsigned, as parsed from a file
  spec["process"]["capabilities"]["bounding"].push_back("CAP_SYS_ADMIN");
  spec["linux"]["resources"] = parse("{}");
  std::string all = join(deny_only_verdict(evaluate(*p, spec), p->controls).reasons, "; ");
  EXPECT_NE(all.find("podman run --user 1000:2000"), std::string::npos) << all;
  EXPECT_NE(all.find("--cap-drop all --cap-add CHOWN --cap-add NET_RAW"), std::string::npos) << all;
  EXPECT_NE(all.find("add: [CHOWN, NET_RAW]"), std::string::npos) << all;
  EXPECT_NE(all.find("(runguard's default is 1Gi, at most 2Gi): podman run --memory 1g"), std::string::npos) << all;
  EXPECT_NE(all.find("podman run --pids-limit 300"), std::string::npos) << all;
  EXPECT_NE(all.find("podman run --ulimit nproc=64:64"), std::string::npos) << all;
}

TEST(Remedy, EveryFindingIdHasItsOwn) {
  policy::Policy p = rgtest::defaults();
  for (const char* id : {"RG-USER-001", "RG-USER-002", "RG-USER-003", "RG-CAPS-001", "RG-NNP-001", "RG-SECCOMP-001",
                         "RG-RES-001", "RG-RES-002", "RG-RES-003", "RG-RES-004", "RG-HOSTNS-001", "RG-PRIV-001",
                         "RG-MOUNT-001", "RG-ROFS-001", "RG-ENV-001"}) {
    policy::Finding f;
    f.id = id;
    f.message = "RLIMIT_NOFILE is not set; defaulting to 16384";
    f.pointer = "/x";
    std::string r = remedy(f, p.controls);
    EXPECT_EQ(r.find("change /x"), std::string::npos) << id << ": generic remedy " << r;
    EXPECT_NE(r.find("podman"), std::string::npos) << id << ": " << r;
  }
  for (const auto& c : policy::control_catalog()) {
    policy::Finding f;
    f.id = c.id;
    f.message = "RLIMIT_NOFILE is not set";
    EXPECT_EQ(remedy(f, p.controls).find("change "), std::string::npos) << c.id << " (catalog) has no specific remedy";
  }
}

// hook_check on files: a temporary directory with a bundle and a policy.
class HookCheckFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rg-hookcheck-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    bundle_ = dir_ + "/bundle";
    ASSERT_EQ(::mkdir(bundle_.c_str(), 0755), 0);
    policy_ = dir_ + "/policy.yaml";
    write(policy_, "mode: enforce\n");
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + dir_ + "'";
    (void)std::system(cmd.c_str());
  }
  static void write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
  }
  void write_spec(const Json& spec) { write(bundle_ + "/config.json", spec.dump()); }
  std::string state(const std::string& status = "creating") const {
    return Json{{"ociVersion", "1.0.2"}, {"id", "ctr1"}, {"status", status}, {"pid", 42}, {"bundle", bundle_},
                {"annotations", Json::object()}}
        .dump();
  }
  HookCheckResult check(const std::string& state_json) const { return hook_check(state_json, {policy_, true, "--policy"}); }

  std::string dir_, bundle_, policy_;
};

TEST_F(HookCheckFiles, CompliantExitsZeroSilently) {
  write_spec(compliant_spec());
  HookCheckResult r = check(state());
  EXPECT_EQ(r.exit_code, 0) << r.message;
  EXPECT_EQ(r.message, "");
}

TEST_F(HookCheckFiles, RootIsRefusedWithTheRuntimesPrefix) {
  Json spec = compliant_spec();
  spec["process"]["user"]["uid"] = 0u;
  write_spec(spec);
  HookCheckResult r = check(state());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.message.rfind("runguard: container ctr1 denied by policy " + policy_ + ": process runs as root", 0), 0u)
      << r.message;
  EXPECT_EQ(r.message.find('\n'), std::string::npos) << "one line";
}

TEST_F(HookCheckFiles, SymlinkedMountSourceIsResolved) {
  // The same OS facts as runguard create: a link to /etc is caught by where it points.
  std::string link = dir_ + "/innocent";
  ASSERT_EQ(::symlink("/etc", link.c_str()), 0);
  Json spec = compliant_spec();
  spec["mounts"].push_back({{"destination", "/data"}, {"type", "bind"}, {"source", link}, {"options", {"rbind"}}});
  write_spec(spec);
  HookCheckResult r = check(state());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.message.find(link + " (-> /etc)"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("[RG-MOUNT-001]"), std::string::npos) << r.message;
}

TEST_F(HookCheckFiles, BadInputRefusesClosed) {
  write_spec(compliant_spec());
  struct Case {
    std::string state, needle;
  } cases[] = {
      {"", "hook state on stdin"},
      {"[]", "expected an object"},
      {R"({"id": "c1"})", "no string \"bundle\""},
      {R"({"id": "../x", "bundle": "/b"})", "../x"},
      {R"({"id": "c1", "bundle": "relative"})", "is not absolute"},
      {state("running"), "createRuntime or prestart"},
      {Json{{"id", "c1"}, {"bundle", dir_ + "/nowhere"}, {"status", "creating"}}.dump(), dir_ + "/nowhere/config.json"},
      {Json{{"id", "c1"}, {"bundle", bundle_}}.dump(), "status is missing"},
  };
  for (const auto& c : cases) {
    HookCheckResult r = check(c.state);
    EXPECT_EQ(r.exit_code, 1) << c.state;
    EXPECT_EQ(r.message.rfind("runguard: ", 0), 0u) << r.message;
    EXPECT_NE(r.message.find(c.needle), std::string::npos) << c.state << " -> " << r.message;
  }
}

// crun reports "created" to createRuntime and prestart hooks (runc: "creating"); both stages run
// before the container's process, so the hook must accept both (review finding: it refused every
// container under crun, even with an audit-only policy).
TEST_F(HookCheckFiles, CrunStateIsAccepted) {
  write_spec(compliant_spec());
  Json crun_state = {{"id", "ctr1"}, {"bundle", bundle_}, {"status", "created"}, {"root", "/run/crun"}};
  HookCheckResult r = check(crun_state.dump());
  EXPECT_EQ(r.exit_code, 0) << r.message;
}

TEST_F(HookCheckFiles, InvalidSpecRefusesClosed) {
  Json spec = compliant_spec();
  spec["process"]["user"]["uid"] = "root";
  write_spec(spec);
  HookCheckResult r = check(state());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.message.find("/process/user/uid"), std::string::npos) << r.message;
}

TEST_F(HookCheckFiles, BrokenOrMissingPolicyRefuses) {
  write_spec(compliant_spec());
  write(policy_, "controls:\n  capabilities: {allow: [CAP_SYS_ADMN]}\n");
  HookCheckResult r = check(state());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.message.find("CAP_SYS_ADMIN"), std::string::npos) << r.message;
  r = hook_check(state(), {dir_ + "/missing.yaml", true, "--policy"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.message.find("named by --policy"), std::string::npos) << r.message;
}

TEST_F(HookCheckFiles, InternalErrorFollowsFailurePolicy) {
  // The bundle a regular file: opening its config.json fails with ENOTDIR, an I/O error, not
  // invalid input. (A symlinked config.json is invalid input, refused whatever failurePolicy says.)
  ASSERT_EQ(::rmdir(bundle_.c_str()), 0);
  write(bundle_, "");
  HookCheckResult r = check(state());
  EXPECT_EQ(r.exit_code, 1) << r.message;
  write(policy_, "failurePolicy: open\n");
  r = check(state());
  EXPECT_EQ(r.exit_code, 0) << r.message;
  EXPECT_NE(r.message.find("failurePolicy: open"), std::string::npos) << r.message;
}

// runguard-hook's argv (fuzz_hook feeds it too): each verb's words, errors worded as main prints them.
TEST(HookArgs, VerbsAndErrors) {
  using V = HookInvocation::Verb;
  auto check = parse_hook_args({"check"});
  ASSERT_TRUE(check.is_ok());
  EXPECT_EQ(check->verb, V::kCheck);
  EXPECT_FALSE(check->policy.has_value());
  auto named = parse_hook_args({"check", "--policy", "/etc/p.yaml"});
  ASSERT_TRUE(named.is_ok());
  EXPECT_EQ(named->policy->path, "/etc/p.yaml");
  EXPECT_EQ(parse_hook_args({"check", "--policy=/x.yaml"})->policy->path, "/x.yaml");
  auto post = parse_hook_args({"poststop", "--state-dir", "/run/runguard", "--extra"});
  ASSERT_TRUE(post.is_ok());
  EXPECT_EQ(post->verb, V::kPoststop);
  EXPECT_EQ(post->state_dir, "/run/runguard");
  struct Case {
    std::vector<std::string> args;
    std::string message;
  } bad[] = {
      {{}, "runguard-hook: no command"},
      {{"prestart"}, "runguard-hook: unknown command \"prestart\""},
      {{"check", "--policy"}, "runguard-hook check: unexpected argument \"--policy\""},
      {{"check", "x"}, "runguard-hook check: unexpected argument \"x\""},
      {{"poststop"}, "runguard-hook poststop: --state-dir ABSOLUTE_DIR is required"},
      {{"poststop", "--state-dir"}, "runguard-hook poststop: --state-dir ABSOLUTE_DIR is required"},
      {{"poststop", "--state-dir", "run/x"}, "runguard-hook poststop: --state-dir ABSOLUTE_DIR is required"},
  };
  for (const auto& c : bad) {
    auto r = parse_hook_args(c.args);
    ASSERT_FALSE(r.is_ok()) << join(c.args, " ");
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(r.status().message(), c.message);
  }
}

// The poststop reading of the state: the id is checked (it names a directory below the state
// dir), the bundle is optional, a status is not needed (poststop runs after the process).
TEST(HookState, PoststopNeedsOnlyAValidId) {
  using V = HookInvocation::Verb;
  auto ok = parse_hook_state(R"({"id":"c1","bundle":"/b","status":"stopped"})", V::kPoststop);
  ASSERT_TRUE(ok.is_ok()) << ok.status().message();
  EXPECT_EQ(ok->id, "c1");
  EXPECT_EQ(ok->bundle, "/b");
  auto no_bundle = parse_hook_state(R"({"id":"c1","bundle":7})", V::kPoststop);
  ASSERT_TRUE(no_bundle.is_ok());
  EXPECT_EQ(no_bundle->bundle, "");
  for (const char* bad : {R"({"id":"../../etc"})", R"({"id":7})", R"({})", "[]", "", "{\"id\":\"c1\"}\n{"}) {
    auto r = parse_hook_state(bad, V::kPoststop);
    EXPECT_FALSE(r.is_ok()) << bad;
  }
  // A NUL after the object is not the end of the input (common/json.h): refused, not read as {"id":"c1"}.
  EXPECT_FALSE(parse_hook_state(std::string("{\"id\":\"c1\"}\0{\"id\":\"c2\"}", 23), V::kPoststop).is_ok());
  auto check = parse_hook_state(R"({"id":"c1","bundle":"/b","status":"creating"})", V::kCheck);
  ASSERT_TRUE(check.is_ok());
  EXPECT_EQ(check->status, "creating");
}

}  // namespace
}  // namespace runguard::pipeline
