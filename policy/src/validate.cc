// Type checks for the fields the controls read. Everything else in a document is left alone and
// preserved; a known field of the wrong type is an input error naming its JSON pointer.
#include <string_view>

#include "key_case.h"
#include "runguard/policy/engine.h"

namespace runguard::policy {
namespace {

enum class T { kObject, kArray, kString, kBool, kUint, kInt, kStringArray };

const char* type_word(T t) {
  switch (t) {
    case T::kObject: return "an object";
    case T::kArray: return "an array";
    case T::kString: return "a string";
    case T::kBool: return "a boolean";
    case T::kUint: return "an unsigned integer";
    case T::kInt: return "an integer";
    case T::kStringArray: return "an array of strings";
  }
  return "?";
}

bool has_type(const Json& j, T t) {
  switch (t) {
    case T::kObject: return j.is_object();
    case T::kArray: return j.is_array();
    case T::kString: return j.is_string();
    case T::kBool: return j.is_boolean();
    case T::kUint: return j.is_number_unsigned();
    case T::kInt: return j.is_number_integer();
    case T::kStringArray:
      if (!j.is_array()) return false;
      for (const auto& e : j) {
        if (!e.is_string()) return false;
      }
      return true;
  }
  return false;
}

class Checker {
 public:
  Checker(const Json& doc, std::string source) : doc_(doc), source_(std::move(source)) {}

  // Checks `pointer` if present; `null` counts as absent (Go's omitempty writers emit it).
  Status field(const std::string& pointer, T t) {
    Json::json_pointer p(pointer);
    if (!doc_.contains(p)) return Status::ok();
    const Json& v = doc_.at(p);
    if (v.is_null() || has_type(v, t)) return Status::ok();
    return invalid(source_ + ": " + pointer + ": expected " + type_word(t) + ", got " + json_type_name(v));
  }

  Status each(const std::string& array_pointer, T t, const std::vector<std::pair<const char*, T>>& members) {
    RG_RETURN_IF_ERROR(field(array_pointer, T::kArray));
    Json::json_pointer p(array_pointer);
    if (!doc_.contains(p) || doc_.at(p).is_null()) return Status::ok();
    for (size_t i = 0; i < doc_.at(p).size(); ++i) {
      std::string item = array_pointer + "/" + std::to_string(i);
      RG_RETURN_IF_ERROR(field(item, t));
      for (const auto& [name, mt] : members) RG_RETURN_IF_ERROR(field(item + "/" + name, mt));
    }
    return Status::ok();
  }

  Status process(const std::string& base) {
    RG_RETURN_IF_ERROR(field(base.empty() ? "" : base, T::kObject));
    RG_RETURN_IF_ERROR(field(base + "/user", T::kObject));
    RG_RETURN_IF_ERROR(field(base + "/user/uid", T::kUint));
    RG_RETURN_IF_ERROR(field(base + "/user/gid", T::kUint));
    RG_RETURN_IF_ERROR(each(base + "/user/additionalGids", T::kUint, {}));
    RG_RETURN_IF_ERROR(field(base + "/capabilities", T::kObject));
    for (const char* set : {"bounding", "effective", "permitted", "inheritable", "ambient"}) {
      RG_RETURN_IF_ERROR(field(base + "/capabilities/" + set, T::kStringArray));
    }
    RG_RETURN_IF_ERROR(field(base + "/noNewPrivileges", T::kBool));
    RG_RETURN_IF_ERROR(field(base + "/env", T::kStringArray));
    RG_RETURN_IF_ERROR(field(base + "/args", T::kStringArray));
    RG_RETURN_IF_ERROR(each(base + "/rlimits", T::kObject, {{"type", T::kString}, {"hard", T::kUint}, {"soft", T::kUint}}));
    return Status::ok();
  }

  Status resources(const std::string& base) {
    RG_RETURN_IF_ERROR(field(base.empty() ? "" : base, T::kObject));
    RG_RETURN_IF_ERROR(field(base + "/memory", T::kObject));
    for (const char* f : {"limit", "swap", "reservation"}) RG_RETURN_IF_ERROR(field(base + "/memory/" + f, T::kInt));
    RG_RETURN_IF_ERROR(field(base + "/pids", T::kObject));
    RG_RETURN_IF_ERROR(field(base + "/pids/limit", T::kInt));
    RG_RETURN_IF_ERROR(field(base + "/cpu", T::kObject));
    RG_RETURN_IF_ERROR(field(base + "/cpu/shares", T::kUint));
    RG_RETURN_IF_ERROR(field(base + "/cpu/quota", T::kInt));
    RG_RETURN_IF_ERROR(each(base + "/devices", T::kObject, {{"allow", T::kBool}, {"type", T::kString}, {"access", T::kString}}));
    return Status::ok();
  }

  Status spec() {
    if (!doc_.is_object()) return invalid(source_ + ": expected a JSON object, got " + json_type_name(doc_));
    RG_RETURN_IF_ERROR(process("/process"));
    RG_RETURN_IF_ERROR(field("/root", T::kObject));
    RG_RETURN_IF_ERROR(field("/root/path", T::kString));
    RG_RETURN_IF_ERROR(field("/root/readonly", T::kBool));
    RG_RETURN_IF_ERROR(each("/mounts", T::kObject,
                            {{"destination", T::kString}, {"source", T::kString}, {"type", T::kString}, {"options", T::kStringArray}}));
    RG_RETURN_IF_ERROR(field("/annotations", T::kObject));
    if (doc_.contains("annotations") && doc_["annotations"].is_object()) {
      for (const auto& [k, v] : doc_["annotations"].items()) {
        if (!v.is_string()) return invalid(source_ + ": /annotations/" + json_pointer_token(k) + ": expected a string, got " + json_type_name(v));
      }
    }
    RG_RETURN_IF_ERROR(field("/hooks", T::kObject));
    for (const char* h : {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}) {
      RG_RETURN_IF_ERROR(each(std::string("/hooks/") + h, T::kObject, {{"path", T::kString}, {"args", T::kStringArray}}));
    }
    RG_RETURN_IF_ERROR(field("/linux", T::kObject));
    RG_RETURN_IF_ERROR(each("/linux/namespaces", T::kObject, {{"type", T::kString}, {"path", T::kString}}));
    RG_RETURN_IF_ERROR(resources("/linux/resources"));
    RG_RETURN_IF_ERROR(field("/linux/seccomp", T::kObject));
    RG_RETURN_IF_ERROR(field("/linux/maskedPaths", T::kStringArray));
    RG_RETURN_IF_ERROR(field("/linux/readonlyPaths", T::kStringArray));
    return Status::ok();
  }

 private:
  const Json& doc_;
  std::string source_;
};

}  // namespace

Status validate_spec(const Json& spec, const std::string& source) {
  RG_RETURN_IF_ERROR(Checker(spec, source).spec());
  return internal::check_key_case(spec, source, {"/annotations", "/linux/sysctl", "/linux/resources/unified"});
}

Status validate_process(const Json& process, const std::string& source) {
  if (!process.is_object()) return invalid(source + ": expected a JSON object, got " + json_type_name(process));
  RG_RETURN_IF_ERROR(Checker(process, source).process(""));
  return internal::check_key_case(process, source, {});
}

Status validate_resources(const Json& resources, const std::string& source) {
  if (!resources.is_object()) return invalid(source + ": expected a JSON object, got " + json_type_name(resources));
  RG_RETURN_IF_ERROR(Checker(resources, source).resources(""));
  return internal::check_key_case(resources, source, {"/unified"});
}

}  // namespace runguard::policy
