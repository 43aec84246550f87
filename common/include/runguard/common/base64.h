// Base64 (RFC 4648): the standard alphabet with padding for encoding; decoding accepts the
// standard and the URL-safe alphabet, with or without padding (DSSE signatures and payloads come
// in both). Pure.
#pragma once

#include <string>
#include <string_view>

#include "runguard/common/status.h"

namespace runguard {

std::string base64_encode(std::string_view bytes);

// kInvalidArgument for a character outside both alphabets, a mix of them, misplaced padding or a
// length that cannot be base64; `what` names the field in the message.
Result<std::string> base64_decode(std::string_view text, std::string_view what);

}  // namespace runguard
