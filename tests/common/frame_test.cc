// The agent's internal protocol codec: encoding, incremental decoding across arbitrary splits,
// and every malformed frame the decoder must refuse.

#include "runguard/common/frame.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "runguard/common/strings.h"
#include <algorithm>

namespace {

using runguard::Code;
using runguard::Json;
namespace frame = runguard::frame;

std::string header(uint32_t n) {
  std::string h(4, '\0');
  h[0] = char(n >> 24);
  h[1] = char(n >> 16);
  h[2] = char(n >> 8);
  h[3] = char(n);
  return h;
}

TEST(Frame, EncodeIsBigEndianLengthThenCompactJson) {
  auto f = frame::encode(frame::message("ping"));
  ASSERT_TRUE(f.is_ok());
  std::string payload = R"({"op":"ping","v":1})";
  EXPECT_EQ(*f, header(uint32_t(payload.size())) + payload);
}

TEST(Frame, EncodeRefusesOversizedPayload) {
  Json big = frame::message("event", {{"event", std::string(frame::kMaxFrameBytes, 'x')}});
  auto f = frame::encode(big);
  ASSERT_FALSE(f.is_ok());
  EXPECT_NE(f.status().message().find("exceeds the limit"), std::string::npos);
}

TEST(Frame, DecodesAcrossEverySplit) {
  std::string stream;
  for (int i = 0; i < 3; ++i) stream += *frame::encode(frame::message("event", {{"n", i}}));
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    frame::FrameDecoder d;
    d.feed(std::string_view(stream).substr(0, cut));
    int seen = 0;
    auto drain = [&] {
      for (;;) {
        auto m = d.next();
        ASSERT_TRUE(m.is_ok()) << m.status().message();
        if (!m->has_value()) break;
        EXPECT_EQ((**m)["n"], seen);
        ++seen;
      }
    };
    drain();
    d.feed(std::string_view(stream).substr(cut));
    drain();
    EXPECT_EQ(seen, 3) << "cut at " << cut;
    EXPECT_EQ(d.pending(), 0u);
  }
}

TEST(Frame, ByteAtATimeManyFrames) {
  std::mt19937 rng(7);
  std::string stream;
  const int n = 2000;
  for (int i = 0; i < n; ++i) stream += *frame::encode(frame::message("event", {{"n", i}, {"pad", std::string(rng() % 300, 'p')}}));
  frame::FrameDecoder d;
  int seen = 0;
  size_t pos = 0;
  while (pos < stream.size()) {
    size_t len = std::min<size_t>(1 + rng() % 700, stream.size() - pos);
    d.feed(std::string_view(stream).substr(pos, len));
    pos += len;
    for (;;) {
      auto m = d.next();
      ASSERT_TRUE(m.is_ok());
      if (!m->has_value()) break;
      ASSERT_EQ((**m)["n"], seen);
      ++seen;
    }
  }
  EXPECT_EQ(seen, n);
}

TEST(Frame, RefusesMalformedFrames) {
  struct Case {
    std::string bytes;
    const char* contains;
  } cases[] = {
      {header(0), "length 0"},
      {header(frame::kMaxFrameBytes + 1), "exceeds the limit"},
      {header(0xffffffffu), "exceeds the limit"},
      {header(3) + "{x}", "frame"},
      {header(2) + "[]", "expected an object"},
      {header(4) + "null", "expected an object"},
  };
  for (const auto& c : cases) {
    frame::FrameDecoder d;
    d.feed(c.bytes);
    auto m = d.next();
    ASSERT_FALSE(m.is_ok()) << c.contains;
    EXPECT_EQ(m.status().code(), Code::kInvalidArgument);
    EXPECT_NE(m.status().message().find(c.contains), std::string::npos) << m.status().message();
  }
}

TEST(Frame, TruncatedFrameWaitsForMore) {
  std::string f = *frame::encode(frame::message("ping"));
  frame::FrameDecoder d;
  d.feed(f.substr(0, f.size() - 1));
  auto m = d.next();
  ASSERT_TRUE(m.is_ok());
  EXPECT_FALSE(m->has_value());
  EXPECT_EQ(d.pending(), f.size() - 1);
}

TEST(Frame, SmallerLimitPerDecoder) {
  frame::FrameDecoder d(16);
  d.feed(*frame::encode(frame::message("event", {{"x", std::string(64, 'a')}})));
  EXPECT_FALSE(d.next().is_ok());
}

TEST(Frame, Envelope) {
  EXPECT_TRUE(frame::check_envelope(frame::message("ping")).is_ok());
  EXPECT_EQ(frame::check_envelope(Json{{"op", "ping"}}).code(), Code::kInvalidArgument);
  EXPECT_EQ(frame::check_envelope(Json{{"v", "1"}, {"op", "ping"}}).code(), Code::kInvalidArgument);
  EXPECT_EQ(frame::check_envelope(Json{{"v", 1}}).code(), Code::kInvalidArgument);
  EXPECT_EQ(frame::check_envelope(Json{{"v", 1}, {"op", ""}}).code(), Code::kInvalidArgument);
  auto v2 = frame::check_envelope(Json{{"v", 2}, {"op", "ping"}});
  EXPECT_EQ(v2.code(), Code::kUnavailable);
  EXPECT_NE(v2.message().find("protocol version 2 is not supported (this agent speaks 1)"), std::string::npos);
}

TEST(Frame, Replies) {
  EXPECT_EQ(frame::ok_reply({{"digest", "sha256:x"}}), (Json{{"v", 1}, {"ok", true}, {"digest", "sha256:x"}}));
  EXPECT_EQ(frame::error_reply("no"), (Json{{"v", 1}, {"ok", false}, {"error", "no"}}));
}

TEST(Duration, Parses) {
  EXPECT_EQ(*runguard::parse_duration_ms("250ms"), 250);
  EXPECT_EQ(*runguard::parse_duration_ms("5s"), 5000);
  EXPECT_EQ(*runguard::parse_duration_ms("10m"), 600000);
  EXPECT_EQ(*runguard::parse_duration_ms("1h"), 3600000);
  for (const char* bad : {"", "5", "s", "1.5s", "-1s", "5 s", "5sec", "9999999999999s"}) {
    EXPECT_FALSE(runguard::parse_duration_ms(bad).is_ok()) << bad;
  }
}

}  // namespace
