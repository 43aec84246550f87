// config.json / exec process / update resources documents through the runtime's whole in-process
// path: parse, validate, evaluate (spec, process, update) and serialise. Any input must end in a
// Status or a Decision, never a crash, an exception or a sanitizer report. Also the scanner that
// cuts the first JSON value out of an exec --process / update -r stream (support.h JsonValueScan,
// as runc's decoder reads one value): on a document that parses whole it must stop exactly at its
// end, whatever the chunking of the stream.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runguard/policy/engine.h"
#include "support.h"
#include "runguard/policy/loader.h"
#include "runguard/policy/secrets.h"

using namespace runguard;

namespace {

// The default policy has no secrets; this one turns every annotation-driven path on: secrets from
// `secrets.runguard.dev/<name>` annotations (granted by allow globs), attached files, credentials
// moved out of process.env (secretsInEnv: enforce), a user-namespace remap and audit overrides.
const char kSecretsPolicy[] = R"(
controls:
  secretsInEnv: { action: enforce }
  userNamespace: { action: enforce }
secrets:
  backend: vault
  mountPath: /run/secrets
  vault: { address: "https://vault.example:8200", auth: { method: kubernetes, role: app } }
  allow:
    - match: { namespace: payments }
      paths: ["kv/data/payments/*", "database/creds/*"]
    - match: {}
      paths: ["kv/data/shared/*", "kv/*/app/**"]
  attach:
    - match: { namespace: payments }
      files: { ca.pem: "vault:kv/data/shared/ca#pem" }
trustedAnnotations: ["runguard.dev/profile"]
overrides:
  - name: sandboxes
    match: { containerType: sandbox }
    controls: { readonlyRootfs: { action: off } }
)";

const policy::Policy& secrets_policy() {
  static const policy::Policy p = [] {
    auto r = policy::parse_policy(kSecretsPolicy, "fuzz-secrets.yaml", [](const std::string&) -> Result<std::string> {
      return Status(Code::kNotFound, "no files");
    });
    if (!r.is_ok()) __builtin_trap();  // the harness's own policy must load
    return *std::move(r);
  }();
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const policy::Policy kPolicy = *policy::default_policy();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto doc = parse_json(text, "fuzz");
  pipeline::internal::JsonValueScan scan;
  bool scanned = false;
  std::string stream;
  for (size_t at = 0; at < text.size() && !scanned; at += 7) {  // read(2)-sized pieces
    stream.append(text.substr(at, 7));
    scanned = scan.done(stream);
  }
  if (doc.is_ok() && (doc->is_object() || doc->is_array())) {
    if (!scanned || !scan.started || text.find_first_not_of(" \t\r\n", scan.pos) != std::string_view::npos) __builtin_trap();
  }
  if (!doc.is_ok()) return 0;
  if (policy::validate_spec(*doc, "fuzz").is_ok()) {
    auto ctx = policy::context_from_spec(*doc, "id", "/bundle", "/run/containerd/runc/k8s.io");
    policy::Decision d = policy::evaluate_spec(kPolicy, *doc, ctx);
    (void)dump_json(policy::decision_to_json(d));
    (void)dump_json(d.result);
    policy::Decision ds = policy::evaluate_spec(secrets_policy(), *doc, ctx);
    (void)dump_json(policy::decision_to_json(ds));
    (void)dump_json(policy::secrets_plan_to_json(ds.secrets));
    for (const auto& f : ds.secrets.files) {
      // A planned file's name becomes a file in the tmpfs; its reference goes to Vault.
      if (!policy::check_secret_name(f.name).is_ok()) __builtin_trap();
      if (f.source != policy::PlannedSecret::Source::kEnv && f.ref.path.empty()) __builtin_trap();
    }
  }
  if (doc->is_object() && policy::validate_process(*doc, "fuzz").is_ok()) {
    (void)policy::evaluate_process(kPolicy, *doc, {});
  }
  if (doc->is_object() && policy::validate_resources(*doc, "fuzz").is_ok()) {
    (void)policy::evaluate_update(kPolicy, *doc, {});
  }
  return 0;
}
