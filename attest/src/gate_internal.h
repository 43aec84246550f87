// The gate's pieces shared by gate.cc (one document) and store.cc (an image's store directory).
// Internal to rg_attest.
#pragma once

#include <string>
#include <string_view>

#include "runguard/attest/gate.h"

namespace runguard::attest::detail {

// The verdict detail with every documented key present (null where not known yet).
Json base_detail(const GateSetup& g, const ImageRef& image, const std::string& source);

// check_document without the cache; `document_digest` is "" when not computed yet (the verifier
// computes it). Sets *input_error for documents that cannot be read as attestations.
GateResult evaluate_document(const GateSetup& g, std::string_view bytes, const std::string& document_digest, const ImageRef& image,
                             int64_t now_s, const std::string& source, bool* input_error);

}  // namespace runguard::attest::detail
