// secrets/file_backend.h: `file:` references read below secrets.file.dir. Plain files, #key out
// of a JSON object, and every way out of the directory refused: ".." (the reference grammar),
// a symlink inside it, a symlinked parent directory (openat2 RESOLVE_NO_SYMLINKS), FIFOs and
// directories, files over the size bound. Errors never quote a file's content.

#include "runguard/secrets/file_backend.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

namespace runguard::secrets {
namespace {

class FileBackend : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rg-file-backend-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/secrets";
    ASSERT_EQ(::mkdir(dir_.c_str(), 0700), 0);
    ASSERT_EQ(::mkdir((dir_ + "/app").c_str(), 0700), 0);
    put("db-password", "hunter2\n");
    put("app/db.json", R"({"user":"app","password":"p@ss-w0rd","port":5432})");
    put("not-json", "plain-secret-content-7781");
    put("array.json", R"(["hunter2"])");
    put(root_ + "/outside", "outside-secret-4412", true);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  void put(const std::string& rel, const std::string& content, bool absolute = false) {
    std::ofstream out(absolute ? rel : dir_ + "/" + rel, std::ios::binary);
    out << content;
  }
  Result<std::vector<FetchedSecret>> read(std::vector<RequestedSecret> secrets) {
    FetchRequest r;
    r.container = "c1";
    r.secrets = std::move(secrets);
    return read_file_secrets(dir_, r);
  }
  // One secret that must be refused; returns the status.
  Status refused(const std::string& ref) {
    auto r = read({{"s", ref}});
    if (r.is_ok()) {
      ADD_FAILURE() << ref << " was read: " << (r->empty() ? "" : (*r)[0].value);
      return Status::ok();
    }
    return r.status();
  }
  std::string root_;
  std::string dir_;
};

TEST_F(FileBackend, ReadsPlainFilesAndKeys) {
  auto r = read({{"pw", "file:db-password"},
                 {"user", "file:app/db.json#user"},
                 {"port", "file:app/db.json#port"},
                 {"whole", "file:app/db.json"},
                 {"bare", "db-password"}});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ(r->size(), 5u);
  EXPECT_EQ((*r)[0].name, "pw");
  EXPECT_EQ((*r)[0].value, "hunter2\n") << "a plain file is taken byte for byte";
  EXPECT_EQ((*r)[1].value, "app");
  EXPECT_EQ((*r)[2].value, "5432");
  EXPECT_EQ((*r)[3].value, R"({"user":"app","password":"p@ss-w0rd","port":5432})") << "without #key: the file as it is";
  EXPECT_EQ((*r)[4].value, "hunter2\n") << "a bare path is a file: reference here";
  for (const auto& s : *r) {
    EXPECT_EQ(s.lease_id, "");
    EXPECT_FALSE(s.renewable);
  }
}

TEST_F(FileBackend, EmptyRequestReadsNothing) {
  auto r = read({});
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(r->empty());
}

TEST_F(FileBackend, MissingFileIsNotFound) {
  Status s = refused("file:app/nope");
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_NE(s.message().find("secret s (file:app/nope)"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(dir_ + "/app/nope does not exist"), std::string::npos) << s.message();
}

TEST_F(FileBackend, MissingKeyIsNotFoundListingKeysNotValues) {
  Status s = refused("file:app/db.json#pass");
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_NE(s.message().find("no key \"pass\" (it has: password, port, user)"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("p@ss-w0rd"), std::string::npos) << s.message();
}

TEST_F(FileBackend, KeyFromAFileThatIsNotJsonNeverQuotesIt) {
  Status s = refused("file:not-json#password");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("is not a JSON object"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("plain-secret-content"), std::string::npos) << s.message();
}

TEST_F(FileBackend, KeyFromAJsonArrayIsRefused) {
  Status s = refused("file:array.json#0");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("not an object"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("hunter2"), std::string::npos) << s.message();
}

TEST_F(FileBackend, TraversalIsRefusedByTheGrammar) {
  for (const char* ref : {"file:../outside", "file:app/../../outside", "../outside", "file:/etc/passwd", "file:app/./db.json"}) {
    SCOPED_TRACE(ref);
    Status s = refused(ref);
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
    EXPECT_EQ(s.message().find("outside-secret"), std::string::npos);
  }
}

TEST_F(FileBackend, SymlinkInsideTheDirectoryIsRefused) {
  ASSERT_EQ(::symlink((dir_ + "/db-password").c_str(), (dir_ + "/alias").c_str()), 0);  // even one that stays inside
  ASSERT_EQ(::symlink((root_ + "/outside").c_str(), (dir_ + "/escape").c_str()), 0);
  ASSERT_EQ(::symlink("../outside", (dir_ + "/relative-escape").c_str()), 0);
  ASSERT_EQ(::symlink("/proc/self/environ", (dir_ + "/environ").c_str()), 0);
  for (const char* ref : {"file:alias", "file:escape", "file:relative-escape", "file:environ"}) {
    SCOPED_TRACE(ref);
    Status s = refused(ref);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.message();
    EXPECT_NE(s.message().find("symlink"), std::string::npos) << s.message();
  }
}

TEST_F(FileBackend, SymlinkedParentDirectoryIsRefused) {
  std::string other = root_ + "/other";
  ASSERT_EQ(::mkdir(other.c_str(), 0700), 0);
  put(other + "/key", "other-secret-9090", true);
  ASSERT_EQ(::symlink(other.c_str(), (dir_ + "/team").c_str()), 0);
  ASSERT_EQ(::symlink("app", (dir_ + "/app-link").c_str()), 0);  // inside, but still a symlink
  for (const char* ref : {"file:team/key", "file:app-link/db.json#user"}) {
    SCOPED_TRACE(ref);
    Status s = refused(ref);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.message();
    EXPECT_EQ(s.message().find("other-secret"), std::string::npos);
  }
}

TEST_F(FileBackend, NonRegularFilesAreRefused) {
  ASSERT_EQ(::mkfifo((dir_ + "/fifo").c_str(), 0600), 0);  // must not block the runtime
  for (const char* ref : {"file:app", "file:fifo"}) {
    SCOPED_TRACE(ref);
    Status s = refused(ref);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.message();
    EXPECT_NE(s.message().find("not a regular file"), std::string::npos) << s.message();
  }
}

TEST_F(FileBackend, SizeBound) {
  put("max", std::string(kMaxValueBytes, 'm'));
  put("over", std::string(kMaxValueBytes + 1, 'o'));
  auto ok = read({{"max", "file:max"}});
  ASSERT_TRUE(ok.is_ok()) << ok.status().message();
  EXPECT_EQ((*ok)[0].value.size(), kMaxValueBytes);
  Status s = refused("file:over");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("262145 bytes (at most 262144)"), std::string::npos) << s.message();
}

TEST_F(FileBackend, VaultReferencesAreNotFiles) {
  Status s = refused("vault:kv/data/app");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("is not a file: reference"), std::string::npos) << s.message();
}

TEST_F(FileBackend, OneFailureFailsTheWholeRead) {
  auto r = read({{"pw", "file:db-password"}, {"x", "file:missing"}});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().message().find("hunter2"), std::string::npos);
}

TEST_F(FileBackend, MissingDirectoryIsAnError) {
  FetchRequest r;
  r.secrets = {{"pw", "file:db-password"}};
  auto got = read_file_secrets(root_ + "/nope", r);
  ASSERT_FALSE(got.is_ok());
  EXPECT_NE(got.status().message().find(root_ + "/nope"), std::string::npos) << got.status().message();
}

}  // namespace
}  // namespace runguard::secrets
