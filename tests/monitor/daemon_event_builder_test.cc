// Notification -> monitor::Event, against a fake /proc tree and fake target memory.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <map>

#include "daemon_test_util.h"
#include "event_builder.h"
#include "runguard/monitor/eval.h"

namespace runguard::monitord {
std::string_view embedded_default_rules();
namespace {

class FakeMemory : public TargetReader {
 public:
  std::map<uint64_t, std::string> strings;
  std::map<uint64_t, std::vector<std::string>> argvs;
  bool gone = false;
  Result<std::string> read_string(uint64_t addr, size_t) override {
    if (gone) return Status(Code::kNotFound, "notification no longer valid", ENOENT);
    auto it = strings.find(addr);
    if (it == strings.end()) return io_error("process_vm_readv", EFAULT);
    return it->second;
  }
  Result<std::vector<std::string>> read_argv(uint64_t addr) override {
    if (gone) return Status(Code::kNotFound, "notification no longer valid", ENOENT);
    return argvs[addr];
  }
};

// /proc with: 10 (containerd-shim, host pid ns) -> 50 (tini, container) -> 100 (bash, container).
class FakeProc : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir.path + "/ns");
    rgmond::write_text(dir / "ns/container", "");
    rgmond::write_text(dir / "ns/host", "");
    add(10, 1, "containerd-shim", {"containerd-shim", "-id", "x"}, "host");
    add(50, 10, "tini", {"tini", "--", "app"}, "container");
    add(100, 50, "bash", {"bash", "-l"}, "container");
    std::filesystem::create_directories(dir.path + "/100/root/etc");
    rgmond::write_text(dir / "100/root/etc/passwd", "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n");
  }
  void add(pid_t pid, pid_t ppid, const std::string& comm, const std::vector<std::string>& argv, const std::string& ns) {
    std::string d = dir / std::to_string(pid);
    std::filesystem::create_directories(d + "/ns");
    std::filesystem::create_directories(d + "/fd");
    rgmond::write_text(d + "/status", "Name:\t" + comm + "\nPid:\t" + std::to_string(pid) + "\nPPid:\t" +
                                          std::to_string(ppid) + "\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nNSpid:\t" +
                                          std::to_string(pid) + "\t" + std::to_string(pid / 10) + "\n");
    rgmond::write_text(d + "/stat", std::to_string(pid) + " (" + comm + ") S " + std::to_string(ppid) +
                                        " 1 77 34817 0 0 0 0 0 0 0 0 0 0 20 0 1 0 " + std::to_string(1000 + pid) + " 0 0\n");
    std::string cmd;
    for (const auto& a : argv) cmd += a + std::string(1, '\0');
    rgmond::write_text(d + "/cmdline", cmd);
    rgmond::write_text(d + "/loginuid", "4294967295");
    std::filesystem::create_symlink("/usr/bin/" + comm, d + "/exe");
    std::filesystem::create_symlink("/work", d + "/cwd");
    std::filesystem::create_symlink("/memfd:payload (deleted)", d + "/fd/3");
    std::filesystem::create_hard_link(dir / ("ns/" + ns), d + "/ns/pid");
  }
  nsutil::Notification notif(int nr, std::array<uint64_t, 6> args, uint32_t pid = 100) {
    nsutil::Notification n;
    n.id = 1;
    n.pid = pid;
    n.nr = nr;
    n.arch = rgmond::kArch;
    n.args = args;
    return n;
  }
  EventBuilder builder() {
    EventBuilder b(ContainerIdentity{"0123456789abcdef", "web", "docker.io/library/nginx:1.27", "shop", "web-0", "/b", ""},
                   dir.path);
    b.set_init(50);
    return b;
  }
  rgmond::TempDir dir;
  FakeMemory mem;
};

