// runguardctl helper secrets fetch|revoke --request JSON [--config FILE] [--timeout-ms N]
//
// The runtime execs this when it needs Vault secrets and runguardd is not running. It loads the
// policy like the other node commands (--config, else $RUNGUARD_CONFIG, else
// /etc/runguard/policy.yaml, else the embedded defaults), requires secrets.backend vault, and
// prints exactly one line on stdout:
//   fetch  (--request is a FetchRequest, secrets/wire.h)  {"ok":true,"secrets":[{"name","value":BASE64,...}]}
//   revoke (--request is a RevokeRequest)                 {"ok":true,"revoked":N}
//   any failure                                           {"ok":false,"error":MESSAGE,"code":"denied|not_found|unavailable|invalid"}
// Exit 0 ok, 1 error, 2 usage. It finishes within --timeout-ms (default vault.timeout + 500 ms):
// the fetch gets a budget that fits, and a watchdog prints the timeout line and exits if it does
// not. Values appear nowhere but that stdout line (never on stderr, never in an error).
#include <sys/prctl.h>
#include "secrets_helper.h"

#include <openssl/crypto.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include "node_context.h"
#include "runguard/common/json.h"
#include "runguard/common/strings.h"
#include "runguard/pipeline/config.h"
#include "runguard/secrets/vault.h"
#include "runguard/secrets/wire.h"

