// runguard-monitor: the per-container runtime monitor (seccomp user notification -> Falco rules).
//
//   runguard-monitor --config <stateDir>/<id>/monitor.json --ready-fd N
//
// Started by `runguard create` before runc runs; see daemonize.h for the ready-fd protocol and
// server.h for what it serves. Exit codes: 0 normal end (container init exited, SIGTERM/SIGINT,
// no connection within connectTimeoutSeconds), 1 startup failure (reported on the ready fd),
// 2 usage error.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "runguard/common/strings.h"
#include "runguard/monitor/ruleset.h"
#include "runguard/nsutil/fs.h"
#include "agent_sink.h"
#include "config.h"
#include "daemonize.h"
#include "output.h"
#include "server.h"

namespace runguard::monitord {
std::string_view embedded_default_rules();  // generated from profiles/rules/default.yaml
}

namespace {

using namespace runguard;            // NOLINT(google-build-using-namespace)
using namespace runguard::monitord;  // NOLINT(google-build-using-namespace)

struct Args {
  std::string config;
  int ready_fd = -1;
};

bool parse_args(int argc, char** argv, Args* out) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      out->config = argv[++i];
    } else if (a == "--ready-fd" && i + 1 < argc) {
      auto v = parse_u32(argv[++i]);
      if (!v || *v > 1000000) return false;
      out->ready_fd = static_cast<int>(*v);
    } else {
      return false;
    }
  }
  return !out->config.empty() && out->ready_fd >= 0 && ::fcntl(out->ready_fd, F_GETFD) >= 0;
}

Result<monitor::Ruleset> load_configured_rules(const MonitorConfig& cfg) {
  std::vector<monitor::RuleFile> files;
  if (cfg.rule_files.empty()) files.push_back({"<embedded>/default.yaml", std::string(embedded_default_rules())});
  for (const auto& path : cfg.rule_files) {
    RG_ASSIGN_OR_RETURN(std::string text, nsutil::read_file(path, monitor::kMaxFileBytes + 1));
    files.push_back({path, std::move(text)});
  }
  RG_ASSIGN_OR_RETURN(monitor::Ruleset rules, monitor::load_rules(files));
  for (const auto& s : rules.skipped) log_line("rule skipped: " + s.location.to_string() + ": " + s.name + ": " + s.reason);
  log_line("loaded " + std::to_string(rules.rules.size()) + " rules (" + std::to_string(rules.skipped.size()) +
           " skipped) from " + (cfg.rule_files.empty() ? "the embedded defaults" : join(cfg.rule_files, ", ")));
  return rules;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

// Everything after daemonize; errors go to the ready fd.
Status start(const MonitorConfig& cfg, ReadyPipe& ready, int* exit_code) {
  RG_ASSIGN_OR_RETURN(monitor::Ruleset rules, load_configured_rules(cfg));
  RG_ASSIGN_OR_RETURN(EventsFile events, EventsFile::open(cfg.events_path));
  std::unique_ptr<AgentSink> agent;
  if (!cfg.agent_socket.empty()) {
    AgentSink::Options opts;
    opts.socket_path = cfg.agent_socket;
    opts.log = [](const std::string& line) { log_line(line); };
    agent = std::make_unique<AgentSink>(std::move(opts));
  }
  Server server(cfg, std::move(rules), std::move(events), host_name(), std::move(agent));
  RG_RETURN_IF_ERROR(server.listen());
  log_line("listening on " + cfg.socket_path + " for container " + cfg.container.id +
           (cfg.enforces_blocks() ? " (blocking)" : cfg.audit ? " (audit)" : " (alert only)"));
  ready.report_ready(static_cast<long>(::getpid()));
  *exit_code = server.run();
  return Status::ok();
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parse_args(argc, argv, &args)) {
    std::fprintf(stderr, "usage: runguard-monitor --config FILE --ready-fd N (N an open fd)\n");
    return 2;
  }
  ReadyPipe ready(args.ready_fd);
  auto cfg = load_monitor_config(args.config);
  if (!cfg.is_ok()) {
    ready.report_error(cfg.status().to_string());
    return 1;
  }
  if (auto st = daemonize(ready, cfg->log_path); !st.is_ok()) {
    ready.report_error(st.to_string());
    return 1;
  }
  int code = 0;
  if (auto st = start(*cfg, ready, &code); !st.is_ok()) {
    log_line("startup failed: " + st.to_string());
    ready.report_error(st.to_string());
    return 1;
  }
  return code;
}
