// containerd client: a container's image digest from containerd's own gRPC API.
//
//   Containers.Get(id)   -> container.image (the image name CRI/ctr created it from)
//   Images.Get(name)     -> image.target.digest (the manifest or index digest that name points to)
//
// The namespace goes in the `containerd-namespace` metadata header. The messages are the subsets
// in proto/containerd/ (wire-compatible, containerd's field numbers; reference/runtime-plumbing.md
// §3). The image name is a mutable tag for CRI, so the digest is what was pulled under that
// name at lookup time; the cache keeps it `ttl` at most.
//
// Inputs are validated before anything reaches gRPC (kInvalidArgument): the namespace travels
// in gRPC metadata, where a byte outside 0x20..0x7E makes grpc++ abort the whole process, and
// names come from frames and argv. Namespaces follow containerd's identifier rule
// (`^[A-Za-z0-9]([A-Za-z0-9._-]{0,74}[A-Za-z0-9])?$`, at most 76 bytes); image names and
// container ids are 1..4096 bytes of printable ASCII (0x20..0x7E).
//
// Thread-safety: ContainerdClient and DigestResolver may be shared between threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "runguard/common/status.h"

namespace runguard::agent {

struct ImageDigest {
  std::string image;    // the image name (Container.image, or the name asked for)
  std::string digest;   // "sha256:<64 hex>"
  std::string media_type;
  bool cached = false;  // answered from the resolver's cache
};

inline constexpr size_t kMaxContainerdNamespace = 76;
inline constexpr size_t kMaxLookupName = 4096;

// containerd's identifier rule for namespaces. Messages never echo the bytes checked.
Status check_containerd_namespace(const std::string& ns);
// An image name or container id (`what` names it in the message): 1..kMaxLookupName bytes of
// printable ASCII.
Status check_lookup_name(const std::string& what, const std::string& value);

class ContainerdClient {
 public:
  // `socket`: containerd's gRPC unix socket path. No connection is made until the first call.
  explicit ContainerdClient(std::string socket);
  ~ContainerdClient();

  // Both calls check their inputs first (kInvalidArgument, no connection made).
  // The image name of container `id` in `ns`. kNotFound when containerd has no such container,
  // kUnavailable when containerd does not answer within `timeout`.
  Result<std::string> container_image(const std::string& ns, const std::string& id, std::chrono::milliseconds timeout);
  // The target of image `name` in `ns`. Digest validated as "sha256:<64 lowercase hex>".
  Result<ImageDigest> image(const std::string& ns, const std::string& name, std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Resolves (namespace, container id, image name) to a digest, caching per (namespace, image
// name) for `ttl`. With an image name given, Containers.Get is skipped. Errors are not cached.
class DigestResolver {
 public:
  DigestResolver(std::shared_ptr<ContainerdClient> client, std::chrono::milliseconds ttl, size_t max_entries = 4096);

  Result<ImageDigest> resolve(const std::string& ns, const std::string& container_id, const std::string& image,
                              std::chrono::milliseconds timeout);
  size_t cache_size() const;

 private:
  struct Entry {
    ImageDigest value;
    std::chrono::steady_clock::time_point expires;
  };
  std::shared_ptr<ContainerdClient> client_;
  std::chrono::milliseconds ttl_;
  size_t max_entries_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Entry> cache_;
};

}  // namespace runguard::agent
