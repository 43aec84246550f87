#include "http_response.h"

#include <algorithm>
#include <cctype>

#include "runguard/common/strings.h"

namespace runguard::secrets::vault {
namespace {

constexpr size_t kMaxChunkLine = 1024;

Status bad(const std::string& why) { return Status(Code::kUnavailable, "unexpected response: " + why); }

// The server's bytes as a message quotes them: at most 40, control bytes and non-ASCII as '?'
// (a header can be 64 KiB of anything; the message reaches runc's log and containerd's error).
std::string shown(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 40)) out += (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) ? '?' : c;
  return s.size() > 40 ? out + "..." : out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

Status ResponseParser::feed(std::string_view data) {
  if (state_ == State::kDone) return Status::ok();
  buf_.append(data);
  return advance();
}

Status ResponseParser::finish() {
  if (state_ == State::kEofBody) state_ = State::kDone;
  if (state_ == State::kDone) return Status::ok();
  return bad(state_ == State::kHead && buf_.empty() && response_.status == 0
                 ? "the connection closed without a response"
                 : "the connection closed before the response was complete");
}

Status ResponseParser::append_body(std::string_view data) {
  if (response_.body.size() + data.size() > kMaxBodyBytes) {
    return bad("body larger than " + std::to_string(kMaxBodyBytes >> 20) + " MiB");
  }
  response_.body.append(data);
  return Status::ok();
}

Status ResponseParser::advance() {
  for (;;) {
    switch (state_) {
      case State::kHead: {
        size_t pos = buf_.find("\r\n\r\n");
        if (pos == std::string::npos || pos + 4 > kMaxHeaderBytes) {
          if (buf_.size() > kMaxHeaderBytes || pos != std::string::npos) {
            return bad("headers larger than " + std::to_string(kMaxHeaderBytes >> 10) + " KiB");
          }
          return Status::ok();
        }
        std::string head = buf_.substr(0, pos);
        buf_.erase(0, pos + 4);
        RG_RETURN_IF_ERROR(parse_head(head));
        break;
      }
      case State::kLengthBody:
      case State::kChunkData: {
        size_t take = std::min(remaining_, buf_.size());
        RG_RETURN_IF_ERROR(append_body(std::string_view(buf_).substr(0, take)));
        buf_.erase(0, take);
        remaining_ -= take;
        if (remaining_ > 0) return Status::ok();
        state_ = state_ == State::kLengthBody ? State::kDone : State::kChunkEnd;
        break;
      }
      case State::kEofBody:
        RG_RETURN_IF_ERROR(append_body(buf_));
        buf_.clear();
        return Status::ok();
      case State::kChunkSize: {
        size_t pos = buf_.find("\r\n");
        if (pos == std::string::npos) return buf_.size() > kMaxChunkLine ? bad("chunk-size line too long") : Status::ok();
        if (pos > kMaxChunkLine) return bad("chunk-size line too long");
        std::string line = buf_.substr(0, pos);
        buf_.erase(0, pos + 2);
        RG_RETURN_IF_ERROR(parse_chunk_size(line));
        break;
      }
      case State::kChunkEnd:
        if (buf_.size() < 2) return Status::ok();
        if (buf_.compare(0, 2, "\r\n") != 0) return bad("chunk not followed by CRLF");
        buf_.erase(0, 2);
        state_ = State::kChunkSize;
        break;
      case State::kTrailers: {
        size_t pos = buf_.find("\r\n");
        if (pos == std::string::npos) {
          return trailer_bytes_ + buf_.size() > kMaxHeaderBytes ? bad("trailers too large") : Status::ok();
        }
        trailer_bytes_ += pos + 2;
        if (trailer_bytes_ > kMaxHeaderBytes) return bad("trailers too large");
        buf_.erase(0, pos + 2);
        if (pos == 0) state_ = State::kDone;
        break;
      }
      case State::kDone:
        buf_.clear();
        return Status::ok();
    }
  }
}

Status ResponseParser::parse_chunk_size(std::string_view line) {
  line = trim(line.substr(0, line.find(';')));  // chunk extensions are ignored
  if (line.empty() || line.size() > 8) return bad("chunk size \"" + shown(line) + "\" is not a hex number below 4 GiB");
  size_t size = 0;
  for (char c : line) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return bad("chunk size \"" + shown(line) + "\" is not hex");
    size = size * 16 + static_cast<size_t>(std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (std::tolower(c) - 'a' + 10));
  }
  if (size > kMaxBodyBytes) return bad("body larger than " + std::to_string(kMaxBodyBytes >> 20) + " MiB");
  remaining_ = size;
  state_ = size == 0 ? State::kTrailers : State::kChunkData;
  return Status::ok();
}

Status ResponseParser::parse_head(std::string_view head) {
  std::vector<std::string> lines;
  for (size_t start = 0;;) {
    size_t end = head.find("\r\n", start);
    lines.emplace_back(head.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 2;
  }
  const std::string& sl = lines[0];
  if (sl.size() < 12 || sl.compare(0, 7, "HTTP/1.") != 0 || sl[8] != ' ' || !std::isdigit(static_cast<unsigned char>(sl[9])) ||
      !std::isdigit(static_cast<unsigned char>(sl[10])) || !std::isdigit(static_cast<unsigned char>(sl[11])) ||
      (sl.size() > 12 && sl[12] != ' ')) {
    return bad("not an HTTP/1.x status line");
  }
  response_ = HttpResponse();
  response_.status = std::stoi(sl.substr(9, 3));
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view l = lines[i];
    size_t colon = l.find(':');
    if (colon == 0 || colon == std::string_view::npos ||
        !std::all_of(l.begin(), l.begin() + static_cast<std::ptrdiff_t>(colon), is_token_char)) {
      return bad("malformed header line");
    }
    response_.headers.emplace_back(to_lower(l.substr(0, colon)), std::string(trim(l.substr(colon + 1))));
  }
  int st = response_.status;
  if (st >= 100 && st < 200) {
    if (st == 101) return bad("the server switched protocols");
    state_ = State::kHead;  // an interim response: the real one follows
    return Status::ok();
  }
  if (st == 204 || st == 304) {
    state_ = State::kDone;
    return Status::ok();
  }
  std::string te = to_lower(response_.header("transfer-encoding"));
  if (!te.empty()) {
    if (te.size() < 7 || te.compare(te.size() - 7, 7, "chunked") != 0) return bad("unsupported transfer-encoding \"" + shown(te) + "\"");
    state_ = State::kChunkSize;
    return Status::ok();
  }
  std::string length;
  for (const auto& [k, v] : response_.headers) {
    if (k != "content-length") continue;
    if (!length.empty() && v != length) return bad("conflicting content-length headers");
    length = v;
  }
  if (length.empty()) {
    state_ = State::kEofBody;
    return Status::ok();
  }
  if (length.size() > 10 || !std::all_of(length.begin(), length.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return bad("content-length \"" + shown(length) + "\" is not a number");
  }
  remaining_ = std::stoull(length);
  if (remaining_ > kMaxBodyBytes) return bad("body larger than " + std::to_string(kMaxBodyBytes >> 20) + " MiB");
  state_ = remaining_ == 0 ? State::kDone : State::kLengthBody;
  return Status::ok();
}

}  // namespace runguard::secrets::vault
