// Heuristics for credentials in environment variables (CIS Docker 4.10). Names are checked for
// words that mark a secret; values for the shapes of well-known credential formats. Variables
// that point at a secret (FOO_PASSWORD_FILE=/run/secrets/x) are fine: that is the recommended way.
#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

#include "eval.h"
#include "runguard/common/strings.h"

namespace runguard::policy::internal {
namespace {

// Words of a name (split at '_', '-', '.') that mark a credential: a word equal to or ending in
// one of these (DB_PASSWORD, DBPASSWORD, GITHUB_TOKEN), or equal to PASS / PWD after a qualifier
// (DB_PASS); and KEY / KEYS after one of kKeyQualifiers (API_KEY, AWS_ACCESS_KEY). Whole words,
// so TOKENIZERS_PARALLELISM or KEYCLOAK_REALM are not secrets.
constexpr std::array<std::string_view, 8> kSecretWordEndings = {
    "PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "APIKEY", "CREDENTIAL", "CREDENTIALS"};
constexpr std::array<std::string_view, 10> kKeyQualifiers = {"API",     "ACCESS", "PRIVATE", "AUTH",   "SIGNING",
                                                            "ENCRYPTION", "SECRET", "MASTER", "CLIENT", "LICENSE"};

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

bool has_prefix(std::string_view v, std::string_view p) { return v.size() >= p.size() && v.substr(0, p.size()) == p; }

// Each check is guarded by a cheap test (first character, length, a single memchr): this runs for
// every variable of every container, and Kubernetes service links make hundreds of them.
bool value_is_credential(std::string_view v) {
  if (v.size() < 16) return false;  // every shape below is longer
  if (v.size() > 40 && v.find("-----BEGIN") != std::string_view::npos && v.find("PRIVATE KEY") != std::string_view::npos) {
    return true;
  }
  // AWS access key ids: AKIA/ASIA + 16 upper-case alphanumerics.
  for (size_t pos = v.find("AKIA"); pos != std::string_view::npos; pos = v.find("AKIA", pos + 1)) {
    if (v.size() >= pos + 20 && all_of_class(v.substr(pos + 4, 16), upper_or_digit)) return true;
  }
  for (size_t pos = v.find("ASIA"); pos != std::string_view::npos; pos = v.find("ASIA", pos + 1)) {
    if (v.size() >= pos + 20 && all_of_class(v.substr(pos + 4, 16), upper_or_digit)) return true;
  }
  // Prefixed tokens: GitHub, GitLab, Slack, Stripe, Google API keys; JWTs.
  static constexpr std::string_view kPrefixes[] = {"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-",
                                                   "xoxb-", "xoxp-", "xoxa-", "xoxs-", "sk_live_", "AIza"};
  if (std::string_view("gxsA").find(v[0]) != std::string_view::npos) {
    for (std::string_view p : kPrefixes) {
      if (has_prefix(v, p) && v.size() >= p.size() + 16 && all_of_class(v.substr(p.size()), token_char)) return true;
    }
  }
  if (has_prefix(v, "eyJ") && v.size() > 30 && std::count(v.begin(), v.end(), '.') == 2) return true;
  // URLs with a password: scheme://user:pass@host
  if (auto at_sign = v.find('@'); at_sign != std::string_view::npos) {
    auto scheme = v.find("://");
    if (scheme != std::string_view::npos && scheme < at_sign) {
      auto colon = v.find(':', scheme + 3);
      auto slash = v.find('/', scheme + 3);
      if (colon < at_sign && (slash == std::string_view::npos || at_sign < slash)) return true;
    }
  }
  return false;
}

// Names that hold a credential (see kSecretWordEndings), unless they name a reference to one.
bool name_is_secret(std::string_view name) {
  for (auto suffix : kReferenceSuffixes) {
    if (ends_with(name, suffix)) return false;
  }
  std::string_view prev;
  size_t i = 0;
  while (i <= name.size()) {
    size_t j = name.find_first_of("_-.", i);
    if (j == std::string_view::npos) j = name.size();
    std::string_view word = name.substr(i, j - i);
    if (!word.empty()) {
      for (auto w : kSecretWordEndings) {
        if (ends_with(word, w)) return true;
      }
      if ((word == "PASS" || word == "PWD") && !prev.empty()) return true;
      if (word == "KEY" || word == "KEYS") {
        for (auto q : kKeyQualifiers) {
          if (ends_with(prev, q)) return true;
        }
      }
      prev = word;
    }
    i = j + 1;
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
  std::string_view value = std::string_view(entry).substr(eq + 1);
  if (value.empty()) return false;
  if (value_is_credential(value)) return true;
  // Upper-cased name in a stack buffer (no allocation per variable), on the heap when longer.
  char buf[256];
  std::string long_name;
  char* out = buf;
  if (eq > sizeof buf) {
    long_name.resize(eq);
    out = long_name.data();
  }
  for (size_t i = 0; i < eq; ++i) out[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(entry[i])));
  return name_is_secret(std::string_view(out, eq));
}

}  // namespace runguard::policy::internal
