#include "purl.h"

#include "runguard/common/strings.h"

namespace runguard::attest::detail {

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::optional<Purl> parse_purl(std::string_view text) {
  if (text.size() < 4 || to_lower(text.substr(0, 4)) != "pkg:") return std::nullopt;
  std::string_view rest = text.substr(4);
  while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  if (size_t hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  if (size_t q = rest.find('?'); q != std::string_view::npos) rest = rest.substr(0, q);
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 >= rest.size()) return std::nullopt;
  Purl p;
  p.type = to_lower(rest.substr(0, slash));
  std::string_view path = rest.substr(slash + 1);
  if (size_t at = path.rfind('@'); at != std::string_view::npos) {
    p.version = percent_decode(path.substr(at + 1));
    path = path.substr(0, at);
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.empty()) return std::nullopt;
  p.path = percent_decode(path);
  return p;
}

bool purl_matches(const Purl& pattern, const Purl& candidate) {
  if (pattern.type != candidate.type || pattern.path != candidate.path) return false;
  return pattern.version.empty() || pattern.version == candidate.version;
}

}  // namespace runguard::attest::detail
