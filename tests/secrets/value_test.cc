// secrets/value.h: picking a secret's value out of a backend's data object. A string member is
// its raw bytes (no JSON quotes: a password file must not contain "\"hunter2\""), anything else
// compact JSON; a missing key names the keys there are, never the values.

#include "runguard/secrets/value.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "runguard/secrets/wire.h"
#include "../policy/policy_test_util.h"

namespace runguard::secrets {
namespace {

using rgtest::parse;  // the project's JSON-literal parser for tests

const char* kData = R"({"username":"app","password":"hunter2-secret","port":5432,"tls":true,"hosts":["a","b"],
                        "nested":{"k":"v"},"none":null,"ratio":0.5,"multi":"line1\nline2\n","utf8":"pässwörd"})";

struct KeyCase {
  const char* key;
  std::string value;
};
void PrintTo(const KeyCase& c, std::ostream* os) { *os << c.key; }

class SelectKeyTest : public ::testing::TestWithParam<KeyCase> {};

TEST_P(SelectKeyTest, TakesTheMember) {
  auto r = select_value(parse(kData), GetParam().key, "vault:kv/data/app#" + std::string(GetParam().key));
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(*r, GetParam().value);
}

INSTANTIATE_TEST_SUITE_P(SecretsValue, SelectKeyTest,
                         ::testing::Values(KeyCase{"password", "hunter2-secret"}, KeyCase{"username", "app"},
                                           KeyCase{"port", "5432"}, KeyCase{"tls", "true"}, KeyCase{"hosts", R"(["a","b"])"},
                                           KeyCase{"nested", R"({"k":"v"})"}, KeyCase{"none", "null"}, KeyCase{"ratio", "0.5"},
                                           KeyCase{"multi", "line1\nline2\n"}, KeyCase{"utf8", "p\xc3\xa4ssw\xc3\xb6rd"}),
                         [](const auto& info) { return std::string(info.param.key); });

TEST(SecretsValue, WithoutAKeyTheWholeObjectAsCompactJson) {
  Json data = parse(R"({"username": "app", "password": "p"})");
  auto r = select_value(data, "", "vault:database/creds/ro");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(*r, R"({"password":"p","username":"app"})");
  auto back = parse_json(*r, "value");
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(*back, data);
}

TEST(SecretsValue, EmptyObjectWithoutAKey) {
  auto r = select_value(Json::object(), "", "x");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(*r, "{}");
}

TEST(SecretsValue, MissingKeyListsTheKeysNotTheValues) {
  auto r = select_value(parse(R"({"username":"app","password":"hunter2-secret"})"), "pasword", "vault:kv/data/app#pasword");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  const std::string& m = r.status().message();
  EXPECT_EQ(m, "vault:kv/data/app#pasword: the secret has no key \"pasword\" (it has: password, username)");
  EXPECT_EQ(m.find("hunter2"), std::string::npos);
}

TEST(SecretsValue, MissingKeyInAnEmptySecret) {
  auto r = select_value(Json::object(), "password", "file:x#password");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("(it is empty)"), std::string::npos) << r.status().message();
}

TEST(SecretsValue, DataMustBeAnObject) {
  for (const char* text : {R"(["a"])", R"("hunter2")", "5", "null", "true"}) {
    for (const char* key : {"", "k"}) {
      auto r = select_value(parse(text), key, "file:x");
      ASSERT_FALSE(r.is_ok()) << text << " key " << key;
      EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
      EXPECT_NE(r.status().message().find("not an object"), std::string::npos) << r.status().message();
      EXPECT_EQ(r.status().message().find("hunter2"), std::string::npos) << r.status().message();
    }
  }
}

TEST(SecretsValue, SizeBound) {
  Json data = Json::object();
  data["ok"] = std::string(kMaxValueBytes, 'a');
  data["big"] = std::string(kMaxValueBytes + 1, 'b');
  auto ok = select_value(data, "ok", "x");
  ASSERT_TRUE(ok.is_ok()) << ok.status().message();
  EXPECT_EQ(ok->size(), kMaxValueBytes);
  auto big = select_value(data, "big", "x");
  ASSERT_FALSE(big.is_ok());
  EXPECT_EQ(big.status().code(), Code::kInvalidArgument);
  EXPECT_NE(big.status().message().find("262145 bytes (at most 262144)"), std::string::npos) << big.status().message();
  // The whole object holds both: over the bound too.
  auto whole = select_value(data, "", "x");
  ASSERT_FALSE(whole.is_ok());
  EXPECT_EQ(whole.status().code(), Code::kInvalidArgument);
  // A non-string member's JSON text counts, not its element count.
  Json arr = Json::object();
  arr["list"] = Json::array();
  for (size_t i = 0; i < kMaxValueBytes / 4; ++i) arr["list"].push_back(1000u);
  EXPECT_FALSE(select_value(arr, "list", "x").is_ok());
}

TEST(SecretsValue, BinaryStringBytesArePreserved) {
  Json data = Json::object();
  data["k"] = std::string("a\0b\x01", 4);
  auto r = select_value(data, "k", "x");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(*r, std::string("a\0b\x01", 4));
}

}  // namespace
}  // namespace runguard::secrets
