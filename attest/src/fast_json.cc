#include "fast_json.h"

// SSE2 is in every x86-64 CPU: RapidJSON then scans strings 16 bytes at a time.
#if defined(__SSE2__) && !defined(RAPIDJSON_SSE2)
#define RAPIDJSON_SSE2
#endif
#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>
#include <rapidjson/stream.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "runguard/common/utf8.h"

namespace runguard::attest::internal {
namespace {

// Builds the Json value by value. `stack` holds the containers being filled; a container is only
// ever appended to while it is the top, so the pointer to its newest element stays valid.
class Builder : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Builder> {
 public:
  explicit Builder(const PruneSet* prune) : prune_(prune) {}

  bool Null() { return add(Json(nullptr)); }
  bool Bool(bool b) { return add(Json(b)); }
  bool Int(int i) { return add(i < 0 ? Json(static_cast<int64_t>(i)) : Json(static_cast<uint64_t>(i))); }
  bool Uint(unsigned u) { return add(Json(static_cast<uint64_t>(u))); }
  bool Int64(int64_t i) { return add(i < 0 ? Json(i) : Json(static_cast<uint64_t>(i))); }
  bool Uint64(uint64_t u) { return add(Json(u)); }
  bool Double(double d) { return add(Json(d)); }
  bool String(const char* s, rapidjson::SizeType len, bool) {
    if (skip_ > 0 || pending_skip_) return add(Json());
    return add(Json(std::string(s, len)));
  }
  bool StartObject() { return open(Json::object()); }
  bool StartArray() { return open(Json::array()); }
  bool Key(const char* s, rapidjson::SizeType len, bool) {
    if (skip_ > 0) return true;
    key_.assign(s, len);
    pending_skip_ = prune_ != nullptr && prune_->count(std::string_view(key_)) > 0;
    return true;
  }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool EndArray(rapidjson::SizeType) { return close(); }

  Json take() { return std::move(root_); }
  bool too_deep() const { return too_deep_; }

 private:
  // A scalar: dropped inside a skipped value or when it is a pruned member's value.
  bool add(Json&& v) {
    if (skip_ > 0) return true;
    if (pending_skip_) {
      pending_skip_ = false;
      return true;
    }
    place(std::move(v));
    return true;
  }
  bool open(Json&& container) {
    if (++depth_ > kMaxJsonDepth) {
      too_deep_ = true;
      return false;
    }
    if (skip_ > 0 || pending_skip_) {
      pending_skip_ = false;
      ++skip_;
      return true;
    }
    stack_.push_back(place(std::move(container)));
    return true;
  }
  bool close() {
    --depth_;
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    stack_.pop_back();
    return true;
  }
  Json* place(Json&& v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Json& top = *stack_.back();
    if (top.is_array()) {
      top.push_back(std::move(v));
      return &top.back();
    }
    Json& slot = top[key_];
    slot = std::move(v);
    return &slot;
  }

  const PruneSet* prune_;
  Json root_;
  std::vector<Json*> stack_;
  std::string key_;
  bool pending_skip_ = false;
  int skip_ = 0;
  int depth_ = 0;
  bool too_deep_ = false;
};

}  // namespace

const PruneSet& report_prune_set() {
  static const PruneSet kNames = {
      // Trivy
      "Description", "Title", "References", "CVSS", "VendorSeverity", "CweIDs", "PublishedDate", "LastModifiedDate",
      "DataSource", "Layer", "PrimaryURL", "SeveritySource", "Fingerprint", "Packages", "ImageConfig", "Layers",
      "DiffIDs", "Secrets", "Misconfigurations", "Licenses",
      // Grype
      "description", "urls", "cvss", "epss", "cwes", "knownExploited", "advisories", "matchDetails", "cpes",
      "licenses", "upstreams", "risk", "dataSource"};
  return kNames;
}

Result<Json> parse_json_fast(std::string_view text, const std::string& source, const PruneSet* prune) {
  if (text.size() > UINT32_MAX) return Status(Code::kInvalidArgument, source + ": document too large to parse");
  // The reader takes a NUL-terminated string (its fast string scan needs one). A NUL byte is
  // never valid JSON text, and inside the text it would end the document early: refused.
  if (std::memchr(text.data(), '\0', text.size()) != nullptr) {
    return Status(Code::kInvalidArgument, source + ": not valid JSON: a NUL byte at byte " +
                                              std::to_string(static_cast<const char*>(std::memchr(text.data(), '\0', text.size())) - text.data()));
  }
  // One copy, NUL-terminated and parsed in place: strings are unescaped inside it and handed to
  // the builder from there (a multi-megabyte payload string is then copied once, not grown through
  // the reader's own stack).
  // The SSE2 scan reads whole aligned 16-byte blocks, up to 15 bytes past the terminating NUL:
  // those bytes are ours (zeros), never past the allocation.
  std::string buffer(text.size() + 16, '\0');
  std::memcpy(buffer.data(), text.data(), text.size());
  rapidjson::InsituStringStream in(buffer.data());
  rapidjson::Reader reader;
  Builder builder(prune);
  // UTF-8 is checked over the whole text first (an ASCII fast path; RapidJSON's own check goes
  // byte by byte and was a quarter of the time of verifying a 2 MB report).
  if (!valid_utf8(text)) return Status(Code::kInvalidArgument, source + ": not valid UTF-8");
  rapidjson::ParseResult ok = reader.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseInsituFlag>(in, builder);
  if (builder.too_deep()) {
    return Status(Code::kInvalidArgument, source + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  if (!ok) {
    return Status(Code::kInvalidArgument, source + ": not valid JSON at byte " + std::to_string(ok.Offset()) + ": " +
                                              rapidjson::GetParseError_En(ok.Code()));
  }
  return builder.take();
}

}  // namespace runguard::attest::internal
