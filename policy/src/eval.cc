#include "eval.h"

namespace runguard::policy::internal {

bool Eval::violation(const char* control, const std::string& id, Severity sev, Action action,
                     const std::string& message, const std::string& pointer) {
  control_ = control;
  id_ = id;
  Finding f{id, control, sev, action, message, pointer};
  bool fix = false;
  if (mode_ == Mode::kAudit) {
    fix = action == Action::kEnforce;
    f.action = Action::kAudit;
    if (action == Action::kDeny) f.message = "would deny: " + f.message;
  } else if (action == Action::kDeny) {
    d_.allowed = false;
  } else if (action == Action::kEnforce) {
    fix = true;
  }
  d_.findings.push_back(std::move(f));
  return fix;
}

void Eval::record(const std::string& op, const std::string& pointer, Json value) {
  d_.mutations.push_back(Mutation{id_, control_, op, pointer, std::move(value), mode_ == Mode::kEnforce});
}

void Eval::set(const std::string& pointer, Json value, Json recorded) {
  Json::json_pointer ptr(pointer);
  bool existed = doc_.contains(ptr);
  record(existed ? "replace" : "add", pointer, recorded.is_null() ? value : recorded);
  doc_[ptr] = std::move(value);
}

void Eval::remove(const std::string& pointer) {
  Json::json_pointer ptr(pointer);
  if (!doc_.contains(ptr)) return;
  record("remove", pointer, Json());
  Json& parent = doc_[ptr.parent_pointer()];
  const std::string& last = ptr.back();
  if (parent.is_array()) {
    parent.erase(static_cast<size_t>(std::stoul(last)));
  } else {
    parent.erase(last);
  }
}

const Json* at(const Json& doc, const std::string& pointer) {
  Json::json_pointer ptr(pointer);
  if (!doc.contains(ptr)) return nullptr;
  return &doc.at(ptr);
}

}  // namespace runguard::policy::internal
