// The field registry: every field a rule condition or output may name, its type, and how its
// value is taken from an Event; plus the event types (syscalls) the monitor can produce.
//
// A field is looked up once, at load time (resolve_field); evaluation then only runs extract().
// Field names follow Falco's (falco-website supported-fields.md). Types decide which operators
// apply (see condition.h). Fields Falco has but the monitor cannot fill from a seccomp
// notification (fd.* networking, evt.res, container.mounts, ...) are deliberately absent, so a rule
// naming them is skipped with a reason instead of evaluating against a value that never exists.
//
// Thread-safety: the tables are immutable constants; every function is pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runguard/common/status.h"
#include "runguard/monitor/event.h"

namespace runguard::monitor {

enum class FieldType {
  kString,
  kInt,
  kBool,
  kArg,    // evt.arg.*: a rendered string that may also carry a number (numeric ops allowed)
  kList,   // several strings (proc.aname without an index): a check holds if any element does
};
const char* field_type_name(FieldType t);

enum class FieldArg { kNone, kIndex, kOptionalIndex, kName };

enum class FieldId {
  kEvtType, kEvtDir, kEvtNum, kEvtArgs, kEvtArgName, kEvtArgIndex, kEvtRawArg,
  kProcName, kProcExe, kProcExepath, kProcCmdline, kProcArgs, kProcPid, kProcVpid, kProcPpid,
  kProcSid, kProcPname, kProcPexe, kProcPexepath, kProcPcmdline, kProcAname, kProcAexe,
  kProcAexepath, kProcAcmdline, kProcTty, kProcCwd, kProcEnv, kProcExeUpper, kProcExeMemfd,
  kProcIsEntrypoint, kThreadCapEffective, kThreadCapPermitted,
  kUserUid, kUserName, kUserLoginuid, kGroupGid, kGroupName,
  kContainerId, kContainerName, kContainerImage, kContainerImageRepo, kContainerImageTag,
  kContainerPrivileged, kK8sNs, kK8sPod, kFdName,
};

struct FieldInfo {
  const char* name;
  FieldId id;
  FieldType type;
  FieldArg arg;
  const char* description;
};

// Every field, in documentation order.
const std::vector<FieldInfo>& field_catalog();

// A syscall the monitor intercepts (seccomp notify) and the evt.arg names it fills.
struct EventTypeInfo {
  const char* name;
  std::vector<const char*> args;
};
const std::vector<EventTypeInfo>& monitored_event_types();
const EventTypeInfo* find_event_type(std::string_view name);

// A field reference resolved at load time: `proc.aname[2]`, `evt.arg.path`, `evt.arg[0]`.
struct FieldRef {
  const FieldInfo* info = nullptr;
  FieldType type = FieldType::kString;  // info->type, or kList for an ancestry field without index
  std::string text;      // as written, for messages and output_fields keys
  std::string arg_name;  // evt.arg.<name>
  int index = -1;        // [N]; -1 when absent
};

// Resolves `name` (with the text between brackets, if any). Returns kNotFound for a field the
// registry does not know (the caller skips the rule), kInvalidArgument for a bad argument.
Result<FieldRef> resolve_field(std::string_view name, const std::optional<std::string>& bracket);

struct FieldValue {
  FieldType type = FieldType::kString;  // kArg values come back as kString with has_num
  std::string str;
  int64_t num = 0;
  bool has_num = false;
  bool boolean = false;
  std::vector<std::string> list;
};

// The field's value for this event; nullopt when the event does not carry it.
std::optional<FieldValue> extract(const FieldRef& ref, const Event& ev);

// The value as Falco prints it in outputs (bools "true"/"false", lists space-separated).
std::string render_value(const FieldValue& v);

}  // namespace runguard::monitor
