#include "policy_state.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "event.h"
#include "runguard/nsutil/fd.h"
#include "runguard/nsutil/fs.h"

namespace runguard::agent {
namespace {

constexpr size_t kMaxPolicyBytes = 4u << 20;  // what pipeline::load_policy reads at most

// The file's bytes; nullopt when it does not exist or cannot be read (load_policy says why).
std::optional<std::string> read_bytes(const std::string& path) {
  auto r = nsutil::read_file(path, kMaxPolicyBytes);
  if (!r.is_ok()) return std::nullopt;
  return std::move(r).value();
}

Result<PolicySnapshot> load_snapshot(const pipeline::ConfigSource& src) {
  // The digest must be of the bytes that were loaded: read around the load and retry if the
  // file changed in between (an editor saving, a ConfigMap update).
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto before = read_bytes(src.path);
    auto loaded = pipeline::load_policy(src);
    if (!loaded.is_ok()) return loaded.status();
    auto after = read_bytes(src.path);
    if (before != after) continue;
    PolicySnapshot s;
    s.source = loaded->source;
    s.digest = sha256_digest(s.source == kEmbeddedDefaultsSource || !after ? std::string() : *after);
    s.loaded_at_ns = unix_now_ns();
    s.policy = std::make_shared<const policy::Policy>(std::move(loaded).value());
    return s;
  }
  return Status(Code::kUnavailable, "policy " + src.path + " kept changing while it was read; retry");
}

std::vector<std::string> restart_settings(const policy::Policy& a, const policy::Policy& b) {
  std::vector<std::string> out;
  auto cmp = [&out](const char* name, const auto& x, const auto& y) {
    if (x != y) out.emplace_back(name);
  };
  cmp("agent.socket", a.agent.socket, b.agent.socket);
  cmp("agent.internalSocket", a.agent.internal_socket, b.agent.internal_socket);
  cmp("agent.metrics", a.agent.metrics, b.agent.metrics);
  cmp("agent.containerd", a.agent.containerd, b.agent.containerd);
  cmp("agent.eventRing", a.agent.event_ring, b.agent.event_ring);
  cmp("agent.digestCacheTtl", a.agent.digest_cache_ttl_ms, b.agent.digest_cache_ttl_ms);
  cmp("agent.helperTimeout", a.agent.helper_timeout_ms, b.agent.helper_timeout_ms);
  cmp("stateDir", a.state_dir, b.state_dir);
  cmp("events.path", a.events_path, b.events_path);
  return out;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  if (from.empty()) return text;
  for (size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

Status write_all(int fd, const std::string& data, const std::string& path) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return io_error("write " + path, errno);
    off += static_cast<size_t>(n);
  }
  return Status::ok();
}

// A temporary file next to `path` holding `content`, with `path`'s mode and owner, fsynced.
Result<std::string> write_temp_beside(const std::string& path, const std::string& content) {
  struct stat orig {};
  bool have_orig = ::stat(path.c_str(), &orig) == 0;
  std::string tmp = path + ".reload-XXXXXX";
  nsutil::UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd.valid()) return io_error("create a temporary file beside " + path, errno);
  auto fail = [&](Status s) -> Result<std::string> {
    ::unlink(tmp.c_str());
    return s;
  };
  if (Status s = write_all(fd.get(), content, tmp); !s.is_ok()) return fail(std::move(s));
  if (::fchmod(fd.get(), have_orig ? (orig.st_mode & 07777) : 0644) != 0) return fail(io_error("chmod " + tmp, errno));
  if (have_orig && (orig.st_uid != ::geteuid() || orig.st_gid != ::getegid()) && ::fchown(fd.get(), orig.st_uid, orig.st_gid) != 0) {
    return fail(io_error("chown " + tmp, errno));
  }
  if (::fsync(fd.get()) != 0) return fail(io_error("fsync " + tmp, errno));
  return tmp;
}

}  // namespace

std::string sha256_digest(const std::string& bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) != 1) return "sha256:";
  static const char* kHex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xf]);
  }
  return out;
}

Result<std::unique_ptr<PolicyState>> PolicyState::load(pipeline::ConfigSource source) {
  RG_ASSIGN_OR_RETURN(PolicySnapshot snap, load_snapshot(source));
  return std::unique_ptr<PolicyState>(new PolicyState(std::move(source), std::move(snap)));
}

PolicySnapshot PolicyState::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snap_;
}

ReloadOutcome PolicyState::swap_in(PolicySnapshot next) {
  std::lock_guard<std::mutex> lock(mu_);
  ReloadOutcome out;
  out.changed = next.digest != snap_.digest || next.source != snap_.source;
  out.restart_needed = restart_settings(*snap_.policy, *next.policy);
  snap_ = std::move(next);
  out.snapshot = snap_;
  return out;
}

Result<ReloadOutcome> PolicyState::reload_from_file() {
  std::lock_guard<std::mutex> lock(reload_mu_);
  RG_ASSIGN_OR_RETURN(PolicySnapshot snap, load_snapshot(source_));
  return swap_in(std::move(snap));
}

Result<ReloadOutcome> PolicyState::replace(const std::string& yaml) {
  std::lock_guard<std::mutex> lock(reload_mu_);
  if (current().embedded()) {
    return Status(Code::kNotFound, "no policy file to write (runguardd runs on the embedded defaults because " + source_.path +
                                       " does not exist); start runguardd with --config FILE");
  }
  const std::string& path = source_.path;
  if (yaml.size() > kMaxPolicyBytes) {
    return invalid("policy_yaml: " + std::to_string(yaml.size()) + " bytes is more than a policy may be (" +
                   std::to_string(kMaxPolicyBytes) + ")");
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    return Status(Code::kNotFound, "policy " + path + " is a symlink (a mounted ConfigMap?); change it where it comes from, then reload with an empty policy_yaml");
  }
  RG_ASSIGN_OR_RETURN(std::string tmp, write_temp_beside(path, yaml));
  auto loaded = pipeline::load_policy(pipeline::ConfigSource{tmp, true, "ReloadPolicy"});
  if (!loaded.is_ok()) {
    ::unlink(tmp.c_str());
    return invalid(replace_all(loaded.status().message(), tmp, "policy_yaml"));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return io_error("rename " + tmp + " over " + path, err);
  }
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  nsutil::UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.valid()) ::fsync(dfd.get());
  policy::Policy p = std::move(loaded).value();
  p.source = path;
  PolicySnapshot snap;
  snap.source = path;
  snap.digest = sha256_digest(yaml);
  snap.loaded_at_ns = unix_now_ns();
  snap.policy = std::make_shared<const policy::Policy>(std::move(p));
  return swap_in(std::move(snap));
}

}  // namespace runguard::agent
