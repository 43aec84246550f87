// Text hygiene for what the agent copies out of untrusted input (frames, the events file, decision
// records on disk) into protobuf `string` fields, metric labels and logs.
//
// proto3 `string` fields must hold valid UTF-8: a client's parser rejects the whole message
// otherwise. parse_json() already repairs the strings inside a document; what is kept verbatim
// (an event line, a decision.json's text) and what comes from paths is repaired here, the same
// way (every byte that does not start a valid sequence becomes U+FFFD; Go's rules: no overlongs,
// no surrogates, nothing above U+10FFFF).
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace runguard::agent {

bool valid_utf8(std::string_view s);
// Replaces invalid bytes with U+FFFD in place; leaves a valid string untouched (no copy).
void repair_utf8(std::string& s);
// `s` repaired (a copy).
std::string repaired_utf8(std::string_view s);
// The longest prefix of `s` of at most `max_bytes` bytes that does not end inside a UTF-8
// sequence (invalid bytes count as one-byte characters).
std::string_view utf8_prefix(std::string_view s, size_t max_bytes);

}  // namespace runguard::agent
