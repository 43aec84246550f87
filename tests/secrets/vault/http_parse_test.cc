// The pure pieces of the HTTP client: the response parser and the address parser.
#include <gtest/gtest.h>

#include "http_response.h"
#include "url.h"

namespace runguard::secrets::vault {
namespace {

// Feeds `text` `step` bytes at a time.
Result<HttpResponse> parse(const std::string& text, size_t step = 1u << 20, bool eof = true) {
  ResponseParser p;
  for (size_t i = 0; i < text.size() && !p.complete(); i += step) {
    RG_RETURN_IF_ERROR(p.feed(std::string_view(text).substr(i, step)));
  }
  if (eof && !p.complete()) RG_RETURN_IF_ERROR(p.finish());
  if (!p.complete()) return Status(Code::kInternal, "incomplete");
  return std::move(p.response());
}

TEST(ResponseParserTest, ContentLengthBodyByteByByte) {
  auto r = parse("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}trailing junk", 1, false);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "{\"a\":1}");
  EXPECT_EQ(r->header("content-type"), "application/json");
}

TEST(ResponseParserTest, ChunkedBodyWithExtensionsAndTrailers) {
  std::string text =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: y\r\n\r\n";
  for (size_t step : {1u, 3u, 1000u}) {
    auto r = parse(text, step, false);
    ASSERT_TRUE(r.is_ok()) << step << ": " << r.status().message();
    EXPECT_EQ(r->body, "Wikipedia in\r\n\r\nchunks.");
  }
}

TEST(ResponseParserTest, BodyUntilEof) {
  auto r = parse("HTTP/1.0 200 OK\r\n\r\nhello", 2);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->body, "hello");
}

TEST(ResponseParserTest, NoContentAndInterimResponses) {
  auto r = parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nX: y\r\n\r\n", 5, false);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->body, "");
}

