// runguardd: the optional node agent (docs/agent.md#runguardd). Thin: parse argv, build the
// Agent, wait for signals.
//
//   runguardd [--config FILE] [--log-level info|debug] [--version] [--help]
//
// Exit codes: 0 after SIGTERM/SIGINT, 1 when it cannot start, 2 on a usage error.
#include <sys/prctl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <string>

#include "agent.h"
#include "log.h"
#include "runguard/pipeline/config.h"

namespace {

using runguard::agent::Logger;
using runguard::agent::LogLevel;

constexpr const char* kUsage =
    "usage: runguardd [--config FILE] [--log-level info|debug] [--version] [--help]\n"
    "\n"
    "runguard's node agent: the runguard.v1.Agent gRPC API (agent.socket), the runtime's and\n"
    "monitors' frames (agent.internalSocket), image digest lookups through containerd, and\n"
    "Prometheus metrics (agent.metrics). Runs in the foreground; logs to stderr.\n"
    "\n"
    "  --config FILE     the policy file (default: $RUNGUARD_CONFIG, else /etc/runguard/policy.yaml,\n"
    "                    else the embedded defaults)\n"
    "  --log-level LEVEL info (default) or debug\n"
    "  --version         print the version and exit\n"
    "\n"
    "signals: SIGTERM/SIGINT stop gracefully; SIGHUP reloads the policy file.\n";

struct Args {
  std::string config;
  bool config_set = false;
  LogLevel level = LogLevel::kInfo;
  bool version = false;
  bool help = false;
};

// False (after printing why) on a usage error.
bool parse_args(int argc, char** argv, Args& out) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const std::string& flag, std::string& v) {
      if (a.rfind(flag + "=", 0) == 0) {
        v = a.substr(flag.size() + 1);
        return true;
      }
      if (a == flag) {
        if (i + 1 >= argc) return false;
        v = argv[++i];
        return true;
      }
      return false;
    };
    std::string v;
    if (a == "--help" || a == "-h") {
      out.help = true;
    } else if (a == "--version") {
      out.version = true;
    } else if (a.rfind("--config", 0) == 0 && value("--config", v)) {
      if (v.empty()) {
        std::cerr << "runguardd: --config needs a file\n";
        return false;
      }
      out.config = v;
      out.config_set = true;
    } else if (a.rfind("--log-level", 0) == 0 && value("--log-level", v)) {
      if (!runguard::agent::parse_log_level(v, out.level)) {
        std::cerr << "runguardd: --log-level \"" << v << "\": use info or debug\n";
        return false;
      }
    } else {
      std::cerr << "runguardd: unknown argument \"" << a << "\"\n" << kUsage;
      return false;
    }
  }
  return true;
}

// systemd Type=notify: one datagram to $NOTIFY_SOCKET ("@name" is an abstract socket).
void sd_notify(const char* state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || path[0] == '\0') return;
  size_t len = std::strlen(path);
  sockaddr_un addr{};
  if (len >= sizeof addr.sun_path || (path[0] != '/' && path[0] != '@')) return;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  socklen_t alen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  (void)::sendto(fd, state, std::strlen(state), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), alen);
  ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  // Vault tokens and secret values pass through this process: no core file may keep them.
  ::prctl(PR_SET_DUMPABLE, 0);
  Args args;
  if (!parse_args(argc, argv, args)) return 2;
  if (args.help) {
    std::cout << kUsage;
    return 0;
  }
  if (args.version) {
    std::cout << "runguardd " << RUNGUARD_VERSION << "\n";
    return 0;
  }
  // A socket is chmod 0600 right after bind; with group and other write masked it is never
  // connectable by them before that either (connect needs write permission). Directories the
  // agent creates keep their 0711 (stateDir is traversed by containers' user-namespace roots).
  ::umask(::umask(0) | 022);

  // Signals are taken synchronously by this thread; every thread started later inherits the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  Logger log(args.level);
  runguard::agent::AgentOptions options;
  options.config = args.config_set ? runguard::pipeline::ConfigSource{args.config, true, "--config"} : runguard::pipeline::config_source();
  auto agent = runguard::agent::Agent::create(options, log);
  if (!agent.is_ok()) {
    log.error("cannot start: " + agent.status().to_string());
    return 1;
  }
  if (runguard::Status s = (*agent)->start(); !s.is_ok()) {
    log.error("cannot start: " + s.to_string());
    return 1;
  }
  sd_notify("READY=1");

  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGHUP) {
      log.info("SIGHUP: reloading the policy");
      sd_notify("RELOADING=1");
      (void)(*agent)->reload_policy("");
      sd_notify("READY=1");
      continue;
    }
    log.info(std::string(sig == SIGTERM ? "SIGTERM" : "SIGINT") + ": stopping");
    break;
  }
  sd_notify("STOPPING=1");
  (*agent)->stop();
  log.info("stopped");
  return 0;
}
