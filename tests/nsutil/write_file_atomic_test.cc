// write_file_atomic when the write cannot complete (fault injection, issue 9): the destination is
// left byte-identical, the temporary file is removed, and the error names the destination.
// A file size limit (RLIMIT_FSIZE) fails the write the way a full disk does,
// without root or a small filesystem; test_faults.py does the full-tmpfs case for real.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runguard/nsutil/fs.h"

namespace runguard::nsutil {
namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/rgatomic.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> names(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Lowers this process's file size limit for one call (no fork: the test binary may have threads
// running, and a forked child may only call async-signal-safe functions). Nothing else writes a
// file meanwhile; the limit and SIGXFSZ's disposition are restored before anything is reported.
Status write_with_file_size_limit(const std::string& path, const std::string& content, rlim_t limit) {
  struct rlimit saved {};
  ::getrlimit(RLIMIT_FSIZE, &saved);
  struct sigaction ignore {}, old {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGXFSZ, &ignore, &old);  // the write fails with EFBIG instead of killing us
  struct rlimit lowered = saved;
  lowered.rlim_cur = limit;
  ::setrlimit(RLIMIT_FSIZE, &lowered);
  Status s = write_file_atomic(path, content);
  ::setrlimit(RLIMIT_FSIZE, &saved);
  ::sigaction(SIGXFSZ, &old, nullptr);
  return s;
}

TEST(WriteFileAtomic, FailedWriteKeepsTheOriginalAndRemovesTheTemporary) {
  TempDir dir;
  const std::string path = dir.path + "/config.json";
  const std::string original = "{\"original\": true}\n";
  ASSERT_TRUE(write_file_atomic(path, original).is_ok());
  Status s = write_with_file_size_limit(path, std::string(64 * 1024, 'x'), 4096);
  ASSERT_FALSE(s.is_ok()) << "the write should have failed past RLIMIT_FSIZE";
  std::string msg = s.to_string();
  EXPECT_NE(msg.find("write " + path + " (as config.json.runguard-"), std::string::npos) << msg;  // the destination, not only the temporary
  EXPECT_NE(msg.find("File too large"), std::string::npos) << msg;
  EXPECT_EQ(slurp(path), original) << "the destination must be byte-identical";
  EXPECT_EQ(names(dir.path), std::vector<std::string>{"config.json"}) << "the temporary file was left behind";
}

TEST(WriteFileAtomic, ReplacesAndKeepsTheMode) {
  TempDir dir;
  const std::string path = dir.path + "/f";
  ASSERT_TRUE(write_file_atomic(path, "one", 0640).is_ok());
  ASSERT_TRUE(write_file_atomic(path, "two", 0600).is_ok());  // an existing file keeps its mode
  EXPECT_EQ(slurp(path), "two");
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write | std::filesystem::perms::group_read);
  EXPECT_EQ(names(dir.path), std::vector<std::string>{"f"});
}

TEST(WriteFileAtomic, MissingDirectoryIsAnErrorNamingIt) {
  TempDir dir;
  Status s = write_file_atomic(dir.path + "/no-such-dir/f", "x");
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.to_string().find(dir.path + "/no-such-dir"), std::string::npos) << s.to_string();
}

}  // namespace
}  // namespace runguard::nsutil
