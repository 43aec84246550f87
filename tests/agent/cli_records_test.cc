// runguardctl's rendering of decision records and event lines (cli/records.h): ps rows and table,
// explain text for allowed, denied and audit-mode containers, decision events turned back into
// records, event-line parsing and filtering; garbage never crashes.

#include "records.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace {

using runguard::dump_json;
using runguard::Json;
using namespace runguard::cli;

Json parse(const std::string& text) { return Json::parse(text); }

// A decision record as `runguard create` writes it (pipeline/src/create.cc).
Json allowed_record() {
  return parse(R"({
    "version": 1, "id": "web-1", "time": "2026-11-29T08:00:00.123Z", "command": "create",
    "policy": {"source": "/etc/runguard/policy.yaml"}, "runtime": "/usr/bin/runc",
    "context": {"id": "web-1", "bundle": "/run/b/web-1", "engine": "containerd-cri", "containerType": "container",
                "namespace": "shop", "pod": "web-1-abc", "sandboxId": "f00", "containerName": "web",
                "image": "docker.io/library/nginx:1.27",
                "imageDigest": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "annotations": {}},
    "decision": {"allowed": true, "mode": "enforce", "override": "shop-web",
      "findings": [
        {"id": "RG-CAPS-001", "control": "capabilities", "severity": "high", "action": "enforce",
         "message": "bounding capabilities not in the allow list: CAP_SYS_ADMIN", "pointer": "/process/capabilities/bounding"},
        {"id": "RG-USER-001", "control": "user", "severity": "high", "action": "enforce",
         "message": "process runs as root (uid 0); run it as uid 65532", "pointer": "/process/user/uid"},
        {"id": "RG-ROFS-001", "control": "readonlyRootfs", "severity": "low", "action": "audit",
         "message": "the root filesystem is writable", "pointer": "/root/readonly"}],
      "mutations": [
        {"id": "RG-CAPS-001", "control": "capabilities", "op": "replace", "pointer": "/process/capabilities/bounding",
         "value": ["CAP_NET_BIND_SERVICE"], "applied": true},
        {"id": "RG-USER-001", "control": "user", "op": "replace", "pointer": "/process/user/uid", "value": 65532, "applied": true},
        {"id": "RG-USER-001", "control": "user", "op": "replace", "pointer": "/process/user/gid", "value": 65532, "applied": true},
        {"id": "RG-ENV-001", "control": "secretsInEnv", "op": "remove", "pointer": "/process/env/3", "applied": true}]}})");
}

Json denied_event() {
  return parse(R"({"time":"2026-11-29T08:02:00.000000001Z","rule":"runguard decision","priority":"Warning",
    "source":"runguard","hostname":"node-1","tags":["runguard","decision"],
    "output":"08:02:00.000000001: Warning container bad-1 denied (policy /etc/runguard/policy.yaml): 0 changes, 1 denials",
    "output_fields":{"container.id":"bad-1","container.image":"evil:latest","container.image.digest":"","k8s.ns.name":"default","k8s.pod.name":"bad-pod"},
    "runguard":{"kind":"decision","container":"bad-1","action":"denied","policy":"/etc/runguard/policy.yaml",
      "decision":{"allowed":false,"mode":"enforce","override":null,
        "findings":[{"id":"RG-PRIV-001","control":"privileged","severity":"critical","action":"deny",
                     "message":"privileged containers are refused","pointer":"/linux/privileged"}],
        "mutations":[{"id":"RG-USER-001","control":"user","op":"replace","pointer":"/process/user/uid","value":65532,"applied":false}]}}})");
}

const char* kMonitorLine =
    R"j({"time":"2026-11-29T08:03:00.5Z","rule":"Terminal shell in container","priority":"Notice","source":"syscall",)j"
    R"j("hostname":"node-1","output":"08:03:00.500000000: Notice A shell was spawned (container=web-1)",)j"
    R"j("output_fields":{"container.id":"web-1"},"tags":["shell"],"runguard.action":"alert",)j"
    R"j("runguard.container":{"id":"web-1","name":"web","image":"nginx","namespace":"shop","pod":"web-1-abc"}})j";

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

