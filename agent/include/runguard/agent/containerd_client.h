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
// Thread-safety: ContainerdClient and DigestResolver may be shared between threads.
#pragma once

#include <chrono>
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

class ContainerdClient {
 public:
  // `socket`: containerd's gRPC unix socket path. No connection is made until the first call.
  explicit ContainerdClient(std::string socket);
  ~ContainerdClient();

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
