#include "runguard/common/json.h"

#include <algorithm>

#include "runguard/common/utf8.h"

namespace runguard {
namespace {

// Computes 1-based line and column of a byte offset, for error messages.
std::pair<size_t, size_t> line_col(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  size_t line = 1, col = 1;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

// Rejects documents nested deeper than kMaxJsonDepth before nlohmann recurses into them.
bool depth_ok(std::string_view text) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

}  // namespace

Result<Json> parse_json(std::string_view raw, const std::string& source) {
  // nlohmann's lexer takes a NUL byte outside a string for the end of the input and would accept
  // `{"a":1}<NUL>anything`, ignoring the rest; JSON has no raw NUL anywhere (in a string it must
  // be escaped as \u0000), so one is an error wherever it is.
  if (size_t nul = raw.find('\0'); nul != std::string_view::npos) {
    auto [line, col] = line_col(raw, nul);
    return invalid(source + ":" + std::to_string(line) + ":" + std::to_string(col) +
                   ": invalid JSON: NUL byte (a string must escape it as \\u0000)");
  }
  // runc (Go) reads invalid UTF-8 as U+FFFD; so does runguard, rather than refusing what runc runs.
  std::string repaired;
  std::string_view text = raw;
  if (!valid_utf8(raw)) {
    repaired = repaired_utf8(raw);
    text = repaired;
  }
  if (!depth_ok(text)) {
    return invalid(source + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    auto [line, col] = line_col(text, e.byte == 0 ? 0 : e.byte - 1);
    std::string what = e.what();
    // nlohmann's message is "[json.exception.parse_error.101] parse error at line 1, column 2: ...";
    // keep only the part after the last ": " prefix chain that carries the reason.
    auto pos = what.find("parse error");
    if (pos != std::string::npos) {
      auto colon = what.find(": ", pos);
      if (colon != std::string::npos) what = what.substr(colon + 2);
    }
    // nlohmann quotes the text it last read, which can be part of a secret (an env value):
    // the line and column say where the problem is.
    if (auto quoted = what.find("; last read:"); quoted != std::string::npos) what.resize(quoted);
    return invalid(source + ":" + std::to_string(line) + ":" + std::to_string(col) +
                   ": invalid JSON: " + what);
  } catch (const std::exception& e) {
    return invalid(source + ": invalid JSON: " + e.what());
  }
}

std::string dump_json(const Json& value, int indent) {
  return value.dump(indent, ' ', false, Json::error_handler_t::replace);
}

const char* json_type_name(const Json& value) {
  switch (value.type()) {
    case Json::value_t::object: return "object";
    case Json::value_t::array: return "array";
    case Json::value_t::string: return "string";
    case Json::value_t::boolean: return "boolean";
    case Json::value_t::null: return "null";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float: return "number";
    default: return "value";
  }
}

std::string json_pointer_token(std::string_view token) {
  std::string out;
  for (char c : token) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

}  // namespace runguard