TEST(CliRecords, RowFromRecord) {
  auto row = row_from_record(allowed_record(), "created");
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->id, "web-1");
  EXPECT_EQ(row->image, "docker.io/library/nginx:1.27");
  EXPECT_EQ(row->k8s_namespace, "shop");
  EXPECT_EQ(row->pod, "web-1-abc");
  EXPECT_EQ(row->engine, "containerd-cri");
  EXPECT_EQ(row->state, "created");
  EXPECT_EQ(row->changes, 4u);
  EXPECT_EQ(row->findings, 3u);
  EXPECT_TRUE(row->allowed);
  EXPECT_EQ(short_digest(row->digest), "0123456789ab");
}

TEST(CliRecords, AuditModeAndDeniedRecordsChangeNothing) {
  Json audit = allowed_record();
  audit["decision"]["mode"] = "audit";
  EXPECT_EQ(row_from_record(audit, "created")->changes, 0u);
  Json denied = allowed_record();
  denied["decision"]["allowed"] = false;
  EXPECT_EQ(row_from_record(denied, "denied")->changes, 0u);
}

TEST(CliRecords, GarbageRecordsNeverCrash) {
  for (const char* text : {"null", "[]", "42", "\"x\"", "{}", R"({"id": 5})", R"({"id": "x", "decision": []})",
                           R"({"id": "x", "context": "y", "decision": {"findings": {}, "mutations": [1, null, "x"]}})"}) {
    Json j = parse(text);
    auto row = row_from_record(j, "created");
    if (row.has_value()) {
      EXPECT_EQ(row->id, "x") << text;
    }
    (void)explain_text(j, ExplainExtras{});
    (void)record_from_decision_event(j);
  }
  EXPECT_FALSE(row_from_record(parse("{}"), "created").has_value());
}

TEST(CliRecords, PsTableIsAligned) {
  ContainerRow a = *row_from_record(allowed_record(), "created");
  a.monitor = "yes";
  ContainerRow b;
  b.id = "bad-1";
  b.image = "evil:latest";
  b.state = "denied";
  b.findings = 1;
  EXPECT_EQ(render_ps_table({a, b}),
            "ID     IMAGE                         DIGEST        NAMESPACE/POD   STATE    CHANGES  FINDINGS  MONITORED\n"
            "web-1  docker.io/library/nginx:1.27  0123456789ab  shop/web-1-abc  created  4        3         yes\n"
            "bad-1  evil:latest                   -             -               denied   0        1         -\n");
  EXPECT_EQ(render_ps_table({}), "ID  IMAGE  DIGEST  NAMESPACE/POD  STATE  CHANGES  FINDINGS  MONITORED\n");
}

TEST(CliRecords, RowJson) {
  ContainerRow r = *row_from_record(allowed_record(), "created");
  r.monitor = "dead";
  r.monitor_pid = 42;
  Json j = row_to_json(r);
  EXPECT_EQ(j["id"], "web-1");
  EXPECT_EQ(j["changes"], 4);
  EXPECT_EQ(j["monitored"], false);
  EXPECT_EQ(j["monitorPid"], 42);
  r.monitor = "";
  EXPECT_TRUE(row_to_json(r)["monitored"].is_null());
}

