#include "runguard/common/frame.h"

namespace runguard::frame {

Result<std::string> encode(const Json& message) {
  std::string payload = dump_json(message);
  if (payload.empty() || payload.size() > kMaxFrameBytes) {
    return Status(Code::kInvalidArgument, "frame of " + std::to_string(payload.size()) + " bytes exceeds the limit of " +
                                              std::to_string(kMaxFrameBytes));
  }
  uint32_t n = static_cast<uint32_t>(payload.size());
  std::string out;
  out.reserve(4 + payload.size());
  out.push_back(static_cast<char>((n >> 24) & 0xff));
  out.push_back(static_cast<char>((n >> 16) & 0xff));
  out.push_back(static_cast<char>((n >> 8) & 0xff));
  out.push_back(static_cast<char>(n & 0xff));
  out += payload;
  return out;
}

Json message(std::string_view op, Json fields) {
  Json m = fields.is_object() ? std::move(fields) : Json::object();
  m["v"] = kProtocolVersion;
  m["op"] = std::string(op);
  return m;
}

Json ok_reply(Json fields) {
  Json m = fields.is_object() ? std::move(fields) : Json::object();
  m["v"] = kProtocolVersion;
  m["ok"] = true;
  return m;
}

Json error_reply(std::string_view error) {
  return Json{{"v", kProtocolVersion}, {"ok", false}, {"error", std::string(error)}};
}

Result<std::optional<Json>> FrameDecoder::next() {
  if (pending() < 4) return std::optional<Json>();
  const auto* p = reinterpret_cast<const unsigned char*>(buffer_.data() + consumed_);
  uint32_t n = (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
  if (n == 0) return Status(Code::kInvalidArgument, "frame with length 0");
  if (n > max_frame_) {
    return Status(Code::kInvalidArgument,
                  "frame of " + std::to_string(n) + " bytes exceeds the limit of " + std::to_string(max_frame_));
  }
  if (pending() - 4 < n) return std::optional<Json>();
  std::string_view payload(buffer_.data() + consumed_ + 4, n);
  auto parsed = parse_json(payload, "frame");
  consumed_ += 4 + size_t(n);
  // Compact once the consumed prefix dominates, so a long-lived connection does not grow.
  if (consumed_ > 65536 && consumed_ * 2 > buffer_.size()) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  if (!parsed.is_ok()) return parsed.status();
  if (!parsed->is_object()) {
    return Status(Code::kInvalidArgument, std::string("frame payload is a JSON ") + json_type_name(*parsed) + ", expected an object");
  }
  return std::optional<Json>(std::move(*parsed));
}

Status check_envelope(const Json& m) {
  auto v = m.find("v");
  if (v == m.end() || !v->is_number_integer()) return Status(Code::kInvalidArgument, "frame has no integer \"v\" (protocol version)");
  if (v->get<int64_t>() != kProtocolVersion) {
    return Status(Code::kUnavailable, "protocol version " + std::to_string(v->get<int64_t>()) + " is not supported (this agent speaks " +
                                          std::to_string(kProtocolVersion) + ")");
  }
  auto op = m.find("op");
  if (op == m.end() || !op->is_string() || op->get_ref<const std::string&>().empty()) {
    return Status(Code::kInvalidArgument, "frame has no string \"op\"");
  }
  return Status::ok();
}

}  // namespace runguard::frame
