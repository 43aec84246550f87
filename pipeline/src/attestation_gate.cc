#include "attestation_gate.h"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <filesystem>

#include "image_digest.h"
#include "runguard/attest/keys.h"
#include "runguard/common/strings.h"
#include "runguard/nsutil/fs.h"

namespace runguard::pipeline::internal {
namespace {

constexpr int kCacheVersion = 1;

// An annotation value as a message shows it: one short printable line.
std::string printable(const std::string& s, size_t max = 80) {
  std::string out = s.substr(0, max);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  return s.size() > max ? out + "..." : out;
}

bool trusted(const policy::Policy& p, const std::string& key) {
  return std::find(p.trusted_annotations.begin(), p.trusted_annotations.end(), key) != p.trusted_annotations.end();
}

bool lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Json empty_findings() {
  return {{"total", 0}, {"blocking", Json::array()}, {"suppressed", Json::array()}, {"blockingCount", 0}, {"suppressedCount", 0}};
}

// The verdict detail of a check that could not run because the image has no known digest, in
// the shape of attest's verdict detail (gate.h) so readers need one schema.
Json digest_unknown_detail(const policy::ContainerContext& ctx, const std::string& summary, const std::vector<std::string>& failures) {
  Json sources = Json::array();
  for (const auto& f : failures) sources.push_back(f);
  return {{"image", ctx.image},
          {"imageDigest", ""},
          {"required", true},
          {"verified", false},
          {"passed", false},
          {"attestation", nullptr},
          {"signers", Json::array()},
          {"age", nullptr},
          {"findings", empty_findings()},
          {"expiredExceptions", Json::array()},
          {"reasons", Json::array({summary})},
          {"considered", Json::array()},
          {"digestSources", sources}};
}

const Json* member(const Json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

bool is_bool(const Json& j, const char* key) { const Json* m = member(j, key); return m != nullptr && m->is_boolean(); }
bool is_string(const Json& j, const char* key) { const Json* m = member(j, key); return m != nullptr && m->is_string(); }
bool is_int(const Json& j, const char* key) { const Json* m = member(j, key); return m != nullptr && m->is_number_integer(); }

}  // namespace

std::optional<std::string> digest_from_image_ref(const std::string& value) {
  std::string_view hex = value;
  if (hex.rfind("sha256:", 0) == 0) hex.remove_prefix(7);
  if (hex.size() != 64 || !lower_hex(hex)) return std::nullopt;
  return "sha256:" + std::string(hex);
}

DigestSearch digest_from_annotations(const policy::Policy& p, policy::ContainerContext& ctx, const std::string& containerd_failure) {
  DigestSearch out;
  if (!ctx.image_digest.empty()) return out;
  auto found = [&](const std::string& digest, const std::string& key) {
    ctx.image_digest = digest;
    ctx.image_digest_source = "annotation:" + key;
    out.failures.clear();
    out.untrusted_annotation = false;
    return out;
  };
  if (ctx.engine == "containerd" || ctx.engine == "containerd-cri") {
    out.failures.push_back("containerd: " + (containerd_failure.empty() ? std::string("no digest found") : containerd_failure));
  } else if (ctx.engine == "cri-o") {
    auto it = ctx.annotations.find(kCriOImageRefAnnotation);
    if (it == ctx.annotations.end()) {
      out.failures.push_back(std::string("annotation ") + kCriOImageRefAnnotation + ": absent");
    } else if (auto d = digest_from_image_ref(it->second)) {
      return found(*d, kCriOImageRefAnnotation);
    } else {
      out.failures.push_back(std::string("annotation ") + kCriOImageRefAnnotation + ": \"" + printable(it->second) +
                             "\" is not an image id (64 hex digits)");
    }
  } else {
    out.failures.push_back("engine " + (ctx.engine.empty() ? std::string("unknown") : ctx.engine) + " names no image digest");
  }
  const std::string& key = p.attestation.digest_annotation;
  auto it = ctx.annotations.find(key);
  if (it == ctx.annotations.end()) {
    out.failures.push_back("annotation " + key + ": absent");
  } else if (!trusted(p, key)) {
    out.untrusted_annotation = true;
    out.failures.push_back("annotation " + key + ": ignored, not listed in trustedAnnotations");
  } else if (!is_image_digest(it->second)) {
    out.failures.push_back("annotation " + key + ": \"" + printable(it->second) + "\" is not an image digest (sha256:<64 hex>)");
  } else {
    return found(it->second, key);
  }
  return out;
}

Status run_attestation_gate(const policy::Policy& p, policy::ContainerContext& ctx, const DigestSearch& search, int64_t now_s,
                            attest::VerdictCache* cache, std::vector<std::string>* warnings) {
  const policy::AttestationSettings& s = p.attestation;
  if (!s.enabled()) return Status::ok();
  using Verdict = policy::ContainerContext::Attestation;
  if (!attest::attestation_required(s, ctx.image, ctx.container_type)) {
    ctx.attestation = Verdict{false, true, "image not selected by attestation.requireFor",
                              Json{{"image", ctx.image}, {"imageDigest", ctx.image_digest}, {"required", false}}};
    return Status::ok();
  }
  if (ctx.image_digest.empty()) {
    if (search.untrusted_annotation && warnings != nullptr) {
      warnings->push_back("annotation " + s.digest_annotation + " ignored: it is not listed in trustedAnnotations of " + p.source +
                          " (list it there to let it name the image digest)");
    }
    std::string summary = "image digest unknown (" + (search.failures.empty() ? std::string("no source named it") : join(search.failures, "; ")) +
                          "); cannot check its scan attestation";
    ctx.attestation = Verdict{true, false, summary, digest_unknown_detail(ctx, summary, search.failures)};
    return Status::ok();
  }
  auto setup = attest::GateSetup::load(s);
  if (!setup.is_ok() && (s.action == policy::AttestationSettings::GateAction::kAudit || p.mode == policy::Mode::kAudit)) {
    // An audit rollout with a mistyped key path records the failure; it does not stop the node.
    std::string summary = "attestation gate setup failed: " + setup.status().message();
    if (warnings != nullptr) warnings->push_back(summary + " (audit: the container is not refused)");
    ctx.attestation = Verdict{true, false, summary,
                              Json{{"image", ctx.image}, {"imageDigest", ctx.image_digest}, {"required", true}, {"verified", false},
                                   {"passed", false}, {"reasons", Json::array({summary})}}};
    return Status::ok();
  }
  if (!setup.is_ok()) {
    // A broken policy, not an internal failure: never "opened" by failurePolicy. An unreadable key
    // file must not turn the gate (and every other control) off.
    return Status(Code::kInvalidArgument, "attestation gate: " + setup.status().message() + " (the node's attestation settings in " +
                                              p.source + " name files it cannot load)");
  }
  attest::GateResult r;
  try {
    r = attest::check_store(*setup, s.store, attest::ImageRef{ctx.image_digest, ctx.image}, now_s, cache);
  } catch (const std::exception& e) {
    return Status(Code::kInternal, std::string("attestation gate: checking ") + s.store + " failed: " + e.what());
  }
  ctx.attestation = Verdict{true, r.passed, r.summary, std::move(r.detail)};
  return Status::ok();
}

Status gate_container(const policy::Policy& p, policy::ContainerContext& ctx, const std::string& containerd_failure,
                      std::vector<std::string>* warnings) {
  DigestSearch search = digest_from_annotations(p, ctx, containerd_failure);
  if (!p.attestation.enabled()) return Status::ok();
  struct timespec now = {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  DirectoryVerdictCache cache(p.lib_dir + "/attest-cache");
  attest::VerdictCache* use = nullptr;
  if (Status prepared = cache.prepare(); prepared.is_ok()) {
    use = &cache;
  } else if (warnings != nullptr) {
    warnings->push_back("attestation verdict cache not used: " + prepared.to_string());
  }
  return run_attestation_gate(p, ctx, search, static_cast<int64_t>(now.tv_sec), use, warnings);
}

// --- DirectoryVerdictCache ---

Status DirectoryVerdictCache::prepare() {
  ready_ = false;
  RG_RETURN_IF_ERROR(nsutil::make_dirs(dir_, 0700));
  struct stat st {};
  if (::lstat(dir_.c_str(), &st) != 0) return io_error("stat " + dir_, errno);
  if (!S_ISDIR(st.st_mode)) return invalid(dir_ + " is not a directory");
  // Cached verdicts let containers start: only the runtime's own user may write them.
  if (st.st_uid != ::geteuid()) return invalid(dir_ + " belongs to uid " + std::to_string(st.st_uid) + ", not to this process's");
  if ((st.st_mode & 07777) != 0700 && ::chmod(dir_.c_str(), 0700) != 0) return io_error("chmod 0700 " + dir_, errno);
  ready_ = true;
  return Status::ok();
}

std::string DirectoryVerdictCache::file_for(char kind, const std::string& key) const {
  std::string d = attest::sha256_digest(key);
  std::string hex = d.size() > 7 ? d.substr(7) : d;
  return dir_ + "/" + std::string(1, kind) + "-" + hex + ".json";
}

std::optional<Json> DirectoryVerdictCache::read(const std::string& file) const {
  if (!ready_) return std::nullopt;
  auto text = nsutil::read_file(file, kMaxFileBytes);
  if (!text.is_ok()) return std::nullopt;
  auto j = parse_json(*text, file);
  if (!j.is_ok() || !j->is_object()) return std::nullopt;
  const Json* v = member(*j, "version");
  if (v == nullptr || !v->is_number_integer() || v->get<int64_t>() != kCacheVersion) return std::nullopt;
  return std::move(j).value();
}

void DirectoryVerdictCache::write(const std::string& file, const Json& j) {
  if (!ready_) return;
  if (!nsutil::write_file_atomic(file, dump_json(j), 0600).is_ok()) return;
  prune(file);
}

void DirectoryVerdictCache::prune(const std::string& keep_file) {
  namespace fs = std::filesystem;
  struct Entry {
    std::string path;
    int64_t mtime_ns;
  };
  std::vector<Entry> entries;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.size() < 8 || (name[0] != 'r' && name[0] != 'f') || name[1] != '-' || !name.ends_with(".json")) continue;
    struct stat st {};
    if (it->path().string() == keep_file || ::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    entries.push_back({it->path().string(), static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec});
  }
  if (entries.size() + 1 <= max_files_) return;
  // Down to 7/8 of the bound (the file just written included), so a full cache is not pruned
  // again on every write. mtimes are coarse: files written within one tick go in any order.
  size_t keep = max_files_ - max_files_ / 8;
  keep = keep > 0 ? keep - 1 : 0;
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.mtime_ns < b.mtime_ns; });
  for (size_t i = 0; i + keep < entries.size(); ++i) ::unlink(entries[i].path.c_str());
}

