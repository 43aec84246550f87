#include "runguard/secrets/value.h"

#include "runguard/secrets/wire.h"

namespace runguard::secrets {

Result<std::string> select_value(const Json& data, const std::string& key, const std::string& what) {
  if (!data.is_object()) return invalid(what + ": the secret's data is " + std::string(json_type_name(data)) + ", not an object");
  std::string value;
  if (key.empty()) {
    value = dump_json(data);
  } else {
    auto it = data.find(key);
    if (it == data.end()) {
      std::string keys;
      for (const auto& [k, v] : data.items()) keys += (keys.empty() ? "" : ", ") + k;
      return Status(Code::kNotFound, what + ": the secret has no key \"" + key + "\"" +
                                         (keys.empty() ? " (it is empty)" : " (it has: " + keys + ")"));
    }
    value = it->is_string() ? it->get<std::string>() : dump_json(*it);
  }
  if (value.size() > kMaxValueBytes) {
    return invalid(what + ": the value is " + std::to_string(value.size()) + " bytes (at most " + std::to_string(kMaxValueBytes) + ")");
  }
  return value;
}

}  // namespace runguard::secrets
