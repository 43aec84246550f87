// The credentials the fetcher presents to Vault, and where it keeps them between calls.
//
// TokenFile: vault.auth.tokenFile, read again only when its inode, size or mtime changed; the
// token is the file's content trimmed of whitespace (at most kMaxCredentialBytes).
// LoginCache: tokens from AppRole or Kubernetes logins, by key ("approle", or the SHA-256 of a
// service-account JWT), kept until 2/3 of their TTL has passed (a TTL of 0, a token that does not
// expire, is kept until dropped). At most kMaxCachedLogins entries: expired ones go first, then
// the oldest. Dropped entries are wiped.
//
// Thread-safety: both classes lock internally; concurrent callers may each log in once when the
// cache is cold (the later token wins, the earlier expires on its own).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "runguard/common/status.h"

namespace runguard::secrets::vault {

inline constexpr size_t kMaxCredentialBytes = 64u << 10;
inline constexpr size_t kMaxCachedLogins = 4096;

// Reads a credential file (a token, a secret_id, a JWT): bounded, trimmed, not empty. `what`
// names it in errors ("vault.auth.tokenFile"). Problems are kInvalidArgument.
Result<std::string> read_credential_file(const std::string& path, const std::string& what);

// The pod's service-account JWT at `path` (<mount source>/token), read as a credential file but
// resolved inside its directory (nsutil Scope::kInRoot): relative links stay usable, nothing
// outside the directory is reachable, and only a regular file is read.
Result<std::string> read_service_account_token(const std::string& path);

// A service-account token: header.payload.signature, each part base64url (A-Z a-z 0-9 - _,
// optional = padding). kInvalidArgument naming `path` otherwise; the token itself is never shown.
Status check_jwt(std::string_view jwt, const std::string& path);

// Lowercase hex SHA-256 of `data` (the login cache's key for a JWT).
std::string sha256_hex(std::string_view data);

class TokenFile {
 public:
  Result<std::string> token(const std::string& path);
  ~TokenFile();

 private:
  std::mutex mu_;
  std::string path_;
  uint64_t dev_ = 0, ino_ = 0;
  int64_t size_ = -1, mtime_ns_ = 0;
  std::string token_;
};

class LoginCache {
 public:
  using Clock = std::chrono::steady_clock;
  std::optional<std::string> get(const std::string& key);
  // The entry's token and whether it is still fresh (before 2/3 of its TTL); nullopt when absent.
  std::optional<std::pair<std::string, bool>> lookup(const std::string& key);
  void put(const std::string& key, const std::string& token, int64_t ttl_seconds);
  // Removes and returns the entry (wiping the cache's copy), whether or not it is still fresh.
  std::optional<std::string> take(const std::string& key);
  ~LoginCache();

 private:
  struct Entry {
    std::string token;
    Clock::time_point stored;
    Clock::time_point refresh_at;
  };
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace runguard::secrets::vault
