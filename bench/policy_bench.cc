// In-process cost of the policy engine on a containerd CRI-style config.json (~20 KB: a
// Kubernetes pod container with 52 services' link variables, CRI annotations and mounts, no seccomp
// profile, so the seccomp control installs the default one: the most work a create does).
//
//   build/bin/runguard_policy_bench --benchmark_repetitions=10 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>

#include "runguard/policy/engine.h"
#include "runguard/policy/loader.h"

namespace {

using namespace runguard;

std::string fixture() {
  std::ifstream in(RUNGUARD_BENCH_FIXTURE);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const policy::Policy& the_policy() {
  static const policy::Policy p = *policy::default_policy();
  return p;
}

// evaluate_spec alone: the policy core.
void BM_EvaluateSpec(benchmark::State& state) {
  const std::string text = fixture();
  const Json spec = *parse_json(text, "fixture");
  const auto ctx = policy::context_from_spec(spec, "bench", "/bundle", "");
  for (auto _ : state) {
    // The create path moves its freshly parsed spec in; the copy that stands for it is not timed.
    state.PauseTiming();
    Json copy = spec;
    state.ResumeTiming();
    policy::Decision d = policy::evaluate_spec(the_policy(), std::move(copy), ctx);
    benchmark::DoNotOptimize(d);
  }
  state.counters["config_bytes"] = static_cast<double>(text.size());
}
BENCHMARK(BM_EvaluateSpec)->Unit(benchmark::kMicrosecond);

// What create does in process: parse + validate + evaluate + serialise the new config.json.
void BM_CreatePathInProcess(benchmark::State& state) {
  const std::string text = fixture();
  for (auto _ : state) {
    Json spec = *parse_json(text, "fixture");
    Status s = policy::validate_spec(spec, "fixture");
    auto ctx = policy::context_from_spec(spec, "bench", "/bundle", "");
    policy::Decision d = policy::evaluate_spec(the_policy(), std::move(spec), ctx);
    std::string out = dump_json(d.result);
    benchmark::DoNotOptimize(out);
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_CreatePathInProcess)->Unit(benchmark::kMicrosecond);

// Loading the embedded default policy (parses the embedded seccomp profile).
void BM_LoadDefaultPolicy(benchmark::State& state) {
  for (auto _ : state) {
    auto p = policy::default_policy();
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(BM_LoadDefaultPolicy)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
