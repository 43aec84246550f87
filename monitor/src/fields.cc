#include "runguard/monitor/fields.h"

#include <charconv>

#include "runguard/common/strings.h"

namespace runguard::monitor {
namespace {

using FT = FieldType;
using FA = FieldArg;

const std::vector<FieldInfo> kFields = {
    {"evt.type", FieldId::kEvtType, FT::kString, FA::kNone, "syscall name"},
    {"evt.dir", FieldId::kEvtDir, FT::kString, FA::kNone, "always \"<\" (exit semantics; deprecated in Falco 0.42)"},
    {"evt.num", FieldId::kEvtNum, FT::kInt, FA::kNone, "event sequence number within the monitor"},
    {"evt.args", FieldId::kEvtArgs, FT::kString, FA::kNone, "all arguments as \"name=value name=value\""},
    {"evt.arg", FieldId::kEvtArgName, FT::kArg, FA::kName, "argument by name: evt.arg.path"},
    {"evt.arg[]", FieldId::kEvtArgIndex, FT::kArg, FA::kIndex, "argument by position: evt.arg[0]"},
    {"evt.rawarg", FieldId::kEvtRawArg, FT::kInt, FA::kName, "numeric argument by name: evt.rawarg.flags"},
    {"proc.name", FieldId::kProcName, FT::kString, FA::kNone, "process name (comm, new program for execve)"},
    {"proc.exe", FieldId::kProcExe, FT::kString, FA::kNone, "argv[0]"},
    {"proc.exepath", FieldId::kProcExepath, FT::kString, FA::kNone, "full executable path"},
    {"proc.cmdline", FieldId::kProcCmdline, FT::kString, FA::kNone, "proc.name plus arguments"},
    {"proc.args", FieldId::kProcArgs, FT::kString, FA::kNone, "arguments without argv[0], space-joined"},
    {"proc.pid", FieldId::kProcPid, FT::kInt, FA::kNone, "pid (host namespace)"},
    {"proc.vpid", FieldId::kProcVpid, FT::kInt, FA::kNone, "pid in the container's pid namespace"},
    {"proc.ppid", FieldId::kProcPpid, FT::kInt, FA::kNone, "parent pid"},
    {"proc.sid", FieldId::kProcSid, FT::kInt, FA::kNone, "session id"},
    {"proc.pname", FieldId::kProcPname, FT::kString, FA::kNone, "parent name"},
    {"proc.pexe", FieldId::kProcPexe, FT::kString, FA::kNone, "parent argv[0]"},
    {"proc.pexepath", FieldId::kProcPexepath, FT::kString, FA::kNone, "parent executable path"},
    {"proc.pcmdline", FieldId::kProcPcmdline, FT::kString, FA::kNone, "parent command line"},
    {"proc.aname", FieldId::kProcAname, FT::kString, FA::kOptionalIndex,
     "ancestor name: [0] self, [1] parent, ...; without index, any ancestor"},
    {"proc.aexe", FieldId::kProcAexe, FT::kString, FA::kOptionalIndex, "ancestor argv[0]"},
    {"proc.aexepath", FieldId::kProcAexepath, FT::kString, FA::kOptionalIndex, "ancestor executable path"},
    {"proc.acmdline", FieldId::kProcAcmdline, FT::kString, FA::kOptionalIndex, "ancestor command line"},
    {"proc.tty", FieldId::kProcTty, FT::kInt, FA::kNone, "controlling terminal, 0 = none"},
    {"proc.cwd", FieldId::kProcCwd, FT::kString, FA::kNone, "working directory"},
    {"proc.env", FieldId::kProcEnv, FT::kString, FA::kNone, "environment, \"K=V K=V\""},
    {"proc.is_exe_upper_layer", FieldId::kProcExeUpper, FT::kBool, FA::kNone,
     "the executable was written by the container (overlay upper layer)"},
    {"proc.is_exe_from_memfd", FieldId::kProcExeMemfd, FT::kBool, FA::kNone, "the executable is a memfd"},
    {"proc.is_entrypoint", FieldId::kProcIsEntrypoint, FT::kBool, FA::kNone,
     "runguard: this execve starts the container's entrypoint (made by runc init)"},
    {"thread.cap_effective", FieldId::kThreadCapEffective, FT::kString, FA::kNone, "effective capabilities"},
    {"thread.cap_permitted", FieldId::kThreadCapPermitted, FT::kString, FA::kNone, "permitted capabilities"},
    {"user.uid", FieldId::kUserUid, FT::kInt, FA::kNone, "uid"},
    {"user.name", FieldId::kUserName, FT::kString, FA::kNone, "user name"},
    {"user.loginuid", FieldId::kUserLoginuid, FT::kInt, FA::kNone, "audit login uid, -1 unset"},
    {"group.gid", FieldId::kGroupGid, FT::kInt, FA::kNone, "gid"},
    {"group.name", FieldId::kGroupName, FT::kString, FA::kNone, "group name"},
    {"container.id", FieldId::kContainerId, FT::kString, FA::kNone, "12-char container id"},
    {"container.name", FieldId::kContainerName, FT::kString, FA::kNone, "container name"},
    {"container.image", FieldId::kContainerImage, FT::kString, FA::kNone, "image reference"},
    {"container.image.repository", FieldId::kContainerImageRepo, FT::kString, FA::kNone, "image repository"},
    {"container.image.tag", FieldId::kContainerImageTag, FT::kString, FA::kNone, "image tag"},
    {"container.privileged", FieldId::kContainerPrivileged, FT::kBool, FA::kNone, "privileged container"},
    {"k8s.ns.name", FieldId::kK8sNs, FT::kString, FA::kNone, "Kubernetes namespace"},
    {"k8s.pod.name", FieldId::kK8sPod, FT::kString, FA::kNone, "Kubernetes pod name"},
    {"fd.name", FieldId::kFdName, FT::kString, FA::kNone, "path of the fd argument, where the syscall has one"},
};

const std::vector<const char*> kExecArgs = {"filename", "exe", "args", "cwd", "comm", "tty", "flags", "uid", "loginuid"};

const std::vector<EventTypeInfo> kEventTypes = {
    {"execve", kExecArgs},
    {"execveat", {"dirfd", "pathname", "filename", "exe", "args", "cwd", "comm", "tty", "flags", "uid", "loginuid"}},
    {"ptrace", {"request", "pid", "addr", "data"}},
    {"mount", {"dev", "dir", "type", "flags", "data"}},
    {"umount", {"name"}},
    {"umount2", {"name", "flags"}},
    {"setns", {"fd", "nstype"}},
    {"unshare", {"flags"}},
    {"memfd_create", {"name", "flags"}},
    {"init_module", {"length", "uargs"}},
    {"finit_module", {"fd", "uargs", "flags"}},
    {"delete_module", {"name", "flags"}},
    {"bpf", {"cmd"}},
    {"chroot", {"path"}},
    {"pivot_root", {"new_root", "put_old"}},
    {"userfaultfd", {"flags"}},
    {"open_by_handle_at", {"mountfd", "flags"}},
    {"kexec_load", {"flags"}},
    {"process_vm_writev", {"pid"}},
};

std::optional<int> parse_index(const std::string& s) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0 || v > 1000) return std::nullopt;
  return v;
}

