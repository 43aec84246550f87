#!/usr/bin/env bash
# Cost of runguard's per-container user namespace (controls.userNamespace, idmapped rootfs) on a
# full `run` of a busybox `true` container, against plain runc measured in the same hyperfine run.
# Usage: scripts/bench_userns.sh BIN_DIR [RUNS] [ROUNDS]. Needs root, runc, hyperfine, python3.
# Commands (all foreground `run`s with one fixed id each: runc deletes the container when it exits,
# runguard-hook's poststop releases runguard's state, range and idmapped mount):
#   (a) runc, the bundle's own spec (no user namespace)                          - the baseline
#   (b) runguard, restricted preset (userNamespace: enforce, the default)
#   (c) runguard, restricted preset with userNamespace: { action: off }
#   (d) runc, the bundle's spec plus a user namespace and mappings, rootfs chowned to the range
#   (e) runc, the spec runguard wrote for (c) (hardened, no user namespace)
#   (f) runc, the spec runguard wrote for (b), root.path pointed at a copy of the rootfs chowned to
#       runguard's range instead of the idmapped mount (the hardening plus the userns, in runc)
#   (g) runguard, every control off but userNamespace: enforce - the issue's comparison: the cost
#       of a user namespace through runguard against runc without one
# Both runguard commands read RUNGUARD_CONFIG, a symlink the untimed --prepare points at the
# enforce or the off policy (no env(1) exec inside the timing). After the last round it checks that
# nothing leaked: stateDir empty, no allocation left in <libDir>/userns/ranges.json, no mount below
# the scratch directory in /proc/self/mountinfo, no container left in runc's root.
# Results: docs/benchmarks.md, "User namespace".
set -euo pipefail
bin=$(cd "${1:-build/bin}" && pwd)
runs=${2:-40}
rounds=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "bench_userns: run as root" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench_userns: hyperfine missing" >&2; exit 1; }
runc=$(command -v runc)

work=$(mktemp -d /dev/shm/runguard-bench-userns.XXXXXX)
# The container's root (an unprivileged host id) must be able to search its way to the rootfs.
chmod 711 "$work"
ids=(bench-ua bench-ub bench-uc bench-ud bench-ue bench-uf bench-ug bench-us)
cleanup() {
  set +e
  for id in "${ids[@]}"; do
    "$bin/runguard" --root "$work/runc" delete -f "$id" >/dev/null 2>&1 || true
    "$runc" --root "$work/runc" delete -f "$id" >/dev/null 2>&1 || true
  done
  grep -o " $work/[^ ]*" /proc/self/mountinfo 2>/dev/null | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

policy() {  # policy FILE USERNS_ACTION
  { echo "stateDir: $work/state"; echo "libDir: $work/lib"; echo "events: { path: $work/events.jsonl }"
    sed "s/^\(  userNamespace: *\){ action: enforce }/\1{ action: $2 }/" "$here/../profiles/policies/restricted.yaml"
    # The monitor has its own benchmark (bench_monitor.sh); runc cannot replay a spec whose
    # listenerPath names a monitor socket that went away with the container ((e), (f)).
    echo "  monitor: { action: off }"; } > "$1"
  grep -q "userNamespace: *{ action: $2 }" "$1" || { echo "bench_userns: cannot set userNamespace in $1" >&2; exit 1; }
}
policy "$work/enforce.yaml" enforce
policy "$work/off.yaml" off
{ echo "stateDir: $work/state"; echo "libDir: $work/lib"; echo "events: { path: $work/events.jsonl }"; echo "controls:"
  for c in user capabilities noNewPrivileges seccomp resources hostNamespaces privileged sensitiveMounts readonlyRootfs secretsInEnv monitor; do
    echo "  $c: { action: off }"
  done
  echo "  userNamespace: { action: enforce }"; } > "$work/usernsonly.yaml"
export RUNGUARD_CONFIG="$work/policy.yaml"

mk() { "$here/mkbundle.py" "$work/$1" -- /bin/true; }
# (a)-(c): one bundle, config.json restored before every run (runguard rewrites it).
mk run
cp "$work/run/config.json" "$work/run/config.orig"
# The specs runguard writes, for (e) and (f).
ln -sfn off.yaml "$work/policy.yaml"
"$bin/runguard" --root "$work/runc" run --bundle "$work/run" bench-ue </dev/null >/dev/null
cp "$work/run/config.json" "$work/e.json"
cp "$work/run/config.orig" "$work/run/config.json"
ln -sfn enforce.yaml "$work/policy.yaml"
"$bin/runguard" --root "$work/runc" run --bundle "$work/run" bench-uf </dev/null >/dev/null
cp "$work/run/config.json" "$work/f.json"
cp "$work/run/config.orig" "$work/run/config.json"

# chown_rootfs DIR HOST_ID: what an engine without idmapped mounts does for a userns container.
chown_rootfs() { chown -R -h "$2:$2" "$1"; }
# (d): runc's default spec plus a user namespace, mapped at an arbitrary host range.
mk userns
d_host=1879048192
python3 - "$work/userns/config.json" "$d_host" <<'EOF'
import json, sys
path, host = sys.argv[1], int(sys.argv[2])
c = json.load(open(path))
c["linux"]["namespaces"].append({"type": "user"})
c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": host, "size": 65536}]
c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": host, "size": 65536}]
json.dump(c, open(path, "w"), indent=2)
EOF
chown_rootfs "$work/userns/rootfs" "$d_host"
# (e): the hardened spec without a user namespace, on its own copy of the bundle.
mk hardened
python3 - "$work/e.json" "$work/hardened" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["root"]["path"] = sys.argv[2] + "/rootfs"
json.dump(c, open(sys.argv[2] + "/config.json", "w"), indent=2)
EOF
# (f): the hardened spec with runguard's mappings, rootfs chowned to runguard's range.
mk hardened-userns
f_host=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["linux"]["uidMappings"][0]["hostID"])' "$work/f.json")
python3 - "$work/f.json" "$work/hardened-userns" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["root"]["path"] = sys.argv[2] + "/rootfs"
json.dump(c, open(sys.argv[2] + "/config.json", "w"), indent=2)
EOF
chown_rootfs "$work/hardened-userns/rootfs" "$f_host"

