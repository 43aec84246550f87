// The helpers exec and update use to read values the way runc does: the first JSON value of a
// document, Go's integer and boolean flag syntax, go-units sizes and -u/-g ids.

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "../../pipeline/src/support.h"

namespace runguard::pipeline::internal {
namespace {

// Writes `text` into a pipe whose write end stays open (a writer holding stdin or a FIFO), then
// reads the first JSON value from it: the read must return without waiting for EOF.
Result<std::string> read_from_open_pipe(const std::string& text, size_t max = 16u << 20) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  EXPECT_EQ(::write(fds[1], text.data(), text.size()), static_cast<ssize_t>(text.size()));
  auto out = read_json_value(fds[0], "test", max);
  ::close(fds[0]);
  ::close(fds[1]);
  return out;
}

TEST(ReadJsonValue, StopsAfterFirstValueWithoutEof) {
  auto r = read_from_open_pipe("  {\"a\": {\"b\": [1, {}]}}\n{\"second\": 1}");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(*r, "  {\"a\": {\"b\": [1, {}]}}");
}

TEST(ReadJsonValue, BracesInsideStringsAndEscapes) {
  auto r = read_from_open_pipe(R"({"x": "}{\"}]", "y": "\\"}tail)");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(*r, R"({"x": "}{\"}]", "y": "\\"})");
}

TEST(ReadJsonValue, ScanResumesAcrossChunks) {
  JsonValueScan scan;
  std::string buf = "{\"a\": \"}";
  EXPECT_FALSE(scan.done(buf));
  buf += "\\\"\"";
  EXPECT_FALSE(scan.done(buf));
  buf += "} trailing";
  EXPECT_TRUE(scan.done(buf));
  EXPECT_EQ(buf.substr(0, scan.pos), "{\"a\": \"}\\\"\"}");
}

TEST(ReadJsonValue, NotAnObjectRefused) {
  auto r = read_from_open_pipe("null");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().to_string().find("test: expected a JSON object"), std::string::npos);
}

TEST(ReadJsonValue, SizeCap) {
  auto r = read_from_open_pipe("{\"a\": \"" + std::string(100, 'x'), 64);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().to_string().find("larger than 64 bytes"), std::string::npos);
}

TEST(ReadJsonValue, IncompleteAtEofReturnedForTheParser) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_EQ(::write(fds[1], "{\"a\": 1", 7), 7);
  ::close(fds[1]);
  auto r = read_json_value(fds[0], "test");
  ::close(fds[0]);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(*r, "{\"a\": 1");
}

TEST(ParseId, DecimalWithinUint32MinusOne) {
  EXPECT_EQ(parse_id("0"), 0u);
  EXPECT_EQ(parse_id("0065532"), 65532u);
  EXPECT_EQ(parse_id("4294967294"), 4294967294u);
  // What runc's uint32(...) would wrap, or Atoi would read differently: refused.
  for (const char* bad : {"4294967295", "4294967296", "18446744073709551616", "-1", "+1", "", " 1", "0x10", "1e3"}) {
    EXPECT_EQ(parse_id(bad), std::nullopt) << bad;
  }
}

TEST(ParseGoInt, Base0Syntax) {
  EXPECT_EQ(parse_go_int("100"), 100);
  EXPECT_EQ(parse_go_int("-1"), -1);
  EXPECT_EQ(parse_go_int("+7"), 7);
  EXPECT_EQ(parse_go_int("0x100"), 256);
  EXPECT_EQ(parse_go_int("0X1f"), 31);
  EXPECT_EQ(parse_go_int("0100"), 64);
  EXPECT_EQ(parse_go_int("0o17"), 15);
  EXPECT_EQ(parse_go_int("0b101"), 5);
  EXPECT_EQ(parse_go_int("0"), 0);
  EXPECT_EQ(parse_go_int("1_000"), 1000);
  EXPECT_EQ(parse_go_int("0x_ff"), 255);
  EXPECT_EQ(parse_go_int("0_7"), 7);
  EXPECT_EQ(parse_go_int("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(parse_go_int("-9223372036854775808"), INT64_MIN);
  for (const char* bad : {"", "-", "100abc", "08", "0x", "0b", "1__0", "_1", "1_", "0x_", "9223372036854775808",
                          "-9223372036854775809", "99999999999999999999", " 1", "1 ", "--1", "0xg"}) {
    EXPECT_EQ(parse_go_int(bad), std::nullopt) << bad;
  }
}

TEST(ParseGoBool, StrconvParseBool) {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"}) EXPECT_EQ(parse_go_bool(t), true) << t;
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"}) EXPECT_EQ(parse_go_bool(f), false) << f;
  for (const char* bad : {"", "yes", "no", "fAlse", "2"}) EXPECT_EQ(parse_go_bool(bad), std::nullopt) << bad;
}

TEST(RamInBytes, GoUnits) {
  EXPECT_EQ(*ram_in_bytes("-1"), -1);
  EXPECT_EQ(*ram_in_bytes("512"), 512);
  EXPECT_EQ(*ram_in_bytes("512m"), 512LL << 20);
  EXPECT_EQ(*ram_in_bytes("1g"), 1LL << 30);
  EXPECT_EQ(*ram_in_bytes("1.5GiB"), 3LL << 29);
  EXPECT_EQ(*ram_in_bytes("2 kb"), 2048);
  EXPECT_EQ(*ram_in_bytes("100B"), 100);
  EXPECT_EQ(*ram_in_bytes("8191p"), 8191LL << 50);
  for (const char* bad : {"", "m", "-2", "1.2.3m", "1.", ".5", "1x", "1 mb extra", "1e3"}) {
    EXPECT_FALSE(ram_in_bytes(bad).is_ok()) << bad;
  }
}

TEST(RamInBytes, BeyondInt64Refused) {
  for (const char* big : {"8192p", "99999999999p", "9223372036854775808", "99999999999999999999999999999"}) {
    auto r = ram_in_bytes(big);
    ASSERT_FALSE(r.is_ok()) << big;
    EXPECT_NE(r.status().to_string().find("larger than 9223372036854775807 bytes"), std::string::npos) << big;
  }
}

}  // namespace
}  // namespace runguard::pipeline::internal
