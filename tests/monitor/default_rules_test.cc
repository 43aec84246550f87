// profiles/rules/default.yaml: loads strictly (no skips), every rule alerts by default, each fires
// on its hand-built event, and none fires on ordinary container activity (a `sh -c` entrypoint
// without a terminal, its children, a plain binary from the image).
#include <gtest/gtest.h>

#include <algorithm>

#include "monitor_test_util.h"

namespace {

using namespace rgmon;  // NOLINT(google-build-using-namespace)

const Ruleset& defaults() {
  static const Ruleset rs = [] {
    std::string path = std::string(RUNGUARD_SOURCE_DIR) + "/profiles/rules/default.yaml";
    auto r = load_rules({RuleFile{path, read_file(path)}}, LoadOptions{true});
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    return r.is_ok() ? std::move(r).value() : Ruleset{};
  }();
  return rs;
}

std::vector<std::string> fired(const Event& ev) {
  std::vector<std::string> names;
  for (const auto& m : evaluate(defaults(), ev)) names.push_back(m.rule_name);
  return names;
}

// The container's entrypoint `sh -c 'script'`, exec'd by runc init (parent: runc), no terminal.
Event entrypoint_exec() {
  Event ev = exec_event("sh", {"-c", "exec nginx -g 'daemon off;'"}, "runc");
  ev.proc.is_entrypoint = true;
  return ev;
}

Event syscall(const std::string& type, std::vector<EventArg> args) {
  Event ev = exec_event("app", {}, "sh");
  ev.type = type;
  ev.args = std::move(args);
  return ev;
}

TEST(MonitorDefaultRules, LoadStrictlyAndAlertByDefault) {
  const Ruleset& rs = defaults();
  EXPECT_EQ(rs.rules.size(), 11u);
  EXPECT_TRUE(rs.skipped.empty());
  EXPECT_TRUE(rs.warnings.empty());
  for (const auto& r : rs.rules) {
    EXPECT_EQ(r.action, RuleAction::kAlert) << r.name;
    EXPECT_FALSE(r.unrestricted) << r.name;
  }
}

TEST(MonitorDefaultRules, QuietOnOrdinaryContainers) {
  EXPECT_TRUE(fired(entrypoint_exec()).empty());
  Event tty_entry = entrypoint_exec();  // `docker run -it image sh`: the workload itself
  tty_entry.proc.tty = 34816;
  tty_entry.proc.args = {};
  EXPECT_TRUE(fired(tty_entry).empty());
  EXPECT_TRUE(fired(exec_event("sh", {"-c", "grep -i x /etc/hosts"}, "sh")).empty());  // a script's subshell
  EXPECT_TRUE(fired(exec_event("sh", {"/docker-entrypoint.sh"}, "sh")).empty());
  EXPECT_TRUE(fired(exec_event("nginx", {"-g", "daemon off;"}, "sh")).empty());
  Event from_image = exec_event("python3", {"app.py"}, "sh");
  from_image.proc.exe_upper_layer = false;
  from_image.proc.exe_from_memfd = false;
  EXPECT_TRUE(fired(from_image).empty());
  Event runc_memfd = exec_event("runc", {"init"}, "runc");
  runc_memfd.proc.exepath = "memfd:runc_cloned:/proc/self/exe";
  runc_memfd.proc.exe_from_memfd = true;
  EXPECT_TRUE(fired(runc_memfd).empty());
  Event on_host = syscall("mount", {{"dev", "tmpfs"}});
  on_host.container.id = "host";
  EXPECT_TRUE(fired(on_host).empty());
}

TEST(MonitorDefaultRules, ShellRules) {
  Event exec_tty = exec_event("bash", {}, "runc");  // kubectl exec -it pod -- bash
  exec_tty.proc.tty = 34816;
  EXPECT_EQ(fired(exec_tty), std::vector<std::string>{"Terminal shell in container"});
  Event nested_tty = exec_event("bash", {}, "python3");  // a shell the app started on a tty: not an exec point
  nested_tty.proc.tty = 34816;
  EXPECT_TRUE(fired(nested_tty).empty());
  // sh -c 'sh -i </dev/null': the interactive child, no terminal (issue 5's integration case).
  EXPECT_EQ(fired(exec_event("sh", {"-i"}, "sh")), std::vector<std::string>{"Interactive shell in container"});
  // busybox sh may exec the last command in place: same pid as the entrypoint, but not runc's exec.
  Event in_place = exec_event("sh", {"-i"}, "containerd-shim");
  EXPECT_EQ(fired(in_place), (std::vector<std::string>{"Interactive shell in container"}));
}

TEST(MonitorDefaultRules, ExecRules) {
  EXPECT_EQ(fired(exec_event("apt-get", {"install", "-y", "nmap"}, "bash")),
            std::vector<std::string>{"Package management process in container"});
  EXPECT_EQ(fired(exec_event("pip3", {"install", "x"}, "bash")), std::vector<std::string>{"Package management process in container"});
  Event dropped = exec_event("xmrig", {}, "sh");
  dropped.proc.exe_upper_layer = true;
  EXPECT_EQ(fired(dropped), std::vector<std::string>{"Drop and execute new binary in container"});
  Event memfd = exec_event("3", {}, "python3");
  memfd.type = "execveat";
  memfd.proc.exepath = "memfd:payload (deleted)";
  memfd.proc.exe_from_memfd = true;
  EXPECT_EQ(fired(memfd), std::vector<std::string>{"Fileless execution via memfd_create"});
}

TEST(MonitorDefaultRules, SyscallRules) {
  auto one = [](const Event& ev) {
    auto f = fired(ev);
    return f.size() == 1 ? f[0] : std::string("<") + std::to_string(f.size()) + " matches>";
  };
  EXPECT_EQ(one(syscall("ptrace", {{"request", "PTRACE_ATTACH", 16}, {"pid", "1", 1}})), "PTRACE attached to process in container");
  EXPECT_EQ(one(syscall("ptrace", {{"request", "PTRACE_TRACEME", 0}})), "PTRACE anti-debug attempt in container");
  EXPECT_TRUE(fired(syscall("ptrace", {{"request", "PTRACE_PEEKDATA", 2}})).empty());
  Event gdb = syscall("ptrace", {{"request", "PTRACE_ATTACH", 16}});
  gdb.proc.name = "gdb";
  EXPECT_TRUE(fired(gdb).empty());
  EXPECT_EQ(one(syscall("finit_module", {{"fd", "3", 3}})), "Kernel module loaded in container");
  EXPECT_EQ(one(syscall("init_module", {})), "Kernel module loaded in container");
  EXPECT_EQ(one(syscall("mount", {{"dev", "/dev/sda1"}, {"dir", "/mnt"}, {"type", "ext4"}})), "Mount in container");
  EXPECT_EQ(one(syscall("umount2", {{"name", "/proc"}})), "Mount in container");
  EXPECT_EQ(one(syscall("setns", {{"fd", "3", 3}, {"nstype", "CLONE_NEWNS", 0x20000}})), "Namespace change in container");
  EXPECT_EQ(one(syscall("unshare", {{"flags", "CLONE_NEWUSER|CLONE_NEWNS"}})), "Namespace change in container");
  EXPECT_EQ(one(syscall("bpf", {{"cmd", "BPF_PROG_LOAD", 5}})), "BPF program load in container");
  EXPECT_TRUE(fired(syscall("bpf", {{"cmd", "BPF_MAP_LOOKUP_ELEM", 1}})).empty());
}

TEST(MonitorDefaultRules, BlockIsOneOverrideAway) {
  std::string path = std::string(RUNGUARD_SOURCE_DIR) + "/profiles/rules/default.yaml";
  auto rs = load_rules({RuleFile{path, read_file(path)},
                        RuleFile{"local.yaml", "- rule: Kernel module loaded in container\n  runguard.action: block\n"
                                               "  override: {runguard.action: replace}\n"}});
  ASSERT_TRUE(rs.is_ok()) << rs.status().message();
  auto m = evaluate(*rs, syscall("finit_module", {{"fd", "3", 3}}));
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].action, RuleAction::kBlock);
  EXPECT_NE(m[0].output.find("Kernel module syscall finit_module from a container"), std::string::npos) << m[0].output;
}

}  // namespace