cmds=(
  "$runc --root $work/runc run --bundle $work/run bench-ua"
  --prepare "sh -c 'cp $work/run/config.orig $work/run/config.json && ln -sfn enforce.yaml $work/policy.yaml'" "$bin/runguard --root $work/runc run --bundle $work/run bench-ub"
  --prepare "sh -c 'cp $work/run/config.orig $work/run/config.json && ln -sfn off.yaml $work/policy.yaml'" "$bin/runguard --root $work/runc run --bundle $work/run bench-uc"
  --prepare "true" "$runc --root $work/runc run --bundle $work/userns bench-ud"
  --prepare "true" "$runc --root $work/runc run --bundle $work/hardened bench-ue"
  --prepare "true" "$runc --root $work/runc run --bundle $work/hardened-userns bench-uf"
  --prepare "sh -c 'cp $work/run/config.orig $work/run/config.json && ln -sfn usernsonly.yaml $work/policy.yaml'" "$bin/runguard --root $work/runc run --bundle $work/run bench-ug"
)
# The first command needs a --prepare too (hyperfine: none or one per command).
cmds=(--prepare "cp $work/run/config.orig $work/run/config.json" "${cmds[@]}")
files=()
for r in $(seq "$rounds"); do
  hyperfine -N --style none --warmup 5 --runs "$runs" --export-json "$work/userns-round-$r.json" "${cmds[@]}" >/dev/null 2>&1
  files+=("$work/userns-round-$r.json")
done
if [ -n "${BENCH_KEEP_JSON:-}" ]; then cp "${files[@]}" "$BENCH_KEEP_JSON"/; fi

echo "| run \`true\` ($rounds rounds x $runs runs) | runc (a) | candidate | difference | ratio to (a), median of rounds |"
echo "|---|---|---|---|---|"
"$here/bench_summary.py" "(b) runguard, userNamespace enforce (default)" 0 1 --difference "${files[@]}"
"$here/bench_summary.py" "(c) runguard, userNamespace off" 0 2 --difference "${files[@]}"
"$here/bench_summary.py" "(d) runc, + userns and mappings, chowned rootfs" 0 3 --difference "${files[@]}"
"$here/bench_summary.py" "(e) runc, the spec runguard wrote for (c)" 0 4 --difference "${files[@]}"
"$here/bench_summary.py" "(f) runc, the spec runguard wrote for (b), chowned rootfs" 0 5 --difference "${files[@]}"
"$here/bench_summary.py" "(g) runguard, only userNamespace: enforce" 0 6 --difference "${files[@]}"
echo
echo "| pair | ratio, median of rounds |"
echo "|---|---|"
"$here/bench_summary.py" "(b)/(c): the user namespace inside runguard" 2 1 "${files[@]}" | awk -F'|' '{print "|" $2 "|" $5 "|"}'
"$here/bench_summary.py" "(b)/(f): runguard's own work, userns included" 5 1 "${files[@]}" | awk -F'|' '{print "|" $2 "|" $5 "|"}'
"$here/bench_summary.py" "(c)/(e): runguard's own work, no userns" 4 2 "${files[@]}" | awk -F'|' '{print "|" $2 "|" $5 "|"}'

