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
  bool replaces = doc_.contains(ptr) && !doc_.at(ptr).is_null();
  record(replaces ? "replace" : "add", pointer, recorded.is_null() ? value : recorded);
  // The undo entry covers the outermost ancestor this write creates or turns from null into an
  // object ("/linux/resources" for "/linux/resources/memory/limit" when the spec had none).
  std::vector<std::string> tokens;
  for (Json::json_pointer p = ptr; !p.empty(); p = p.parent_pointer()) tokens.push_back(p.back());
  Json::json_pointer top;
  for (auto it = tokens.rbegin(); it != tokens.rend(); ++it) {
    top /= *it;
    if (!doc_.contains(top)) {
      journal_.push_back({Undo::kErase, top.to_string(), Json()});
      break;
    }
    if (doc_.at(top).is_null() || top == ptr) {
      journal_.push_back({Undo::kRestore, top.to_string(), std::move(doc_.at(top))});
      break;
    }
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
  const Json& v = doc.at(ptr);
  return v.is_null() ? nullptr : &v;
}

namespace {
const Json* member(const Json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}
}  // namespace

std::string str_member(const Json& obj, const char* key) {
  const Json* m = member(obj, key);
  return m != nullptr && m->is_string() ? m->get<std::string>() : std::string();
}

bool bool_member(const Json& obj, const char* key) {
  const Json* m = member(obj, key);
  return m != nullptr && m->is_boolean() && m->get<bool>();
}

uint64_t uint_member(const Json& obj, const char* key) {
  const Json* m = member(obj, key);
  return m != nullptr && m->is_number_unsigned() ? m->get<uint64_t>() : 0;
}

bool has_member(const Json& obj, const char* key) { return member(obj, key) != nullptr; }

}  // namespace runguard::policy::internal
