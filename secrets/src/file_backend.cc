#include "runguard/secrets/file_backend.h"

#include <string.h>

#include "runguard/nsutil/private_files.h"
#include "runguard/policy/secrets.h"
#include "runguard/secrets/value.h"

namespace runguard::secrets {

Result<std::vector<FetchedSecret>> read_file_secrets(const std::string& dir, const FetchRequest& r) {
  std::vector<FetchedSecret> out;
  auto fail = [&](Status s) {
    wipe(out);
    return s;
  };
  for (const auto& s : r.secrets) {
    auto ref = policy::parse_secret_ref(s.ref, policy::SecretsSettings::Backend::kFile);
    if (!ref.is_ok()) return fail(ref.status());
    if (ref->backend != policy::SecretsSettings::Backend::kFile) {
      return fail(invalid(s.ref + " is not a file: reference; the file backend reads only those"));
    }
    auto content = nsutil::read_file_beneath(dir, ref->path, kMaxValueBytes);
    if (!content.is_ok()) {
      return fail(Status(content.status().code(), "secret " + s.name + " (" + s.ref + "): " + content.status().message()));
    }
    FetchedSecret f;
    f.name = s.name;
    if (ref->key.empty()) {
      f.value = std::move(*content);
    } else {
      auto doc = parse_json(*content, dir + "/" + ref->path);
      explicit_bzero(content->data(), content->size());
      // parse_json's message may quote the text: say only where it failed.
      if (!doc.is_ok()) return fail(invalid("secret " + s.name + ": " + dir + "/" + ref->path + " is not a JSON object, so #" + ref->key + " cannot be taken from it"));
      auto v = select_value(*doc, ref->key, s.ref);
      if (!v.is_ok()) return fail(v.status());
      f.value = std::move(*v);
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace runguard::secrets
