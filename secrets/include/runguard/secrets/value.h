// Picking a secret's value out of what a backend returned.
#pragma once

#include <string>

#include "runguard/common/json.h"
#include "runguard/common/status.h"

namespace runguard::secrets {

// `data` is the secret's key/value object (KV v2: the inner data.data; KV v1 and dynamic secrets:
// data). With `key`: that member, a string as its raw bytes, any other JSON value compact-dumped;
// kNotFound naming the key and `what` (the reference) when absent. Without: the whole object,
// compact JSON. A value over kMaxValueBytes (wire.h) is kInvalidArgument.
Result<std::string> select_value(const Json& data, const std::string& key, const std::string& what);

}  // namespace runguard::secrets
