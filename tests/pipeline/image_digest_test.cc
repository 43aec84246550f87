// The image digest lookup of create: which containers get one (containerd's, with their
// namespace), the agent first, the one-shot runguardctl helper when no agent runs, and never a
// wait past agent.requestTimeout / agent.helperTimeout.
#include "../../pipeline/src/image_digest.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fake_agent.h"
#include "runguard/common/frame.h"

namespace runguard::pipeline::internal {
namespace {

using rgtest::FakeAgent;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

const std::string kDigest = "sha256:" + std::string(64, 'a');

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/rgdigest.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A fake runguardctl: records its arguments (one per line) to `args_file`, then runs `body`.
std::string write_helper(const TempDir& dir, const std::string& body) {
  std::string path = dir / "runguardctl";
  std::ofstream(path) << "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > " << dir / "helper.args" << "\n" << body << "\n";
  ::chmod(path.c_str(), 0755);
  return path;
}

policy::ContainerContext cri_context(const std::string& image = "docker.io/library/nginx:1.27") {
  Json spec = {{"annotations",
                {{"io.kubernetes.cri.container-type", "container"}, {"io.kubernetes.cri.image-name", image}}}};
  return policy::context_from_spec(spec, "c1", "/run/containerd/io.containerd.runtime.v2.task/k8s.io/c1",
                                   "/run/containerd/runc/k8s.io");
}

policy::AgentSettings settings(const TempDir& dir) {
  policy::AgentSettings a;
  a.internal_socket = dir / "agent.sock";
  a.containerd = dir / "containerd.sock";
  a.request_timeout_ms = 250;
  a.helper_timeout_ms = 3000;
  return a;
}

TEST(ContainerdNamespace, OnlyForContainersContainerdStarted) {
  EXPECT_EQ(containerd_namespace(cri_context(), "/run/containerd/runc/k8s.io"), "k8s.io");
  // ctr / nerdctl: containerd without CRI, the bundle names the namespace.
  auto ctr = policy::context_from_spec(Json::object(), "c2", "/run/containerd/io.containerd.runtime.v2.task/default/c2",
                                       "/run/containerd/runc/default");
  EXPECT_EQ(ctr.engine, "containerd");
  EXPECT_EQ(containerd_namespace(ctr, "/run/containerd/runc/default"), "default");
  // A runc root under /run/containerd/ with the bundle elsewhere: the root's last component.
  auto by_root = policy::context_from_spec(Json::object(), "c3", "/var/lib/bundles/c3", "/run/containerd/runc/moby/");
  EXPECT_EQ(containerd_namespace(by_root, "/run/containerd/runc/moby/"), "moby");
  // A custom runc root (the shim's options.Root): the bundle still names the namespace.
  auto custom = policy::context_from_spec(Json::object(), "c4", "/run/containerd/io.containerd.runtime.v2.task/k8s.io/c4",
                                          "/var/run/custom/k8s.io");
  EXPECT_EQ(containerd_namespace(custom, "/var/run/custom/k8s.io"), "k8s.io");
  // podman, plain runc: nothing to do.
  auto podman = policy::context_from_spec(Json{{"annotations", {{"io.container.manager", "libpod"}}}}, "p", "/var/lib/containers/p",
                                          "/run/runc");
  EXPECT_EQ(containerd_namespace(podman, "/run/runc"), "");
  auto plain = policy::context_from_spec(Json::object(), "r", "/tmp/bundle", "");
  EXPECT_EQ(containerd_namespace(plain, ""), "");
}

TEST(ImageDigest, Shape) {
  EXPECT_TRUE(is_image_digest(kDigest));
  EXPECT_TRUE(is_image_digest("sha512:" + std::string(128, '0')));
  EXPECT_FALSE(is_image_digest("sha256:" + std::string(63, 'a')));
  EXPECT_FALSE(is_image_digest("sha256:" + std::string(64, 'A')));
  EXPECT_FALSE(is_image_digest("md5:" + std::string(32, 'a')));
  EXPECT_FALSE(is_image_digest(""));
  EXPECT_FALSE(is_image_digest("docker.io/library/nginx:1.27"));
}

TEST(HelperOutput, Contract) {
  auto ok = parse_helper_output(R"({"image":"nginx:1.27","digest":")" + kDigest + R"(","mediaType":"application/vnd.oci.image.index.v1+json"})" "\n", 0);
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
  EXPECT_EQ(ok->digest, kDigest);
  EXPECT_EQ(ok->image, "nginx:1.27");
  EXPECT_EQ(ok->media_type, "application/vnd.oci.image.index.v1+json");

  auto nf = parse_helper_output(R"({"error":"container c1 not found in namespace k8s.io","code":"not_found"})" "\n", 1);
  ASSERT_FALSE(nf.is_ok());
  EXPECT_EQ(nf.status().code(), Code::kNotFound);
  EXPECT_EQ(nf.status().message(), "runguardctl helper: container c1 not found in namespace k8s.io");
  EXPECT_EQ(parse_helper_output(R"({"error":"x","code":"invalid"})", 1).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(parse_helper_output(R"({"error":"x","code":"unavailable"})", 1).status().code(), Code::kUnavailable);

  EXPECT_FALSE(parse_helper_output("", 1).is_ok());
  EXPECT_FALSE(parse_helper_output("Usage: runguardctl ...\n", 2).is_ok());
  EXPECT_FALSE(parse_helper_output(R"({"digest":")" + kDigest + R"("})", 3).is_ok());  // exit status says it failed
  EXPECT_FALSE(parse_helper_output(R"({"digest":"latest"})", 0).is_ok());            // not a digest
}

// Wrong-typed members are a malformed answer (kUnavailable), never an exception or a silent "".
TEST(HelperOutput, WrongTypesAreMalformed) {
  for (const char* line : {R"({"error":null})", R"({"error":42,"code":"not_found"})", R"({"error":"x","code":["not_found"]})",
                           R"({"digest":42})", R"({"digest":null})", R"({"image":7,"digest":"sha256:)"
                           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
                           R"({"mediaType":{},"digest":"sha256:)"
                           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}"}) {
    Result<ImageLookup> r = Status(Code::kInternal, "not run");
    EXPECT_NO_THROW(r = parse_helper_output(line, 0)) << line;
    ASSERT_FALSE(r.is_ok()) << line;
    EXPECT_EQ(r.status().code(), Code::kUnavailable) << line << ": " << r.status().to_string();
  }
  EXPECT_NE(parse_helper_output(R"({"error":null})", 1).status().message().find("malformed answer: \"error\" is a null"),
            std::string::npos);
}

// The agent's ok:true answer with wrong-typed members: malformed, not thrown, not half-used.
TEST(LookupImageDigest, AgentAnswerWithWrongTypes) {
  TempDir dir;
  FakeAgent agent(dir / "agent.sock", FakeAgent::replying(frame::ok_reply({{"image", 12}, {"digest", kDigest}})));
  Result<ImageLookup> r = Status(Code::kInternal, "not run");
  EXPECT_NO_THROW(r = lookup_image_digest(settings(dir), "k8s.io", cri_context(), dir / "runguardctl"));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("\"image\" is a number"), std::string::npos) << r.status().message();
}

