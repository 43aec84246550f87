#!/usr/bin/env bash
# Lifecycle cost of runguard against plain runc, measured in the same run (the machine is noisy;
# only ratios are meaningful), plus the in-process policy benchmark.
# Usage: scripts/bench.sh BIN_DIR [RUNS]. Needs root, runc, hyperfine. Results: docs/benchmarks.md.
set -euo pipefail
bin=$(cd "${1:-build/bin}" && pwd)
runs=${2:-200}
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench: hyperfine missing (scripts/install-deps.sh)" >&2; exit 1; }
runc=$(command -v runc)

# On tmpfs, like the bundles (/run/containerd/...) and state (/run/runguard) it stands for.
work=$(mktemp -d /dev/shm/runguard-bench.XXXXXX)
cleanup() {
  "$runc" --root "$work/runc" delete -f bench-state >/dev/null 2>&1 || true
  "$runc" --root "$work/runc" delete -f bench-run >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The restricted preset, as a node would have it, with the state kept in the scratch directory.
{ echo "stateDir: $work/state"; cat "$here/../profiles/policies/restricted.yaml"; } > "$work/policy.yaml"
export RUNGUARD_CONFIG="$work/policy.yaml"

median() {  # hyperfine JSON, command index -> median seconds
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]["median"])' "$1" "$2"
}
ratio() { python3 -c "import sys; print('%.3f' % (float(sys.argv[1]) / float(sys.argv[2])))" "$1" "$2"; }
ms() { python3 -c "import sys; print('%.2f' % (float(sys.argv[1]) * 1000))" "$1"; }

echo "# runguard benchmarks ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, runc $("$runc" --version | head -1 | awk '{print $3}'), $runs runs each)"
echo

# 1. Pass-through: `state` of a running container.
"$here/mkbundle.py" "$work/sleeper" -- /bin/sleep 600
"$runc" --root "$work/runc" create --bundle "$work/sleeper" bench-state </dev/null >/dev/null 2>&1
hyperfine -N --style none --warmup 20 --runs "$runs" --export-json "$work/state.json" \
  "$runc --root $work/runc state bench-state" \
  "$bin/runguard --root $work/runc state bench-state" >/dev/null
s_runc=$(median "$work/state.json" 0); s_rg=$(median "$work/state.json" 1)
echo "| state (pass-through) | runc $(ms "$s_runc") ms | runguard $(ms "$s_rg") ms | ratio $(ratio "$s_rg" "$s_runc") |"
"$runc" --root "$work/runc" delete -f bench-state >/dev/null 2>&1

# 2. A full `run` of a busybox `true` container. runguard rewrites config.json, so every run
#    starts from the original (the --prepare copy runs outside the timing for every command).
#    runc is measured twice: on the original bundle (what the issue compares against) and on the
#    bundle runguard produces, which separates runguard's own cost from the cost of the hardening
#    itself (runc compiling the seccomp filter, writing cgroup limits).
"$here/mkbundle.py" "$work/run" -- /bin/true
cp "$work/run/config.json" "$work/run/config.orig"
"$bin/runguard" --root "$work/runc" run --bundle "$work/run" bench-run </dev/null >/dev/null
cp "$work/run/config.json" "$work/run/config.hardened"
hyperfine -N --style none --warmup 10 --runs "$runs" --export-json "$work/run.json" \
  --prepare "cp $work/run/config.orig $work/run/config.json" \
  "$runc --root $work/runc run --bundle $work/run bench-run" \
  --prepare "cp $work/run/config.orig $work/run/config.json" \
  "$bin/runguard --root $work/runc run --bundle $work/run bench-run" \
  --prepare "cp $work/run/config.hardened $work/run/config.json" \
  "$runc --root $work/runc run --bundle $work/run bench-run" >/dev/null
r_runc=$(median "$work/run.json" 0); r_rg=$(median "$work/run.json" 1); r_hard=$(median "$work/run.json" 2)
echo "| run true (original spec) | runc $(ms "$r_runc") ms | runguard $(ms "$r_rg") ms | ratio $(ratio "$r_rg" "$r_runc") |"
echo "| run true (runc on the hardened spec) | runc $(ms "$r_hard") ms | runguard $(ms "$r_rg") ms | ratio $(ratio "$r_rg" "$r_hard") |"

# 3. In-process policy evaluation.
echo
"$bin/runguard_policy_bench" --benchmark_repetitions=10 --benchmark_report_aggregates_only=true 2>/dev/null \
  | awk '/_median/ {printf "| %s | %s %s (cpu %s %s) |\n", $1, $2, $3, $4, $5}'
