#!/usr/bin/env bash
# What runguard costs a container started through a real containerd, against plain runc, measured
# in the same run: `ctr run --rm IMAGE ID true` with --runc-binary runguard vs --runc-binary runc.
# Usage: scripts/bench_containerd.sh BIN_DIR [RUNS] [ROUNDS]. Needs root, containerd (Debian's
# 1.6), ctr, hyperfine, python3.
#
# It starts its own containerd (integration/containerd.py serve: temp root/state/socket, private
# mount namespace, the deploy/containerd/config.toml snippet), imports the busybox image from
# scripts/mkimage.py, and stops and removes all of it on exit. Each comparison runs ROUNDS rounds
# of hyperfine (RUNS runs of each command, one command after the other) and reports the median
# over rounds of each command's median and of the per-round ratio, as scripts/bench.sh does: this
# is a shared VM whose speed drifts, so only same-round ratios mean much.
set -euo pipefail
bin=$(cd "${1:-build/bin}" && pwd)
runs=${2:-20}      # runs per command per round
rounds=${3:-5}     # rounds
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "bench_containerd: run as root" >&2; exit 1; }
for tool in hyperfine containerd ctr python3; do
  command -v "$tool" >/dev/null || { echo "bench_containerd: $tool missing" >&2; exit 1; }
done
runc=$(command -v runc)
ns=bench

work=$(mktemp -d /tmp/runguard-bench-ctrd.XXXXXX)
chmod 711 "$work"  # the containers' root users (unprivileged host ids) reach their rootfs under it
serve_pid=
cleanup() {
  if [ -n "$serve_pid" ]; then
    kill -TERM "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The restricted preset, as a node would have it, with the state kept in the scratch directory.
# containerd's environment is what reaches runguard (through the shim), so it goes there.
{ echo "stateDir: $work/state"; echo "libDir: $work/lib"; echo "events: { path: $work/events.jsonl }"; cat "$here/../profiles/policies/restricted.yaml"; } > "$work/policy.yaml"

python3 "$here/../integration/containerd.py" serve --namespace "$ns" --binary "$bin/runguard" \
  --env "RUNGUARD_CONFIG=$work/policy.yaml" --info "$work/info.json" >"$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 600); do
  [ -s "$work/info.json" ] && break
  kill -0 "$serve_pid" 2>/dev/null || { echo "bench_containerd: containerd did not start:" >&2; cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done
[ -s "$work/info.json" ] || { echo "bench_containerd: containerd not ready after 60s" >&2; exit 1; }
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/info.json" "$1"; }
addr=$(field address); image=$(field image); fifo=$(field fifo_dir); runc_root=$(field runc_root)

ctr_run() {  # ctr_run BINARY ID [ctr run flags]: the command hyperfine times (no shell: -N)
  local b=$1 id=$2; shift 2
  echo "ctr --address $addr --namespace $ns run --rm $* --runc-binary $b --runc-root $runc_root --fifo-dir $fifo $image $id true"
}
# A failing start must stop the benchmark, not be timed: check both once first.
for b in "$bin/runguard" "$runc"; do
  $(ctr_run "$b" bench-check) >/dev/null || { echo "bench_containerd: ctr run with $b failed" >&2; exit 1; }
done

# compare LABEL BASELINE_INDEX CANDIDATE_INDEX -- hyperfine arguments... (as in scripts/bench.sh)
compare() {
  local label=$1 base=$2 cand=$3; shift 4
  local files=()
  for r in $(seq "$rounds"); do
    if ! timeout 1800 hyperfine -N --style none --warmup 3 --runs "$runs" --export-json "$work/round-$r.json" "$@" \
        >"$work/hyperfine.log" 2>&1; then
      echo "bench_containerd: hyperfine failed (a ctr run exited non-zero?):" >&2
      tail -20 "$work/hyperfine.log" >&2
      echo "containerd log tail:" >&2; tail -20 "$(field dir)/containerd.log" >&2
      exit 1
    fi
    files+=("$work/round-$r.json")
  done
  "$here/bench_summary.py" "$label" "$base" "$cand" --difference "${files[@]}"
}

echo "# runguard under containerd ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, containerd $(containerd --version | awk '{print $3}'), runc $("$runc" --version | head -1 | awk '{print $3}'), $rounds rounds x $runs runs)"
echo
echo "| what | runc (baseline) | runguard | difference | ratio, median of rounds |"
echo "|---|---|---|---|---|"
# 1. containerd's default spec (root, 14 capabilities, no seccomp, no limits): what runguard adds,
#    hardening included (most of it is runc compiling the seccomp filter runguard asks for).
compare "\`ctr run --rm\` busybox \`true\`, containerd's default spec" 0 1 -- \
  "$(ctr_run "$runc" bench-runc)" "$(ctr_run "$bin/runguard" bench-rg)"
# 2. The same with `ctr run --seccomp` (containerd's default profile, what a RuntimeDefault pod
#    gets): runguard keeps a restrictive profile the spec brings, so both sides pay for a filter
#    and the difference is runguard's own work plus the limits and the poststop hook it adds.
compare "\`ctr run --rm --seccomp\` busybox \`true\` (both filtered)" 0 1 -- \
  "$(ctr_run "$runc" bench-runc --seccomp)" "$(ctr_run "$bin/runguard" bench-rg --seccomp)"
