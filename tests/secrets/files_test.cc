// secrets/files.h on a plain temporary directory: the secrets.json record (round trip, every
// field checked, never a value), secret files written 0400 and owned, replaced atomically (a
// reader holding the old file keeps its content), hostile names refused before any write, and
// wipe_secrets_dir. The tmpfs itself (root only) is covered by tests/secrets/tmpfs_test.cc and
// tests/nsutil/private_files_test.cc.

#include "runguard/secrets/files.h"
#include "../policy/policy_test_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace runguard::secrets {
namespace {

using rgtest::parse;  // the project's JSON-literal parser for tests

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::set<std::string> list_dir(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rg-secrets-files-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string dir_;
};

SecretsRecord sample_record() {
  SecretsRecord r;
  r.container = "c1";
  r.k8s_namespace = "payments";
  r.dir = "/run/runguard/c1/secrets";
  r.mount_path = "/run/secrets";
  r.uid = 100000;
  r.gid = 100001;
  r.kubernetes_token_file = "/var/lib/kubelet/pods/u/token";
  r.mounted = true;
  r.agent_socket = "/run/runguard/agent-internal.sock";
  r.policy_file = "/etc/runguard/policy.yaml";
  r.timeout_ms = 7000;
  SecretsRecord::File a{"db", "annotation", "vault:kv/data/app/db#password", "", 0, false};
  SecretsRecord::File b{"creds", "attach", "vault:database/creds/ro", "database/creds/ro/xyz", 3600, true};
  SecretsRecord::File c{"DB_PASSWORD", "env", "", "", 0, false};
  r.files = {a, b, c};
  return r;
}

void expect_same(const SecretsRecord& a, const SecretsRecord& b) {
  EXPECT_EQ(a.container, b.container);
  EXPECT_EQ(a.k8s_namespace, b.k8s_namespace);
  EXPECT_EQ(a.dir, b.dir);
  EXPECT_EQ(a.mount_path, b.mount_path);
  EXPECT_EQ(a.uid, b.uid);
  EXPECT_EQ(a.gid, b.gid);
  EXPECT_EQ(a.kubernetes_token_file, b.kubernetes_token_file);
  EXPECT_EQ(a.mounted, b.mounted);
  EXPECT_EQ(a.agent_socket, b.agent_socket);
  EXPECT_EQ(a.policy_file, b.policy_file);
  EXPECT_EQ(a.timeout_ms, b.timeout_ms);
  ASSERT_EQ(a.files.size(), b.files.size());
  for (size_t i = 0; i < a.files.size(); ++i) {
    EXPECT_EQ(a.files[i].name, b.files[i].name);
    EXPECT_EQ(a.files[i].source, b.files[i].source);
    EXPECT_EQ(a.files[i].ref, b.files[i].ref);
    EXPECT_EQ(a.files[i].lease_id, b.files[i].lease_id);
    EXPECT_EQ(a.files[i].lease_duration, b.files[i].lease_duration);
    EXPECT_EQ(a.files[i].renewable, b.files[i].renewable);
  }
}

TEST(SecretsRecordJson, RoundTrips) {
  SecretsRecord r = sample_record();
  Json j = secrets_record_to_json(r);
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["uid"], 100000u);
  EXPECT_EQ(j["files"][1]["leaseId"], "database/creds/ro/xyz");
  for (const auto& f : j["files"]) EXPECT_FALSE(f.contains("value")) << f.dump();
  auto back = secrets_record_from_json(j, "secrets.json");
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  expect_same(*back, r);
}

TEST(SecretsRecordJson, ExtremeIdsRoundTrip) {
  SecretsRecord r = sample_record();
  r.uid = UINT32_MAX;
  r.gid = 0;
  auto back = secrets_record_from_json(secrets_record_to_json(r), "x");
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(back->uid, UINT32_MAX);
  EXPECT_EQ(back->gid, 0u);
}

TEST(SecretsRecordJson, MinimalRecordDefaults) {
  auto r = secrets_record_from_json(parse(R"({"dir":"/run/runguard/c1/secrets"})"), "x");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->timeout_ms, 5000);
  EXPECT_FALSE(r->mounted);
  EXPECT_TRUE(r->files.empty());
  EXPECT_EQ(r->uid, 0u);
}

struct BadRecord {
  const char* name;
  std::string json;
  const char* why;
};
void PrintTo(const BadRecord& c, std::ostream* os) { *os << c.name; }

class SecretsRecordBadTest : public ::testing::TestWithParam<BadRecord> {};

