#!/usr/bin/env bash
# Lifecycle cost of runguard against plain runc, measured in the same run (the machine is noisy;
# only ratios are meaningful), plus the in-process policy benchmark.
# Usage: scripts/bench.sh BIN_DIR [RUNS] [ROUNDS]. Needs root, runc, hyperfine.
# Each comparison runs ROUNDS rounds of hyperfine (RUNS runs of every command per round) and
# reports the median over rounds of each command's median and of the ratio: this machine is a
# shared VM whose speed drifts by 10-20% over a minute, which a single block per command absorbs
# into the ratio. Results: docs/benchmarks.md.
set -euo pipefail
bin=$(cd "${1:-build/bin}" && pwd)
runs=${2:-60}      # runs per command per round
rounds=${3:-5}     # rounds; commands alternate between rounds, so drift hits both alike
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench: hyperfine missing (scripts/install-deps.sh)" >&2; exit 1; }
runc=$(command -v runc)

# On tmpfs, like the bundles (/run/containerd/...) and state (/run/runguard) it stands for.
work=$(mktemp -d /dev/shm/runguard-bench.XXXXXX)
chmod 711 "$work"  # the containers' root users (unprivileged host ids) reach their rootfs under it
cleanup() {
  "$runc" --root "$work/runc" delete -f bench-state >/dev/null 2>&1 || true
  "$runc" --root "$work/runc" delete -f bench-run >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The restricted preset, as a node would have it, with the state kept in the scratch directory.
{ echo "stateDir: $work/state"; echo "libDir: $work/lib"; echo "events: { path: $work/events.jsonl }"; cat "$here/../profiles/policies/restricted.yaml"; } > "$work/policy.yaml"
export RUNGUARD_CONFIG="$work/policy.yaml"

# compare LABEL BASELINE_INDEX CANDIDATE_INDEX -- hyperfine arguments...
# Runs the hyperfine invocation `rounds` times; prints a table row with the median (over rounds)
# of each command's median time and of the per-round ratio candidate/baseline.
compare() {
  local label=$1 base=$2 cand=$3; shift 4
  local files=()
  for r in $(seq "$rounds"); do
    hyperfine -N --style none --warmup 5 --runs "$runs" --export-json "$work/round-$r.json" "$@" >/dev/null 2>&1
    files+=("$work/round-$r.json")
  done
  "$here/bench_summary.py" "$label" "$base" "$cand" "${files[@]}"
}

echo "# runguard benchmarks ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, runc $("$runc" --version | head -1 | awk '{print $3}'), $rounds rounds x $runs runs)"
echo
echo "| what | runc (baseline) | runguard | ratio, median of rounds |"
echo "|---|---|---|---|"

# 1. Pass-through: `state` of a created container.
"$here/mkbundle.py" "$work/sleeper" -- /bin/sleep 600
"$runc" --root "$work/runc" create --bundle "$work/sleeper" bench-state </dev/null >/dev/null 2>&1
compare "state (pass-through)" 0 1 -- \
  "$runc --root $work/runc state bench-state" \
  "$bin/runguard --root $work/runc state bench-state"
"$runc" --root "$work/runc" delete -f bench-state >/dev/null 2>&1

# 2. A full `run` of a busybox `true` container. runguard rewrites config.json, so every run
#    starts from the original (the --prepare copy is not timed). runc is measured on the original
#    bundle (what the issue compares against). runc on the spec runguard wrote, which separates
#    runguard's own cost from the cost of the hardening it asks runc for, is bench_userns.sh's
#    (e) and (f): that spec's rootfs is runguard's idmapped mount, which the poststop hook releases
#    after each run, so it cannot be replayed here as it stands.
"$here/mkbundle.py" "$work/run" -- /bin/true
cp "$work/run/config.json" "$work/run/config.orig"
run_args=(
  --prepare "cp $work/run/config.orig $work/run/config.json" "$runc --root $work/runc run --bundle $work/run bench-run"
  --prepare "cp $work/run/config.orig $work/run/config.json" "$bin/runguard --root $work/runc run --bundle $work/run bench-run"
)
compare "run \`true\`, against runc on the original spec" 0 1 -- "${run_args[@]}"

# 3. In-process policy evaluation (Google Benchmark, median of 10 repetitions).
echo
echo "| in-process (bench/policy_bench.cc, 20 KB containerd CRI spec) | median |"
echo "|---|---|"
"$bin/runguard_policy_bench" --benchmark_repetitions=10 --benchmark_report_aggregates_only=true 2>/dev/null \
  | awk '/_median/ {sub("_median", "", $1); printf "| %s | %s %s |\n", $1, $2, $3}'

# 4. The per-container user namespace (controls.userNamespace): runguard with it and without it,
#    runc with and without one, and runguard's own share (scripts/bench_userns.sh).
echo
"$here/bench_userns.sh" "$bin" 40 "$rounds"

# 5. The runtime monitor (controls.monitor): a hardened run with it on and off (scripts/bench_monitor.sh).
echo
"$here/bench_monitor.sh" "$bin" 30 "$rounds"
