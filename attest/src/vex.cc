// OpenVEX documents -> suppressions (vex.h). A statement with several products is kept as one
// VexStatement per product, so each product keeps its own subcomponents.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "json_read.h"
#include "purl.h"
#include "runguard/attest/keys.h"
#include "runguard/attest/limits.h"
#include "runguard/attest/vex.h"
#include "runguard/common/strings.h"

namespace runguard::attest {

using detail::index_path;
using detail::join_path;

namespace {

constexpr std::string_view kContextPrefix = "https://openvex.dev/ns";

bool is_status(const std::string& s) {
  return s == "not_affected" || s == "affected" || s == "fixed" || s == "under_investigation";
}

bool equals_ci(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// A product or subcomponent: a string (v0.0.1) or {@id, identifiers{purl}, hashes{sha-256: hex}}.
Status component_ids(const Json& c, const std::string& path, std::vector<std::string>& out) {
  if (c.is_string()) {
    out.push_back(c.get<std::string>());
    return Status::ok();
  }
  if (!c.is_object()) return detail::type_error(path, "an object or a string", c);
  RG_ASSIGN_OR_RETURN(std::string id, detail::opt_string(c, "@id", path));
  if (!id.empty()) out.push_back(id);
  RG_ASSIGN_OR_RETURN(const Json* idents, detail::opt_object(c, "identifiers", path));
  if (idents) {
    RG_ASSIGN_OR_RETURN(std::string purl, detail::opt_string(*idents, "purl", join_path(path, "identifiers")));
    if (!purl.empty()) out.push_back(purl);
  }
  RG_ASSIGN_OR_RETURN(const Json* hashes, detail::opt_object(c, "hashes", path));
  if (hashes) {
    for (auto it = hashes->begin(); it != hashes->end(); ++it) {
      if (!it->is_string()) return detail::type_error(join_path(join_path(path, "hashes"), it.key()), "a string", *it);
      std::string alg = to_lower(it.key());
      alg.erase(std::remove(alg.begin(), alg.end(), '-'), alg.end());
      out.push_back(alg + ":" + to_lower(it->get<std::string>()));
    }
  }
  return Status::ok();
}

// Statement time: its last_updated, else its timestamp, else the document's.
Result<int64_t> statement_time(const Json& s, const std::string& path, int64_t doc_time) {
  for (const char* key : {"last_updated", "timestamp"}) {
    RG_ASSIGN_OR_RETURN(std::string t, detail::opt_string(s, key, path));
    if (t.empty()) continue;
    auto v = parse_rfc3339(t);
    if (!v) return Status(Code::kInvalidArgument, join_path(path, key) + ": \"" + t + "\" is not an RFC 3339 time");
    return *v;
  }
  return doc_time;
}

Status parse_vulnerability(const Json& s, const std::string& path, VexStatement& st) {
  const Json* v = detail::member(s, "vulnerability");
  std::string vp = join_path(path, "vulnerability");
  if (!v) return Status(Code::kInvalidArgument, vp + ": required");
  if (v->is_string()) {  // v0.0.1
    st.vulnerability = v->get<std::string>();
  } else if (v->is_object()) {
    RG_ASSIGN_OR_RETURN(st.vulnerability, detail::opt_string(*v, "name", vp));
    RG_ASSIGN_OR_RETURN(std::string iri, detail::opt_string(*v, "@id", vp));
    RG_ASSIGN_OR_RETURN(st.aliases, detail::opt_string_array(*v, "aliases", vp));
    if (st.vulnerability.empty()) {
      st.vulnerability = iri;  // Trivy's own documents name it by @id only
    } else if (!iri.empty()) {
      st.aliases.push_back(iri);
    }
  } else {
    return detail::type_error(vp, "an object", *v);
  }
  if (st.vulnerability.empty()) return Status(Code::kInvalidArgument, vp + ": needs a name (or an @id)");
  return Status::ok();
}

Status parse_statement(const Json& s, const std::string& path, int64_t doc_time, const std::string& document,
                       std::vector<VexStatement>& out) {
  RG_RETURN_IF_ERROR(detail::expect_object(s, path));
  VexStatement base;
  base.document = document;
  RG_RETURN_IF_ERROR(parse_vulnerability(s, path, base));
  RG_ASSIGN_OR_RETURN(base.status, detail::req_string(s, "status", path));
  if (!is_status(base.status)) {
    return Status(Code::kInvalidArgument, join_path(path, "status") + ": \"" + base.status +
                                              "\" is not one of not_affected, affected, fixed, under_investigation");
  }
  RG_ASSIGN_OR_RETURN(base.justification, detail::opt_string(s, "justification", path));
  RG_ASSIGN_OR_RETURN(std::string impact, detail::opt_string(s, "impact_statement", path));
  if (base.status == "not_affected" && base.justification.empty() && impact.empty()) {
    return Status(Code::kInvalidArgument, path + ": status not_affected needs a justification or an impact_statement");
  }
  if (base.justification.empty() && !impact.empty()) base.justification = impact;
  RG_ASSIGN_OR_RETURN(base.timestamp_s, statement_time(s, path, doc_time));

  std::vector<std::string> shared_subs;  // v0.0.1: statement-level subcomponents
  RG_ASSIGN_OR_RETURN(const Json* subs, detail::opt_array(s, "subcomponents", path));
  if (subs) {
    for (size_t i = 0; i < subs->size(); ++i) {
      RG_RETURN_IF_ERROR(component_ids((*subs)[i], index_path(join_path(path, "subcomponents"), i), shared_subs));
    }
  }
  RG_ASSIGN_OR_RETURN(const Json* products, detail::opt_array(s, "products", path));
  if (!products) return Status::ok();  // applies to nothing: no subject cascade for plain files
  std::string pp = join_path(path, "products");
  for (size_t i = 0; i < products->size(); ++i) {
    const Json& p = (*products)[i];
    std::string ip = index_path(pp, i);
    VexStatement st = base;
    RG_RETURN_IF_ERROR(component_ids(p, ip, st.products));
    st.subcomponents = shared_subs;
    if (p.is_object()) {
      RG_ASSIGN_OR_RETURN(const Json* psubs, detail::opt_array(p, "subcomponents", ip));
      if (psubs) {
        for (size_t k = 0; k < psubs->size(); ++k) {
          RG_RETURN_IF_ERROR(component_ids((*psubs)[k], index_path(join_path(ip, "subcomponents"), k), st.subcomponents));
        }
      }
    }
    if (!st.products.empty()) out.push_back(std::move(st));
  }
  return Status::ok();
}

bool ids_match(const VexStatement& s, const VulnFinding& f) {
  auto one = [&](const std::string& id) {
    if (id.empty()) return false;
    if (equals_ci(id, f.id)) return true;
    return std::any_of(f.aliases.begin(), f.aliases.end(), [&](const std::string& a) { return equals_ci(id, a); });
  };
  return one(s.vulnerability) || std::any_of(s.aliases.begin(), s.aliases.end(), one);
}

bool names_image(const std::string& product, const ImageRef& image) {
  if (!image.digest.empty() && equals_ci(product, image.digest)) return true;
  auto purl = detail::parse_purl(product);
  if (purl && purl->type == "oci" && !image.digest.empty() && equals_ci(purl->version, image.digest)) return true;
  if (image.name.empty()) return false;
  if (product == image.name) return true;
  auto name_purl = detail::parse_purl(image.name);
  return purl && name_purl && detail::purl_matches(*purl, *name_purl);
}

bool purl_covers(const std::string& pattern, const std::string& finding_purl) {
  if (finding_purl.empty()) return false;
  auto p = detail::parse_purl(pattern);
  auto f = detail::parse_purl(finding_purl);
  return p && f && detail::purl_matches(*p, *f);
}

bool product_matches(const VexStatement& s, const VulnFinding& f, const ImageRef& image) {
  for (const auto& product : s.products) {
    if (names_image(product, image)) {
      if (s.subcomponents.empty()) return true;
      for (const auto& sub : s.subcomponents) {
        if (purl_covers(sub, f.purl)) return true;
      }
    }
    if (purl_covers(product, f.purl)) return true;
  }
  return false;
}

Result<std::string> read_bounded(const std::string& path) {
  // O_NONBLOCK: a FIFO named as a VEX file must not hang the create (it is refused below).
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return Status(Code::kNotFound, path + ": no such file", errno);
    return io_error("open " + path, errno);
  }
  std::string bytes;
  struct stat st {};
  Status err;
  if (::fstat(fd, &st) != 0) {
    err = io_error("stat " + path, errno);
  } else if (!S_ISREG(st.st_mode)) {
    err = Status(Code::kInvalidArgument, path + ": not a regular file (a VEX document must be a file)");
  } else if (static_cast<uint64_t>(st.st_size) > kMaxVexBytes) {
    err = Status(Code::kInvalidArgument, path + ": " + std::to_string(st.st_size) + " bytes, above the limit of " +
                                             std::to_string(kMaxVexBytes) + " bytes for a VEX document");
  } else {
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        err = io_error("read " + path, errno);
        break;
      }
      if (n == 0) break;
      bytes.append(buf, static_cast<size_t>(n));
      if (bytes.size() > kMaxVexBytes) {
        err = Status(Code::kInvalidArgument, path + ": above the limit of " + std::to_string(kMaxVexBytes) + " bytes for a VEX document");
        break;
      }
    }
  }
  ::close(fd);
  if (!err.is_ok()) return err;
  return bytes;
}

}  // namespace

