// JSON adapter: the one place nlohmann::json exceptions are caught.
//
// `Json` is a DOM that keeps every field, known or not: a config.json read and written back loses
// nothing, though object keys come out sorted. (nlohmann::ordered_json would keep their order,
// but inserting a key copies the whole object, which tripled the cost of evaluating a 20 KB
// Kubernetes spec; docs/benchmarks.md.) Parsing reports errors as Status with the source name,
// line and column ("config.json:3:14: ..."). Limits: input is bounded by the caller; nesting
// depth is capped at kMaxJsonDepth to keep a hostile document from exhausting the stack.
//
// Thread-safety: free functions, no shared state.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "runguard/common/status.h"

namespace runguard {

using Json = nlohmann::json;

inline constexpr int kMaxJsonDepth = 128;

// Parses `text`; `source` names the document in errors (a path, "stdin", "--process file").
Result<Json> parse_json(std::string_view text, const std::string& source);

// Compact (indent < 0) or pretty serialisation. Invalid UTF-8 is replaced, never thrown.
std::string dump_json(const Json& value, int indent = -1);

// Type name as users see it in messages: "object", "array", "string", "number", "boolean", "null".
const char* json_type_name(const Json& value);

// Escapes one JSON Pointer reference token (RFC 6901: "~" -> "~0", "/" -> "~1").
std::string json_pointer_token(std::string_view token);

}  // namespace runguard
