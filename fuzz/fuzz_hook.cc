// runguard-hook's inputs as a runtime, a hooks.d file or a mistake can shape them
// (pipeline/hook_check.h). The first byte picks the reader, the rest is its input:
//   0: argv: the words (split at NUL bytes) after the program name -> parse_hook_args;
//   1: the OCI state on stdin -> parse_hook_state for check and for poststop;
//   2: a bundle's config.json -> the deny-only verdict check makes (evaluate_spec with the
//      default policy, deny_only_verdict, and a remedy for every finding).
// Nothing may crash or throw; an accepted invocation or state must satisfy what main.cc and
// release_container() rely on (an absolute state dir, a valid id, an absolute bundle for check).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runguard/pipeline/hook_check.h"
#include "runguard/pipeline/runc_args.h"
#include "runguard/policy/engine.h"
#include "runguard/policy/loader.h"

using namespace runguard;  // NOLINT(google-build-using-namespace)
using Verb = pipeline::HookInvocation::Verb;

namespace {

void fuzz_args(std::string_view text) {
  std::vector<std::string> args;
  for (size_t start = 0;;) {
    size_t nul = text.find('\0', start);
    args.emplace_back(text.substr(start, nul == std::string_view::npos ? std::string_view::npos : nul - start));
    if (nul == std::string_view::npos) break;
    start = nul + 1;
  }
  auto inv = pipeline::parse_hook_args(args);
  if (!inv.is_ok()) {
    if (inv.status().message().empty()) __builtin_trap();
    return;
  }
  if (inv->verb == Verb::kPoststop && (inv->state_dir.empty() || inv->state_dir[0] != '/')) __builtin_trap();
  if (inv->verb == Verb::kCheck && inv->policy && args.size() < 2) __builtin_trap();
}

void fuzz_state(std::string_view text) {
  auto check = pipeline::parse_hook_state(text, Verb::kCheck);
  auto post = pipeline::parse_hook_state(text, Verb::kPoststop);
  for (const auto* s : {&check, &post}) {
    if (s->is_ok() && !pipeline::check_container_id((*s)->id).is_ok()) __builtin_trap();
  }
  if (check.is_ok()) {
    if (check->bundle.empty() || check->bundle[0] != '/') __builtin_trap();
    if (check->status != "creating" && check->status != "created") __builtin_trap();
    // What check accepts, poststop accepts too, with the same container.
    if (!post.is_ok() || post->id != check->id || post->bundle != check->bundle) __builtin_trap();
  }
}

void fuzz_verdict(std::string_view text) {
  static const policy::Policy kPolicy = *policy::default_policy();
  auto spec = parse_json(text, "config.json");
  if (!spec.is_ok() || !policy::validate_spec(*spec, "config.json").is_ok()) return;
  policy::ContainerContext ctx = policy::context_from_spec(*spec, "ctr", "/bundle", "");
  const policy::Controls& controls = policy::select_controls(kPolicy, ctx, nullptr);
  policy::Decision d = policy::evaluate_spec(kPolicy, std::move(*spec), ctx);
  pipeline::DenyOnlyVerdict v = pipeline::deny_only_verdict(d, controls);
  if (v.allowed && (!d.allowed || !v.reasons.empty())) __builtin_trap();
  for (const auto& f : d.findings) (void)pipeline::remedy(f, controls);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: fuzz_args(text); break;
    case 1: fuzz_state(text); break;
    default: fuzz_verdict(text); break;
  }
  return 0;
}