std::optional<attest::GateResult> DirectoryVerdictCache::get(const std::string& key, int64_t now_s) {
  std::string file = file_for('r', key);
  auto j = read(file);
  if (!j) return std::nullopt;
  const Json* k = member(*j, "key");
  if (k == nullptr || !k->is_string() || *k != key) return std::nullopt;
  if (!is_bool(*j, "passed") || !is_bool(*j, "verified") || !is_string(*j, "summary") || !is_int(*j, "validUntil")) return std::nullopt;
  attest::GateResult r;
  r.valid_until_s = (*j)["validUntil"].get<int64_t>();
  if (r.valid_until_s <= now_s) {
    ::unlink(file.c_str());
    return std::nullopt;
  }
  r.passed = (*j)["passed"].get<bool>();
  r.verified = (*j)["verified"].get<bool>();
  r.summary = (*j)["summary"].get<std::string>();
  // The detail is what check_store reads back (its "attestation" member): anything but an object
  // with it is a corrupt entry, a miss.
  const Json* d = member(*j, "detail");
  if (d == nullptr || !d->is_object() || !d->contains("attestation")) return std::nullopt;
  r.detail = *d;
  return r;
}

void DirectoryVerdictCache::put(const std::string& key, const attest::GateResult& r) {
  write(file_for('r', key), Json{{"version", kCacheVersion},
                                 {"key", key},
                                 {"passed", r.passed},
                                 {"verified", r.verified},
                                 {"summary", r.summary},
                                 {"detail", r.detail},
                                 {"validUntil", r.valid_until_s}});
}

