// The `file` backend (the embedded default): secrets are files in a root-only directory on the
// node (secrets.file.dir). A reference's path names a file below it, opened without following
// symlinks and never leaving the directory (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
// with `#key` the file must hold a JSON object and the member is taken (value.h).
#pragma once

#include <string>
#include <vector>

#include "runguard/common/status.h"
#include "runguard/secrets/wire.h"

namespace runguard::secrets {

// Reads each `file:` reference of `r` below `dir`. kNotFound for a missing file or key,
// kInvalidArgument for a non-file reference or a file too large.
Result<std::vector<FetchedSecret>> read_file_secrets(const std::string& dir, const FetchRequest& r);

}  // namespace runguard::secrets
