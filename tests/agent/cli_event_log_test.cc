// Reading the events file backwards (tail_lines) and following it (EventsFollower): chunk
// boundaries, unfinished last lines, overlong lines, the scan limit, truncation and rotation.

#include "event_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace {

using runguard::Code;
using namespace runguard::cli;

class CliEventLog : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rg-eventlog-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/events.jsonl";
  }
  void TearDown() override { (void)std::system(("rm -rf " + dir_).c_str()); }

  void write(const std::string& content, bool append = false) {
    std::ofstream f(path_, append ? std::ios::app | std::ios::binary : std::ios::trunc | std::ios::binary);
    f << content;
  }
  static std::string lines(int from, int to, size_t pad = 0) {
    std::string out;
    for (int i = from; i <= to; ++i) out += "line " + std::to_string(i) + std::string(pad, '.') + "\n";
    return out;
  }

  std::string dir_, path_;
};

std::vector<std::string> numbered(int from, int to, size_t pad = 0) {
  std::vector<std::string> out;
  for (int i = from; i <= to; ++i) out.push_back("line " + std::to_string(i) + std::string(pad, '.'));
  return out;
}

TEST_F(CliEventLog, TailReturnsTheLastLinesOldestFirst) {
  write(lines(1, 10));
  auto t = tail_lines(path_, 3, nullptr);
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  EXPECT_EQ(t->lines, numbered(8, 10));
  EXPECT_EQ(t->end_offset, static_cast<uint64_t>(lines(1, 10).size()));
  EXPECT_FALSE(t->scan_limit_reached);
  // More asked than there are: all of them.
  EXPECT_EQ(tail_lines(path_, 100, nullptr)->lines, numbered(1, 10));
  EXPECT_TRUE(tail_lines(path_, 0, nullptr)->lines.empty());
}

TEST_F(CliEventLog, TailAcrossChunkBoundaries) {
  // ~200 KB of 100-byte lines: lines straddle the 64 KiB chunks.
  write(lines(1, 2000, 92));
  auto t = tail_lines(path_, 1500, nullptr);
  ASSERT_TRUE(t.is_ok());
  EXPECT_EQ(t->lines, numbered(501, 2000, 92));
  EXPECT_EQ(tail_lines(path_, 5000, nullptr)->lines, numbered(1, 2000, 92));
}

TEST_F(CliEventLog, TailFiltersWithKeep) {
  write(lines(1, 100));
  auto even = [](std::string_view l) { return (l.back() - '0') % 2 == 0; };
  auto t = tail_lines(path_, 3, even);
  EXPECT_EQ(t->lines, (std::vector<std::string>{"line 96", "line 98", "line 100"}));
}

TEST_F(CliEventLog, UnfinishedLastLineIsLeftForTheFollower) {
  write(lines(1, 3) + "{\"half\": ");
  auto t = tail_lines(path_, 10, nullptr);
  EXPECT_EQ(t->lines, numbered(1, 3));
  EXPECT_EQ(t->end_offset, static_cast<uint64_t>(lines(1, 3).size()));
  // No newline at all: nothing complete, following starts at 0.
  write("partial");
  t = tail_lines(path_, 10, nullptr);
  EXPECT_TRUE(t->lines.empty());
  EXPECT_EQ(t->end_offset, 0u);
  // The follower picks the line up once it is finished.
  EventsFollower f(path_, *t);
  EXPECT_TRUE(f.poll()->empty());
  write(" now done\n", true);
  EXPECT_EQ(*f.poll(), (std::vector<std::string>{"partial now done"}));
}

TEST_F(CliEventLog, EmptyLinesAreSkipped) {
  write("\n\nline 1\n\n\nline 2\n\n");
  EXPECT_EQ(tail_lines(path_, 10, nullptr)->lines, numbered(1, 2));
}

TEST_F(CliEventLog, OverlongLinesAreSkipped) {
  std::string big(kMaxEventLineBytes + 10, 'x');
  write("line 1\n" + big + "\nline 2\n" + big + "\n");
  auto lines = tail_lines(path_, 10, nullptr)->lines;
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines, numbered(1, 2));
  // The first line of the file overlong too.
  write(big + "\nline 1\n");
  EXPECT_EQ(tail_lines(path_, 10, nullptr)->lines, numbered(1, 1));
  // Exactly at the limit, a line is kept (compared by size: a failure must not print a megabyte).
  std::string edge(kMaxEventLineBytes, 'y');
  write("line 1\n" + edge + "\n");
  auto t = tail_lines(path_, 10, nullptr);
  ASSERT_EQ(t->lines.size(), 2u);
  EXPECT_EQ(t->lines[1].size(), kMaxEventLineBytes);
}

