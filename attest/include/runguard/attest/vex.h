// OpenVEX documents (v0.2.0 and the unversioned v0.0.1, reference/attestations.md §7) as
// suppressions of scan findings.
//
// A statement suppresses a finding when (1) its status is not_affected or fixed (affected and
// under_investigation never suppress), (2) its vulnerability.name or one of its aliases equals the
// finding's id or one of the finding's aliases, and (3) a product matches: the product (its @id or
// identifiers.purl) names the image (a bare "sha256:<hex>" digest, a pkg:oci purl whose version
// is the url-encoded digest, or — Grype's rule for tags — the image reference ImageRef::name itself,
// never an unknown "" one) and it has no subcomponents or one of them matches the finding's
// package purl; or the product itself is the finding's package purl. Purls match on type,
// namespace, name and, when the statement's purl has one, version; qualifiers and subpaths are
// ignored (Trivy's rule: a version-less purl means every version). Statements without products
// apply to nothing (no in-toto subject cascade here: the documents are plain files).
// When several statements match, the latest (statement timestamp, else the document's) decides,
// so an `affected` issued after a `not_affected` brings the finding back.
// not_affected statements need a justification or an impact_statement, else the document is refused.
//
// Limits: kMaxVexBytes per document. Loading reads the files given; matching is pure.
// Thread-safety: immutable after loading.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runguard/attest/report.h"
#include "runguard/common/json.h"
#include "runguard/common/status.h"

namespace runguard::attest {

struct VexStatement {
  std::string document;                 // file (or "inline") it came from
  std::string vulnerability;            // vulnerability.name
  std::vector<std::string> aliases;
  std::vector<std::string> products;    // product @id / identifiers.purl / hashes as "sha256:<hex>"
  std::vector<std::string> subcomponents;
  std::string status;                   // not_affected | affected | fixed | under_investigation
  std::string justification;
  int64_t timestamp_s = 0;              // statement's, else the document's
};

struct ImageRef {
  std::string digest;  // "sha256:<hex>"
  std::string name;    // reference as the engine named it ("" when unknown)
};

class VexIndex {
 public:
  // Adds every statement of one document. kInvalidArgument naming `source` and the statement index.
  Status add_document(const Json& j, const std::string& source);
  // Files, and directories (their *.json files, not recursive, in name order). A missing path is
  // kNotFound; a document that fails to parse fails the whole load (a VEX that silently did
  // nothing would keep findings blocking — or, worse, a half-read one suppress the wrong ones).
  Status load_paths(const std::vector<std::string>& paths);

  // The statement that decides for `f` in `image`, when it suppresses the finding.
  std::optional<VexStatement> suppression(const VulnFinding& f, const ImageRef& image) const;

  size_t size() const { return statements_.size(); }
  const std::vector<std::string>& sources() const { return sources_; }
  // "sha256:<hex>" over every loaded document's bytes, in load order (part of the gate's digest).
  const std::string& digest() const { return digest_; }

 private:
  std::vector<VexStatement> statements_;
  std::vector<std::string> sources_;
  std::string digest_;
  std::string digest_input_;

  // add_document's body; `bytes_digest` is the document's digest as it enters digest().
  Status add_parsed(const Json& j, const std::string& source, const std::string& bytes_digest);
};

}  // namespace runguard::attest