FieldValue str(std::string s) {
  FieldValue v;
  v.str = std::move(s);
  return v;
}
FieldValue num(int64_t n) {
  FieldValue v;
  v.type = FieldType::kInt;
  v.num = n;
  v.has_num = true;
  return v;
}
FieldValue boolean(bool b) {
  FieldValue v;
  v.type = FieldType::kBool;
  v.boolean = b;
  return v;
}
FieldValue arg_value(const EventArg& a) {
  FieldValue v = str(a.text);
  if (a.num) {
    v.num = *a.num;
    v.has_num = true;
  }
  return v;
}

std::string cmdline(const ProcessInfo& p) {
  return p.args.empty() ? p.name : p.name + " " + join(p.args, " ");
}

// Ancestor N: 0 = the process itself, 1 = parent, ...
std::optional<Ancestor> ancestor(const Event& ev, int n) {
  if (n == 0) return Ancestor{ev.proc.name, ev.proc.exe, ev.proc.exepath, cmdline(ev.proc), ev.proc.pid};
  if (static_cast<size_t>(n) > ev.ancestors.size()) return std::nullopt;
  return ev.ancestors[n - 1];
}

std::optional<FieldValue> ancestry(const FieldRef& ref, const Event& ev) {
  auto pick = [&](const Ancestor& a) -> const std::string& {
    switch (ref.info->id) {
      case FieldId::kProcAexe: return a.exe;
      case FieldId::kProcAexepath: return a.exepath;
      case FieldId::kProcAcmdline: return a.cmdline;
      default: return a.name;
    }
  };
  if (ref.index >= 0) {
    auto a = ancestor(ev, ref.index);
    if (!a) return std::nullopt;
    return str(pick(*a));
  }
  if (ev.ancestors.empty()) return std::nullopt;
  FieldValue v;  // no index: every ancestor (not the process itself), as Falco
  v.type = FieldType::kList;
  for (const auto& a : ev.ancestors) v.list.push_back(pick(a));
  return v;
}

