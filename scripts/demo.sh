#!/usr/bin/env bash
# The main job: one deliberately insecure container run through runguard on its embedded
# defaults, inspected from the inside; then one container runguard refuses.
# Usage: scripts/demo.sh BIN_DIR. Needs root and runc; leaves nothing behind.
set -euo pipefail
bin=$(cd "${1:-build/bin}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (runc needs it)" >&2; exit 1; }

work=$(mktemp -d /tmp/runguard-demo.XXXXXX)
chmod 0755 "$work"  # the containers' root users (unprivileged host ids) reach their rootfs under it
cleanup() {
  runc --root "$work/runc" delete -f demo-insecure >/dev/null 2>&1 || true
  runc --root "$work/runc" delete -f demo-denied >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# The policy: the embedded defaults, plus a private state directory so the demo touches nothing of
# the host's, and secretsInEnv set to move credentials into /run/secrets files instead of refusing
# the container.
cat > "$work/policy.yaml" <<POLICY
stateDir: $work/state
libDir: $work/lib
events: { path: $work/events.jsonl }
agent: { socket: $work/agent.sock, internalSocket: $work/agent.internal.sock, metrics: "" }
controls:
  secretsInEnv: { action: enforce }
POLICY
export RUNGUARD_CONFIG="$work/policy.yaml"

bold "policy (everything not named here is runguard's built-in secure default)"
cat "$work/policy.yaml"

probe='echo "uid/gid:       $(id -u)/$(id -g)"
echo "uid_map:       $(cat /proc/self/uid_map)"
grep -E "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status
echo "memory limit:  $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"
echo "pids limit:    $(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)"
echo "nofile limit:  $(ulimit -n)"
echo "PASSWORD set:  $(env | grep -c ^PASSWORD= || true)"
echo "PASSWORD_FILE: $PASSWORD_FILE ($(stat -c "%s bytes, mode %a, uid %u" "$PASSWORD_FILE"), $(grep " /run/secrets " /proc/self/mounts | cut -d" " -f3,4 | cut -d, -f1-4))"
sh -i </dev/null >/dev/null 2>&1   # an interactive shell: the runtime monitor reports it'

"$here/mkbundle.py" "$work/insecure" --insecure --env PASSWORD=correct-horse-battery-staple -- /bin/sh -c "$probe"
bold "the insecure spec: root, 14 capabilities, no seccomp, no limits, a PASSWORD in the environment"
python3 - "$work/insecure/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
p = c["process"]
print("user:", p["user"], " noNewPrivileges:", p.get("noNewPrivileges"))
print("capabilities.bounding:", len(p["capabilities"]["bounding"]), "caps")
print("seccomp:", "linux.seccomp" if "seccomp" in c["linux"] else "none", " resources:", c["linux"].get("resources", "none"))
print("env:", [e.split("=")[0] + "=…" for e in p["env"]])
PY

bold "runguard run (runguard rewrites config.json, then execs the real runc)"
# --keep: runc keeps the stopped container, so its decision record can be shown before delete.
"$bin/runguard" --root "$work/runc" --log "$work/insecure/log.json" --log-format json run --keep --bundle "$work/insecure" demo-insecure \
  | python3 -c '
import sys
names = ["CHOWN","DAC_OVERRIDE","DAC_READ_SEARCH","FOWNER","FSETID","KILL","SETGID","SETUID","SETPCAP","LINUX_IMMUTABLE",
 "NET_BIND_SERVICE","NET_BROADCAST","NET_ADMIN","NET_RAW","IPC_LOCK","IPC_OWNER","SYS_MODULE","SYS_RAWIO","SYS_CHROOT",
 "SYS_PTRACE","SYS_PACCT","SYS_ADMIN","SYS_BOOT","SYS_NICE","SYS_RESOURCE","SYS_TIME","SYS_TTY_CONFIG","MKNOD","LEASE",
 "AUDIT_WRITE","AUDIT_CONTROL","SETFCAP","MAC_OVERRIDE","MAC_ADMIN","SYSLOG","WAKE_ALARM","BLOCK_SUSPEND","AUDIT_READ",
 "PERFMON","BPF","CHECKPOINT_RESTORE"]
for line in sys.stdin:
    line = line.rstrip("\n")
    if line.startswith("Cap"):
        key, val = line.split(":", 1)
        bits = int(val.strip(), 16)
        caps = [names[i] for i in range(len(names)) if bits >> i & 1]
        line = "%-14s %s  %s" % (key + ":", val.strip(), ",".join(caps) or "(none)")
    elif line.startswith("Seccomp:"):
        line += "   (2 = filter installed)"
    print("  inside> " + line)
'

bold "events: $work/events.jsonl (the runtime's decisions; runguard-monitor's rule matches through seccomp user notification)"
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -s "$work/events.jsonl" ] && break; sleep 0.1; done
python3 -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    print("  %s: %s [%s] %s" % (e["priority"], e["rule"], e["runguard.action"], e["output_fields"].get("proc.cmdline", "")))
' "$work/events.jsonl" 2>/dev/null || echo "  (no events)"

bold "decision record: $work/state/demo-insecure/decision.json"
cat "$work/state/demo-insecure/decision.json"
"$bin/runguard" --root "$work/runc" delete demo-insecure
[ ! -e "$work/state/demo-insecure" ] && echo "runguard delete: container and record released"

bold "a refused container: bind-mounting the host's /etc"
"$here/mkbundle.py" "$work/denied" --bind /etc:/host-etc -- /bin/true
before=$(sha256sum "$work/denied/config.json")
set +e
"$bin/runguard" --root "$work/runc" --log "$work/denied/log.json" --log-format json run --bundle "$work/denied" demo-denied
status=$?
set -e
after=$(sha256sum "$work/denied/config.json")
echo "exit status: $status"
echo "last line of the --log file containerd would show:"
tail -n 1 "$work/denied/log.json"
[ "$before" = "$after" ] && echo "config.json: unchanged" || echo "config.json: CHANGED (bug)"
[ ! -e "$work/state/demo-denied" ] && echo "state: nothing left behind" || echo "state: left behind (bug)"

bold "runguardctl explain demo-denied (no agent running: answered from the events file)"
{ "$bin/runguardctl" explain demo-denied 2>&1 || true; } | sed -n 1,18p
[ "$status" -eq 1 ]