// Regression: {"v":1,"ok":false,"error":null} from the agent threw out of create.
TEST(LookupImageDigest, AgentErrorReplyWithNullErrorIsUnavailable) {
  TempDir dir;
  FakeAgent agent(dir / "agent.sock", FakeAgent::replying(Json{{"v", 1}, {"ok", false}, {"error", nullptr}}));
  std::string helper = write_helper(dir, "exit 9");
  Result<ImageLookup> r = Status(Code::kInternal, "not run");
  EXPECT_NO_THROW(r = lookup_image_digest(settings(dir), "k8s.io", cri_context(), helper));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("malformed reply"), std::string::npos) << r.status().message();
  EXPECT_FALSE(std::filesystem::exists(dir / "helper.args")) << "an agent that answered is final";
}

TEST(HelperArgv, NamesEverything) {
  TempDir dir;
  auto a = settings(dir);
  a.helper_timeout_ms = 3000;
  EXPECT_EQ(helper_argv(a, "k8s.io", cri_context()),
            std::vector<std::string>({"runguardctl", "helper", "image-digest", "--containerd", dir / "containerd.sock", "--namespace",
                                      "k8s.io", "--container", "c1", "--image", "docker.io/library/nginx:1.27", "--timeout-ms", "2900"}));
  auto no_image = cri_context("");
  auto argv = helper_argv(a, "k8s.io", no_image);
  EXPECT_EQ(std::find(argv.begin(), argv.end(), "--image"), argv.end());
}

TEST(LookupImageDigest, AgentAnswers) {
  TempDir dir;
  FakeAgent agent(dir / "agent.sock",
                  FakeAgent::replying(frame::ok_reply({{"image", "docker.io/library/nginx:1.27"}, {"digest", kDigest}, {"cached", true}})));
  std::string helper = write_helper(dir, "exit 9");
  auto r = lookup_image_digest(settings(dir), "k8s.io", cri_context(), helper);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->digest, kDigest);
  EXPECT_EQ(agent.frames()[0]["op"], "image.digest");
  EXPECT_EQ(agent.frames()[0]["namespace"], "k8s.io");
  EXPECT_EQ(agent.frames()[0]["container"], "c1");
  EXPECT_EQ(agent.frames()[0]["image"], "docker.io/library/nginx:1.27");
  EXPECT_FALSE(std::filesystem::exists(dir / "helper.args"));  // the helper never ran
}

TEST(LookupImageDigest, AgentErrorIsFinalNoHelper) {
  TempDir dir;
  Json err = frame::error_reply("image not found");
  err["code"] = "not_found";
  FakeAgent agent(dir / "agent.sock", FakeAgent::replying(err));
  std::string helper = write_helper(dir, "exit 9");
  auto r = lookup_image_digest(settings(dir), "k8s.io", cri_context(), helper);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(dir / "helper.args"));
}

