// update: kubelet resizes and CPU-manager updates arrive as `runc update --resources -` with a
// LinuxResources document computed from containerd's *original* spec, or as --memory/--pids-limit
// flags. Either way a limit above the policy maximum (or "unlimited") is clamped to it.
#include <cmath>
#include <unistd.h>

#include "runguard/nsutil/fs.h"
#include "runguard/pipeline/commands.h"
#include "runguard/pipeline/config.h"
#include "runguard/policy/engine.h"
#include "support.h"

namespace runguard::pipeline {
namespace {

using internal::report_failure;

Result<std::string> read_stdin() {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("read resources from stdin", errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (16u << 20)) return invalid("resources on stdin larger than 16 MiB");
  }
  return out;
}

// docker/go-units RAMInBytes, which runc uses for --memory: "512m", "1g", "1.5GiB", "-1".
Result<int64_t> ram_in_bytes(const std::string& v) {
  if (v == "-1") return int64_t{-1};
  size_t i = 0;
  while (i < v.size() && (std::isdigit(static_cast<unsigned char>(v[i])) || v[i] == '.')) ++i;
  if (i == 0) return invalid("\"" + v + "\" is not a size");
  double num = 0;
  try {
    num = std::stod(v.substr(0, i));
  } catch (const std::exception&) {
    return invalid("\"" + v + "\" is not a size");
  }
  std::string unit = v.substr(i);
  if (!unit.empty() && unit[0] == ' ') unit.erase(0, 1);
  double mul = 1;
  if (!unit.empty()) {
    const std::string units = "kmgtp";
    auto pos = units.find(static_cast<char>(std::tolower(static_cast<unsigned char>(unit[0]))));
    if (pos != std::string::npos) {
      mul = std::pow(1024.0, static_cast<double>(pos + 1));
      unit.erase(0, 1);
      if (!unit.empty() && (unit[0] == 'i' || unit[0] == 'I')) unit.erase(0, 1);
    }
    if (!unit.empty() && (unit == "b" || unit == "B")) unit.clear();
    if (!unit.empty()) return invalid("\"" + v + "\" has an unknown unit");
  }
  return static_cast<int64_t>(num * mul);
}

}  // namespace

int cmd_update(const RuncArgs& args) {
  RuncLog log = internal::log_for(args);
  auto policy = load_policy(config_source());
  if (!policy.is_ok()) return report_failure(log, policy.status());
  auto runtime = internal::runtime_for(*policy);
  if (!runtime.is_ok()) return report_failure(log, runtime.status());
  std::string id = args.id();
  if (!check_container_id(id).is_ok()) return internal::exec_runtime(log, *runtime, args.argv);
  policy::ContainerContext ctx = internal::stored_context(policy->state_dir, id);
  std::vector<std::string> argv = args.argv;

  if (auto res = args.all("resources"); !res.empty()) {
    const FlagUse* r = res.back();
    auto text = r->value == "-" ? read_stdin() : nsutil::read_file(r->value);
    if (!text.is_ok()) return report_failure(log, text.status());
    std::string source = r->value == "-" ? "update --resources (stdin)" : r->value;
    auto doc = parse_json(*text, source);
    if (!doc.is_ok()) return report_failure(log, doc.status());
    if (Status s = policy::validate_resources(*doc, source); !s.is_ok()) return report_failure(log, s);
    policy::Decision d = policy::evaluate_update(*policy, std::move(doc).value(), ctx);
    if (!d.allowed) {
      return report_failure(log, Status(Code::kDenied, "update of container " + id + " denied by policy " + policy->source + ": " + d.denial_summary()));
    }
    if (r->value == "-" || d.changed()) {
      // stdin is consumed (or the document changed): hand runc the result as an anonymous file.
      auto fd = nsutil::memfd_with_content("runguard-resources", dump_json(d.result));
      if (!fd.is_ok()) return report_failure(log, fd.status());
      internal::replace_flag_value(argv, *r, "/proc/self/fd/" + std::to_string(*fd));
    }
    return internal::exec_runtime(log, *runtime, argv);
  }

  // Individual flags: build the document they describe, clamp it, write the values back.
  Json doc = Json::object();
  const FlagUse* mem = args.all("memory").empty() ? nullptr : args.all("memory").back();
  const FlagUse* pids = args.all("pids-limit").empty() ? nullptr : args.all("pids-limit").back();
  if (mem != nullptr) {
    auto bytes = ram_in_bytes(mem->value);
    if (!bytes.is_ok()) return report_failure(log, std::move(bytes).take_status().with_context("update --memory"));
    doc["memory"]["limit"] = *bytes;
  }
  if (pids != nullptr) {
    try {
      doc["pids"]["limit"] = std::stoll(pids->value);
    } catch (const std::exception&) {
      return report_failure(log, invalid("update --pids-limit \"" + pids->value + "\": expected an integer"));
    }
  }
  policy::Decision d = policy::evaluate_update(*policy, doc, ctx);
  if (!d.allowed) {
    return report_failure(log, Status(Code::kDenied, "update of container " + id + " denied by policy " + policy->source + ": " + d.denial_summary()));
  }
  if (mem != nullptr) internal::replace_flag_value(argv, *mem, std::to_string(d.result["memory"]["limit"].get<int64_t>()));
  if (pids != nullptr) internal::replace_flag_value(argv, *pids, std::to_string(d.result["pids"]["limit"].get<int64_t>()));
  return internal::exec_runtime(log, *runtime, argv);
}

}  // namespace runguard::pipeline
