#include "runguard/nsutil/proc_info.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace runguard::nsutil {
namespace {

TEST(ProcInfo, ParseStatus) {
  auto st = parse_proc_status(
      "Name:\tbash (x)\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t42\nPid:\t43\nPPid:\t1\n"
      "Uid:\t1000\t1001\t1002\t1003\nGid:\t100\t101\t102\t103\nGroups:\t\n");
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->name, "bash (x)");
  EXPECT_EQ(st->pid, 43);
  EXPECT_EQ(st->ppid, 1);
  EXPECT_EQ(st->uid, 1000u);
  EXPECT_EQ(st->euid, 1001u);
  EXPECT_EQ(st->gid, 100u);
  EXPECT_EQ(st->egid, 101u);

  EXPECT_FALSE(parse_proc_status("Name:\tx\nPid:\t1\nPPid:\t0\nUid:\t0\t0\t0\t0\n").has_value());  // no Gid
  EXPECT_FALSE(parse_proc_status("Name:\tx\nPid:\tz\nPPid:\t0\nUid:\t0\t0\nGid:\t0\t0\n").has_value());
  EXPECT_FALSE(parse_proc_status("").has_value());
}

TEST(ProcInfo, OwnProcess) {
  auto st = read_proc_status(::getpid());
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->pid, ::getpid());
  EXPECT_EQ(st->ppid, ::getppid());
  EXPECT_EQ(st->uid, ::getuid());
  EXPECT_EQ(read_proc_exe(::getpid()), std::filesystem::read_symlink("/proc/self/exe").string());
  EXPECT_EQ(read_proc_cwd(::getpid()), std::filesystem::current_path().string());
  auto cmd = read_proc_cmdline(::getpid());
  ASSERT_TRUE(cmd.has_value());
  ASSERT_FALSE(cmd->empty());
  EXPECT_NE((*cmd)[0].find("nsutil_unit_tests"), std::string::npos);
  auto cut = read_proc_cmdline(::getpid(), 3);
  ASSERT_TRUE(cut.has_value());
  EXPECT_EQ(cut->at(0).size(), 3u);
}

TEST(ProcInfo, VanishedProcessIsNotAvailable) {
  pid_t none = 0x3ffffe;  // above the default pid_max
  EXPECT_FALSE(read_proc_status(none).has_value());
  EXPECT_FALSE(read_proc_exe(none).has_value());
  EXPECT_FALSE(read_proc_cwd(none).has_value());
  EXPECT_FALSE(read_proc_cmdline(none).has_value());
}

TEST(ProcInfo, ParseStatStartTime) {
  // A comm with spaces and parentheses; the start time is field 22.
  std::string stat = "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654321 4096 100 "
                     "18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  EXPECT_EQ(parse_proc_stat_start_time(stat), 987654321u);
  std::string zombie = stat;
  zombie[zombie.find(") S ") + 2] = 'Z';  // exited, not reaped: not alive
  EXPECT_FALSE(parse_proc_stat_start_time(zombie).has_value());
  EXPECT_FALSE(parse_proc_stat_start_time("4242 (a) S 1 2 3").has_value());  // cut short
  EXPECT_FALSE(parse_proc_stat_start_time("no parenthesis at all").has_value());
  EXPECT_FALSE(parse_proc_stat_start_time("1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 notanumber 1").has_value());
}

TEST(ProcInfo, StartTimeOfOwnAndVanishedProcess) {
  auto mine = read_proc_start_time(::getpid());
  ASSERT_TRUE(mine.has_value());
  EXPECT_EQ(read_proc_start_time(::getpid()), mine);  // stable
  EXPECT_FALSE(read_proc_start_time(0x3ffffe).has_value());
  EXPECT_FALSE(read_proc_start_time(0).has_value());
}

TEST(ProcInfo, FakeProcRoot) {
  auto root = std::filesystem::temp_directory_path() / ("rg-proc-" + std::to_string(::getpid()));
  std::filesystem::create_directories(root / "7");
  std::ofstream(root / "7" / "cmdline") << std::string("sleep\0" "10\0", 9);
  std::ofstream(root / "7" / "status") << "Name:\tsleep\nPid:\t7\nPPid:\t1\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n";
  auto cmd = read_proc_cmdline(7, kMaxCmdlineBytes, root.string());
  ASSERT_TRUE(cmd.has_value());
  EXPECT_EQ(*cmd, (std::vector<std::string>{"sleep", "10"}));
  EXPECT_EQ(read_proc_status(7, root.string())->name, "sleep");
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace runguard::nsutil