TEST(LookupImageDigest, AgentTooSlowIsFinalNoHelper) {
  TempDir dir;
  FakeAgent agent(dir / "agent.sock", FakeAgent::silent());
  std::string helper = write_helper(dir, "exit 9");
  auto a = settings(dir);
  a.request_timeout_ms = 100;
  auto start = Clock::now();
  auto r = lookup_image_digest(a, "k8s.io", cri_context(), helper);
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count(), 600);
  ASSERT_FALSE(r.is_ok());
  EXPECT_FALSE(std::filesystem::exists(dir / "helper.args"));
}

TEST(LookupImageDigest, NoAgentRunsTheHelper) {
  TempDir dir;
  std::string helper = write_helper(dir, R"(echo '{"image":"docker.io/library/nginx:1.27","digest":")" + kDigest +
                                             R"(","mediaType":"application/vnd.oci.image.index.v1+json"}')");
  auto r = lookup_image_digest(settings(dir), "k8s.io", cri_context(), helper);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->digest, kDigest);
  EXPECT_EQ(r->via, "helper");
  EXPECT_EQ(read_text(dir / "helper.args"),
            "helper\nimage-digest\n--containerd\n" + dir / "containerd.sock" +
                "\n--namespace\nk8s.io\n--container\nc1\n--image\ndocker.io/library/nginx:1.27\n--timeout-ms\n2900\n");
}

TEST(LookupImageDigest, HelperErrorIsReported) {
  TempDir dir;
  std::string helper = write_helper(dir, R"(echo '{"error":"containerd: connection refused","code":"unavailable"}'; exit 1)");
  auto r = lookup_image_digest(settings(dir), "k8s.io", cri_context(), helper);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("containerd: connection refused"), std::string::npos);
}

TEST(LookupImageDigest, HungHelperIsKilledAtHelperTimeout) {
  TempDir dir;
  std::string helper = write_helper(dir, "exec sleep 30");
  auto a = settings(dir);
  a.helper_timeout_ms = 200;
  auto start = Clock::now();
  auto r = lookup_image_digest(a, "k8s.io", cri_context(), helper);
  auto ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("did not answer within agent.helperTimeout (200 ms)"), std::string::npos)
      << r.status().message();
  EXPECT_GE(ms, 190);
  EXPECT_LT(ms, 1000);
}

// Regression: a helper that printed its answer but was slow to exit was reported as timed out
// after the whole helperTimeout, and its answer thrown away.
TEST(LookupImageDigest, HelperAnswerThenSlowExitIsUsed) {
  TempDir dir;
  std::string helper = write_helper(dir, R"(echo '{"image":"docker.io/library/nginx:1.27","digest":")" + kDigest +
                                             R"(","mediaType":"application/vnd.oci.image.index.v1+json"}'; exec sleep 30)");
  auto a = settings(dir);
  a.helper_timeout_ms = 2000;
  auto start = Clock::now();
  auto r = lookup_image_digest(a, "k8s.io", cri_context(), helper);
  auto ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->digest, kDigest);
  EXPECT_EQ(r->via, "helper");
  EXPECT_LT(ms, 1500) << "not held until helperTimeout";
}

TEST(LookupImageDigest, NoAgentNoHelper) {
  TempDir dir;
  auto r = lookup_image_digest(settings(dir), "k8s.io", cri_context(), dir / "runguardctl");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("agent not running"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("runguardctl"), std::string::npos) << r.status().message();
}

// The create-path wrapper: fills the context, or leaves it and warns; other engines cost nothing.
TEST(ResolveImageDigest, FillsContextOrWarns) {
  TempDir dir;
  policy::Policy p;
  p.source = "/etc/runguard/policy.yaml";
  p.agent = settings(dir);
  RuncArgs args;
  args.root = "/run/containerd/runc/k8s.io";
  args.log = dir / "runc.log";
  args.log_format = LogFormat::kJson;
  RuncLog log(args.log, args.log_format);

  // containerd's socket is missing: a warning, no lookup.
  auto ctx = cri_context("");
  resolve_image_digest(args, p, log, ctx);
  EXPECT_EQ(ctx.image_digest, "");
  EXPECT_NE(read_text(args.log).find("containerd socket " + dir / "containerd.sock" + " does not exist"), std::string::npos);

  // With the socket present and an agent answering, the digest and the image name are filled.
  std::ofstream(dir / "containerd.sock") << "";
  FakeAgent agent(dir / "agent.sock", FakeAgent::replying(frame::ok_reply({{"image", "docker.io/library/redis:7"}, {"digest", kDigest}})));
  resolve_image_digest(args, p, log, ctx);
  EXPECT_EQ(ctx.image_digest, kDigest);
  EXPECT_EQ(ctx.image, "docker.io/library/redis:7");

  // Podman: no request at all.
  auto podman = policy::context_from_spec(Json{{"annotations", {{"io.container.manager", "libpod"}}}}, "p", "/var/lib/x/p", "/run/runc");
  RuncArgs pargs = args;
  pargs.root = "/run/runc";
  size_t before = agent.frames().size();
  resolve_image_digest(pargs, p, log, podman);
  EXPECT_EQ(agent.frames().size(), before);
  EXPECT_EQ(podman.image_digest, "");
}

}  // namespace
}  // namespace runguard::pipeline::internal