TEST_F(FakeProc, MonitorDaemonExecveFollowsFalcoSemantics) {
  mem.strings[0x1000] = "/bin/sh";
  mem.argvs[0x2000] = {"sh", "-i"};
  auto b = builder();
  auto ev = b.build(notif(SYS_execve, {0x1000, 0x2000}), mem);
  ASSERT_TRUE(ev.is_ok()) << ev.status().to_string();
  EXPECT_EQ(ev->type, "execve");
  EXPECT_EQ(ev->proc.name, "sh");
  EXPECT_EQ(ev->proc.exe, "sh");
  EXPECT_EQ(ev->proc.exepath, "/bin/sh");
  EXPECT_EQ(ev->proc.args, std::vector<std::string>{"-i"});
  EXPECT_EQ(ev->proc.cwd, "/work");
  EXPECT_EQ(ev->proc.pid, 100);
  EXPECT_EQ(ev->proc.vpid, 10);
  EXPECT_EQ(ev->proc.tty, 34817);
  EXPECT_EQ(ev->proc.sid, 77);
  EXPECT_EQ(ev->proc.uid, 1000);
  EXPECT_EQ(ev->proc.user_name, "app");
  EXPECT_EQ(ev->proc.loginuid, -1);
  EXPECT_FALSE(ev->proc.is_entrypoint);
  EXPECT_EQ(ev->proc.exe_from_memfd, false);
  // ancestors[0] is the caller's parent; the shim outside the container's pid ns is not included.
  ASSERT_EQ(ev->ancestors.size(), 1u);
  EXPECT_EQ(ev->ancestors[0].name, "tini");
  EXPECT_EQ(ev->ancestors[0].cmdline, "tini -- app");
  EXPECT_EQ(ev->ancestors[0].exepath, "/usr/bin/tini");
  ASSERT_NE(ev->arg("filename"), nullptr);
  EXPECT_EQ(ev->arg("filename")->text, "/bin/sh");
  EXPECT_EQ(ev->container.id, "0123456789ab");
  EXPECT_EQ(ev->container.image_repository, "docker.io/library/nginx");
  EXPECT_EQ(ev->container.image_tag, "1.27");
  EXPECT_EQ(ev->container.k8s_pod, "web-0");
  EXPECT_EQ(ev->num, 1);
}

TEST_F(FakeProc, MonitorDaemonExecvePathsResolve) {
  mem.strings[0x1000] = "./scripts/../run.sh";
  mem.strings[0x1100] = "/proc/self/fd/3";
  mem.argvs[0x2000] = {"run.sh"};
  auto b = builder();
  auto rel = b.build(notif(SYS_execve, {0x1000, 0x2000}), mem);
  ASSERT_TRUE(rel.is_ok());
  EXPECT_EQ(rel->proc.exepath, "/work/run.sh");
  EXPECT_EQ(rel->proc.name, "run.sh");
  auto memfd = b.build(notif(SYS_execve, {0x1100, 0x2000}), mem);
  ASSERT_TRUE(memfd.is_ok());
  EXPECT_EQ(memfd->proc.exe_from_memfd, true);
  EXPECT_EQ(memfd->proc.exe, "run.sh");
}

TEST_F(FakeProc, MonitorDaemonEntrypointIsTheInitsFirstExecve) {
  mem.strings[0x1000] = "/app/start.sh";
  mem.argvs[0x2000] = {"/app/start.sh"};
  auto b = builder();
  b.set_init(100);
  auto first = b.build(notif(SYS_execve, {0x1000, 0x2000}), mem);
  auto second = b.build(notif(SYS_execve, {0x1000, 0x2000}), mem);
  ASSERT_TRUE(first.is_ok() && second.is_ok());
  EXPECT_TRUE(first->proc.is_entrypoint);
  EXPECT_FALSE(second->proc.is_entrypoint);
  EXPECT_EQ(first->proc.name, "start.sh");
}

