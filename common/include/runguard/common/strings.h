// Small string utilities shared by the policy core and the executables. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runguard/common/status.h"

namespace runguard {

// The candidate closest to `word` by edit distance (case-insensitive), if it is close enough to
// be a plausible typo; used for "did you mean ...?" hints.
std::optional<std::string> closest_match(std::string_view word, const std::vector<std::string>& candidates);

// " (did you mean X?)" or "" when nothing is close.
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

// Shell-style glob (fnmatch(3) without FNM_PATHNAME: '*' also crosses '/').
bool glob_match(std::string_view pattern, std::string_view text);

// Parses a byte size: a non-negative integer with an optional binary (Ki, Mi, Gi, Ti) or decimal
// (k, K, M, G, T) suffix, as Kubernetes quantities. "512Mi" -> 536870912.
Result<int64_t> parse_byte_size(std::string_view text);

// "250ms", "5s", "10m", "1h" (one number, one unit) -> milliseconds. Units: ms, s, m, h.
Result<int64_t> parse_duration_ms(std::string_view text);

// Formats bytes in the largest exact binary unit: 536870912 -> "512Mi".
std::string format_byte_size(int64_t bytes);

std::string to_upper(std::string_view s);
std::string to_lower(std::string_view s);
std::string join(const std::vector<std::string>& items, std::string_view sep);
// Splits on every `sep`: "a::b" -> {"a", "", "b"}; "" -> {""}.
std::vector<std::string> split(std::string_view s, char sep);
// Decimal digits only, 0..4294967295; nullopt for anything else.
std::optional<uint32_t> parse_u32(std::string_view s);

// Lexically normalises an absolute path: collapses "//", "/./", resolves "/../", strips a trailing
// slash. Does not touch the filesystem. "" stays "".
std::string normalize_path(std::string_view path);

// True when `path` equals `dir` or lies below it. Both must already be normalised
// (normalize_path); this is a string comparison, so callers normalise once, not per check.
bool path_within(std::string_view path, std::string_view dir);

}  // namespace runguard
