// common/base64.h: RFC 4648 vectors, both alphabets, canonical-encoding checks, round trips of
// every byte value, and error messages that name the field but never quote the text (it may be
// a secret's value on the wire).

#include "runguard/common/base64.h"

#include <gtest/gtest.h>

#include <ostream>
#include <random>
#include <string>

namespace runguard {
namespace {

struct Vector {
  const char* name;
  std::string bytes;
  std::string encoded;
};
void PrintTo(const Vector& v, std::ostream* os) { *os << v.name; }

const Vector kVectors[] = {
    // RFC 4648 section 10
    {"empty", "", ""},
    {"f", "f", "Zg=="},
    {"fo", "fo", "Zm8="},
    {"foo", "foo", "Zm9v"},
    {"foob", "foob", "Zm9vYg=="},
    {"fooba", "fooba", "Zm9vYmE="},
    {"foobar", "foobar", "Zm9vYmFy"},
    // the two characters that differ between the alphabets, and the extremes
    {"plus_slash", "\xfb\xff\xbf", "+/+/"},
    {"zero_bytes", std::string("\0\0\0", 3), "AAAA"},
    {"one_zero_byte", std::string("\0", 1), "AA=="},
    {"all_ones", "\xff\xff\xff", "////"},
    {"high_byte_pad", "\xff", "/w=="},
    {"binary_with_nul", std::string("a\0b\nc", 5), "YQBiCmM="},
};

class Base64VectorTest : public ::testing::TestWithParam<Vector> {};

TEST_P(Base64VectorTest, EncodesToTheRfcText) { EXPECT_EQ(base64_encode(GetParam().bytes), GetParam().encoded); }

TEST_P(Base64VectorTest, DecodesPaddedAndUnpadded) {
  const Vector& v = GetParam();
  auto padded = base64_decode(v.encoded, "field");
  ASSERT_TRUE(padded.is_ok()) << padded.status().message();
  EXPECT_EQ(*padded, v.bytes);
  std::string unpadded = v.encoded.substr(0, v.encoded.find('='));
  auto r = base64_decode(unpadded, "field");
  ASSERT_TRUE(r.is_ok()) << unpadded << ": " << r.status().message();
  EXPECT_EQ(*r, v.bytes);
}

// DSSE envelopes and JWT-like payloads use the URL-safe alphabet: '-' for '+', '_' for '/'.
TEST_P(Base64VectorTest, DecodesTheUrlSafeAlphabet) {
  const Vector& v = GetParam();
  std::string url = v.encoded;
  for (char& c : url) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  for (const std::string& text : {url, url.substr(0, url.find('='))}) {
    auto r = base64_decode(text, "field");
    ASSERT_TRUE(r.is_ok()) << text << ": " << r.status().message();
    EXPECT_EQ(*r, v.bytes) << text;
  }
}

INSTANTIATE_TEST_SUITE_P(Base64, Base64VectorTest, ::testing::ValuesIn(kVectors),
                         [](const auto& info) { return std::string(info.param.name); });

struct BadCase {
  const char* name;
  std::string text;
  const char* why;  // a fragment of the reason
};
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

const BadCase kBad[] = {
    {"one_char", "Z", "length 1 is impossible"},
    {"five_chars", "Zm9vY", "length 5 is impossible"},
    {"nine_chars_padded_wrong", "Zm9vYmFyY===", "padding inside the text"},
    {"padded_not_multiple_of_4", "Zg=", "multiple of 4"},
    {"padded_five", "Zm9v=", "multiple of 4"},
    {"only_padding", "====", "padding inside the text"},
    {"three_pads", "Z===", "padding inside the text"},
    {"single_pad_char", "=", "multiple of 4"},
    {"padding_in_the_middle", "Zg==Zg==", "padding inside the text at offset 2"},
    {"pad_then_char", "Z=g=", "padding inside the text at offset 1"},
    {"bang", "Zm9v!A==", "character 33 at offset 4"},
    {"space", "Zm9 vA", "character 32 at offset 3"},
    {"newline", "Zm9v\nA==", "character 10 at offset 4"},
    {"nul", std::string("Zm\0v", 4), "character 0 at offset 2"},
    {"high_byte", "Zm9v\xc3\xa9", "character 195 at offset 4"},
    {"dot", "Zm.v", "character 46 at offset 2"},
    {"mixed_alphabets", "-/8A", "mixes the standard and the URL-safe alphabet"},
    {"mixed_alphabets_far_apart", "+AAAAAAAAAA_", "mixes"},
    // The unused low bits of the last character must be zero: "Zh==" and "Zg==" would otherwise
    // both decode to "f", and two encodings of one signature payload are one too many.
    {"nonzero_trailing_bits_2", "Zh==", "non-zero trailing bits"},
    {"nonzero_trailing_bits_2_unpadded", "Zh", "non-zero trailing bits"},
    {"nonzero_trailing_bits_3", "Zm9=", "non-zero trailing bits"},
    {"nonzero_trailing_bits_3_unpadded", "Zm9", "non-zero trailing bits"},
};

class Base64BadTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(Base64BadTest, IsRefusedNamingTheField) {
  const BadCase& c = GetParam();
  auto r = base64_decode(c.text, "payload.signatures[0].sig");
  ASSERT_FALSE(r.is_ok()) << c.name << " decoded to " << r->size() << " bytes";
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  const std::string& m = r.status().message();
  EXPECT_EQ(m.rfind("payload.signatures[0].sig: not valid base64", 0), 0u) << m;
  EXPECT_NE(m.find(c.why), std::string::npos) << m;
}

INSTANTIATE_TEST_SUITE_P(Base64, Base64BadTest, ::testing::ValuesIn(kBad),
                         [](const auto& info) { return std::string(info.param.name); });

// The text may be a secret (a FetchReply value): the message says where, never what.
TEST(Base64, ErrorNeverQuotesTheText) {
  const std::string secret = "c3VwZXJzZWNyZXRwYXNzd29yZA";  // valid prefix
  for (const std::string& text : {secret + "!", secret + "===", secret + "-+", secret + "\n", "Zg" + secret + "=", secret + "x"}) {
    auto r = base64_decode(text, "value");
    ASSERT_FALSE(r.is_ok()) << text;
    EXPECT_EQ(r.status().message().find("c3VwZXJzZWNyZXRwYXNz"), std::string::npos) << r.status().message();
  }
}

TEST(Base64, EveryByteValueRoundTrips) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t shift = 0; shift < 3; ++shift) {  // each byte in each position of a 3-byte group
    std::string bytes = all.substr(shift) + all.substr(0, shift);
    std::string text = base64_encode(bytes);
    EXPECT_EQ(text.size() % 4, 0u);
    EXPECT_EQ(text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="), std::string::npos);
    auto r = base64_decode(text, "x");
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ(*r, bytes);
  }
}

TEST(Base64, RandomLengthsRoundTripAndEncodingIsCanonical) {
  std::mt19937 rng(42);
  for (size_t len = 0; len < 200; ++len) {
    std::string bytes(len, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
    std::string text = base64_encode(bytes);
    ASSERT_EQ(text.size(), (len + 2) / 3 * 4) << len;
    auto r = base64_decode(text, "x");
    ASSERT_TRUE(r.is_ok()) << len << ": " << r.status().message();
    EXPECT_EQ(*r, bytes) << len;
    // Encoding what was decoded gives the same text back: one bytes, one text.
    EXPECT_EQ(base64_encode(*r), text);
  }
}

TEST(Base64, LargeValueRoundTrips) {
  std::string bytes(256u << 10, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 7919) & 0xff);
  auto r = base64_decode(base64_encode(bytes), "x");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(*r, bytes);
}

}  // namespace
}  // namespace runguard
