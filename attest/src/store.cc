// check_store: every attestation for an image in <store>/<alg>/<hex>/*.json, the latest verified
// scan decides. With a cache, a file whose identity (dev, inode, size, mtime, ctime) is unchanged
// is not read again: its digest is remembered, and the verdict for (digest, setup, image) reused.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "gate_internal.h"
#include "runguard/attest/gate.h"
#include "runguard/attest/keys.h"
#include "runguard/attest/limits.h"
#include "runguard/attest/report.h"
#include "runguard/common/strings.h"

namespace runguard::attest {

namespace {

FileIdentity identity_of(const struct stat& st) {
  FileIdentity id;
  id.dev = static_cast<uint64_t>(st.st_dev);
  id.ino = static_cast<uint64_t>(st.st_ino);
  id.size = static_cast<uint64_t>(st.st_size);
  id.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  id.ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  return id;
}

GateResult failed(const GateSetup& g, const ImageRef& image, const std::string& source, const std::string& reason) {
  GateResult r;
  r.summary = reason;
  r.detail = detail::base_detail(g, image, source);
  r.detail["reasons"].push_back(reason);
  r.detail["considered"] = Json::array({{{"file", source}, {"verified", false}, {"reason", reason}}});
  return r;
}

// Reads a store file (bounded); the identity is the opened file's, so what is remembered is what was read.
Status read_file(const std::string& path, std::string& bytes, FileIdentity& id) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return io_error(path + ": open", errno);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return io_error(path + ": stat", errno);
  if (!S_ISREG(st.st_mode)) return invalid(path + ": not a regular file");
  if (static_cast<uint64_t>(st.st_size) > kMaxAttestationBytes) {
    return invalid(path + ": " + std::to_string(st.st_size) + " bytes, above the limit of " + std::to_string(kMaxAttestationBytes) + " bytes");
  }
  id = identity_of(st);
  bytes.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < bytes.size()) {
    ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error(path + ": read", errno);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  bytes.resize(got);  // a file that shrank while read is judged on what was read (its digest says which)
  return Status::ok();
}

GateResult check_file(const GateSetup& g, const std::string& path, const ImageRef& image, int64_t now_s, VerdictCache* cache) {
  if (cache) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (auto digest = cache->file_digest(path, identity_of(st))) {
        if (auto hit = cache->get(verdict_cache_key(*digest, g, image), now_s)) return *hit;
      }
    }
  }
  std::string bytes;
  FileIdentity id;
  if (Status st = read_file(path, bytes, id); !st.is_ok()) return failed(g, image, path, st.to_string());
  std::string digest = sha256_digest(bytes);
  bool input_error = false;
  GateResult r = detail::evaluate_document(g, bytes, digest, image, now_s, path, &input_error);
  if (cache) {
    // Memoised only when the path is still the file just read (same inode, size and times): a
    // rewrite while it was read is not remembered. (Two same-size in-place rewrites within one
    // timestamp tick could still pair the old digest with the new bytes; sync tools replace files
    // by rename, which changes the inode.)
    struct stat after {};
    if (::stat(path.c_str(), &after) == 0 && identity_of(after) == id) cache->remember_file(path, id, digest);
    if (!input_error) cache->put(verdict_cache_key(digest, g, image), r);
  }
  return r;
}

// "sha256:<hex>" -> "sha256/<hex>" when the digest is well-formed (it becomes a path).
std::optional<std::string> digest_dir(const std::string& digest) {
  size_t colon = digest.find(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string alg = digest.substr(0, colon), hex = digest.substr(colon + 1);
  size_t want = alg == "sha256" ? 64 : alg == "sha512" ? 128 : 0;
  if (want == 0 || hex.size() != want) return std::nullopt;
  if (!std::all_of(hex.begin(), hex.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); })) return std::nullopt;
  return alg + "/" + hex;
}

std::vector<std::string> list_json(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return names;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 5 && n[0] != '.' && n.compare(n.size() - 5, 5, ".json") == 0) names.push_back(n);
    if (names.size() > kMaxStoreFiles) break;  // enough to refuse: a huge directory is not read to its end
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

int64_t scan_time(const GateResult& r) {
  const Json& f = r.detail.is_object() ? r.detail.value("scanFinishedOn", Json()) : Json();
  if (!f.is_string()) return INT64_MIN;
  return parse_rfc3339(f.get<std::string>()).value_or(INT64_MIN);
}

}  // namespace

GateResult check_store(const GateSetup& g, const std::string& store_dir, const ImageRef& image, int64_t now_s, VerdictCache* cache) {
  auto sub = digest_dir(image.digest);
  if (!sub) {
    return failed(g, image, store_dir,
                  image.digest.empty() ? "the image digest is unknown: no attestation can be looked up in " + store_dir
                                       : "\"" + image.digest + "\" is not an image digest (sha256:<64 hex> or sha512:<128 hex>)");
  }
  std::string dir = store_dir + "/" + *sub;
  std::vector<std::string> names = list_json(dir);
  if (names.empty()) return failed(g, image, dir, "no attestation for " + image.digest + " in " + store_dir);
  // More than the limit fails closed: keeping some would let copies of an old passing scan push
  // a newer failing one out of the window.
  if (names.size() > kMaxStoreFiles) {
    return failed(g, image, dir, "more than " + std::to_string(kMaxStoreFiles) + " attestation files for " + image.digest + " in " + dir +
                                     ": remove old ones (the newest scan must decide, and all of them cannot be read)");
  }

  std::vector<GateResult> results;
  results.reserve(names.size());
  for (const auto& n : names) results.push_back(check_file(g, dir + "/" + n, image, now_s, cache));

  const GateResult* decider = nullptr;
  int64_t decider_time = INT64_MIN;
  Json considered = Json::array();
  for (const auto& r : results) {
    considered.push_back({{"file", r.detail.value("attestation", Json())}, {"verified", r.verified}, {"reason", r.summary}});
    if (!r.verified) continue;
    if (r.detail.is_object() && r.detail.value("unreadableScan", false)) {  // a signed scan we cannot read fails the image
      decider = &r;
      decider_time = INT64_MAX;
      continue;
    }
    int64_t t = scan_time(r);
    if (!decider || t >= decider_time) {  // the latest scan decides; on a tie, the later file
      decider = &r;
      decider_time = t;
    }
  }
  GateResult out;
  if (decider) {
    out = *decider;
  } else {
    std::string summary = results.size() == 1 ? results[0].summary
                                              : "none of the " + std::to_string(results.size()) + " attestations for " + image.digest + " in " +
                                                    store_dir + " verified";
    out = failed(g, image, dir, summary);
    if (results.size() > 1) {
      for (const auto& r : results) out.detail["reasons"].push_back(r.summary);
    } else {
      out.detail = results[0].detail;
    }
  }
  out.detail["considered"] = std::move(considered);
  return out;
}

}  // namespace runguard::attest