Status VexIndex::add_document(const Json& j, const std::string& source) {
  return add_parsed(j, source, sha256_digest(dump_json(j)));
}

Status VexIndex::add_parsed(const Json& j, const std::string& source, const std::string& bytes_digest) {
  std::vector<VexStatement> added;
  Status st = [&]() -> Status {
    RG_RETURN_IF_ERROR(detail::expect_object(j, ""));
    RG_ASSIGN_OR_RETURN(std::string context, detail::req_string(j, "@context", ""));
    if (context.compare(0, kContextPrefix.size(), kContextPrefix) != 0) {
      return Status(Code::kInvalidArgument, "@context: \"" + context + "\" is not an OpenVEX context (" + std::string(kContextPrefix) + "…)");
    }
    int64_t doc_time = 0;
    for (const char* key : {"last_updated", "timestamp"}) {
      RG_ASSIGN_OR_RETURN(std::string t, detail::opt_string(j, key, ""));
      if (t.empty()) continue;
      auto v = parse_rfc3339(t);
      if (!v) return Status(Code::kInvalidArgument, std::string(key) + ": \"" + t + "\" is not an RFC 3339 time");
      doc_time = *v;
      break;
    }
    RG_ASSIGN_OR_RETURN(const Json* statements, detail::opt_array(j, "statements", ""));
    if (!statements) return Status(Code::kInvalidArgument, "statements: required");
    for (size_t i = 0; i < statements->size(); ++i) {
      RG_RETURN_IF_ERROR(parse_statement((*statements)[i], index_path("statements", i), doc_time, source, added));
    }
    return Status::ok();
  }();
  if (!st.is_ok()) return std::move(st).with_context(source);
  for (auto& s : added) statements_.push_back(std::move(s));
  sources_.push_back(source);
  digest_input_ += bytes_digest + "\n";
  digest_ = sha256_digest(digest_input_);
  return Status::ok();
}