TEST(CliRecords, ExplainAllowedContainer) {
  std::string text = explain_text(allowed_record(), ExplainExtras{"created", true, 3, "agent", ""});
  EXPECT_EQ(text.substr(0, text.find("\n\n")),
            "container web-1\n"
            "  verdict     allowed, 4 changes made\n"
            "  state       created, monitored (3 monitor events)\n"
            "  decided     2026-11-29T08:00:00.123Z at runguard create\n"
            "  policy      /etc/runguard/policy.yaml, override \"shop-web\"\n"
            "  image       docker.io/library/nginx:1.27\n"
            "  digest      sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
            "  kubernetes  namespace shop, pod web-1-abc, container web, type container\n"
            "  engine      containerd-cri\n"
            "  bundle      /run/b/web-1");
  // Each change under its control id, with the finding that explains it and the CIS / PSS items.
  EXPECT_TRUE(contains(text,
                       "\nchanged (4):\n"
                       "  RG-CAPS-001  capabilities\n"
                       "      bounding capabilities not in the allow list: CAP_SYS_ADMIN\n"
                       "      replace /process/capabilities/bounding = [\"CAP_NET_BIND_SERVICE\"]\n"
                       "      CIS 5.4, CIS 5.23, PSS baseline: Capabilities, PSS restricted: Capabilities\n"
                       "  RG-USER-001  user\n"
                       "      process runs as root (uid 0); run it as uid 65532\n"
                       "      replace /process/user/uid = 65532\n"
                       "      replace /process/user/gid = 65532\n"))
      << text;
  EXPECT_TRUE(contains(text, "  RG-ENV-001  secretsInEnv\n      remove /process/env/3\n      CIS 4.10\n")) << text;
  EXPECT_TRUE(contains(text,
                       "\naudit findings, recorded only (1):\n"
                       "  RG-ROFS-001  readonlyRootfs  (low)\n"
                       "      the root filesystem is writable\n"
                       "      at /root/readonly\n"
                       "      CIS 5.13\n"))
      << text;
  EXPECT_FALSE(contains(text, "denied because"));
}

TEST(CliRecords, ExplainDeniedContainerFromItsEvent) {
  auto rec = record_from_decision_event(denied_event());
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ((*rec)["id"], "bad-1");
  EXPECT_EQ((*rec)["context"]["image"], "evil:latest");
  EXPECT_EQ((*rec)["context"]["namespace"], "default");
  EXPECT_EQ((*rec)["policy"]["source"], "/etc/runguard/policy.yaml");
  std::string text = explain_text(*rec, ExplainExtras{"denied", std::nullopt, std::nullopt, "events", ""});
  EXPECT_TRUE(contains(text, "  verdict     DENIED by 1 control\n")) << text;
  EXPECT_TRUE(contains(text, "  state       denied\n")) << text;
  EXPECT_TRUE(contains(text,
                       "\ndenied because (1):\n"
                       "  RG-PRIV-001  privileged  (critical)\n"
                       "      privileged containers are refused\n"
                       "      at /linux/privileged\n"
                       "      CIS 5.5, PSS baseline: Privileged Containers\n"))
      << text;
  EXPECT_TRUE(contains(text, "changed: nothing (a refused container is never created)")) << text;
  EXPECT_TRUE(contains(text, "would also change, were it allowed (1):\n  RG-USER-001  user\n")) << text;
  EXPECT_TRUE(contains(text, "source      the events file")) << text;
}

TEST(CliRecords, DecisionEventCarryingItsRecordUsesIt) {
  Json ev = denied_event();
  ev["runguard"]["record"] = allowed_record();
  EXPECT_EQ(*record_from_decision_event(ev), allowed_record());
  EXPECT_FALSE(record_from_decision_event(parse(kMonitorLine)).has_value());
}

TEST(CliRecords, ExplainAuditMode) {
  Json r = allowed_record();
  r["decision"]["mode"] = "audit";
  for (auto& m : r["decision"]["mutations"]) m["applied"] = false;
  std::string text = explain_text(r, ExplainExtras{"created", false, std::nullopt, "disk", ""});
  EXPECT_TRUE(contains(text, "allowed (audit mode: runguard changed and refused nothing, it only recorded)")) << text;
  EXPECT_TRUE(contains(text, "would change in enforce mode (4):")) << text;
  EXPECT_FALSE(contains(text, "\nchanged (")) << text;
}

TEST(CliRecords, BenchmarkRefsFromTheCatalog) {
  EXPECT_EQ(benchmark_refs("privileged"), (std::vector<std::string>{"CIS 5.5", "PSS baseline: Privileged Containers"}));
  EXPECT_TRUE(benchmark_refs("no-such-control").empty());
}

