// The secrets control (RG-SECRETS-*): which files a container gets under secrets.mountPath.
//
//   annotations secrets.runguard.dev/<name>: <reference>   granted by the first matching allow entry
//   secrets.attach entries that match                      the administrator's own
//   secretsInEnv enforce                                   credentials moved out of process.env
//
// Every request is checked before anything is fetched: a bad name or reference, a path no allow
// entry grants, a name asked for twice, or Kubernetes auth without the pod's service-account
// token refuses the container (RG-SECRETS-002/003), also in `runguardctl check`. When files
// remain, the per-container tmpfs is bind-mounted read-only at mountPath (RG-SECRETS-001).
#include <algorithm>

#include "eval.h"
#include "runguard/common/strings.h"
#include "runguard/policy/secrets.h"

namespace runguard::policy::internal {
namespace {

constexpr const char* kControl = "secrets";
constexpr const char* kDelivered = "RG-SECRETS-001";
constexpr const char* kRefused = "RG-SECRETS-002";
constexpr const char* kUndeliverable = "RG-SECRETS-003";

// Where kubelet mounts a pod's service-account token (the image may link /var/run to /run).
constexpr const char* kServiceAccountDirs[] = {"/var/run/secrets/kubernetes.io/serviceaccount", "/run/secrets/kubernetes.io/serviceaccount"};

bool matches(const SecretsMatch& m, const ContainerContext& ctx) {
  if (m.namespace_ && !glob_match(*m.namespace_, ctx.k8s_namespace)) return false;
  if (m.image && !glob_match(*m.image, ctx.image)) return false;
  return true;
}

// The first allow entry matching the container decides; nullptr when none does.
const SecretsAllow* allow_entry(const SecretsSettings& s, const ContainerContext& ctx) {
  for (const auto& a : s.allow) {
    if (matches(a.match, ctx)) return &a;
  }
  return nullptr;
}

std::string annotation_pointer(const std::string& key) { return "/annotations/" + json_pointer_token(key); }

// An annotation key as a finding shows it: one printable line whatever the key holds (a newline
// would forge a log line, a NUL cut it short).
std::string printable(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  return out;
}

// "/var/run/x" and "/run/x" are one place in most images.
// runc resolves a relative destination from the rootfs and ignores "." and empty components.
std::string canonical_destination(const std::string& raw) {
  std::string d;
  size_t i = 0;
  while (i <= raw.size()) {
    size_t j = raw.find('/', i);
    if (j == std::string::npos) j = raw.size();
    std::string seg = raw.substr(i, j - i);
    if (!seg.empty() && seg != ".") d += "/" + seg;
    i = j + 1;
  }
  if (d.empty()) d = "/";
  if (d.rfind("/var/run/", 0) == 0) d = d.substr(4);
  return d;
}

void refuse(Eval& e, const char* id, const std::string& message, const std::string& pointer) {
  e.violation(kControl, id, Severity::kHigh, Action::kDeny, message, pointer);
}

void add_requested(const Policy& p, Eval& e) {
  const SecretsSettings& s = p.secrets;
  const ContainerContext& ctx = e.ctx();
  const SecretsAllow* allow = nullptr;
  bool looked_up = false;
  for (const auto& [key, value] : ctx.annotations) {
    if (key.rfind(kSecretAnnotationPrefix, 0) != 0) continue;
    std::string name = key.substr(kSecretAnnotationPrefix.size());
    std::string ptr = annotation_pointer(key);
    if (Status ok = check_secret_name(name); !ok.is_ok()) {
      refuse(e, kRefused, "annotation " + printable(key) + ": " + ok.message(), ptr);
      continue;
    }
    auto ref = parse_secret_ref(value, s.backend);
    if (!ref.is_ok()) {
      refuse(e, kRefused, "annotation " + key + ": " + ref.status().message(), ptr);
      continue;
    }
    std::string shown = secret_ref_to_string(*ref);
    if (ref->backend != s.backend) {
      refuse(e, kRefused, "annotation " + key + " asks for " + shown + " but secrets.backend is " + backend_name(s.backend), ptr);
      continue;
    }
    if (!looked_up) {
      allow = allow_entry(s, ctx);
      looked_up = true;
    }
    bool granted = allow != nullptr && std::any_of(allow->paths.begin(), allow->paths.end(),
                                                   [&](const std::string& g) { return glob_match(g, ref->path); });
    if (!granted) {
      refuse(e, kRefused, "annotation " + key + " asks for " + shown + ", which no secrets.allow entry grants this container" +
                              (ctx.k8s_namespace.empty() ? "" : " (namespace " + ctx.k8s_namespace + ")") +
                              "; an annotation alone grants nothing",
             ptr);
      continue;
    }
    e.secrets().files.push_back({name, PlannedSecret::Source::kAnnotation, *ref, "", 0});
  }
  for (const auto& a : s.attach) {
    if (!matches(a.match, ctx)) continue;
    for (const auto& [name, text] : a.files) {
      auto ref = parse_secret_ref(text, s.backend);  // checked at load
      if (ref.is_ok()) e.secrets().files.push_back({name, PlannedSecret::Source::kAttach, *ref, "", 0});
    }
  }
}

// A name two sources ask for cannot be one file.
void refuse_duplicates(Eval& e) {
  auto& files = e.secrets().files;
  for (size_t i = 0; i < files.size(); ++i) {
    for (size_t j = i + 1; j < files.size(); ++j) {
      if (files[i].name != files[j].name) continue;
      refuse(e, kRefused, "secret file " + files[i].name + " is asked for twice (" + source_name(files[i].source) + " and " +
                              source_name(files[j].source) + "); rename one",
             "/annotations");
      return;
    }
  }
}

// The pod's own service-account token: Vault's Kubernetes auth logs in as the workload.
void find_service_account_token(const Policy& p, Eval& e, SecretsPlan& plan) {
  const Json* mounts = at(e.doc(), "/mounts");
  if (mounts != nullptr && mounts->is_array()) {
    for (const auto& m : *mounts) {
      std::string dest = canonical_destination(str_member(m, "destination"));
      std::string source = str_member(m, "source");
      if (dest == canonical_destination(kServiceAccountDirs[0]) && !source.empty() && source.front() == '/') {
        plan.kubernetes_token_file = source + "/token";
        return;
      }
    }
  }
  refuse(e, kUndeliverable,
         "secrets.vault.auth.method is kubernetes but the container has no service-account token mounted at " +
             std::string(kServiceAccountDirs[0]) + " (automountServiceAccountToken: false?); Vault cannot tell which workload asks",
         "/mounts");
}

// Mounts at or below mountPath must come after the tmpfs (runc mounts in order); their mount
// points are made in the tmpfs, which the container sees read-only.
void add_mount(const Policy& p, Eval& e, SecretsPlan& plan) {
  const std::string& dest = plan.mount_path;
  Json entry = {{"destination", dest},
                {"type", "bind"},
                {"source", plan.host_dir},
                {"options", Json::array({"bind", "ro", "nosuid", "nodev", "noexec", "rprivate"})}};
  const Json* mounts = at(e.doc(), "/mounts");
  size_t count = mounts != nullptr && mounts->is_array() ? mounts->size() : 0;
  std::optional<size_t> first_below;
  for (size_t i = 0; i < count; ++i) {
    std::string d = canonical_destination(str_member((*mounts)[i], "destination"));
    if (d == canonical_destination(dest)) {
      refuse(e, kUndeliverable, "the spec already mounts something at " + dest + " (mounts/" + std::to_string(i) +
                                    "); set secrets.mountPath to another directory", "/mounts/" + std::to_string(i));
      return;
    }
    if (d.rfind(canonical_destination(dest) + "/", 0) == 0) {
      if (!first_below) first_below = i;
      std::string rel = d.substr(canonical_destination(dest).size() + 1);
      std::string top = rel.substr(0, rel.find('/'));
      for (const auto& f : plan.files) {
        if (f.name == top) {
          refuse(e, kUndeliverable, "secret file " + f.name + " and the spec's mount at " + d + " (mounts/" + std::to_string(i) +
                                        ") need the same name below " + dest + "; rename the secret",
                 "/mounts/" + std::to_string(i));
          return;
        }
      }
      plan.mount_points.push_back(rel);
      plan.mount_point_sources.push_back(str_member((*mounts)[i], "source"));
    }
  }
  if (!first_below) {
    if (count == 0 && mounts == nullptr) e.apply(kControl, kDelivered, "/mounts", Json::array({entry}), entry);
    else e.apply(kControl, kDelivered, "/mounts/" + std::to_string(count), entry);
    return;
  }
  Json list = *mounts;
  list.insert(list.begin() + static_cast<std::ptrdiff_t>(*first_below), entry);
  e.apply(kControl, kDelivered, "/mounts", std::move(list), {{"inserted", entry}, {"before", *first_below}});
}

}  // namespace

void check_secrets(const Policy& p, Eval& e) {
  SecretsPlan& plan = e.secrets();
  add_requested(p, e);
  if (plan.files.empty()) return;
  plan.mount_path = p.secrets.mount_path;
  plan.host_dir = secrets_host_dir(p.state_dir, e.ctx().id);
  refuse_duplicates(e);
  bool from_vault = std::any_of(plan.files.begin(), plan.files.end(), [](const PlannedSecret& f) {
    return f.source != PlannedSecret::Source::kEnv && f.ref.backend == SecretsSettings::Backend::kVault;
  });
  if (from_vault && p.secrets.vault.auth.method == VaultAuth::Method::kKubernetes) find_service_account_token(p, e, plan);
  add_mount(p, e, plan);
}

}  // namespace runguard::policy::internal
