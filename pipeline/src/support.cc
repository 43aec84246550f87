#include "support.h"

#include <unistd.h>

#include <cstdio>

#include "runguard/nsutil/fs.h"
#include "runguard/nsutil/process.h"
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

}  // namespace runguard::pipeline::internal
