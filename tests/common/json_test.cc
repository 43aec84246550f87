// common/json.h: parse errors with line:col, the nesting limit, and what the DOM keeps.

#include "runguard/common/json.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <type_traits>
#include <vector>

namespace runguard {
namespace {

std::string nested(int depth, const char* open = "[", const char* close = "]") {
  std::string s;
  for (int i = 0; i < depth; ++i) s += open;
  for (int i = 0; i < depth; ++i) s += close;
  return s;
}

TEST(Json, ParsesValidDocument) {
  auto r = parse_json(R"({"a":[1,2,{"b":null}],"c":"d","e":-1,"f":1.5,"g":true})", "doc.json");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)["a"][2]["b"], nullptr);
  EXPECT_TRUE((*r)["a"][0].is_number_unsigned());
  EXPECT_TRUE((*r)["e"].is_number_integer());
  EXPECT_FALSE((*r)["e"].is_number_unsigned());
}

struct ErrorCase {
  const char* name;
  const char* text;
  const char* prefix;  // "source:line:col: invalid JSON: "
};
void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class JsonErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(JsonErrorTest, CarriesLineAndColumn) {
  auto r = parse_json(GetParam().text, "doc.json");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  const std::string& m = r.status().message();
  EXPECT_EQ(m.rfind(GetParam().prefix, 0), 0u) << m;
  EXPECT_EQ(m.find("[json.exception"), std::string::npos) << "library prefix leaked: " << m;
}

INSTANTIATE_TEST_SUITE_P(
    Json, JsonErrorTest,
    ::testing::Values(ErrorCase{"first_line", "{\"a\": }", "doc.json:1:7: invalid JSON: "},
                      ErrorCase{"third_line", "{\n  \"a\": 1,\n  \"b\": ]\n}", "doc.json:3:8: invalid JSON: "},
                      ErrorCase{"trailing_comma", "[1,2,]", "doc.json:1:6: invalid JSON: "},
                      ErrorCase{"unterminated", "{\"a\":\n\"b", "doc.json:2:"},
                      ErrorCase{"empty", "", "doc.json:1:1: invalid JSON: "},
                      ErrorCase{"garbage_after", "{} x", "doc.json:1:4: invalid JSON: "},
                      ErrorCase{"single_quotes", "{'a':1}", "doc.json:1:2: invalid JSON: "}),
    [](const auto& info) { return std::string(info.param.name); });

// Regression: nlohmann's lexer reads a NUL byte as the end of the input, so "{...}\0garbage"
// parsed as "{...}" and the rest was ignored; a NUL anywhere is now an error with its place.
TEST(Json, NulByteIsAnErrorWhereverItIs) {
  const std::string cases[] = {std::string("{\"a\":1}\0{\"b\":2}", 15), std::string("{\"a\":1}\0", 8),
                               std::string("\0{}", 3), std::string("[1,\n2\0,3]", 9),
                               std::string("{\"a\":\"x\0y\"}", 11)};
  for (const std::string& text : cases) {
    auto r = parse_json(text, "doc.json");
    ASSERT_FALSE(r.is_ok()) << "accepted " << testing::PrintToString(text);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find("NUL byte"), std::string::npos) << r.status().message();
  }
  auto r = parse_json(std::string("[1,\n2\0,3]", 9), "doc.json");
  EXPECT_EQ(r.status().message().rfind("doc.json:2:2: invalid JSON: NUL byte", 0), 0u) << r.status().message();
  // The escaped form is a string like any other.
  auto escaped = parse_json(R"({"a":"x\u0000y"})", "doc.json");
  ASSERT_TRUE(escaped.is_ok()) << escaped.status().message();
  EXPECT_EQ((*escaped)["a"].get<std::string>(), std::string("x\0y", 3));
}

TEST(Json, DepthLimitAcceptsExactlyTheLimit) {
  ASSERT_EQ(kMaxJsonDepth, 128);
  EXPECT_TRUE(parse_json(nested(kMaxJsonDepth), "deep").is_ok());
  auto r = parse_json(nested(kMaxJsonDepth + 1), "deep.json");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message(), "deep.json: JSON nested deeper than 128 levels");
}

TEST(Json, DepthLimitCountsObjectsAndArraysTogether) {
  std::string s;
  for (int i = 0; i < 65; ++i) s += "{\"a\":[";
  s += "1";
  for (int i = 0; i < 65; ++i) s += "]}";
  auto r = parse_json(s, "mixed");  // 130 levels
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("nested deeper than 128"), std::string::npos);
}

TEST(Json, HostileDepthIsRejectedWithoutRecursing) {
  // A million unclosed brackets: rejected by the pre-scan, before nlohmann builds anything.
  std::string s(1000000, '[');
  auto r = parse_json(s, "hostile");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("nested deeper than 128"), std::string::npos);
}

TEST(Json, BracketsInsideStringsDoNotCount) {
  std::string brackets(500, '[');
  std::string s = R"({"a":")" + brackets + R"(\"]]]\\","b":[[1]]})";
  auto r = parse_json(s, "strings");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)["a"].get<std::string>().size(), 500u + 5u);
}

TEST(Json, UnknownFieldsAndValuesSurviveARoundTrip) {
  const char* text = R"({"ociVersion":"1.2.0","vendor.x":{"n":[1,-2,3.5,true,null,"s"]},"process":{"fooBar":{}}})";
  auto r = parse_json(text, "doc");
  ASSERT_TRUE(r.is_ok());
  auto again = parse_json(dump_json(*r), "doc");
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(*again, *r);
  EXPECT_EQ((*r)["vendor.x"]["n"].size(), 6u);
  EXPECT_TRUE((*r)["process"]["fooBar"].is_object());
}

TEST(Json, DumpReplacesInvalidUtf8) {
  Json j = std::string("a\xff" "b");
  std::string out;
  EXPECT_NO_THROW(out = dump_json(j));
  EXPECT_EQ(out, "\"a\xEF\xBF\xBD" "b\"");
  EXPECT_EQ(dump_json(Json{{"k", 1}}, 2), "{\n  \"k\": 1\n}");
}

TEST(Json, TypeNames) {
  EXPECT_STREQ(json_type_name(Json::object()), "object");
  EXPECT_STREQ(json_type_name(Json::array()), "array");
  EXPECT_STREQ(json_type_name(Json("s")), "string");
  EXPECT_STREQ(json_type_name(Json(1)), "number");
  EXPECT_STREQ(json_type_name(Json(-1)), "number");
  EXPECT_STREQ(json_type_name(Json(1.5)), "number");
  EXPECT_STREQ(json_type_name(Json(true)), "boolean");
  EXPECT_STREQ(json_type_name(Json()), "null");
}

TEST(Json, PointerToken) {
  EXPECT_EQ(json_pointer_token("plain"), "plain");
  EXPECT_EQ(json_pointer_token("a/b"), "a~1b");
  EXPECT_EQ(json_pointer_token("a~b"), "a~0b");
  EXPECT_EQ(json_pointer_token("~/"), "~0~1");
  EXPECT_EQ(json_pointer_token(""), "");
  // The escaped token addresses the key in a real pointer.
  Json j = {{"io.k8s/x~y", 1}};
  EXPECT_EQ(j.at(Json::json_pointer("/" + json_pointer_token("io.k8s/x~y"))), 1);
}

}  // namespace
}  // namespace runguard