TEST_P(SecretsRecordBadTest, IsRefused) {
  auto r = secrets_record_from_json(parse(GetParam().json), "/run/runguard/c1/secrets.json");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find(GetParam().why), std::string::npos) << r.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    SecretsRecordJson, SecretsRecordBadTest,
    ::testing::Values(
        BadRecord{"array", "[]", "secrets.json: expected an object"},
        BadRecord{"no_dir", R"({"container":"c"})", "\"dir\" must be an absolute path"},
        BadRecord{"relative_dir", R"({"dir":"run/x"})", "\"dir\" must be an absolute path"},
        BadRecord{"dir_number", R"({"dir":5})", "\"dir\" must be a string"},
        BadRecord{"container_number", R"({"dir":"/d","container":1})", "\"container\" must be a string"},
        BadRecord{"uid_negative", R"({"dir":"/d","uid":-1})", "\"uid\" must be an integer 0..4294967295"},
        BadRecord{"uid_too_large", R"({"dir":"/d","uid":4294967296})", "\"uid\" must be an integer"},
        BadRecord{"gid_string", R"({"dir":"/d","gid":"0"})", "\"gid\" must be an integer"},
        BadRecord{"timeout_too_large", R"({"dir":"/d","timeoutMs":600001})", "\"timeoutMs\" must be an integer 0..600000"},
        BadRecord{"files_object", R"({"dir":"/d","files":{}})", "\"files\" must be an array of at most 64"},
        BadRecord{"file_string", R"({"dir":"/d","files":["db"]})", "files[0]: expected an object"},
        BadRecord{"file_name_traversal", R"({"dir":"/d","files":[{"name":"../etc/passwd"}]})", "must not start with '.'"},
        BadRecord{"file_name_slash", R"({"dir":"/d","files":[{"name":"a/b"}]})", "only letters, digits"},
        BadRecord{"file_name_missing", R"({"dir":"/d","files":[{"source":"env"}]})", "secret name is empty"},
        BadRecord{"file_lease_negative", R"({"dir":"/d","files":[{"name":"a","leaseDuration":-5}]})", "\"leaseDuration\" must be an integer"},
        BadRecord{"file_ref_number", R"({"dir":"/d","files":[{"name":"a","ref":7}]})", "files[0]: \"ref\" must be a string"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(SecretsRecordJson, TooManyFiles) {
  Json j = parse(R"({"dir":"/d"})");
  j["files"] = Json::array();
  for (size_t i = 0; i <= kMaxSecrets; ++i) j["files"].push_back(Json{{"name", "f" + std::to_string(i)}});
  auto r = secrets_record_from_json(j, "x");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("at most 64"), std::string::npos);
  j["files"].erase(j["files"].size() - 1);
  EXPECT_TRUE(secrets_record_from_json(j, "x").is_ok());
}

using SecretsRecordFile = TempDir;

TEST_F(SecretsRecordFile, WriteThenRead) {
  SecretsRecord r = sample_record();
  ASSERT_TRUE(write_secrets_record(dir_, r).is_ok());
  EXPECT_EQ(secrets_record_path(dir_), dir_ + "/secrets.json");
  struct stat st {};
  ASSERT_EQ(::stat((dir_ + "/secrets.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  auto back = read_secrets_record(dir_);
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  expect_same(*back, r);
  // Rewritten in place (lease renewed): the new one is read.
  r.files[1].lease_duration = 60;
  ASSERT_TRUE(write_secrets_record(dir_, r).is_ok());
  back = read_secrets_record(dir_);
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back->files[1].lease_duration, 60);
}

TEST_F(SecretsRecordFile, MissingIsNotFound) {
  auto r = read_secrets_record(dir_);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
}

TEST_F(SecretsRecordFile, CorruptIsAnErrorNamingThePath) {
  std::ofstream(dir_ + "/secrets.json") << "{\"dir\": ";
  auto r = read_secrets_record(dir_);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find(dir_ + "/secrets.json"), std::string::npos) << r.status().message();
}

using SecretFiles = TempDir;

std::vector<FetchedSecret> values(std::initializer_list<std::pair<const char*, std::string>> items) {
  std::vector<FetchedSecret> out;
  for (const auto& [n, v] : items) {
    FetchedSecret s;
    s.name = n;
    s.value = v;
    out.push_back(std::move(s));
  }
  return out;
}

TEST_F(SecretFiles, WritesEachFile0400Owned) {
  uint32_t uid = ::geteuid() == 0 ? 123456 : ::geteuid();
  uint32_t gid = ::geteuid() == 0 ? 654321 : ::getegid();
  auto files = values({{"db-password", "hunter2"}, {"tls.key", std::string("bin\0ary\xff", 8)}, {"empty", ""}});
  ASSERT_TRUE(write_secret_files(dir_, files, uid, gid).is_ok());
  EXPECT_EQ(list_dir(dir_), (std::set<std::string>{"db-password", "tls.key", "empty"})) << "no temporary file left behind";
  for (const auto& f : files) {
    std::string path = dir_ + "/" + f.name;
    struct stat st {};
    ASSERT_EQ(::lstat(path.c_str(), &st), 0) << path;
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0400u) << f.name;
    EXPECT_EQ(st.st_uid, uid) << f.name;
    EXPECT_EQ(st.st_gid, gid) << f.name;
    EXPECT_EQ(slurp(path), f.value) << f.name;
  }
}

// A refresh replaces a file while the application may be reading it: the reader keeps the
// whole old content, a new open sees the whole new content, never a mix.
TEST_F(SecretFiles, ReplaceIsAtomicForAReaderHoldingTheOldFile) {
  const std::string old_value(100000, 'o');
  const std::string new_value(50000, 'n');
  ASSERT_TRUE(write_secret_files(dir_, values({{"db", old_value}}), ::geteuid(), ::getegid()).is_ok());
  int fd = ::open((dir_ + "/db").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  char first[10];
  ASSERT_EQ(::read(fd, first, sizeof first), 10);
  struct stat before {};
  ASSERT_EQ(::fstat(fd, &before), 0);

  ASSERT_TRUE(write_secret_files(dir_, values({{"db", new_value}}), ::geteuid(), ::getegid()).is_ok());

  std::string rest(old_value.size(), '\0');
  ssize_t n = ::pread(fd, rest.data(), rest.size(), 0);
  ::close(fd);
  ASSERT_EQ(n, static_cast<ssize_t>(old_value.size()));
  EXPECT_EQ(rest, old_value) << "the open file changed under its reader (written in place?)";
  EXPECT_EQ(slurp(dir_ + "/db"), new_value);
  struct stat after {};
  ASSERT_EQ(::stat((dir_ + "/db").c_str(), &after), 0);
  EXPECT_NE(after.st_ino, before.st_ino) << "replaced by rename, a new inode";
  EXPECT_EQ(after.st_mode & 07777, 0400u);
  EXPECT_EQ(list_dir(dir_), std::set<std::string>{"db"});
}

struct BadName {
  const char* name;
  std::string file;
};
void PrintTo(const BadName& c, std::ostream* os) { *os << c.name; }

class SecretFilesBadName : public TempDir, public ::testing::WithParamInterface<BadName> {};

TEST_P(SecretFilesBadName, IsRefusedAndNothingIsWritten) {
  std::string inner = dir_ + "/inner";
  ASSERT_EQ(::mkdir(inner.c_str(), 0700), 0);
  auto files = values({{GetParam().file.c_str(), "hunter2"}});
  files[0].name = GetParam().file;  // keep embedded NULs
  Status s = write_secret_files(inner, files, ::geteuid(), ::getegid());
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_TRUE(list_dir(inner).empty());
  EXPECT_EQ(list_dir(dir_), std::set<std::string>{"inner"}) << "nothing written beside the directory either";
}

INSTANTIATE_TEST_SUITE_P(SecretFiles, SecretFilesBadName,
                         ::testing::Values(BadName{"traversal", "../x"}, BadName{"slash", "a/b"}, BadName{"hidden", ".hidden"},
                                           BadName{"dot", "."}, BadName{"dotdot", ".."}, BadName{"empty", ""},
                                           BadName{"too_long", std::string(129, 'n')}, BadName{"newline", "a\nb"},
                                           BadName{"nul", std::string("a\0b", 3)}),
                         [](const auto& info) { return std::string(info.param.name); });

// A planted symlink with a secret's name is replaced, never followed.
TEST_F(SecretFiles, SymlinkWithTheNameIsReplacedNotFollowed) {
  std::string outside = dir_ + "/outside";
  std::string inner = dir_ + "/inner";
  ASSERT_EQ(::mkdir(inner.c_str(), 0700), 0);
  std::ofstream(outside) << "original";
  ASSERT_EQ(::symlink(outside.c_str(), (inner + "/db").c_str()), 0);
  ASSERT_TRUE(write_secret_files(inner, values({{"db", "hunter2"}}), ::geteuid(), ::getegid()).is_ok());
  EXPECT_EQ(slurp(outside), "original");
  struct stat st {};
  ASSERT_EQ(::lstat((inner + "/db").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(slurp(inner + "/db"), "hunter2");
}

TEST_F(SecretFiles, SymlinkedDirectoryIsRefused) {
  std::string real = dir_ + "/real";
  ASSERT_EQ(::mkdir(real.c_str(), 0700), 0);
  ASSERT_EQ(::symlink(real.c_str(), (dir_ + "/link").c_str()), 0);
  Status s = write_secret_files(dir_ + "/link", values({{"db", "hunter2"}}), ::geteuid(), ::getegid());
  EXPECT_FALSE(s.is_ok());
  EXPECT_TRUE(list_dir(real).empty());
}

TEST_F(SecretFiles, MissingDirectoryIsAnError) {
  Status s = write_secret_files(dir_ + "/nope", values({{"db", "x"}}), ::geteuid(), ::getegid());
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find(dir_ + "/nope"), std::string::npos) << s.message();
}

TEST_F(SecretFiles, WipeSecretsDirOnAPlainDirectory) {
  std::string secrets = dir_ + "/secrets";
  ASSERT_EQ(::mkdir(secrets.c_str(), 0700), 0);
  ASSERT_TRUE(write_secret_files(secrets, values({{"a", "1111"}, {"b", "2222"}}), ::geteuid(), ::getegid()).is_ok());
  ASSERT_TRUE(wipe_secrets_dir(secrets).is_ok());
  EXPECT_FALSE(std::filesystem::exists(secrets));
  // Already released: still success.
  EXPECT_TRUE(wipe_secrets_dir(secrets).is_ok());
}

}  // namespace
}  // namespace runguard::secrets
