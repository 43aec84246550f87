// Condition grammar: every operator (table), precedence, and located syntax errors.
#include <gtest/gtest.h>

#include "monitor_test_util.h"
#include "runguard/monitor/condition.h"

namespace {

using namespace rgmon;  // NOLINT(google-build-using-namespace)

struct OpCase {
  const char* condition;
  bool expected;
};

// Event: execve of `sh -i -x` by bash, uid 0, tty 34816, ptrace-style args.
Event table_event() {
  Event ev = exec_event("sh", {"-i", "-x"});
  ev.proc.tty = 34816;
  ev.proc.uid = 0;
  ev.proc.exe_upper_layer = true;
  ev.args.push_back({"request", "PTRACE_ATTACH", 16});
  return ev;
}

class CondOperators : public ::testing::TestWithParam<OpCase> {};

TEST_P(CondOperators, EvaluatesAsFalco) {
  const OpCase& c = GetParam();
  EXPECT_EQ(holds(c.condition, table_event()), c.expected) << c.condition;
}

INSTANTIATE_TEST_SUITE_P(
    Cond, CondOperators,
    ::testing::Values(
        OpCase{"proc.name = sh", true}, OpCase{"proc.name == sh", true}, OpCase{"proc.name = bash", false},
        OpCase{"proc.name != bash", true}, OpCase{"proc.name != sh", false},
        OpCase{"proc.tty > 0", true}, OpCase{"proc.tty < 0", false}, OpCase{"proc.tty >= 34816", true},
        OpCase{"proc.tty <= 34815", false}, OpCase{"proc.tty != 0", true}, OpCase{"user.uid = 0", true},
        OpCase{"user.uid in (0, 1000)", true}, OpCase{"user.uid in (1, 1000)", false}, OpCase{"proc.tty = 0x8800", true},
        OpCase{"proc.cmdline contains \"-i -x\"", true}, OpCase{"proc.cmdline contains -y", false},
        OpCase{"proc.exepath icontains /BIN/", true}, OpCase{"proc.exepath icontains /usr", false},
        OpCase{"proc.exepath startswith /bin", true}, OpCase{"proc.exepath startswith /usr", false},
        OpCase{"proc.exepath endswith /sh", true}, OpCase{"proc.exepath endswith /bash", false},
        OpCase{"proc.exepath glob \"/b*/s?\"", true}, OpCase{"proc.exepath glob \"/usr/*\"", false},
        OpCase{"proc.exepath iglob \"/BIN/*\"", true},
        OpCase{"proc.name in (bash, sh)", true}, OpCase{"proc.name in (bash, zsh)", false},
        OpCase{"proc.name in ()", false},
        OpCase{"proc.args intersects (-i, -c)", true}, OpCase{"proc.args intersects (-c)", false},
        OpCase{"proc.args in (-i, -x, -c)", true}, OpCase{"proc.args in (-i)", false},
        OpCase{"proc.exepath pmatch (/bin, /usr/bin)", true}, OpCase{"proc.exepath pmatch (/bi)", false},
        OpCase{"proc.exepath pmatch (/)", true},
        OpCase{"proc.pname exists", true}, OpCase{"fd.name exists", false}, OpCase{"not fd.name exists", true},
        OpCase{"fd.name = x", false}, OpCase{"not fd.name = x", true},
        OpCase{"proc.name bcontains 73", true}, OpCase{"proc.name bstartswith 7368", true},
        OpCase{"proc.name bcontains 78", false},
        OpCase{"proc.aname[0] = sh", true}, OpCase{"proc.aname[1] = bash", true},
        OpCase{"proc.aname[2] = containerd-shim", true}, OpCase{"proc.aname[3] exists", false},
        OpCase{"proc.aname = containerd-shim", true}, OpCase{"proc.aname = sh", false},
        OpCase{"proc.aname in (zsh, containerd-shim)", true},
        OpCase{"proc.is_exe_upper_layer = true", true}, OpCase{"proc.is_exe_upper_layer = false", false},
        OpCase{"proc.is_exe_from_memfd = true", false}, OpCase{"proc.is_exe_from_memfd exists", false},
        OpCase{"evt.arg.request = PTRACE_ATTACH", true}, OpCase{"evt.arg.request contains ATTACH", true},
        OpCase{"evt.arg.request = 16", true}, OpCase{"evt.arg.request > 15", true},
        OpCase{"evt.arg[0] = /bin/sh", true}, OpCase{"evt.arg.filename = /bin/sh", true},
        OpCase{"evt.rawarg.request = 16", true},
        OpCase{"evt.args contains \"filename=/bin/sh\"", true},
        OpCase{"evt.type = execve", true}, OpCase{"evt.type in (execve, execveat)", true},
        OpCase{"evt.type = execve and evt.dir = <", true}, OpCase{"evt.dir = >", false},
        OpCase{"proc.name = 'sh'", true}, OpCase{"proc.name = \"s\\\"h\"", false},
        OpCase{"container.id != host", true}, OpCase{"container.image.repository endswith /nginx", true},
        OpCase{"container.image.tag = \"1.25\"", true}, OpCase{"proc.cwd = /work", true},
        OpCase{"proc.pcmdline = \"bash -x\"", true}, OpCase{"proc.pid = 42 and proc.vpid = 7", true}));

TEST(CondPrecedence, NotBindsTighterThanAndTighterThanOr) {
  Event ev = table_event();  // proc.name = sh
  // a or b and c == a or (b and c)
  EXPECT_TRUE(holds("proc.name = sh or proc.name = x and proc.name = y", ev));
  EXPECT_FALSE(holds("(proc.name = sh or proc.name = x) and proc.name = y", ev));
  // not a and b == (not a) and b
  EXPECT_FALSE(holds("not proc.name = sh and proc.name = sh", ev));
  EXPECT_TRUE(holds("not (proc.name = sh and proc.name = x)", ev));
  EXPECT_TRUE(holds("not not proc.name = sh", ev));
  EXPECT_TRUE(holds("not(proc.name = x)", ev));
  // not a or b == (not a) or b
  EXPECT_TRUE(holds("not proc.name = sh or proc.name = sh", ev));
}

TEST(CondParse, BuildsTheTree) {
  auto n = parse_condition("a and not b or c");
  ASSERT_TRUE(n.is_ok()) << n.status().message();
  ASSERT_EQ(n->kind, Node::Kind::kOr);
  ASSERT_EQ(n->children.size(), 2u);
  EXPECT_EQ(n->children[0].kind, Node::Kind::kAnd);
  EXPECT_EQ(n->children[0].children[1].kind, Node::Kind::kNot);
  EXPECT_EQ(n->children[1].name, "c");
  auto f = parse_condition("proc.aname[2] in (a, \"b c\", list_x)");
  ASSERT_TRUE(f.is_ok());
  EXPECT_EQ(f->field, "proc.aname");
  EXPECT_EQ(*f->field_arg, "2");
  ASSERT_EQ(f->values.size(), 3u);
  EXPECT_TRUE(f->values[1].quoted);
  EXPECT_EQ(f->values[1].text, "b c");
  auto t = parse_condition("tolower(proc.name) = sh");
  ASSERT_TRUE(t.is_ok());
  EXPECT_EQ(t->transformer, "tolower");
  auto runc = parse_condition("proc.pname in (runc:[0:PARENT], runc:[1:CHILD])");
  ASSERT_TRUE(runc.is_ok());
  EXPECT_EQ(runc->values[0].text, "runc:[0:PARENT]");
}

struct BadCase {
  const char* text;
  size_t pos;
  const char* message;
};

class CondMalformed : public ::testing::TestWithParam<BadCase> {};

TEST_P(CondMalformed, ErrorHasOffsetAndReason) {
  size_t pos = 999;
  auto r = parse_condition(GetParam().text, &pos);
  ASSERT_FALSE(r.is_ok()) << GetParam().text;
  EXPECT_EQ(pos, GetParam().pos) << r.status().message();
  EXPECT_NE(r.status().message().find(GetParam().message), std::string::npos) << r.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Cond, CondMalformed,
    ::testing::Values(BadCase{"", 0, "condition ended"}, BadCase{"proc.name", 9, "expected an operator"},
                      BadCase{"proc.name =", 11, "expected a value"}, BadCase{"(a and b", 8, "expected ')'"},
                      BadCase{"a and", 5, "condition ended"}, BadCase{"a b", 2, "after a complete expression"},
                      BadCase{"proc.name in (a, b", 18, "expected ',' or ')'"},
                      BadCase{"proc.name = \"abc", 12, "unterminated"}, BadCase{"and a", 0, "before \"and\""},
                      BadCase{"proc.aname[2 = x", 10, "expected ']'"}, BadCase{"a or )", 5, "expected a field"}));

TEST(CondParse, DepthIsCapped) {
  std::string deep(kMaxParseDepth + 5, '(');
  deep += "a" + std::string(kMaxParseDepth + 5, ')');
  auto r = parse_condition(deep);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("nested deeper"), std::string::npos);
  std::string nots;
  for (int i = 0; i < 100000; ++i) nots += "not ";
  EXPECT_FALSE(parse_condition(nots + "a").is_ok());  // no stack overflow
  EXPECT_FALSE(parse_condition(std::string(kMaxConditionBytes + 1, 'a')).is_ok());
}

}  // namespace
