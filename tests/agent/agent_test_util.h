// Helpers for the agent's unit tests: a temp dir, a frame client for the internal socket, and
// builders for policy files, decision records and event lines. Nothing touches host paths.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "runguard/common/frame.h"
#include "runguard/common/json.h"

namespace rgagent_test {

using runguard::Json;

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/rgagent.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

inline void write_text(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string be32(uint32_t n) {
  std::string s(4, '\0');
  s[0] = static_cast<char>(n >> 24);
  s[1] = static_cast<char>(n >> 16);
  s[2] = static_cast<char>(n >> 8);
  s[3] = static_cast<char>(n);
  return s;
}

// A blocking client connection on a unix socket that speaks frames.
class FrameClient {
 public:
  explicit FrameClient(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~FrameClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  FrameClient(const FrameClient&) = delete;
  FrameClient& operator=(const FrameClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  bool send_raw(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  bool send(const Json& m) {
    auto f = runguard::frame::encode(m);
    return f.is_ok() && send_raw(*f);
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

  // One reply frame; nullopt on timeout, EOF or a malformed reply.
  std::optional<Json> read(std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      decoder_.feed({});
      auto next = decoder_.next();
      if (!next.is_ok()) return std::nullopt;
      if (next->has_value()) return **next;
      if (!fill(deadline)) return std::nullopt;
    }
  }

  // True when the peer closes the connection within `timeout` (frames read meanwhile are dropped).
  bool closed_within(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
      if (left < 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, left) <= 0) return false;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
    }
  }

 private:
  bool fill(std::chrono::steady_clock::time_point deadline) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (left < 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, left) <= 0) return false;
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    decoder_.feed(std::string_view(buf, static_cast<size_t>(n)));
    return true;
  }

  int fd_ = -1;
  runguard::frame::FrameDecoder decoder_;
};

// A policy whose every path lies under `dir`; `extra` is appended (more top-level keys).
inline std::string policy_yaml(const TempDir& dir, const std::string& agent_extra = "", const std::string& extra = "") {
  return "stateDir: " + dir.path + "/state\n"
         "events:\n  path: " + dir.path + "/log/events.jsonl\n"
         "agent:\n"
         "  socket: " + dir.path + "/run/agent.sock\n"
         "  internalSocket: " + dir.path + "/run/internal.sock\n"
         "  metrics: \"\"\n"
         "  containerd: " + dir.path + "/containerd.sock\n" +
         agent_extra + extra;
}

inline Json finding(const std::string& id, const std::string& action) {
  return {{"id", id}, {"control", "ctl"}, {"severity", "high"}, {"action", action}, {"message", id + " says so"}, {"pointer", "/process"}};
}

// A decision record as pipeline/src/create.cc writes it.
inline Json decision_record(const std::string& id, bool allowed, const std::string& ns = "default",
                            const std::string& time = "2026-11-29T08:00:00.000000001Z") {
  Json findings = Json::array();
  if (allowed) findings.push_back(finding("RG-CAPS-001", "enforce"));
  else findings = {finding("RG-PRIV-001", "deny"), finding("RG-HOSTNS-001", "deny"), finding("RG-RO-001", "audit")};
  Json mutations = Json::array({{{"id", "RG-CAPS-001"}, {"control", "capabilities"}, {"op", "replace"},
                                 {"pointer", "/process/capabilities"}, {"value", {{"bounding", Json::array()}}}, {"applied", true}}});
  return {{"version", 1},
          {"id", id},
          {"time", time},
          {"command", "create"},
          {"policy", {{"source", "/etc/runguard/policy.yaml"}}},
          {"runtime", "/usr/bin/runc"},
          {"context",
           {{"id", id}, {"bundle", "/b/" + id}, {"engine", "containerd-cri"}, {"containerType", "container"},
            {"namespace", ns}, {"pod", "web-0"}, {"sandboxId", "sb1"}, {"containerName", "app"},
            {"image", "docker.io/library/nginx:1.27"}, {"imageDigest", "sha256:" + std::string(64, 'a')}, {"annotations", Json::object()}}},
          {"decision", {{"allowed", allowed}, {"mode", "enforce"}, {"override", nullptr}, {"findings", findings}, {"mutations", allowed ? mutations : Json::array()}}}};
}

// The decision's event line (docs/agent.md#event-lines, pipeline/src/decision_event.cc).
inline Json decision_event(const std::string& id, bool allowed, const std::string& ns = "default") {
  Json rec = decision_record(id, allowed, ns);
  return {{"time", "2026-11-29T08:00:00.123456789Z"},
          {"rule", "runguard decision"},
          {"priority", allowed ? "Notice" : "Warning"},
          {"source", "runguard"},
          {"hostname", "node-1"},
          {"tags", {"runguard", "decision"}},
          {"output", std::string("08:00:00.123456789: Notice container ") + id + (allowed ? " allowed" : " denied")},
          {"output_fields", {{"container.id", id}, {"container.image", "docker.io/library/nginx:1.27"}, {"k8s.ns.name", ns}, {"k8s.pod.name", "web-0"}}},
          {"runguard.kind", "decision"},
          {"runguard.action", allowed ? "allowed" : "denied"},
          {"runguard.policy", "/etc/runguard/policy.yaml"},
          {"runguard.container", {{"id", id}, {"name", "app"}, {"image", "docker.io/library/nginx:1.27"},
                                  {"imageDigest", "sha256:" + std::string(64, 'a')}, {"namespace", ns}, {"pod", "web-0"}}},
          {"runguard.decision", rec["decision"]}};
}

// A monitor event line as runguard-monitor writes it (monitor/daemon/output.cc).
inline Json monitor_event(const std::string& id, const std::string& rule, const std::string& priority,
                          const std::string& action = "alert", bool with_kind = true) {
  Json line = {{"time", "2026-11-29T08:00:01.000000000Z"},
               {"rule", rule},
               {"priority", priority},
               {"source", "syscall"},
               {"hostname", "node-1"},
               {"output", "08:00:01.000000000: " + priority + " " + rule + " in " + id},
               {"output_fields", {{"container.id", id}, {"proc.name", "sh"}}},
               {"tags", {"container"}},
               {"runguard.action", action},
               {"runguard.container", {{"id", id}, {"name", "app"}, {"image", "nginx"}, {"namespace", "default"}, {"pod", "web-0"}}}};
  if (with_kind) line["runguard.kind"] = "monitor";
  return line;
}

}  // namespace rgagent_test
