// common/strings.h: byte sizes, paths, globs and did-you-mean matching.

#include "runguard/common/strings.h"

#include <gtest/gtest.h>

#include <climits>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace runguard {
namespace {

struct SizeCase {
  const char* text;
  int64_t bytes;  // -1: parse error
  const char* error = "";
};
void PrintTo(const SizeCase& c, std::ostream* os) { *os << '"' << c.text << '"'; }

class ParseByteSizeTest : public ::testing::TestWithParam<SizeCase> {};

TEST_P(ParseByteSizeTest, Parses) {
  const SizeCase& c = GetParam();
  auto r = parse_byte_size(c.text);
  if (c.bytes < 0) {
    ASSERT_FALSE(r.is_ok()) << c.text << " -> " << (r.is_ok() ? *r : 0);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.error), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(std::string("\"") + c.text + "\""), std::string::npos) << r.status().message();
    return;
  }
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(*r, c.bytes);
}

INSTANTIATE_TEST_SUITE_P(
    Strings, ParseByteSizeTest,
    ::testing::Values(SizeCase{"0", 0}, SizeCase{"1", 1}, SizeCase{"512Mi", 512LL << 20}, SizeCase{"8Gi", 8LL << 30},
                      SizeCase{"1Ki", 1024}, SizeCase{"2Ti", 2LL << 40}, SizeCase{"1k", 1000}, SizeCase{"1K", 1000},
                      SizeCase{"3M", 3000000}, SizeCase{"1G", 1000000000}, SizeCase{"1T", 1000000000000LL},
                      SizeCase{"007Mi", 7LL << 20}, SizeCase{"9223372036854775807", INT64_MAX},
                      SizeCase{"8388607Ti", 8388607LL << 40},
                      // errors
                      SizeCase{"", -1, "is not a size"}, SizeCase{"Mi", -1, "is not a size"},
                      SizeCase{"-1", -1, "is not a size"}, SizeCase{" 1Gi", -1, "is not a size"},
                      SizeCase{"512Mb", -1, "unknown size unit \"Mb\""}, SizeCase{"1.5Gi", -1, "unknown size unit"},
                      SizeCase{"1 Gi", -1, "unknown size unit"}, SizeCase{"1gi", -1, "unknown size unit"},
                      SizeCase{"1Ei", -1, "unknown size unit"}, SizeCase{"1m", -1, "unknown size unit"},
                      SizeCase{"9223372036854775808", -1, "too large"},
                      SizeCase{"99999999999999999999999", -1, "too large"}, SizeCase{"8388608Ti", -1, "too large"},
                      SizeCase{"9223372036854775807k", -1, "too large"}));

TEST(Strings, FormatByteSize) {
  EXPECT_EQ(format_byte_size(0), "0");
  EXPECT_EQ(format_byte_size(1), "1");
  EXPECT_EQ(format_byte_size(1000), "1000");
  EXPECT_EQ(format_byte_size(1024), "1Ki");
  EXPECT_EQ(format_byte_size(1536), "1536");
  EXPECT_EQ(format_byte_size(512LL << 20), "512Mi");
  EXPECT_EQ(format_byte_size(1536LL << 20), "1536Mi");
  EXPECT_EQ(format_byte_size(8LL << 30), "8Gi");
  EXPECT_EQ(format_byte_size(3LL << 40), "3Ti");
  EXPECT_EQ(format_byte_size(2048LL << 40), "2048Ti");
  EXPECT_EQ(format_byte_size(-1), "-1");
  EXPECT_EQ(format_byte_size(-1024), "-1024");
}

TEST(Strings, FormatThenParseRoundTrips) {
  for (int64_t v : {int64_t{1}, int64_t{1023}, int64_t{4096}, int64_t{512} << 20, int64_t{5} << 30, int64_t{7} << 40}) {
    auto r = parse_byte_size(format_byte_size(v));
    ASSERT_TRUE(r.is_ok()) << format_byte_size(v);
    EXPECT_EQ(*r, v);
  }
}

TEST(Strings, NormalizePath) {
  struct { const char* in; const char* out; } cases[] = {
      {"", ""},
      {"/", "/"},
      {"//", "/"},
      {"/a/b", "/a/b"},
      {"/a/b/", "/a/b"},
      {"//a//b//", "/a/b"},
      {"/a/./b/.", "/a/b"},
      {"/a/b/../c", "/a/c"},
      {"/a/b/../../..", "/"},
      {"/../../etc", "/etc"},
      {"/var/run/../run/docker.sock", "/var/run/docker.sock"},
      {"a/b", "a/b"},
      {"./a", "a"},
      {"a/..", "."},
      {"a/../..", ".."},
      {"../a/../../b", "../../b"},
      {".", "."},
  };
  for (const auto& c : cases) EXPECT_EQ(normalize_path(c.in), c.out) << '"' << c.in << '"';
}

TEST(Strings, NormalizePathIsIdempotent) {
  for (const char* p : {"/a//b/../c/.", "x/../../y", "/", "/proc/1/ns/net", "../.."}) {
    std::string once = normalize_path(p);
    EXPECT_EQ(normalize_path(once), once) << p;
  }
}