TEST(CliRecords, PriorityRanks) {
  EXPECT_EQ(priority_rank("Emergency"), 0);
  EXPECT_EQ(priority_rank("warning"), 4);
  EXPECT_EQ(priority_rank("INFO"), 6);
  EXPECT_EQ(priority_rank("Informational"), 6);
  EXPECT_EQ(priority_rank("Debug"), 7);
  EXPECT_FALSE(priority_rank("loud").has_value());
  EXPECT_FALSE(priority_rank("").has_value());
}

TEST(CliRecords, ParsesMonitorAndDecisionLines) {
  auto m = parse_event_line(std::string(kMonitorLine) + "\n");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->kind, "monitor");
  EXPECT_EQ(m->container_id, "web-1");
  EXPECT_EQ(m->rule, "Terminal shell in container");
  EXPECT_EQ(m->priority, "Notice");
  EXPECT_EQ(m->action, "alert");
  EXPECT_EQ(format_event_text(m->container_id, m->output),
            "web-1 08:03:00.500000000: Notice A shell was spawned (container=web-1)");

  auto d = parse_event_line(dump_json(denied_event()));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->kind, "decision");
  EXPECT_EQ(d->container_id, "bad-1");
  EXPECT_EQ(d->action, "denied");
  EXPECT_EQ(d->priority, "Warning");

  // A line naming its container only in output_fields; one naming none.
  auto f = parse_event_line(R"({"rule":"r","output":"o","output_fields":{"container.id":"c-9"}})");
  EXPECT_EQ(f->container_id, "c-9");
  EXPECT_EQ(format_event_text(parse_event_line(R"({"rule":"r","output":"o"})")->container_id, "o"), "- o");
  // Explicit kinds on monitor lines.
  EXPECT_EQ(parse_event_line(R"({"rule":"r","runguard.kind":"lifecycle"})")->kind, "lifecycle");
}

TEST(CliRecords, GarbageLinesAreNotEvents) {
  for (const char* line : {"", "\n", "not json", "[1,2]", "{", "{\"partial\": ", "42", "{}", R"({"x": 1})",
                           "\xff\xfe{}", R"({"rule": 5, "output": ["x"]})"}) {
    EXPECT_FALSE(parse_event_line(line).has_value()) << line;
  }
}

TEST(CliRecords, EventFilters) {
  EventLine e = *parse_event_line(kMonitorLine);
  EXPECT_TRUE(event_matches(e, EventFilter{}));
  EXPECT_TRUE(event_matches(e, EventFilter{"web-1", "", std::nullopt, ""}));
  EXPECT_FALSE(event_matches(e, EventFilter{"web-2", "", std::nullopt, ""}));
  EXPECT_TRUE(event_matches(e, EventFilter{"", "Terminal shell in container", std::nullopt, ""}));
  EXPECT_FALSE(event_matches(e, EventFilter{"", "Terminal shell", std::nullopt, ""})) << "rule names match exactly";
  EXPECT_TRUE(event_matches(e, EventFilter{"", "", priority_rank("Notice"), ""}));
  EXPECT_TRUE(event_matches(e, EventFilter{"", "", priority_rank("Debug"), ""}));
  EXPECT_FALSE(event_matches(e, EventFilter{"", "", priority_rank("Warning"), ""}));
  EXPECT_TRUE(event_matches(e, EventFilter{"", "", std::nullopt, "monitor"}));
  EXPECT_FALSE(event_matches(e, EventFilter{"", "", std::nullopt, "decision"}));
  e.priority = "Bogus";
  EXPECT_FALSE(event_matches(e, EventFilter{"", "", priority_rank("Debug"), ""})) << "unknown priority fails a priority filter";
}

// ---- text output of what containers choose (regression: printed raw, so a process name or an
// image could carry terminal escapes or a newline and forge output lines) ----

