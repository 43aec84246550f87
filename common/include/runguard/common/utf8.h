// UTF-8 hygiene: one set of rules for everything runguard reads from untrusted input.
//
// Every byte that does not start a valid sequence becomes U+FFFD, by Go's utf8.DecodeRune rules
// (no overlongs, no surrogates, nothing above U+10FFFF), as runc reads it. parse_json() repairs
// documents with these; the agent repairs what it keeps verbatim (an event line, a decision.json's
// text) before it goes into a protobuf `string` (proto3 requires valid UTF-8), a metric label or
// a log line.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace runguard {

bool valid_utf8(std::string_view s);
// Replaces invalid bytes with U+FFFD in place; leaves a valid string untouched (no copy).
void repair_utf8(std::string& s);
// `s` repaired (a copy).
std::string repaired_utf8(std::string_view s);
// The longest prefix of `s` of at most `max_bytes` bytes that does not end inside a UTF-8
// sequence (invalid bytes count as one-byte characters).
std::string_view utf8_prefix(std::string_view s, size_t max_bytes);

}  // namespace runguard
