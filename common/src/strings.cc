#include "runguard/common/strings.h"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <climits>

namespace runguard {
namespace {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                            std::tolower(static_cast<unsigned char>(b[j - 1]))
                        ? 0
                        : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

std::optional<std::string> closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  size_t best = SIZE_MAX;
  const std::string* best_candidate = nullptr;
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best) {
      best = d;
      best_candidate = &c;
    }
  }
  // Plausible typo: at most a third of the word differs (and at least one edit is tolerated).
  size_t limit = std::max<size_t>(1, (word.size() + 2) / 3);
  if (best_candidate == nullptr || best > limit) return std::nullopt;
  return *best_candidate;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  auto m = closest_match(word, candidates);
  return m ? " (did you mean " + *m + "?)" : "";
}

bool glob_match(std::string_view pattern, std::string_view text) {
  return fnmatch(std::string(pattern).c_str(), std::string(text).c_str(), 0) == 0;
}

Result<int64_t> parse_byte_size(std::string_view text) {
  std::string_view digits = text;
  size_t n = 0;
  while (n < digits.size() && std::isdigit(static_cast<unsigned char>(digits[n]))) ++n;
  if (n == 0) return invalid("\"" + std::string(text) + "\" is not a size (use a number with an optional unit: 512Mi, 8Gi, 1G)");
  std::string_view suffix = text.substr(n);
  struct Unit { std::string_view name; int64_t factor; };
  static constexpr Unit kUnits[] = {
      {"", 1},          {"Ki", 1LL << 10}, {"Mi", 1LL << 20}, {"Gi", 1LL << 30}, {"Ti", 1LL << 40},
      {"k", 1000},      {"K", 1000},       {"M", 1000000},    {"G", 1000000000}, {"T", 1000000000000},
  };
  const Unit* unit = nullptr;
  for (const auto& u : kUnits) {
    if (u.name == suffix) unit = &u;
  }
  if (unit == nullptr) {
    return invalid("\"" + std::string(text) + "\" has an unknown size unit \"" + std::string(suffix) +
                   "\" (use Ki, Mi, Gi, Ti or k, M, G, T)");
  }
  int64_t value = 0;
  for (size_t i = 0; i < n; ++i) {
    int d = digits[i] - '0';
    if (value > (INT64_MAX - d) / 10) return invalid("\"" + std::string(text) + "\" is too large");
    value = value * 10 + d;
  }
  if (value > INT64_MAX / unit->factor) return invalid("\"" + std::string(text) + "\" is too large");
  return value * unit->factor;
}

Result<int64_t> parse_duration_ms(std::string_view text) {
  size_t n = 0;
  while (n < text.size() && std::isdigit(static_cast<unsigned char>(text[n]))) ++n;
  if (n == 0 || n > 12) return invalid("\"" + std::string(text) + "\" is not a duration (use a number with a unit: 250ms, 5s, 10m, 1h)");
  int64_t value = std::stoll(std::string(text.substr(0, n)));
  std::string_view unit = text.substr(n);
  int64_t factor = 0;
  if (unit == "ms") factor = 1;
  else if (unit == "s") factor = 1000;
  else if (unit == "m") factor = 60 * 1000;
  else if (unit == "h") factor = 3600 * 1000;
  else return invalid("\"" + std::string(text) + "\" has no or an unknown duration unit (use ms, s, m or h)");
  return value * factor;
}

std::string format_byte_size(int64_t bytes) {
  static constexpr std::pair<const char*, int64_t> kUnits[] = {
      {"Ti", 1LL << 40}, {"Gi", 1LL << 30}, {"Mi", 1LL << 20}, {"Ki", 1LL << 10}};
  if (bytes > 0) {
    for (auto [name, factor] : kUnits) {
      if (bytes % factor == 0) return std::to_string(bytes / factor) + name;
    }
  }
  return std::to_string(bytes);
}

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

std::string normalize_path(std::string_view path) {
  if (path.empty()) return "";
  bool absolute = path.front() == '/';
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view part = path.substr(i, j - i);
    if (part.empty() || part == ".") {
      // skip
    } else if (part == "..") {
      if (!parts.empty() && parts.back() != "..") parts.pop_back();
      else if (!absolute) parts.push_back(part);
    } else {
      parts.push_back(part);
    }
    i = j + 1;
  }
  std::string out = absolute ? "/" : "";
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k) out += '/';
    out += parts[k];
  }
  return out.empty() ? "." : out;
}

bool path_within(std::string_view p, std::string_view d) {
  if (d == "/") return !p.empty() && p.front() == '/';
  return p == d || (p.size() > d.size() && p.substr(0, d.size()) == d && p[d.size()] == '/');
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.emplace_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

std::optional<uint32_t> parse_u32(std::string_view s) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(v);
}

}  // namespace runguard