TEST(CliRecords, PrintableEscapesControlCharacters) {
  EXPECT_EQ(printable("plain text: /usr/bin/nginx -g 'daemon off;'"), "plain text: /usr/bin/nginx -g 'daemon off;'");
  EXPECT_EQ(printable("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\xb3"), "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\xb3")
      << "UTF-8 text is kept";
  EXPECT_EQ(printable("\x1b[2J\x1b]0;title\x07"), "\\x1b[2J\\x1b]0;title\\x07");
  EXPECT_EQ(printable("a\nb\rc\td"), "a\\x0ab\\x0dc\\x09d");
  EXPECT_EQ(printable(std::string("nul\0x", 5)), "nul\\x00x");
  EXPECT_EQ(printable("del\x7f"), "del\\x7f");
  EXPECT_EQ(printable("c1 \xc2\x9b" "31m \xc2\x85"), "c1 \\u009b31m \\u0085") << "C1 controls, UTF-8 encoded";
  EXPECT_EQ(printable("raw \x9b" "31m"), "raw \\x9b31m") << "a lone C1 byte (CSI to an 8-bit terminal)";
  EXPECT_EQ(printable("bidi \xe2\x80\xae" "cod.exe \xe2\x81\xa6x\xe2\x80\xa8"), "bidi \\u202ecod.exe \\u2066x\\u2028");
  EXPECT_EQ(printable("bad \xc0\xaf \xed\xa0\x80 \xf5\x80\x80\x80 \xe6\x97"), "bad \\xc0\\xaf \\xed\\xa0\\x80 \\xf5\\x80\\x80\\x80 \\xe6\\x97")
      << "overlong, surrogate, past U+10FFFF, cut short: byte by byte";
  EXPECT_EQ(printable(printable("\x1b\n")), printable("\x1b\n")) << "idempotent";
}

bool has_raw_controls(const std::string& s, bool allow_newline) {
  for (unsigned char c : s) {
    if ((c < 0x20 && !(allow_newline && c == '\n')) || c == 0x7f || c == 0x9b) return true;
  }
  return false;
}

TEST(CliRecords, EventTextCannotForgeLinesOrEscapes) {
  std::string out = format_event_text("web\x1b[31m-1", "08:00:00: Notice exec of \x1b]52;c;AAAA\x07 /tmp/x\nweb-2 forged line");
  EXPECT_FALSE(has_raw_controls(out, false)) << out;
  EXPECT_EQ(out, "web\\x1b[31m-1 08:00:00: Notice exec of \\x1b]52;c;AAAA\\x07 /tmp/x\\x0aweb-2 forged line");
}

TEST(CliRecords, ExplainAndPsEscapeRecordValues) {
  Json r = allowed_record();
  r["context"]["image"] = "nginx\x1b[2J:1.27";
  r["context"]["pod"] = "web\npolicy      forged";
  r["decision"]["findings"][0]["message"] = "cap \x1b[8m hidden\r";
  r["decision"]["findings"][0]["pointer"] = "/process/\xc2\x9b";
  r["decision"]["mutations"][0]["value"] = Json::array({"CAP_\x7f"});
  r["decision"]["findings"][2]["benchmarks"] = Json::array({"CIS \x1b[1m"});
  std::string text = explain_text(r, ExplainExtras{"created\x1b", std::nullopt, std::nullopt, "agent", "note\n"});
  EXPECT_FALSE(has_raw_controls(text, true)) << text;
  EXPECT_EQ(text.find("\npolicy      forged"), std::string::npos) << text;
  EXPECT_TRUE(contains(text, "  image       nginx\\x1b[2J:1.27\n")) << text;
  EXPECT_TRUE(contains(text, "pod web\\x0apolicy      forged")) << text;
  EXPECT_TRUE(contains(text, "      cap \\x1b[8m hidden\\x0d\n")) << text;
  EXPECT_TRUE(contains(text, "CAP_\\x7f")) << text;
  EXPECT_TRUE(contains(text, "      CIS \\x1b[1m\n")) << text;

  ContainerRow row = *row_from_record(r, "created");
  std::string table = render_ps_table({row});
  EXPECT_FALSE(has_raw_controls(table, true)) << table;
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 2) << table;
  EXPECT_TRUE(contains(table, "nginx\\x1b[2J:1.27")) << table;
}

