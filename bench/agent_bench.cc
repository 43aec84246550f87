// Drives runguardd's internal socket for scripts/bench_agent.sh (docs/benchmarks.md, "Agent").
//
//   agent_bench lookup SOCKET NAMESPACE IMAGE N
//       N image.digest requests exactly as `runguard create` makes them (connect, one frame out,
//       one frame back, close); prints {"n","median_us","p90_us","p99_us","cached"} as JSON.
//   agent_bench fill SOCKET CONTAINERS EVENTS
//       sends CONTAINERS decision frames (a realistic record each) and EVENTS monitor event frames
//       on one connection, then pings so they have all been read.
//
// It links rg_common only (the frame codec) and talks to the socket with plain syscalls.
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "runguard/common/frame.h"

namespace {

using runguard::Json;
namespace frame = runguard::frame;

int connect_to(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::perror(("connect " + path).c_str());
    std::exit(1);
  }
  return fd;
}

void send_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      std::perror("send");
      std::exit(1);
    }
    off += size_t(n);
  }
}

Json read_reply(int fd) {
  frame::FrameDecoder d;
  char buf[65536];
  for (;;) {
    auto m = d.next();
    if (!m.is_ok()) {
      std::fprintf(stderr, "bad reply: %s\n", m.status().message().c_str());
      std::exit(1);
    }
    if (m->has_value()) return **m;
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) {
      std::fprintf(stderr, "agent closed the connection\n");
      std::exit(1);
    }
    d.feed(std::string_view(buf, size_t(n)));
  }
}

double now_us() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) * 1e6 + double(ts.tv_nsec) / 1e3;
}

int lookup(const std::string& sock, const std::string& ns, const std::string& image, int n) {
  std::string req = *frame::encode(frame::message("image.digest", {{"namespace", ns}, {"container", ""}, {"image", image}}));
  std::vector<double> us;
  bool cached = true;
  for (int i = 0; i < n; ++i) {
    double t0 = now_us();
    int fd = connect_to(sock);
    send_all(fd, req);
    Json r = read_reply(fd);
    ::close(fd);
    us.push_back(now_us() - t0);
    if (r.value("ok", false) != true) {
      std::fprintf(stderr, "lookup failed: %s\n", r.dump().c_str());
      return 1;
    }
    if (i > 0) cached = cached && r.value("cached", false);
  }
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) { return us[std::min(us.size() - 1, size_t(p * double(us.size())))]; };
  std::printf("{\"n\":%d,\"median_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"cached\":%s}\n", n, pct(0.5), pct(0.9), pct(0.99),
              cached ? "true" : "false");
  return 0;
}

int fill(const std::string& sock, int containers, int events) {
  int fd = connect_to(sock);
  for (int i = 0; i < containers; ++i) {
    std::string id = "bench-" + std::to_string(i);
    Json findings = Json::array();
    Json mutations = Json::array();
    for (const char* c : {"RG-CAPS-001", "RG-USER-001", "RG-NNP-001", "RG-SECCOMP-001", "RG-RES-001", "RG-USERNS-001"}) {
      findings.push_back({{"id", c}, {"control", "c"}, {"severity", "high"}, {"action", "enforce"},
                          {"message", "a realistic finding message naming the field and the fix for " + id}, {"pointer", "/process/x"}});
      mutations.push_back({{"id", c}, {"control", "c"}, {"op", "replace"}, {"pointer", "/process/x"}, {"value", "v"}, {"applied", true}});
    }
    Json ctx = {{"id", id}, {"bundle", "/run/containerd/io.containerd.runtime.v2.task/k8s.io/" + id}, {"engine", "containerd-cri"},
                {"namespace", "team-a"}, {"pod", "web-" + std::to_string(i)}, {"containerName", "app"},
                {"image", "registry.example/team-a/web:1.2.3"}, {"imageDigest", "sha256:" + std::string(64, 'a')}};
    Json decision = {{"allowed", true}, {"mode", "enforce"}, {"override", nullptr}, {"findings", findings}, {"mutations", mutations}};
    Json record = {{"version", 1}, {"id", id}, {"time", "2026-11-29T08:00:00Z"}, {"command", "create"},
                   {"policy", {{"source", "/etc/runguard/policy.yaml"}}}, {"runtime", "/usr/sbin/runc"}, {"context", ctx},
                   {"decision", decision}};
    Json event = {{"time", "2026-11-29T08:00:00.000000000Z"}, {"rule", "runguard decision"}, {"priority", "Notice"},
                  {"source", "runguard"}, {"output", "08:00:00.000000000: Notice container " + id + " allowed"},
                  {"runguard.kind", "decision"}, {"runguard.action", "allowed"}, {"runguard.container", {{"id", id}}},
                  {"runguard.decision", decision}};
    send_all(fd, *frame::encode(frame::message("decision", {{"record", record}, {"event", event}})));
  }
  for (int i = 0; i < events; ++i) {
    std::string id = "bench-" + std::to_string(i % std::max(containers, 1));
    Json event = {{"time", "2026-11-29T08:00:01.000000000Z"}, {"rule", "Interactive shell in container"}, {"priority", "Notice"},
                  {"source", "syscall"}, {"hostname", "node-1"},
                  {"output", "08:00:01.000000000: Notice a shell was spawned with an attached terminal (user=65532 shell=sh "
                             "parent=runc cmdline=sh -i container=" + id + ")"},
                  {"output_fields", {{"proc.name", "sh"}, {"proc.cmdline", "sh -i"}, {"user.uid", 65532}}},
                  {"tags", {"container", "shell", "mitre_execution"}}, {"runguard.kind", "monitor"}, {"runguard.action", "alert"},
                  {"runguard.container", {{"id", id}, {"image", "registry.example/team-a/web:1.2.3"}}}};
    send_all(fd, *frame::encode(frame::message("event", {{"event", event}})));
  }
  send_all(fd, *frame::encode(frame::message("ping")));
  Json r = read_reply(fd);
  ::close(fd);
  return r.value("ok", false) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 5 && a[0] == "lookup") return lookup(a[1], a[2], a[3], std::stoi(a[4]));
  if (a.size() == 4 && a[0] == "fill") return fill(a[1], std::stoi(a[2]), std::stoi(a[3]));
  std::fprintf(stderr, "usage: agent_bench lookup SOCKET NAMESPACE IMAGE N | fill SOCKET CONTAINERS EVENTS\n");
  return 2;
}
