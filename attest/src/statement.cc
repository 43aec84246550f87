// in-toto Statements v0.1 and v1 (statement.h has the contract).
#include "runguard/attest/statement.h"

namespace runguard::attest {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

Result<Subject> parse_subject(const Json& j, size_t index, bool name_required, const std::string& source) {
  std::string where = source + ": subject[" + std::to_string(index) + "]";
  if (!j.is_object()) return invalid(where + ": must be an object, not " + json_type_name(j));
  Subject s;
  auto name = j.find("name");
  if (name != j.end() && !name->is_null()) {
    if (!name->is_string()) return invalid(where + ".name: must be a string, not " + json_type_name(*name));
    s.name = name->get<std::string>();
  }
  if (name_required && s.name.empty()) return invalid(where + ".name: missing (required by Statement v0.1)");
  auto digest = j.find("digest");
  if (digest == j.end()) return invalid(where + ".digest: missing");
  if (!digest->is_object()) return invalid(where + ".digest: must be an object, not " + json_type_name(*digest));
  if (digest->empty()) return invalid(where + ".digest: empty (a subject is named by its digests)");
  for (const auto& [alg, value] : digest->items()) {
    if (!value.is_string()) {
      return invalid(where + ".digest." + alg + ": must be a string, not " + json_type_name(value));
    }
    s.digest[alg] = to_lower(value.get<std::string>());
  }
  return s;
}

}  // namespace

bool is_in_toto_payload_type(std::string_view payload_type) {
  if (payload_type == kInTotoPayloadType) return true;
  constexpr std::string_view kPrefix = "application/vnd.in-toto.";
  constexpr std::string_view kSuffix = "+json";
  return payload_type.size() > kPrefix.size() + kSuffix.size() && payload_type.substr(0, kPrefix.size()) == kPrefix &&
         payload_type.substr(payload_type.size() - kSuffix.size()) == kSuffix;
}

Result<Statement> parse_statement(const Json& j, const std::string& source) {
  if (!j.is_object()) return invalid(source + ": an in-toto statement must be a JSON object, not " + json_type_name(j));
  Statement st;
  auto type = j.find("_type");
  if (type == j.end() || !type->is_string()) return invalid(source + ": _type: missing or not a string (not an in-toto statement)");
  st.type = type->get<std::string>();
  if (st.type != kStatementV01 && st.type != kStatementV1) {
    return invalid(source + ": _type \"" + st.type + "\" is not an in-toto statement (expected " + std::string(kStatementV1) +
                   " or " + std::string(kStatementV01) + ")");
  }
  auto subjects = j.find("subject");
  if (subjects == j.end()) return invalid(source + ": subject: missing");
  if (!subjects->is_array()) return invalid(source + ": subject: must be an array, not " + json_type_name(*subjects));
  if (subjects->empty()) return invalid(source + ": subject: empty (the statement names no artifact)");
  bool name_required = st.type == kStatementV01;
  st.subjects.reserve(subjects->size());
  for (size_t i = 0; i < subjects->size(); ++i) {
    RG_ASSIGN_OR_RETURN(Subject s, parse_subject((*subjects)[i], i, name_required, source));
    st.subjects.push_back(std::move(s));
  }
  auto pt = j.find("predicateType");
  if (pt == j.end() || !pt->is_string()) return invalid(source + ": predicateType: missing or not a string");
  st.predicate_type = pt->get<std::string>();
  if (st.predicate_type.empty()) return invalid(source + ": predicateType: empty");
  auto pred = j.find("predicate");
  if (pred != j.end()) st.predicate = *pred;
  return st;
}

bool statement_covers(const Statement& s, std::string_view image_digest) {
  size_t colon = image_digest.find(':');
  if (colon == std::string_view::npos) return false;
  std::string alg = to_lower(image_digest.substr(0, colon));
  std::string_view hex = image_digest.substr(colon + 1);
  if (alg != "sha256" && alg != "sha512") return false;
  if (hex.size() != (alg == "sha256" ? 64u : 128u)) return false;
  for (const Subject& subject : s.subjects) {
    auto it = subject.digest.find(alg);
    if (it != subject.digest.end() && iequals(it->second, hex)) return true;
  }
  return false;
}

}  // namespace runguard::attest
