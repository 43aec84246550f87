// Heuristics for credentials in environment variables (CIS Docker 4.10). Names are checked for
// words that mark a secret; values for the shapes of well-known credential formats. Variables
// that point at a secret (FOO_PASSWORD_FILE=/run/secrets/x) are fine: that is the recommended way.
#include <array>
#include <cctype>
#include <string_view>

#include "eval.h"
#include "runguard/common/strings.h"

namespace runguard::policy::internal {
namespace {

constexpr std::array<std::string_view, 14> kSecretWords = {
    "PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "API_KEY", "APIKEY", "ACCESS_KEY",
    "PRIVATE_KEY", "CREDENTIAL", "AUTH_KEY", "CLIENT_SECRET", "SIGNING_KEY", "ENCRYPTION_KEY"};

// Suffixes naming a reference to a secret rather than the secret itself.
constexpr std::array<std::string_view, 9> kReferenceSuffixes = {"_FILE", "_PATH", "_DIR", "_FILENAME", "_NAME",
                                                                "_URL", "_ENDPOINT", "_LOCATION", "_TYPE"};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool all_of_class(std::string_view s, bool (*pred)(int)) {
  for (char c : s) {
    if (!pred(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool upper_or_digit(int c) { return std::isupper(c) || std::isdigit(c); }
bool token_char(int c) { return std::isalnum(c) || c == '_' || c == '-'; }

bool value_is_credential(std::string_view v) {
  if (v.find("-----BEGIN") != std::string_view::npos && v.find("PRIVATE KEY") != std::string_view::npos) return true;
  // AWS access key ids: AKIA/ASIA + 16 upper-case alphanumerics.
  for (std::string_view p : {"AKIA", "ASIA"}) {
    auto pos = v.find(p);
    if (pos != std::string_view::npos && v.size() >= pos + 20 && all_of_class(v.substr(pos + 4, 16), upper_or_digit)) return true;
  }
  // Prefixed tokens: GitHub, GitLab, Slack, Stripe, Google API keys.
  for (std::string_view p : {"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "xoxb-", "xoxp-", "xoxa-",
                             "xoxs-", "sk_live_", "AIza"}) {
    if (v.rfind(p, 0) == 0 && v.size() >= p.size() + 16 && all_of_class(v.substr(p.size()), token_char)) return true;
  }
  // JWTs: three base64url parts, the first an encoded JSON header.
  if (v.rfind("eyJ", 0) == 0) {
    size_t dots = 0;
    for (char c : v) dots += c == '.';
    if (dots == 2 && v.size() > 30) return true;
  }
  // URLs with a password: scheme://user:pass@host
  if (auto scheme = v.find("://"); scheme != std::string_view::npos) {
    auto at_sign = v.find('@', scheme);
    auto colon = v.find(':', scheme + 3);
    auto slash = v.find('/', scheme + 3);
    if (at_sign != std::string_view::npos && colon != std::string_view::npos && colon < at_sign &&
        (slash == std::string_view::npos || at_sign < slash)) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string env_name(const std::string& entry) {
  auto eq = entry.find('=');
  return eq == std::string::npos ? "" : entry.substr(0, eq);
}

bool looks_like_secret(const std::string& entry) {
  auto eq = entry.find('=');
  if (eq == std::string::npos) return false;
  std::string name = to_upper(std::string_view(entry).substr(0, eq));
  std::string_view value = std::string_view(entry).substr(eq + 1);
  if (value.empty()) return false;
  if (value_is_credential(value)) return true;
  for (auto suffix : kReferenceSuffixes) {
    if (ends_with(name, suffix)) return false;
  }
  for (auto word : kSecretWords) {
    if (name.find(word) != std::string::npos) return true;
  }
  return false;
}

}  // namespace runguard::policy::internal
