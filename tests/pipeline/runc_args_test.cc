// parse_runc_args on the argv shapes engines really use, and check_container_id.

#include "runguard/pipeline/runc_args.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace runguard::pipeline {
namespace {

using Argv = std::vector<std::string>;

TEST(RuncArgs, ContainerdCreate) {
  Argv argv = {"runc", "--root", "/run/containerd/runc/default", "--log", "/b/log.json", "--log-format", "json",
               "--systemd-cgroup", "create", "--bundle", "/b", "--pid-file", "/b/init.pid", "--console-socket",
               "/tmp/s", "id1"};
  RuncArgs a = parse_runc_args(argv);
  EXPECT_EQ(a.argv, argv);
  EXPECT_EQ(a.root, "/run/containerd/runc/default");
  EXPECT_EQ(a.log, "/b/log.json");
  EXPECT_EQ(a.log_format, LogFormat::kJson);
  EXPECT_TRUE(a.systemd_cgroup);
  EXPECT_FALSE(a.debug);
  EXPECT_EQ(a.command, "create");
  EXPECT_EQ(a.command_index, 8u);
  EXPECT_EQ(a.flag("bundle"), "/b");
  EXPECT_EQ(a.flag("pid-file"), "/b/init.pid");
  EXPECT_EQ(a.flag("console-socket"), "/tmp/s");
  EXPECT_EQ(a.flag("detach"), std::nullopt);
  ASSERT_EQ(a.flags.size(), 3u);
  EXPECT_EQ(a.flags[0].name_index, 9u);
  EXPECT_EQ(a.flags[0].value_index, 10u);
  EXPECT_FALSE(a.flags[0].inline_value);
  EXPECT_EQ(a.positional, Argv{"id1"});
  EXPECT_EQ(a.id(), "id1");
}

TEST(RuncArgs, BundleSpellings) {
  for (const Argv& argv : {Argv{"runc", "create", "--bundle=/b", "id"}, Argv{"runc", "create", "-b", "/b", "id"},
                           Argv{"runc", "create", "-bundle", "/b", "id"}, Argv{"runc", "create", "-b=/b", "id"}}) {
    RuncArgs a = parse_runc_args(argv);
    EXPECT_EQ(a.flag("bundle"), "/b") << argv[2];
    EXPECT_EQ(a.id(), "id") << argv[2];
    ASSERT_EQ(a.all("bundle").size(), 1u);
    EXPECT_EQ(a.all("bundle")[0]->inline_value, argv[2].find('=') != std::string::npos);
  }
  RuncArgs a = parse_runc_args({"runc", "create", "--bundle=/b", "id"});
  EXPECT_EQ(a.flags[0].name_index, 2u);
  EXPECT_EQ(a.flags[0].value_index, 2u);
}

TEST(RuncArgs, LastFlagWins) {
  RuncArgs a = parse_runc_args({"runc", "create", "--bundle", "/a", "-b", "/b", "id"});
  EXPECT_EQ(a.flag("bundle"), "/b");
  EXPECT_EQ(a.all("bundle").size(), 2u);
}

TEST(RuncArgs, RunDetached) {
  RuncArgs a = parse_runc_args({"runc", "run", "-d", "--bundle", "/b", "id"});
  EXPECT_EQ(a.command, "run");
  EXPECT_EQ(a.flag("detach"), "");  // boolean: present, no value
  EXPECT_EQ(a.flag("bundle"), "/b");
  EXPECT_EQ(a.positional, Argv{"id"});
}

TEST(RuncArgs, ExecWithProcessFile) {
  RuncArgs a = parse_runc_args({"runc", "--root", "/r", "exec", "--process", "/tmp/p.json", "--detach", "--pid-file",
                                "x", "id"});
  EXPECT_EQ(a.command, "exec");
  EXPECT_EQ(a.flag("process"), "/tmp/p.json");
  EXPECT_EQ(a.flag("detach"), "");
  EXPECT_EQ(a.flag("pid-file"), "x");
  EXPECT_EQ(a.positional, Argv{"id"});
  // containerd's own spelling of the same thing
  RuncArgs b = parse_runc_args({"runc", "exec", "-p", "/tmp/p.json", "-d", "id"});
  EXPECT_EQ(b.flag("process"), "/tmp/p.json");
  EXPECT_EQ(b.flag("detach"), "");
}

TEST(RuncArgs, ExecFlagsAfterTheIdBelongToTheCommand) {
  Argv argv = {"runc", "exec", "-u", "0:0", "--cap", "CAP_SYS_ADMIN", "-e", "A=b", "-t", "id", "sh", "-c", "x -u 1",
               "--user", "5"};
  RuncArgs a = parse_runc_args(argv);
  EXPECT_EQ(a.flag("user"), "0:0");
  EXPECT_EQ(a.flag("cap"), "CAP_SYS_ADMIN");
  EXPECT_EQ(a.flag("env"), "A=b");
  EXPECT_EQ(a.flag("tty"), "");
  ASSERT_EQ(a.all("user").size(), 1u);
  EXPECT_EQ(a.all("user")[0]->name_index, 2u);
  EXPECT_EQ(a.all("user")[0]->value_index, 3u);
  EXPECT_EQ(a.positional, (Argv{"id", "sh", "-c", "x -u 1", "--user", "5"}));
}

TEST(RuncArgs, ExecRepeatedFlags) {
  RuncArgs a = parse_runc_args({"runc", "exec", "--cap", "CAP_A", "-c", "CAP_B", "--env=X=1", "-e", "Y=2",
                                "--additional-gids", "0", "-g", "10", "id", "true"});
  ASSERT_EQ(a.all("cap").size(), 2u);
  EXPECT_EQ(a.all("cap")[1]->value, "CAP_B");
  ASSERT_EQ(a.all("env").size(), 2u);
  EXPECT_EQ(a.all("env")[0]->value, "X=1");  // only the first '=' splits the flag
  EXPECT_TRUE(a.all("env")[0]->inline_value);
  ASSERT_EQ(a.all("additional-gids").size(), 2u);
  EXPECT_EQ(a.all("additional-gids")[0]->value, "0");
  EXPECT_EQ(a.positional, (Argv{"id", "true"}));
}

TEST(RuncArgs, UpdateResourcesFromStdin) {
  RuncArgs a = parse_runc_args({"runc", "--root", "/r", "update", "--resources", "-", "id"});
  EXPECT_EQ(a.command, "update");
  EXPECT_EQ(a.flag("resources"), "-");
  EXPECT_EQ(a.positional, Argv{"id"});
  RuncArgs b = parse_runc_args({"runc", "update", "--resources=-", "id"});
  EXPECT_EQ(b.flag("resources"), "-");
  EXPECT_TRUE(b.all("resources")[0]->inline_value);
  EXPECT_EQ(b.id(), "id");
  RuncArgs c = parse_runc_args({"runc", "update", "-r", "/tmp/r.json", "--memory", "1G", "--pids-limit=10", "id"});
  EXPECT_EQ(c.flag("resources"), "/tmp/r.json");
  EXPECT_EQ(c.flag("memory"), "1G");
  EXPECT_EQ(c.flag("pids-limit"), "10");
  EXPECT_EQ(c.id(), "id");
}

TEST(RuncArgs, DeleteForce) {
  RuncArgs a = parse_runc_args({"runc", "--root", "/r", "delete", "--force", "id"});
  EXPECT_EQ(a.command, "delete");
  EXPECT_EQ(a.flag("force"), "");
  EXPECT_EQ(a.id(), "id");
  RuncArgs b = parse_runc_args({"runc", "delete", "-f", "id"});
  EXPECT_EQ(b.flag("force"), "");
  EXPECT_EQ(b.id(), "id");
}

TEST(RuncArgs, CommandsWithoutArguments) {
  RuncArgs a = parse_runc_args({"runc", "features"});
  EXPECT_EQ(a.command, "features");
  EXPECT_EQ(a.command_index, 1u);
  EXPECT_TRUE(a.positional.empty());
  EXPECT_EQ(a.id(), "");
  EXPECT_EQ(a.log_format, LogFormat::kText);
  EXPECT_EQ(a.root, "");
  RuncArgs s = parse_runc_args({"runc", "state", "id"});
  EXPECT_EQ(s.command, "state");
  EXPECT_EQ(s.id(), "id");
}

TEST(RuncArgs, NoCommand) {
  for (const Argv& argv : {Argv{"runc"}, Argv{"runc", "--version"}, Argv{"runc", "--root", "/r"},
                           Argv{"runc", "--debug", "--log", "/l"}}) {
    RuncArgs a = parse_runc_args(argv);
    EXPECT_EQ(a.command, "") << argv.size();
    EXPECT_TRUE(a.positional.empty());
  }
  RuncArgs a = parse_runc_args({"runc", "--debug", "--log", "/l"});
  EXPECT_TRUE(a.debug);
  EXPECT_EQ(a.log, "/l");
}

TEST(RuncArgs, GlobalFlagSpellings) {
  RuncArgs a = parse_runc_args({"runc", "-root=/r", "--log=/l", "-log-format=json", "--debug=false",
                                "--systemd-cgroup=true", "--rootless", "false", "--criu", "/usr/sbin/criu", "kill",
                                "id", "KILL"});
  EXPECT_EQ(a.root, "/r");
  EXPECT_EQ(a.log, "/l");
  EXPECT_EQ(a.log_format, LogFormat::kJson);
  EXPECT_FALSE(a.debug);
  EXPECT_TRUE(a.systemd_cgroup);
  EXPECT_EQ(a.command, "kill");
  EXPECT_EQ(a.positional, (Argv{"id", "KILL"}));
}

TEST(RuncArgs, GlobalValueThatLooksLikeACommand) {
  RuncArgs a = parse_runc_args({"runc", "--root", "create", "--log", "delete", "state", "id"});
  EXPECT_EQ(a.root, "create");
  EXPECT_EQ(a.log, "delete");
  EXPECT_EQ(a.command, "state");
  EXPECT_EQ(a.id(), "id");
}

TEST(RuncArgs, UnknownGlobalFlagStillFindsCreate) {
  RuncArgs a = parse_runc_args({"runc", "--foo=bar", "create", "--bundle", "/b", "id"});
  EXPECT_EQ(a.command, "create");
  EXPECT_EQ(a.command_index, 2u);
  EXPECT_EQ(a.flag("bundle"), "/b");
  // A bare unknown flag followed by its value: the value is skipped, the command still found.
  RuncArgs b = parse_runc_args({"runc", "--foo", "bar", "--root", "/r", "create", "-b", "/b", "id"});
  EXPECT_EQ(b.command, "create");
  EXPECT_EQ(b.root, "/r");
  EXPECT_EQ(b.flag("bundle"), "/b");
  EXPECT_EQ(b.id(), "id");
}

TEST(RuncArgs, DoubleDashEndsFlags) {
  RuncArgs a = parse_runc_args({"runc", "exec", "--user", "1", "--", "id", "--user", "0"});
  EXPECT_EQ(a.flag("user"), "1");
  EXPECT_EQ(a.all("user").size(), 1u);
  EXPECT_EQ(a.positional, (Argv{"id", "--user", "0"}));
  RuncArgs b = parse_runc_args({"runc", "create", "--", "-weird-id"});
  EXPECT_TRUE(b.flags.empty());
  EXPECT_EQ(b.id(), "-weird-id");
  RuncArgs c = parse_runc_args({"runc", "exec", "id", "--", "sh"});  // after the id it is the command's
  EXPECT_EQ(c.positional, (Argv{"id", "--", "sh"}));
}

TEST(RuncArgs, ValueFlagAtTheEnd) {
  RuncArgs a = parse_runc_args({"runc", "create", "--bundle"});
  ASSERT_EQ(a.flags.size(), 1u);
  EXPECT_EQ(a.flag("bundle"), "");
  EXPECT_TRUE(a.positional.empty());
}

// runc 1.1/1.2 use urfave/cli v1.22, which moves flags written after the positional arguments in
// front of them (reorderArgs) for every command but exec (SkipArgReorder). runc therefore honours
// `create id --bundle /b` and `update id --memory 9G`; runguard must read the same flags.
TEST(RuncArgs, FlagsAfterTheIdAreReorderedLikeUrfaveCliV1) {
  RuncArgs a = parse_runc_args({"runc", "create", "id1", "--bundle", "/b"});
  RuncArgs u = parse_runc_args({"runc", "update", "id1", "--memory", "9G"});
  EXPECT_FALSE(a.flag("bundle") != "/b" || u.flag("memory") != "9G") << "regression: pipeline/src/runc_args.cc stops at the first positional for every command, but runc's "
                    "urfave/cli v1 reorders flags after positionals (all commands except exec): runguard then "
                    "evaluates ./config.json while runc uses /b, and misses `update ID --memory`";
  EXPECT_EQ(a.id(), "id1");
  EXPECT_EQ(u.id(), "id1");
}

// runc's current create also takes --config FILE (urfave/cli v3, create.go); as a value flag its
// value must not become the container id.
TEST(RuncArgs, CreateConfigFlagTakesAValue) {
  RuncArgs a = parse_runc_args({"runc", "create", "--bundle", "/b", "--config", "/tmp/other.json", "id1"});
  EXPECT_FALSE(a.id() != "id1") << "regression: pipeline/src/runc_args.cc does not know create/run --config (runc main): its value is "
                    "read as the container id (\"" << a.id() << "\"), and `--config=/x` would go unnoticed "
                    "while runc reads /x instead of bundle/config.json";
  EXPECT_EQ(a.flag("config"), "/tmp/other.json");
}

struct IdCase {
  const char* id;
  bool valid;
};

TEST(CheckContainerId, AcceptsRuncIds) {
  const IdCase cases[] = {
      {"abc-1.2_x+y", true},
      {"a", true},
      {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true},
      {"...", true},
      {".hidden", true},
      {"k8s_POD_web-1_default_1f2e", true},
      {"", false},
      {".", false},
      {"..", false},
      {"a/b", false},
      {"../x", false},
      {"/abs", false},
      {"a b", false},
      {"a\nb", false},
      {"ä", false},
      {"a:b", false},
      {"a,b", true},  // runc's [\w+-\.] is a range '+'..'.', which includes ','
      {"$(id)", false},
  };
  for (const auto& c : cases) {
    Status s = check_container_id(c.id);
    EXPECT_EQ(s.is_ok(), c.valid) << '"' << c.id << "\": " << s.message();
    if (!c.valid) {
      EXPECT_EQ(s.code(), Code::kInvalidArgument);
    }
  }
  EXPECT_TRUE(check_container_id(std::string(1024, 'a')).is_ok());
  EXPECT_FALSE(check_container_id(std::string(1025, 'a')).is_ok());
  EXPECT_EQ(check_container_id("").message(), "container id is empty");
  EXPECT_NE(check_container_id("a/b").message().find("\"a/b\""), std::string::npos);
}

}  // namespace
}  // namespace runguard::pipeline

namespace runguard::pipeline {
namespace {

TEST(RuncArgs, UnknownFlagsOfCheckedCommandsAreReported) {
  EXPECT_EQ(parse_runc_args({"runc", "create", "--frobnicate", "--bundle", "/b", "id"}).unknown_flags,
            std::vector<std::string>{"--frobnicate"});
  EXPECT_EQ(parse_runc_args({"runc", "update", "--cpu-idle", "1", "--memory", "1g", "id"}).unknown_flags.size(), 0u);
  EXPECT_EQ(parse_runc_args({"runc", "update", "--cpu-idle", "1", "id"}).id(), "id");
  EXPECT_EQ(parse_runc_args({"runc", "exec", "--no-new-privs", "-t", "id", "sh", "--bogus"}).unknown_flags.size(), 0u);
  // Commands runguard only passes through keep runc's own handling.
  EXPECT_TRUE(parse_runc_args({"runc", "kill", "--bogus", "id"}).unknown_flags.empty());
  EXPECT_TRUE(parse_runc_args({"runc", "create", "--help"}).help);
}

}  // namespace
}  // namespace runguard::pipeline
