// Package URLs (github.com/package-url/purl-spec) as VEX matching needs them. Internal to rg_attest.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace runguard::attest::detail {

struct Purl {
  std::string type;     // lowercased
  std::string path;     // namespace/name, percent-decoded
  std::string version;  // percent-decoded; "" when absent
};

// nullopt when `text` is not "pkg:<type>/<name>…". Qualifiers and subpath are dropped.
std::optional<Purl> parse_purl(std::string_view text);

// Whether `candidate` is covered by `pattern`: same type and namespace/name, and the same version
// when `pattern` has one (a version-less purl means every version, as in Trivy).
bool purl_matches(const Purl& pattern, const Purl& candidate);

std::string percent_decode(std::string_view s);

}  // namespace runguard::attest::detail
