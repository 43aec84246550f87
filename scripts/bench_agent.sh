#!/usr/bin/env bash
# The node agent's costs (docs/benchmarks.md, "Agent"), against a real containerd started here:
#   1. image-digest lookup as `runguard create` makes it: through runguardd (cache hit; connect,
#      one frame each way, close) vs the one-shot `runguardctl helper image-digest` (what create
#      runs when the agent is down), and both against a plain `runc run` of busybox `true`
#      measured in the same run (the share of a container start each path adds);
#   2. runguardd's RSS holding 200 containers' decision records and a full 10,000-event ring.
# Usage: scripts/bench_agent.sh BIN_DIR [ROUNDS]. Needs root, containerd, ctr, runc, hyperfine,
# python3, and BIN_DIR/../bench/agent_bench (built with RUNGUARD_BENCH=ON, the default).
set -euo pipefail
bin=$(cd "${1:-build/bin}" && pwd)
rounds=${2:-5}
here=$(cd "$(dirname "$0")" && pwd)
bench_bin="$bin/agent_bench"
[ -x "$bench_bin" ] || bench_bin="$bin/../bench/agent_bench"
[ "$(id -u)" -eq 0 ] || { echo "bench_agent: run as root" >&2; exit 1; }
for tool in hyperfine containerd ctr python3 runc; do
  command -v "$tool" >/dev/null || { echo "bench_agent: $tool missing" >&2; exit 1; }
done
[ -x "$bench_bin" ] || { echo "bench_agent: $bench_bin not built" >&2; exit 1; }
runc=$(command -v runc)
ns=bench
work=$(mktemp -d /tmp/runguard-bench-agent.XXXXXX)
chmod 711 "$work"
serve_pid= agent_pid=
cleanup() {
  [ -n "$agent_pid" ] && { kill -TERM "$agent_pid" 2>/dev/null || true; wait "$agent_pid" 2>/dev/null || true; }
  [ -n "$serve_pid" ] && { kill -TERM "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; }
  "$runc" --root "$work/runc" delete -f ba-runc >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

python3 "$here/../integration/containerd.py" serve --namespace "$ns" --binary "$bin/runguard" \
  --env "RUNGUARD_CONFIG=$work/policy.yaml" --info "$work/info.json" >"$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 600); do
  [ -s "$work/info.json" ] && break
  kill -0 "$serve_pid" 2>/dev/null || { echo "bench_agent: containerd did not start:" >&2; cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/info.json" "$1"; }
addr=$(field address); image=$(field image)

cat > "$work/policy.yaml" <<YAML
stateDir: $work/state
libDir: $work/lib
events: { path: $work/events.jsonl }
agent:
  socket: $work/agent.sock
  internalSocket: $work/agent.internal.sock
  metrics: ""
  containerd: $addr
  eventRing: 10000
  digestCacheTtl: 1h
YAML
"$bin/runguardd" --config "$work/policy.yaml" >"$work/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 100); do [ -S "$work/agent.internal.sock" ] && break; sleep 0.1; done
[ -S "$work/agent.internal.sock" ] || { echo "bench_agent: runguardd did not start:" >&2; cat "$work/agent.log" >&2; exit 1; }

"$here/mkbundle.py" "$work/run" -- /bin/true >/dev/null
helper="$bin/runguardctl helper image-digest --containerd $addr --namespace $ns --container ba --image $image"
$helper >/dev/null || { echo "bench_agent: the helper failed" >&2; exit 1; }
"$bench_bin" lookup "$work/agent.internal.sock" "$ns" "$image" 10 >/dev/null  # warm the cache

echo "| round | runc run (ms) | helper (ms) | agent, cache hit (ms) | helper / runc run | agent / runc run | helper / agent |"
echo "|---|---|---|---|---|---|---|"
for r in $(seq "$rounds"); do
  hyperfine -N --style none --warmup 3 --runs 30 --export-json "$work/h$r.json" \
    "$runc --root $work/runc run --bundle $work/run ba-runc" "$helper" >/dev/null 2>&1
  "$bench_bin" lookup "$work/agent.internal.sock" "$ns" "$image" 2000 > "$work/a$r.json"
  python3 - "$work/h$r.json" "$work/a$r.json" "$r" <<'PY'
import json, sys
runc_ms, helper_ms = [x["median"] * 1e3 for x in json.load(open(sys.argv[1]))["results"]]
a = json.load(open(sys.argv[2]))
assert a["cached"], "the agent's lookups must be cache hits"
agent_ms = a["median_us"] / 1e3
print("| %s | %.2f | %.2f | %.3f | %.3f | %.4f | %.0f |" % (sys.argv[3], runc_ms, helper_ms, agent_ms,
      helper_ms / runc_ms, agent_ms / runc_ms, helper_ms / agent_ms))
PY
done

rss() { awk '/^VmRSS/ {print $2}' "/proc/$agent_pid/status"; }
before=$(rss)
"$bench_bin" fill "$work/agent.internal.sock" 200 10000
sleep 0.5
after=$(rss)
echo
echo "runguardd RSS: ${before} KiB idle -> ${after} KiB with 200 containers' records and a full 10,000-event ring"