std::optional<FieldValue> event_field(const FieldRef& ref, const Event& ev) {
  switch (ref.info->id) {
    case FieldId::kEvtType: return str(ev.type);
    case FieldId::kEvtDir: return str("<");
    case FieldId::kEvtNum: return num(ev.num);
    case FieldId::kEvtArgs: {
      std::string out;
      for (const auto& a : ev.args) out += (out.empty() ? "" : " ") + a.name + "=" + a.text;
      return str(out);
    }
    case FieldId::kEvtArgName: {
      const EventArg* a = ev.arg(ref.arg_name);
      if (a == nullptr) return std::nullopt;
      return arg_value(*a);
    }
    case FieldId::kEvtArgIndex:
      if (static_cast<size_t>(ref.index) >= ev.args.size()) return std::nullopt;
      return arg_value(ev.args[ref.index]);
    case FieldId::kEvtRawArg: {
      const EventArg* a = ev.arg(ref.arg_name);
      if (a == nullptr || !a->num) return std::nullopt;
      return num(*a->num);
    }
    default: return std::nullopt;
  }
}

std::optional<FieldValue> process_field(const FieldRef& ref, const Event& ev) {
  const ProcessInfo& p = ev.proc;
  const Ancestor* parent = ev.ancestors.empty() ? nullptr : &ev.ancestors[0];
  switch (ref.info->id) {
    case FieldId::kProcName: return str(p.name);
    case FieldId::kProcExe: return str(p.exe);
    case FieldId::kProcExepath: return str(p.exepath);
    case FieldId::kProcCmdline: return str(cmdline(p));
    case FieldId::kProcArgs: return str(join(p.args, " "));
    case FieldId::kProcPid: return num(p.pid);
    case FieldId::kProcVpid: return num(p.vpid);
    case FieldId::kProcSid: return num(p.sid);
    case FieldId::kProcTty: return num(p.tty);
    case FieldId::kProcCwd: return str(p.cwd);
    case FieldId::kProcEnv: return str(p.env);
    case FieldId::kProcIsEntrypoint: return boolean(p.is_entrypoint);
    case FieldId::kProcExeUpper:
      if (!p.exe_upper_layer) return std::nullopt;
      return boolean(*p.exe_upper_layer);
    case FieldId::kProcExeMemfd:
      if (!p.exe_from_memfd) return std::nullopt;
      return boolean(*p.exe_from_memfd);
    case FieldId::kThreadCapEffective: return str(p.cap_effective);
    case FieldId::kThreadCapPermitted: return str(p.cap_permitted);
    case FieldId::kUserUid: return num(p.uid);
    case FieldId::kUserName: return str(p.user_name);
    case FieldId::kUserLoginuid: return num(p.loginuid);
    case FieldId::kGroupGid: return num(p.gid);
    case FieldId::kGroupName: return str(p.group_name);
    default: break;
  }
  if (parent == nullptr) return std::nullopt;
  switch (ref.info->id) {
    case FieldId::kProcPpid: return num(parent->pid);
    case FieldId::kProcPname: return str(parent->name);
    case FieldId::kProcPexe: return str(parent->exe);
    case FieldId::kProcPexepath: return str(parent->exepath);
    case FieldId::kProcPcmdline: return str(parent->cmdline);
    default: return std::nullopt;
  }
}

