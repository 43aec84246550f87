#include "runguard/agent/containerd_client.h"

#include <grpcpp/grpcpp.h>

#include <cctype>

#include "containerd/services/containers/v1/containers.grpc.pb.h"
#include "containerd/services/images/v1/images.grpc.pb.h"

namespace runguard::agent {
namespace {

namespace ctrs = containerd::services::containers::v1;
namespace imgs = containerd::services::images::v1;

bool valid_digest(const std::string& d) {
  if (d.size() != 71 || d.rfind("sha256:", 0) != 0) return false;
  for (size_t i = 7; i < d.size(); ++i) {
    char c = d[i];
    if (!std::isdigit(static_cast<unsigned char>(c)) && (c < 'a' || c > 'f')) return false;
  }
  return true;
}

// containerd's gRPC status -> ours, naming the call and the socket.
Status from_grpc(const grpc::Status& s, const std::string& what, const std::string& socket) {
  std::string msg = what + ": " + s.error_message();
  switch (s.error_code()) {
    case grpc::StatusCode::NOT_FOUND:
      return Status(Code::kNotFound, msg);
    case grpc::StatusCode::INVALID_ARGUMENT:
      return Status(Code::kInvalidArgument, msg);
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Status(Code::kUnavailable, what + ": containerd at " + socket + " did not answer (" + s.error_message() + ")");
    default:
      return Status(Code::kUnavailable, msg + " (grpc code " + std::to_string(int(s.error_code())) + ")");
  }
}

void prepare(grpc::ClientContext& ctx, const std::string& ns, std::chrono::milliseconds timeout) {
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  ctx.AddMetadata("containerd-namespace", ns);
  // containerd may be starting: wait for the socket within the deadline instead of failing at once.
  ctx.set_wait_for_ready(false);
}

std::string byte_hex(unsigned char c) {
  static const char* kHex = "0123456789abcdef";
  return std::string("0x") + kHex[c >> 4] + kHex[c & 15];
}

bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 && static_cast<unsigned char>(c) < 0x80; }

}  // namespace

Status check_containerd_namespace(const std::string& ns) {
  const std::string rule =
      "containerd namespaces are letters, digits, '.', '_' and '-', at most " + std::to_string(kMaxContainerdNamespace) +
      " bytes, starting and ending with a letter or digit";
  if (ns.empty()) return Status(Code::kInvalidArgument, "containerd namespace is empty; " + rule);
  if (ns.size() > kMaxContainerdNamespace) {
    return Status(Code::kInvalidArgument, "containerd namespace is " + std::to_string(ns.size()) + " bytes long; " + rule);
  }
  for (size_t i = 0; i < ns.size(); ++i) {
    char c = ns[i];
    bool edge = i == 0 || i + 1 == ns.size();
    if (ident_char(c) || (!edge && (c == '.' || c == '_' || c == '-'))) continue;
    return Status(Code::kInvalidArgument, "containerd namespace has byte " + byte_hex(static_cast<unsigned char>(c)) +
                                              " at offset " + std::to_string(i) + "; " + rule);
  }
  return Status::ok();
}

Status check_lookup_name(const std::string& what, const std::string& value) {
  if (value.empty()) return Status(Code::kInvalidArgument, what + " is empty");
  if (value.size() > kMaxLookupName) {
    return Status(Code::kInvalidArgument, what + " is " + std::to_string(value.size()) + " bytes long (at most " +
                                              std::to_string(kMaxLookupName) + ")");
  }
  for (size_t i = 0; i < value.size(); ++i) {
    auto c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c > 0x7E) {
      return Status(Code::kInvalidArgument, what + " has byte " + byte_hex(c) + " at offset " + std::to_string(i) +
                                                " (only printable ASCII is allowed)");
    }
  }
  return Status::ok();
}

struct ContainerdClient::Impl {
  std::string socket;
  std::once_flag once;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<ctrs::Containers::Stub> containers;
  std::unique_ptr<imgs::Images::Stub> images;

  void connect() {
    std::call_once(once, [this] {
      grpc::ChannelArguments args;
      // A unix socket to a local daemon: no proxies, no DNS, small messages.
      args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
      args.SetMaxReceiveMessageSize(16 << 20);
      channel = grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args);
      containers = ctrs::Containers::NewStub(channel);
      images = imgs::Images::NewStub(channel);
    });
  }
};

