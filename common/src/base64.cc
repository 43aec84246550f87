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

// 1 for the standard alphabet's own characters, 2 for the URL-safe one's, 0 for the shared ones.
constexpr std::array<uint8_t, 256> alphabet_table() {
  std::array<uint8_t, 256> t{};
  t['+'] = 1;
  t['/'] = 1;
  t['-'] = 2;
  t['_'] = 2;
  return t;
}
constexpr auto kAlphabet = alphabet_table();

Result<std::string> base64_decode(std::string_view text, std::string_view what) {
  auto bad = [&](const std::string& why) { return invalid(std::string(what) + ": not valid base64 (" + why + ")"); };
  auto bad_char = [&](size_t i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    return kDecode[c] == 64 ? bad("padding inside the text at offset " + std::to_string(i))
                            : bad("character " + std::to_string(static_cast<int>(c)) + " at offset " + std::to_string(i));
  };
  size_t end = text.size();
  size_t padding = 0;
  while (end > 0 && text[end - 1] == '=' && padding < 2) {
    --end;
    ++padding;
  }
  if (padding > 0 && text.size() % 4 != 0) return bad("padded text must be a multiple of 4 characters");
  if (end % 4 == 1) return bad("length " + std::to_string(text.size()) + " is impossible");
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  std::string out(end / 4 * 3 + 2, '\0');
  size_t o = 0;
  uint8_t alphabets = 0;
  size_t i = 0;
  // Four characters to three bytes; any padding or foreign character (>= 64) stops the fast path.
  for (; i + 4 <= end; i += 4) {
    uint8_t a = kDecode[in[i]], b = kDecode[in[i + 1]], c = kDecode[in[i + 2]], d = kDecode[in[i + 3]];
    if ((a | b | c | d) >= 64) break;
    alphabets |= kAlphabet[in[i]] | kAlphabet[in[i + 1]] | kAlphabet[in[i + 2]] | kAlphabet[in[i + 3]];
    uint32_t n = (uint32_t{a} << 18) | (uint32_t{b} << 12) | (uint32_t{c} << 6) | d;
    out[o++] = static_cast<char>(n >> 16);
    out[o++] = static_cast<char>(n >> 8);
    out[o++] = static_cast<char>(n);
  }
  uint32_t acc = 0;
  int bits = 0;
  for (; i < end; ++i) {
    uint8_t v = kDecode[in[i]];
    if (v >= 64) return bad_char(i);
    alphabets |= kAlphabet[in[i]];
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (alphabets == 3) return bad("mixes the standard and the URL-safe alphabet");
  // The unused low bits of the last character must be zero (canonical encoding).
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return bad("non-zero trailing bits");
  out.resize(o);
  return out;
}

}  // namespace runguard