# runguard's own work, without runc's: the same create with `runtime.path: /bin/true` (runguard
# does everything up to the exec, then execs /bin/true), and runguard-hook's poststop release. The
# untimed --prepare releases the previous iteration (`runguard delete -f`: release, then exec the
# stub) or creates the container the hook then releases.
for a in enforce off; do { echo "runtime: { path: /bin/true }"; cat "$work/$a.yaml"; } > "$work/stub-$a.yaml"; done
echo '{"ociVersion":"1.0.2-dev","id":"bench-us","status":"stopped","bundle":"'"$work/run"'"}' > "$work/hookstate.json"
rg="$bin/runguard --root $work/runc"
stub_prep() { echo "sh -c '$rg delete -f bench-us >/dev/null 2>&1; cp $work/run/config.orig $work/run/config.json; ln -sfn stub-$1.yaml $work/policy.yaml${2:+; $rg create --bundle $work/run bench-us}'"; }
hook="sh -c '$bin/runguard-hook poststop --state-dir $work/state < $work/hookstate.json'"
hyperfine -N --style none --warmup 10 --runs 200 --export-json "$work/stub.json" \
  --prepare "$(stub_prep enforce)" "$rg create --bundle $work/run bench-us" \
  --prepare "$(stub_prep off)" "$rg create --bundle $work/run bench-us" \
  --prepare "$(stub_prep enforce)" "/bin/true create --bundle $work/run bench-us" \
  --prepare "$(stub_prep enforce 1)" "$hook" \
  --prepare "$(stub_prep off 1)" "$hook" \
  --prepare "$(stub_prep off)" "sh -c 'true < $work/hookstate.json'" >/dev/null 2>&1
$rg delete -f bench-us >/dev/null 2>&1 || true
ln -sfn enforce.yaml "$work/policy.yaml"
echo
echo "| runguard's own work (runtime.path: /bin/true, 200 runs) | userNamespace enforce | off | the stub alone | enforce - off |"
echo "|---|---|---|---|---|"
python3 - "$work/stub.json" <<'PY'
import json, sys
m = [r["median"] * 1e3 for r in json.load(open(sys.argv[1]))["results"]]
print("| `create` up to the exec of the runtime | %.2f ms | %.2f ms | %.2f ms (`/bin/true`) | %+.2f ms |" % (m[0], m[1], m[2], m[0] - m[1]))
print("| poststop `runguard-hook` (via `sh -c`) | %.2f ms | %.2f ms | %.2f ms (`sh -c true`) | %+.2f ms |" % (m[3], m[4], m[5], m[3] - m[4]))
PY

# Leak check: every run deleted its container and released what runguard took.
leaks=0
if [ -n "$(ls -A "$work/state" 2>/dev/null)" ]; then echo "LEAK: stateDir not empty: $(ls -A "$work/state" | tr '\n' ' ')"; leaks=1; fi
if ! python3 -c 'import json,sys; sys.exit(1 if json.load(open(sys.argv[1])).get("allocations") else 0)' "$work/lib/userns/ranges.json"; then
  echo "LEAK: allocations left in ranges.json"; leaks=1
fi
if grep -q " $work/" /proc/self/mountinfo; then echo "LEAK: mounts left: $(grep -c " $work/" /proc/self/mountinfo)"; leaks=1; fi
if [ -n "$("$runc" --root "$work/runc" list -q 2>/dev/null)" ]; then echo "LEAK: containers left: $("$runc" --root "$work/runc" list -q | tr '\n' ' ')"; leaks=1; fi
echo
if [ "$leaks" -eq 0 ]; then echo "leak check: stateDir empty, ranges.json has no allocation, no mount left, no container left"; fi
exit "$leaks"