TEST_F(CliEventLog, FollowerSkipsOverlongLines) {
  write("");
  EventsFollower f(path_, *tail_lines(path_, 1, nullptr));
  write("line 1\n" + std::string(kMaxEventLineBytes + 10, 'x') + "\nline 2\n", true);
  auto got = f.poll();
  ASSERT_TRUE(got.is_ok());
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ(*got, numbered(1, 2));
  // An overlong line arriving in pieces across polls.
  write(std::string(kMaxEventLineBytes - 5, 'z'), true);
  EXPECT_TRUE(f.poll()->empty());
  write(std::string(100, 'z') + "\nline 3\n", true);
  got = f.poll();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0], "line 3");
}

TEST_F(CliEventLog, ScanLimitBoundsTheWork) {
  write(lines(1, 1000, 92));  // 100 KB
  auto t = tail_lines(path_, 1000, nullptr, 10000);
  ASSERT_TRUE(t.is_ok());
  EXPECT_TRUE(t->scan_limit_reached);
  EXPECT_LE(t->lines.size(), 100u);
  EXPECT_EQ(t->lines.back(), numbered(1000, 1000, 92)[0]);
}

TEST_F(CliEventLog, MissingAndNonRegularFiles) {
  auto t = tail_lines(dir_ + "/nope.jsonl", 10, nullptr);
  ASSERT_FALSE(t.is_ok());
  EXPECT_EQ(t.status().code(), Code::kNotFound);
  auto d = tail_lines(dir_, 10, nullptr);
  ASSERT_FALSE(d.is_ok());
  EXPECT_NE(d.status().message().find("not a regular file"), std::string::npos);
  std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto f = tail_lines(fifo, 10, nullptr);  // must not block opening it
  ASSERT_FALSE(f.is_ok());
}

TEST_F(CliEventLog, FollowerSeesAppendsInOrderAcrossPartialWrites) {
  write(lines(1, 2));
  auto t = tail_lines(path_, 1, nullptr);
  EventsFollower f(path_, *t);
  EXPECT_TRUE(f.poll()->empty());
  write("line 3\nli", true);
  EXPECT_EQ(*f.poll(), numbered(3, 3));
  write("ne 4\n", true);
  EXPECT_EQ(*f.poll(), numbered(4, 4));
  write(lines(5, 2000, 50), true);
  EXPECT_EQ(*f.poll(), numbered(5, 2000, 50));
}

TEST_F(CliEventLog, FollowerRestartsAfterTruncation) {
  write(lines(1, 5));
  EventsFollower f(path_, *tail_lines(path_, 1, nullptr));
  write(lines(6, 6));  // truncated, then one shorter line
  EXPECT_EQ(*f.poll(), numbered(6, 6));
  write(lines(7, 7), true);
  EXPECT_EQ(*f.poll(), numbered(7, 7));
}

TEST_F(CliEventLog, FollowerFinishesTheOldFileThenReadsTheNewOne) {
  write(lines(1, 2));
  EventsFollower f(path_, *tail_lines(path_, 1, nullptr));
  write(lines(3, 3), true);
  ASSERT_EQ(::rename(path_.c_str(), (path_ + ".1").c_str()), 0);
  // Rotated, new file not there yet: the rest of the old one, then waiting.
  EXPECT_EQ(*f.poll(), numbered(3, 3));
  write(lines(4, 4), true);  // creates the new file
  EXPECT_EQ(*f.poll(), numbered(4, 4));
  // Rotated again with lines in both the old and the new file between two polls.
  std::ofstream(path_, std::ios::app) << "line 5\n";
  ASSERT_EQ(::rename(path_.c_str(), (path_ + ".2").c_str()), 0);
  write(lines(6, 6));
  EXPECT_EQ(*f.poll(), numbered(5, 6));
}

TEST_F(CliEventLog, FollowerWaitsForAFileThatDoesNotExistYet) {
  EventsFollower f(path_, Tail{});
  EXPECT_TRUE(f.poll()->empty());
  write(lines(1, 2));
  EXPECT_EQ(*f.poll(), numbered(1, 2));
}

}  // namespace
