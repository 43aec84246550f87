#!/usr/bin/env bash
# Per-container cost of the runtime monitor: a foreground `run` of busybox `true` under the
# restricted preset with controls.monitor on (the default) and off, against plain runc, in the same
# hyperfine rounds. Usage: scripts/bench_monitor.sh BIN_DIR [RUNS] [ROUNDS]. Needs root, runc,
# hyperfine, python3. Results: docs/benchmarks.md, "Runtime monitor".
set -euo pipefail
bin=$(cd "${1:-build/bin}" && pwd)
runs=${2:-30}
rounds=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "bench_monitor: run as root" >&2; exit 1; }
runc=$(command -v runc)
work=$(mktemp -d /dev/shm/runguard-bench-monitor.XXXXXX)
chmod 711 "$work"  # the containers' root users (unprivileged host ids) reach their rootfs under it
cleanup() {
  for id in bm-a bm-b bm-c; do
    "$bin/runguard" --root "$work/runc" delete -f "$id" >/dev/null 2>&1 || true
    "$runc" --root "$work/runc" delete -f "$id" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
"$here/mkbundle.py" "$work/run" -- /bin/true >/dev/null
cp "$work/run/config.json" "$work/run/config.orig"
for m in on off; do
  { echo "stateDir: $work/state"; echo "libDir: $work/lib"; echo "events: { path: $work/events.jsonl }"
    cat "$here/../profiles/policies/restricted.yaml"; } > "$work/$m.yaml"
done
echo "  monitor: { action: off }" >> "$work/off.yaml"
export RUNGUARD_CONFIG="$work/policy.yaml"
prep() { echo "sh -c 'cp $work/run/config.orig $work/run/config.json; ln -sfn $1.yaml $work/policy.yaml'"; }
echo "| round | runc | monitor on | monitor off | on/off | on/runc |"
echo "|---|---|---|---|---|---|"
for r in $(seq "$rounds"); do
  hyperfine -N --style none --warmup 5 --runs "$runs" --export-json "$work/r$r.json" \
    --prepare "cp $work/run/config.orig $work/run/config.json" "$runc --root $work/runc run --bundle $work/run bm-a" \
    --prepare "$(prep on)" "$bin/runguard --root $work/runc run --bundle $work/run bm-b" \
    --prepare "$(prep off)" "$bin/runguard --root $work/runc run --bundle $work/run bm-c" >/dev/null 2>&1
  python3 - "$work/r$r.json" "$r" <<'PY'
import json, sys
a, b, c = [x["median"] * 1e3 for x in json.load(open(sys.argv[1]))["results"]]
print("| %s | %.2f ms | %.2f ms | %.2f ms | %.3f | %.3f |" % (sys.argv[2], a, b, c, b / c, b / a))
PY
done
if [ -n "$(ls -A "$work/state" 2>/dev/null)" ] || grep -q " $work/" /proc/self/mountinfo; then
  echo "LEAK: state or mounts left under $work"; exit 1
fi
echo "leak check: stateDir empty, no mount left"