std::optional<std::string> DirectoryVerdictCache::file_digest(const std::string& path, const attest::FileIdentity& id) {
  auto j = read(file_for('f', path));
  if (!j) return std::nullopt;
  const Json* p = member(*j, "path");
  const Json* d = member(*j, "digest");
  if (p == nullptr || !p->is_string() || *p != path || d == nullptr || !d->is_string()) return std::nullopt;
  attest::FileIdentity stored;
  try {
    stored.dev = (*j).at("dev").get<uint64_t>();
    stored.ino = (*j).at("ino").get<uint64_t>();
    stored.size = (*j).at("size").get<uint64_t>();
    stored.mtime_ns = (*j).at("mtimeNs").get<int64_t>();
    stored.ctime_ns = (*j).at("ctimeNs").get<int64_t>();
  } catch (const std::exception&) {
    return std::nullopt;  // a member missing or of another type: a corrupt memo
  }
  if (!(stored == id)) return std::nullopt;
  std::string digest = d->get<std::string>();
  if (!is_image_digest(digest)) return std::nullopt;  // "sha256:<64 hex>", the shape of a document digest too
  return digest;
}

void DirectoryVerdictCache::remember_file(const std::string& path, const attest::FileIdentity& id, const std::string& digest) {
  write(file_for('f', path), Json{{"version", kCacheVersion},
                                  {"path", path},
                                  {"dev", id.dev},
                                  {"ino", id.ino},
                                  {"size", id.size},
                                  {"mtimeNs", id.mtime_ns},
                                  {"ctimeNs", id.ctime_ns},
                                  {"digest", digest}});
}

}  // namespace runguard::pipeline::internal