TEST(Strings, PathWithin) {
  // Inputs are normalised paths (the contract); the check is by whole components.
  struct { const char* path; const char* dir; bool within; } cases[] = {
      {"/a", "/a", true},
      {"/a/b", "/a", true},
      {"/a/b/c", "/a", true},
      {"/ab", "/a", false},
      {"/a", "/a/b", false},
      {"/", "/a", false},
      {"/anything", "/", true},
      {"/", "/", true},
      {"relative", "/", false},
      {"", "/", false},
      {"/proc/1/ns/net", "/proc/1/ns", true},
      {"/proc/10/ns/net", "/proc/1/ns", false},
      {"/run/containerd/containerd.sock", "/run/containerd", true},
      {"/run/containerd-other", "/run/containerd", false},
  };
  for (const auto& c : cases) EXPECT_EQ(path_within(c.path, c.dir), c.within) << c.path << " in " << c.dir;
}

TEST(Strings, GlobMatch) {
  struct { const char* pattern; const char* text; bool match; } cases[] = {
      {"*", "", true},
      {"*", "anything/with/slashes", true},
      {"", "", true},
      {"", "x", false},
      {"kube-*", "kube-system", true},
      {"kube-*", "kube-", true},
      {"kube-*", "default", false},
      {"kube-system", "kube-system", true},
      {"kube-system", "kube-system2", false},
      {"docker.io/library/nginx:*", "docker.io/library/nginx:1.27", true},
      {"docker.io/*", "docker.io/library/nginx:1.27", true},  // '*' crosses '/'
      {"*/nginx@sha256:*", "ghcr.io/org/nginx@sha256:abc", true},
      {"nginx:?.2", "nginx:1.2", true},
      {"nginx:?.2", "nginx:10.2", false},
      {"team-[ab]", "team-a", true},
      {"team-[ab]", "team-c", false},
      {"team-[!ab]", "team-c", true},
      {"a\\*", "a*", true},
      {"a\\*", "ab", false},
      {"Prod*", "prod-1", false},  // case-sensitive
  };
  for (const auto& c : cases) EXPECT_EQ(glob_match(c.pattern, c.text), c.match) << c.pattern << " ~ " << c.text;
}

TEST(Strings, ClosestMatch) {
  const std::vector<std::string> controls = {"user", "capabilities", "noNewPrivileges", "seccomp", "resources",
                                             "hostNamespaces", "privileged", "sensitiveMounts", "readonlyRootfs",
                                             "secretsInEnv"};
  EXPECT_EQ(closest_match("capabilites", controls), "capabilities");
  EXPECT_EQ(closest_match("privilged", controls), "privileged");
  EXPECT_EQ(closest_match("SECCOMP", controls), "seccomp");  // case-insensitive
  EXPECT_EQ(closest_match("user", controls), "user");
  EXPECT_EQ(closest_match("readOnlyRootFS", controls), "readonlyRootfs");
  EXPECT_EQ(closest_match("hostnamespace", controls), "hostNamespaces");
  EXPECT_EQ(closest_match("network", controls), std::nullopt);
  EXPECT_EQ(closest_match("x", controls), std::nullopt);
  EXPECT_EQ(closest_match("anything", {}), std::nullopt);
  EXPECT_EQ(closest_match("CAP_SYS_ADMN", {"CAP_SYS_ADMIN", "CAP_SYS_NICE", "CAP_SYSLOG"}), "CAP_SYS_ADMIN");
  EXPECT_EQ(closest_match("enforced", {"enforce", "deny", "audit", "off"}), "enforce");
  EXPECT_EQ(closest_match("of", {"enforce", "deny", "audit", "off"}), "off");
  // A third of the word may differ, at least one edit.
  EXPECT_EQ(closest_match("ab", {"ax"}), "ax");
  EXPECT_EQ(closest_match("ab", {"xy"}), std::nullopt);
  EXPECT_EQ(closest_match("abcdef", {"abxyef"}), "abxyef");
  EXPECT_EQ(closest_match("abcdef", {"axyzef"}), std::nullopt);
  // Ties go to the first candidate.
  EXPECT_EQ(closest_match("cat", {"bat", "hat"}), "bat");
}

TEST(Strings, DidYouMean) {
  EXPECT_EQ(did_you_mean("stateDri", {"stateDir", "libDir"}), " (did you mean stateDir?)");
  EXPECT_EQ(did_you_mean("zzzzzz", {"stateDir", "libDir"}), "");
}

TEST(Strings, CaseAndJoin) {
  EXPECT_EQ(to_upper("cap_Net_raw-1"), "CAP_NET_RAW-1");
  EXPECT_EQ(to_lower("CAP_NET_RAW"), "cap_net_raw");
  EXPECT_EQ(join({}, ", "), "");
  EXPECT_EQ(join({"a"}, ", "), "a");
  EXPECT_EQ(join({"a", "b", "c"}, ", "), "a, b, c");
}

}  // namespace
}  // namespace runguard

namespace runguard {
namespace {

TEST(Split, KeepsEmptyFields) {
  EXPECT_EQ(split("a::b", ':'), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(split("", ':'), (std::vector<std::string>{""}));
  EXPECT_EQ(split("root:100000:65536\n", '\n'), (std::vector<std::string>{"root:100000:65536", ""}));
}

TEST(ParseU32, DigitsOnlyInRange) {
  EXPECT_EQ(parse_u32("0"), 0u);
  EXPECT_EQ(parse_u32("4294967295"), 4294967295u);
  for (const char* bad : {"", "4294967296", "-1", "+1", "1e3", " 1", "0x10", "99999999999"}) EXPECT_FALSE(parse_u32(bad)) << bad;
}

}  // namespace
}  // namespace runguard
