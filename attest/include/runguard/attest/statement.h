// in-toto Statements v0.1 and v1 (reference/attestations.md §2).
//
//   {"_type": "https://in-toto.io/Statement/v0.1" | "https://in-toto.io/Statement/v1",
//    "subject": [{"name": str, "digest": {alg: hex, ...}}, ...], "predicateType": URI, "predicate": {...}}
//
// Required: _type (one of the two), a non-empty subject list whose entries each have a non-empty
// digest map of string values, and a non-empty predicateType. v0.1 also requires subject names.
// Unknown fields are ignored. Pure: no I/O.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "runguard/common/json.h"
#include "runguard/common/status.h"

namespace runguard::attest {

inline constexpr std::string_view kInTotoPayloadType = "application/vnd.in-toto+json";
inline constexpr std::string_view kStatementV01 = "https://in-toto.io/Statement/v0.1";
inline constexpr std::string_view kStatementV1 = "https://in-toto.io/Statement/v1";

struct Subject {
  std::string name;
  std::map<std::string, std::string> digest;  // algorithm -> lowercase hex
};

struct Statement {
  std::string type;
  std::vector<Subject> subjects;
  std::string predicate_type;
  Json predicate;  // null when absent
};

// Whether `payload_type` is an in-toto one: application/vnd.in-toto+json or
// application/vnd.in-toto.<anything>+json.
bool is_in_toto_payload_type(std::string_view payload_type);

Result<Statement> parse_statement(const Json& j, const std::string& source);

// Whether some subject's digest names `image_digest` ("sha256:<hex>"): the algorithm's entry equals
// the hex, case-insensitively.
bool statement_covers(const Statement& s, std::string_view image_digest);

}  // namespace runguard::attest
