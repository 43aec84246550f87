// An HTTP/1.1 response, and the incremental parser that reads one off a connection.
//
// Accepted: a status line "HTTP/1.x NNN reason", header lines "Name: value" ending in CRLF, then
// the body delimited by Transfer-Encoding: chunked (chunk extensions and trailers skipped), by
// Content-Length, or by the end of the connection. Interim 1xx responses are skipped; 204 and 304
// have no body. Limits: the status line plus headers (and trailers) at most kMaxHeaderBytes, the
// body at most kMaxBodyBytes, a chunk-size line at most 1 KiB; past a limit parsing fails. Errors
// are kUnavailable ("unexpected response: ...").
//
// Pure: no I/O. Thread-safety: one parser per connection.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runguard/common/status.h"

namespace runguard::secrets::vault {

inline constexpr size_t kMaxHeaderBytes = 64u << 10;
inline constexpr size_t kMaxBodyBytes = 4u << 20;

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased, values trimmed
  std::string body;

  // The first header called `name` (lowercase), "" when absent.
  std::string header(std::string_view name) const;
};

class ResponseParser {
 public:
  // Takes the next bytes from the connection. Bytes after a complete response are ignored.
  Status feed(std::string_view data);
  // The connection ended: completes a body delimited by the end of the connection; anything else
  // unfinished is an error ("connection closed before the response was complete").
  Status finish();
  bool complete() const { return state_ == State::kDone; }
  HttpResponse& response() { return response_; }

 private:
  enum class State { kHead, kLengthBody, kEofBody, kChunkSize, kChunkData, kChunkEnd, kTrailers, kDone };
  Status advance();
  Status parse_head(std::string_view head);
  Status parse_chunk_size(std::string_view line);
  Status append_body(std::string_view data);

  State state_ = State::kHead;
  std::string buf_;        // bytes not consumed yet
  size_t remaining_ = 0;   // kLengthBody / kChunkData: body bytes still expected
  size_t trailer_bytes_ = 0;
  HttpResponse response_;
};

}  // namespace runguard::secrets::vault