TEST(ResponseParserTest, Refusals) {
  EXPECT_FALSE(parse("SSH-2.0-OpenSSH\r\n\r\n").is_ok());
  EXPECT_FALSE(parse("HTTP/1.1 200 OK\r\nbad header\r\n\r\n").is_ok());
  EXPECT_FALSE(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello").is_ok());
  EXPECT_FALSE(parse("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n").is_ok());
  EXPECT_FALSE(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n").is_ok());
  EXPECT_FALSE(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_ok());
  auto truncated = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  ASSERT_FALSE(truncated.is_ok());
  EXPECT_EQ(truncated.status().code(), Code::kUnavailable);
  EXPECT_NE(truncated.status().message().find("closed before the response was complete"), std::string::npos);
  auto nothing = parse("");
  ASSERT_FALSE(nothing.is_ok());
  EXPECT_NE(nothing.status().message().find("without a response"), std::string::npos);
}

// Found with fuzz_vault: header values the parser refuses were quoted whole (up to 64 KiB, any
// bytes) in its error; now at most 40 bytes, control bytes and non-ASCII as '?'.
TEST(ResponseParserTest, RefusedValuesAreQuotedShortAndPrintable) {
  for (const std::string& head : {"HTTP/1.1 200 OK\r\nContent-Length: 1\n" + std::string(2000, 'x') + "\r\n\r\n",
                                  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\x01\x02" + std::string(3000, '\xff') + "\r\n\r\n"}) {
    ResponseParser p;
    Status s = p.feed(head);
    ASSERT_FALSE(s.is_ok());
    EXPECT_LT(s.message().size(), 128u) << s.message();
    for (char c : s.message()) EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) << s.message();
  }
}

TEST(ResponseParserTest, Limits) {
  std::string big_header = "HTTP/1.1 200 OK\r\nX: " + std::string(kMaxHeaderBytes, 'a') + "\r\n\r\n";
  auto h = parse(big_header, 4096);
  ASSERT_FALSE(h.is_ok());
  EXPECT_NE(h.status().message().find("headers larger than 64 KiB"), std::string::npos);
  auto cl = parse("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kMaxBodyBytes + 1) + "\r\n\r\n");
  ASSERT_FALSE(cl.is_ok());
  EXPECT_NE(cl.status().message().find("body larger than 4 MiB"), std::string::npos);
  ResponseParser eof_body;
  ASSERT_TRUE(eof_body.feed("HTTP/1.1 200 OK\r\n\r\n").is_ok());
  std::string mib(1u << 20, 'x');
  Status s;
  for (int i = 0; i < 5 && s.is_ok(); ++i) s = eof_body.feed(mib);
  EXPECT_FALSE(s.is_ok());
  auto chunk = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n500000\r\n");
  EXPECT_FALSE(chunk.is_ok());
}

TEST(UrlTest, BaseAddresses) {
  auto a = parse_base_url("https://vault.example:8200/");
  ASSERT_TRUE(a.is_ok()) << a.status().message();
  EXPECT_TRUE(a->tls);
  EXPECT_EQ(a->host, "vault.example");
  EXPECT_EQ(a->port, 8200);
  EXPECT_EQ(a->target, "");
  EXPECT_FALSE(a->host_is_ip());
  EXPECT_EQ(a->origin(), "https://vault.example:8200");

  auto v6 = parse_base_url("http://[::1]:8200");
  ASSERT_TRUE(v6.is_ok()) << v6.status().message();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_TRUE(v6->host_is_ip());
  EXPECT_EQ(v6->authority(), "[::1]:8200");

  auto dflt = parse_base_url("HTTPS://10.0.0.1/vault/");
  ASSERT_TRUE(dflt.is_ok());
  EXPECT_EQ(dflt->port, 443);
  EXPECT_EQ(dflt->target, "/vault");
  EXPECT_EQ(parse_base_url("http://localhost")->port, 80);
}

TEST(UrlTest, RefusedAddresses) {
  for (const char* bad : {"vault:8200", "ftp://x", "https://", "https://u@h", "https://h:0", "https://h:70000", "https://h:x",
                          "https://[::1", "https://[nope]", "https://h?x=1", "https://h#f", "https://h o"}) {
    EXPECT_FALSE(parse_base_url(bad).is_ok()) << bad;
  }
  auto plain = parse_base_url("http://10.1.2.3:8200");
  ASSERT_FALSE(plain.is_ok());
  EXPECT_NE(plain.status().message().find("loopback"), std::string::npos);
  EXPECT_TRUE(parse_base_url("http://127.0.0.5:8200").is_ok());
}

TEST(UrlTest, Loopback) {
  EXPECT_TRUE(is_loopback_ip("127.0.0.1"));
  EXPECT_TRUE(is_loopback_ip("127.255.0.1"));
  EXPECT_TRUE(is_loopback_ip("::1"));
  EXPECT_TRUE(is_loopback_ip("::ffff:127.0.0.1"));
  EXPECT_FALSE(is_loopback_ip("128.0.0.1"));
  EXPECT_FALSE(is_loopback_ip("::2"));
  EXPECT_FALSE(is_loopback_ip("localhost"));
}

TEST(UrlTest, Locations) {
  auto l = parse_location("https://active.example:8200/v1/kv/data/a?version=2");
  ASSERT_TRUE(l.is_ok());
  EXPECT_EQ(l->target, "/v1/kv/data/a?version=2");
  EXPECT_EQ(parse_location("http://127.0.0.1:1")->target, "/");
}

// Found writing fuzz_vault: an IPv6 literal was checked by inet_pton on a C string, so a NUL
// hid what followed it ("[::1<NUL><CR><LF>X: y]" parsed, with the CRLF in the Host header); and a
// Location's path went into the request line whatever bytes it held (a lone LF, a space).
TEST(UrlTest, HostAndPathBytesThatWouldSplitTheRequest) {
  const std::string nul_host("https://[::1\0\r\nX-Injected: 1]:8200/v1/x", 39);
  ASSERT_EQ(nul_host.size(), 39u);
  for (const std::string& bad : {nul_host, std::string("http://[::1\r\n]:8200"), std::string("https://[::1 ]/")}) {
    EXPECT_FALSE(parse_location(bad).is_ok()) << bad;
    auto base = parse_base_url(bad);
    ASSERT_FALSE(base.is_ok()) << bad;
    EXPECT_EQ(base.status().message().find('\0'), std::string::npos);
    EXPECT_EQ(base.status().message().find('\n'), std::string::npos);
  }
  for (const char* bad : {"https://active:8200/v1/x\nX-Injected: 1", "https://active:8200/v1/a b", "https://active:8200/v1/\x7f",
                          "https://active:8200/v1/x\r"}) {
    EXPECT_FALSE(parse_location(bad).is_ok()) << bad;
    EXPECT_FALSE(parse_base_url(bad).is_ok()) << bad;
  }
  EXPECT_TRUE(is_request_target_text("/v1/kv/data/a%20b?version=2"));
  EXPECT_FALSE(is_request_target_text("/v1/a\nb"));
  EXPECT_TRUE(parse_location("https://[::ffff:127.0.0.1]:8200/v1/x").is_ok());
}

}  // namespace
}  // namespace runguard::secrets::vault
