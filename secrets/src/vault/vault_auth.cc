#include "vault_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>

#include "http_client.h"
#include "runguard/nsutil/fs.h"
#include "runguard/nsutil/safe_open.h"

namespace runguard::secrets::vault {
namespace {

void trim_in_place(std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  if (b == 0 && e == s.size()) return;
  std::string t = s.substr(b, e - b);
  wipe_string(s);
  s = std::move(t);
}

}  // namespace

namespace {

// One credential from the text of its file: trimmed, non-empty, one line.
Result<std::string> credential_from(Result<std::string> text, const std::string& path, const std::string& what) {
  if (!text.is_ok()) {
    return Status(Code::kInvalidArgument, what + " " + path + " cannot be read: " + text.status().to_string());
  }
  std::string s = std::move(text).value();
  trim_in_place(s);
  if (s.empty()) return invalid(what + " " + path + " is empty");
  if (std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    wipe_string(s);
    return invalid(what + " " + path + " holds a control character (one credential, no line breaks)");
  }
  return s;
}

}  // namespace

Result<std::string> read_credential_file(const std::string& path, const std::string& what) {
  if (path.empty()) return invalid(what + " is not set");
  return credential_from(nsutil::read_file(path, kMaxCredentialBytes), path, what);
}

Result<std::string> read_service_account_token(const std::string& path) {
  const std::string what = "the Kubernetes service-account token";
  size_t slash = path.rfind('/');
  if (path.empty() || path[0] != '/' || slash == 0 || slash + 1 >= path.size()) {
    return invalid(what + " path \"" + path + "\" is not an absolute file path");
  }
  // The directory is the source of the pod's service-account mount (kubelet's projected volume,
  // whose token is a relative link into ..data/), or whatever a hostPath at that destination
  // holds. Resolved inside it: no link or ".." can make runguard send another file of the node
  // (the node's own Vault token) to Vault as the pod's JWT, and a FIFO there cannot hang a worker.
  std::string dir = path.substr(0, slash), leaf = path.substr(slash + 1);
  return credential_from(nsutil::read_regular_below(dir, leaf, nsutil::Scope::kInRoot, kMaxCredentialBytes), path, what);
}

Status check_jwt(std::string_view jwt, const std::string& path) {
  size_t parts = 1, part_len = 0;
  bool ok = !jwt.empty();
  for (char c : jwt) {
    if (c == '.') {
      ok = ok && part_len > 0;
      ++parts;
      part_len = 0;
      continue;
    }
    ++part_len;
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '=');
  }
  ok = ok && part_len > 0 && parts == 3;
  if (ok) return Status::ok();
  return invalid("the Kubernetes service-account token " + path +
                 " is not a JWT (expected three base64url parts separated by dots); is it the pod's token file?");
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

Result<std::string> TokenFile::token(const std::string& path) {
  std::lock_guard<std::mutex> g(mu_);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    return Status(Code::kInvalidArgument, "vault.auth.tokenFile " + path + " cannot be read: " + io_error("stat", err).to_string());
  }
  int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (path == path_ && !token_.empty() && st.st_dev == dev_ && st.st_ino == ino_ && st.st_size == size_ && mtime_ns == mtime_ns_) {
    return token_;
  }
  RG_ASSIGN_OR_RETURN(std::string t, read_credential_file(path, "vault.auth.tokenFile"));
  wipe_string(token_);
  token_ = std::move(t);
  path_ = path;
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  size_ = st.st_size;
  mtime_ns_ = mtime_ns;
  return token_;
}

TokenFile::~TokenFile() { wipe_string(token_); }

std::optional<std::string> LoginCache::get(const std::string& key) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || Clock::now() >= it->second.refresh_at) return std::nullopt;
  return it->second.token;
}

std::optional<std::pair<std::string, bool>> LoginCache::lookup(const std::string& key) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return std::make_pair(it->second.token, Clock::now() < it->second.refresh_at);
}

void LoginCache::put(const std::string& key, const std::string& token, int64_t ttl_seconds) {
  auto now = Clock::now();
  Entry e{token, now, ttl_seconds > 0 ? now + std::chrono::milliseconds(std::min<int64_t>(ttl_seconds, int64_t{1} << 32) * 2000 / 3) : Clock::time_point::max()};
  std::lock_guard<std::mutex> g(mu_);
  if (entries_.size() >= kMaxCachedLogins && entries_.count(key) == 0) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (now >= it->second.refresh_at) {
        wipe_string(it->second.token);
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
    if (entries_.size() >= kMaxCachedLogins) {
      auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                     [](const auto& a, const auto& b) { return a.second.stored < b.second.stored; });
      wipe_string(oldest->second.token);
      entries_.erase(oldest);
    }
  }
  auto& slot = entries_[key];
  wipe_string(slot.token);
  slot = std::move(e);
}

std::optional<std::string> LoginCache::take(const std::string& key) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  std::string t = it->second.token;
  wipe_string(it->second.token);
  entries_.erase(it);
  return t;
}

LoginCache::~LoginCache() {
  for (auto& [k, e] : entries_) wipe_string(e.token);
}

}  // namespace runguard::secrets::vault
