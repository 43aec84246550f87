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

namespace {

// Erases the value at `ptr` from its parent object or array.
void erase_at(Json& doc, const Json::json_pointer& ptr) {
  Json& parent = doc[ptr.parent_pointer()];
  if (parent.is_array()) {
    parent.erase(static_cast<size_t>(std::stoul(ptr.back())));
  } else {
    parent.erase(ptr.back());
  }
}

}  // namespace

void Eval::set(const std::string& pointer, Json value, Json recorded) {
  Json::json_pointer ptr(pointer);
  if (doc_.contains(ptr)) {
    record("replace", pointer, recorded.is_null() ? value : recorded);
    journal_.push_back({Undo::kRestore, pointer, std::move(doc_.at(ptr))});
  } else {
    record("add", pointer, recorded.is_null() ? value : recorded);
    // Undo erases the outermost ancestor this set creates ("/linux/resources" for
    // "/linux/resources/memory/limit" when the spec had no resources).
    Json::json_pointer top = ptr;
    while (!top.parent_pointer().empty() && !doc_.contains(top.parent_pointer())) top = top.parent_pointer();
    journal_.push_back({Undo::kErase, top.to_string(), Json()});
  }
  doc_[ptr] = std::move(value);
}

void Eval::remove(const std::string& pointer) {
  Json::json_pointer ptr(pointer);
  if (!doc_.contains(ptr)) return;
  record("remove", pointer, Json());
  journal_.push_back({Undo::kInsert, pointer, std::move(doc_.at(ptr))});
  erase_at(doc_, ptr);
}

void Eval::rollback() {
  for (auto it = journal_.rbegin(); it != journal_.rend(); ++it) {
    Json::json_pointer ptr(it->pointer);
    switch (it->kind) {
      case Undo::kRestore:
        doc_[ptr] = std::move(it->old);
        break;
      case Undo::kErase:
        erase_at(doc_, ptr);
        break;
      case Undo::kInsert: {
        Json& parent = doc_[ptr.parent_pointer()];
        if (parent.is_array()) {
          size_t i = static_cast<size_t>(std::stoul(ptr.back()));
          parent.insert(parent.begin() + static_cast<std::ptrdiff_t>(i), std::move(it->old));
        } else {
          parent[ptr.back()] = std::move(it->old);
        }
        break;
      }
    }
  }
  journal_.clear();
}

const Json* at(const Json& doc, const std::string& pointer) {
  Json::json_pointer ptr(pointer);
  if (!doc.contains(ptr)) return nullptr;
  return &doc.at(ptr);
}

}  // namespace runguard::policy::internal