TEST_F(FakeProc, MonitorDaemonOtherSyscallsDescribeTheCaller) {
  auto b = builder();
  auto ev = b.build(notif(SYS_unshare, {0x00020000 | 0x10000000}), mem);
  ASSERT_TRUE(ev.is_ok());
  EXPECT_EQ(ev->type, "unshare");
  EXPECT_EQ(ev->proc.name, "bash");
  EXPECT_EQ(ev->proc.exe, "bash");
  EXPECT_EQ(ev->proc.exepath, "/usr/bin/bash");
  EXPECT_EQ(ev->proc.args, std::vector<std::string>{"-l"});
  ASSERT_NE(ev->arg("flags"), nullptr);
  EXPECT_EQ(ev->arg("flags")->text, "CLONE_NEWNS|CLONE_NEWUSER");
  EXPECT_EQ(ev->arg("flags")->num, 0x10020000);

  auto pt = b.build(notif(SYS_ptrace, {16, 1234}), mem);
  ASSERT_TRUE(pt.is_ok());
  EXPECT_EQ(pt->arg("request")->text, "PTRACE_ATTACH");
  EXPECT_EQ(pt->arg("pid")->num, 1234);

  mem.strings[1] = "proc";
  mem.strings[2] = "/mnt";
  mem.strings[3] = "proc";
  auto mnt = b.build(notif(SYS_mount, {1, 2, 3, MS_BIND | MS_REC, 0}), mem);
  ASSERT_TRUE(mnt.is_ok());
  EXPECT_EQ(mnt->arg("dir")->text, "/mnt");
  EXPECT_EQ(mnt->arg("type")->text, "proc");
  EXPECT_EQ(mnt->arg("flags")->text, "BIND|REC");

  auto bpf = b.build(notif(SYS_bpf, {5}), mem);
  ASSERT_TRUE(bpf.is_ok());
  EXPECT_EQ(bpf->arg("cmd")->text, "BPF_PROG_LOAD");

  auto setns = b.build(notif(SYS_setns, {3, 0x40000000}), mem);
  ASSERT_TRUE(setns.is_ok());
  EXPECT_EQ(setns->arg("nstype")->text, "CLONE_NEWNET");
  EXPECT_EQ(setns->fd_name, "/memfd:payload (deleted)");

  auto bad = b.build(notif(SYS_umount2, {0x9999, 2}), mem);  // unreadable pointer: <NA>, not an error
  ASSERT_TRUE(bad.is_ok());
  EXPECT_EQ(bad->arg("name")->text, "<NA>");
  EXPECT_EQ(bad->arg("flags")->text, "DETACH");
}

TEST_F(FakeProc, MonitorDaemonGoneTargetsAreReportedAsGone) {
  auto b = builder();
  auto missing = b.build(notif(SYS_unshare, {0}, 4242), mem);
  ASSERT_FALSE(missing.is_ok());
  EXPECT_TRUE(nsutil::is_gone(missing.status()));
  auto unmapped = b.build(notif(SYS_unshare, {0}, 0), mem);
  EXPECT_TRUE(!unmapped.is_ok() && nsutil::is_gone(unmapped.status()));
  mem.gone = true;
  auto exec = b.build(notif(SYS_execve, {0x1000, 0x2000}), mem);
  EXPECT_TRUE(!exec.is_ok() && nsutil::is_gone(exec.status()));
}

TEST(MonitorDaemonSyscalls, NamesAndFlags) {
  EXPECT_EQ(syscall_name(rgmond::kArch, SYS_execve), "execve");
  EXPECT_EQ(syscall_name(rgmond::kArch, SYS_unshare), "unshare");
  EXPECT_EQ(syscall_name(rgmond::kArch, 99999), "syscall_99999");
  EXPECT_EQ(clone_flags(0), "0");
  EXPECT_EQ(clone_flags(0x04000000 | 0x1), "CLONE_NEWUTS|0x1");
  EXPECT_EQ(ptrace_request_name(0), "PTRACE_TRACEME");
  EXPECT_EQ(ptrace_request_name(777), "777");
  EXPECT_EQ(bpf_cmd_name(0), "BPF_MAP_CREATE");
  EXPECT_EQ(container_info({"abc", "", "ghcr.io/org/app@sha256:00", "", "", "", ""}).image_repository, "ghcr.io/org/app");
  EXPECT_EQ(container_info({"abc", "", "localhost:5000/app", "", "", "", ""}).image_repository, "localhost:5000/app");
  EXPECT_EQ(container_info({"abc", "", "localhost:5000/app", "", "", "", ""}).image_tag, "");
}

TEST(MonitorDaemonRules, EmbeddedDefaultsLoadAndSkipTheEntrypoint) {
  auto rules = monitor::load_rules({{"default.yaml", std::string(embedded_default_rules())}});
  ASSERT_TRUE(rules.is_ok()) << rules.status().to_string();
  EXPECT_GT(rules->rules.size(), 5u);
  monitor::Event ev;
  ev.type = "execve";
  ev.proc.name = "sh";
  ev.proc.exe = "/bin/sh";
  ev.proc.exepath = "/bin/sh";
  ev.proc.args = {"/entrypoint.sh"};
  ev.proc.is_entrypoint = true;
  ev.container.id = "0123456789ab";
  EXPECT_TRUE(monitor::evaluate(*rules, ev).empty());
}

}  // namespace
}  // namespace runguard::monitord
