#include "support.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>

#include "runguard/nsutil/fs.h"
#include "runguard/nsutil/process.h"
#include "runguard/nsutil/safe_open.h"
#include "runguard/pipeline/config.h"

namespace runguard::pipeline::internal {

RuncLog log_for(const RuncArgs& args) { return RuncLog(args.log, args.log_format); }

int report_failure(const RuncLog& log, const Status& status) {
  std::string msg = "runguard: " + status.to_string();
  log.write("error", msg);
  std::string line = msg + "\n";
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
  return 1;
}

int exec_runtime(const RuncLog& log, const std::string& runtime, std::vector<std::string> argv) {
  if (argv.empty()) argv.push_back(runtime);
  argv[0] = runtime;
  Status s = nsutil::exec_program(runtime, argv);
  return report_failure(log, s);
}

Result<std::string> runtime_for(const policy::Policy& p) { return resolve_runtime(p.runtime_path); }

std::string container_state_dir(const std::string& state_dir, const std::string& id) { return state_dir + "/" + id; }

std::string runtime_container_dir(const std::string& root, const std::string& id) {
  return (root.empty() ? std::string("/run/runc") : root) + "/" + id;
}

int run_hardened(const RuncArgs& args, const Harden& harden) {
  RuncLog log = log_for(args);
  auto policy = load_policy(config_source());
  if (!policy.is_ok()) return report_failure(log, policy.status());
  auto runtime = runtime_for(*policy);
  if (!runtime.is_ok()) return report_failure(log, runtime.status());
  if (!check_container_id(args.id()).is_ok()) return exec_runtime(log, *runtime, args.argv);
  policy::ContainerContext ctx = stored_context(policy->state_dir, args.id());
  std::vector<std::string> argv = args.argv;
  if (Status s = harden(*policy, ctx, argv); !s.is_ok()) return report_failure(log, s);
  return exec_runtime(log, *runtime, argv);
}

policy::ContainerContext stored_context(const std::string& state_dir, const std::string& id) {
  policy::ContainerContext ctx;
  ctx.id = id;
  auto text = nsutil::read_file(container_state_dir(state_dir, id) + "/decision.json", 16u << 20);
  if (!text.is_ok()) return ctx;
  auto j = parse_json(*text, "decision.json");
  if (!j.is_ok() || !j->is_object() || !j->contains("context")) return ctx;
  return policy::context_from_json((*j)["context"]);
}

void replace_flag_value(std::vector<std::string>& argv, const FlagUse& flag, const std::string& value) {
  if (flag.inline_value) {
    const std::string& word = argv[flag.name_index];
    argv[flag.name_index] = word.substr(0, word.find('=') + 1) + value;
  } else {
    argv[flag.value_index] = value;
  }
}

std::string summarize(const policy::Decision& d) {
  size_t applied = 0;
  for (const auto& m : d.mutations) applied += m.applied;
  return std::to_string(d.findings.size()) + " findings, " + std::to_string(applied) + " changes applied";
}

bool JsonValueScan::done(std::string_view buf) {
  for (; pos < buf.size(); ++pos) {
    char c = buf[pos];
    if (!started) {
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
      if (c != '{' && c != '[') return true;
      started = true;
    }
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      ++pos;
      return true;
    }
  }
  return false;
}

Result<std::string> read_json_value(int fd, const std::string& source, size_t max_bytes) {
  std::string buf;
  JsonValueScan scan;
  char chunk[65536];
  while (!scan.done(buf)) {
    if (buf.size() > max_bytes) return invalid(source + ": larger than " + std::to_string(max_bytes) + " bytes");
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("read " + source, errno);
    }
    if (n == 0) return buf;  // incomplete or empty: the parser says what is wrong
    buf.append(chunk, static_cast<size_t>(n));
  }
  if (!scan.started) return invalid(source + ": expected a JSON object");
  if (scan.pos > max_bytes) return invalid(source + ": larger than " + std::to_string(max_bytes) + " bytes");
  buf.resize(scan.pos);
  return buf;
}

Result<std::string> read_json_value_at(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("open " + path, errno);
  auto text = read_json_value(fd, path, max_bytes);
  ::close(fd);
  return text;
}

Status pass_as_memfd(std::vector<std::string>& argv, const FlagUse& flag, const std::string& content) {
  RG_ASSIGN_OR_RETURN(int fd, nsutil::memfd_with_content("runguard-" + flag.name, content));
  replace_flag_value(argv, flag, "/proc/self/fd/" + std::to_string(fd));
  return Status::ok();
}