std::optional<FieldValue> container_field(const FieldRef& ref, const Event& ev) {
  const ContainerInfo& c = ev.container;
  switch (ref.info->id) {
    case FieldId::kContainerId: return str(c.id);
    case FieldId::kContainerName: return str(c.name);
    case FieldId::kContainerImage: return str(c.image);
    case FieldId::kContainerImageRepo: return str(c.image_repository);
    case FieldId::kContainerImageTag: return str(c.image_tag);
    case FieldId::kContainerPrivileged:
      if (!c.privileged) return std::nullopt;
      return boolean(*c.privileged);
    case FieldId::kK8sNs: return str(c.k8s_namespace);
    case FieldId::kK8sPod: return str(c.k8s_pod);
    case FieldId::kFdName:
      if (!ev.fd_name) return std::nullopt;
      return str(*ev.fd_name);
    default: return std::nullopt;
  }
}

}  // namespace

const char* field_type_name(FieldType t) {
  switch (t) {
    case FieldType::kString: return "string";
    case FieldType::kInt: return "number";
    case FieldType::kBool: return "bool";
    case FieldType::kArg: return "argument";
    case FieldType::kList: return "list";
  }
  return "?";
}

const std::vector<FieldInfo>& field_catalog() { return kFields; }
const std::vector<EventTypeInfo>& monitored_event_types() { return kEventTypes; }

const EventTypeInfo* find_event_type(std::string_view name) {
  for (const auto& t : kEventTypes) {
    if (name == t.name) return &t;
  }
  return nullptr;
}

Result<FieldRef> resolve_field(std::string_view name, const std::optional<std::string>& bracket) {
  FieldRef ref;
  ref.text = std::string(name) + (bracket ? "[" + *bracket + "]" : "");
  std::string key(name);
  for (const char* prefix : {"evt.arg.", "evt.rawarg."}) {
    std::string_view p(prefix);
    if (name.size() > p.size() && name.substr(0, p.size()) == p && !bracket) {
      ref.arg_name = std::string(name.substr(p.size()));
      key = std::string(p.substr(0, p.size() - 1));
    }
  }
  if (key == "evt.arg" && bracket) key = "evt.arg[]";
  for (const auto& f : kFields) {
    if (key != f.name) continue;
    ref.info = &f;
    ref.type = f.type;
    if (f.arg == FieldArg::kName && ref.arg_name.empty()) {
      return invalid("field " + ref.text + " needs an argument name (" + key + ".NAME)");
    }
    if (f.arg == FieldArg::kNone && bracket) return invalid("field " + key + " takes no [argument]");
    if (f.arg == FieldArg::kIndex || f.arg == FieldArg::kOptionalIndex) {
      if (!bracket && f.arg == FieldArg::kIndex) return invalid("field " + key + " needs an [index]");
      if (bracket) {
        auto idx = parse_index(*bracket);
        if (!idx) return invalid("field " + ref.text + ": index must be a number 0..1000");
        ref.index = *idx;
      } else {
        ref.type = FieldType::kList;  // no index: every ancestor
      }
    }
    return ref;
  }
  return Status(Code::kNotFound, "field " + ref.text + " is not available to the monitor");
}

std::optional<FieldValue> extract(const FieldRef& ref, const Event& ev) {
  switch (ref.info->id) {
    case FieldId::kEvtType: case FieldId::kEvtDir: case FieldId::kEvtNum: case FieldId::kEvtArgs:
    case FieldId::kEvtArgName: case FieldId::kEvtArgIndex: case FieldId::kEvtRawArg:
      return event_field(ref, ev);
    case FieldId::kProcAname: case FieldId::kProcAexe: case FieldId::kProcAexepath: case FieldId::kProcAcmdline:
      return ancestry(ref, ev);
    case FieldId::kContainerId: case FieldId::kContainerName: case FieldId::kContainerImage:
    case FieldId::kContainerImageRepo: case FieldId::kContainerImageTag: case FieldId::kContainerPrivileged:
    case FieldId::kK8sNs: case FieldId::kK8sPod: case FieldId::kFdName:
      return container_field(ref, ev);
    default:
      return process_field(ref, ev);
  }
}

std::string render_value(const FieldValue& v) {
  switch (v.type) {
    case FieldType::kInt: return std::to_string(v.num);
    case FieldType::kBool: return v.boolean ? "true" : "false";
    case FieldType::kList: return join(v.list, " ");
    default: return v.str;
  }
}

}  // namespace runguard::monitor