ContainerdClient::ContainerdClient(std::string socket) : impl_(std::make_unique<Impl>()) { impl_->socket = std::move(socket); }
ContainerdClient::~ContainerdClient() = default;

Result<std::string> ContainerdClient::container_image(const std::string& ns, const std::string& id,
                                                      std::chrono::milliseconds timeout) {
  if (ns.empty() || id.empty()) return Status(Code::kInvalidArgument, "containerd lookup needs a namespace and a container id");
  RG_RETURN_IF_ERROR(check_containerd_namespace(ns));
  RG_RETURN_IF_ERROR(check_lookup_name("container id", id));
  impl_->connect();
  grpc::ClientContext ctx;
  prepare(ctx, ns, timeout);
  ctrs::GetContainerRequest req;
  req.set_id(id);
  ctrs::GetContainerResponse resp;
  grpc::Status s = impl_->containers->Get(&ctx, req, &resp);
  if (!s.ok()) return from_grpc(s, "containerd Containers.Get " + ns + "/" + id, impl_->socket);
  if (resp.container().image().empty()) {
    return Status(Code::kNotFound, "containerd container " + ns + "/" + id + " names no image");
  }
  return resp.container().image();
}

Result<ImageDigest> ContainerdClient::image(const std::string& ns, const std::string& name, std::chrono::milliseconds timeout) {
  if (ns.empty() || name.empty()) return Status(Code::kInvalidArgument, "containerd lookup needs a namespace and an image name");
  RG_RETURN_IF_ERROR(check_containerd_namespace(ns));
  RG_RETURN_IF_ERROR(check_lookup_name("image name", name));
  impl_->connect();
  grpc::ClientContext ctx;
  prepare(ctx, ns, timeout);
  imgs::GetImageRequest req;
  req.set_name(name);
  imgs::GetImageResponse resp;
  grpc::Status s = impl_->images->Get(&ctx, req, &resp);
  if (!s.ok()) return from_grpc(s, "containerd Images.Get " + ns + "/" + name, impl_->socket);
  const auto& target = resp.image().target();
  if (!valid_digest(target.digest())) {
    return Status(Code::kInvalidArgument, "containerd image " + ns + "/" + name + " has target digest \"" + target.digest() +
                                              "\", not sha256:<64 hex>");
  }
  ImageDigest out;
  out.image = resp.image().name().empty() ? name : resp.image().name();
  out.digest = target.digest();
  out.media_type = target.media_type();
  return out;
}

DigestResolver::DigestResolver(std::shared_ptr<ContainerdClient> client, std::chrono::milliseconds ttl, size_t max_entries)
    : client_(std::move(client)), ttl_(ttl), max_entries_(max_entries) {}

Result<ImageDigest> DigestResolver::resolve(const std::string& ns, const std::string& container_id, const std::string& image,
                                            std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string name = image;
  if (name.empty()) {
    RG_ASSIGN_OR_RETURN(name, client_->container_image(ns, container_id, timeout));
  }
  auto key = std::make_pair(ns, name);
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = cache_.find(key); it != cache_.end()) {
      if (it->second.expires > now) {
        ImageDigest hit = it->second.value;
        hit.cached = true;
        return hit;
      }
      cache_.erase(it);
    }
  }
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return Status(Code::kUnavailable, "containerd lookup of " + ns + "/" + name + " ran out of time");
  RG_ASSIGN_OR_RETURN(ImageDigest d, client_->image(ns, name, left));
  if (ttl_.count() > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    if (cache_.size() >= max_entries_) {
      // Expired entries first; if none, the whole cache (simple, bounded, rare).
      auto t = std::chrono::steady_clock::now();
      for (auto it = cache_.begin(); it != cache_.end();) it = it->second.expires <= t ? cache_.erase(it) : std::next(it);
      if (cache_.size() >= max_entries_) cache_.clear();
    }
    cache_[key] = Entry{d, std::chrono::steady_clock::now() + ttl_};
  }
  return d;
}

size_t DigestResolver::cache_size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cache_.size();
}

}  // namespace runguard::agent