Result<std::string> read_bundle_config(const std::string& path) {
  auto text = nsutil::read_regular_file_nofollow(path, 64u << 20);
  if (text.is_ok() || text.status().code() != Code::kInvalidArgument) return text;
  return invalid(text.status().message() +
                 "; runguard reads and rewrites only a bundle's own config.json file (give runc the directory that holds it)");
}

std::optional<uint32_t> parse_id(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
    if (n > 4294967294u) return std::nullopt;
  }
  return static_cast<uint32_t>(n);
}

namespace {

// Go's underscoreOK: '_' only between digits, or between a base prefix and a digit.
bool go_underscores_ok(std::string_view s, bool prefixed, bool hex) {
  char saw = prefixed ? '0' : '^';
  for (size_t i = prefixed ? 2 : 0; i < s.size(); ++i) {
    char c = s[i];
    if (std::isdigit(static_cast<unsigned char>(c)) || (hex && std::isxdigit(static_cast<unsigned char>(c)))) {
      saw = '0';
    } else if (c == '_') {
      if (saw != '0') return false;
      saw = '_';
    } else {
      if (saw == '_') return false;
      saw = '!';
    }
  }
  return saw != '_';
}

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return c >= 'a' && c <= 'z' ? c - 'a' + 10 : 99;
}

}  // namespace

std::optional<int64_t> parse_go_int(std::string_view s) {
  bool neg = !s.empty() && s[0] == '-';
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  const std::string_view whole = s;
  uint64_t base = 10;
  bool prefixed = s.size() >= 3 && s[0] == '0' && std::string_view("bBoOxX").find(s[1]) != std::string_view::npos;
  if (prefixed) {
    char p = static_cast<char>(std::tolower(static_cast<unsigned char>(s[1])));
    base = p == 'b' ? 2 : p == 'o' ? 8 : 16;
    s.remove_prefix(2);
  } else if (s[0] == '0') {
    base = 8;
    s.remove_prefix(1);
  }
  const uint64_t limit = uint64_t{1} << 63;  // -limit is the smallest int64
  uint64_t n = 0;
  for (char c : s) {
    if (c == '_') continue;  // placement checked below
    auto d = static_cast<uint64_t>(digit_value(c));
    if (d >= base || n > (limit - d) / base) return std::nullopt;
    n = n * base + d;
  }
  if (!go_underscores_ok(whole, prefixed, base == 16)) return std::nullopt;
  if (!neg && n == limit) return std::nullopt;
  return neg ? static_cast<int64_t>(0 - n) : static_cast<int64_t>(n);
}

std::optional<bool> parse_go_bool(std::string_view s) {
  for (std::string_view t : {"1", "t", "T", "TRUE", "true", "True"}) {
    if (s == t) return true;
  }
  for (std::string_view f : {"0", "f", "F", "FALSE", "false", "False"}) {
    if (s == f) return false;
  }
  return std::nullopt;
}

Result<int64_t> ram_in_bytes(const std::string& v) {
  if (v == "-1") return int64_t{-1};
  // DIGITS[.DIGITS][ ][kmgtp][i][b], case-insensitive: what both go-units parsers accept.
  auto skip_digits = [&v](size_t i) {
    while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) ++i;
    return i;
  };
  size_t end = skip_digits(0);
  bool ok = end > 0;
  if (ok && end < v.size() && v[end] == '.') {
    size_t frac = skip_digits(end + 1);
    ok = frac > end + 1;
    end = frac;
  }
  if (!ok) return invalid("not a size");
  double bytes = std::strtod(v.substr(0, end).c_str(), nullptr);
  std::string unit = v.substr(end);
  if (!unit.empty() && unit[0] == ' ') unit.erase(0, 1);
  const std::string prefixes = "kmgtp";
  auto prefix = unit.empty() ? std::string::npos
                             : prefixes.find(static_cast<char>(std::tolower(static_cast<unsigned char>(unit[0]))));
  if (prefix != std::string::npos) {
    bytes *= std::pow(1024.0, static_cast<double>(prefix + 1));
    unit.erase(0, 1);
    if (!unit.empty() && (unit[0] == 'i' || unit[0] == 'I')) unit.erase(0, 1);
  }
  if (unit == "b" || unit == "B") unit.clear();
  if (!unit.empty()) return invalid("unknown unit");
  if (!(bytes < 9223372036854775808.0)) return invalid("larger than 9223372036854775807 bytes");
  return static_cast<int64_t>(bytes);
}

}  // namespace runguard::pipeline::internal