// The runtime writes flat "runguard.<key>" members (pipeline/src/decision_event.cc); the record
// rebuilt from such a line must carry the decision (regression: only a nested "runguard" object
// was read, so `explain` and `ps --all` without the agent missed every real refusal).
Json flat_denied_event() {
  return parse(R"({"time":"2026-11-29T08:04:00.000000001Z","rule":"runguard decision","priority":"Warning",
    "source":"runguard","hostname":"node-1","tags":["runguard","decision"],
    "output":"08:04:00.000000001: Warning container bad-2 denied (policy /p.yaml): 0 changes, 1 denial",
    "output_fields":{"container.id":"bad-2","container.image":"evil:2","container.image.digest":"","k8s.ns.name":"ns","k8s.pod.name":"p"},
    "runguard.kind":"decision","runguard.action":"denied","runguard.policy":"/p.yaml",
    "runguard.container":{"id":"bad-2","name":"app","image":"evil:2","imageDigest":"","namespace":"ns","pod":"p"},
    "runguard.decision":{"allowed":false,"mode":"enforce","override":null,
      "findings":[{"id":"RG-PRIV-001","control":"privileged","severity":"critical","action":"deny",
                   "message":"privileged containers are refused","pointer":"/linux/privileged"}],"mutations":[]}})");
}

TEST(CliRecords, FlatDecisionEventAsTheRuntimeWritesIt) {
  auto rec = record_from_decision_event(flat_denied_event());
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ((*rec)["id"], "bad-2");
  EXPECT_EQ((*rec)["context"]["image"], "evil:2");
  EXPECT_EQ((*rec)["context"]["containerName"], "app");
  EXPECT_EQ((*rec)["policy"]["source"], "/p.yaml");
  EXPECT_EQ((*rec)["decision"]["allowed"], false);
  auto row = row_from_record(*rec, "denied");
  ASSERT_TRUE(row.has_value());
  EXPECT_FALSE(row->allowed);
  EXPECT_EQ(row->findings, 1u);
  std::string text = explain_text(*rec, ExplainExtras{"denied", std::nullopt, std::nullopt, "events", ""});
  EXPECT_TRUE(contains(text, "  verdict     DENIED by 1 control\n")) << text;
  EXPECT_TRUE(contains(text, "RG-PRIV-001  privileged  (critical)\n")) << text;
  auto line = parse_event_line(dump_json(flat_denied_event()));
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(line->container_id, "bad-2");
  EXPECT_EQ(line->kind, "decision");
}

// Wrong-typed members anywhere in an event line or a record: empty fields, never a throw.
TEST(CliRecords, WrongTypedDecisionEventsNeverThrow) {
  std::vector<Json> lines;
  for (const char* key : {"runguard.kind", "runguard.action", "runguard.policy", "runguard.container", "runguard.decision",
                          "runguard.record", "output_fields", "time", "runguard"}) {
    for (Json bad : {Json(nullptr), Json(42), Json(true), Json::array({1}), Json("x"), Json::object()}) {
      Json e = flat_denied_event();
      e[key] = bad;
      lines.push_back(e);
      Json d = flat_denied_event();
      d["runguard.decision"]["allowed"] = bad;
      d["runguard.decision"]["findings"] = bad;
      d["runguard.container"]["id"] = bad;
      lines.push_back(d);
    }
  }
  for (const Json& e : lines) {
    EXPECT_NO_THROW({
      auto rec = record_from_decision_event(e);
      if (rec.has_value()) {
        (void)row_from_record(*rec, "denied");
        (void)explain_text(*rec, ExplainExtras{});
      }
      (void)parse_event_line(dump_json(e));
    }) << dump_json(e);
  }
  // A decision whose "allowed" is not a boolean follows runguard.action.
  Json d = flat_denied_event();
  d["runguard.decision"]["allowed"] = "no";
  EXPECT_EQ((*record_from_decision_event(d))["decision"]["allowed"], false);
}

}  // namespace