Status VexIndex::load_paths(const std::vector<std::string>& paths) {
  for (const auto& path : paths) {
    std::vector<std::string> files;
    std::error_code ec;
    auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status)) return Status(Code::kNotFound, path + ": no such file or directory");
    if (std::filesystem::is_directory(status)) {
      // Never throws: a listing error is an error result, not std::terminate in the runtime.
      std::filesystem::directory_iterator it(path, ec), end;
      for (; !ec && it != end; it.increment(ec)) {
        std::error_code type_ec;
        if (it->path().extension() == ".json" && it->is_regular_file(type_ec)) files.push_back(it->path().string());
      }
      if (ec) return io_error("listing " + path, ec.value());
      std::sort(files.begin(), files.end());
    } else {
      files.push_back(path);
    }
    for (const auto& file : files) {
      RG_ASSIGN_OR_RETURN(std::string bytes, read_bounded(file));
      RG_ASSIGN_OR_RETURN(Json j, parse_json(bytes, file));
      RG_RETURN_IF_ERROR(add_parsed(j, file, sha256_digest(bytes)));
    }
  }
  if (digest_.empty()) digest_ = sha256_digest(digest_input_);
  return Status::ok();
}

std::optional<VexStatement> VexIndex::suppression(const VulnFinding& f, const ImageRef& image) const {
  const VexStatement* decider = nullptr;
  for (const auto& s : statements_) {
    if (!ids_match(s, f) || !product_matches(s, f, image)) continue;
    if (!decider || s.timestamp_s >= decider->timestamp_s) decider = &s;  // later (or later-loaded) wins
  }
  if (!decider || (decider->status != "not_affected" && decider->status != "fixed")) return std::nullopt;
  return *decider;
}

}  // namespace runguard::attest
