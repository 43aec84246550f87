#include "runguard/common/base64.h"

#include <array>
#include <cstdint>

namespace runguard {
namespace {

constexpr char kStandard[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// 0..63 for either alphabet, 64 for padding, 255 for anything else.
constexpr std::array<uint8_t, 256> decode_table() {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = 255;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kStandard[i])] = static_cast<uint8_t>(i);
  t['-'] = 62;
  t['_'] = 63;
  t['='] = 64;
  return t;
}
constexpr auto kDecode = decode_table();

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8) | static_cast<uint8_t>(bytes[i + 2]);
    out += kStandard[(n >> 18) & 63];
    out += kStandard[(n >> 12) & 63];
    out += kStandard[(n >> 6) & 63];
    out += kStandard[n & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (rest == 2) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += kStandard[(n >> 18) & 63];
    out += kStandard[(n >> 12) & 63];
    out += rest == 2 ? kStandard[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

Result<std::string> base64_decode(std::string_view text, std::string_view what) {
  auto bad = [&](const std::string& why) { return invalid(std::string(what) + ": not valid base64 (" + why + ")"); };
  size_t end = text.size();
  size_t padding = 0;
  while (end > 0 && text[end - 1] == '=' && padding < 2) {
    --end;
    ++padding;
  }
  if (padding > 0 && text.size() % 4 != 0) return bad("padded text must be a multiple of 4 characters");
  if (end % 4 == 1) return bad("length " + std::to_string(text.size()) + " is impossible");
  bool standard = false, url = false;
  std::string out;
  out.reserve(end / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < end; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    uint8_t v = kDecode[c];
    if (v == 64) return bad("padding inside the text at offset " + std::to_string(i));
    if (v == 255) return bad("character " + std::to_string(static_cast<int>(c)) + " at offset " + std::to_string(i));
    if (c == '+' || c == '/') standard = true;
    if (c == '-' || c == '_') url = true;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (standard && url) return bad("mixes the standard and the URL-safe alphabet");
  // The unused low bits of the last character must be zero (canonical encoding).
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return bad("non-zero trailing bits");
  return out;
}

}  // namespace runguard
