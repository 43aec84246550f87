// Rule files: located errors, macros (cycles), lists, append/override, exceptions, skips,
// strict mode, runguard.action, output rendering.
#include <gtest/gtest.h>

#include "monitor_test_util.h"

namespace {

using namespace rgmon;  // NOLINT(google-build-using-namespace)

std::string error_of(const std::string& yaml) {
  auto rs = load_text(yaml);
  EXPECT_FALSE(rs.is_ok()) << yaml;
  return rs.is_ok() ? "" : rs.status().message();
}

struct ErrCase {
  const char* yaml;
  const char* expected;  // substring, starting with the location
};

class RuleMalformed : public ::testing::TestWithParam<ErrCase> {};

TEST_P(RuleMalformed, IsALocatedError) {
  std::string msg = error_of(GetParam().yaml);
  EXPECT_NE(msg.find(GetParam().expected), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Rule, RuleMalformed,
    ::testing::Values(
        ErrCase{"- rule: r\n  desc: d\n  condition: proc.name =\n  output: o\n  priority: INFO\n",
                "test.yaml:3:25: rule \"r\": expected a value"},
        ErrCase{"- rule: r\n  desc: d\n  condition: >\n    evt.type = execve and\n    proc.name in (a, b\n  output: o\n  priority: INFO\n",
                "test.yaml:5:23: rule \"r\": expected ',' or ')'"},
        ErrCase{"- rule: r\n  desc: d\n  condition: evt.type=execve and no_such_macro\n  output: o\n  priority: INFO\n",
                "test.yaml:3:34: rule \"r\": undefined macro \"no_such_macro\""},
        ErrCase{"- rule: r\n  desc: d\n  condition: evt.type=execve\n  output: o\n  priority: LOUD\n",
                "test.yaml:5:13: rule \"r\": priority: unknown priority \"LOUD\""},
        ErrCase{"- rule: r\n  desc: d\n  condition: evt.type=execve\n  output: o\n  priority: INFO\n  runguard_action: block\n",
                "test.yaml:6:3: rule \"r\": unknown key \"runguard_action\" (did you mean runguard.action?)"},
        ErrCase{"- rule: r\n  desc: d\n  condition: evt.type=execve\n  output: o\n  priority: INFO\n  runguard.action: kill\n",
                "runguard.action: expected alert or block"},
        ErrCase{"- rule: r\n  desc: d\n  output: o\n  priority: INFO\n", "test.yaml:1:3: rule \"r\": condition is required"},
        ErrCase{"- macro: m\n  condition: (a\n", "test.yaml:2:16: macro \"m\": expected ')'"},
        ErrCase{"- list: l\n  items: a\n", "test.yaml:2:10: list \"l\": items: expected a list"},
        ErrCase{"- rule: r\n  rule: s\n", "duplicate key rule"},
        ErrCase{"- bogus: x\n", "test.yaml:1:3: unknown item"},
        ErrCase{"- rule: [\n", "test.yaml:"},
        ErrCase{"rule: r\n", "a rules file must be a YAML list"},
        ErrCase{"- list: l\n  items: [a]\n  append: true\n", "list \"l\": appends to a list that is not defined"},
        ErrCase{"- macro: m\n  condition: a\n  override: {condition: append}\n", "overrides a macro that is not defined"},
        ErrCase{"- macro: a\n  condition: b\n- macro: b\n  condition: c\n- macro: c\n  condition: a\n"
                "- rule: r\n  desc: d\n  condition: evt.type=execve and a\n  output: o\n  priority: INFO\n",
                "macro cycle: a -> b -> c -> a"},
        ErrCase{"- list: x\n  items: [y]\n- list: y\n  items: [x]\n"
                "- rule: r\n  desc: d\n  condition: proc.name in (x)\n  output: o\n  priority: INFO\n",
                "list cycle: x -> y -> x"},
        ErrCase{"- rule: r\n  desc: d\n  condition: evt.type=execve\n  output: o\n  priority: INFO\n"
                "- rule: r\n  condition: and proc.name=x\n  override: {condition: prepend}\n",
                "override.condition: expected append or replace"},
        ErrCase{"- rule: r\n  desc: d\n  condition: evt.type=execve\n  output: o\n  priority: INFO\n"
                "- rule: r\n  condition: and proc.name=x\n  priority: INFO\n  override: {condition: append}\n",
                "priority is given without an override mode"},
        ErrCase{"- rule: r\n  desc: d\n  condition: evt.type=execve\n  output: o\n  priority: INFO\n"
                "  exceptions:\n    - name: e\n      fields: [proc.name, proc.pname]\n      comps: [=]\n",
                "2 fields but 1 comps"}));

TEST(RuleLoader, MacroInAppendedTextIsLocatedInItsOwnFile) {
  auto rs = load_rules({RuleFile{"a.yaml", "- macro: m\n  condition: evt.type = execve\n"},
                        RuleFile{"b.yaml", "- macro: m\n  condition: and nope\n  override: {condition: append}\n"
                                           "- rule: r\n  desc: d\n  condition: m\n  output: o\n  priority: INFO\n"}});
  ASSERT_FALSE(rs.is_ok());
  EXPECT_NE(rs.status().message().find("b.yaml:2:18: macro \"m\" (in rule \"r\"): undefined macro \"nope\""), std::string::npos)
      << rs.status().message();
}

TEST(RuleLoader, ListsExpandRecursivelyAndInBareForm) {
  auto rs = load_text(
      "- list: shells\n  items: [sh, bash]\n- list: all\n  items: [shells, zsh]\n"
      "- macro: spawned_process\n  condition: evt.type in (execve, execveat)\n"
      "- rule: r\n  desc: d\n  condition: spawned_process and proc.name in (all, \"shells\")\n  output: o\n  priority: INFO\n"
      "- rule: s\n  desc: d\n  condition: spawned_process and proc.name in all\n  output: o\n  priority: INFO\n");
  ASSERT_TRUE(rs.is_ok()) << rs.status().message();
  ASSERT_EQ(rs->rules.size(), 2u);
  EXPECT_EQ(rs->macros, 1u);
  EXPECT_EQ(rs->lists, 2u);
  EXPECT_TRUE(rule_matches(rs->rules[0], exec_event("bash")));
  EXPECT_TRUE(rule_matches(rs->rules[0], exec_event("zsh")));
  EXPECT_FALSE(rule_matches(rs->rules[0], exec_event("ash")));
  EXPECT_TRUE(rule_matches(rs->rules[1], exec_event("sh")));
  EXPECT_EQ(rs->rules[0].event_types, (std::vector<std::string>{"execve", "execveat"}));
}

constexpr const char* kBase = R"(- list: shells
  items: [sh]
- macro: spawned
  condition: evt.type = execve
- rule: shell
  desc: a shell
  condition: spawned and proc.name in (shells)
  output: shell %proc.name
  priority: NOTICE
  tags: [a]
)";

TEST(RuleLoader, OverrideAppendAndReplace) {
  auto rs = load_rules({RuleFile{"base.yaml", kBase}, RuleFile{"local.yaml", R"(- list: shells
  items: [bash]
  override: {items: append}
- rule: shell
  condition: and not proc.pname = init
  output: (by %proc.pname)
  tags: [b]
  override: {condition: append, output: append, tags: append}
- rule: shell
  priority: CRITICAL
  runguard.action: block
  override: {priority: replace, runguard.action: replace}
)"}});
  ASSERT_TRUE(rs.is_ok()) << rs.status().message();
  ASSERT_EQ(rs->rules.size(), 1u);
  const Rule& r = rs->rules[0];
  EXPECT_EQ(r.priority, Priority::kCritical);
  EXPECT_EQ(r.action, RuleAction::kBlock);
  EXPECT_EQ(r.output, "shell %proc.name (by %proc.pname)");
  EXPECT_EQ(r.tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(rule_matches(r, exec_event("bash")));
  EXPECT_TRUE(rule_matches(r, exec_event("sh")));
  EXPECT_FALSE(rule_matches(r, exec_event("sh", {}, "init")));
}

TEST(RuleLoader, LegacyAppendAndReplaceAndDisable) {
  auto rs = load_rules({RuleFile{"base.yaml", kBase}, RuleFile{"local.yaml", R"(- list: shells
  items: [zsh]
  append: true
- macro: spawned
  condition: evt.type = execveat
- rule: shell
  condition: or proc.name = ksh
  append: true
)"}});
  ASSERT_TRUE(rs.is_ok()) << rs.status().message();
  Event ev = exec_event("zsh");
  EXPECT_FALSE(rule_matches(rs->rules[0], ev));  // macro replaced: execveat only ...
  ev.type = "execveat";
  EXPECT_TRUE(rule_matches(rs->rules[0], ev));
  EXPECT_TRUE(rule_matches(rs->rules[0], exec_event("ksh")));  // ... or the appended branch (textual append)
  auto off = load_rules({RuleFile{"base.yaml", kBase}, RuleFile{"off.yaml", "- rule: shell\n  enabled: false\n"}});
  ASSERT_TRUE(off.is_ok()) << off.status().message();
  EXPECT_TRUE(off->rules.empty());
  EXPECT_EQ(off->disabled, (std::vector<std::string>{"shell"}));
  auto on = load_rules({RuleFile{"base.yaml", kBase},
                        RuleFile{"on.yaml", "- rule: shell\n  enabled: false\n  override: {enabled: replace}\n"}});
  ASSERT_TRUE(on.is_ok()) << on.status().message();
  EXPECT_TRUE(on->rules.empty());
}

TEST(RuleLoader, ExceptionsCompileIntoTheCondition) {
  auto rs = load_text(R"(- list: allowed
  items: [apk]
- rule: r
  desc: d
  condition: evt.type = execve
  output: o
  priority: INFO
  exceptions:
    - name: by_parent
      fields: [proc.name, proc.pname]
      comps: [=, in]
      values:
        - [sh, [init, tini]]
    - name: names
      fields: proc.name
      values: [allowed, bash]
- rule: r
  exceptions:
    - name: names
      values: [zsh]
  override: {exceptions: append}
)");
  ASSERT_TRUE(rs.is_ok()) << rs.status().message();
  const Rule& r = rs->rules[0];
  EXPECT_TRUE(rule_matches(r, exec_event("sh")));              // parent bash: not excepted
  EXPECT_FALSE(rule_matches(r, exec_event("sh", {}, "tini")));  // (sh, tini) excepted
  EXPECT_TRUE(rule_matches(r, exec_event("ls", {}, "tini")));
  EXPECT_FALSE(rule_matches(r, exec_event("apk")));             // list name expanded
  EXPECT_FALSE(rule_matches(r, exec_event("bash")));
  EXPECT_FALSE(rule_matches(r, exec_event("zsh")));             // appended value
}

struct SkipCase {
  const char* condition;
  const char* category;
  const char* reason;
};

class RuleSkips : public ::testing::TestWithParam<SkipCase> {};

TEST_P(RuleSkips, AreReportedWithAReasonAndRefusedWhenStrict) {
  const SkipCase& c = GetParam();
  auto rs = load_text(one_rule(c.condition));
  ASSERT_TRUE(rs.is_ok()) << rs.status().message();
  EXPECT_TRUE(rs->rules.empty());
  ASSERT_EQ(rs->skipped.size(), 1u);
  EXPECT_EQ(rs->skipped[0].category, c.category);
  EXPECT_NE(rs->skipped[0].reason.find(c.reason), std::string::npos) << rs->skipped[0].reason;
  EXPECT_EQ(rs->skipped[0].location.to_string(), "test.yaml:1:3");
  auto strict = load_text(one_rule(c.condition), true);
  ASSERT_FALSE(strict.is_ok());
  EXPECT_NE(strict.status().message().find("test.yaml:1:3: rule \"r\": "), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Rule, RuleSkips,
    ::testing::Values(
        SkipCase{"evt.type in (open, openat) and fd.name = /etc/shadow", "event-type", "evt.type open, openat not intercepted"},
        SkipCase{"evt.type = connect", "event-type", "connect"},
        SkipCase{"evt.type = execve and fd.sport = 22", "field", "field fd.sport is not available"},
        SkipCase{"evt.type = execve and evt.arg.request = PTRACE_ATTACH", "evt-arg", "evt.arg.request is not produced for evt.type execve"},
        SkipCase{"evt.type = execve and proc.name regex \"a.*\"", "operator", "regex"},
        SkipCase{"evt.type = execve and tolower(proc.name) = sh", "operator", "transformer tolower()"},
        SkipCase{"evt.type = execve and proc.tty = abc", "type", "value \"abc\" does not fit proc.tty"},
        SkipCase{"evt.type = execve and proc.name > a", "type", "operator > does not apply to proc.name"},
        SkipCase{"evt.type = execve and proc.is_exe_upper_layer contains t", "type", "operator contains"}));

TEST(RuleLoader, OtherSourcesAreSkipped) {
  auto rs = load_text(one_rule("ka.verb = create", "  source: k8s_audit\n"));
  ASSERT_TRUE(rs.is_ok());
  ASSERT_EQ(rs->skipped.size(), 1u);
  EXPECT_EQ(rs->skipped[0].category, "source");
}

TEST(RuleLoader, BranchesOnlyForOtherEventTypesAreFolded) {
  // Falco evaluates the open branch to false for an execve; so do we, without needing fd.typechar.
  auto rs = load_text(one_rule("(evt.type = open and fd.typechar = f) or (evt.type = execve and proc.name = sh)"), true);
  ASSERT_TRUE(rs.is_ok()) << rs.status().message();
  EXPECT_TRUE(rule_matches(rs->rules[0], exec_event("sh")));
  EXPECT_FALSE(rule_matches(rs->rules[0], exec_event("ls")));
  EXPECT_EQ(rs->rules[0].event_types, std::vector<std::string>{"execve"});
}

TEST(RuleLoader, UnrestrictedRulesLoadWithAWarning) {
  auto rs = load_text(one_rule("proc.name = sh"));
  ASSERT_TRUE(rs.is_ok());
  ASSERT_EQ(rs->rules.size(), 1u);
  EXPECT_TRUE(rs->rules[0].unrestricted);
  ASSERT_EQ(rs->warnings.size(), 1u);
  EXPECT_NE(rs->warnings[0].message.find("no evt.type restriction"), std::string::npos);
  Event ptrace = exec_event("sh");
  ptrace.type = "ptrace";
  EXPECT_TRUE(rule_matches(rs->rules[0], ptrace));
  auto quiet = load_text(one_rule("proc.name = sh", "  warn_evttypes: false\n"));
  ASSERT_TRUE(quiet.is_ok());
  EXPECT_TRUE(quiet->warnings.empty());
  // not evt.type = execve still restricts: every monitored type but execve.
  auto neg = load_text(one_rule("not evt.type = execve and proc.name = sh"));
  ASSERT_TRUE(neg.is_ok());
  EXPECT_FALSE(neg->rules[0].unrestricted);
  EXPECT_FALSE(rule_matches(neg->rules[0], exec_event("sh")));
  EXPECT_TRUE(rule_matches(neg->rules[0], ptrace));
}

TEST(RuleLoader, FileAndExpansionLimits) {
  EXPECT_FALSE(load_text(std::string(kMaxFileBytes + 1, '#')).is_ok());
  // Each macro doubles the previous one: 2^30 nodes if expanded, refused at the node cap.
  std::string yaml = "- macro: m0\n  condition: proc.name = a\n";
  for (int i = 1; i <= 30; ++i) {
    yaml += "- macro: m" + std::to_string(i) + "\n  condition: m" + std::to_string(i - 1) + " or m" + std::to_string(i - 1) + "\n";
  }
  yaml += "- rule: r\n  desc: d\n  condition: evt.type = execve and m30\n  output: o\n  priority: INFO\n";
  std::string msg = error_of(yaml);
  EXPECT_NE(msg.find("expands to more than"), std::string::npos) << msg;
  std::string chain;
  for (int i = 0; i <= kMaxExpansionDepth + 1; ++i) {
    chain += "- macro: c" + std::to_string(i) + "\n  condition: " + (i == 0 ? std::string("proc.name = a") : "c" + std::to_string(i - 1)) + "\n";
  }
  chain += "- rule: r\n  desc: d\n  condition: evt.type = execve and c" + std::to_string(kMaxExpansionDepth + 1) + "\n  output: o\n  priority: INFO\n";
  msg = error_of(chain);
  EXPECT_NE(msg.find("nested deeper than"), std::string::npos) << msg;
}

TEST(RuleOutput, RendersFieldsAndNA) {
  auto rs = load_text("- rule: r\n  desc: d\n  condition: evt.type = execve\n  priority: ERROR\n  tags: [t1]\n"
                      "  output: \"shell %proc.name (parent=%proc.pname gp=%proc.aname[2] gggp=%proc.aname[5] "
                      "x=%fd.sport y=%evt.arg.flags tty=%proc.tty id=%container.id) 100%\"\n");
  ASSERT_TRUE(rs.is_ok()) << rs.status().message();
  auto m = evaluate(*rs, exec_event("sh"));
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].rule_name, "r");
  EXPECT_EQ(m[0].priority, Priority::kError);
  EXPECT_STREQ(priority_name(m[0].priority), "Error");
  EXPECT_EQ(m[0].action, RuleAction::kAlert);
  EXPECT_EQ(m[0].tags, std::vector<std::string>{"t1"});
  EXPECT_EQ(m[0].output, "shell sh (parent=bash gp=containerd-shim gggp=<NA> x=<NA> y=EXE_WRITABLE tty=0 id=0123456789ab) 100%");
  ASSERT_EQ(m[0].output_fields.size(), 8u);
  EXPECT_EQ(m[0].output_fields[2], (std::pair<std::string, std::string>{"proc.aname[2]", "containerd-shim"}));
  EXPECT_EQ(m[0].output_fields[4], (std::pair<std::string, std::string>{"fd.sport", "<NA>"}));
  Event other = exec_event("sh");
  other.type = "ptrace";
  EXPECT_TRUE(evaluate(*rs, other).empty());
}

}  // namespace