namespace runguard::cli {
namespace {

constexpr const char* kUsage =
    "usage: runguardctl helper secrets fetch|revoke --request JSON [--config FILE] [--timeout-ms N]\n"
    "  fetch:  JSON is {\"container\",\"namespace\",\"secrets\":[{\"name\",\"ref\"}],\"kubernetesTokenFile\"}\n"
    "  revoke: JSON is {\"container\",\"leases\":[...],\"kubernetesTokenFile\"}\n";

// Time kept back from the Vault budget for starting up, loading the policy and giving back
// leases after a failure.
constexpr int64_t kReserveMs = 400;

const char* code_word(Code c) {
  switch (c) {
    case Code::kDenied: return "denied";
    case Code::kNotFound: return "not_found";
    case Code::kInvalidArgument: return "invalid";
    default: return "unavailable";
  }
}

// The one stdout line: whoever prints first (the command or the watchdog) wins.
class OneLine {
 public:
  bool print(std::string line) {
    std::lock_guard<std::mutex> g(mu_);
    if (printed_) return false;
    printed_ = true;
    line += "\n";
    for (size_t off = 0; off < line.size();) {
      ssize_t n = ::write(STDOUT_FILENO, line.data() + off, line.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    OPENSSL_cleanse(line.data(), line.size());
    return true;
  }

 private:
  std::mutex mu_;
  bool printed_ = false;
};

std::string error_line(const std::string& message, Code code) {
  return dump_json({{"ok", false}, {"error", message}, {"code", code_word(code)}});
}

// Prints the timeout line and exits when `deadline` passes before stop().
class Watchdog {
 public:
  Watchdog(OneLine& out, std::chrono::steady_clock::time_point deadline, int64_t timeout_ms)
      : thread_([this, &out, deadline, timeout_ms] {
          std::unique_lock<std::mutex> lock(mu_);
          if (cv_.wait_until(lock, deadline, [this] { return stopped_; })) return;
          if (out.print(error_line("vault did not answer within --timeout-ms " + std::to_string(timeout_ms), Code::kUnavailable))) {
            ::_exit(1);
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> g(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  std::thread thread_;  // last: started once the members it uses exist
};

int finish(OneLine& out, const std::string& line, int code) { return out.print(line) ? code : 1; }

int run_fetch(OneLine& out, secrets::VaultFetcher& fetcher, const Json& request) {
  auto req = secrets::fetch_request_from_json(request);
  if (!req.is_ok()) return finish(out, error_line("--request: " + req.status().message(), Code::kInvalidArgument), 1);
  auto got = fetcher.fetch(*req);
  if (!got.is_ok()) return finish(out, error_line(got.status().message(), got.status().code()), 1);
  Json j = secrets::fetched_to_json(*got);
  secrets::wipe(*got);
  j["ok"] = true;
  std::string line = dump_json(j);
  for (Json& s : j["secrets"]) {
    if (s.contains("value") && s["value"].is_string()) {
      auto& v = s["value"].get_ref<std::string&>();
      OPENSSL_cleanse(v.data(), v.size());
    }
  }
  int rc = finish(out, line, 0);
  OPENSSL_cleanse(line.data(), line.size());
  return rc;
}

int run_revoke(OneLine& out, secrets::VaultFetcher& fetcher, const Json& request) {
  auto req = secrets::revoke_request_from_json(request);
  if (!req.is_ok()) return finish(out, error_line("--request: " + req.status().message(), Code::kInvalidArgument), 1);
  Status s = fetcher.revoke(*req);
  if (!s.is_ok()) return finish(out, error_line(s.message(), s.code()), 1);
  return finish(out, dump_json({{"ok", true}, {"revoked", req->leases.size()}}), 0);
}

}  // namespace

int cmd_helper_secrets(const std::vector<std::string>& args) {
  // Vault tokens and secret values pass through this process: no core file may keep them.
  ::prctl(PR_SET_DUMPABLE, 0);
  auto start = std::chrono::steady_clock::now();
  OneLine out;
  auto usage_error = [&](const std::string& why) {
    std::cerr << "runguardctl helper secrets: " << why << "\n" << kUsage;
    return finish(out, error_line(why, Code::kInvalidArgument), 2);
  };
  if (args.empty() || (args[0] != "fetch" && args[0] != "revoke")) {
    if (!args.empty() && (args[0] == "-h" || args[0] == "--help")) {
      std::cerr << kUsage;
      return 0;
    }
    return usage_error(args.empty() ? "helper secrets needs fetch or revoke" : "unknown helper secrets subcommand \"" + args[0] + "\"");
  }
  auto flags = parse_flags(std::vector<std::string>(args.begin() + 1, args.end()), {"--request", "--timeout-ms"}, {});
  if (!flags.is_ok()) return usage_error(flags.status().message());
  if (flags->help) {
    std::cerr << kUsage;
    return 0;
  }
  if (!flags->positional.empty()) return usage_error("unexpected argument \"" + flags->positional[0] + "\"");
  auto value = [&](const char* k) { auto it = flags->values.find(k); return it == flags->values.end() ? std::string() : it->second; };
  std::string request_text = value("--request");
  if (request_text.empty()) return usage_error("--request JSON is required");
  int64_t timeout_ms = 0;
  if (std::string t = value("--timeout-ms"); !t.empty()) {
    auto v = parse_u32(t);
    if (!v.has_value() || *v == 0 || *v > 600000) return usage_error("--timeout-ms \"" + t + "\" is not 1..600000");
    timeout_ms = *v;
  }

  pipeline::ConfigSource source = pipeline::config_source();
  if (std::string c = value("--config"); !c.empty()) source = {c, true, "--config"};
  auto policy = pipeline::load_policy(source);
  if (!policy.is_ok()) return finish(out, error_line("the policy does not load: " + policy.status().message(), Code::kInvalidArgument), 1);
  policy::SecretsSettings settings = policy->secrets;
  if (settings.backend != policy::SecretsSettings::Backend::kVault) {
    return finish(out, error_line("secrets.backend in " + policy->source + " is not vault; the helper only talks to Vault", Code::kInvalidArgument), 1);
  }
  if (timeout_ms == 0) timeout_ms = settings.vault.timeout_ms + 500;
  int64_t budget = std::max<int64_t>(timeout_ms - kReserveMs, timeout_ms / 2);
  settings.vault.timeout_ms = std::clamp<int64_t>(settings.vault.timeout_ms, 1, std::max<int64_t>(budget, 1));
  Watchdog watchdog(out, start + std::chrono::milliseconds(timeout_ms), timeout_ms);

  auto request = parse_json(request_text, "--request");
  if (!request.is_ok()) return finish(out, error_line(request.status().message(), Code::kInvalidArgument), 1);
  secrets::VaultFetcher fetcher(settings);
  return args[0] == "fetch" ? run_fetch(out, fetcher, *request) : run_revoke(out, fetcher, *request);
}

}  // namespace runguard::cli
