#include "settings_scan.h"

#include <string>

namespace runguard::policy::internal {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Removes a trailing comment: '#' at the start or after a space, outside quotes.
std::string_view strip_comment(std::string_view line) {
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#' && (i == 0 || line[i - 1] == ' ')) {
      return line.substr(0, i);
    }
  }
  return line;
}

// True when the line closes every bracket and quote it opens: a flow collection or quoted scalar
// running over several lines would make the next lines look like keys they are not.
bool self_contained(std::string_view line) {
  int depth = 0;
  char quote = 0;
  for (char c : line) {
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return depth == 0 && quote == 0;
}

// A plain or single-line quoted scalar; nullopt for anything fancier.
std::optional<std::string> scalar(std::string_view v) {
  v = trim(v);
  if (v.empty()) return std::nullopt;
  char q = v.front();
  if (q == '"' || q == '\'') {
    if (v.size() < 2 || v.back() != q) return std::nullopt;
    std::string_view inner = v.substr(1, v.size() - 2);
    if (inner.find('\\') != std::string_view::npos || inner.find(q) != std::string_view::npos) return std::nullopt;
    return std::string(inner);
  }
  if (std::string_view("&*!|>{[@`%").find(q) != std::string_view::npos) return std::nullopt;
  return std::string(v);
}

// "{ path: /x }" -> "/x" (only the simple one-line flow mapping with scalar values).
std::optional<std::optional<std::string>> flow_path(std::string_view v) {
  if (v.size() < 2 || v.front() != '{' || v.back() != '}') return std::nullopt;
  std::string_view body = v.substr(1, v.size() - 2);
  std::optional<std::string> path;
  while (!body.empty()) {
    size_t comma = body.find(',');
    std::string_view item = trim(body.substr(0, comma));
    body = comma == std::string_view::npos ? std::string_view() : body.substr(comma + 1);
    if (item.empty()) continue;
    size_t colon = item.find(": ");
    if (colon == std::string_view::npos || item.front() == '"' || item.front() == '\'') return std::nullopt;
    auto value = scalar(item.substr(colon + 2));
    if (!value) return std::nullopt;
    if (trim(item.substr(0, colon)) == "path") path = *value;
  }
  return path;
}

}  // namespace

std::optional<RuntimeSettings> scan_runtime_settings(std::string_view yaml) {
  RuntimeSettings s;
  bool in_runtime = false;
  size_t pos = 0;
  while (pos < yaml.size()) {
    size_t end = yaml.find('\n', pos);
    std::string_view raw = yaml.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    pos = end == std::string_view::npos ? yaml.size() : end + 1;
    if (raw.find('\t') != std::string_view::npos) return std::nullopt;
    std::string_view line = strip_comment(raw);
    if (trim(line).empty()) continue;
    if (!self_contained(line)) return std::nullopt;
    if (line.substr(0, 3) == "---" || line.substr(0, 3) == "...") return std::nullopt;
    size_t indent = line.find_first_not_of(' ');
    std::string_view body = trim(line);
    if (indent > 0) {
      // Only the block form of runtime: is read below the top level.
      if (in_runtime && body.substr(0, 5) == "path:") {
        auto v = scalar(body.substr(5));
        if (!v) return std::nullopt;
        s.runtime_path = *v;
      } else if (std::string_view("&*!\"'?").find(body.front()) != std::string_view::npos || body.substr(0, 2) == "<<") {
        return std::nullopt;
      }
      continue;
    }
    in_runtime = false;
    size_t colon = body.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view key = body.substr(0, colon);
    std::string_view value = trim(body.substr(colon + 1));
    if (key.find_first_of("\"'&*!<{[?") != std::string_view::npos) return std::nullopt;
    if (key == "runtime") {
      if (value.empty()) {
        in_runtime = true;
      } else {
        auto p = flow_path(value);
        if (!p) return std::nullopt;
        if (*p) s.runtime_path = **p;
      }
    } else if (key == "stateDir") {
      auto v = scalar(value);
      if (!v) return std::nullopt;
      if (!v->empty() && (*v)[0] == '/') s.state_dir = *v;
    } else if (!value.empty() && std::string_view("&*!|>").find(value.front()) != std::string_view::npos) {
      return std::nullopt;  // anchors, aliases, tags, block scalars elsewhere: let yaml-cpp decide
    }
  }
  return s;
}

}  // namespace runguard::policy::internal
