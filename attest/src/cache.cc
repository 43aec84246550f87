// MemoryVerdictCache: results keyed by verdict_cache_key, valid while now < valid_until_s; a
// bounded memo of store files' identities -> document digest. One mutex: entries are small
// (a GateResult copy), and the critical sections are map lookups.
#include <algorithm>

#include "runguard/attest/gate.h"

namespace runguard::attest {

std::string verdict_cache_key(const std::string& document_digest, const GateSetup& g, const ImageRef& image) {
  // The image name is part of the key: exceptions and VEX products may match on it.
  std::string key;
  key.reserve(document_digest.size() + g.digest.size() + image.digest.size() + image.name.size() + 3);
  key.append(document_digest).push_back('|');
  key.append(g.digest).push_back('|');
  key.append(image.digest).push_back('|');
  key.append(image.name);
  return key;
}

std::optional<GateResult> MemoryVerdictCache::get(const std::string& key, int64_t now_s) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = results_.find(key);
  if (it == results_.end()) return std::nullopt;
  if (now_s >= it->second.valid_until_s) {
    results_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

void MemoryVerdictCache::put(const std::string& key, const GateResult& r) {
  if (capacity_ == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = results_.find(key);
  if (it != results_.end()) {
    it->second = r;
    return;
  }
  if (results_.size() >= capacity_) {
    // Evict the entry that expires first: it is the one with the least left to give.
    auto victim = std::min_element(results_.begin(), results_.end(),
                                   [](const auto& a, const auto& b) { return a.second.valid_until_s < b.second.valid_until_s; });
    results_.erase(victim);
  }
  results_.emplace(key, r);
}

std::optional<std::string> MemoryVerdictCache::file_digest(const std::string& path, const FileIdentity& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end() || !(it->second.first == id)) return std::nullopt;
  return it->second.second;
}

void MemoryVerdictCache::remember_file(const std::string& path, const FileIdentity& id, const std::string& digest) {
  if (capacity_ == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end() && files_.size() >= capacity_) files_.erase(files_.begin());  // any one: a miss only costs a read
  files_[path] = {id, digest};
}

}  // namespace runguard::attest
